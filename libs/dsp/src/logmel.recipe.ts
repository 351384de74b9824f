/**
 * Every number that decides what a log-mel spectrogram looks like. A model only works on
 * the features it was trained on, so the recipe travels as one value instead of loose
 * constants.
 */
export interface LogMelRecipe {
  /** Hz; the front end never resamples, callers must deliver PCM at this rate. */
  sampleRate: number;
  /** Coefficient of y[n] = x[n+1] - c·x[n]; the output is one sample shorter than the input. */
  preEmphasis: number;
  nFft: number;
  hopLength: number;
  /** Symmetric Hann length, zero-padded and centred into nFft. */
  winLength: number;
  melBins: number;
  fMin: number;
  /** Kaldi convention: a value <= 0 means "this far below Nyquist". */
  fMax: number;
  logOffset: number;
  normAdd: number;
  normDiv: number;
}

/** EfficientAT mn04 (fschmid56/EfficientAT) front end, see shared/models/MODELS.md. */
export const EFFICIENTAT_RECIPE: LogMelRecipe = Object.freeze({
  sampleRate: 32000,
  preEmphasis: 0.97,
  nFft: 1024,
  hopLength: 320,
  winLength: 800,
  melBins: 128,
  fMin: 0,
  fMax: 15000,
  logOffset: 1e-5,
  normAdd: 4.5,
  normDiv: 5,
});

/**
 * Rejects recipes the kernels cannot honour, up front, so a typo in configuration fails at
 * start-up with a message instead of producing silently wrong features.
 */
export function assertValidRecipe(r: LogMelRecipe): void {
  const problems: string[] = [];
  const positiveInt = (name: keyof LogMelRecipe) => {
    const v = r[name];
    if (!Number.isInteger(v) || v <= 0)
      problems.push(`${name} must be a positive integer (got ${v})`);
  };
  positiveInt('sampleRate');
  positiveInt('nFft');
  positiveInt('hopLength');
  positiveInt('winLength');
  positiveInt('melBins');
  // The FFT is done as two complex FFTs of nFft/4 points, and fft.js needs at least 2.
  if (Number.isInteger(r.nFft) && (r.nFft < 8 || (r.nFft & (r.nFft - 1)) !== 0)) {
    problems.push(`nFft must be a power of two >= 8 (got ${r.nFft})`);
  }
  if (r.winLength > r.nFft) problems.push(`winLength ${r.winLength} exceeds nFft ${r.nFft}`);
  if (!Number.isFinite(r.preEmphasis)) problems.push('preEmphasis must be finite');
  if (!(r.logOffset > 0)) problems.push('logOffset must be > 0, or silence gives -Infinity');
  if (!Number.isFinite(r.normAdd)) problems.push('normAdd must be finite');
  if (!Number.isFinite(r.normDiv) || r.normDiv === 0)
    problems.push('normDiv must be finite and non-zero');
  if (problems.length > 0) throw new RangeError(`Invalid log-mel recipe: ${problems.join('; ')}`);
}

/**
 * Frames torch.stft(center=True) yields for `samples` raw PCM samples: 1 + floor(len/hop)
 * over the pre-emphasised length len = samples - 1, i.e. 1 + floor((samples-1)/hop).
 */
export function frameCountFor(recipe: LogMelRecipe, samples: number): number {
  const len = samples - 1;
  if (!(len >= 1)) return 0;
  return 1 + Math.floor(len / recipe.hopLength);
}
