import { MemoryBus } from '@app/bus';
import {
  type AudioFeatureWindow,
  type DetectionSet,
  type VideoFrame,
  Topics,
} from '@app/contracts';
import { WindowContextBuilder } from '@app/dsp';
import { ClassDecider } from '@app/models';
import { InferenceStage } from './inference.stage';
import type { AudioClassifier, FrameDetector, PipelineMetrics } from './pipeline.ports';
import { LIVE_FRAME_HEADER } from './stream-headers';

function strictMetrics(): jest.Mocked<PipelineMetrics> {
  return {
    incidentVersion: jest.fn(),
    streamIdle: jest.fn(),
    detectorFrame: jest.fn(),
    frameDropped: jest.fn(),
    incidentLatency: jest.fn(),
    inference: jest.fn(),
  };
}

/** A detector that finishes a frame only when the test says so: it is as slow as we like. */
function slowDetector() {
  const pending: (() => void)[] = [];
  const detect = jest.fn<ReturnType<FrameDetector['detect']>, Parameters<FrameDetector['detect']>>(
    () => new Promise((resolve) => pending.push(() => resolve([]))),
  );
  const started = async (calls: number) => {
    while (detect.mock.calls.length < calls) await new Promise((r) => setTimeout(r, 1));
  };
  return { detect, started, finishOne: () => pending.shift()!() };
}

function window(streamId: string, seq: number, final = false): AudioFeatureWindow {
  return {
    streamId,
    seq,
    startSec: seq * 0.25,
    endSec: seq * 0.25 + 1,
    melBins: 2,
    frames: 2,
    data: new Float32Array(4),
    peakSec: seq * 0.25 + 0.5,
    ...(final ? { final } : {}),
  };
}

function frame(streamId: string, seq: number): VideoFrame {
  return {
    streamId,
    seq,
    ptsSec: seq / 5,
    width: 2,
    height: 2,
    pixels: new Uint8Array(12),
    pixelFormat: 'bgr24',
    geometry: { sourceWidth: 4, sourceHeight: 4, scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0 },
  };
}

async function collect(bus: MemoryBus, count: number): Promise<DetectionSet[]> {
  const out: DetectionSet[] = [];
  await bus.subscribe(Topics.detections, 'test', async (m) => void out.push(m.value));
  return new Promise((resolve) => {
    const poll = () => (out.length >= count ? resolve(out) : setTimeout(poll, 2));
    poll();
  });
}

