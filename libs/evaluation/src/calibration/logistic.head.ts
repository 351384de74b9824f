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
 *
 * The head is monotone: no weight is negative. Every label of a group is evidence for its
 * class, so a louder "Smoke detector" must never lower the alarm score. Left free, a head
 * fitted on a corpus whose alarms are mostly klaxons and bells learnt exactly that, and missed
 * a real smoke alarm. A feature whose weight comes out negative is held at 0 and the rest
 * refitted (an active set), until none is.
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
  const free = Array.from({ length: d }, (_, j) => j);
  let theta = newton(rows, labels, c, mean, sd, weightOf, free);
  for (;;) {
    const negative = free.filter((j) => theta[j] < 0);
    if (negative.length === 0) break;
    const worst = negative.reduce((a, b) => (theta[b] < theta[a] ? b : a));
    free.splice(free.indexOf(worst), 1);
    theta = newton(rows, labels, c, mean, sd, weightOf, free);
  }
  const weights = Array.from({ length: d }, (_, j) => theta[j] / sd[j] / temperature);
  const bias =
    (theta[d] - weights.reduce((s, w, j) => s + w * temperature * mean[j], 0)) / temperature;
  return { weights, bias };
}

/**
 * The penalised fit over the `free` standardised features and the intercept (`theta[d]`, not
 * penalised); every other weight stays 0.
 */
function newton(
  rows: readonly ArrayLike<number>[],
  labels: readonly (0 | 1)[],
  c: number,
  mean: Float64Array,
  sd: Float64Array,
  weightOf: number[],
  free: readonly number[],
): Float64Array {
  const d = mean.length;
  const vars = [...free, d];
  const m = vars.length;
  const theta = new Float64Array(d + 1);
  const x = new Float64Array(d + 1);
  for (let iteration = 0; iteration < 50; iteration++) {
    const gradient = new Float64Array(m);
    const hessian = Array.from({ length: m }, () => new Float64Array(m));
    for (let a = 0; a < m - 1; a++) {
      gradient[a] = theta[vars[a]] / c;
      hessian[a][a] = 1 / c;
    }
    rows.forEach((row, i) => {
      for (let j = 0; j < d; j++) x[j] = (row[j] - mean[j]) / sd[j];
      x[d] = 1;
      let z = 0;
      for (const j of vars) z += theta[j] * x[j];
      const p = 1 / (1 + Math.exp(-z));
      const w = weightOf[labels[i]];
      const g = w * (p - labels[i]);
      const h = w * p * (1 - p);
      for (let a = 0; a < m; a++) {
        gradient[a] += g * x[vars[a]];
        for (let b = 0; b <= a; b++) hessian[a][b] += h * x[vars[a]] * x[vars[b]];
      }
    });
    for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++) hessian[a][b] = hessian[b][a];
    const step = solve(hessian, gradient);
    let largest = 0;
    for (let a = 0; a < m; a++) {
      theta[vars[a]] -= step[a];
      largest = Math.max(largest, Math.abs(step[a]));
    }
    if (largest < 1e-8) break;
  }
  return theta;
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
