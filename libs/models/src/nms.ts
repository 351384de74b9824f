import type { RawBox } from './raw-box';

type Box = readonly [number, number, number, number];

export function iou(a: Box, b: Box): number {
  const ix = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression within each label: a box survives unless a better-scoring
 * box of the same label overlaps it by more than `iouThreshold`. Different labels never
 * suppress each other, so a person on a bicycle keeps both. Result is best first.
 */
export function classAwareNms<T extends RawBox>(boxes: readonly T[], iouThreshold: number): T[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    const suppressed = kept.some(
      (k) => k.labelIndex === candidate.labelIndex && iou(k.box, candidate.box) > iouThreshold,
    );
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
