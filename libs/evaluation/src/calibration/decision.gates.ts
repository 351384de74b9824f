import { ClassDecider, logit, sigmoid } from '@app/models';

/**
 * The inference stage's decisions over time (ClassDecider), as transforms of one class's
 * window scores, so calibration counts the detections the product would report rather than
 * every window over the threshold. Each item runs as its own stream, as `vigil eval` runs it.
 */

export interface BaselinePolicy {
  windows: number;
  minWindows: number;
  marginLogit: number;
  ceiling: number;
}

/**
 * A window under its stream's ambient bar scores 0. The bar (ClassDecider's own, run here) does
 * not depend on the class threshold, so the gate is exact for every threshold swept.
 */
export function baselineGate(scores: ArrayLike<number>, policy: BaselinePolicy): Float64Array {
  const decider = new ClassDecider({ baseline: policy });
  return Float64Array.from(scores, (score, w) => {
    const passed = decider.decide(w, [{ cls: 'glass_break', score, threshold: 0, labels: [] }]);
    return passed.length > 0 ? score : 0;
  });
}

/**
 * One impulse, one class (ClassDecider's exclusive groups): a window loses to a rival class of
 * its group, already decided (its gated scores and threshold), that passed within `withinSec`
 * with a larger margin over its threshold, in logits. The window's score is lowered by that
 * margin, so it passes any threshold exactly when its own margin beats the rival's.
 */
export function exclusivityGate(
  scores: ArrayLike<number>,
  atSec: readonly number[],
  rival: { scores: ArrayLike<number>; threshold: number },
  withinSec: number,
): Float64Array {
  const out = Float64Array.from(scores);
  const rivalLogit = logit(rival.threshold);
  for (let w = 0; w < out.length; w++) {
    let margin = -Infinity;
    for (let r = 0; r < rival.scores.length; r++) {
      if (Math.abs(atSec[r]! - atSec[w]!) > withinSec || rival.scores[r]! < rival.threshold)
        continue;
      margin = Math.max(margin, logit(rival.scores[r]!) - rivalLogit);
    }
    if (margin > 0) out[w] = sigmoid(logit(out[w]!) - margin);
  }
  return out;
}
