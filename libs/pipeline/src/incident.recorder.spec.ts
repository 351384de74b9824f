import { EDGE_SEQ_HEADER, MemoryBus } from '@app/bus';
import { type SecurityEvent, Topics, deadLetterTopic } from '@app/contracts';
import type { EvidenceRef as StoreRef, EvidenceRequest, EvidenceWriteResult } from '@app/evidence';
import { triggerMomentId } from '@app/fusion';
import {
  EventRepository,
  HistoryDatabase,
  SqliteSqlDatabase,
  type StoredEvent,
} from '@app/history';
import { strictMock } from '@app/testing/strict-mock';
import { EventFeed } from './event.feed';
import {
  IncidentRecorder,
  type IncidentRecorderDeps,
  type IncidentRecorderOptions,
} from './incident.recorder';
import { LABELS_HEADER, ORIGIN_HEADER } from './stream-headers';
import { ManualSleeper } from '../test/manual.sleeper';

const NOW = 1_700_000_000_000;
const SHA = 'c0'.repeat(32);

const event: SecurityEvent = {
  id: 'evt-glass-1',
  incidentId: 'evt-glass-1',
  version: 1,
  state: 'opened',
  streamId: 'cam-1',
  rule: 'intrusion',
  title: 'Intrusion: glass break with a person in view',
  severity: 'high',
  startSec: 4.07,
  endSec: 4.6,
  trigger: 'glass_break',
  triggers: ['glass_break'],
  evidence: [
    { cls: 'glass_break', modality: 'audio', score: 0.9, atSec: 4.07 },
    { cls: 'person', modality: 'video', score: 0.8, atSec: 4, box: [316, 68, 432, 390] },
  ],
};

const storeRef = (name: string, contentType: string): StoreRef => ({
  key: `${event.id}/${name}`,
  contentType,
  bytes: 100,
  sha256: SHA,
});

const ALL_WRITTEN: EvidenceWriteResult = {
  refs: {
    snapshot: storeRef('snapshot.jpg', 'image/jpeg'),
    spectrogram: storeRef('spectrogram.png', 'image/png'),
    audio: storeRef('audio.wav', 'audio/wav'),
  },
  errors: [],
};

