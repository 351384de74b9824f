/** Every label's score on every window of one item, as the deployed pipeline classifies them. */
export interface WindowScores {
  /** Seconds of audio decoded. */
  audioSec: number;
  /** Per window: stream time of its loudest frame, where its detection would be placed. */
  atSec: number[];
  /** Labels per window (the model's output size). */
  labels: number;
  /** Window-major: window w's label l is at w * labels + l. */
  scores: Float32Array;
  /**
   * The same for the longer context ending with each window (see WindowContextBuilder), where
   * the extractor was given one.
   */
  context?: Float32Array;
}

export type Combine = 'max' | 'noisy-or' | 'sum';

/** One class score per window from a label group, combined as the label-group mapper does. */
export function groupScores(
  w: WindowScores,
  indices: readonly number[],
  combine: Combine,
): Float64Array {
  const out = new Float64Array(w.atSec.length);
  for (let i = 0; i < out.length; i++) {
    const base = i * w.labels;
    let max = 0;
    let product = 1;
    let sum = 0;
    for (const index of indices) {
      const s = w.scores[base + index];
      max = Math.max(max, s);
      product *= 1 - s;
      sum += s;
    }
    out[i] = combine === 'max' ? max : combine === 'noisy-or' ? 1 - product : Math.min(1, sum);
  }
  return out;
}
