import type { SecurityEvent, VideoFrame } from '@app/contracts';
import { EFFICIENTAT_RECIPE, LogMelExtractor } from '@app/dsp';
import {
  EvidenceErrorCode,
  EvidenceWriter,
  ImageFileEncoder,
  PngEncoder,
  FfmpegRunner,
  FolderEvidenceStore,
  Raster,
  SnapshotRenderer,
  SpectrogramRenderer,
  type EvidenceError,
} from '@app/evidence';
import { FfmpegLocator } from '@app/media';
import { fixture } from '@app/testing';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Evidence rendering against the real ffmpeg on this machine and a real recording: a person
 * walks in while glass breaks at 4.07 s. Copies of the pictures land in /tmp/vigil-evidence for
 * a human to look at.
 */
jest.setTimeout(60_000);

const CLIP = 'clips/comp01_person_glassbreak.mp4';
const FRAME_SEC = 4;
const GLASS_SEC = 4.07;
const MODEL = 416;
const RATE = EFFICIENTAT_RECIPE.sampleRate;
/** The person in the frame at 4 s, in source (640x480) pixels, measured by eye on a grid. */
const PERSON: [number, number, number, number] = [316, 68, 432, 390];
const LOOK_DIR = '/tmp/vigil-evidence';

let ffmpeg: string;
let dir: string;

function decode(args: string[], input?: Uint8Array): Buffer {
  return execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', ...args], {
    input,
    maxBuffer: 256 * 1024 * 1024,
  });
}

/** ffmpeg's own description of a file's first stream: "640x480", "Duration: 00:00:01.00". */
function ffmpegInfo(bytes: Uint8Array, ext: string): string {
  const path = join(dir, `probe-${Math.random().toString(36).slice(2)}.${ext}`);
  writeFileSync(path, bytes);
  return spawnSync(ffmpeg, ['-hide_banner', '-i', path], { encoding: 'utf8' }).stderr;
}

