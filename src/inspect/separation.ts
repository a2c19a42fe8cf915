/**
 * How well a projection keeps the classes apart and the neighbourhoods intact: k-nearest-neighbour
 * accuracy (leave-one-out) in the projection and in the full space, and trustworthiness (Venna &
 * Kaski 2001, scikit-learn's `sklearn.manifold.trustworthiness`).
 */

/** The measures of one projection. */
export interface Separation {
  /** The k of both measures. */
  k: number;
  /** kNN accuracy (leave-one-out) in the full space, in [0, 1]. */
  knnFull: number;
  /** kNN accuracy (leave-one-out) in the projection, in [0, 1]. */
  knnProjected: number;
  /** Trustworthiness of the projection, in [0, 1] (1: every projected neighbour was a neighbour). */
  trustworthiness: number;
}

function rows(v: ArrayLike<number>, dim: number, who: string): number {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new Error(`${who}: dim must be a whole number ≥ 1, got ${dim}`);
  }
  if (v.length % dim !== 0) {
    throw new Error(`${who}: ${v.length} numbers are not a whole number of ${dim}-vectors`);
  }
  return v.length / dim;
}

/** @internal Squared Euclidean distances from vector i to each of the first n vectors (X is n × dim, row-major). */
export function squaredDistanceRow(
  X: ArrayLike<number>,
  dim: number,
  i: number,
  n: number,
  out: Float64Array,
): void {
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let c = 0; c < dim; c++) {
      const d = X[i * dim + c] - X[j * dim + c];
      s += d * d;
    }
    out[j] = s;
  }
}

/** The row as `squaredDistanceRow` gives it, with the point itself at Infinity (never its own neighbour). */
function sqDistRow(X: ArrayLike<number>, dim: number, i: number, n: number, out: Float64Array): void {
  squaredDistanceRow(X, dim, i, n, out);
  out[i] = Infinity;
}

/** The k smallest of a row (indices, nearest first; ties: the lower index first). */
function nearest(d: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < d.length; j++) {
    if (best.length === k && d[j] >= d[best[k - 1]]) continue;
    let at = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(j);
    while (at > 0 && d[best[at - 1]] > d[j]) {
      best[at] = best[at - 1];
      at--;
    }
    best[at] = j;
  }
  return best;
}

/** The majority label of some neighbours (a tie: the smallest label, as scikit-learn's vote). */
function vote(labels: ArrayLike<number>, idx: number[]): number {
  const count = new Map<number, number>();
  for (const j of idx) count.set(labels[j], (count.get(labels[j]) ?? 0) + 1);
  let best = Infinity, bestN = 0;
  for (const [l, c] of count) if (c > bestN || (c === bestN && l < best)) best = l, bestN = c;
  return best;
}

function checkK(k: number, n: number, who: string): void {
  if (!Number.isInteger(k) || k < 1) throw new Error(`${who}: k must be a whole number ≥ 1, got ${k}`);
  if (k >= n / 2) throw new Error(`${who}: k (${k}) must be below half the number of points (${n})`);
}

/**
 * k-nearest-neighbour accuracy, leave-one-out: the fraction of points whose label is the majority
 * label of their k nearest other points (Euclidean; a tied vote goes to the smallest label, as
 * scikit-learn's `KNeighborsClassifier`).
 *
 * @example
 * ```ts
 * import { knnAccuracy } from "glassbox";
 * // two clusters on a line, far apart: every point's neighbours share its label
 * const x = new Float32Array([0, 0.1, 0.2, 0.3, 10, 10.1, 10.2, 10.3]);
 * if (knnAccuracy(x, 1, [0, 0, 0, 0, 1, 1, 1, 1], 3) !== 1) throw new Error();
 * ```
 */
export function knnAccuracy(
  vectors: ArrayLike<number>,
  dim: number,
  labels: ArrayLike<number>,
  k = 5,
): number {
  const n = rows(vectors, dim, "knnAccuracy");
  if (labels.length !== n) throw new Error(`knnAccuracy: ${labels.length} labels for ${n} points`);
  checkK(k, n, "knnAccuracy");
  const d = new Float64Array(n);
  let right = 0;
  for (let i = 0; i < n; i++) {
    sqDistRow(vectors, dim, i, n, d);
    if (vote(labels, nearest(d, k)) === labels[i]) right++;
  }
  return right / n;
}

/**
 * Trustworthiness of a projection Y of X (Venna & Kaski 2001; scikit-learn's definition):
 * T(k) = 1 − 2 / (n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ Uᵢ(k)} (r(i, j) − k), where Uᵢ(k) are i's k nearest
 * neighbours in Y that are not among its k nearest in X and r(i, j) is j's rank (1 = nearest)
 * among i's neighbours in X. 1 means no projected neighbour is a stranger in the full space.
 *
 * @example
 * ```ts
 * import { trustworthiness } from "glassbox";
 * const x = new Float32Array([0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0]); // a line in 2-D
 * const y = new Float32Array([0, 1, 2, 3, 4, 5]);                   // the same line in 1-D
 * if (trustworthiness(x, 2, y, 1, 2) !== 1) throw new Error("an isometry keeps every neighbour");
 * ```
 */
export function trustworthiness(
  X: ArrayLike<number>,
  dimX: number,
  Y: ArrayLike<number>,
  dimY: number,
  k = 5,
): number {
  const n = rows(X, dimX, "trustworthiness");
  if (rows(Y, dimY, "trustworthiness") !== n) {
    throw new Error(`trustworthiness: ${n} points in the full space but ${Y.length / dimY} projected`);
  }
  checkK(k, n, "trustworthiness");
  const dx = new Float64Array(n), dy = new Float64Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    sqDistRow(X, dimX, i, n, dx);
    sqDistRow(Y, dimY, i, n, dy);
    for (const j of nearest(dy, k)) {
      let rank = 1;
      for (let l = 0; l < n; l++) if (dx[l] < dx[j] || (dx[l] === dx[j] && l < j)) rank++;
      if (rank > k) t += rank - k;
    }
  }
  return 1 - t * (2 / (n * k * (2 * n - 3 * k - 1)));
}

/**
 * Both measures of a projection at once: kNN accuracy in the full space and in the projection,
 * and trustworthiness, with the same k (default 5).
 *
 * @example
 * ```ts
 * import { separation } from "glassbox";
 * const x = new Float32Array([0, 0.1, 0.2, 0.3, 10, 10.1, 10.2, 10.3]);
 * const s = separation(x, 1, x, 1, [0, 0, 0, 0, 1, 1, 1, 1], 3);
 * if (s.knnFull !== 1 || s.knnProjected !== 1 || s.trustworthiness !== 1) throw new Error();
 * ```
 */
export function separation(
  X: ArrayLike<number>,
  dimX: number,
  Y: ArrayLike<number>,
  dimY: number,
  labels: ArrayLike<number>,
  k = 5,
): Separation {
  return {
    k,
    knnFull: knnAccuracy(X, dimX, labels, k),
    knnProjected: knnAccuracy(Y, dimY, labels, k),
    trustworthiness: trustworthiness(X, dimX, Y, dimY, k),
  };
}
