/**
 * The embedding projector's projections: N vectors of `dim` numbers down to 2 or 3 coordinates
 * by PCA (covariance on the GPU, exact eigen-decomposition in float64), exact t-SNE (van der
 * Maaten & Hinton 2008, scikit-learn's `method="exact"` schedule) or UMAP (McInnes et al. 2018,
 * through Google PAIR's `umap-js`).
 */
// A full specifier (pinned like the import map's) so scripts outside this folder can import mod.ts.
// deno-lint-ignore no-import-prefix
import { UMAP } from "npm:umap-js@1.4.0";
import { tensor } from "../tensor/create.ts";
import { symmetricEigen } from "../tensor/linalg.ts";
import { matmul } from "../tensor/ops/matmul.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { sub } from "../tensor/ops/elementwise.ts";
import { transpose } from "../tensor/ops/shape.ts";
import { Generator } from "../tensor/random.ts";
import { bhKlGradient, tsneSparseAffinities } from "./barnes_hut.ts";
import { squaredDistanceRow } from "./separation.ts";
import { scope } from "../tensor/scope.ts";

/** A projection method. */
export type ProjectionMethod = "pca" | "tsne" | "umap";

/** The methods `project` knows, in the order a page lists them. */
export const PROJECTION_METHODS: readonly ProjectionMethod[] = ["pca", "tsne", "umap"];

/** Options of `project`. */
export interface ProjectOptions {
  /** "pca", "tsne" or "umap". */
  method: ProjectionMethod;
  /** 2 or 3 output coordinates. */
  dims: 2 | 3;
  /** The seed of t-SNE's and UMAP's random numbers (default 0): the same seed, the same picture. */
  seed?: number;
  /** t-SNE's perplexity, the effective number of neighbours (default 30; must be below N). */
  perplexity?: number;
  /** UMAP's number of neighbours (default 15). */
  nNeighbors?: number;
  /** UMAP's minimum distance between embedded points (default 0.1). */
  minDist?: number;
  /** t-SNE's maximum iterations (default 1000, at least 250) or UMAP's epochs (default umap-js's: 500, or 200 from 10,000 points). */
  iterations?: number;
  /**
   * t-SNE's gradient: "exact" (default; every pair, O(N²) a step) or "barnes-hut" (sparse P over
   * ⌊3·perplexity + 1⌋ neighbours, tree-approximated repulsion, O(N log N) a step), as
   * scikit-learn's `method`.
   */
  tsneMethod?: "exact" | "barnes-hut";
  /** Barnes–Hut's angle θ (default 0.5, as scikit-learn; 0 is exact). */
  angle?: number;
  /** t-SNE's initial layout: "pca" (default, as scikit-learn) or "random". */
  init?: "pca" | "random";
  /** Called now and then with the iterations done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** What a projection reports besides its coordinates. */
export interface ProjectionInfo {
  /** The method that made it. */
  method: ProjectionMethod;
  /** PCA: the fraction of the total variance each output coordinate explains, largest first. */
  explainedVarianceRatio?: number[];
  /** PCA: the principal axes, `dims` rows of `dim` numbers (row-major). */
  components?: Float64Array;
  /** t-SNE: the final KL divergence KL(P‖Q) in nats (as scikit-learn's `kl_divergence_`). */
  kl?: number;
  /** t-SNE: the learning rate, scikit-learn's "auto": max(N / 12 / 4, 50). */
  learningRate?: number;
  /** t-SNE: the iterations run (early stopping may end sooner); UMAP: the epochs. */
  iterations?: number;
  /** Wall time of the projection, in seconds. */
  seconds: number;
}

/** The output of `project`. */
export interface Projection {
  /** N × dims coordinates, row-major. */
  coords: Float32Array;
  /** 2 or 3. */
  dims: 2 | 3;
  /** What the method reports. */
  info: ProjectionInfo;
}

function checkVectors(vectors: Float32Array, dim: number, who: string): number {
  if (!(vectors instanceof Float32Array)) throw new Error(`${who}: vectors must be a Float32Array`);
  if (!Number.isInteger(dim) || dim < 1) {
    throw new Error(`${who}: dim must be a whole number ≥ 1, got ${dim}`);
  }
  if (vectors.length % dim !== 0) {
    throw new Error(`${who}: ${vectors.length} numbers are not a whole number of ${dim}-vectors`);
  }
  const bad = vectors.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new Error(`${who}: vector ${Math.floor(bad / dim)} holds a non-finite value (${vectors[bad]})`);
  }
  return vectors.length / dim;
}

