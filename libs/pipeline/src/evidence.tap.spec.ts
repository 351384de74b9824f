import { MemoryBus } from '@app/bus';
import {
  type AudioChunk,
  type AudioFeatureWindow,
  type DetectionSet,
  type SecurityEvent,
  type VideoFrame,
  Topics,
} from '@app/contracts';
import { EvidenceTap, type EvidenceTapOptions } from './evidence.tap';
import { ManualSleeper } from '../test/manual.sleeper';

const RATE = 100; // samples per second: small numbers, exact cuts
const FRAME_BYTES = 2 * 2 * 3;

function frame(streamId: string, ptsSec: number, fill = Math.round(ptsSec * 10)): VideoFrame {
  return {
    streamId,
    seq: Math.round(ptsSec * 10),
    ptsSec,
    width: 2,
    height: 2,
    pixels: new Uint8Array(FRAME_BYTES).fill(fill),
    pixelFormat: 'bgr24',
    geometry: { sourceWidth: 4, sourceHeight: 4, scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0 },
  };
}

/** One second of PCM whose every sample is its own stream time, so a cut shows where it came from. */
function chunk(streamId: string, startSec: number): AudioChunk {
  const samples = new Float32Array(RATE);
  for (let i = 0; i < RATE; i++) samples[i] = startSec + i / RATE;
  return { streamId, seq: startSec, startSec, sampleRate: RATE, samples };
}

function window(streamId: string, startSec: number, peakSec: number): AudioFeatureWindow {
  return {
    streamId,
    seq: Math.round(startSec * 2),
    startSec,
    endSec: startSec + 1,
    melBins: 2,
    frames: 2,
    data: new Float32Array(4).fill(startSec),
    peakSec,
  };
}

function detections(streamId: string, modality: 'audio' | 'video', endSec: number): DetectionSet {
  return {
    streamId,
    modality,
    seq: 0,
    startSec: endSec,
    endSec,
    atSec: endSec,
    model: 'm',
    detections: [],
  };
}

const intrusion: SecurityEvent = {
  id: 'evt-1',
  incidentId: 'evt-1',
  version: 1,
  state: 'opened',
  streamId: 'cam',
  rule: 'intrusion',
  title: 'Intrusion',
  severity: 'high',
  startSec: 4.1,
  endSec: 4.6,
  trigger: 'glass_break',
  triggers: ['glass_break'],
  evidence: [
    { cls: 'glass_break', modality: 'audio', score: 0.9, atSec: 4.1 },
    { cls: 'person', modality: 'video', score: 0.8, atSec: 3, box: [1, 1, 3, 3] },
  ],
};

const alarm: SecurityEvent = {
  ...intrusion,
  id: 'evt-2',
  rule: 'unattended_alarm',
  trigger: 'alarm',
  startSec: 2.1,
  evidence: [{ cls: 'alarm', modality: 'audio', score: 0.7, atSec: 2.1 }],
};

async function setup(options: EvidenceTapOptions = {}) {
  const bus = new MemoryBus({ partitions: 2 });
  const sleeper = new ManualSleeper();
  const tap = new EvidenceTap(bus, { sleeper, ...options });
  await tap.start();
  return { bus, sleeper, tap };
}

/** Frames every 0.5 s, windows every 0.5 s (peak at their centre), PCM in 1 s chunks, over [0, untilSec). */
async function feed(bus: MemoryBus, streamId: string, untilSec: number, fromSec = 0) {
  for (let t = fromSec; t < untilSec; t += 0.5) {
    await bus.publish(Topics.video, streamId, frame(streamId, t));
    await bus.publish(Topics.features, streamId, window(streamId, t, t + 0.5));
    if (Number.isInteger(t)) await bus.publish(Topics.audio, streamId, chunk(streamId, t));
  }
  await bus.idle();
}

async function end(bus: MemoryBus, streamId: string) {
  await bus.publish(Topics.video, streamId, { ...frame(streamId, 0), final: true });
  await bus.publish(Topics.features, streamId, { ...window(streamId, 0, 0), final: true });
  await bus.publish(Topics.audio, streamId, { ...chunk(streamId, 0), final: true });
  await bus.idle();
}

