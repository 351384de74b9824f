import { MemoryBus } from '@app/bus';
import {
  type AudioChunk,
  type StreamStatus,
  type Topic,
  type VideoFrame,
  Topics,
} from '@app/contracts';
import {
  type DecodeOptions,
  type DecodeSession,
  type DecodeSummary,
  type MediaDecoder,
  MediaError,
  MediaErrorCode,
} from '@app/media';
import { strictMock } from '@app/testing/strict-mock';
import { HANDED_OVER, IngestStage, type IngestStageOptions } from './ingest.stage';
import { CAPTURE_EPOCH_HEADER, LIVE_FRAME_HEADER } from './stream-headers';

const OPTIONS: IngestStageOptions = {
  audio: { sampleRate: 32000, chunkSamples: 3200 },
  video: {
    fps: 5,
    width: 4,
    height: 4,
    resize: 'letterbox-topleft',
    padColor: 114,
    pixelFormat: 'bgr24',
  },
};
const GEOMETRY = { sourceWidth: 8, sourceHeight: 8, scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 0 };

async function* items<T>(values: T[], failWith?: Error): AsyncIterable<T> {
  for (const value of values) yield value;
  if (failWith) throw failWith;
}

function session(overrides: Partial<DecodeSession>): DecodeSession {
  return strictMock<DecodeSession>('DecodeSession', {
    info: Promise.resolve({ hasAudio: true, hasVideo: true, durationSec: 0.4 }),
    stop: jest.fn(async () => undefined),
    ...overrides,
  });
}

async function recorder(bus: MemoryBus) {
  const audio: AudioChunk[] = [];
  const video: VideoFrame[] = [];
  const status: StreamStatus[] = [];
  await bus.subscribe(Topics.audio, 't', async (m) => void audio.push(m.value));
  await bus.subscribe(Topics.video, 't', async (m) => void video.push(m.value));
  await bus.subscribe(Topics.streamStatus, 't', async (m) => void status.push(m.value));
  return { audio, video, status };
}

/** A decoder of two chunks (0, 0.1 s) and two frames (0, 0.2 s); no chunks with `audio: false`. */
function twoOfEach({ audio = true } = {}): MediaDecoder {
  const summary: DecodeSummary = {
    audioSec: audio ? 0.2 : 0,
    videoFrames: 2,
    droppedFrames: 0,
    truncated: false,
    warnings: [],
    stopped: false,
  };
  return strictMock<MediaDecoder>('MediaDecoder', {
    open: jest.fn(() =>
      session({
        audio: () =>
          items(
            (audio ? [0, 0.1] : []).map((startSec, index) => ({
              index,
              startSec,
              sampleRate: 32000,
              samples: new Float32Array(3200),
            })),
          ),
        video: () =>
          items(
            [0, 0.2].map((ptsSec, index) => ({
              index,
              ptsSec,
              width: 4,
              height: 4,
              pixelFormat: 'bgr24' as const,
              pixels: new Uint8Array(48),
              geometry: GEOMETRY,
            })),
          ),
        done: Promise.resolve(summary),
      }),
    ),
  });
}

