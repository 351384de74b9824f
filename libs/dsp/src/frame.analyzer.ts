import FFT from 'fft.js';
import { centredHann } from './hann.window';
import { kaldiSparseMelBank, SparseMelBank } from './kaldi.melbank';
import { assertValidRecipe, LogMelRecipe } from './logmel.recipe';
import { reflectIndex } from './reflect.padding';

/**
 * Turns one STFT frame into one column of normalised log-mel values. Both the whole-signal
 * and the streaming front ends call exactly this code on exactly the same input numbers,
 * which is what makes their outputs bit-identical rather than merely close.
 */
export interface FrameAnalyzer {
  readonly recipe: Readonly<LogMelRecipe>;
  readonly melBins: number;
  readonly bank: SparseMelBank;
  /** y-index of the first sample frame t multiplies by a window tap (negative: in the left padding). */
  firstTap(t: number): number;
  /** y-index of the last sample frame t multiplies by a window tap. */
  lastTap(t: number): number;
  /**
   * Analyses frame t of a signal whose pre-emphasised length is `len`.
   *
   * The signal is given as raw PCM: x[j - xStart] is raw sample j, and the pre-emphasised
   * sample y[i] = x[i+1] - c·x[i] is formed on the fly, so neither caller has to keep a
   * second copy of the audio in sync. Every x index the frame reads after reflection must
   * be present in `x`.
   *
   * Writes melBins values to out[outOffset + m*outStride]: stride 1 gives frame-major,
   * stride = frame count gives mel-major.
   */
  analyse(
    x: Float32Array,
    xStart: number,
    len: number,
    t: number,
    out: Float32Array,
    outOffset: number,
    outStride: number,
  ): void;
}

const shared = new Map<string, FrameAnalyzer>();

/**
 * The analyzer for a recipe, shared by every extractor and stream that uses it.
 *
 * Sharing is safe because analyse() is synchronous and keeps nothing between calls: its
 * scratch arrays are fully rewritten for each frame. It is also what makes the kernel fast.
 * V8 compiles a closure that was only ever created once with its captured arrays as
 * constants (no reloading of typed-array bases and lengths inside the hot loops), which
 * measured 10.6 µs a frame against 13.4 µs for the same code on class fields, or on a
 * second closure instance. One analyzer per recipe keeps the common single-recipe process
 * on the fast path; more recipes still work, just at the slower speed.
 */
export function frameAnalyzerFor(recipe: LogMelRecipe): FrameAnalyzer {
  assertValidRecipe(recipe);
  const key = JSON.stringify([
    recipe.sampleRate,
    recipe.preEmphasis,
    recipe.nFft,
    recipe.hopLength,
    recipe.winLength,
    recipe.melBins,
    recipe.fMin,
    recipe.fMax,
    recipe.logOffset,
    recipe.normAdd,
    recipe.normDiv,
  ]);
  let analyzer = shared.get(key);
  if (!analyzer) {
    analyzer = buildFrameAnalyzer(recipe);
    shared.set(key, analyzer);
  }
  return analyzer;
}

