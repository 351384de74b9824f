import { strictMock } from '@app/testing/strict-mock';
import { FakeChild, FakeSpawner, tick } from '../test/fake.child';
import { ManualClock } from '../test/manual.clock';
import type { DecodeOptions, DecodeSession } from './decode.contract';
import type { FfmpegLocator } from './ffmpeg.locator';
import { MediaDecoder } from './media.decoder';
import { MediaError, MediaErrorCode } from './media.error';

const AUDIO = { sampleRate: 8, chunkSamples: 4 };
const VIDEO = {
  fps: 2,
  width: 4,
  height: 4,
  resize: 'letterbox-topleft',
  padColor: 114,
  pixelFormat: 'bgr24',
} as const;
const FRAME_BYTES = 4 * 4 * 3;

const banner = (streams: string[], duration = '00:00:01.00') => [
  "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/clips/a.mp4':",
  `[info]   Duration: ${duration}, start: 0.000000, bitrate: 309 kb/s`,
  ...streams,
];
const VIDEO_STREAM =
  '[info]   Stream #0:0: Video: h264 (High), yuv420p(progressive), 8x6, 25 fps, 25 tbr, 12800 tbn';
const AUDIO_STREAM = '[info]   Stream #0:1: Audio: aac (LC), 48000 Hz, mono, fltp, 125 kb/s';

function setup(
  files: Record<string, { isFile: boolean; size: number }> = {
    '/clips/a.mp4': { isFile: true, size: 1000 },
  },
) {
  const spawner = new FakeSpawner();
  const locate = jest.fn(() => '/usr/bin/ffmpeg');
  const locator = strictMock<FfmpegLocator>('FfmpegLocator', { locate });
  const stat = jest.fn((path: string) => files[path]);
  const decoder = new MediaDecoder(locator, spawner, new ManualClock(), { stat });
  return { decoder, spawner, locate };
}

function pcm(...samples: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(samples).buffer);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function failureOf(promise: Promise<unknown>): Promise<MediaError> {
  try {
    await promise;
  } catch (error) {
    return error as MediaError;
  }
  throw new Error('expected a failure');
}

