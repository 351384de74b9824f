import { LogMelExtractor } from './logmel.extractor';
import { EFFICIENTAT_RECIPE, LogMelRecipe } from './logmel.recipe';

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

function noise(n: number, seed: number, amp = 0.5): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * amp);
}

function tone(n: number, hz: number, amp = 0.5): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / R.sampleRate),
  );
}

/**
 * The recipe written out the slow, obvious way, sharing no code with the library: numpy-style
 * reflect padding by repeated mirroring, a direct O(N²) DFT, the torchaudio mel formula.
 * Returns mel-major [melBins x frames] in float64.
 */
function slowLogMel(
  r: LogMelRecipe,
  pcm: Float32Array,
  onlyFrames?: number[],
): { frames: number; data: Float64Array } {
  const y: number[] = [];
  for (let n = 0; n + 1 < pcm.length; n++) y.push(pcm[n + 1] - r.preEmphasis * pcm[n]);
  const pad = r.nFft / 2;
  let padded = y.slice();
  let leftNeeded = pad;
  let rightNeeded = pad;
  while (leftNeeded > 0 || rightNeeded > 0) {
    const take = Math.max(1, padded.length - 1);
    if (leftNeeded > 0) {
      const n = Math.min(leftNeeded, take);
      const mirror =
        padded.length === 1 ? Array(n).fill(padded[0]) : padded.slice(1, n + 1).reverse();
      padded = mirror.concat(padded);
      leftNeeded -= n;
    }
    if (rightNeeded > 0) {
      const n = Math.min(rightNeeded, Math.max(1, padded.length - 1));
      const L = padded.length;
      const mirror = L === 1 ? Array(n).fill(padded[0]) : padded.slice(L - 1 - n, L - 1).reverse();
      padded = padded.concat(mirror);
      rightNeeded -= n;
    }
  }
  const win = new Array<number>(r.nFft).fill(0);
  const left = Math.floor((r.nFft - r.winLength) / 2);
  for (let n = 0; n < r.winLength; n++) {
    win[left + n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (r.winLength - 1));
  }
  const frames = 1 + Math.floor((padded.length - r.nFft) / r.hopLength);
  const melLow = 1127 * Math.log(1 + r.fMin / 700);
  const melHigh = 1127 * Math.log(1 + r.fMax / 700);
  const delta = (melHigh - melLow) / (r.melBins + 1);
  const data = new Float64Array(r.melBins * frames).fill(NaN);
  for (const t of onlyFrames ?? Array.from({ length: frames }, (_, i) => i)) {
    const power: number[] = [];
    for (let k = 0; k <= r.nFft / 2; k++) {
      let re = 0;
      let im = 0;
      for (let n = 0; n < r.nFft; n++) {
        const v = padded[t * r.hopLength + n] * win[n];
        const phase = (2 * Math.PI * ((k * n) % r.nFft)) / r.nFft;
        re += v * Math.cos(phase);
        im -= v * Math.sin(phase);
      }
      power.push(re * re + im * im);
    }
    for (let m = 0; m < r.melBins; m++) {
      let acc = 0;
      for (let k = 0; k < r.nFft / 2; k++) {
        const mel = 1127 * Math.log(1 + (k * r.sampleRate) / r.nFft / 700);
        const up = (mel - (melLow + m * delta)) / delta;
        const down = (melLow + (m + 2) * delta - mel) / delta;
        acc += Math.max(0, Math.min(up, down)) * power[k];
      }
      data[m * frames + t] = (Math.log(acc + r.logOffset) + r.normAdd) / r.normDiv;
    }
  }
  return { frames, data };
}

function maxDiffOnFrames(
  fast: Float32Array,
  slow: Float64Array,
  frames: number,
  which: number[],
  mels: number,
) {
  let worst = 0;
  for (const t of which) {
    for (let m = 0; m < mels; m++)
      worst = Math.max(worst, Math.abs(fast[m * frames + t] - slow[m * frames + t]));
  }
  return worst;
}

