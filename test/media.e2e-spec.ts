import {
  type DecodedAudio,
  type DecodedFrame,
  type DecodeOptions,
  type DecodeSession,
  FfmpegLocator,
  MediaDecoder,
  type MediaError,
  MediaErrorCode,
  ProcessSpawner,
  type SpawnedProcess,
  type StdioSlot,
} from '@app/media';
import { fixture } from '@app/testing';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * MediaDecoder against the real ffmpeg on this machine, real recordings from ../shared and
 * media generated into a temporary folder (never committed).
 */
jest.setTimeout(60_000);

const AUDIO = { sampleRate: 32_000, chunkSamples: 3_200 };
const VIDEO = {
  fps: 5,
  width: 416,
  height: 416,
  resize: 'letterbox-topleft',
  padColor: 114,
  pixelFormat: 'bgr24',
} as const;
const FRAME_BYTES = 416 * 416 * 3;

/** The real spawner, remembering its children so tests can look at pipes and exits. */
class RecordingSpawner extends ProcessSpawner {
  readonly children: SpawnedProcess[] = [];

  override spawn(command: string, args: readonly string[], stdio: readonly StdioSlot[]) {
    const child = super.spawn(command, args, stdio);
    this.children.push(child);
    return child;
  }
}

let dir: string;
let ffmpeg: string;
let spawner: RecordingSpawner;
let decoder: MediaDecoder;
let server: Server;
let baseUrl: string;
const media: Record<string, string> = {};

