/**
 * Surrogate models over coalitions of feature groups: KernelSHAP (Lundberg & Lee, 2017,
 * arXiv:1705.07874) and LIME (Ribeiro, Singh & Guestrin, 2016, arXiv:1602.04938). The model
 * evaluations (every coalition of every input) run in GPU batches; the small weighted
 * regression over M groups is solved in float64 on the CPU.
 */
import { tensor } from "../tensor/create.ts";
import { where } from "../tensor/ops/select.ts";
import { scope } from "../tensor/scope.ts";
import { settle } from "../tensor/mod.ts";
import { reshape, slice } from "../tensor/ops/shape.ts";
import { Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type AttributeOptions,
  Attribution,
  type Baseline,
  baselineLike,
  defaultBatchRows,
  joinRows,
  perTarget,
  repeatRows,
  rowSize,
} from "./attribution.ts";
import { type FeatureMask, resolveMask } from "./perturbation.ts";

/** Options shared by KernelShap and Lime. */
export interface SurrogateOptions extends AttributeOptions {
  /** Group id per feature; a group is switched on and off together (default: each feature alone). */
  featureMask?: FeatureMask;
  /** What a switched-off feature becomes (default 0). */
  baselines?: Baseline;
  /**
   * Coalitions to evaluate per input (default 25, as Captum's `n_samples`); for KernelShap this
   * counts the full and the empty coalition, as Captum.
   */
  nSamples?: number;
  /** Seed of the sampled coalitions (default 0). */
  seed?: number;
}

/**
 * @internal Weighted least squares by Householder QR with column pivoting (float64): the
 * factorisation of √w·A (m×n, row-major) once, then `solve(y)` for any right-hand side. It
 * refuses a rank-deficient A (where least squares has no unique answer) with the rank found, so
 * that no caller returns one arbitrary solution of many.
 */
export function leastSquares(A: Float64Array, w: ArrayLike<number>, m: number, n: number): {
  rank: number;
  solve: (y: ArrayLike<number>) => Float64Array;
} {
  const R = Float64Array.from(A);
  for (let r = 0; r < m; r++) {
    const s = Math.sqrt(w[r]);
    for (let c = 0; c < n; c++) R[r * n + c] *= s;
  }
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const tau = new Float64Array(n);
  const norms = new Float64Array(n);
  const steps = Math.min(m, n);
  const reflectors: Float64Array[] = [];
  let top = 0;
  for (let k = 0; k < steps; k++) {
    // the column of largest remaining norm (rows k..m−1) goes next
    for (let c = k; c < n; c++) {
      let a = 0;
      for (let r = k; r < m; r++) a += R[r * n + c] ** 2;
      norms[c] = a;
    }
    let p = k;
    for (let c = k + 1; c < n; c++) if (norms[c] > norms[p]) p = c;
    if (p !== k) {
      for (let r = 0; r < m; r++) [R[r * n + k], R[r * n + p]] = [R[r * n + p], R[r * n + k]];
      [norms[k], norms[p]] = [norms[p], norms[k]];
      [perm[k], perm[p]] = [perm[p], perm[k]];
    }
    let alpha = 0;
    for (let r = k; r < m; r++) alpha += R[r * n + k] ** 2;
    alpha = Math.sqrt(alpha);
    if (k === 0) top = alpha;
    if (alpha === 0) break;
    if (R[k * n + k] > 0) alpha = -alpha;
    // v = x − alpha·e1, stored in place below the diagonal with v_k kept in R[k, k] until the end
    const vk = R[k * n + k] - alpha;
    let vv = vk * vk;
    for (let r = k + 1; r < m; r++) vv += R[r * n + k] ** 2;
    R[k * n + k] = vk;
    tau[k] = vv === 0 ? 0 : 2 / vv;
    for (let c = k + 1; c < n; c++) {
      let d = 0;
      for (let r = k; r < m; r++) d += R[r * n + k] * R[r * n + c];
      d *= tau[k];
      for (let r = k; r < m; r++) R[r * n + c] -= d * R[r * n + k];
    }
    // keep v (rows k..m−1 of column k) aside: the diagonal now holds R's entry
    const v = new Float64Array(m - k);
    for (let r = k; r < m; r++) v[r - k] = R[r * n + k];
    reflectors.push(v);
    R[k * n + k] = alpha;
    for (let r = k + 1; r < m; r++) R[r * n + k] = 0;
  }
  // numerical rank as numpy's matrix_rank: |R_kk| above max(m, n)·eps·|R_00|
  const tol = Math.max(m, n) * 2.220446049250313e-16 * top;
  let rank = 0;
  while (rank < steps && rank < reflectors.length && Math.abs(R[rank * n + rank]) > tol) rank++;
  return {
    rank,
    solve(y: ArrayLike<number>): Float64Array {
      if (rank < n) throw new Error(`internal: least squares of rank ${rank} < ${n} unknowns`);
      const b = Float64Array.from({ length: m }, (_, r) => y[r] * Math.sqrt(w[r]));
      reflectors.forEach((v, k) => {
        let d = 0;
        for (let r = k; r < m; r++) d += v[r - k] * b[r];
        d *= tau[k];
        for (let r = k; r < m; r++) b[r] -= d * v[r - k];
      });
      const z = new Float64Array(n);
      for (let r = n - 1; r >= 0; r--) {
        let s = b[r];
        for (let c = r + 1; c < n; c++) s -= R[r * n + c] * z[c];
        z[r] = s / R[r * n + r];
      }
      const x = new Float64Array(n);
      perm.forEach((col, i) => (x[col] = z[i]));
      return x;
    },
  };
}

