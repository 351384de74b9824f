import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaBus } from '@app/bus';
import { type SecurityEvent, Topics } from '@app/contracts';
import { loadRuleSet, triggerMomentId } from '@app/fusion';
import { FfmpegLocator } from '@app/media';
import { FusionStage } from '@app/pipeline';
import { IncidentDesk, loadApiConfig, loadEdgeConfig } from '@app/service';
import { fixture, modelsDir } from '@app/testing';
import { privateKafka } from '@app/testing/kafka';
import { freePort } from '@app/testing/tcp-proxy';
import { type RunningEdge, startEdge } from '../apps/vigil/src/edge/edge.command';

jest.setTimeout(300_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A site's cameras behind an edge node: cam-door plays comp01 (glass breaks, a person in view),
 * cam-hall the same pictures without sound, both in zone lobby of site hq, read by the edge and
 * by central fusion from one config file. The edge keys their detections by the site, and
 * central fusion's zone rule raises a zone incident over both; the edge knows nothing of sites,
 * so the evidence that incident shows is what the edge rendered for cam-door's own version
 * triggered by the same glass break, found by its trigger moment.
 */
describe('vigil edge with a site’s cameras', () => {
  let broker: ReturnType<typeof privateKafka> | undefined;
  let dir: string;
  let edge: RunningEdge | undefined;
  let central: KafkaBus | undefined;
  let fusion: FusionStage | undefined;
  let desk: IncidentDesk | undefined;
  const detectionKeys = new Set<string>();
  const events: SecurityEvent[] = [];

  beforeAll(async () => {
    broker = privateKafka();
    dir = mkdtempSync(join(tmpdir(), 'vigil-edge-sites-'));
    const hall = join(dir, 'hall.mp4');
    execFileSync(new FfmpegLocator().locate(), [
      ...['-hide_banner', '-loglevel', 'error'],
      ...['-i', fixture('clips/comp01_person_glassbreak.mp4'), '-an', '-c:v', 'copy', hall],
    ]);
    const configFile = join(dir, 'site.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        sites: [{ id: 'hq', zones: [{ id: 'lobby', streams: ['cam-door', 'cam-hall'] }] }],
        edge: {
          id: 'hq-edge',
          spool: { dir: 'spool', maxBytes: 64 * 1024 * 1024, maxAgeSec: 3600 },
          streams: [
            { id: 'cam-door', source: fixture('clips/comp01_person_glassbreak.mp4'), live: true },
            { id: 'cam-hall', source: hall, live: true },
          ],
        },
      }),
    );

    central = new KafkaBus({ brokers: broker.brokers.split(','), clientId: 'central-test' });
    await central.connect();
    const api = loadApiConfig(configFile, {
      HOME: dir,
      VIGIL_DATA_DIR: join(dir, 'central'),
      VIGIL_HTTP_ADDRESS: 'off',
    });
    desk = await IncidentDesk.open(central, api, 'ffmpeg');
    await desk.start();
    fusion = new FusionStage(central, await loadRuleSet(), { sites: api.sites });
    await fusion.start();
    await central.subscribe(Topics.detections, 'test-keys', async (m) => {
      detectionKeys.add(m.key);
    });
    await central.subscribe(Topics.events, 'test-events', async (m) => {
      events.push(m.value);
    });

    const config = loadEdgeConfig(configFile, {
      HOME: process.env.HOME ?? dir,
      KAFKA_BROKERS: broker.brokers,
      VIGIL_MODELS_DIR: modelsDir(),
      VIGIL_HEALTH_PORT: String(await freePort()),
    });
    edge = await startEdge(config, false);
    edge.runtime.startStreams();
  });

  afterAll(async () => {
    await edge?.close();
    await fusion?.stop();
    await desk?.stop();
    await central?.close();
    broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('raises the zone incident centrally, with the evidence the edge rendered for the door camera', async () => {
    const deadline = Date.now() + 120_000;
    const zoneVersion = () =>
      events.find((e) => e.rule === 'zone_intrusion' && e.state !== 'closed');
    while (!zoneVersion() && Date.now() < deadline) await sleep(250);
    const zone = zoneVersion();
    expect(zone).toBeDefined();
    expect(zone!.cameras).toEqual(['cam-hall', 'cam-door']);
    // Both cameras' detections came up under their site's key.
    expect([...detectionKeys]).toEqual(['site/hq']);

    const stored = async (e: SecurityEvent) => (await desk!.events.get(e.id))?.evidenceRefs ?? [];
    let zoneRefs = await stored(zone!);
    while (zoneRefs.length === 0 && Date.now() < deadline) {
      await sleep(250);
      zoneRefs = await stored(zone!);
    }
    expect(zoneRefs.map((r) => r.name).sort()).toEqual([
      'audio.wav',
      'snapshot.jpg',
      'spectrogram.png',
    ]);
    // The files are those the edge rendered for a version of the door camera's own incident
    // triggered by the same glass break (the zone incident has no files of its own).
    const moment = triggerMomentId(zone!);
    const own = events.filter((e) => !e.cameras?.length && triggerMomentId(e) === moment);
    expect(own.map((e) => [e.streamId, e.trigger])).toContainEqual(['cam-door', 'glass_break']);
    const owners = new Set(zoneRefs.map((r) => r.key.split('/')[0]));
    expect(owners.size).toBe(1);
    expect(own.map((e) => e.id)).toContain([...owners][0]);
    for (const ref of zoneRefs) {
      expect((await desk!.evidenceStore.get(ref)).bytes.byteLength).toBe(ref.bytes);
    }
  });
});