/** Lets pending promise callbacks run (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('EvidenceTap', () => {
  it('takes the frame the box was seen on, the window the trigger was heard in, and its PCM', async () => {
    const { bus, tap } = await setup();
    await feed(bus, 'cam', 8);
    await bus.publish(Topics.features, 'cam', window('cam', 3.6, 4.1)); // peak right on it
    await bus.idle();
    const request = await tap.capture(intrusion, { timeoutMs: 1000 });
    expect(request.event).toBe(intrusion);
    expect(request.frame?.ptsSec).toBe(3);
    expect(request.audioWindow).toMatchObject({ startSec: 3.6, endSec: 4.6, peakSec: 4.1 });
    const clip = request.audioClip!;
    expect(clip.sampleRate).toBe(RATE);
    expect(clip.samples).toHaveLength(RATE);
    expect(clip.samples[0]).toBeCloseTo(3.6);
    expect(clip.samples[RATE - 1]).toBeCloseTo(4.59);
    await tap.stop();
  });

  it('prefers the frame at the trigger, with the boxes inference saw on it', async () => {
    const { bus, tap } = await setup();
    await feed(bus, 'cam', 8);
    for (let t = 0; t < 8; t += 0.5) {
      const seen = detections('cam', 'video', t);
      // A person in view throughout; its box moves, so the test sees which frame's box is drawn.
      seen.detections = [
        { modality: 'video', cls: 'person', score: 0.7, labels: ['person'], box: [t, 1, t + 2, 3] },
        { modality: 'video', cls: 'vehicle', score: 0.6, labels: ['car'], box: [0, 0, 1, 1] },
      ];
      await bus.publish(Topics.detections, 'cam', seen);
    }
    await bus.idle();
    const request = await tap.capture(intrusion, { timeoutMs: 1000 });
    expect(request.frame?.ptsSec).toBe(4);
    expect(request.boxes).toEqual([{ box: [4, 1, 6, 3], label: 'person', score: 0.7 }]);
    await tap.stop();
  });

  it('waits for inference to report on the frame at the trigger before choosing it', async () => {
    const { bus, tap } = await setup();
    await feed(bus, 'cam', 8);
    await bus.publish(Topics.detections, 'cam', detections('cam', 'video', 1));
    await bus.idle();
    let done = false;
    const capture = tap.capture(intrusion, { timeoutMs: 1000 }).then((r) => ((done = true), r));
    await settle();
    expect(done).toBe(false);
    const seen = detections('cam', 'video', 4);
    seen.detections = [
      { modality: 'video', cls: 'person', score: 0.9, labels: [], box: [0, 0, 2, 2] },
    ];
    await bus.publish(Topics.detections, 'cam', seen);
    await bus.publish(Topics.detections, 'cam', detections('cam', 'video', 4.5));
    const request = await capture;
    expect(request.frame?.ptsSec).toBe(4);
    expect(request.boxes).toEqual([{ box: [0, 0, 2, 2], label: 'person', score: 0.9 }]);
    await tap.stop();
  });

  it('keeps what the bus hands over by reference, and copies only views into larger buffers', async () => {
    const { bus, tap } = await setup();
    const own = frame('cam', 3);
    const shared = new Uint8Array(FRAME_BYTES * 4);
    const view = { ...frame('cam', 3.5), pixels: shared.subarray(FRAME_BYTES, 2 * FRAME_BYTES) };
    await bus.publish(Topics.video, 'cam', own);
    await bus.publish(Topics.video, 'cam', view);
    await end(bus, 'cam');
    expect((await tap.capture(intrusion, { timeoutMs: 0 })).frame?.pixels).toBe(own.pixels);
    const later = { ...intrusion, evidence: [{ ...intrusion.evidence[1], atSec: 3.5 }] };
    const copied = (await tap.capture(later, { timeoutMs: 0 })).frame!.pixels;
    expect(copied).not.toBe(view.pixels);
    expect(copied).toEqual(view.pixels);
    expect(copied.buffer.byteLength).toBe(FRAME_BYTES);
    expect(tap.bufferedBytes).toBe(2 * FRAME_BYTES);
    await tap.stop();
  });

  it('without video evidence takes the frame nearest the trigger, but none that is far from it', async () => {
    const { bus, tap } = await setup({ maxFrameGapSec: 0.3 });
    await feed(bus, 'cam', 6);
    const request = await tap.capture(alarm, { timeoutMs: 1000 });
    expect(request.frame?.ptsSec).toBe(2);
    expect(request.audioWindow).toMatchObject({ startSec: 1.5, peakSec: 2 });

    const late = { ...alarm, evidence: [{ ...alarm.evidence[0], atSec: 5.9 }] };
    await end(bus, 'cam');
    expect((await tap.capture(late, { timeoutMs: 0 })).frame).toBeUndefined();
    await tap.stop();
  });

  it('shows a still frame (nothing moved) with the pixels of the frame with pixels before it', async () => {
    const { bus, tap } = await setup({ maxFrameGapSec: 0.3 });
    const still = (streamId: string, ptsSec: number): VideoFrame => ({
      ...frame(streamId, ptsSec),
      pixels: new Uint8Array(0),
      still: true,
    });
    // The tap joins 'late' at a still frame: it never saw what was in view.
    await bus.publish(Topics.video, 'late', still('late', 0));
    for (const t of [0, 0.5, 1, 1.5, 2, 2.5, 3]) {
      await bus.publish(
        Topics.video,
        'cam',
        t === 0 || t === 2.5 ? frame('cam', t) : still('cam', t),
      );
      await bus.publish(Topics.features, 'cam', window('cam', t, t + 0.5));
      if (Number.isInteger(t)) await bus.publish(Topics.audio, 'cam', chunk('cam', t));
    }
    await bus.idle();
    const shown = (await tap.capture(alarm, { timeoutMs: 0 })).frame!;
    expect(shown).toMatchObject({ ptsSec: 2, width: 2, height: 2 });
    expect('still' in shown).toBe(false);
    expect([...shown.pixels]).toEqual([...frame('cam', 0).pixels]);
    expect(tap.bufferedBytes).toBe(2 * FRAME_BYTES + 7 * 4 * 4 + 4 * RATE * 4);
    expect(tap.buffered('late').video.count).toBe(0);
    await tap.stop();
  });

  it('keeps the configured stream seconds behind the newest media', async () => {
    const { bus, tap } = await setup({ videoSec: 3, audioSec: 2 });
    await feed(bus, 'cam', 15);
    const spans = tap.buffered('cam');
    expect(spans.video).toMatchObject({ fromSec: 11.5, toSec: 14.5 });
    expect(spans.features).toMatchObject({ fromSec: 12.5, toSec: 15.5 });
    expect(spans.audio).toMatchObject({ fromSec: 12, toSec: 15 });
    const request = await tap.capture(intrusion, { timeoutMs: 0 });
    expect(request).toEqual({ event: intrusion });
    await tap.stop();
  });

  it('counts the kept seconds back from what fusion has decided, not from what ingest ran ahead to', async () => {
    const { bus, tap } = await setup({ videoSec: 3, audioSec: 2 });
    await feed(bus, 'cam', 1);
    await bus.publish(Topics.detections, 'cam', detections('cam', 'audio', 5));
    await bus.publish(Topics.detections, 'cam', detections('cam', 'video', 4.5));
    await feed(bus, 'cam', 15, 1);
    expect(tap.buffered('cam').video.fromSec).toBe(1.5);
    expect((await tap.capture(intrusion, { timeoutMs: 0 })).frame?.ptsSec).toBe(3);

    await bus.publish(Topics.detections, 'cam', detections('cam', 'video', 12));
    await bus.publish(Topics.detections, 'cam', detections('cam', 'audio', 12));
    await bus.idle();
    expect(tap.buffered('cam').video.fromSec).toBe(9);
    await tap.stop();
  });

  it('holds a byte budget across streams by dropping the oldest media first', async () => {
    const { bus, tap } = await setup({ maxBytes: 10 * FRAME_BYTES });
    const show = async (streamId: string, ptsSec: number) => {
      await bus.publish(Topics.video, streamId, frame(streamId, ptsSec));
      await bus.idle();
    };
    for (let t = 0; t < 4; t++) {
      await show('a', t);
      await show('b', t);
    }
    for (const t of [4, 5, 6]) await show('a', t);
    expect(tap.bufferedBytes).toBe(10 * FRAME_BYTES);
    expect(tap.buffered('a').video).toMatchObject({ count: 6, fromSec: 1 });
    expect(tap.buffered('b').video).toMatchObject({ count: 4, fromSec: 0 });

    // The oldest overall goes, whichever stream brought the newcomer.
    await show('b', 4);
    expect(tap.buffered('a').video).toMatchObject({ count: 6, fromSec: 1 });
    expect(tap.buffered('b').video).toMatchObject({ count: 4, fromSec: 1 });
    expect(tap.bufferedBytes).toBe(10 * FRAME_BYTES);
    await tap.stop();
  });

  it('waits until it has seen media past the moments the event needs', async () => {
    const { bus, tap } = await setup();
    await feed(bus, 'cam', 3);
    let done = false;
    const capturing = tap.capture(intrusion, { timeoutMs: 5000 }).then((r) => ((done = true), r));
    await settle();
    expect(done).toBe(false);
    // Frames and windows past the trigger, but the PCM under the window has not arrived yet.
    for (let t = 3; t <= 4.5; t += 0.5) {
      await bus.publish(Topics.video, 'cam', frame('cam', t));
      await bus.publish(Topics.features, 'cam', window('cam', t, t + 0.5));
    }
    await bus.idle();
    await settle();
    expect(done).toBe(false);
    await bus.publish(Topics.audio, 'cam', chunk('cam', 3));
    await bus.publish(Topics.audio, 'cam', chunk('cam', 4));
    await bus.idle();
    const request = await capturing;
    expect(request.audioWindow).toMatchObject({ startSec: 3.5, peakSec: 4 });
    expect(request.audioClip!.samples).toHaveLength(RATE);
    expect(request.audioClip!.samples[0]).toBeCloseTo(3.5);
    await tap.stop();
  });

  it('gives up waiting after the timeout and returns what it has', async () => {
    const { bus, sleeper, tap } = await setup();
    await feed(bus, 'cam', 2);
    let done = false;
    const capturing = tap.capture(intrusion, { timeoutMs: 700 }).then((r) => ((done = true), r));
    await settle();
    expect(done).toBe(false);
    sleeper.elapse(700);
    const request = await capturing;
    expect(request.frame).toBeUndefined(); // the newest frame (1.5 s) is far from 3 s
    expect(request.audioWindow).toBeUndefined();
    expect(sleeper.pending).toEqual([]);
    await tap.stop();
  });

  it('stops waiting for a modality at its end marker, and frees a stream a while after the last one', async () => {
    const { bus, sleeper, tap } = await setup({ releaseAfterMs: 30_000 });
    await feed(bus, 'cam', 4); // the last window starts at 3.5 and contains 4.1
    const capturing = tap.capture(intrusion, { timeoutMs: 5000 });
    await end(bus, 'cam');
    const request = await capturing;
    expect(request.frame?.ptsSec).toBe(3);
    expect(request.audioWindow).toMatchObject({ startSec: 3.5 });
    // The PCM ends at 4 s: the clip is what there is of [3.5, 4.5].
    expect(request.audioClip!.samples).toHaveLength(RATE / 2);

    expect(tap.bufferedBytes).toBeGreaterThan(0);
    sleeper.elapse(30_000);
    await settle();
    expect(tap.bufferedBytes).toBe(0);
    expect(tap.buffered('cam').video.count).toBe(0);
    // A released stream answers at once, without waiting for media that will never come.
    expect(await tap.capture(intrusion, { timeoutMs: 5000 })).toEqual({ event: intrusion });
    await tap.stop();
  });

  it('starts afresh when a stream id comes back after its end', async () => {
    const { bus, sleeper, tap } = await setup();
    await feed(bus, 'cam', 4);
    await end(bus, 'cam');
    await bus.publish(Topics.video, 'cam', frame('cam', 3, 99));
    await bus.idle();
    expect(tap.buffered('cam').video).toMatchObject({ count: 1, fromSec: 3 });
    expect(tap.buffered('cam').features.count).toBe(8); // not restarted yet: still the old run's
    sleeper.elapse(30_000); // the release of the old run no longer applies
    await settle();
    expect(tap.buffered('cam').video.count).toBe(1);
    const request = await tap.capture(intrusion, { timeoutMs: 0 });
    expect(request.frame!.pixels[0]).toBe(99);
    await tap.stop();
  });
});
