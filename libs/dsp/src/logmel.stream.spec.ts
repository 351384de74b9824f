import { LogMelExtractor } from './logmel.extractor';
import { EFFICIENTAT_RECIPE, LogMelRecipe } from './logmel.recipe';
import { StreamingLogMel } from './logmel.stream';

const R = EFFICIENTAT_RECIPE;

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

function signal(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from(
    { length: n },
    (_, i) => 0.3 * Math.sin(i / 7) + 0.2 * (r() * 2 - 1) * (i % 5000 < 300 ? 3 : 1),
  );
}

/** Feeds pcm in the given chunk sizes (cycled) and returns all frames, frame-major. */
function stream(
  recipe: LogMelRecipe,
  pcm: Float32Array,
  sizes: (i: number) => number,
): Float32Array {
  const s = new StreamingLogMel(recipe);
  const parts: Float32Array[] = [];
  let at = 0;
  for (let i = 0; at < pcm.length; i++) {
    const n = sizes(i);
    parts.push(s.push(pcm.subarray(at, at + n)));
    at += n;
  }
  parts.push(s.end());
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  expect(s.framesEmitted * recipe.melBins).toBe(total);
  return out;
}

/** Transposes mel-major [mels x frames] to frame-major. */
function frameMajor(melMajor: Float32Array, mels: number): Float32Array {
  const frames = melMajor.length / mels;
  const out = new Float32Array(melMajor.length);
  for (let m = 0; m < mels; m++)
    for (let t = 0; t < frames; t++) out[t * mels + m] = melMajor[m * frames + t];
  return out;
}

function expectIdentical(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i])) worst = Math.max(worst, Math.abs(a[i] - b[i]) || Infinity);
  expect(worst).toBe(0);
}

describe('StreamingLogMel', () => {
  const pcm = signal(3 * 32000 + 77, 1);
  const whole = frameMajor(new LogMelExtractor(R).compute(pcm), R.melBins);

  it.each([
    ['1', () => 1],
    ['100', () => 100],
    ['319', () => 319],
    ['320', () => 320],
    ['4096', () => 4096],
    ['the whole signal', () => pcm.length],
  ])('is bit-identical to LogMelExtractor with chunks of %s samples', (_name, size) => {
    expectIdentical(stream(R, pcm, size), whole);
  });

  it('is bit-identical with random chunk sizes, including empty chunks', () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      expectIdentical(
        stream(R, pcm, () => Math.floor(r() * r() * 9000)),
        whole,
      );
    }
  });

  it('emits each frame as soon as the samples it reads have arrived', () => {
    const s = new StreamingLogMel(R);
    // Frame 0 reads y[-400..399] (mirrored head: y[1..400]): complete once y[400], i.e. raw
    // sample 401, exists. Frame t > 1 needs y up to 320t + 399, raw sample 320t + 400.
    expect(s.push(pcm.subarray(0, 401)).length).toBe(0);
    expect(s.push(pcm.subarray(401, 402)).length).toBe(R.melBins);
    expect(s.push(pcm.subarray(402, 720)).length).toBe(0);
    expect(s.push(pcm.subarray(720, 721)).length).toBe(R.melBins);
    expect(s.framesEmitted).toBe(2);
    // The last frames mirror the tail, so they wait for end().
    s.push(pcm.subarray(721));
    const pending = new LogMelExtractor(R).frameCount(pcm.length) - s.framesEmitted;
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThanOrEqual(2);
    expect(s.end().length).toBe(pending * R.melBins);
  });

  it.each([0, 1, 2, 3, 100, 401, 402, 512, 513, 514, 720, 721, 1000])(
    'matches LogMelExtractor on a %i-sample signal, chunk sizes 1, 7 and 1000',
    (n) => {
      const short = signal(n, n + 10);
      const expected = frameMajor(new LogMelExtractor(R).compute(short), R.melBins);
      for (const size of [1, 7, 1000])
        expectIdentical(
          stream(R, short, () => size),
          expected,
        );
    },
  );

  it("taken up mid-way, gives the whole stream's frames from the one it was resumed for, bit for bit", () => {
    const pcm = signal(32000 * 3 + 517, 11);
    const whole = stream(R, pcm, () => 3200);
    const mels = R.melBins;
    for (const frame of [1, 37, 150, 290, 299]) {
      const probe = new StreamingLogMel(R);
      const startSample = probe.resumeSampleFor(frame);
      const resumed = new StreamingLogMel(R, { startSample });
      const first = resumed.framesEmitted;
      expect(first).toBeLessThanOrEqual(frame);
      const parts: Float32Array[] = [];
      for (let at = startSample; at < pcm.length; at += 1234) {
        parts.push(resumed.push(pcm.subarray(at, Math.min(at + 1234, pcm.length))));
      }
      parts.push(resumed.end());
      const got = Float32Array.from(parts.flatMap((p) => Array.from(p)));
      expect(resumed.framesEmitted * mels).toBe(whole.length);
      expect(Array.from(got)).toEqual(Array.from(whole.subarray(first * mels)));
    }
  });

  it('refuses a start sample that is not a whole number', () => {
    expect(() => new StreamingLogMel(R, { startSample: 1.5 })).toThrow(RangeError);
    expect(() => new StreamingLogMel(R, { startSample: -1 })).toThrow(RangeError);
  });

  it('returns nothing for an empty stream', () => {
    const s = new StreamingLogMel(R);
    expect(s.end().length).toBe(0);
    expect(s.framesEmitted).toBe(0);
  });

  it('refuses input after end()', () => {
    const s = new StreamingLogMel(R);
    s.push(pcm.subarray(0, 1000));
    s.end();
    expect(() => s.push(pcm.subarray(0, 10))).toThrow(/ended/);
    expect(() => s.end()).toThrow(/ended/);
  });

  it('keeps memory bounded on a long stream fed sample by sample', () => {
    const s = new StreamingLogMel(R);
    const one = new Float32Array(1);
    for (let i = 0; i < 200000; i++) {
      one[0] = Math.sin(i);
      s.push(one);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    expect((s as any).buf.length).toBeLessThanOrEqual(8192);
  });

  it.each<[string, Partial<LogMelRecipe>]>([
    [
      'hop longer than the window',
      { nFft: 256, winLength: 100, hopLength: 250, melBins: 20, fMax: 8000 },
    ],
    [
      'odd window, small hop',
      { nFft: 512, winLength: 333, hopLength: 37, melBins: 40, fMax: 12000 },
    ],
  ])('stays bit-identical for other recipes: %s', (_name, change) => {
    const recipe = { ...R, ...change };
    const sig = signal(20000, 5);
    const expected = frameMajor(new LogMelExtractor(recipe).compute(sig), recipe.melBins);
    const r = rng(9);
    for (const sizes of [() => 1, () => 333, () => Math.floor(r() * 3000)]) {
      expectIdentical(stream(recipe, sig, sizes), expected);
    }
  });
});