/**
 * Projects N vectors (row-major, `dim` numbers each) to 2 or 3 coordinates.
 *
 * - PCA: the vectors are centred and their covariance XᵀX/(N−1) computed on the GPU (or the Gram
 *   matrix XXᵀ when dim > N), then eigen-decomposed exactly in float64 (cyclic Jacobi). Each axis's
 *   sign follows scikit-learn's `svd_flip`: its largest-|value| loading is positive. `info`
 *   gives the explained variance ratios.
 * - t-SNE: exact (O(N²) a step, on the CPU in float64: on this machine's software GPU the pairwise
 *   sums gain nothing, and float64 keeps the KL comparable with scikit-learn's): squared Euclidean
 *   distances, per-point bandwidths by binary search to the perplexity, early exaggeration 12 for
 *   250 iterations with momentum 0.5, then momentum 0.8, learning rate max(N/12/4, 50), gains
 *   (+0.2 / ×0.8, at least 0.01), PCA initialisation scaled to std 1e-4, and scikit-learn's
 *   stopping rule (no progress in 300 iterations, checked every 50). `info.kl` is the final KL.
 * - UMAP: `umap-js` (n_neighbors 15, min_dist 0.1 by default) seeded from glassbox's generator.
 *
 * @example
 * ```ts
 * import { project } from "glassbox";
 * // four points on a line in 3-D: PCA puts them on its first axis, with all the variance
 * const v = new Float32Array([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
 * const { coords, info } = await project(v, 3, { method: "pca", dims: 2 });
 * if (Math.abs(info.explainedVarianceRatio![0] - 1) > 1e-5) throw new Error("one axis explains all");
 * if (Math.abs(coords[4] - coords[0] - 2 * Math.sqrt(3)) > 1e-4) throw new Error("distances are kept");
 * ```
 */
export async function project(
  vectors: Float32Array,
  dim: number,
  options: ProjectOptions,
): Promise<Projection> {
  const n = checkVectors(vectors, dim, "project");
  const { method, dims } = options;
  if (dims !== 2 && dims !== 3) throw new Error(`project: dims must be 2 or 3, got ${dims}`);
  if (!PROJECTION_METHODS.includes(method)) {
    throw new Error(`project: method must be one of ${PROJECTION_METHODS.join(", ")}, got "${method}"`);
  }
  if (n < dims + 1) throw new Error(`project: ${n} points are too few for ${dims} coordinates`);
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  if (method === "pca") {
    const r = await pca(vectors, n, dim, dims);
    return {
      coords: Float32Array.from(r.coords),
      dims,
      info: { method, explainedVarianceRatio: r.ratios, components: r.components, seconds: seconds() },
    };
  }
  if (method === "tsne") {
    const r = await tsne(vectors, n, dim, { ...options, dims });
    return {
      coords: Float32Array.from(r.Y),
      dims,
      info: { method, kl: r.kl, learningRate: r.learningRate, iterations: r.iterations, seconds: seconds() },
    };
  }
  const r = await umap(vectors, n, dim, options);
  return { coords: r.coords, dims, info: { method, iterations: r.epochs, seconds: seconds() } };
}

/**
 * PCA of N vectors: coordinates (N × k, float64), the explained variance ratios and the k
 * principal axes (k × dim), signs as scikit-learn's `svd_flip` (largest-|loading| positive).
 */
