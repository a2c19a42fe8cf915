/**
 * Surrogate models over coalitions of feature groups: KernelSHAP (Lundberg & Lee, 2017,
 * arXiv:1705.07874) and LIME (Ribeiro, Singh & Guestrin, 2016, arXiv:1602.04938). The model
 * evaluations (every coalition of every input) run in GPU batches; the small weighted
 * regression over M groups is solved in float64 on the CPU.
 */
import { tensor } from "../tensor/create.ts";
import { where } from "../tensor/ops/select.ts";
import { scope } from "../tensor/scope.ts";
import { sync } from "../gpu/queue.ts";
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
  /** Coalitions to evaluate per input (default 25 as Captum; KernelShap enumerates all when 2^M − 2 fit). */
  nSamples?: number;
  /** Seed of the sampled coalitions (default 0). */
  seed?: number;
}

/** Solves A x = b (n×n, float64) by Gaussian elimination with partial pivoting; a tiny ridge keeps it regular. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A), v = Float64Array.from(b);
  for (let i = 0; i < n; i++) M[i * n + i] += 1e-12;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    if (p !== c) {
      for (let k = 0; k < n; k++) [M[c * n + k], M[p * n + k]] = [M[p * n + k], M[c * n + k]];
      [v[c], v[p]] = [v[p], v[c]];
    }
    const d = M[c * n + c] || 1e-300;
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / d;
      if (!f) continue;
      for (let k = c; k < n; k++) M[r * n + k] -= f * M[c * n + k];
      v[r] -= f * v[c];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = v[r];
    for (let k = r + 1; k < n; k++) s -= M[r * n + k] * x[k];
    x[r] = s / (M[r * n + r] || 1e-300);
  }
  return x;
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
      await sync();
      options.onProgress(e + 1, E);
    }
  }
  const all = await joinRows(perExample).toArray();
  return Array.from({ length: E }, (_, e) => Float64Array.from(all.subarray(e * S, (e + 1) * S)));
}

/** Spreads group values to the features of each row: [E][M] → tensor [E, ...]. */
function spread(values: Float64Array[], ids: Int32Array, shape: readonly number[]): Tensor {
  const D = ids.length;
  const out = new Float32Array(values.length * D);
  values.forEach((v, e) => ids.forEach((g, i) => (out[e * D + i] = v[g])));
  return tensor(out, [values.length, ...shape]);
}

/**
 * KernelSHAP: Shapley values of the groups, from a weighted linear regression over coalitions
 * with the Shapley kernel and the efficiency constraint Σφ = F(x) − F(x′). With M groups and
 * nSamples ≥ 2^M − 2 it evaluates every coalition and the result is the exact Shapley values;
 * otherwise it samples coalition sizes with probability ∝ (M − 1)/(k(M − k)), as Captum.
 *
 * @example
 * ```ts
 * import { KernelShap, Linear, randn } from "glassbox";
 * const attr = await new KernelShap(new Linear(4, 2)).attribute(randn([2, 4]), { target: 0, nSamples: 14 });
 * ```
 */
export class KernelShap extends Attribution {
  /** Attributions shaped like `x` (features of one group share their group's value). */
  attribute(x: Tensor, options: SurrogateOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const { ids, groups: M } = await resolveMask("KernelShap", options.featureMask, rowSize(x));
      const table = await this.targets(x, options.target);
      const base = baselineLike("KernelShap", options.baselines, x);
      const xr = repeatRows(x, table.T), br = repeatRows(base, table.T);
      const nSamples = options.nSamples ?? 25;
      // coalitions (empty and full first: they fix F(x′) and F(x)) and their regression weights
      const z: Uint8Array[] = [new Uint8Array(M), new Uint8Array(M).fill(1)];
      const weights: number[] = [0, 0];
      if (M <= 20 && nSamples >= 2 ** M - 2) {
        for (let mask = 1; mask < 2 ** M - 1; mask++) {
          const zs = Uint8Array.from({ length: M }, (_, i) => (mask >> i) & 1);
          const k = zs.reduce((a, b) => a + b, 0);
          z.push(zs);
          weights.push((M - 1) / (choose(M, k) * k * (M - k)));
        }
      } else if (M > 1) {
        const g = new Generator(options.seed ?? 0);
        const p = Array.from({ length: M - 1 }, (_, i) => (M - 1) / ((i + 1) * (M - 1 - i)));
        const total = p.reduce((a, b) => a + b, 0);
        for (let s = 0; s < nSamples; s++) {
          let u = g.random() * total, k = 1;
          while (k < M - 1 && u > p[k - 1]) u -= p[k++ - 1];
          const order = g.shuffle(Array.from({ length: M }, (_, i) => i));
          const zs = new Uint8Array(M);
          for (let i = 0; i < k; i++) zs[order[i]] = 1;
          z.push(zs);
          weights.push(1); // sampled in proportion to the kernel already
        }
      }
      const scores = await coalitionScores(this, xr, br, table.index, ids, z, options);
      const phis = scores.map((f) => {
        const f0 = f[0], delta = f[1] - f0;
        if (M === 1) return Float64Array.of(delta);
        // eliminate φ_M = Δ − Σ_{i<M} φ_i: regress f − f0 − z_M Δ on (z_i − z_M), i < M
        const n = M - 1;
        const A = new Float64Array(n * n), b = new Float64Array(n);
        for (let s = 2; s < z.length; s++) {
          const zs = z[s], w = weights[s], y = f[s] - f0 - zs[M - 1] * delta;
          for (let i = 0; i < n; i++) {
            const xi = zs[i] - zs[M - 1];
            b[i] += w * xi * y;
            for (let j = 0; j < n; j++) A[i * n + j] += w * xi * (zs[j] - zs[M - 1]);
          }
        }
        const head = solve(A, b, n);
        const phi = new Float64Array(M);
        phi.set(head);
        phi[M - 1] = delta - head.reduce((a, v) => a + v, 0);
        return phi;
      });
      return perTarget(spread(phis, ids, x.shape.slice(1)), table);
    });
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
    return this.run(x, async () => {
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
      const scores = await coalitionScores(this, xr, br, table.index, ids, z, options);
      const xh = await xr.toArray(), bh = await br.toArray();
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
    });
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
