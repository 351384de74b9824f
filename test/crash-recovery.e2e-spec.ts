import { randomUUID } from 'node:crypto';
import {
  type CleanRun,
  type CrashClip,
  ServiceSet,
  TopicRecorder,
  embeddedEventIds,
  sleep,
} from '@app/testing/crash.harness';
import { privateKafka, requireKafka } from '@app/testing/kafka';
import { type ServiceApp, requireBuiltServices } from '@app/testing/services';

jest.setTimeout(600_000);

const run = randomUUID().slice(0, 6);
const CLIPS: CrashClip[] = ['comp01', 'comp05'];
let services: ServiceSet;
let broker: ReturnType<typeof privateKafka> | undefined;
let recorder: TopicRecorder;
let expectedIds: Map<string, string[]>;
const clean = new Map<CrashClip, CleanRun>();

/**
 * Where each service dies: while the first of two clips started back to back is in its hands,
 * judged by what it has published so far (not by the clock, which depends on the machine).
 */
const KILLS: { app: ServiceApp; point: string; due: (first: string) => boolean }[] = [
  {
    app: 'ingest',
    point: 'after 1 s of audio',
    due: (first) => recorder.record(first).audioSec >= 1,
  },
  {
    app: 'spectrogram',
    point: 'after 4 feature windows',
    due: (first) => recorder.record(first).features.length >= 4,
  },
  {
    app: 'inference',
    point: 'after 4 detection sets',
    due: (first) => recorder.record(first).detections.length >= 4,
  },
];

/**
 * Fusion's rules engine holds detections across sets (an episode, an open incident): killed
 * mid-episode, a replica that restarted from the set offsets alone would decide the episode from
 * half of it, with another trigger time and so another id. Its checkpoints of each stream's
 * state (vigil.fusion.state) and the offsets held until one covers them are what this checks.
 */
const FUSION_KILL = {
  app: 'fusion' as const,
  point: 'after 20 detection sets',
  due: (first: string) => recorder.record(first).detections.length >= 20,
};

const streamsOf = (label: string) =>
  Object.fromEntries(CLIPS.map((clip) => [`${label}-${clip}-${run}`, clip])) as Record<
    string,
    CrashClip
  >;

async function until(what: string, predicate: () => boolean, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function runStreams(streams: Record<string, CrashClip>): Promise<void> {
  for (const [streamId, clip] of Object.entries(streams)) {
    await recorder.startStream(streamId, clip);
  }
}

async function settle(streams: Record<string, CrashClip>): Promise<void> {
  for (const streamId of Object.keys(streams)) {
    await recorder.settled(streamId, {
      eventIds: expectedIds.get(streamId)!,
      features: [],
      detections: [],
    });
  }
  await sleep(3_000); // anything extra would show up by now
}

beforeAll(async () => {
  // Its own broker: these services are killed and restarted, and on the common broker another
  // suite's replicas (same consumer groups) would take over their streams, and they theirs.
  broker = privateKafka();
  await requireKafka();
  requireBuiltServices();
  const all = Object.assign(
    {},
    streamsOf('clean'),
    ...[...KILLS, FUSION_KILL].map(({ app }) => streamsOf(`kill-${app}`)),
    streamsOf('two-fusion'),
  ) as Record<string, CrashClip>;
  expectedIds = await embeddedEventIds(all);
  services = new ServiceSet(run);
  await services.start();
  recorder = await TopicRecorder.open();
  const reference = streamsOf('clean');
  await runStreams(reference);
  await settle(reference);
  for (const [streamId, clip] of Object.entries(reference)) {
    clean.set(clip, recorder.cleanRun(streamId, expectedIds.get(streamId)!));
  }
});

afterAll(async () => {
  await services?.stop();
  await recorder?.close();
  broker?.stop();
});

describe('a service killed -9 mid-stream and restarted (real broker, two clips back to back)', () => {
  it('the clean run is a fair reference: every clip has incidents and full windows', () => {
    for (const clip of CLIPS) {
      const reference = clean.get(clip)!;
      expect(reference.eventIds.length).toBeGreaterThan(0);
      expect(reference.features.length).toBeGreaterThan(15);
      expect(reference.detections.length).toBeGreaterThan(reference.features.length);
    }
  });

  /** Kills `app` at each point in turn (replica i at point i), then compares with the clean run. */
  async function killAndCompare(
    app: ServiceApp,
    due: (first: string) => boolean,
    label = `kill-${app}`,
    later: ((first: string) => boolean)[] = [],
  ) {
    const streams = streamsOf(label);
    const [first] = Object.keys(streams);
    await runStreams(streams);
    for (const [replica, point] of [due, ...later].entries()) {
      await until(`${first} to reach kill point ${replica + 1}`, () => point(first));
      await services.crash(app, 1_000, replica);
    }
    await settle(streams);
    for (const [streamId, clip] of Object.entries(streams)) {
      const outcome = recorder.compare(streamId, {
        ...clean.get(clip)!,
        eventIds: expectedIds.get(streamId)!,
      });
      expect({ streamId, ...outcome }).toMatchObject({
        streamId,
        lostIncidents: 0,
        extraIncidents: 0,
        missingFeatures: 0,
        missingDetections: 0,
      });
      // A restarted spectrogram cuts again only what it had not committed: the same windows.
      if (app === 'spectrogram') expect(outcome.duplicateFeatures).toBeLessThanOrEqual(4);
    }
  }

  it.each(KILLS)(
    'loses nothing when $app is killed $point: incidents equal by id, windows complete',
    ({ app, due }) => killAndCompare(app, due),
  );

  it(`loses nothing when fusion is killed ${FUSION_KILL.point}: its checkpoint takes the open episode on`, () =>
    killAndCompare(FUSION_KILL.app, FUSION_KILL.due));

  // Last: it leaves two fusion replicas running.
  it('with two fusion replicas, one killed -9 and then the other, loses and doubles no incident', async () => {
    await services.scale('fusion', 2);
    const sets = (n: number) => (first: string) => recorder.record(first).detections.length >= n;
    // Each kill rebalances the detections partitions of both replicas: whichever owned the
    // streams, the survivor takes them on from the checkpoints while the killed one is down.
    await killAndCompare('fusion', sets(15), 'two-fusion', [sets(45)]);
  });
});
