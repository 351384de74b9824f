const CLIP = 1e-5;

/**
 * Log-odds of a probability, clipped to [1e-5, 1 - 1e-5] so a saturated score stays finite.
 * One definition for the heads (fitted and run) and the per-stream baseline, so they agree.
 */
export function logit(p: number): number {
  const q = Math.min(1 - CLIP, Math.max(CLIP, p));
  return Math.log(q / (1 - q));
}

/** Logistic function, written so large |x| neither overflows exp nor loses the small tail. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