describe('MediaDecoder', () => {
  it.each<[string, Partial<DecodeOptions>, MediaErrorCode]>([
    ['a missing path', { source: '/clips/missing.mp4' }, MediaErrorCode.SOURCE_NOT_FOUND],
    ['an empty file', { source: '/clips/empty.mp4' }, MediaErrorCode.UNSUPPORTED_INPUT],
    ['an unknown scheme', { source: 'smb://nas/cam.mp4' }, MediaErrorCode.PROTOCOL_NOT_ALLOWED],
  ])('fails %s before spawning anything', async (_name, options, code) => {
    const { decoder, spawner } = setup({ '/clips/empty.mp4': { isFile: true, size: 0 } });
    const session = decoder.open({ source: '', audio: AUDIO, video: VIDEO, ...options });
    expect((await failureOf(session.info)).code).toBe(code);
    expect((await failureOf(session.done)).code).toBe(code);
    expect((await failureOf(collect(session.video()))).code).toBe(code);
    expect(spawner.calls).toHaveLength(0);
  });

  it('reports a missing ffmpeg through the session', async () => {
    const { decoder, locate } = setup();
    locate.mockImplementation(() => {
      throw new MediaError(MediaErrorCode.FFMPEG_NOT_FOUND, 'ffmpeg was not found');
    });
    expect(
      (await failureOf(decoder.open({ source: '/clips/a.mp4', audio: AUDIO }).done)).code,
    ).toBe(MediaErrorCode.FFMPEG_NOT_FOUND);
  });

  it('rejects malformed options at once', () => {
    const { decoder } = setup();
    expect(() => decoder.open({ source: '/clips/a.mp4' })).toThrow(RangeError);
    expect(() =>
      decoder.open({ source: '/clips/a.mp4', audio: { sampleRate: 0, chunkSamples: 4 } }),
    ).toThrow(/sampleRate/);
    expect(() =>
      decoder.open({ source: '/clips/a.mp4', video: { ...VIDEO, padColor: 300 } }),
    ).toThrow(/padColor/);
  });

  it('reruns without the video output when the input turns out to have no video', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 2;
    const session = decoder.open({ source: '/clips/a.mp4', audio: AUDIO, video: VIDEO });
    const [first] = spawner.children;
    expect(spawner.calls[0].stdio).toEqual(['pipe', 'ignore', 'pipe', 'pipe', 'pipe']);
    first.log(...banner([AUDIO_STREAM]), '[fatal] Output file #1 does not contain any stream');
    const info = await session.info;
    expect(info).toEqual({ hasAudio: true, hasVideo: false, durationSec: 1, audioCodec: 'aac' });
    first.exit(1);
    await tick();
    await tick();
    expect(spawner.calls).toHaveLength(2);
    const second = spawner.children[1];
    expect(spawner.calls[1].stdio).toEqual(['pipe', 'ignore', 'pipe', 'pipe']);
    expect(spawner.calls[1].args.join(' ')).not.toContain('pipe:4');

    const audio = collect(session.audio());
    const video = collect(session.video());
    second.log(...banner([AUDIO_STREAM]), '[info] Stream mapping:');
    await tick();
    // Arbitrary read sizes, reassembled into chunks of exactly 4 samples.
    const bytes = pcm(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    second.pipe(3).feed(bytes.subarray(0, 6));
    second.pipe(3).feed(bytes.subarray(6, 33));
    second.pipe(3).feed(bytes.subarray(33));
    second.exit(0);
    const chunks = await audio;
    expect(chunks.map((c) => [c.index, c.startSec, Array.from(c.samples)])).toEqual([
      [0, 0, [0, 1, 2, 3]],
      [1, 0.5, [4, 5, 6, 7]],
      [2, 1, [8, 9]],
    ]);
    expect(await video).toEqual([]);
    // The container said 1 s, 10 samples at 8 Hz is 1.25 s: nothing missing.
    expect(await session.done).toEqual({
      audioSec: 1.25,
      videoFrames: 0,
      droppedFrames: 0,
      truncated: false,
      warnings: [],
      stopped: false,
    });
  });

  it('fails as UNSUPPORTED_INPUT when the input has none of the streams asked for', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const session = decoder.open({ source: '/clips/a.mp4', audio: AUDIO });
    spawner.children[0].log(
      ...banner([VIDEO_STREAM]),
      '[fatal] Output file #0 does not contain any stream',
    );
    const error = await failureOf(session.done);
    expect(error.code).toBe(MediaErrorCode.UNSUPPORTED_INPUT);
    expect(error.message).toBe(
      'Unsupported input /clips/a.mp4: it has no audio stream (video only)',
    );
    spawner.children[0].exit(1);
  });

  it('yields exact frames with exact geometry, flags a short decode as truncated', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const session = decoder.open({ source: '/clips/a.mp4', video: VIDEO });
    const child = spawner.children[0];
    child.log(...banner([VIDEO_STREAM], '00:00:10.00'), '[info] Stream mapping:');
    const frames = collect(session.video());
    await tick();
    const data = new Uint8Array(FRAME_BYTES + 10).map((_, i) => i % 251);
    child.pipe(4).feed(data.subarray(0, 7));
    child.pipe(4).feed(data.subarray(7));
    child.exit(0);
    const [frame, ...rest] = await frames;
    expect(rest).toEqual([]);
    expect(frame).toMatchObject({ index: 0, ptsSec: 0, width: 4, height: 4, pixelFormat: 'bgr24' });
    expect(frame.pixels).toEqual(data.subarray(0, FRAME_BYTES));
    // 8x6 into 4x4: width-limited, 4x3 picture, r = 0.5.
    expect(frame.geometry).toEqual({
      sourceWidth: 8,
      sourceHeight: 6,
      scaleX: 0.5,
      scaleY: 0.5,
      padX: 0,
      padY: 0,
    });
    const summary = await session.done;
    expect(summary.truncated).toBe(true);
    expect(summary.warnings).toEqual([
      'decoded 0.50 s of the 10.00 s the container declares: the input looks truncated',
      'an incomplete last frame (10 bytes) was discarded',
    ]);
  });

  it('maps an ffmpeg failure after decoding started, once the data that came is delivered', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const session = decoder.open({ source: '/clips/a.mp4', audio: AUDIO });
    const child = spawner.children[0];
    child.log(...banner([AUDIO_STREAM]), '[info] Stream mapping:');
    const received: number[] = [];
    const reading = (async () => {
      for await (const chunk of session.audio()) received.push(...chunk.samples);
    })();
    await tick();
    child.pipe(3).feed(pcm(1, 2, 3, 4));
    child.log('[error] Error while decoding stream #0:1: Cannot allocate memory');
    child.exit(1);
    const error = await failureOf(reading);
    expect(received).toEqual([1, 2, 3, 4]);
    expect(error.code).toBe(MediaErrorCode.DECODE_FAILED);
    expect((await failureOf(session.done)).code).toBe(MediaErrorCode.DECODE_FAILED);
  });

  it('stop() is idempotent, ends the iterators quietly and resolves done as stopped', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const session: DecodeSession = decoder.open({
      source: '/clips/a.mp4',
      audio: AUDIO,
      video: VIDEO,
    });
    const child: FakeChild = spawner.children[0];
    child.onSignal = () => undefined;
    child.log(...banner([VIDEO_STREAM, AUDIO_STREAM]), '[info] Stream mapping:');
    await session.info;
    const audio = collect(session.audio());
    const video = collect(session.video());
    await tick();
    child.pipe(3).feed(pcm(1, 2, 3, 4));
    await tick();
    const stops = [session.stop(), session.stop()];
    expect(child.stdinWrites).toEqual(['q']);
    child.exit(0);
    await Promise.all([...stops, session.stop()]);
    expect((await audio).length).toBeLessThanOrEqual(1);
    expect(await video).toEqual([]);
    expect(await session.done).toMatchObject({ stopped: true, truncated: false });
    expect(child.stdinWrites).toEqual(['q']);
  });

  it('an AbortSignal fails the session with ABORTED', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const controller = new AbortController();
    const session = decoder.open({
      source: '/clips/a.mp4',
      audio: AUDIO,
      signal: controller.signal,
    });
    const child = spawner.children[0];
    const audio = collect(session.audio());
    controller.abort();
    expect(child.stdinWrites).toEqual(['q']);
    child.exit(0);
    expect((await failureOf(session.info)).code).toBe(MediaErrorCode.ABORTED);
    expect((await failureOf(audio)).code).toBe(MediaErrorCode.ABORTED);
    expect((await failureOf(session.done)).code).toBe(MediaErrorCode.ABORTED);
  });

  it('a signal that already fired spawns nothing', async () => {
    const { decoder, spawner } = setup();
    const session = decoder.open({
      source: '/clips/a.mp4',
      audio: AUDIO,
      signal: AbortSignal.abort(),
    });
    expect((await failureOf(session.done)).code).toBe(MediaErrorCode.ABORTED);
    expect(spawner.calls).toHaveLength(0);
  });

  it('live mode keeps the newest frame for a slow consumer and counts the drops', async () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const session = decoder.open({ source: '/clips/a.mp4', video: VIDEO, live: true });
    const child = spawner.children[0];
    child.log(...banner([VIDEO_STREAM]), '[info] Stream mapping:');
    await session.info;
    await tick();
    for (let i = 0; i < 5; i++) child.pipe(4).feed(new Uint8Array(FRAME_BYTES).fill(i));
    await tick();
    child.exit(0);
    const frames = await collect(session.video());
    expect(frames.map((f) => [f.index, f.ptsSec, f.pixels[0]])).toEqual([[4, 2, 4]]);
    expect(await session.done).toMatchObject({
      videoFrames: 1,
      droppedFrames: 4,
      truncated: false,
    });
  });

  describe('a live camera', () => {
    const CAMERA = 'tcp://cam.local:5000';
    const liveBanner = (streams: string[]) => [
      `[info] Input #0, mpegts, from '${CAMERA}':`,
      '[info]   Duration: N/A, start: 1.400000, bitrate: N/A',
      ...streams,
    ];
    // Joined between key frames: H.264 tells its size only at the next one.
    const UNSIZED_VIDEO =
      '[info]   Stream #0:0[0x100]: Video: h264 ([27][0][0][0] / 0x001B), none, 25 fps, 25 tbr, 90k tbn';
    const argsOf = (call: { args: readonly string[] }) => call.args.join(' ');

    it('is probed for 1 s, and once more for as long as ffmpeg likes when that left the frame size out', async () => {
      const { decoder, spawner } = setup();
      spawner.allowed = 2;
      const session = decoder.open({ source: CAMERA, audio: AUDIO, video: VIDEO });
      const [first] = spawner.children;
      expect(argsOf(spawner.calls[0])).toContain('-analyzeduration 1000000 -thread_type slice -i');
      first.log(...liveBanner([UNSIZED_VIDEO, AUDIO_STREAM]), '[info] Stream mapping:');
      expect(first.stdinWrites).toEqual(['q']);
      first.exit(255);
      await tick();
      await tick();
      expect(spawner.calls).toHaveLength(2);
      expect(argsOf(spawner.calls[1])).not.toContain('-analyzeduration');
      expect(argsOf(spawner.calls[1])).toContain('-thread_type slice -i');
      expect(spawner.calls[1].stdio).toEqual(['pipe', 'ignore', 'pipe', 'pipe', 'pipe']);

      const second = spawner.children[1];
      second.log(...liveBanner([VIDEO_STREAM, AUDIO_STREAM]), '[info] Stream mapping:');
      // The description that came short never reached the caller.
      expect(await session.info).toMatchObject({ hasAudio: true, hasVideo: true, width: 8 });
      const audio = collect(session.audio());
      await tick();
      second.pipe(3).feed(pcm(1, 2, 3, 4));
      second.pipe(4).feed(new Uint8Array(FRAME_BYTES));
      await tick();
      second.exit(0);
      const frames = await collect(session.video());
      expect(frames.map((f) => f.geometry.sourceWidth)).toEqual([8]);
      expect((await audio).map((c) => c.samples.length)).toEqual([4]);
      expect((await session.done).warnings).toEqual([
        "a 1 s probe left the input undescribed (no frame size); it was reopened with ffmpeg's full probe",
      ]);
    });

    it('asks for every output again when the brief probe found no stream at all', async () => {
      const { decoder, spawner } = setup();
      spawner.allowed = 2;
      const session = decoder.open({ source: CAMERA, audio: AUDIO, video: VIDEO });
      spawner.children[0].log(
        ...liveBanner([]),
        '[fatal] Output file #0 does not contain any stream',
      );
      spawner.children[0].exit(1);
      await tick();
      await tick();
      expect(spawner.calls[1].stdio).toEqual(['pipe', 'ignore', 'pipe', 'pipe', 'pipe']);
      spawner.children[1].log(...liveBanner([VIDEO_STREAM]), '[info] Stream mapping:');
      expect(await session.info).toMatchObject({ hasAudio: false, hasVideo: true });
      void session.stop();
      spawner.children[1].exit(0);
      expect(await session.done).toMatchObject({ stopped: true });
    });

    it('fails as before when even the full probe cannot tell the frame size', async () => {
      const { decoder, spawner } = setup();
      spawner.allowed = 2;
      const session = decoder.open({ source: CAMERA, video: VIDEO });
      spawner.children[0].log(...liveBanner([UNSIZED_VIDEO]), '[info] Stream mapping:');
      spawner.children[0].exit(255);
      await tick();
      await tick();
      spawner.children[1].log(...liveBanner([UNSIZED_VIDEO]), '[info] Stream mapping:');
      const error = await failureOf(session.done);
      expect(error.code).toBe(MediaErrorCode.DECODE_FAILED);
      expect(error.message).toContain('ffmpeg did not report the video frame size');
      spawner.children[1].exit(255);
    });
  });

  it('each output can be iterated once', () => {
    const { decoder, spawner } = setup();
    spawner.allowed = 1;
    const session = decoder.open({ source: '/clips/a.mp4', audio: AUDIO });
    session.audio()[Symbol.asyncIterator]();
    expect(() => session.audio()[Symbol.asyncIterator]()).toThrow(/only once/);
    void session.stop();
    spawner.children[0].exit(0);
  });
});
