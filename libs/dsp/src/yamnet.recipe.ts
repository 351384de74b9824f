/**
 * YAMNet's front end (TF-Hub yamnet/classification, as its TFLite graph computes it): a
 * magnitude spectrogram of 25 ms periodic-Hann frames every 10 ms, TensorFlow's HTK mel matrix
 * (64 bands, 125–7500 Hz, no area normalisation), ln(mel + 0.001), in patches of 96 frames
 * (0.975 s). The model quantizes its input to int8 on this grid before the first convolution.
 *
 * YAMNet is trained on 16 kHz audio. Vigil's audio is 32 kHz, so the recipe doubles the frame
 * and FFT lengths instead of resampling: the FFT bins fall on the same frequencies (31.25 Hz
 * apart), and a band-limited signal sampled twice as often gives twice the magnitude, which
 * `magnitudeScale` undoes. Above 8 kHz the 32 kHz spectrum differs, but no band reads it.
 */
export interface YamnetRecipe {
  sampleRate: number;
  winLength: number;
  hopLength: number;
  nFft: number;
  /** Frames per patch. */
  frames: number;
  melBins: number;
  fMin: number;
  fMax: number;
  logOffset: number;
  magnitudeScale: number;
  /** The model's input quantization: q = round(v / scale) + zeroPoint, clamped to int8. */
  quantScale: number;
  quantZeroPoint: number;
}

export const YAMNET_RECIPE: YamnetRecipe = Object.freeze({
  sampleRate: 32000,
  winLength: 800,
  hopLength: 320,
  nFft: 1024,
  frames: 96,
  melBins: 64,
  fMin: 125,
  fMax: 7500,
  logOffset: 0.001,
  magnitudeScale: 0.5,
  quantScale: 0.048020608723163605,
  quantZeroPoint: 16,
});

/** The same front end at YAMNet's native rate, where it matches the TFLite graph exactly. */
export const YAMNET_RECIPE_16K: YamnetRecipe = Object.freeze({
  ...YAMNET_RECIPE,
  sampleRate: 16000,
  winLength: 400,
  hopLength: 160,
  nFft: 512,
  magnitudeScale: 1,
});

/** Raw samples one patch reads: (frames - 1) hops plus one frame. */
export function patchSamples(recipe: YamnetRecipe): number {
  return (recipe.frames - 1) * recipe.hopLength + recipe.winLength;
}