export async function pca(
  vectors: Float32Array,
  n: number,
  dim: number,
  k: number,
): Promise<{ coords: Float64Array; ratios: number[]; components: Float64Array }> {
  checkVectors(vectors, dim, "pca");
  if (vectors.length !== n * dim) throw new Error(`pca: ${vectors.length} numbers are not ${n} × ${dim}`);
  if (k > Math.min(n, dim)) throw new Error(`pca: ${k} components from ${n} vectors of ${dim} numbers`);
  // on the GPU: the mean, the centred rows, and the smaller of XᵀX and XXᵀ
  const { centred, product } = await scope(async () => {
    const x = tensor(vectors, [n, dim]);
    const xc = sub(x, mean(x, 0, true));
    const m = dim <= n ? matmul(transpose(xc), xc) : matmul(xc, transpose(xc));
    return { centred: (await xc.toArray()) as Float32Array, product: (await m.toArray()) as Float32Array };
  });
  const X = Float64Array.from(centred);
  const components = new Float64Array(k * dim);
  const variances: number[] = [];
  let total = 0;
  if (dim <= n) {
    const { values, vectors: V } = symmetricEigen(product, dim);
    for (let i = 0; i < dim; i++) total += Math.max(values[i], 0);
    const order = [...values.keys()].sort((a, b) => values[b] - values[a]);
    for (let c = 0; c < k; c++) {
      components.set(V.subarray(order[c] * dim, order[c] * dim + dim), c * dim);
      variances.push(Math.max(values[order[c]], 0));
    }
  } else {
    // the Gram matrix: XXᵀ u = σ² u, and the axis is Xᵀu / σ
    const { values, vectors: U } = symmetricEigen(product, n);
    for (let i = 0; i < n; i++) total += Math.max(values[i], 0);
    const order = [...values.keys()].sort((a, b) => values[b] - values[a]);
    for (let c = 0; c < k; c++) {
      const s2 = Math.max(values[order[c]], 0), s = Math.sqrt(s2);
      variances.push(s2);
      for (let i = 0; i < n; i++) {
        const u = U[order[c] * n + i] / (s || 1);
        for (let j = 0; j < dim; j++) components[c * dim + j] += X[i * dim + j] * u;
      }
    }
  }
  // svd_flip: the largest-|loading| of each axis is positive (the first one on a tie)
  for (let c = 0; c < k; c++) {
    const row = components.subarray(c * dim, c * dim + dim);
    let best = 0;
    for (let j = 1; j < dim; j++) if (Math.abs(row[j]) > Math.abs(row[best]) * (1 + 1e-9)) best = j;
    if (row[best] < 0) row.forEach((v, j) => row[j] = -v);
  }
  const coords = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += X[i * dim + j] * components[c * dim + j];
      coords[i * k + c] = s;
    }
  }
  return { coords, ratios: variances.map((v) => (total > 0 ? v / total : 0)), components };
}

const MACHINE_EPSILON = 2.220446049250313e-16; // np.finfo(np.double).eps

/**
 * t-SNE's input affinities: for each point the Gaussian bandwidth whose conditional distribution
 * p(j|i) over the other points has the perplexity asked for (binary search on β = 1/(2σ²) to
 * |H − ln perplexity| ≤ 1e-5 nats, as scikit-learn), then the joint P = (p(j|i) + p(i|j)) / 2N,
 * floored at machine epsilon. Returns P (N × N, row-major, diagonal 0 before flooring as
 * scikit-learn) and the conditional rows' perplexities (e^H, H in nats) for checking.
 *
 * @example
 * ```ts
 * import { tsneAffinities } from "glassbox";
 * const x = new Float32Array([0, 1, 3, 6, 10, 15]); // six points on a line
 * const { P, perplexities } = tsneAffinities(x, 1, 3);
 * if (perplexities.some((p) => Math.abs(p - 3) > 1e-3)) throw new Error("each row's perplexity is 3");
 * if (Math.abs(P[1 * 6 + 2] - P[2 * 6 + 1]) > 1e-15) throw new Error("P is symmetric");
 * ```
 */