/** Binomial coefficient as a float. */
function choose(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * @internal Evaluates F at every coalition of every (example, target) row: z [S, M] (1 keeps a
 * group, 0 puts the baseline there) → scores [E, S] on the CPU.
 */
async function coalitionScores(
  method: Attribution,
  xr: Tensor,
  br: Tensor,
  index: Int32Array,
  ids: Int32Array,
  z: Uint8Array[],
  options: AttributeOptions,
): Promise<Float64Array[]> {
  const E = xr.shape[0], D = ids.length, S = z.length, rest = xr.shape.slice(1);
  const keep = new Float32Array(S * D);
  z.forEach((zs, s) => ids.forEach((g, i) => (keep[s * D + i] = zs[g])));
  const K = tensor(keep, [1, S, D]);
  const batch = defaultBatchRows(D, options.internalBatchSize);
  // every example's coalitions are evaluated on the GPU, then all scores come back in one readback
  const perExample: Tensor[] = [];
  for (let e = 0; e < E; e++) {
    perExample.push(scope(() => {
      const xe = reshape(slice(xr, e, e + 1), [1, 1, D]), be = reshape(slice(br, e, e + 1), [1, 1, D]);
      const rows = reshape(where(K, xe, be), [S, ...rest]); // z = 1 keeps x, z = 0 puts the baseline
      return method.scoresOf(rows, new Int32Array(S).fill(index[e]), batch);
    }));
    if (options.onProgress) {
      await settle();
      options.onProgress(e + 1, E);
    }
  }
  const scores = joinRows(perExample);
  const all = await scores.toArray();
  scores.dispose();
  K.dispose();
  return Array.from({ length: E }, (_, e) => Float64Array.from(all.subarray(e * S, (e + 1) * S)));
}

/** Spreads group values to the features of each row: [E][M] → tensor [E, ...]. */
function spread(values: Float64Array[], ids: Int32Array, shape: readonly number[]): Tensor {
  const D = ids.length;
  const out = new Float32Array(values.length * D);
  values.forEach((v, e) => ids.forEach((g, i) => (out[e * D + i] = v[g])));
  return tensor(out, [values.length, ...shape]);
}

/** Options for `KernelShap.attribute`. */
export interface KernelShapOptions extends SurrogateOptions {
  /**
   * Not Captum's: evaluate every one of the 2^M − 2 proper coalitions once, weighted by the
   * Shapley kernel, with F(x′) and F(x) imposed exactly; the result is then the exact Shapley
   * values of the groups (M ≤ 20; `nSamples` and `seed` are not used). Default false: Captum's
   * sampled estimate.
   */
  exact?: boolean;
}

/** Captum's weight of the empty and the full coalition in KernelShap's regression. */
const ENDPOINT_WEIGHT = 1e6;

/**
 * @internal Captum's KernelShap coalitions: the full one, the empty one, then `nSamples − 2`
 * draws of a size k in 1..M−1 with probability ∝ (M − 1)/(k(M − k)) and a subset of that size
 * uniformly at random (repeats allowed). Drawn in proportion to the Shapley kernel this way,
 * they are fitted with equal weights.
 */
export function kernelShapCoalitions(M: number, nSamples: number, g: Generator): Uint8Array[] {
  const z: Uint8Array[] = [new Uint8Array(M).fill(1), new Uint8Array(M)];
  const p = Array.from({ length: M - 1 }, (_, i) => (M - 1) / ((i + 1) * (M - 1 - i)));
  const total = p.reduce((a, b) => a + b, 0);
  for (let s = 2; s < nSamples; s++) {
    let u = g.random() * total, k = 1;
    while (k < M - 1 && u > p[k - 1]) u -= p[k++ - 1];
    const order = g.shuffle(Array.from({ length: M }, (_, i) => i));
    const zs = new Uint8Array(M);
    for (let i = 0; i < k; i++) zs[order[i]] = 1;
    z.push(zs);
  }
  return z;
}

/**
 * KernelSHAP as Captum's KernelShap (Lime with the Shapley kernel): `nSamples` coalitions of the
 * M groups — the full one and the empty one, then nSamples − 2 drawn with their size k in 1..M−1
 * ∝ (M − 1)/(k(M − k)) and the subset uniform given k — and a linear regression with an
 * intercept of F on the binary coalitions, the sampled ones with weight 1 and the two end points
 * with weight 10⁶ (Captum's stand-in for the infinite Shapley-kernel weight, so the coefficients
 * sum to F(x) − F(x′) up to ~10⁻⁶). The attributions are the coefficients, solved in float64.
 *
 * The regression has M + 1 unknowns: with `nSamples` ≤ M (the default 25 against an input of
 * more than 24 features without a `featureMask`), or coalitions that repeat so that fewer than
 * M + 1 are independent, it has no unique solution; this is an error that names nSamples and the
 * number of groups (where Captum's least squares would return the minimum-norm one of many).
 * `exact: true` (not Captum's) evaluates every coalition with its kernel weight instead, for
 * the exact Shapley values. Lundberg & Lee, 2017 (arXiv:1705.07874).
 *
 * @example
 * ```ts
 * import { KernelShap, Linear, tensor } from "glassbox";
 * const model = new Linear(4, 1);
 * model.loadStateDict({ weight: tensor([[1, -2, 0.5, 3]]), bias: tensor([0.1]) });
 * // a linear model's Shapley values are w_i·(x_i − x′_i): [2, -2, 0.5, -3]
 * const attr = await new KernelShap(model).attribute(tensor([[2, 1, 1, -1]]), { nSamples: 40 });
 * const v = await attr.toArray();
 * [2, -2, 0.5, -3].forEach((want, i) => { if (Math.abs(v[i] - want) > 1e-3) throw new Error(`${v}`); });
 * ```
 */
export class KernelShap extends Attribution {
  /** Attributions shaped like `x` (features of one group share their group's value). */
  attribute(x: Tensor, options: KernelShapOptions = {}): Promise<Tensor> {
    // the baselines and coalitions made on the way are freed at the end; the attributions are kept
    return this.run(x, () =>
      scope(async () => {
        const { ids, groups: M } = await resolveMask("KernelShap", options.featureMask, rowSize(x));
        const nSamples = options.nSamples ?? 25, seed = options.seed ?? 0;
        if (!Number.isInteger(nSamples) || nSamples < 2) {
          throw new Error(
            `KernelShap: nSamples must be an integer of at least 2 (the full and the empty coalition), got ${nSamples}`,
          );
        }
        let z: Uint8Array[];
        let fit: (f: Float64Array) => Float64Array;
        if (M === 1) {
          z = [new Uint8Array(1), new Uint8Array(1).fill(1)];
          fit = (f) => Float64Array.of(f[1] - f[0]);
        } else if (options.exact) {
          if (M > 20) {
            throw new Error(
              `KernelShap: exact evaluates all 2^M − 2 coalitions; ${M} groups are too many (at most 20)`,
            );
          }
          // every proper coalition with its Shapley-kernel weight; F(x′) and F(x) imposed exactly by
          // eliminating φ_M = Δ − Σ_{i<M} φ_i: regress f − f0 − z_M Δ on (z_i − z_M), i < M
          z = [new Uint8Array(M), new Uint8Array(M).fill(1)];
          const w: number[] = [];
          for (let mask = 1; mask < 2 ** M - 1; mask++) {
            const zs = Uint8Array.from({ length: M }, (_, i) => (mask >> i) & 1);
            const k = zs.reduce((a, b) => a + b, 0);
            z.push(zs);
            w.push((M - 1) / (choose(M, k) * k * (M - k)));
          }
          const S = z.length - 2, n = M - 1;
          const A = new Float64Array(S * n);
          for (let s = 0; s < S; s++) {
            for (let i = 0; i < n; i++) A[s * n + i] = z[s + 2][i] - z[s + 2][M - 1];
          }
          const ls = leastSquares(A, w, S, n);
          fit = (f) => {
            const f0 = f[0], delta = f[1] - f0;
            const head = ls.solve(
              Float64Array.from({ length: S }, (_, s) => f[s + 2] - f0 - z[s + 2][M - 1] * delta),
            );
            const phi = new Float64Array(M);
            phi.set(head);
            phi[M - 1] = delta - head.reduce((a, v) => a + v, 0);
            return phi;
          };
        } else {
          if (nSamples < M + 1) {
            throw new Error(
              `KernelShap: nSamples ${nSamples} cannot determine ${M} groups: the regression has ${
                M + 1
              } unknowns (a coefficient per group and the intercept); pass nSamples of at least ${
                M + 1
              } (many more for a stable estimate) or a featureMask with fewer groups`,
            );
          }
          z = kernelShapCoalitions(M, nSamples, new Generator(seed));
          const n = M + 1;
          const A = new Float64Array(nSamples * n);
          z.forEach((zs, s) => {
            A[s * n] = 1; // the intercept
            for (let i = 0; i < M; i++) A[s * n + 1 + i] = zs[i];
          });
          const w = z.map((_, s) => (s < 2 ? ENDPOINT_WEIGHT : 1));
          const ls = leastSquares(A, w, nSamples, n);
          if (ls.rank < n) {
            throw new Error(
              `KernelShap: the ${nSamples} coalitions drawn (seed ${seed}) determine only ${ls.rank} of the ${n} unknowns for ${M} groups (some repeat or depend on others); raise nSamples or pass a featureMask with fewer groups`,
            );
          }
          fit = (f) => ls.solve(f).slice(1);
        }
        const table = await this.targets(x, options.target);
        const base = baselineLike("KernelShap", options.baselines, x);
        const xr = repeatRows(x, table.T), br = repeatRows(base, table.T);
        const scores = await coalitionScores(this, xr, br, table.index, ids, z, options);
        return perTarget(spread(scores.map(fit), ids, x.shape.slice(1)), table);
      }));
  }
}

/** Options for `Lime.attribute`. */
export interface LimeOptions extends SurrogateOptions {
  /** Width of the exponential kernel on the cosine distance (default 1, as Captum). */
  kernelWidth?: number;
  /** L1 penalty of the weighted Lasso surrogate (default 0.01, as Captum's SkLearnLasso). */
  alpha?: number;
}

/**
 * LIME: a weighted sparse linear surrogate fitted on random coalitions of the groups (each on
 * with probability ½), weighted by exp(−d²/(2·width²)) with d the cosine distance between the
 * input and the perturbed input; the surrogate is a weighted Lasso (coordinate descent) with
 * an intercept, as Captum's defaults. Ribeiro, Singh & Guestrin, 2016 (arXiv:1602.04938).
 *
 * @example
 * ```ts
 * import { Lime, Linear, randn } from "glassbox";
 * const attr = await new Lime(new Linear(4, 2)).attribute(randn([2, 4]), { target: 1, nSamples: 50 });
 * ```
 */
export class Lime extends Attribution {
  /** Attributions shaped like `x` (features of one group share their group's coefficient). */
  attribute(x: Tensor, options: LimeOptions = {}): Promise<Tensor> {
    // the baselines and coalitions made on the way are freed at the end; the attributions are kept
    return this.run(x, () =>
      scope(async () => {
        const D = rowSize(x);
        const { ids, groups: M } = await resolveMask("Lime", options.featureMask, D);
        const table = await this.targets(x, options.target);
        const base = baselineLike("Lime", options.baselines, x);
        const xr = repeatRows(x, table.T), br = repeatRows(base, table.T);
        const S = options.nSamples ?? 25, width = options.kernelWidth ?? 1, alpha = options.alpha ?? 0.01;
        const g = new Generator(options.seed ?? 0);
        const z = Array.from(
          { length: S },
          () => Uint8Array.from({ length: M }, () => (g.random() < 0.5 ? 1 : 0)),
        );
        // the inputs and baselines come back while the coalitions run: one wait, not three
        const [scores, xh, bh] = await Promise.all([
          coalitionScores(this, xr, br, table.index, ids, z, options),
          xr.toArray(),
          br.toArray(),
        ]);
        const coefs = scores.map((f, e) => {
          // similarity of each perturbed input to the input, in input space
          const w = z.map((zs) => {
            let dot = 0, nx = 0, np = 0;
            for (let i = 0; i < D; i++) {
              const xi = xh[e * D + i], pi = zs[ids[i]] ? xi : bh[e * D + i];
              dot += xi * pi;
              nx += xi * xi;
              np += pi * pi;
            }
            const d = 1 - dot / (Math.sqrt(nx * np) || 1);
            return Math.exp(-(d * d) / (2 * width * width));
          });
          return weightedLasso(z, f, w, M, alpha);
        });
        return perTarget(spread(coefs, ids, x.shape.slice(1)), table);
      }));
  }
}

/**
 * Weighted Lasso with an intercept by coordinate descent: minimises
 * Σ w_s (y_s − β0 − z_s·β)² / (2 Σ w) + α ‖β‖₁ (scikit-learn's objective with sample weights).
 */
export function weightedLasso(
  z: Uint8Array[],
  y: Float64Array,
  w: number[],
  M: number,
  alpha: number,
): Float64Array {
  const S = z.length, W = w.reduce((a, b) => a + b, 0) || 1;
  // centre by the weighted means (the intercept then drops out)
  const zm = new Float64Array(M);
  let ym = 0;
  for (let s = 0; s < S; s++) {
    ym += w[s] * y[s];
    for (let j = 0; j < M; j++) zm[j] += w[s] * z[s][j];
  }
  ym /= W;
  zm.forEach((v, j) => (zm[j] = v / W));
  const Z = z.map((zs) => Float64Array.from(zs, (v, j) => v - zm[j]));
  const r = Float64Array.from(y, (v) => v - ym);
  const beta = new Float64Array(M);
  const norms = Float64Array.from(
    { length: M },
    (_, j) => Z.reduce((a, zs, s) => a + w[s] * zs[j] * zs[j], 0) / W,
  );
  for (let it = 0; it < 1000; it++) {
    let change = 0;
    for (let j = 0; j < M; j++) {
      if (norms[j] === 0) continue;
      let rho = 0;
      for (let s = 0; s < S; s++) rho += w[s] * Z[s][j] * (r[s] + Z[s][j] * beta[j]);
      rho /= W;
      const nb = Math.sign(rho) * Math.max(Math.abs(rho) - alpha, 0) / norms[j];
      const d = nb - beta[j];
      if (d !== 0) {
        for (let s = 0; s < S; s++) r[s] -= Z[s][j] * d;
        beta[j] = nb;
        change = Math.max(change, Math.abs(d));
      }
    }
    if (change < 1e-10) break;
  }
  return beta;
}
