import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KafkaBus } from '@app/bus';
import { parseSites } from '@app/config';
import { type SecurityEvent, type StreamStatus, Topics, isNotification } from '@app/contracts';
import { loadRuleSet } from '@app/fusion';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { EmbeddedPipeline } from '@app/pipeline';
import { fixture, fixturesDir, modelsDir } from '@app/testing';
import { runCli } from '@app/testing/cli-runner';
import { kafkaBrokers, privateKafka } from '@app/testing/kafka';
import { ServiceProcess, requireBuiltServices } from '@app/testing/services';

/**
 * Site fusion on the microservices: the same two cameras of one site as sites.e2e-spec (one
 * real recording, the second 0.3 s into it), started on ingest through Kafka, with the sites
 * in the config file every service reads. Inference keys the site's detections by the site,
 * so fusion sees both cameras on one partition; the events must be those the embedded
 * pipeline gives for the same input, ids included: one site incident naming both cameras.
 */
jest.setTimeout(300_000);

const CLIP = 'clips/comp01_person_glassbreak.mp4';
const run = randomUUID().slice(0, 6);
const DOOR = `site-door-${run}`;
const HALL = `site-hall-${run}`;
const SITE = `hq-${run}`;
/** The same cameras again, on a site whose fusion replica is killed -9 mid-incident. */
const DOOR2 = `site-door2-${run}`;
const HALL2 = `site-hall2-${run}`;
const SITE2 = `depot-${run}`;
const SITES = [
  { id: SITE, streams: [DOOR, HALL] },
  { id: SITE2, streams: [DOOR2, HALL2] },
];
const OURS = new Set([DOOR, HALL, DOOR2, HALL2]);

let dir: string;
let shifted: string;
const services: ServiceProcess[] = [];
let observer: KafkaBus;
const events: SecurityEvent[] = [];
const statuses: StreamStatus[] = [];
/** The keys the cameras' detections and fusion's checkpoints of them travelled under. */
const detectionKeys = new Set<string>();
const checkpointKeys = new Set<string>();
let site2Sets = 0;

