/**
 * Kaldi triangular mel filters, reproducing torchaudio.compliance.kaldi.get_mel_banks
 * (vtln_warp_factor = 1, so no warping) plus the zero column EfficientAT appends for the
 * Nyquist bin.
 *
 * Each filter covers at most a few dozen of the nFft/2 + 1 bins, so the bank is stored sparse:
 * for EfficientAT 947 of the 128 x 513 weights are non-zero, and a dense multiply would spend
 * over 98 % of its time on zeros.
 */
export interface SparseMelBank {
  melBins: number;
  /** nFft/2 + 1, the spectrum length the bank is defined over. */
  spectrumBins: number;
  /** First FFT bin with a non-zero weight, per filter. */
  start: Int32Array;
  /** Number of consecutive weights, per filter (0 for a filter narrower than a bin). */
  length: Int32Array;
  /** Where each filter's weights begin in `weights`. */
  offset: Int32Array;
  weights: Float64Array;
  /** One past the highest bin any filter reads: power beyond it never needs computing. */
  usedBins: number;
}

export function kaldiMelScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

export interface MelBankSpec {
  melBins: number;
  nFft: number;
  sampleRate: number;
  fMin: number;
  fMax: number;
}

/** Full [melBins x (nFft/2 + 1)] matrix, row-major; for tests and as the dense reference. */
export function kaldiMelMatrix(spec: MelBankSpec): Float64Array {
  const { melBins, nFft, sampleRate } = spec;
  const fftBins = nFft >> 1; // Kaldi builds the triangles over bins 0..nFft/2-1 only.
  const nyquist = 0.5 * sampleRate;
  const lowFreq = spec.fMin;
  const highFreq = spec.fMax <= 0 ? spec.fMax + nyquist : spec.fMax;
  if (!(
    lowFreq >= 0 &&
    lowFreq < nyquist &&
    highFreq > 0 &&
    highFreq <= nyquist &&
    lowFreq < highFreq
  )) {
    throw new RangeError(
      `Bad mel frequency range [${spec.fMin}, ${spec.fMax}] Hz for sample rate ${sampleRate}: ` +
        'need 0 <= fMin < fMax <= Nyquist (fMax <= 0 counts down from Nyquist)',
    );
  }
  const binWidth = sampleRate / nFft;
  const melLow = kaldiMelScale(lowFreq);
  const melHigh = kaldiMelScale(highFreq);
  const melDelta = (melHigh - melLow) / (melBins + 1);

  const rowLen = fftBins + 1;
  const out = new Float64Array(melBins * rowLen); // last column stays 0: EfficientAT's pad.
  for (let m = 0; m < melBins; m++) {
    const left = melLow + m * melDelta;
    const centre = melLow + (m + 1) * melDelta;
    const right = melLow + (m + 2) * melDelta;
    for (let k = 0; k < fftBins; k++) {
      const mel = kaldiMelScale(binWidth * k);
      const up = (mel - left) / (centre - left);
      const down = (right - mel) / (right - centre);
      out[m * rowLen + k] = Math.max(0, Math.min(up, down));
    }
  }
  return out;
}

export function kaldiSparseMelBank(spec: MelBankSpec): SparseMelBank {
  const dense = kaldiMelMatrix(spec);
  const rowLen = (spec.nFft >> 1) + 1;
  const { melBins } = spec;
  const start = new Int32Array(melBins);
  const length = new Int32Array(melBins);
  const offset = new Int32Array(melBins);
  const chunks: number[] = [];
  let usedBins = 0;
  for (let m = 0; m < melBins; m++) {
    const row = m * rowLen;
    let first = -1;
    let last = -1;
    for (let k = 0; k < rowLen; k++) {
      if (dense[row + k] !== 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    offset[m] = chunks.length;
    if (first < 0) continue;
    start[m] = first;
    length[m] = last - first + 1;
    // Interior zeros cannot occur in a triangle, so the run from first to last is exact.
    for (let k = first; k <= last; k++) chunks.push(dense[row + k]);
    usedBins = Math.max(usedBins, last + 1);
  }
  return {
    melBins,
    spectrumBins: rowLen,
    start,
    length,
    offset,
    weights: Float64Array.from(chunks),
    usedBins,
  };
}
