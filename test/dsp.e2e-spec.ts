import { readFileSync } from 'node:fs';
import { EFFICIENTAT_RECIPE, LogMelExtractor, StreamingLogMel, WindowAssembler } from '@app/dsp';
import { fixture } from '@app/testing';

/** Raw float32 little-endian, whatever the host byte order. */
function readF32le(relativePath: string): Float32Array {
  const bytes = readFileSync(fixture(relativePath));
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function streamAll(pcm: Float32Array, size: (i: number) => number): Float32Array {
  const s = new StreamingLogMel(EFFICIENTAT_RECIPE);
  const parts: Float32Array[] = [];
  for (let at = 0, i = 0; at < pcm.length; i++) {
    const n = size(i);
    parts.push(s.push(pcm.subarray(at, at + n)));
    at += n;
  }
  parts.push(s.end());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** max |melMajor - frameMajor| over all cells, transposing the frame-major operand. */
function maxDiffTransposed(melMajor: Float32Array, frameMajor: Float32Array, mels: number): number {
  expect(frameMajor.length).toBe(melMajor.length);
  const frames = melMajor.length / mels;
  let worst = 0;
  for (let m = 0; m < mels; m++) {
    for (let t = 0; t < frames; t++) {
      const d = Math.abs(melMajor[m * frames + t] - frameMajor[t * mels + m]);
      worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    }
  }
  return worst;
}

describe.each([
  ['metro', 1000],
  ['glass', 160],
])('EfficientAT log-mel front end on reference/%s', (name, frames) => {
  const pcm = readF32le(`reference/${name}_32k_mono.f32le`);
  const reference = readF32le(`reference/${name}_logmel_128xT.f32le`);
  const extractor = new LogMelExtractor(EFFICIENTAT_RECIPE);
  const whole = extractor.compute(pcm);

  it(`has ${frames} frames of 128 mel bins, like the torch reference`, () => {
    expect(extractor.frameCount(pcm.length)).toBe(frames);
    expect(reference.length).toBe(128 * frames);
    expect(whole.length).toBe(reference.length);
  });

  it('matches the torch/torchaudio reference to a max abs difference under 1e-3', () => {
    let worst = 0;
    let sum = 0;
    for (let i = 0; i < reference.length; i++) {
      const d = Math.abs(whole[i] - reference[i]);
      worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
      sum += d;
    }
    console.log(
      `${name}: max abs diff ${worst.toExponential(3)}, mean ${(sum / reference.length).toExponential(3)}`,
    );
    expect(worst).toBeLessThan(1e-3);
    // Measured 2.6e-5 (metro) and 1.3e-5 (glass): float32 torch against float64 here.
    expect(worst).toBeLessThan(1e-4);
  });

  it.each([1, 100, 319, 320, 3200, 4096])(
    'streams in %i-sample chunks to exactly the same numbers',
    (size) => {
      expect(
        maxDiffTransposed(
          whole,
          streamAll(pcm, () => size),
          128,
        ),
      ).toBe(0);
    },
  );

  it('streams in random chunk sizes to exactly the same numbers', () => {
    const r = rng(42);
    expect(
      maxDiffTransposed(
        whole,
        streamAll(pcm, () => Math.floor(r() * 6000)),
        128,
      ),
    ).toBe(0);
  });
});

describe('WindowAssembler over the streamed reference recordings', () => {
  function windows(name: string) {
    const pcm = readF32le(`reference/${name}_32k_mono.f32le`);
    const assembler = new WindowAssembler({ melBins: 128, windowFrames: 100, hopFrames: 50 });
    const stream = new StreamingLogMel(EFFICIENTAT_RECIPE);
    const out = [];
    for (let at = 0; at < pcm.length; at += 3200)
      out.push(...assembler.push(stream.push(pcm.subarray(at, at + 3200))));
    out.push(...assembler.push(stream.end()), ...assembler.end());
    return { out, whole: new LogMelExtractor(EFFICIENTAT_RECIPE).compute(pcm) };
  }

  it('cuts 10 s of metro into 19 one-second windows with a 0.5 s hop, identical to slicing compute()', () => {
    const { out, whole } = windows('metro');
    expect(out.map((w) => w.startFrame)).toEqual(Array.from({ length: 19 }, (_, i) => i * 50));
    let mismatches = 0;
    for (const w of out) {
      expect(w.frames).toBe(100);
      for (let m = 0; m < 128; m++) {
        for (let f = 0; f < 100; f++) {
          if (w.data[m * 100 + f] !== whole[m * 1000 + w.startFrame + f]) mismatches++;
        }
      }
    }
    expect(mismatches).toBe(0);
  });

  it('covers the 1.6 s glass break with two full windows and a 60-frame tail, peaks on the impact', () => {
    const { out, whole } = windows('glass');
    expect(out.map((w) => [w.startFrame, w.frames])).toEqual([
      [0, 100],
      [50, 100],
      [100, 60],
    ]);
    const energy = (t: number) => {
      let s = 0;
      for (let m = 0; m < 128; m++) s += whole[m * 160 + t];
      return s;
    };
    for (const w of out) {
      let best = w.startFrame;
      for (let t = w.startFrame; t < w.startFrame + w.frames; t++)
        if (energy(t) > energy(best)) best = t;
      expect(w.peakFrame).toBe(best);
    }
    // The impact is the loudest moment of the clip: every window that holds it points at it.
    let loudest = 0;
    for (let t = 0; t < 160; t++) if (energy(t) > energy(loudest)) loudest = t;
    for (const w of out) {
      if (w.startFrame <= loudest && loudest < w.startFrame + w.frames)
        expect(w.peakFrame).toBe(loudest);
    }
  });
});