async function until(what: string, predicate: () => boolean, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What one process decides for the same two cameras of the same site. */
async function embeddedEvents(door = DOOR, hall = HALL): Promise<SecurityEvent[]> {
  const quiet = { log: () => undefined, warn: () => undefined };
  const loader = new ModelLoader(new ModelRepository(modelsDir()), new OnnxSessionFactory(quiet));
  const [audioModel, videoModel] = await Promise.all([
    loader.audio('efficientat-mn04'),
    loader.video('yolox-nano'),
  ]);
  const pipeline = new EmbeddedPipeline({
    decoder: new MediaDecoder(new FfmpegLocator()),
    audioModel,
    videoModel,
    rules: await loadRuleSet(),
    fps: 5,
    sites: parseSites(SITES),
  });
  const decided: SecurityEvent[] = [];
  await pipeline.bus.subscribe(Topics.events, 'e2e-sites-kafka', async ({ value }) => {
    decided.push(value);
  });
  await pipeline.start();
  try {
    await Promise.all([
      pipeline.analyze({ streamId: door, source: fixture(CLIP) }),
      pipeline.analyze({ streamId: hall, source: shifted }),
    ]);
    await pipeline.bus.idle();
  } finally {
    await pipeline.stop();
  }
  return decided;
}

let broker: ReturnType<typeof privateKafka> | undefined;

beforeAll(async () => {
  requireBuiltServices();
  // A broker of its own: on the common one, the ingest and fusion of a suite running alongside
  // share the default consumer groups and would take some of these cameras' commands and
  // detections, without this suite's sites.
  broker = privateKafka();
  dir = mkdtempSync(join(tmpdir(), 'vigil-sites-kafka-'));
  shifted = join(dir, 'comp01-shifted.mp4');
  execFileSync(new FfmpegLocator().locate(), [
    ...['-hide_banner', '-loglevel', 'error', '-ss', '0.3', '-i', fixture(CLIP)],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', shifted],
  ]);
  const configFile = join(dir, 'vigil.yaml');
  writeFileSync(configFile, `sites: ${JSON.stringify(SITES)}\n`);
  const env = { VIGIL_CONFIG_FILE: configFile };
  services.push(
    new ServiceProcess('ingest', `ingest-sites-${run}`, {
      ...env,
      VIGIL_MEDIA_ROOTS: [fixturesDir(), dir].join(delimiter),
    }).start(),
    new ServiceProcess('spectrogram', `spectrogram-sites-${run}`, env).start(),
    new ServiceProcess('inference', `inference-sites-${run}`, env).start(),
    new ServiceProcess('fusion', `fusion-sites-${run}`, env).start(),
  );
  await Promise.all(services.map((s) => s.ready()));
  observer = new KafkaBus({ brokers: kafkaBrokers(), clientId: `observer-sites-${run}` });
  await observer.subscribe(Topics.events, `observer-sites-${run}`, async ({ value }) => {
    if (OURS.has(value.streamId)) events.push(value);
  });
  await observer.subscribe(Topics.streamStatus, `observer-sites-${run}`, async ({ value }) => {
    if (OURS.has(value.streamId)) statuses.push(value);
  });
  await observer.subscribe(Topics.detections, `observer-sites-${run}`, async ({ value, key }) => {
    if (value.streamId === DOOR || value.streamId === HALL) detectionKeys.add(key);
    if (value.streamId === DOOR2 || value.streamId === HALL2) site2Sets++;
  });
  await observer.subscribe(Topics.fusionState, `observer-sites-${run}`, async ({ value, key }) => {
    if ([DOOR, HALL, `site/${SITE}`].includes(value.streamId)) checkpointKeys.add(key);
  });
});

afterAll(async () => {
  try {
    await Promise.all(services.map((s) => s.stop()));
    await observer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  } finally {
    broker?.stop();
  }
});

describe('site fusion on the microservices', () => {
  it('gives the embedded pipeline’s events: one site incident naming both cameras', async () => {
    const expected = await embeddedEvents();
    const brokers = { KAFKA_BROKERS: kafkaBrokers().join(',') };
    const started = await Promise.all([
      runCli(['stream', 'start', fixture(CLIP), '--stream-id', DOOR], brokers),
      runCli(['stream', 'start', shifted, '--stream-id', HALL], brokers),
    ]);
    expect(started.map((r) => r.code)).toEqual([0, 0]);
    const ids = (list: SecurityEvent[]) =>
      [
        ...new Set(
          list
            .filter((e) => e.streamId === DOOR || e.streamId === HALL)
            .map((e) => `${e.id} ${e.absorbedBy ?? ''}`),
        ),
      ].sort();
    await until(
      'both cameras’ events',
      () =>
        [DOOR, HALL].every((id) =>
          statuses.some((s) => s.streamId === id && s.state === 'ended'),
        ) && ids(expected).every((id) => ids(events).includes(id)),
    );
    await new Promise((r) => setTimeout(r, 3_000));
    expect(ids(events)).toEqual(ids(expected));

    const site = events.filter((e) => e.cameras && e.site === SITE);
    expect(new Set(site.map((e) => e.incidentId)).size).toBe(1);
    expect(site.find((e) => e.state === 'opened')).toMatchObject({
      rule: 'site_impulse',
      site: SITE,
      cameras: [HALL, DOOR],
    });
    const alerts = events.filter(
      (e) => isNotification(e) && e.trigger === 'glass_break' && e.site === SITE,
    );
    expect(new Set(alerts.map((e) => e.incidentId))).toEqual(new Set([site[0].incidentId]));
    // Both cameras' detections under the site's key (one partition, one fusion replica), and
    // fusion's state of them checkpointed under it too.
    expect([...detectionKeys]).toEqual([`site/${SITE}`]);
    expect([...checkpointKeys]).toEqual([`site/${SITE}`]);
  });
  it('loses and doubles nothing when fusion is killed -9 mid-site: the site’s checkpoint takes it on', async () => {
    const expected = await embeddedEvents(DOOR2, HALL2);
    const ours = (list: SecurityEvent[]) =>
      [
        ...new Set(
          list
            .filter((e) => e.streamId === DOOR2 || e.streamId === HALL2)
            .map((e) => `${e.id} ${e.absorbedBy ?? ''}`),
        ),
      ].sort();
    const brokers = { KAFKA_BROKERS: kafkaBrokers().join(',') };
    const started = await Promise.all([
      runCli(['stream', 'start', fixture(CLIP), '--stream-id', DOOR2], brokers),
      runCli(['stream', 'start', shifted, '--stream-id', HALL2], brokers),
    ]);
    expect(started.map((r) => r.code)).toEqual([0, 0]);
    // Killed once the two cameras' detections neared the glass break (about 4 s of each).
    await until('detections up to the glass break', () => site2Sets >= 60);
    const fusion = services.find((s) => s.app === 'fusion')!;
    await fusion.kill9();
    const restarted = new ServiceProcess('fusion', `fusion-sites-${run}-again`, {
      VIGIL_CONFIG_FILE: join(dir, 'vigil.yaml'),
    }).start();
    services.push(restarted);
    await restarted.ready();
    await until(
      'both cameras’ events after the restart',
      () =>
        [DOOR2, HALL2].every((id) =>
          statuses.some((s) => s.streamId === id && s.state === 'ended'),
        ) && ours(expected).every((id) => ours(events).includes(id)),
    );
    await new Promise((r) => setTimeout(r, 3_000));
    expect(ours(events)).toEqual(ours(expected));
    const site = events.filter((e) => e.cameras && e.site === SITE2);
    expect(new Set(site.map((e) => e.incidentId)).size).toBe(1);
  });
});
