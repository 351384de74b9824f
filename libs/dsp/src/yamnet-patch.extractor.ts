import FFT from 'fft.js';
import { patchSamples, type YamnetRecipe } from './yamnet.recipe';

/** One stream's frames already computed, by the stream index of their first sample. */
export class YamnetFrameCache {
  readonly frames = new Map<number, Int8Array>();
}

/**
 * One YAMNet input patch (frames × melBins, frame-major, as the model reads `[N, 96, 64]`) from
 * raw PCM, already on the model's int8 input grid. Shipping the int8 codes costs a quarter of
 * the floats' bytes and loses nothing: the model's first op quantizes to exactly these codes.
 */
export class YamnetPatchExtractor {
  readonly samples: number;
  private readonly fft: FFT;
  private readonly window: Float64Array;
  /**
   * The mel matrix, sparse: a bin feeds at most two neighbouring triangles, so per bin in
   * [firstBin, lastBin] it keeps its first band and two weights (the second may be 0).
   */
  private readonly band: Int32Array;
  private readonly weightA: Float64Array;
  private readonly weightB: Float64Array;
  private readonly firstBin: number;
  private readonly lastBin: number;
  private readonly frame: Float64Array;
  private readonly spectrum: Float64Array;
  private readonly mel: Float64Array;

  constructor(readonly recipe: YamnetRecipe) {
    const { nFft, winLength } = recipe;
    if (!(nFft >= winLength && (nFft & (nFft - 1)) === 0)) {
      throw new RangeError(`nFft ${nFft} must be a power of two >= winLength ${winLength}`);
    }
    this.samples = patchSamples(recipe);
    this.fft = new FFT(nFft);
    this.window = periodicHann(winLength);
    const matrix = tfMelMatrix(recipe);
    const bins = (nFft >> 1) + 1;
    let first = bins;
    let last = -1;
    for (let k = 0; k < bins; k++) {
      for (let m = 0; m < recipe.melBins; m++) {
        if (matrix[k * recipe.melBins + m] > 0) {
          first = Math.min(first, k);
          last = Math.max(last, k);
        }
      }
    }
    this.firstBin = first;
    this.lastBin = last;
    this.band = new Int32Array(bins);
    this.weightA = new Float64Array(bins);
    this.weightB = new Float64Array(bins);
    for (let k = first; k <= last; k++) {
      const bands: number[] = [];
      for (let m = 0; m < recipe.melBins; m++)
        if (matrix[k * recipe.melBins + m] > 0) bands.push(m);
      if (bands.length > 2 || (bands.length === 2 && bands[1] !== bands[0] + 1))
        throw new Error(`bin ${k} feeds bands ${bands.join(', ')}: not a triangle bank`);
      // A bin past the top band's reach in no band at all still gets weights of 0.
      const m = bands[0] ?? 0;
      this.band[k] = Math.min(m, recipe.melBins - 2);
      this.weightA[k] = matrix[k * recipe.melBins + this.band[k]];
      this.weightB[k] = matrix[k * recipe.melBins + this.band[k] + 1];
    }
    this.frame = new Float64Array(nFft);
    this.spectrum = new Float64Array(2 * nFft);
    this.mel = new Float64Array(recipe.melBins);
  }

  /**
   * The patch whose first frame starts at `pcm[start]`; samples outside `pcm` read as silence
   * (the ends of a stream, as YAMNet pads its last patch).
   *
   * A stream's patches overlap: YAMNet reads 0.975 s for every 0.5 s window hop, so half of
   * each patch's frames were the previous one's. Given the stream's `cache` and the stream
   * index of `pcm[0]` (`origin`), frames already computed are copied, not computed again:
   * the same numbers, for half the cost.
   */
  extract(pcm: Float32Array, start: number, cache?: YamnetFrameCache, origin = 0): Int8Array {
    const { frames, melBins, hopLength } = this.recipe;
    const out = new Int8Array(frames * melBins);
    for (let t = 0; t < frames; t++) {
      const first = start + t * hopLength;
      const known = cache?.frames.get(origin + first);
      if (known) {
        out.set(known, t * melBins);
        continue;
      }
      this.analyse(pcm, first, out, t * melBins);
      cache?.frames.set(origin + first, out.slice(t * melBins, (t + 1) * melBins));
    }
    // Later patches start later: frames before this one's are not read again.
    if (cache)
      for (const at of cache.frames.keys()) if (at < origin + start) cache.frames.delete(at);
    return out;
  }

  private analyse(pcm: Float32Array, first: number, out: Int8Array, offset: number): void {
    const { melBins, winLength, logOffset, magnitudeScale, quantScale, quantZeroPoint } =
      this.recipe;
    for (let n = 0; n < winLength; n++) {
      const j = first + n;
      this.frame[n] = j >= 0 && j < pcm.length ? this.window[n] * pcm[j] : 0;
    }
    this.fft.realTransform(this.spectrum, this.frame);
    this.mel.fill(0);
    for (let k = this.firstBin; k <= this.lastBin; k++) {
      const re = this.spectrum[2 * k];
      const im = this.spectrum[2 * k + 1];
      const magnitude = magnitudeScale * Math.sqrt(re * re + im * im);
      const m = this.band[k];
      this.mel[m] += magnitude * this.weightA[k];
      this.mel[m + 1] += magnitude * this.weightB[k];
    }
    for (let m = 0; m < melBins; m++) {
      const q = Math.round(Math.log(this.mel[m] + logOffset) / quantScale) + quantZeroPoint;
      out[offset + m] = Math.max(-128, Math.min(127, q));
    }
  }
}

function periodicHann(length: number): Float64Array {
  const w = new Float64Array(length);
  for (let n = 0; n < length; n++) w[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / length);
  return w;
}

/**
 * tf.signal.linear_to_mel_weight_matrix with the HTK mel scale: [nFft/2 + 1, melBins], bin-major,
 * the DC bin zero. Bins are placed at k · rate/nFft, so the 32 kHz recipe's first nFft/4 + 1 bins
 * are the 16 kHz recipe's bins exactly.
 */
export function tfMelMatrix(recipe: YamnetRecipe): Float64Array {
  const { nFft, sampleRate, melBins, fMin, fMax } = recipe;
  const bins = (nFft >> 1) + 1;
  const mel = (hz: number) => 1127 * Math.log(1 + hz / 700);
  const lo = mel(fMin);
  const step = (mel(fMax) - lo) / (melBins + 1);
  const out = new Float64Array(bins * melBins);
  for (let k = 1; k < bins; k++) {
    const m = mel((k * sampleRate) / nFft);
    for (let b = 0; b < melBins; b++) {
      const lower = lo + b * step;
      const centre = lower + step;
      const upper = centre + step;
      const w = Math.min((m - lower) / (centre - lower), (upper - m) / (upper - centre));
      if (w > 0) out[k * melBins + b] = w;
    }
  }
  return out;
}