describe('IngestStage', () => {
  it('publishes chunks and frames in order, then end markers on both topics and an ended status', async () => {
    const bus = new MemoryBus({ partitions: 2 });
    const seen = await recorder(bus);
    const decoder = twoOfEach();
    const progress: number[] = [];
    const result = await new IngestStage(bus, decoder, OPTIONS).run({
      streamId: 'cam',
      source: 'rtsp://admin:pw@cam/1',
      onProgress: (sec) => progress.push(sec),
    });
    await bus.idle();
    expect(result.decodedSec).toBeCloseTo(0.4);
    expect(seen.audio.map((c) => [c.seq, c.startSec, c.final ?? false])).toEqual([
      [0, 0, false],
      [1, 0.1, false],
      [0, 0, true],
    ]);
    expect(seen.video.map((f) => [f.seq, f.ptsSec, f.final ?? false])).toEqual([
      [0, 0, false],
      [1, 0.2, false],
      [0, 0, true],
    ]);
    expect(seen.status.map((s) => s.state)).toEqual(['started', 'ended']);
    expect(seen.status[0].source).not.toContain('pw');
    expect(Math.max(...progress)).toBeCloseTo(0.2);
    await bus.close();
  });

  it('with motion gating, publishes a frame where nothing moved as still, without its pixels', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const seen = await recorder(bus);
    // 1.6 s at 5 fps of an unchanging gray picture, with a bright one at 1.2 s.
    const pictures = Array.from({ length: 8 }, (_, index) => ({
      index,
      ptsSec: index / 5,
      width: 4,
      height: 4,
      pixelFormat: 'bgr24' as const,
      pixels: new Uint8Array(48).fill(index === 6 ? 250 : 100),
      geometry: GEOMETRY,
    }));
    const decoder = strictMock<MediaDecoder>('MediaDecoder', {
      open: jest.fn(() =>
        session({
          audio: () => items([]),
          video: () => items(pictures),
          done: Promise.resolve({
            audioSec: 0,
            videoFrames: 8,
            droppedFrames: 0,
            truncated: false,
            warnings: [],
            stopped: false,
          }),
        }),
      ),
    });
    const stage = new IngestStage(bus, decoder, {
      ...OPTIONS,
      motion: { thumbWidth: 4, forceEverySec: 1 },
    });
    await stage.run({ streamId: 'cam', source: 'cam.mp4' });
    await bus.idle();
    const frames = seen.video.filter((f) => !f.final);
    // The first frame, the one forced a second later, and the one that changed carry pixels;
    // the last is the background again.
    expect(frames.map((f) => [f.seq, f.still ?? false, f.pixels.byteLength])).toEqual([
      [0, false, 48],
      [1, true, 0],
      [2, true, 0],
      [3, true, 0],
      [4, true, 0],
      [5, false, 48],
      [6, false, 48],
      [7, true, 0],
    ]);
    await bus.close();
  });

  it('stamps a live run’s media with its capture clock from the first chunk, and a file’s with none', async () => {
    const headersOf = async (live: boolean) => {
      const bus = new MemoryBus({ partitions: 1 });
      const seen: Record<string, string | undefined>[] = [];
      const topics: Topic<unknown>[] = [Topics.audio, Topics.video, Topics.streamStatus];
      for (const topic of topics) {
        await bus.subscribe(topic, 't', async (m) => {
          const final = (m.value as { final?: boolean }).final ? 'final' : undefined;
          seen.push({ topic: m.topic, epoch: m.headers[CAPTURE_EPOCH_HEADER], final });
        });
      }
      const now = jest.fn(() => 10_000);
      await new IngestStage(bus, twoOfEach(), { ...OPTIONS, now }).run({
        streamId: 'cam',
        source: 'rtsp://cam/1',
        live,
      });
      await bus.idle();
      await bus.close();
      return seen;
    };
    const live = await headersOf(true);
    // Everything arrived at 10 000 ms (a burst): each chunk or frame ending at t bounds media
    // time 0 by 10 000 − t, and the least bound so far is the clock — the second chunk's
    // (0.1–0.2 s) 9 800 ms once it is out.
    const media = live.filter((m) => m.topic !== Topics.streamStatus.name && !m.final);
    expect(media.length).toBe(4);
    expect(media.filter((m) => m.topic === Topics.audio.name).map((m) => m.epoch)).toEqual([
      '9900',
      '9800',
    ]);
    const epochs = media.map((m) => Number(m.epoch));
    expect(Math.min(...epochs)).toBe(9800);
    expect(live.filter((m) => m.topic === Topics.streamStatus.name && m.epoch)).toEqual([]);
    expect((await headersOf(false)).filter((m) => m.epoch)).toEqual([]);
  });

  it('on a decode failure still closes the stream downstream, reports why, and rethrows', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const seen = await recorder(bus);
    const failure = new MediaError(
      MediaErrorCode.SOURCE_UNREACHABLE,
      'Source unreachable: rtsp://cam/1 (Connection refused)',
    );
    const stop = jest.fn(async () => undefined);
    const decoder = strictMock<MediaDecoder>('MediaDecoder', {
      open: jest.fn(() =>
        session({
          audio: () => items([], failure),
          video: () => items([]),
          done: Promise.reject(failure),
          stop,
        }),
      ),
    });
    await expect(
      new IngestStage(bus, decoder, OPTIONS).run({ streamId: 'cam', source: 'rtsp://cam/1' }),
    ).rejects.toBe(failure);
    await bus.idle();
    expect(stop).toHaveBeenCalled();
    expect(seen.audio.at(-1)?.final).toBe(true);
    expect(seen.video.at(-1)?.final).toBe(true);
    expect(seen.status.at(-1)).toMatchObject({ state: 'failed', reason: failure.message });
    await bus.close();
  });
  it('resumes a file one grid step early, drops what comes before the resume point, and keeps the times and seqs of a whole run', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const seen = await recorder(bus);
    const open = jest.fn((_options: DecodeOptions) =>
      session({
        // After a seek to 0.8 s, times count from 0 again.
        audio: () =>
          items(
            [0, 1, 2, 3, 4, 5].map((index) => ({
              index,
              startSec: index / 10,
              sampleRate: 32000,
              samples: new Float32Array(3200),
            })),
          ),
        video: () =>
          items(
            [0, 1, 2].map((index) => ({
              index,
              ptsSec: index / 5,
              width: 4,
              height: 4,
              pixelFormat: 'bgr24' as const,
              pixels: new Uint8Array(48),
              geometry: GEOMETRY,
            })),
          ),
        done: Promise.resolve({
          audioSec: 0.6,
          videoFrames: 3,
          droppedFrames: 0,
          truncated: false,
          warnings: [],
          stopped: false,
        }),
      }),
    );
    const stage = new IngestStage(bus, strictMock<MediaDecoder>('MediaDecoder', { open }), {
      ...OPTIONS,
      checkpointSec: 0.2,
    });
    expect(stage.resumePoint(1.13)).toBeCloseTo(1.0); // the grid: 2 chunks = 1 frame interval
    const result = await stage.run({ streamId: 'cam', source: '/clips/a.mp4', resumeAtSec: 1.13 });
    await bus.idle();
    expect(open.mock.calls[0][0].startSec).toBeCloseTo(0.8);
    expect(result.decodedSec).toBeCloseTo(1.4);
    const chunks = seen.audio.filter((c) => !c.final);
    expect(chunks.map((c) => c.seq)).toEqual([10, 11, 12, 13]);
    chunks.forEach((c, i) => expect(c.startSec).toBeCloseTo(1 + i / 10));
    const frames = seen.video.filter((f) => !f.final);
    expect(frames.map((f) => f.seq)).toEqual([5, 6]);
    frames.forEach((f, i) => expect(f.ptsSec).toBeCloseTo(1 + i / 5));
    // Checkpoints say how far both modalities are out: never past the slower one.
    const checkpoints = seen.status.filter(
      (s) => s.decodedSec !== undefined && s.state === 'started',
    );
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const c of checkpoints) expect(c.decodedSec).toBeGreaterThanOrEqual(1.2 - 1e-9);
    expect(seen.status.at(-1)).toMatchObject({ state: 'ended' });
    expect(seen.status.at(-1)!.decodedSec).toBeCloseTo(1.4);
    await bus.close();
  });

  it('stopped for a hand-over, ends nothing downstream: another ingest goes on with the stream', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const seen = await recorder(bus);
    const controller = new AbortController();
    controller.abort(HANDED_OVER);
    const decoder = strictMock<MediaDecoder>('MediaDecoder', {
      open: jest.fn(() =>
        session({
          audio: () => items([]),
          video: () => items([]),
          done: Promise.resolve({
            audioSec: 0,
            videoFrames: 0,
            droppedFrames: 0,
            truncated: false,
            warnings: [],
            stopped: true,
          }),
        }),
      ),
    });
    await new IngestStage(bus, decoder, OPTIONS).run({
      streamId: 'cam',
      source: '/clips/a.mp4',
      signal: controller.signal,
    });
    await bus.idle();
    expect(seen.audio.concat(seen.video as never[]).some((m) => m.final)).toBe(false);
    expect(seen.status.map((s) => s.state)).toEqual(['started']);
    await bus.close();
  });

  it('asks ffmpeg for the live chunk size on a live run, and for the file chunk size on a file', async () => {
    const decoder = twoOfEach();
    const stage = new IngestStage(new MemoryBus({ partitions: 1 }), decoder, {
      ...OPTIONS,
      liveChunkSamples: 640,
    });
    await stage.run({ streamId: 'cam', source: 'rtsp://cam/1', live: true, closeStream: false });
    await stage.run({ streamId: 'clip', source: '/media/clip.mp4' });
    const asked = jest.mocked(decoder.open).mock.calls.map(([options]) => options.audio);
    expect(asked).toEqual([
      { sampleRate: 32000, chunkSamples: 640 },
      { sampleRate: 32000, chunkSamples: 3200 },
    ]);
  });

  it("stamps the frames of a live run with the wall clock (the latency bound), never a file's", async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const stamps: (string | undefined)[] = [];
    await bus.subscribe(
      Topics.video,
      't',
      async (m) => void stamps.push(m.headers[LIVE_FRAME_HEADER]),
    );
    const decoder = twoOfEach({ audio: false });
    let now = 7_000;
    const stage = new IngestStage(bus, decoder, { ...OPTIONS, now: () => (now += 40) });
    await stage.run({ streamId: 'cam', source: 'rtsp://cam/1', live: true, closeStream: false });
    await stage.run({ streamId: 'clip', source: '/media/clip.mp4' });
    await bus.idle();
    expect(stamps).toEqual(['7040', '7080', undefined, undefined, undefined]);
    await bus.close();
  });

  it('asks the pacer before every chunk and frame of a file, never for a live run', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const summary = {
      audioSec: 0.1,
      videoFrames: 1,
      droppedFrames: 0,
      truncated: false,
      warnings: [],
      stopped: false,
    };
    const decoder = strictMock<MediaDecoder>('MediaDecoder', {
      open: jest.fn(() =>
        session({
          audio: () =>
            items([{ index: 0, startSec: 0, sampleRate: 32000, samples: new Float32Array(3200) }]),
          video: () =>
            items([
              {
                index: 0,
                ptsSec: 0,
                width: 4,
                height: 4,
                pixelFormat: 'bgr24' as const,
                pixels: new Uint8Array(48),
                geometry: GEOMETRY,
              },
            ]),
          done: Promise.resolve(summary),
        }),
      ),
    });
    const admit = jest.fn(async () => undefined);
    const stage = new IngestStage(bus, decoder, { ...OPTIONS, pacer: { admit } });
    await stage.run({ streamId: 'clip', source: '/media/clip.mp4', timeOffsetSec: 2 });
    expect(admit.mock.calls).toEqual(
      expect.arrayContaining([
        ['clip', 'audio', 2, undefined],
        ['clip', 'video', 2, undefined],
      ]),
    );
    expect(admit).toHaveBeenCalledTimes(2);
    await stage.run({ streamId: 'cam', source: 'rtsp://cam/1', live: true, closeStream: false });
    expect(admit).toHaveBeenCalledTimes(2);
    await bus.close();
  });
});
