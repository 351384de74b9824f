import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SecurityEvent, Topics, isNotification } from '@app/contracts';
import { parseSites } from '@app/config';
import { loadRuleSet } from '@app/fusion';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { EmbeddedPipeline } from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing';

/**
 * Site fusion on real media: one real recording (glass breaking, a person in view) fed as two
 * cameras of one site, the second starting 0.3 s into it, so it hears the glass 0.3 s earlier
 * on the shared clock. The real pipeline (ffmpeg, log-mel, both models, both engines) must
 * make one site incident naming both cameras, earliest first, and the cameras' own incidents
 * of that glass break must not notify anyone beside it.
 */
jest.setTimeout(300_000);

const CLIP = 'clips/comp01_person_glassbreak.mp4';
/** Where the glass breaks in the clip (incidents.e2e-spec measures it). */
const GLASS_SEC = 4.07;
const SHIFT_SEC = 0.3;
const SITES = parseSites([{ id: 'hq', streams: ['cam-door', 'cam-hall'] }]);

let dir: string;
let pipeline: EmbeddedPipeline;
const events: SecurityEvent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-sites-'));
  const ffmpeg = new FfmpegLocator().locate();
  // The same recording, 0.3 s shorter at the start: re-encoded so it starts on a key frame.
  const shifted = join(dir, 'comp01-shifted.mp4');
  execFileSync(ffmpeg, [
    ...['-hide_banner', '-loglevel', 'error', '-ss', String(SHIFT_SEC), '-i', fixture(CLIP)],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', shifted],
  ]);
  const quiet = { log: () => undefined, warn: () => undefined };
  const loader = new ModelLoader(new ModelRepository(modelsDir()), new OnnxSessionFactory(quiet));
  const [audioModel, videoModel] = await Promise.all([
    loader.audio('efficientat-mn04'),
    loader.video('yolox-nano'),
  ]);
  pipeline = new EmbeddedPipeline({
    decoder: new MediaDecoder(new FfmpegLocator()),
    audioModel,
    videoModel,
    rules: await loadRuleSet(),
    fps: 5,
    sites: SITES,
  });
  await pipeline.bus.subscribe(Topics.events, 'e2e-sites', async ({ value }) => {
    events.push(value);
  });
  await pipeline.start();
  // Both cameras at once, as a site's cameras run.
  await Promise.all([
    pipeline.analyze({ streamId: 'cam-door', source: fixture(CLIP) }),
    pipeline.analyze({ streamId: 'cam-hall', source: shifted }),
  ]);
  await pipeline.bus.idle();
});

afterAll(async () => {
  await pipeline?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('site fusion on two real cameras', () => {
  it('makes one incident of the glass break, naming both cameras, earliest first', () => {
    const site = events.filter((e) => e.cameras);
    expect(new Set(site.map((e) => e.incidentId)).size).toBe(1);
    const opened = site.find((e) => e.state === 'opened')!;
    expect(opened).toMatchObject({
      rule: 'site_impulse',
      site: 'hq',
      streamId: 'cam-hall',
      cameras: ['cam-hall', 'cam-door'],
      trigger: 'glass_break',
      severity: 'high',
      title: 'Heard by 2 cameras: glass break',
    });
    expect(opened.zone).toBeUndefined();
    // Each camera's evidence in its own media time: the same moment of the recording.
    const [hall, door] = opened.evidence;
    expect(hall).toMatchObject({ cls: 'glass_break', streamId: 'cam-hall' });
    expect(door).toMatchObject({ cls: 'glass_break', streamId: 'cam-door' });
    expect(Math.abs(door.atSec - GLASS_SEC)).toBeLessThan(0.5);
    expect(Math.abs(door.atSec - SHIFT_SEC - hall.atSec)).toBeLessThan(0.3);
    expect(opened.startSec).toBe(hall.atSec);
    expect(site.at(-1)?.state).toBe('closed');
  });

  it('records each camera’s own incident of it as taken in, notifying nobody', () => {
    const siteIncident = events.find((e) => e.cameras)!.incidentId;
    const own = events.filter((e) => !e.cameras && e.triggers[0] === 'glass_break');
    expect(new Set(own.map((e) => e.streamId))).toEqual(new Set(['cam-door', 'cam-hall']));
    for (const event of own) {
      expect(event).toMatchObject({ site: 'hq', absorbedBy: siteIncident });
    }
    const alerts = events.filter(isNotification);
    expect(alerts.filter((e) => e.trigger === 'glass_break')).toEqual(
      events.filter((e) => e.cameras && isNotification(e)),
    );
  });

  it('gives the same ids when the site runs again', async () => {
    const first = events.length;
    await Promise.all([
      pipeline.analyze({ streamId: 'cam-door', source: fixture(CLIP) }),
      pipeline.analyze({ streamId: 'cam-hall', source: join(dir, 'comp01-shifted.mp4') }),
    ]);
    await pipeline.bus.idle();
    const ids = (list: SecurityEvent[]) => list.map((e) => `${e.id} ${e.absorbedBy ?? ''}`).sort();
    expect(ids(events.slice(first))).toEqual(ids(events.slice(0, first)));
  });
});