describe('LogMelExtractor', () => {
  const extractor = new LogMelExtractor(R);

  describe('frameCount', () => {
    it('is 1 + floor((samples - 1) / hop) for raw samples, as torch.stft(center=True) counts', () => {
      expect(extractor.frameCount(320000)).toBe(1000);
      expect(extractor.frameCount(51080)).toBe(160);
      // 321 raw samples pre-emphasise to 320 = one full hop: torch yields 1 + 320 // 320 = 2.
      expect(extractor.frameCount(321)).toBe(2);
      expect(extractor.frameCount(320)).toBe(1);
      expect(extractor.frameCount(2)).toBe(1);
    });

    it('is 0 when pre-emphasis leaves nothing (0 or 1 samples)', () => {
      expect(extractor.frameCount(0)).toBe(0);
      expect(extractor.frameCount(1)).toBe(0);
    });
  });

  it('matches a slow direct-DFT transcription of the recipe at the edges and inside', () => {
    const pcm = noise(32000 / 2 + 123, 7);
    for (let i = 0; i < pcm.length; i++) pcm[i] += 0.3 * Math.sin(i / 5);
    const frames = extractor.frameCount(pcm.length);
    const which = [0, 1, 2, 25, frames - 3, frames - 2, frames - 1];
    const slow = slowLogMel(R, pcm, which);
    expect(slow.frames).toBe(frames);
    const fast = extractor.compute(pcm);
    expect(fast.length).toBe(128 * frames);
    // float32 output: anything below ~1e-6 is rounding.
    expect(maxDiffOnFrames(fast, slow.data, frames, which, 128)).toBeLessThan(2e-6);
  });

  it('concentrates a 1 kHz tone in the filter centred nearest 1 kHz', () => {
    const pcm = tone(32000, 1000);
    const frames = extractor.frameCount(pcm.length);
    const out = extractor.compute(pcm);
    const t = 50;
    let best = 0;
    for (let m = 1; m < 128; m++) if (out[m * frames + t] > out[best * frames + t]) best = m;
    const delta = (1127 * Math.log(1 + 15000 / 700)) / 129;
    const centres = Array.from(
      { length: 128 },
      (_, m) => 700 * (Math.exp(((m + 1) * delta) / 1127) - 1),
    );
    const nearest = centres.reduce(
      (b, c, m) => (Math.abs(c - 1000) < Math.abs(centres[b] - 1000) ? m : b),
      0,
    );
    expect(Math.abs(best - nearest)).toBeLessThanOrEqual(1);
  });

  it('maps silence to (ln(1e-5) + 4.5) / 5 everywhere', () => {
    const out = extractor.compute(new Float32Array(5000));
    const floor = Math.fround((Math.log(1e-5) + 4.5) / 5);
    expect(out.every((v) => v === floor)).toBe(true);
  });

  it('returns an empty spectrogram for empty or single-sample input', () => {
    expect(extractor.compute(new Float32Array(0)).length).toBe(0);
    expect(extractor.compute(new Float32Array([0.5])).length).toBe(0);
  });

  it('pads signals shorter than the 512-sample reflect pad by reflecting back and forth', () => {
    // torch.stft refuses these (pad must be < length); the fallback keeps short clips usable.
    for (const n of [2, 3, 100, 400, 513]) {
      const pcm = noise(n, n);
      const frames = extractor.frameCount(n);
      const fast = extractor.compute(pcm);
      expect(fast.length).toBe(128 * frames);
      expect(fast.every(Number.isFinite)).toBe(true);
      const which = Array.from({ length: frames }, (_, i) => i);
      const slow = slowLogMel(R, pcm, which);
      expect(maxDiffOnFrames(fast, slow.data, frames, which, 128)).toBeLessThan(2e-6);
    }
  });

  it('follows the same recipe with other parameters (odd window, other hop)', () => {
    const recipe: LogMelRecipe = {
      ...R,
      nFft: 512,
      winLength: 401,
      hopLength: 160,
      melBins: 40,
      fMin: 50,
      fMax: 8000,
      sampleRate: 16000,
    };
    const small = new LogMelExtractor(recipe);
    const pcm = noise(3000, 3);
    const frames = small.frameCount(pcm.length);
    const which = [0, 1, 9, frames - 1];
    expect(
      maxDiffOnFrames(small.compute(pcm), slowLogMel(recipe, pcm, which).data, frames, which, 40),
    ).toBeLessThan(2e-6);
  });

  it('rejects recipes it cannot honour', () => {
    expect(() => new LogMelExtractor({ ...R, nFft: 1000 })).toThrow(/power of two/);
    expect(() => new LogMelExtractor({ ...R, winLength: 2048 })).toThrow(/exceeds nFft/);
    expect(() => new LogMelExtractor({ ...R, hopLength: 0 })).toThrow(/hopLength/);
    expect(() => new LogMelExtractor({ ...R, logOffset: 0 })).toThrow(/logOffset/);
    expect(() => new LogMelExtractor({ ...R, fMax: 20000 })).toThrow(/frequency range/);
  });
});