function buildFrameAnalyzer(source: LogMelRecipe): FrameAnalyzer {
  const recipe: Readonly<LogMelRecipe> = Object.freeze({ ...source });
  const { nFft, hopLength, melBins, logOffset, normAdd, normDiv } = recipe;
  const c = recipe.preEmphasis;

  const { taps, left } = centredHann(recipe.winLength, nFft);
  const nTaps = taps.length;
  // torch.stft(center=True) pads nFft/2 on both sides, so frame t starts at y[t*hop - nFft/2].
  const firstTapOfFrame0 = left - (nFft >> 1);

  // The real nFft-point FFT is built from two complex FFTs of a quarter the size, which is
  // exact and cheaper with fft.js than any single call: at nFft = 1024, realTransform(1024)
  // takes 8 µs, transform(512) 6 µs, but 2 × transform(256) only 4.9 µs (sizes that are a
  // power of four skip fft.js's slow radix-2 pass).
  //   1. the real frame r[0..nFft) is read as M = nFft/2 complex values z[n] = r[2n] + i·r[2n+1];
  //   2. z splits into its even and odd entries, each a complex H = M/2 point FFT:
  //      ze[n] = r[4n] + i·r[4n+1], zo[n] = r[4n+2] + i·r[4n+3];
  //   3. Z[k] = ZE[k] + e^(-2πik/M)·ZO[k] and Z[k+H] = ZE[k] - e^(-2πik/M)·ZO[k];
  //   4. the real spectrum is untangled from Z (see the mel loop).
  // The fill writes each windowed sample straight to its place in [ze | zo].
  const half = nFft >> 2;
  const fft = new FFT(half);
  // Samples outside the taps are zero padding: written here once, never touched again.
  const split = new Float64Array(nFft);
  const ze = split.subarray(0, 2 * half);
  const zo = split.subarray(2 * half);
  const ZE = new Float64Array(2 * half);
  const ZO = new Float64Array(2 * half);
  const z = new Float64Array(nFft);
  const dest = new Int32Array(nTaps);
  for (let k = 0; k < nTaps; k++) {
    const pos = left + k;
    const quad = pos >> 2;
    const r = pos & 3;
    dest[k] = r < 2 ? 2 * quad + r : 2 * half + 2 * quad + (r - 2);
  }
  const halfCos = new Float64Array(half);
  const halfSin = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    halfCos[k] = Math.cos((2 * Math.PI * k) / (2 * half));
    halfSin[k] = Math.sin((2 * Math.PI * k) / (2 * half));
  }

  const bank = kaldiSparseMelBank(recipe);
  const used = bank.usedBins;
  const cosT = new Float64Array(used);
  const sinT = new Float64Array(used);
  for (let k = 0; k < used; k++) {
    cosT[k] = Math.cos((2 * Math.PI * k) / nFft);
    sinT[k] = Math.sin((2 * Math.PI * k) / nFft);
  }

  // The sparse bank turned bin-major. Adjacent Kaldi triangles overlap by one segment, so a
  // bin feeds at most two filters: slot A and slot B, each with its weight; a bin feeding
  // fewer points at the spare accumulator mel[melBins]. Each filter still sums its bins in
  // ascending order from zero, so the sums are bit-identical to the filter-major ones, but
  // one flat pass over the spectrum replaces melBins short loops and the power spectrum is
  // never stored.
  const spare = melBins;
  const slotA = new Int32Array(used).fill(spare);
  const slotB = new Int32Array(used).fill(spare);
  const weightA = new Float64Array(used);
  const weightB = new Float64Array(used);
  for (let m = 0; m < melBins; m++) {
    for (let k = 0; k < bank.length[m]; k++) {
      const bin = bank.start[m] + k;
      const w = 0.25 * bank.weights[bank.offset[m] + k]; // see the 4·|X|² note in analyse
      if (slotA[bin] === spare) {
        slotA[bin] = m;
        weightA[bin] = w;
      } else if (slotB[bin] === spare) {
        slotB[bin] = m;
        weightB[bin] = w;
      } else {
        throw new Error(
          `FFT bin ${bin} feeds more than two mel filters: not a Kaldi triangle bank`,
        );
      }
    }
  }
  const mel = new Float64Array(melBins + 1);
  const wrap = z.length; // Z[M] is Z[0]

  const firstTap = (t: number): number => t * hopLength + firstTapOfFrame0;

  const analyse = (
    x: Float32Array,
    xStart: number,
    len: number,
    t: number,
    out: Float32Array,
    outOffset: number,
    outStride: number,
  ): void => {
    const first = firstTap(t);
    if (first >= 0 && first + nTaps <= len) {
      // Interior frame, the common case: no index mapping.
      const j0 = first - xStart;
      let prev = x[j0];
      for (let k = 0; k < nTaps; k++) {
        const next = x[j0 + k + 1];
        split[dest[k]] = taps[k] * (next - c * prev);
        prev = next;
      }
    } else {
      for (let k = 0; k < nTaps; k++) {
        const j = reflectIndex(first + k, len) - xStart;
        split[dest[k]] = taps[k] * (x[j + 1] - c * x[j]);
      }
    }

    fft.transform(ZE, ze);
    fft.transform(ZO, zo);
    for (let k = 0; k < half; k++) {
      const p = 2 * k;
      const er = ZE[p];
      const ei = ZE[p + 1];
      const or = ZO[p];
      const oi = ZO[p + 1];
      const wr = halfCos[k];
      const wi = halfSin[k];
      // e^(-iθ)·(or + i·oi) with θ = 2πk/M
      const tr = wr * or + wi * oi;
      const ti = wr * oi - wi * or;
      z[p] = er + tr;
      z[p + 1] = ei + ti;
      z[p + 2 * half] = er - tr;
      z[p + 2 * half + 1] = ei - ti;
    }

    // With Z = FFT(x0 + i·x1, x2 + i·x3, ...) of size M = nFft/2, the even- and odd-sample
    // spectra are E[k] = (Z[k] + conj Z[M-k]) / 2 and O[k] = (Z[k] - conj Z[M-k]) / 2i, and
    // X[k] = E[k] + e^(-2πik/nFft)·O[k]. Only the bins the mel bank reads are formed. The
    // halves are left out: this yields 2·X, hence 4·|X|², and the mel weights carry the 1/4
    // (scaling by powers of two is exact, so the sums are unchanged to the last bit).
    mel.fill(0);
    // Bin 0 is its own mirror (Z[M] is Z[0]) and reduces to X[0] = re Z[0] + im Z[0].
    const dc = z[0] + z[1];
    const dcPower = 4 * dc * dc; // |2·X[0]|², on the same scale as the other bins
    mel[slotA[0]] += weightA[0] * dcPower;
    mel[slotB[0]] += weightB[0] * dcPower;
    for (let k = 1; k < used; k++) {
      const p = 2 * k;
      const q = wrap - p;
      const a = z[p];
      const b = z[p + 1];
      const cr = z[q];
      const ci = z[q + 1];
      const er = a + cr;
      const ei = b - ci;
      const or = b + ci;
      const oi = cr - a;
      const wr = cosT[k];
      const wi = sinT[k];
      const re = er + wr * or + wi * oi;
      const im = ei + wr * oi - wi * or;
      const power = re * re + im * im;
      mel[slotA[k]] += weightA[k] * power;
      mel[slotB[k]] += weightB[k] * power;
    }

    for (let m = 0; m < melBins; m++) {
      out[outOffset + m * outStride] = (Math.log(mel[m] + logOffset) + normAdd) / normDiv;
    }
  };

  return {
    recipe,
    melBins,
    bank,
    firstTap,
    lastTap: (t) => firstTap(t) + nTaps - 1,
    analyse,
  };
}
