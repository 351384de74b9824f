import type { LabelledEvent } from '../eval-labels';

/** What one threshold does on one item, for one class. */
export interface Tally {
  events: number;
  hits: number;
  /** Detections that hit no labelled span of the class. */
  falseDetections: number;
}

export interface SweepItem {
  /** Spans of the class being calibrated (empty: a negative for it). */
  events: readonly LabelledEvent[];
  atSec: readonly number[];
  scores: ArrayLike<number>;
}

/**
 * The pipeline's decision replayed offline for one class: windows at or above the threshold
 * become detections, detections closer than `gapSec` merge into a segment that starts at the
 * first one (the DetectionSegmenter), and a segment hits a span when it starts within
 * `toleranceSec` of it (the eval scorer). One pass per threshold; thresholds in any order.
 */
export function sweepItem(
  item: SweepItem,
  thresholds: readonly number[],
  gapSec = 1,
  toleranceSec = 1,
): Tally[] {
  return thresholds.map((threshold) => {
    const starts: number[] = [];
    let end = -Infinity;
    for (let i = 0; i < item.atSec.length; i++) {
      if (item.scores[i] < threshold) continue;
      const at = item.atSec[i];
      if (starts.length > 0 && at - end <= gapSec) {
        end = Math.max(end, at);
        continue;
      }
      starts.push(at);
      end = at;
    }
    let hits = 0;
    const matched = new Set<number>();
    for (const event of item.events) {
      let hit = false;
      starts.forEach((start, k) => {
        if (start >= event.start - toleranceSec && start <= event.end + toleranceSec) {
          matched.add(k);
          hit = true;
        }
      });
      if (hit) hits += 1;
    }
    return { events: item.events.length, hits, falseDetections: starts.length - matched.size };
  });
}

/** Candidate thresholds evenly spaced in logit space: scores of rare classes live near zero. */
export function logitGrid(from = 0.005, to = 0.95, steps = 90): number[] {
  const logit = (p: number) => Math.log(p / (1 - p));
  const a = logit(from);
  const b = logit(to);
  return Array.from(
    { length: steps },
    (_, i) => 1 / (1 + Math.exp(-(a + ((b - a) * i) / (steps - 1)))),
  );
}