export function tsneAffinities(
  vectors: Float32Array,
  dim: number,
  perplexity: number,
): { P: Float64Array | Float32Array; perplexities: Float64Array; betas: Float64Array } {
  const n = checkVectors(vectors, dim, "tsneAffinities");
  if (!(perplexity > 0) || !(perplexity < n)) {
    throw new Error(
      `t-SNE: perplexity must be above 0 and below the number of points (${n}), got ${perplexity}`,
    );
  }
  // float64 while it fits comfortably (5000² × 8 bytes = 200 MB), float32 beyond
  const P = n <= 5000 ? new Float64Array(n * n) : new Float32Array(n * n);
  const perplexities = new Float64Array(n), betas = new Float64Array(n);
  const desired = Math.log(perplexity);
  const d = new Float64Array(n), p = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    squaredDistanceRow(vectors, dim, i, n, d);
    let beta = 1, lo = -Infinity, hi = Infinity, entropy = 0;
    for (let step = 0; step < 100; step++) {
      let sumP = 0;
      for (let j = 0; j < n; j++) {
        p[j] = j === i ? 0 : Math.exp(-d[j] * beta);
        sumP += p[j];
      }
      if (sumP === 0) sumP = 1e-8;
      let sumDP = 0;
      for (let j = 0; j < n; j++) {
        p[j] /= sumP;
        sumDP += d[j] * p[j];
      }
      entropy = Math.log(sumP) + beta * sumDP;
      const diff = entropy - desired;
      if (Math.abs(diff) <= 1e-5) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
    perplexities[i] = Math.exp(entropy);
    betas[i] = beta;
    for (let j = 0; j < n; j++) P[i * n + j] = p[j];
  }
  // symmetrise and normalise: the conditional rows each sum to 1, so the total is N·2
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = P[i * n + j] + P[j * n + i];
      P[i * n + j] = s;
      P[j * n + i] = s;
      total += 2 * s;
    }
  }
  total = Math.max(total, MACHINE_EPSILON);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) P[i * n + j] = i === j ? 0 : Math.max(P[i * n + j] / total, MACHINE_EPSILON);
  }
  return { P, perplexities, betas };
}

/**
 * The KL divergence KL(P‖Q) = Σ_{i≠j} p_ij ln(p_ij / q_ij) of a t-SNE layout Y (N × dims) and its
 * gradient dKL/dY = 4 Σ_j (p_ij − q_ij)(y_i − y_j) / (1 + ‖y_i − y_j‖²), with Student-t
 * similarities q_ij ∝ (1 + ‖y_i − y_j‖²/ν)^−(ν+1)/2 with ν = max(dims − 1, 1) degrees of freedom
 * as scikit-learn (ν = 1 in 2-D). In 3-D (ν = 2) the gradient is the exact one,
 * 2(ν+1)/ν · Σ_j (p_ij − q_ij)(y_i − y_j)/(1 + ‖y_i − y_j‖²/ν), where scikit-learn's exact method
 * puts the Student-t kernel itself in place of the last factor. `exaggeration` multiplies P
 * (early exaggeration).
 *
 * @example
 * ```ts
 * import { tsneAffinities, tsneKlGradient } from "glassbox";
 * const { P } = tsneAffinities(new Float32Array([0, 1, 3, 6]), 1, 2);
 * const Y = new Float64Array([0, 0, 1, 0, 0, 1, 2, 2]);
 * const { kl, grad } = tsneKlGradient(P, Y, 2);
 * if (!(kl > 0) || grad.length !== 8) throw new Error();
 * ```
 */
