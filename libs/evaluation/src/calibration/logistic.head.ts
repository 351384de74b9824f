/**
 * A linear decision head over a label group's logits: score = sigmoid(bias + Σ wᵢ·logit(pᵢ)),
 * run by the models' label-group mapper (`logisticHead`); the features given to the fit must be
 * the same clipped logits (`logit` of @app/models).
 */
export interface LogisticHead {
  weights: number[];
  bias: number;
}

/**
 * L2-regularised logistic regression with balanced class weights, fitted by Newton's method
 * on standardised features (a handful of group logits: the Hessian is tiny). `c` is the
 * inverse regularisation strength, as scikit-learn's C. The returned head works on raw
 * logits, divided by `temperature` so its useful thresholds sit inside (0.005, 0.95).
 */
export function fitLogistic(
  rows: readonly ArrayLike<number>[],
  labels: readonly (0 | 1)[],
  c: number,
  temperature = 3,
): LogisticHead {
  const d = rows[0]?.length ?? 0;
  const n = rows.length;
  const positives = labels.filter((y) => y === 1).length;
  if (positives === 0 || positives === n)
    throw new Error('a head needs both positive and negative windows');
  const mean = new Float64Array(d);
  const sd = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j] += row[j] / n;
  for (const row of rows) for (let j = 0; j < d; j++) sd[j] += (row[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]) + 1e-6;
  const weightOf = [n / (2 * (n - positives)), n / (2 * positives)];
  // theta[0..d-1] weights on standardised features, theta[d] intercept (not penalised).
  const theta = new Float64Array(d + 1);
  const x = new Float64Array(d + 1);
  for (let iteration = 0; iteration < 50; iteration++) {
    const gradient = new Float64Array(d + 1);
    const hessian = Array.from({ length: d + 1 }, () => new Float64Array(d + 1));
    for (let j = 0; j < d; j++) {
      gradient[j] = theta[j] / c;
      hessian[j][j] = 1 / c;
    }
    rows.forEach((row, i) => {
      for (let j = 0; j < d; j++) x[j] = (row[j] - mean[j]) / sd[j];
      x[d] = 1;
      let z = 0;
      for (let j = 0; j <= d; j++) z += theta[j] * x[j];
      const p = 1 / (1 + Math.exp(-z));
      const w = weightOf[labels[i]];
      const g = w * (p - labels[i]);
      const h = w * p * (1 - p);
      for (let j = 0; j <= d; j++) {
        gradient[j] += g * x[j];
        for (let k = 0; k <= j; k++) hessian[j][k] += h * x[j] * x[k];
      }
    });
    for (let j = 0; j <= d; j++) for (let k = j + 1; k <= d; k++) hessian[j][k] = hessian[k][j];
    const step = solve(hessian, gradient);
    let largest = 0;
    for (let j = 0; j <= d; j++) {
      theta[j] -= step[j];
      largest = Math.max(largest, Math.abs(step[j]));
    }
    if (largest < 1e-8) break;
  }
  const weights = Array.from({ length: d }, (_, j) => theta[j] / sd[j] / temperature);
  const bias =
    (theta[d] - weights.reduce((s, w, j) => s + w * temperature * mean[j], 0)) / temperature;
  return { weights, bias };
}

/** Gaussian elimination with partial pivoting: the Newton step H⁻¹g. */
function solve(matrix: Float64Array[], vector: Float64Array): Float64Array {
  const n = vector.length;
  const a = matrix.map((row, i) => [...row, vector[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    for (let r = col + 1; r < n; r++) {
      const f = a[r][col] / a[col][col];
      for (let k = col; k <= n; k++) a[r][k] -= f * a[col][k];
    }
  }
  const out = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = a[r][n];
    for (let k = r + 1; k < n; k++) s -= a[r][k] * out[k];
    out[r] = s / a[r][r];
  }
  return out;
}