function decodeToRgb(bytes: Uint8Array, codec: 'mjpeg' | 'png'): Buffer {
  const demuxer = codec === 'png' ? 'png_pipe' : 'image2pipe';
  return decode(
    ['-f', demuxer, '-c:v', codec, '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    bytes,
  );
}

function sizeOf(description: string): [number, number] {
  const match = /Video: .*?, (\d+)x(\d+)/.exec(description);
  expect(match).not.toBeNull();
  return [Number(match![1]), Number(match![2])];
}

/** The letterboxed model input, exactly as YOLOX gets it: 640x480 → 416x312 + grey below. */
function yoloxFrame(): VideoFrame {
  const vf =
    `scale=${MODEL}:${MODEL}:force_original_aspect_ratio=decrease:flags=bilinear,` +
    `pad=${MODEL}:${MODEL}:0:0:color=0x727272`;
  const pixels = decode([
    '-ss',
    String(FRAME_SEC),
    '-i',
    fixture(CLIP),
    '-frames:v',
    '1',
    '-vf',
    vf,
    '-pix_fmt',
    'bgr24',
    '-f',
    'rawvideo',
    'pipe:1',
  ]);
  expect(pixels.length).toBe(MODEL * MODEL * 3);
  return {
    streamId: 'cam-1',
    seq: 20,
    ptsSec: FRAME_SEC,
    width: MODEL,
    height: MODEL,
    pixels: new Uint8Array(pixels),
    pixelFormat: 'bgr24',
    geometry: { sourceWidth: 640, sourceHeight: 480, scaleX: 0.65, scaleY: 0.65, padX: 0, padY: 0 },
  };
}

function clipAudio(): Float32Array {
  const bytes = decode([
    '-i',
    fixture(CLIP),
    '-vn',
    '-ac',
    '1',
    '-ar',
    String(RATE),
    '-f',
    'f32le',
    'pipe:1',
  ]);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

const event: SecurityEvent = {
  id: '7d1c2a9e-4b3f-5a10-9c2d-3e4f5a6b7c8d',
  incidentId: '7d1c2a9e-4b3f-5a10-9c2d-3e4f5a6b7c8d',
  version: 1,
  state: 'opened',
  streamId: 'cam-1',
  rule: 'intrusion',
  title: 'Intrusion: glass break with a person in view',
  severity: 'high',
  startSec: GLASS_SEC,
  endSec: GLASS_SEC,
  trigger: 'glass_break',
  triggers: ['glass_break'],
  evidence: [
    { cls: 'glass_break', modality: 'audio', score: 0.91, atSec: GLASS_SEC },
    { cls: 'person', modality: 'video', score: 0.87, atSec: FRAME_SEC, box: PERSON },
  ],
};

let frame: VideoFrame;
let audio: Float32Array;

beforeAll(() => {
  ffmpeg = new FfmpegLocator().locate();
  dir = mkdtempSync(join(tmpdir(), 'vigil-evidence-'));
  mkdirSync(LOOK_DIR, { recursive: true });
  frame = yoloxFrame();
  audio = clipAudio();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('evidence for a glass break with a person in view (real ffmpeg, real clip)', () => {
  const windowStart = GLASS_SEC - 0.5;
  let window: { melBins: number; frames: number; data: Float32Array; startSec: number };
  let clip: Float32Array;
  let store: FolderEvidenceStore;
  let result: Awaited<ReturnType<EvidenceWriter['write']>>;

  beforeAll(async () => {
    const from = Math.round(windowStart * RATE);
    clip = audio.slice(from, from + RATE);
    const extractor = new LogMelExtractor(EFFICIENTAT_RECIPE);
    window = {
      melBins: EFFICIENTAT_RECIPE.melBins,
      frames: extractor.frameCount(clip.length),
      data: extractor.compute(clip),
      startSec: from / RATE,
    };
    store = new FolderEvidenceStore({ root: join(dir, 'store') });
    const writer = EvidenceWriter.withFfmpeg(store, { binary: ffmpeg });
    result = await writer.write({
      event,
      frame,
      audioWindow: window,
      audioClip: { samples: clip, sampleRate: RATE },
    });
  });

  it('stores all three artifacts under the event id, readable back with their checksums', async () => {
    expect(result.errors).toEqual([]);
    expect(Object.keys(result.refs).sort()).toEqual(['audio', 'snapshot', 'spectrogram']);
    expect(result.refs.snapshot).toMatchObject({
      key: `${event.id}/snapshot.jpg`,
      contentType: 'image/jpeg',
    });
    for (const ref of Object.values(result.refs)) {
      const stored = await store.get(ref);
      expect(stored.contentType).toBe(ref.contentType);
      expect(stored.bytes.length).toBe(ref.bytes);
      expect(createHash('sha256').update(stored.bytes).digest('hex')).toBe(ref.sha256);
    }
    expect((await store.list(event.id)).map((r) => r.key)).toEqual([
      `${event.id}/audio.wav`,
      `${event.id}/snapshot.jpg`,
      `${event.id}/spectrogram.png`,
    ]);
  });

  it('snapshot: a 640x480 JPEG of the camera picture, the person framed in red', async () => {
    const jpeg = (await store.get(result.refs.snapshot!)).bytes;
    writeFileSync(join(LOOK_DIR, 'snapshot.jpg'), jpeg);
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect(sizeOf(ffmpegInfo(jpeg, 'jpg'))).toEqual([640, 480]);
    const picture = new Raster(640, 480, 'rgb', new Uint8Array(decodeToRgb(jpeg, 'mjpeg')));
    const redness = (x: number, y: number) => {
      const [r, g, b] = picture.get(x, y);
      return r - Math.max(g, b);
    };

    // The 2-px outline at model scale covers about 3 source pixels inside each edge; 6 px
    // outside is the scene (reddish wood at the bottom, hence a margin, not a colour test).
    const [x1, y1, x2, y2] = PERSON;
    const midX = Math.round((x1 + x2) / 2);
    const midY = Math.round((y1 + y2) / 2);
    for (const [x, y, outX, outY] of [
      [x1 + 1, midY, x1 - 6, midY],
      [x2 - 2, midY, x2 + 6, midY],
      [midX, y1 + 1, midX, y1 - 20],
      [midX, y2 - 2, midX, y2 + 6],
    ]) {
      expect({ x, y, edge: redness(x, y) > 120 }).toEqual({ x, y, edge: true });
      expect(redness(x, y) - redness(outX, outY)).toBeGreaterThan(50);
    }

    // Away from the box, label and caption it is the camera's picture at the camera's geometry:
    // had the letterbox stayed in, everything would sit squashed and shifted.
    const source = decode([
      '-ss',
      String(FRAME_SEC),
      '-i',
      fixture(CLIP),
      '-frames:v',
      '1',
      '-pix_fmt',
      'rgb24',
      '-f',
      'rawvideo',
      'pipe:1',
    ]);
    let diff = 0;
    let count = 0;
    for (let y = 60; y < 420; y += 2) {
      for (let x = 450; x < 636; x += 2) {
        const i = (y * 640 + x) * 3;
        for (let c = 0; c < 3; c++) diff += Math.abs(source[i + c] - picture.pixels[i + c]);
        count += 3;
      }
    }
    expect(diff / count).toBeLessThan(8);
  });

  it('spectrogram: a lossless PNG of exactly the rendered raster, marker at 4.07 s', async () => {
    const png = (await store.get(result.refs.spectrogram!)).bytes;
    writeFileSync(join(LOOK_DIR, 'spectrogram.png'), png);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const { raster, layout } = new SpectrogramRenderer().raster(window, { markerSec: GLASS_SEC });
    expect(sizeOf(ffmpegInfo(png, 'png'))).toEqual([raster.width, raster.height]);
    expect([raster.width, layout.plotHeight]).toEqual([window.frames * 4, 128 * 2]);

    const rgb = decodeToRgb(png, 'png');
    expect(Buffer.compare(rgb, Buffer.from(raster.pixels))).toBe(0);
    // Frame t is centred at startSec + t·10 ms and drawn 4 px wide: 4.07 s is frame 50, in
    // columns 200..203, and the 2-px line straddles their centre.
    expect(window.startSec).toBeCloseTo(3.57, 9);
    expect(layout.markerX).toBe(201);
    expect(raster.get(layout.markerX!, 10)).toEqual([255, 32, 32]);
  });

  it('the glass break is where the marker is: the loudest frames sit just after 4.07 s', () => {
    const energy = Array.from({ length: window.frames }, (_, t) => {
      let sum = 0;
      for (let m = 64; m < window.melBins; m++) sum += window.data[m * window.frames + t];
      return sum;
    });
    const loudest = energy.indexOf(Math.max(...energy));
    const loudestSec = window.startSec + loudest * 0.01;
    expect(loudestSec).toBeGreaterThanOrEqual(GLASS_SEC - 0.05);
    expect(loudestSec).toBeLessThan(GLASS_SEC + 0.3);
  });

  it('audio: a 1 s mono 16-bit WAV that decodes back to the clip', async () => {
    const wav = (await store.get(result.refs.audio!)).bytes;
    writeFileSync(join(LOOK_DIR, 'audio.wav'), wav);
    const description = ffmpegInfo(wav, 'wav');
    expect(description).toMatch(/Duration: 00:00:01\.00/);
    expect(description).toMatch(/Audio: pcm_s16le .*32000 Hz, mono/);
    const bytes = decode(['-i', 'pipe:0', '-f', 'f32le', '-ac', '1', 'pipe:1'], wav);
    expect(bytes.length / 4).toBe(clip.length);
    let worst = 0;
    for (let i = 0; i < clip.length; i++) {
      worst = Math.max(
        worst,
        Math.abs(bytes.readFloatLE(i * 4) - Math.max(-1, Math.min(1, clip[i]))),
      );
    }
    expect(worst).toBeLessThan(1 / 32000);
  });
});

describe('PngEncoder (decoded by real ffmpeg)', () => {
  it.each(['rgb', 'bgr'] as const)('gives back every pixel of a %s raster', async (order) => {
    // Odd size and noise: every row's filter and every byte of every channel are checked.
    const raster = new Raster(37, 23, order);
    for (let i = 0; i < raster.pixels.length; i++) raster.pixels[i] = (i * 7919 + (i >> 5)) & 0xff;
    const png = await new PngEncoder().encode(raster);
    expect(sizeOf(ffmpegInfo(png, 'png'))).toEqual([37, 23]);
    const rgb = decodeToRgb(png, 'png');
    const want = Buffer.alloc(raster.pixels.length);
    for (let y = 0; y < 23; y++) {
      for (let x = 0; x < 37; x++) want.set(raster.get(x, y), (y * 37 + x) * 3);
    }
    expect(rgb.equals(want)).toBe(true);
  });
});

describe('ImageFileEncoder and FfmpegRunner failures (real ffmpeg)', () => {
  it('scales a JPEG to the size asked for', async () => {
    const raster = new Raster(40, 30, 'bgr');
    raster.fill([200, 10, 10]);
    const jpeg = await new ImageFileEncoder(new FfmpegRunner({ binary: ffmpeg })).jpeg(raster, {
      width: 80,
      height: 60,
    });
    expect(sizeOf(ffmpegInfo(jpeg, 'jpg'))).toEqual([80, 60]);
    const rgb = decodeToRgb(jpeg, 'mjpeg');
    // bgr order honoured: the fill is red, not blue.
    expect(rgb[0]).toBeGreaterThan(150);
    expect(rgb[2]).toBeLessThan(60);
  });

  it('reports what ffmpeg said when it rejects its input', async () => {
    const runner = new FfmpegRunner({ binary: ffmpeg });
    const error = (await runner
      .run(['-f', 'no_such_format', '-i', 'pipe:0', 'pipe:1'], new Uint8Array(10), 'test job')
      .catch((e: unknown) => e)) as EvidenceError;
    expect(error.code).toBe(EvidenceErrorCode.ENCODE_FAILED);
    expect(error.message).toMatch(/^test job: ffmpeg exited with 1: .*no_such_format/i);
  });

  it('reports a binary that cannot run', async () => {
    const runner = new FfmpegRunner({ binary: join(dir, 'no-ffmpeg-here') });
    await expect(runner.run(['-version'], new Uint8Array(0), 'job')).rejects.toMatchObject({
      code: EvidenceErrorCode.ENCODE_FAILED,
      message: expect.stringMatching(/^job: ffmpeg could not run: .*ENOENT/),
    });
  });

  it('stops an ffmpeg that runs past the timeout', async () => {
    const runner = new FfmpegRunner({ binary: ffmpeg, timeoutMs: 300 });
    const started = Date.now();
    await expect(
      runner.run(
        ['-re', '-f', 'lavfi', '-i', 'sine=duration=30', '-f', 'wav', 'pipe:1'],
        new Uint8Array(0),
        'slow job',
      ),
    ).rejects.toMatchObject({ message: 'slow job: ffmpeg did not finish within 300 ms' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses more output than allowed', async () => {
    const runner = new FfmpegRunner({ binary: ffmpeg, maxOutputBytes: 1000 });
    await expect(
      runner.run(
        ['-f', 'lavfi', '-i', 'sine=duration=5', '-f', 'wav', 'pipe:1'],
        new Uint8Array(0),
        'big job',
      ),
    ).rejects.toMatchObject({ message: 'big job: ffmpeg wrote more than 1000 bytes' });
  });

  it('a snapshot renderer without encoder is a programming error, said plainly', async () => {
    await expect(
      new SnapshotRenderer().jpeg(
        {
          width: 1,
          height: 1,
          pixels: new Uint8Array(3),
          pixelFormat: 'bgr24',
          geometry: { sourceWidth: 1, sourceHeight: 1, scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
        },
        [],
      ),
    ).rejects.toThrow('without an image encoder');
  });
});