export function tsneKlGradient(
  P: ArrayLike<number>,
  Y: Float64Array,
  dims: number,
  exaggeration = 1,
  computeKl = true,
): { kl: number; grad: Float64Array } {
  const n = Y.length / dims;
  const dof = Math.max(dims - 1, 1), expo = (dof + 1) / 2;
  const grad = new Float64Array(n * dims);
  const attract = new Float64Array(n * dims), repel = new Float64Array(n * dims);
  let Z = 0, plogp = 0, plogw = 0;
  // two dimensions (one degree of freedom), the usual case, in a tight loop: row i's sums in
  // locals, each pair visited once
  for (let i = 0; dims === 2 && i < n; i++) {
    const xi = Y[2 * i], yi = Y[2 * i + 1], row = i * n;
    let ax = 0, ay = 0, rx = 0, ry = 0;
    for (let j = i + 1; j < n; j++) {
      const ex = xi - Y[2 * j], ey = yi - Y[2 * j + 1];
      const w = 1 / (1 + ex * ex + ey * ey);
      Z += 2 * w;
      const p = exaggeration * P[row + j];
      if (computeKl) {
        plogp += 2 * p * Math.log(Math.max(p, MACHINE_EPSILON));
        plogw += 2 * p * Math.log(w);
      }
      const pw = p * w, ww = w * w;
      ax += pw * ex;
      ay += pw * ey;
      rx += ww * ex;
      ry += ww * ey;
      attract[2 * j] -= pw * ex;
      attract[2 * j + 1] -= pw * ey;
      repel[2 * j] -= ww * ex;
      repel[2 * j + 1] -= ww * ey;
    }
    attract[2 * i] += ax;
    attract[2 * i + 1] += ay;
    repel[2 * i] += rx;
    repel[2 * i + 1] += ry;
  }
  for (let i = 0; dims !== 2 && i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let d2 = 0;
      for (let c = 0; c < dims; c++) {
        const e = Y[i * dims + c] - Y[j * dims + c];
        d2 += e * e;
      }
      const u = 1 / (1 + d2 / dof), w = dof === 1 ? u : u ** expo;
      Z += 2 * w;
      const p = exaggeration * P[i * n + j];
      if (computeKl) {
        plogp += 2 * p * Math.log(Math.max(p, MACHINE_EPSILON));
        plogw += 2 * p * Math.log(w);
      }
      // dw/d‖e‖² = −(dof+1)/(2·dof) · w·u: the exact gradient for any dof (scikit-learn's exact
      // method uses w·w here, which is the gradient only for dof = 1, i.e. 2-D)
      const pw = p * u, ww = w * u;
      for (let c = 0; c < dims; c++) {
        const e = Y[i * dims + c] - Y[j * dims + c];
        attract[i * dims + c] += pw * e;
        attract[j * dims + c] -= pw * e;
        repel[i * dims + c] += ww * e;
        repel[j * dims + c] -= ww * e;
      }
    }
  }
  const c4 = 2 * (dof + 1) / dof;
  for (let k = 0; k < n * dims; k++) grad[k] = c4 * (attract[k] - repel[k] / Z);
  // Σ p ln(p/q) with q = w/Z: Σ p ln p − Σ p ln w + (Σ p) ln Z
  let sumP = 0;
  if (computeKl) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) if (i !== j) sumP += exaggeration * P[i * n + j];
    }
  }
  const kl = computeKl ? plogp - plogw + sumP * Math.log(Z) : NaN;
  return { kl, grad };
}