/** What the tap answers; the recorder hands it on untouched. */
const request: EvidenceRequest = {
  event,
  frame: {
    ptsSec: 4,
    width: 2,
    height: 2,
    pixels: new Uint8Array(12),
    pixelFormat: 'bgr24',
    geometry: { sourceWidth: 4, sourceHeight: 4, scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0 },
  },
  audioWindow: { melBins: 1, frames: 2, data: new Float32Array(2), startSec: 3.6 },
  audioClip: { samples: new Float32Array(4), sampleRate: 32000 },
};

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets pending promise callbacks run (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('IncidentRecorder', () => {
  let database: SqliteSqlDatabase;
  let events: EventRepository;
  let feed: EventFeed;
  let sleeper: ManualSleeper;
  let warnings: string[];
  let steps: string[];

  beforeEach(async () => {
    const clock = { now: () => NOW };
    database = new SqliteSqlDatabase(new HistoryDatabase({ path: ':memory:', clock }), true);
    events = await EventRepository.open(database, clock);
    warnings = [];
    feed = new EventFeed({ warn: (message) => warnings.push(message) });
    sleeper = new ManualSleeper();
    steps = [];
  });

  afterEach(() => database.close());

  function recorder(
    deps: Partial<IncidentRecorderDeps> = {},
    options: IncidentRecorderOptions = {},
  ): IncidentRecorder {
    return new IncidentRecorder(
      {
        bus: strictMock<MemoryBus>('Bus', {}),
        tap: strictMock<IncidentRecorderDeps['tap']>('EvidenceTap', {
          capture: jest.fn(async () => (steps.push('capture'), request)),
        }),
        writer: strictMock<IncidentRecorderDeps['writer']>('EvidenceWriter', {
          write: jest.fn(async () => (steps.push('write'), ALL_WRITTEN)),
        }),
        database,
        events,
        feed,
        clock: { now: () => NOW + 250 },
        sleeper,
        logger: { warn: (message) => warnings.push(message) },
        ...deps,
      },
      options,
    );
  }

  it('stores evidence first, then the event with it and its alerts in one go, then tells the feed', async () => {
    let readBack: Promise<StoredEvent | undefined> | undefined;
    const onFeed = feed.onStored((s) => {
      // Whoever hears of it can read it back, evidence included, and its alert is queued.
      steps.push('feed');
      readBack = events.get(s.event.id);
    });
    const enqueue = jest.fn(async (stored: StoredEvent) => {
      steps.push('enqueue');
      expect(stored.evidenceRefs).toHaveLength(3);
    });
    const onRecorded = jest.fn(() => void steps.push('onRecorded'));
    const stored = await recorder({ outbox: { enqueue } }, { onRecorded }).record(event, {
      [LABELS_HEADER]: JSON.stringify({ site: 'Depot', camera: 'Gate 2' }),
    });
    onFeed();
    expect((await readBack)?.evidenceRefs).toHaveLength(3);

    expect(steps).toEqual(['capture', 'write', 'enqueue', 'feed', 'onRecorded']);
    expect(stored).toEqual(await events.get(event.id));
    expect(stored).toMatchObject({
      seq: 1,
      event,
      occurredAt: NOW + 250,
      streamLabels: { site: 'Depot', camera: 'Gate 2' },
    });
    expect(stored!.evidenceRefs.map((r) => [r.name, r.key, r.contentType])).toEqual([
      ['snapshot.jpg', 'evt-glass-1/snapshot.jpg', 'image/jpeg'],
      ['spectrogram.png', 'evt-glass-1/spectrogram.png', 'image/png'],
      ['audio.wav', 'evt-glass-1/audio.wav', 'audio/wav'],
    ]);
    expect(enqueue).toHaveBeenCalledWith(stored, expect.anything());
    expect(onRecorded).toHaveBeenCalledWith(stored);
    expect(feed.latestSeq).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('records every version, alerts on opening and escalation only, and takes no evidence for closing', async () => {
    const enqueue = jest.fn();
    const capture = jest.fn(async () => request);
    const subject = recorder({ outbox: { enqueue }, tap: { capture } });
    const version = (n: number, state: SecurityEvent['state']) => ({
      ...event,
      id: `${event.id}-v${n}`,
      version: n,
      state,
    });
    for (const [n, state] of [
      [1, 'opened'],
      [2, 'updated'],
      [3, 'escalated'],
      [4, 'closed'],
    ] as const) {
      await subject.record(version(n, state));
    }

    expect((await events.list({ order: 'oldest-first' })).events.map((s) => s.event.state)).toEqual(
      ['opened', 'updated', 'escalated', 'closed'],
    );
    expect(enqueue.mock.calls.map(([s]) => (s as StoredEvent).event.state)).toEqual([
      'opened',
      'escalated',
    ]);
    expect(capture).toHaveBeenCalledTimes(3);
    expect((await events.get(`${event.id}-v4`))?.evidenceRefs).toEqual([]);
  });

  it('asks the tap for at most the capture timeout, and the writer for exactly what the tap found', async () => {
    const capture = jest.fn(async () => request);
    const write = jest.fn(async () => ALL_WRITTEN);
    await recorder(
      { tap: { capture }, writer: { write } },
      { evidenceTimeoutMs: 5000, captureTimeoutMs: 1500 },
    ).record(event);
    expect(capture).toHaveBeenCalledWith(event, {
      timeoutMs: 1500,
      signal: expect.any(AbortSignal),
    });
    expect(write).toHaveBeenCalledWith(request);
  });

  it('does not hold an alert past the evidence timeout, and attaches the evidence once written', async () => {
    const writing = deferred<EvidenceWriteResult>();
    const write = jest.fn(() => writing.promise);
    const subject = recorder({ writer: { write } }, { evidenceTimeoutMs: 3000 });
    const published: StoredEvent[] = [];
    feed.onStored((s) => published.push(s));

    const recording = subject.record(event);
    await settle();
    expect(await events.get(event.id)).toBeUndefined();
    expect(published).toEqual([]);
    sleeper.elapse(3000);
    const stored = await recording;
    expect(stored?.evidenceRefs).toEqual([]);
    expect(published.map((s) => s.event.id)).toEqual([event.id]);
    expect(warnings).toEqual([
      `evidence for ${event.id} not stored within 3000 ms: recording the event without it, attaching it once written`,
    ]);

    let idle = false;
    const idling = subject.idle().then(() => (idle = true));
    await settle();
    expect(idle).toBe(false);
    writing.resolve(ALL_WRITTEN);
    await idling;
    expect((await events.get(event.id))!.evidenceRefs.map((r) => r.name)).toEqual([
      'snapshot.jpg',
      'spectrogram.png',
      'audio.wav',
    ]);
  });

  it('does nothing for a replayed event, not even evidence', async () => {
    await events.save(event, { occurredAt: NOW });
    const enqueue = jest.fn();
    const subject = recorder({
      tap: strictMock<IncidentRecorderDeps['tap']>('EvidenceTap', {}),
      writer: strictMock<IncidentRecorderDeps['writer']>('EvidenceWriter', {}),
      outbox: { enqueue },
    });
    const published: StoredEvent[] = [];
    feed.onStored((s) => published.push(s));
    await expect(subject.record(event)).resolves.toBeUndefined();
    expect(enqueue).not.toHaveBeenCalled();
    expect(published).toEqual([]);
    expect(await events.count()).toBe(1);
  });

  it('queues no second alert when another recorder stored the event while this one wrote evidence', async () => {
    const other = await EventRepository.open(database);
    const capture = jest.fn(async () => (await other.save(event, { occurredAt: NOW }), request));
    const enqueue = jest.fn();
    const published: StoredEvent[] = [];
    feed.onStored((s) => published.push(s));
    const stored = await recorder({ tap: { capture }, outbox: { enqueue } }).record(event);
    expect(stored).toBeUndefined();
    expect(enqueue).not.toHaveBeenCalled();
    expect(published).toEqual([]);
  });

  it('rolls the event back when its alert cannot be queued, and throws so the bus retries', async () => {
    const enqueue = jest.fn(async () => {
      throw new Error('outbox table is locked');
    });
    const published: StoredEvent[] = [];
    feed.onStored((s) => published.push(s));
    await expect(recorder({ outbox: { enqueue } }).record(event)).rejects.toThrow(
      'outbox table is locked',
    );
    expect(enqueue).toHaveBeenCalledTimes(1);
    expect(await events.get(event.id)).toBeUndefined();
    expect(await events.count()).toBe(0);
    expect(published).toEqual([]);
  });

  it('on the bus: a failed save is retried, recorded once, and its alert queued once', async () => {
    const bus = new MemoryBus({ partitions: 2, retryDelayMs: 1 });
    let failures = 1;
    const enqueue = jest.fn(async () => {
      if (failures-- > 0) throw new Error('disk I/O error');
    });
    const subject = recorder({ bus, outbox: { enqueue } });
    const dead: string[] = [];
    await bus.subscribe(deadLetterTopic(Topics.events), 'test', async (m) => void dead.push(m.key));
    await subject.start();
    await bus.publish(Topics.events, event.streamId, event);
    await bus.idle();
    await subject.stop();
    expect(enqueue).toHaveBeenCalledTimes(2);
    expect(await events.count()).toBe(1);
    expect(feed.latestSeq).toBe(1);
    expect(dead).toEqual([]);
    await bus.close();
  });

  it('leaves one-off analyses alone, and takes any other predicate it is given', async () => {
    const quiet = recorder({ tap: strictMock<IncidentRecorderDeps['tap']>('EvidenceTap', {}) });
    await expect(quiet.record(event, { [ORIGIN_HEADER]: 'analysis' })).resolves.toBeUndefined();
    const custom = recorder({}, { skip: (e) => e.severity !== 'critical' });
    await expect(custom.record(event)).resolves.toBeUndefined();
    expect(steps).toEqual([]);
    expect(await events.count()).toBe(0);
  });

  it('records the event without labels when its label header is malformed, and says so', async () => {
    const stored = await recorder().record(event, { [LABELS_HEADER]: '{"site":' });
    expect(stored).toBeDefined();
    expect(stored!.streamLabels).toBeUndefined();
    expect(warnings).toEqual([`event ${event.id}: x-vigil-labels ignored: not JSON`]);
  });

  it('records what evidence it could, and the event even when none could be made', async () => {
    const partial: EvidenceWriteResult = {
      refs: { audio: ALL_WRITTEN.refs.audio },
      errors: [
        { kind: 'snapshot', error: new Error('ffmpeg exited with 1') },
        { kind: 'spectrogram', error: new Error('disk full') },
      ],
    };
    const stored = await recorder({ writer: { write: async () => partial } }).record(event);
    expect(stored!.evidenceRefs.map((r) => r.name)).toEqual(['audio.wav']);
    expect(warnings).toEqual([
      `evidence snapshot for ${event.id} failed: ffmpeg exited with 1`,
      `evidence spectrogram for ${event.id} failed: disk full`,
    ]);

    warnings.splice(0);
    const second = { ...event, id: 'evt-glass-2' };
    const broken = recorder({
      tap: {
        capture: async () => {
          throw new Error('tap stopped');
        },
      },
    });
    const bare = await broken.record(second);
    expect(bare).toMatchObject({ seq: 2, evidenceRefs: [] });
    expect(warnings).toEqual(['evidence for evt-glass-2 failed: tap stopped']);
  });

  it('keeps a recorded event recorded when the onRecorded hook throws', async () => {
    const onRecorded = () => {
      throw new Error('dispatcher gone');
    };
    const stored = await recorder({}, { onRecorded }).record(event);
    expect(await events.get(event.id)).toEqual(stored);
    expect(warnings).toEqual([`onRecorded failed for ${event.id}: dispatcher gone`]);
  });

  it('says which media were missing when the tap had only part of them', async () => {
    const onlyClip: EvidenceRequest = { event, audioClip: request.audioClip };
    await recorder({ tap: { capture: async () => onlyClip } }).record(event);
    expect(warnings).toEqual([
      `event ${event.id}: no frame, audioWindow buffered for its evidence`,
    ]);
  });

  describe('an edge stream (its detections carry an edge message id)', () => {
    const fromEdge = { [EDGE_SEQ_HEADER]: 'site-12.abc:41' };
    const refs = ['snapshot.jpg', 'spectrogram.png', 'audio.wav'].map((name) => ({
      name,
      key: `${event.id}/${name}`,
      contentType: 'application/octet-stream',
      bytes: 10,
      sha256: SHA,
    }));

    it('takes the evidence its edge sent instead of cutting it from media, waiting the edge bound', async () => {
      const refsFor = jest.fn(async () => refs);
      const capture = jest.fn();
      const stored = await recorder(
        { edgeEvidence: { refsFor, refsForMoment: jest.fn() }, tap: { capture } },
        { edgeEvidenceWaitMs: 45_000 },
      ).record(event, fromEdge);
      expect(stored!.evidenceRefs).toEqual(refs);
      expect(refsFor).toHaveBeenCalledWith(event, {
        timeoutMs: 45_000,
        signal: expect.any(AbortSignal),
      });
      expect(capture).not.toHaveBeenCalled();
      expect(warnings).toEqual([]);
    });

    it('alerts without it after the evidence timeout and attaches it when the edge sends it', async () => {
      const sent = deferred<typeof refs>();
      const refsFor = jest.fn(() => sent.promise);
      const subject = recorder(
        { edgeEvidence: { refsFor, refsForMoment: jest.fn() } },
        { evidenceTimeoutMs: 3000 },
      );
      const recording = subject.record(event, fromEdge);
      await settle();
      sleeper.elapse(3000);
      expect((await recording)!.evidenceRefs).toEqual([]);
      sent.resolve(refs);
      await subject.idle();
      expect((await events.get(event.id))!.evidenceRefs.map((r) => r.name)).toEqual([
        'snapshot.jpg',
        'spectrogram.png',
        'audio.wav',
      ]);
    });

    it('records the event without evidence, and says so, when its edge sent none in time', async () => {
      const refsFor = jest.fn(async () => []);
      const stored = await recorder(
        { edgeEvidence: { refsFor, refsForMoment: jest.fn() } },
        { edgeEvidenceWaitMs: 1000 },
      ).record(event, fromEdge);
      expect(stored!.evidenceRefs).toEqual([]);
      expect(warnings).toEqual([`event ${event.id}: no evidence from its edge within 1000 ms`]);
    });

    it("shows a site incident the evidence its edge rendered for the trigger camera's own version at that moment", async () => {
      const site: SecurityEvent = {
        ...event,
        id: 'site-version-1',
        streamId: 'cam-hall',
        cameras: ['cam-hall', 'cam-door'],
        trigger: 'glass_break',
        evidence: [
          { cls: 'person', modality: 'video', score: 0.9, atSec: 0.2, streamId: 'cam-hall' },
          { cls: 'glass_break', modality: 'audio', score: 0.8, atSec: 4.07, streamId: 'cam-door' },
        ],
      };
      const cameraOwn: SecurityEvent = {
        ...event,
        streamId: 'cam-door',
        trigger: 'glass_break',
        evidence: [{ cls: 'glass_break', modality: 'audio', score: 0.8, atSec: 4.07 }],
      };
      const refsFor = jest.fn();
      const refsForMoment = jest.fn(async () => refs);
      const stored = await recorder({ edgeEvidence: { refsFor, refsForMoment } }).record(
        site,
        fromEdge,
      );
      expect(stored!.evidenceRefs).toEqual(refs);
      expect(refsForMoment).toHaveBeenCalledWith(triggerMomentId(cameraOwn), {
        timeoutMs: 60_000,
        signal: expect.any(AbortSignal),
      });
      expect(refsFor).not.toHaveBeenCalled();
    });

    it("cuts a central stream's evidence from the tap as before", async () => {
      const refsFor = jest.fn();
      const stored = await recorder({
        edgeEvidence: { refsFor, refsForMoment: jest.fn() },
      }).record(event);
      expect(stored!.evidenceRefs).toHaveLength(3);
      expect(refsFor).not.toHaveBeenCalled();
      expect(steps).toEqual(['capture', 'write']);
    });
  });
});