function run(args: string[]): void {
  execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

beforeAll(async () => {
  ffmpeg = new FfmpegLocator().locate();
  dir = mkdtempSync(join(tmpdir(), 'vigil-media-'));
  media.noAudio = join(dir, 'testsrc-no-audio.mp4');
  run([
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=25',
    '-t',
    '2',
    '-c:v',
    'mpeg4',
    media.noAudio,
  ]);
  // Long enough that decoding it all takes ffmpeg a while: room to observe backpressure.
  media.long = join(dir, 'long.mp4');
  run([
    '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '20', '-c:v', 'mpeg4', '-q:v', '10', '-c:a', 'aac', '-shortest', media.long,
  ]); // prettier-ignore
  media.empty = join(dir, 'empty.mp4');
  writeFileSync(media.empty, '');
  media.text = join(dir, 'notes.mp4');
  writeFileSync(media.text, 'These are meeting notes, not a video.\n');
  // faststart puts the index first, so a cut file still declares the full 10 s.
  const faststart = join(dir, 'faststart.mp4');
  run([
    '-i',
    fixture('clips/comp01_person_glassbreak.mp4'),
    '-c',
    'copy',
    '-movflags',
    '+faststart',
    faststart,
  ]);
  const whole = readFileSync(faststart);
  media.truncated = join(dir, 'truncated.mp4');
  writeFileSync(media.truncated, whole.subarray(0, Math.floor(whole.length * 0.6)));
  media.secretTs = join(dir, 'secret.ts');
  run([
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=64x48:rate=5',
    '-t',
    '1',
    '-c:v',
    'mpeg2video',
    '-f',
    'mpegts',
    media.secretTs,
  ]);

  server = createServer((request, response) => {
    const playlist = (entry: string) =>
      response
        .writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' })
        .end(`#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n${entry}\n#EXT-X-ENDLIST\n`);
    switch (request.url) {
      case '/passwd.m3u8':
        return playlist('file:///etc/passwd');
      case '/local-segment.m3u8':
        return playlist(`file://${media.secretTs}`);
      case '/remote-segment.m3u8':
        return playlist(`${baseUrl}/segment.ts`);
      case '/segment.ts':
        return response
          .writeHead(200, { 'content-type': 'video/mp2t' })
          .end(readFileSync(media.secretTs));
      case '/hang.ts':
        // Headers and a few bytes, then silence: a camera that stopped sending.
        return hang(response);
      default:
        return response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

const hanging: ServerResponse[] = [];
function hang(response: ServerResponse): void {
  hanging.push(response);
  response.writeHead(200, { 'content-type': 'video/mp2t' });
  response.write(readFileSync(media.secretTs).subarray(0, 188 * 3));
}

afterAll(async () => {
  for (const response of hanging) response.destroy();
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  spawner = new RecordingSpawner();
  decoder = new MediaDecoder(new FfmpegLocator(), spawner);
});

afterEach(() => {
  // Every test must leave no ffmpeg behind.
  for (const child of spawner.children) {
    const process = child as SpawnedProcess & {
      exitCode: number | null;
      signalCode: string | null;
    };
    expect(process.exitCode !== null || process.signalCode !== null).toBe(true);
  }
});

interface Decoded {
  session: DecodeSession;
  chunks: DecodedAudio[];
  frames: DecodedFrame[];
}

async function decodeAll(options: Partial<DecodeOptions> & { source: string }): Promise<Decoded> {
  const session = decoder.open({ audio: AUDIO, video: VIDEO, ...options });
  const chunks: DecodedAudio[] = [];
  const frames: DecodedFrame[] = [];
  // Both outputs come from one ffmpeg: read them concurrently.
  await Promise.all([
    (async () => {
      for await (const chunk of session.audio()) chunks.push(chunk);
    })(),
    (async () => {
      for await (const frame of session.video()) frames.push(frame);
    })(),
  ]);
  return { session, chunks, frames };
}

async function failureOf(promise: Promise<unknown>): Promise<MediaError> {
  try {
    await promise;
  } catch (error) {
    return error as MediaError;
  }
  throw new Error('expected a MediaError');
}

async function exited(child: SpawnedProcess): Promise<void> {
  const process = child as SpawnedProcess & { exitCode: number | null; signalCode: string | null };
  if (process.exitCode !== null || process.signalCode !== null) return;
  await new Promise((resolve) => child.on('exit', resolve));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function row(frame: DecodedFrame, y: number): Uint8Array {
  return frame.pixels.subarray(y * frame.width * 3, (y + 1) * frame.width * 3);
}

describe('FfmpegLocator (real file system)', () => {
  it('finds ffmpeg on PATH', () => {
    const found = new FfmpegLocator({
      env: { PATH: process.env.PATH },
      ffmpegStatic: () => undefined,
    }).locate();
    expect(found).toMatch(/\/ffmpeg$/);
    expect(statSync(found).isFile()).toBe(true);
  });
});

describe('MediaDecoder on real media', () => {
  it('decodes comp01: 10 s of 32 kHz audio and 50 letterboxed 416x416 frames at r = 0.65', async () => {
    const { session, chunks, frames } = await decodeAll({
      source: fixture('clips/comp01_person_glassbreak.mp4'),
    });
    expect(await session.info).toMatchObject({
      hasAudio: true,
      hasVideo: true,
      durationSec: 10,
      width: 640,
      height: 480,
    });

    const samples = chunks.reduce((n, c) => n + c.samples.length, 0);
    expect(Math.abs(samples - 320_000)).toBeLessThan(1_600);
    expect(chunks.slice(0, -1).every((c) => c.samples.length === 3_200)).toBe(true);
    expect(chunks.every((c, i) => c.startSec === (i * 3_200) / 32_000)).toBe(true);
    expect(chunks.some((c) => c.samples.some((s) => Math.abs(s) > 0.3))).toBe(true); // the glass break

    expect(frames).toHaveLength(50);
    expect(frames.map((f) => f.ptsSec)).toEqual(frames.map((_, i) => i / 5));
    for (const frame of frames) {
      expect(frame.pixels.length).toBe(FRAME_BYTES);
      expect(frame.geometry).toEqual({
        sourceWidth: 640,
        sourceHeight: 480,
        scaleX: 0.65,
        scaleY: 0.65,
        padX: 0,
        padY: 0,
      });
    }
    // 480 * 0.65 = 312 picture rows, then exact grey padding.
    expect(row(frames[10], 311).every((v) => v === 114)).toBe(false);
    expect(frames[10].pixels.subarray(312 * 416 * 3).every((v) => v === 114)).toBe(true);

    expect(await session.done).toEqual({
      audioSec: samples / 32_000,
      videoFrames: 50,
      droppedFrames: 0,
      truncated: false,
      warnings: [],
      stopped: false,
    });
  });

  it('decodes an image as a one-frame video with exact letterbox geometry', async () => {
    const { session, chunks, frames } = await decodeAll({ source: fixture('reference/dog.jpg') });
    expect(await session.info).toMatchObject({
      hasAudio: false,
      hasVideo: true,
      width: 768,
      height: 576,
    });
    expect(chunks).toEqual([]);
    expect(frames).toHaveLength(1);
    expect(frames[0].geometry).toEqual({
      sourceWidth: 768,
      sourceHeight: 576,
      scaleX: 416 / 768,
      scaleY: 312 / 576,
      padX: 0,
      padY: 0,
    });
    expect(frames[0].pixels.subarray(312 * 416 * 3).every((v) => v === 114)).toBe(true);
    expect(row(frames[0], 311).every((v) => v === 114)).toBe(false);
    expect(await session.done).toMatchObject({ videoFrames: 1, truncated: false });
  });

  it('gives rgb24 as the channel swap of bgr24, and stretches without padding', async () => {
    const bgr = (await decodeAll({ source: fixture('reference/dog.jpg'), audio: false })).frames[0];
    const rgb = (
      await decodeAll({
        source: fixture('reference/dog.jpg'),
        audio: false,
        video: { ...VIDEO, pixelFormat: 'rgb24' },
      })
    ).frames[0];
    expect(Array.from(rgb.pixels.subarray(0, 3))).toEqual(
      Array.from(bgr.pixels.subarray(0, 3)).reverse(),
    );
    const stretched = (
      await decodeAll({
        source: fixture('reference/dog.jpg'),
        audio: false,
        video: { ...VIDEO, resize: 'stretch' },
      })
    ).frames[0];
    expect(stretched.geometry).toMatchObject({ scaleX: 416 / 768, scaleY: 416 / 576 });
    expect(row(stretched, 415).every((v) => v === 114)).toBe(false);
  });

  it('decodes an audio-only file: the video iterator just ends', async () => {
    const { session, chunks, frames } = await decodeAll({
      source: fixture('audio/dog_fs328730_ivolipa_dog_bark.flac'),
    });
    expect(await session.info).toMatchObject({ hasAudio: true, hasVideo: false });
    expect(frames).toEqual([]);
    const samples = chunks.reduce((n, c) => n + c.samples.length, 0);
    expect(Math.abs(samples - 1.26 * 32_000)).toBeLessThan(200);
    expect(await session.done).toMatchObject({ videoFrames: 0, truncated: false });
  });

  it('decodes a video without audio: the audio iterator just ends', async () => {
    const { session, chunks, frames } = await decodeAll({ source: media.noAudio });
    expect(await session.info).toMatchObject({
      hasAudio: false,
      hasVideo: true,
      width: 320,
      height: 240,
    });
    expect(chunks).toEqual([]);
    expect(frames).toHaveLength(10);
    expect(frames[0].geometry).toMatchObject({ scaleX: 1.3, scaleY: 1.3 });
  });

  it('does not even start the output it was not asked for', async () => {
    const { frames } = await decodeAll({
      source: fixture('clips/comp01_person_glassbreak.mp4'),
      audio: false,
    });
    expect(frames).toHaveLength(50);
    expect(spawner.children).toHaveLength(1);
    expect(spawner.children[0].stdio[3]).toBeNull();
  });

  it('decodes what a truncated faststart mp4 still has, and says it was truncated', async () => {
    const { session, chunks, frames } = await decodeAll({ source: media.truncated });
    expect(await session.info).toMatchObject({ durationSec: 10 });
    const summary = await session.done;
    expect(summary.truncated).toBe(true);
    expect(summary.warnings[0]).toMatch(
      /of the 10\.00 s the container declares: the input looks truncated/,
    );
    expect(summary.audioSec).toBeGreaterThan(3);
    expect(summary.audioSec).toBeLessThan(8);
    expect(frames.length).toBeGreaterThan(10);
    expect(frames.length).toBeLessThan(45);
    expect(chunks.length).toBeGreaterThan(0);
  });
});

describe('MediaDecoder errors', () => {
  it('a missing path is SOURCE_NOT_FOUND, without running ffmpeg', async () => {
    const session = decoder.open({ source: join(dir, 'nope.mp4'), audio: AUDIO, video: VIDEO });
    const error = await failureOf(session.done);
    expect(error.code).toBe(MediaErrorCode.SOURCE_NOT_FOUND);
    expect(error.message).toContain('nope.mp4');
    expect((await failureOf(session.info)).code).toBe(MediaErrorCode.SOURCE_NOT_FOUND);
    expect(spawner.children).toHaveLength(0);
  });

  it('an empty file is UNSUPPORTED_INPUT, without running ffmpeg', async () => {
    const error = await failureOf(
      decoder.open({ source: media.empty, audio: AUDIO, video: VIDEO }).done,
    );
    expect(error.code).toBe(MediaErrorCode.UNSUPPORTED_INPUT);
    expect(error.message).toMatch(/empty/);
    expect(spawner.children).toHaveLength(0);
  });

  it('a text file named .mp4 is UNSUPPORTED_INPUT', async () => {
    const session = decoder.open({ source: media.text, audio: AUDIO, video: VIDEO });
    const error = await failureOf(session.info);
    expect(error.code).toBe(MediaErrorCode.UNSUPPORTED_INPUT);
    expect(error.message).toMatch(/not a media file/);
    expect(error.message).not.toContain('\n');
    expect((await failureOf(collect(session.video()))).code).toBe(MediaErrorCode.UNSUPPORTED_INPUT);
  });

  it('an unknown scheme is PROTOCOL_NOT_ALLOWED, without running ffmpeg', async () => {
    for (const source of ['ftp://127.0.0.1/a.mp4', 'concat:/etc/passwd|/etc/hosts']) {
      expect((await failureOf(decoder.open({ source, audio: AUDIO }).done)).code).toBe(
        MediaErrorCode.PROTOCOL_NOT_ALLOWED,
      );
    }
    expect(spawner.children).toHaveLength(0);
  });

  it('an unreachable URL fails fast as SOURCE_UNREACHABLE', async () => {
    const error = await failureOf(
      decoder.open({ source: 'http://127.0.0.1:9/x.mp4', audio: AUDIO, video: VIDEO }).done,
    );
    expect(error.code).toBe(MediaErrorCode.SOURCE_UNREACHABLE);
    expect(error.message).toMatch(/Connection refused/);
  }, 30_000); // a hang fails the test through this timeout, not a timing assertion

  it('a playlist served over HTTP cannot make ffmpeg read local files', async () => {
    for (const playlist of ['passwd.m3u8', 'local-segment.m3u8']) {
      const error = await failureOf(
        decoder.open({ source: `${baseUrl}/${playlist}`, audio: AUDIO, video: VIDEO }).done,
      );
      expect(error.code).toBe(MediaErrorCode.PROTOCOL_NOT_ALLOWED);
    }
  });

  it('while a playlist of HTTP segments decodes (the whitelist is not too strict)', async () => {
    const { session, frames } = await decodeAll({ source: `${baseUrl}/remote-segment.m3u8` });
    expect((await session.info).hasVideo).toBe(true);
    expect(frames.length).toBeGreaterThanOrEqual(4);
  });

  it('an HTTP 404 is SOURCE_NOT_FOUND', async () => {
    const error = await failureOf(
      decoder.open({ source: `${baseUrl}/missing.mp4`, audio: AUDIO }).done,
    );
    expect(error.code).toBe(MediaErrorCode.SOURCE_NOT_FOUND);
  });

  it('a source that stops sending is stopped by the watchdog as STALLED', async () => {
    const session = decoder.open({
      source: `${baseUrl}/hang.ts`,
      video: VIDEO,
      stallTimeoutMs: 1_500,
    });
    const error = await failureOf(session.done);
    expect(error.code).toBe(MediaErrorCode.STALLED);
    await exited(spawner.children[0]);
  }, 30_000);
});

describe('MediaDecoder flow control', () => {
  it('a slow consumer pauses ffmpeg: buffers stay bounded and the watchdog stays quiet', async () => {
    const session = decoder.open({
      source: media.long,
      audio: false,
      video: VIDEO,
      // Long enough for ffmpeg to open the file on a loaded CI machine (0.5 s was not, once).
      stallTimeoutMs: 1_500,
    });
    const child = spawner.children[0];
    const pipe = child.stdio[4] as Readable;
    let frames = 0;
    let maxBuffered = 0;
    for await (const frame of session.video()) {
      expect(frame.pixels.length).toBe(FRAME_BYTES);
      frames++;
      // Longer than the stall timeout: ffmpeg waits on us, which is not a stall.
      await sleep(2_000);
      maxBuffered = Math.max(maxBuffered, pipe.readableLength);
      if (frames === 3) break;
    }
    // 20 s of video would be decoded in well under a second if nothing held ffmpeg back.
    const process = child as SpawnedProcess & { exitCode: number | null };
    expect(process.exitCode).toBeNull();
    expect(maxBuffered).toBeLessThanOrEqual(pipe.readableHighWaterMark * 4);
    expect(maxBuffered).toBeLessThan(FRAME_BYTES);
    // Breaking out of the only output tells ffmpeg to quit; that is not a failure.
    const summary = await session.done;
    expect(summary).toMatchObject({ videoFrames: 3, truncated: false, stopped: false });
    await exited(child);
  });

  it('breaking out of one output discards it while the other keeps flowing', async () => {
    const session = decoder.open({ source: media.long, audio: AUDIO, video: VIDEO });
    let samples = 0;
    let frames = 0;
    await Promise.all([
      (async () => {
        for await (const chunk of session.audio()) samples += chunk.samples.length;
      })(),
      (async () => {
        for await (const _frame of session.video()) if (++frames === 2) break;
      })(),
    ]);
    expect(frames).toBe(2);
    expect(Math.abs(samples / 32_000 - 20)).toBeLessThan(0.2);
    expect(await session.done).toMatchObject({ videoFrames: 2, truncated: false });
  });

  it('live mode keeps only the newest frame for a lagging consumer and counts the drops', async () => {
    // A live file is paced at real time (5 fps: a frame every 200 ms); this consumer needs 300.
    const session = decoder.open({ source: media.long, audio: false, video: VIDEO, live: true });
    const indices: number[] = [];
    for await (const frame of session.video()) {
      indices.push(frame.index);
      expect(frame.ptsSec).toBe(frame.index / 5);
      await sleep(300);
    }
    const summary = await session.done;
    expect(summary.droppedFrames).toBeGreaterThan(0);
    expect(summary.videoFrames).toBe(indices.length);
    expect(indices).toEqual([...indices].sort((a, b) => a - b));
    expect(indices[indices.length - 1]).toBe(99);
    expect(summary.videoFrames + summary.droppedFrames).toBe(100);
  });

  it('stop() can be called any number of times; iterators end quietly and ffmpeg is gone', async () => {
    const session = decoder.open({ source: media.long, audio: AUDIO, video: VIDEO });
    const frames: DecodedFrame[] = [];
    const reading = Promise.all([
      collect(session.audio()),
      (async () => {
        for await (const frame of session.video()) {
          frames.push(frame);
          if (frames.length === 2)
            await Promise.all([session.stop(), session.stop(), session.stop()]);
        }
      })(),
    ]);
    await reading;
    await session.stop();
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.length).toBeLessThan(100);
    expect(await session.done).toMatchObject({ stopped: true, truncated: false });
    await exited(spawner.children[0]);
  });

  it('an AbortSignal ends the decode with ABORTED', async () => {
    const controller = new AbortController();
    const session = decoder.open({
      source: media.long,
      audio: false,
      video: VIDEO,
      signal: controller.signal,
    });
    const error = await failureOf(
      (async () => {
        for await (const frame of session.video()) if (frame.index === 1) controller.abort();
      })(),
    );
    expect(error.code).toBe(MediaErrorCode.ABORTED);
    expect((await failureOf(session.done)).code).toBe(MediaErrorCode.ABORTED);
    await session.stop();
    await exited(spawner.children[0]);
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