async function tsne(
  vectors: Float32Array,
  n: number,
  dim: number,
  o: ProjectOptions,
): Promise<{ Y: Float64Array; kl: number; learningRate: number; iterations: number }> {
  const dims = o.dims, perplexity = o.perplexity ?? 30;
  const maxIter = o.iterations ?? 1000;
  if (!Number.isInteger(maxIter) || maxIter < 250) {
    throw new Error(
      `t-SNE: iterations must be a whole number ≥ 250 (the early exaggeration's), got ${maxIter}`,
    );
  }
  const bh = (o.tsneMethod ?? "exact") === "barnes-hut";
  if (o.tsneMethod !== undefined && o.tsneMethod !== "exact" && !bh) {
    throw new Error(`t-SNE: tsneMethod must be "exact" or "barnes-hut", got "${o.tsneMethod}"`);
  }
  const angle = o.angle ?? 0.5;
  if (!(angle >= 0)) throw new Error(`t-SNE: angle must be ≥ 0, got ${angle}`);
  const P = bh ? null : tsneAffinities(vectors, dim, perplexity).P;
  const Ps = bh ? tsneSparseAffinities(vectors, dim, perplexity) : null;
  const objective = (Y: Float64Array, exaggeration: number, kl: boolean) =>
    bh ? bhKlGradient(Ps!, Y, dims, angle, exaggeration, kl) : tsneKlGradient(P!, Y, dims, exaggeration, kl);
  let Y: Float64Array;
  if ((o.init ?? "pca") === "pca" && dim >= dims) {
    const { coords } = await pca(vectors, n, dim, dims);
    let m = 0, v = 0;
    for (let i = 0; i < n; i++) m += coords[i * dims] / n;
    for (let i = 0; i < n; i++) v += (coords[i * dims] - m) ** 2 / n;
    const scale = 1e-4 / (Math.sqrt(v) || 1);
    Y = coords.map((c) => c * scale);
  } else {
    const g = new Generator(o.seed ?? 0);
    Y = Float64Array.from({ length: n * dims }, () => 1e-4 * g.normal());
  }
  const learningRate = Math.max(n / 12 / 4, 50);
  let kl = NaN, it = 0;
  const phase = (from: number, to: number, momentum: number, exaggeration: number, patience: number) => {
    const update = new Float64Array(n * dims), gains = new Float64Array(n * dims).fill(1);
    let best = Infinity, bestIter = from, i = from;
    for (; i < to; i++) {
      const check = (i + 1) % 50 === 0;
      const r = objective(Y, exaggeration, check || i === to - 1);
      const grad = r.grad;
      let norm = 0;
      for (let k = 0; k < grad.length; k++) {
        norm += grad[k] * grad[k];
        gains[k] = update[k] * grad[k] < 0 ? gains[k] + 0.2 : Math.max(gains[k] * 0.8, 0.01);
        update[k] = momentum * update[k] - learningRate * gains[k] * grad[k];
        Y[k] += update[k];
      }
      if (check || i === to - 1) kl = r.kl;
      if (check) {
        o.onProgress?.(i + 1, maxIter);
        if (r.kl < best) best = r.kl, bestIter = i;
        else if (i - bestIter > patience) break;
        if (Math.sqrt(norm) <= 1e-7) break;
      }
    }
    return Math.min(i, to - 1);
  };
  it = phase(0, 250, 0.5, 12, 250);
  if (maxIter > 250) it = phase(it + 1, maxIter, 0.8, 1, 300);
  return { Y, kl, learningRate, iterations: it + 1 };
}

async function umap(
  vectors: Float32Array,
  n: number,
  dim: number,
  o: ProjectOptions,
): Promise<{ coords: Float32Array; epochs: number }> {
  const nNeighbors = o.nNeighbors ?? 15, minDist = o.minDist ?? 0.1;
  if (!Number.isInteger(nNeighbors) || nNeighbors < 2 || nNeighbors >= n) {
    throw new Error(`UMAP: nNeighbors must be a whole number from 2 to ${n - 1}, got ${nNeighbors}`);
  }
  if (!(minDist >= 0)) throw new Error(`UMAP: minDist must be ≥ 0, got ${minDist}`);
  if (o.iterations !== undefined && !(Number.isInteger(o.iterations) && o.iterations >= 1)) {
    throw new Error(`UMAP: iterations (epochs) must be a whole number ≥ 1, got ${o.iterations}`);
  }
  const g = new Generator(o.seed ?? 0);
  const u = new UMAP({
    nComponents: o.dims,
    nNeighbors,
    minDist,
    random: () => g.random(),
    ...(o.iterations ? { nEpochs: o.iterations } : {}),
  });
  const data = Array.from({ length: n }, (_, i) => Array.from(vectors.subarray(i * dim, (i + 1) * dim)));
  const epochs = u.initializeFit(data);
  for (let e = 0; e < epochs; e++) {
    u.step();
    if ((e + 1) % 50 === 0) {
      o.onProgress?.(e + 1, epochs);
      await new Promise((r) => setTimeout(r, 0)); // let a progress bar draw
    }
  }
  const emb = u.getEmbedding();
  const coords = new Float32Array(n * o.dims);
  emb.forEach((row, i) => coords.set(row, i * o.dims));
  return { coords, epochs };
}