describe('InferenceStage', () => {
  it('batches audio windows that queue up across streams, and answers each window once', async () => {
    const bus = new MemoryBus({ partitions: 4 });
    const classify = jest.fn<
      ReturnType<AudioClassifier['score']>,
      Parameters<AudioClassifier['score']>
    >(async (windows) =>
      windows.map(() => [
        { cls: 'siren', score: 0.7, threshold: 0.5, labels: ['Siren'] },
        { cls: 'alarm', score: 0.2, threshold: 0.5, labels: ['Alarm'] },
      ]),
    );
    const detect = jest.fn<
      ReturnType<FrameDetector['detect']>,
      Parameters<FrameDetector['detect']>
    >();
    const stage = new InferenceStage(
      bus,
      { name: 'tagger', score: classify, decider: () => new ClassDecider() },
      { name: 'detector', detect },
    );
    await stage.start();
    const done = collect(bus, 8);
    await Promise.all(
      ['a', 'b', 'c', 'd'].flatMap((s) => [
        bus.publish(Topics.features, s, window(s, 0)),
        bus.publish(Topics.features, s, window(s, 1)),
      ]),
    );
    const sets = await done;
    expect(sets).toHaveLength(8);
    expect(
      sets.every(
        (s) =>
          s.modality === 'audio' &&
          s.detections.length === 1 &&
          s.detections[0].cls === 'siren' &&
          s.model === 'tagger',
      ),
    ).toBe(true);
    const batchSizes = classify.mock.calls.map(([w]) => w.length);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(8);
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    expect(detect).not.toHaveBeenCalled();
    await stage.stop();
    await bus.close();
  });

  it('publishes a set for every frame, empty ones included, and forwards end-of-stream', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const classify = jest.fn<
      ReturnType<AudioClassifier['score']>,
      Parameters<AudioClassifier['score']>
    >();
    const detect = jest
      .fn<ReturnType<FrameDetector['detect']>, Parameters<FrameDetector['detect']>>()
      .mockResolvedValueOnce([
        { modality: 'video', cls: 'person', score: 0.9, labels: ['person'], box: [1, 2, 3, 4] },
      ])
      .mockResolvedValueOnce([]);
    const stage = new InferenceStage(
      bus,
      { name: 'tagger', score: classify, decider: () => new ClassDecider() },
      { name: 'detector', detect },
    );
    await stage.start();
    const done = collect(bus, 4);
    await bus.publish(Topics.video, 's', frame('s', 0));
    await bus.publish(Topics.video, 's', frame('s', 1));
    await bus.publish(Topics.video, 's', { ...frame('s', 2), final: true });
    await bus.publish(Topics.features, 's', window('s', 0, true));
    const sets = await done;
    const video = sets.filter((s) => s.modality === 'video');
    expect(video.map((s) => [s.seq, s.detections.length, s.final ?? false])).toEqual([
      [0, 1, false],
      [1, 0, false],
      [2, 0, true],
    ]);
    expect(video[1]).toMatchObject({ atSec: 0.2, model: 'detector' });
    expect(sets.find((s) => s.modality === 'audio')).toMatchObject({ final: true, detections: [] });
    expect(detect).toHaveBeenCalledTimes(2);
    expect(classify).not.toHaveBeenCalled();
    await stage.stop();
    await bus.close();
  });

  it('runs no detector on a still frame (gated at ingest): it carries what the detector last saw', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const seen = (cls: 'person' | 'vehicle') => ({
      modality: 'video' as const,
      cls,
      score: 0.9,
      labels: [cls],
      box: [1, 2, 3, 4] as [number, number, number, number],
    });
    const detect = jest
      .fn<ReturnType<FrameDetector['detect']>, Parameters<FrameDetector['detect']>>()
      .mockResolvedValueOnce([seen('person')])
      .mockResolvedValueOnce([seen('vehicle')]);
    const stage = new InferenceStage(bus, undefined, { name: 'detector', detect });
    await stage.start();
    const done = collect(bus, 7);
    const still = (id: string, seq: number) => ({
      ...frame(id, seq),
      pixels: new Uint8Array(0),
      still: true,
    });
    // Stream t's first frame is still: this replica never saw what was in view.
    await bus.publish(Topics.video, 't', still('t', 0));
    for (const seq of [0, 1, 2, 3, 4, 5]) {
      const moving = seq === 0 || seq === 3;
      await bus.publish(Topics.video, 's', moving ? frame('s', seq) : still('s', seq));
    }
    const sets = await done;
    expect(detect.mock.calls.map(([f]) => f.seq)).toEqual([0, 3]);
    expect(sets.map((s) => [s.streamId, s.seq, s.detections.map((d) => d.cls)])).toEqual([
      ['t', 0, []],
      ['s', 0, ['person']],
      ['s', 1, ['person']],
      ['s', 2, ['person']],
      ['s', 3, ['vehicle']],
      ['s', 4, ['vehicle']],
      ['s', 5, ['vehicle']],
    ]);
    expect(stage.gatingStats()).toEqual({ frames: 7, skipped: 5 });
    await stage.stop();
    await bus.close();
  });

  it('decides a window or frame published again upstream (a restart replaying) only once', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const classify = jest.fn<
      ReturnType<AudioClassifier['score']>,
      Parameters<AudioClassifier['score']>
    >(async (windows) => windows.map(() => []));
    const detect = jest
      .fn<ReturnType<FrameDetector['detect']>, Parameters<FrameDetector['detect']>>()
      .mockResolvedValue([]);
    const stage = new InferenceStage(
      bus,
      { name: 'tagger', score: classify, decider: () => new ClassDecider() },
      { name: 'detector', detect },
    );
    await stage.start();
    const done = collect(bus, 7);
    for (const seq of [0, 1, 2, 1, 2, 3]) await bus.publish(Topics.features, 's', window('s', seq));
    for (const seq of [0, 1, 0, 1, 2]) await bus.publish(Topics.video, 's', frame('s', seq));
    const sets = await done;
    await bus.idle();
    expect(sets.filter((s) => s.modality === 'audio').map((s) => s.seq)).toEqual([0, 1, 2, 3]);
    expect(sets.filter((s) => s.modality === 'video').map((s) => s.seq)).toEqual([0, 1, 2]);
    expect(classify).toHaveBeenCalledTimes(4);
    expect(detect).toHaveBeenCalledTimes(3);
    await stage.stop();
    await bus.close();
  });

  /** A stage whose classifier keeps a 4-frame context; one frame per 0.25 s, so window(s, seq) covers frames seq and seq + 1. */
  function contextStage(bus: MemoryBus) {
    const classify = jest.fn<
      ReturnType<AudioClassifier['score']>,
      Parameters<AudioClassifier['score']>
    >(async (windows) => windows.map(() => []));
    const stage = new InferenceStage(
      bus,
      {
        name: 'tagger',
        score: classify,
        decider: () => new ClassDecider(),
        context: () => new WindowContextBuilder({ melBins: 2, frameSec: 0.25, contextFrames: 4 }),
      },
      undefined,
    );
    const inputs = () => classify.mock.calls.flatMap(([w]) => w);
    return { stage, inputs };
  }

  it('hands the classifier each window with its stream’s longer context, kept per stream', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const { stage, inputs } = contextStage(bus);
    await stage.start();
    const done = collect(bus, 6);
    for (const [s, seq] of [
      ['a', 0],
      ['a', 1],
      ['b', 0],
      ['a', 2],
      ['a', 3],
    ] as const) {
      await bus.publish(Topics.features, s, window(s, seq));
    }
    await bus.publish(Topics.features, 'a', window('a', 4, true));
    await done;
    expect(inputs().map((w) => [w.frames, w.context?.frames])).toEqual([
      [2, 2],
      [2, 3],
      [2, 2],
      [2, 4],
      [2, 4],
    ]);
    await stage.stop();
    await bus.close();
  });

  it('keeps the windows its contexts hold uncommitted, so a restarted stage rebuilds them', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const before = contextStage(bus);
    await before.stage.start();
    for (const seq of [0, 1, 2, 3, 4]) await bus.publish(Topics.features, 's', window('s', seq));
    await bus.idle();
    await before.stage.stop(); // as if the process died here

    const after = contextStage(bus);
    await after.stage.start();
    await bus.publish(Topics.features, 's', window('s', 5));
    await bus.idle();
    // The context (frames 2-5) still held frames of windows 1-4: they are read again; 0 had left.
    expect(after.inputs()).toHaveLength(5);
    // The first live window after the restart sees the context an unbroken run gives it.
    expect(after.inputs().at(-1)!.context!.frames).toBe(4);
    await after.stage.stop();
    await bus.close();
  });

  /**
   * A stage whose deciders keep a 6-window ambient baseline, with glass at 0.6 in every window
   * (a café's clinking: over the 0.5 threshold, but ambient) on a wall clock the test sets.
   */
  function baselineStage(bus: MemoryBus, now: () => number = () => 0) {
    const baseline = { windows: 6, minWindows: 4, marginLogit: 2, ceiling: 0.9 };
    const classify = jest.fn<
      ReturnType<AudioClassifier['score']>,
      Parameters<AudioClassifier['score']>
    >(async (windows) =>
      windows.map(() => [{ cls: 'glass_break', score: 0.6, threshold: 0.5, labels: ['Glass'] }]),
    );
    const stage = new InferenceStage(
      bus,
      { name: 'tagger', score: classify, decider: () => new ClassDecider({ baseline }) },
      undefined,
      { now },
    );
    return { stage, classify };
  }

  it('keeps the windows its decider remembers uncommitted, so a restart keeps a stream’s ambient bar', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const sets = collect(bus, 0);
    const before = baselineStage(bus);
    await before.stage.start();
    for (let seq = 0; seq < 8; seq++) await bus.publish(Topics.features, 's', window('s', seq));
    await bus.idle();
    await before.stage.stop(); // as if the process died here

    const after = baselineStage(bus);
    await after.stage.start();
    await bus.publish(Topics.features, 's', window('s', 8));
    await bus.idle();
    // The last 6 windows (2-7) are read again and refill the baseline's ring...
    expect(after.classify.mock.calls.flatMap(([w]) => w)).toHaveLength(7);
    // ...so window 8 meets the stream's raised bar, as in an unbroken run, not the bare threshold.
    // (The replayed sets go out again, decided on a part-filled ring; fusion drops them as replays.)
    const all = await sets;
    expect(all.slice(0, 8).map((s) => s.detections.length > 0)).toEqual([
      ...[true, true, true, true],
      ...[false, false, false, false],
    ]);
    expect(all.at(-1)).toMatchObject({ seq: 8, detections: [] });
    await after.stage.stop();
    await bus.close();
  });

  it('lets go of what a stream silent for a minute holds, so its partition commits move on', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    let now = 0;
    const before = baselineStage(bus, () => now);
    await before.stage.start();
    // Stream a stops without an end marker reaching this replica; b goes on a minute later.
    for (const seq of [0, 1, 2]) await bus.publish(Topics.features, 'a', window('a', seq));
    await bus.idle();
    now = 61_000;
    await bus.publish(Topics.features, 'b', window('b', 0));
    await bus.idle();
    await before.stage.stop();

    const after = baselineStage(bus, () => now);
    await after.stage.start();
    await bus.idle();
    // Only b's window is read again: a's no longer hold the partition back.
    expect(after.classify.mock.calls.flatMap(([w]) => w)).toHaveLength(1);
    await after.stage.stop();
    await bus.close();
  });

  describe('live frames while the detector is behind', () => {
    it('keeps the newest frame of each live stream, drops and counts the ones it superseded, never audio', async () => {
      const bus = new MemoryBus({ partitions: 1 });
      const metrics = strictMetrics();
      const { detect, started, finishOne } = slowDetector();
      const classify = jest.fn<
        ReturnType<AudioClassifier['score']>,
        Parameters<AudioClassifier['score']>
      >(async (windows) => windows.map(() => []));
      const now = 1_000_000;
      const stage = new InferenceStage(
        bus,
        { name: 'tagger', score: classify, decider: () => new ClassDecider() },
        { name: 'detector', detect },
        { metrics, liveFrames: { maxAgeMs: 60_000, now: () => now } },
      );
      await stage.start();
      const headersOut: Record<string, string>[] = [];
      await bus.subscribe(
        Topics.detections,
        'headers',
        async (m) => void headersOut.push(m.headers),
      );
      const live = { [LIVE_FRAME_HEADER]: String(now), 'x-correlation-id': 'c1' };
      const done = collect(bus, 3 + 6);
      await bus.publish(Topics.video, 'cam', frame('cam', 0), live);
      await started(1);
      // Frame 0 of cam is with the detector; behind it queue one frame of another stream, four
      // more of cam and a second of the other stream, with audio windows beside them.
      await bus.publish(Topics.video, 'other', frame('other', 0), live);
      for (let seq = 1; seq <= 4; seq++) {
        await bus.publish(Topics.video, 'cam', frame('cam', seq), live);
      }
      await bus.publish(Topics.video, 'other', frame('other', 1), live);
      for (let seq = 0; seq < 6; seq++)
        await bus.publish(Topics.features, 'cam', window('cam', seq));
      for (let call = 2; call <= 3; call++) {
        finishOne();
        await started(call);
      }
      finishOne();
      const sets = await done;
      await bus.idle();
      // Each stream's newest frame is what the detector sees next; the others are not run and
      // get no set (the next set covers their time for fusion).
      const ids = (list: { streamId: string; seq: number }[]) =>
        list.map((f) => `${f.streamId}:${f.seq}`);
      expect(ids(detect.mock.calls.map(([f]) => f))).toEqual(['cam:0', 'cam:4', 'other:1']);
      expect(ids(sets.filter((s) => s.modality === 'video'))).toEqual([
        'cam:0',
        'cam:4',
        'other:1',
      ]);
      expect(sets.filter((s) => s.modality === 'audio').map((s) => s.seq)).toEqual([
        0, 1, 2, 3, 4, 5,
      ]);
      expect(stage.droppedFrames('cam')).toBe(3);
      expect(stage.droppedFrames('other')).toBe(1);
      expect(metrics.frameDropped.mock.calls).toEqual(Array(4).fill(['superseded']));
      // The wall-clock stamp is ingest's business: it does not travel on with the detections.
      expect(headersOut.every((h) => !(LIVE_FRAME_HEADER in h))).toBe(true);
      expect(headersOut.some((h) => h['x-correlation-id'] === 'c1')).toBe(true);
      await stage.stop();
      await bus.close();
    });

    it('runs the detector on a dropped moving picture when a still frame (the same picture) comes after it', async () => {
      const bus = new MemoryBus({ partitions: 1 });
      const { detect, started, finishOne } = slowDetector();
      const now = 1_000_000;
      const stage = new InferenceStage(
        bus,
        undefined,
        { name: 'detector', detect },
        { metrics: strictMetrics(), liveFrames: { maxAgeMs: 60_000, now: () => now } },
      );
      await stage.start();
      const live = { [LIVE_FRAME_HEADER]: String(now) };
      const done = collect(bus, 2);
      const picture = (seq: number) => ({
        ...frame('cam', seq),
        pixels: new Uint8Array(12).fill(seq),
      });
      const still = (seq: number) => ({
        ...frame('cam', seq),
        pixels: new Uint8Array(0),
        still: true,
      });
      await bus.publish(Topics.video, 'cam', picture(0), live);
      await started(1);
      // Behind frame 0: a picture where something moved, then two still frames showing it.
      await bus.publish(Topics.video, 'cam', picture(1), live);
      await bus.publish(Topics.video, 'cam', still(2), live);
      await bus.publish(Topics.video, 'cam', still(3), live);
      finishOne();
      await started(2);
      finishOne();
      const sets = await done;
      // Frames 1 and 2 were superseded; frame 3 is detected on frame 1's picture.
      expect(detect.mock.calls.map(([f]) => [...f.pixels.subarray(0, 1)])).toEqual([[0], [1]]);
      expect(sets.map((s) => s.seq)).toEqual([0, 3]);
      expect(stage.gatingStats()).toEqual({ frames: 2, skipped: 0 });
      await stage.stop();
      await bus.close();
    });

    it('drops a live frame that waited longer than the bound, keeps a fresh one', async () => {
      const bus = new MemoryBus({ partitions: 1 });
      const metrics = strictMetrics();
      const detect = jest
        .fn<ReturnType<FrameDetector['detect']>, Parameters<FrameDetector['detect']>>()
        .mockResolvedValue([]);
      let now = 50_000;
      const stage = new InferenceStage(
        bus,
        undefined,
        { name: 'detector', detect },
        {
          metrics,
          liveFrames: { maxAgeMs: 1000, now: () => now },
        },
      );
      await stage.start();
      const done = collect(bus, 2);
      // Published one by one, nothing behind them: only their age speaks (as on Kafka).
      const stamped = (ms: number) => ({ [LIVE_FRAME_HEADER]: String(ms) });
      await bus.publish(Topics.video, 'cam', frame('cam', 0), stamped(now - 1500));
      await bus.idle();
      await bus.publish(Topics.video, 'cam', frame('cam', 1), stamped(now - 999));
      await bus.idle();
      now += 10_000;
      await bus.publish(Topics.video, 'cam', { ...frame('cam', 2), final: true }, stamped(0));
      const sets = await done;
      expect(sets.map((s) => [s.seq, s.final ?? false])).toEqual([
        [1, false],
        [2, true],
      ]);
      expect(detect.mock.calls.map(([f]) => f.seq)).toEqual([1]);
      expect(stage.droppedFrames('cam')).toBe(1);
      expect(metrics.frameDropped.mock.calls).toEqual([['stale']]);
      await stage.stop();
      await bus.close();
    });

    it('keeps every frame of a file (no live stamp), however far behind the detector is', async () => {
      const bus = new MemoryBus({ partitions: 1 });
      const metrics = strictMetrics();
      const { detect, started, finishOne } = slowDetector();
      const stage = new InferenceStage(
        bus,
        undefined,
        { name: 'detector', detect },
        {
          metrics,
          liveFrames: { maxAgeMs: 50, now: () => Date.now() + 3_600_000 },
        },
      );
      await stage.start();
      const done = collect(bus, 5);
      await bus.publish(Topics.video, 'clip', frame('clip', 0));
      await started(1);
      for (let seq = 1; seq < 5; seq++) await bus.publish(Topics.video, 'clip', frame('clip', seq));
      for (let call = 2; call <= 5; call++) {
        finishOne();
        await started(call);
      }
      finishOne();
      const sets = await done;
      expect(sets.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4]);
      expect(stage.droppedFrames('clip')).toBe(0);
      expect(metrics.frameDropped).not.toHaveBeenCalled();
      await stage.stop();
      await bus.close();
    });
  });
});
