import { FrameAnalyzer, frameAnalyzerFor } from './frame.analyzer';
import { frameCountFor, LogMelRecipe } from './logmel.recipe';

/**
 * Whole-signal log-mel, laid out like the model input and the reference fixtures:
 * mel-major, [melBins x frames].
 *
 * Signals of 2..513 raw samples are shorter than torch's reflect pad and torch would reject
 * them; they are padded by reflecting back and forth instead (see reflect.padding.ts). Fewer
 * than 2 samples leave nothing after pre-emphasis and give zero frames.
 */
export class LogMelExtractor {
  private readonly analyzer: FrameAnalyzer;

  constructor(recipe: LogMelRecipe) {
    this.analyzer = frameAnalyzerFor(recipe);
  }

  get recipe(): LogMelRecipe {
    return this.analyzer.recipe;
  }

  /** Frames for `samples` raw PCM samples: 1 + floor((samples - 1) / hop), 0 below 2 samples. */
  frameCount(samples: number): number {
    return frameCountFor(this.analyzer.recipe, samples);
  }

  compute(pcm: Float32Array): Float32Array {
    const frames = this.frameCount(pcm.length);
    const out = new Float32Array(this.analyzer.melBins * frames);
    const len = pcm.length - 1;
    for (let t = 0; t < frames; t++) this.analyzer.analyse(pcm, 0, len, t, out, t, frames);
    return out;
  }
}
