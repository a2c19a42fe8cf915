/**
 * Integrated Gradients (Sundararajan, Taly & Yan, 2017, "Axiomatic Attribution for Deep
 * Networks", ICML, arXiv:1703.01365): (x − x′) ⊙ ∫₀¹ ∂F(x′ + α(x − x′))/∂x dα, with Captum's
 * quadrature rules (and a normalised trapezoidal rule of glassbox's own), batched over
 * examples, targets and steps.
 */
import { tensor } from "../tensor/create.ts";
import { add, mul, sub } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { reshape, slice } from "../tensor/ops/shape.ts";
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
import type { TargetTable } from "./target.ts";
import { scope } from "../tensor/scope.ts";
import { settle } from "../tensor/mod.ts";

/**
 * The quadrature rules for the path integral. The first five are Captum's `method` names and
 * give Captum's points and weights exactly (captum/attr/_utils/approximation_methods.py);
 * "trapezoid" is glassbox's own: the trapezoidal rule normalised so that its weights sum to 1.
 */
export type IntegrationMethod =
  | "gausslegendre"
  | "riemann_left"
  | "riemann_right"
  | "riemann_middle"
  | "riemann_trapezoid"
  | "trapezoid";

/** The names `IntegrationMethod` accepts, for messages. */
const METHODS = "gausslegendre, riemann_left, riemann_right, riemann_middle, riemann_trapezoid, trapezoid";

/**
 * Gauss–Legendre nodes and weights on [-1, 1] (ascending, as numpy's leggauss), by Newton's
 * method on the Legendre polynomial in float64.
 */
export function gaussLegendre(n: number): { nodes: Float64Array; weights: Float64Array } {
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5)); // the i-th largest root, approximately
    let dp = 1;
    for (let it = 0; it < 100; it++) {
      let p1 = 1, p2 = 0; // P_n(z) by the three-term recurrence
      for (let j = 1; j <= n; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
      }
      dp = (n * (z * p1 - p2)) / (z * z - 1); // P_n'(z)
      const step = p1 / dp;
      z -= step;
      if (Math.abs(step) < 1e-16) break;
    }
    pairs.push([z, 2 / ((1 - z * z) * dp * dp)]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { nodes: Float64Array.from(pairs, (p) => p[0]), weights: Float64Array.from(pairs, (p) => p[1]) };
}

/**
 * The points α in [0, 1] and their weights for `n` steps of `method`. Captum's names give
 * Captum's `approximation_parameters` exactly:
 *
 * - "riemann_left", "riemann_right", "riemann_middle": α_k = k/n, (k + 1)/n, (k + ½)/n and
 *   every weight 1/n (n ≥ 2, as Captum).
 * - "riemann_trapezoid": α_k = k/(n − 1) (both ends included), every weight 1/n with the two
 *   ends halved. These weights sum to (n − 1)/n, not 1: Captum's rule integrates
 *   (n − 1)/n of the path, so on a model linear along the path its attributions are
 *   (n − 1)/n of the exact ones and the completeness error is −(F(x) − F(x′))/n (3.1% at
 *   32 steps). Kept for Captum's numbers; use "trapezoid" for the rule itself.
 * - "gausslegendre": numpy's `leggauss(n)` nodes and weights mapped from [−1, 1] to [0, 1]
 *   (α = (1 + node)/2, weight/2); n ≥ 1.
 *
 * "trapezoid" (glassbox's own) is the trapezoidal rule on the same points k/(n − 1): weights
 * 1/(n − 1) with the ends halved, summing to 1 (exact for a model linear along the path).
 *
 * @example
 * ```ts
 * import { integrationPoints } from "glassbox";
 * const captum = integrationPoints("riemann_trapezoid", 3); // alphas [0, 0.5, 1], weights [1/6, 1/3, 1/6]
 * const own = integrationPoints("trapezoid", 3); // alphas [0, 0.5, 1], weights [0.25, 0.5, 0.25]
 * if (Math.abs(captum.weights.reduce((a, w) => a + w) - 2 / 3) > 1e-12) throw new Error("Captum's sum is (n − 1)/n");
 * if (own.weights.join() !== "0.25,0.5,0.25") throw new Error("the trapezoidal rule sums to 1");
 * ```
 */
export function integrationPoints(
  method: IntegrationMethod,
  n: number,
): { alphas: number[]; weights: number[] } {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`IntegratedGradients: nSteps must be a positive integer, got ${n}`);
  }
  if (method !== "gausslegendre" && METHODS.split(", ").includes(method) && n < 2) {
    throw new Error(`IntegratedGradients: ${method} needs at least 2 steps, got nSteps ${n}`);
  }
  const each = (f: (k: number) => number) => Array.from({ length: n }, (_, k) => f(k));
  switch (method) {
    case "riemann_left":
      return { alphas: each((k) => k / n), weights: each(() => 1 / n) };
    case "riemann_right":
      return { alphas: each((k) => (k + 1) / n), weights: each(() => 1 / n) };
    case "riemann_middle":
      return { alphas: each((k) => (k + 0.5) / n), weights: each(() => 1 / n) };
    case "riemann_trapezoid":
    case "trapezoid": {
      // Captum's step is 1/n; the trapezoidal rule's is the spacing of the points, 1/(n − 1)
      const h = method === "trapezoid" ? 1 / (n - 1) : 1 / n;
      return {
        alphas: each((k) => k / (n - 1)),
        weights: each((k) => (k === 0 || k === n - 1 ? h / 2 : h)),
      };
    }
    case "gausslegendre": {
      const { nodes, weights } = gaussLegendre(n);
      return {
        alphas: Array.from(nodes, (v) => 0.5 * (v + 1)),
        weights: Array.from(weights, (w) => 0.5 * w),
      };
    }
    default:
      throw new Error(`IntegratedGradients: unknown method "${method}" (${METHODS})`);
  }
}

/** Options for `IntegratedGradients.attribute`. */
export interface IntegratedGradientsOptions extends AttributeOptions {
  /** The reference input x′ (default 0): a number, or a tensor broadcastable to x. */
  baselines?: Baseline;
  /** Points on the path (default 50, as Captum). */
  nSteps?: number;
  /** Quadrature rule (default "gausslegendre", as Captum; see `integrationPoints`). */
  method?: IntegrationMethod;
}

/** Attributions with the completeness error of each example (and target). */
export interface AttributionWithDelta {
  /** Shaped like x ([N, T, ...] for several targets per example). */
  attributions: Tensor;
  /** Σ attributions − (F(x) − F(x′)) per example: [N] (or [N, T]). */
  delta: Tensor;
}

/**
 * Integrated Gradients: the gradient integrated along the straight path from a baseline to
 * the input, times (x − x′). Attributions sum to F(x) − F(x′) (completeness), up to the
 * quadrature error that `attributeWithDelta` reports. All examples, targets and steps go
 * through the model in internal batches (`internalBatchSize`), so memory stays bounded.
 * Sundararajan, Taly & Yan, 2017 (arXiv:1703.01365).
 *
 * @example
 * ```ts
 * import { IntegratedGradients, Linear, randn } from "glassbox";
 * const ig = new IntegratedGradients(new Linear(4, 3));
 * const attr = await ig.attribute(randn([2, 4]), { target: 1, baselines: 0, nSteps: 32 });
 * const { delta } = await ig.attributeWithDelta(randn([2, 4]), { target: 1 }); // ≈ 0 for a linear model
 * ```
 */
export class IntegratedGradients extends Attribution {
  /** Attributions shaped like `x`. */
  async attribute(x: Tensor, options: IntegratedGradientsOptions = {}): Promise<Tensor> {
    const r = await this.attributeWithDelta(x, options, false);
    return r.attributions;
  }

  /** Attributions and the convergence delta (Captum's `return_convergence_delta=True`). */
  attributeWithDelta(
    x: Tensor,
    options: IntegratedGradientsOptions = {},
    withDelta = true,
  ): Promise<AttributionWithDelta> {
    // in a scope: the baseline, the repeated rows and x − x′ are freed; only the results stay
    return this.run(x, () =>
      scope(async () => {
        const table = await this.targets(x, options.target);
        const base = baselineLike("IntegratedGradients", options.baselines, x);
        const { attributions, delta } = await this.integrate(x, base, table, options, withDelta);
        return {
          attributions: perTarget(attributions, table),
          delta: delta ? reshapeDelta(delta, table) : delta!,
        };
      }));
  }

  /** @internal IG of every (example, target) row: attributions [N·T, ...] and, if asked, the deltas [N·T]. */
  async integrate(
    x: Tensor,
    base: Tensor,
    table: TargetTable,
    options: IntegratedGradientsOptions,
    withDelta: boolean,
  ): Promise<{ attributions: Tensor; delta: Tensor | null }> {
    const { alphas, weights } = integrationPoints(options.method ?? "gausslegendre", options.nSteps ?? 50);
    const S = alphas.length;
    const xr = repeatRows(x, table.T), br = repeatRows(base, table.T);
    const E = xr.shape[0], rest = xr.shape.slice(1), ones = rest.map(() => 1);
    const B = defaultBatchRows(rowSize(x), options.internalBatchSize);
    const diff = sub(xr, br);
    // Σ_k w_k ∂F/∂x at x′ + α_k (x − x′) for examples [e0, e1) and steps [k0, k1): [e1 − e0, ...]
    const pathSum = (e0: number, e1: number, k0: number, k1: number): Tensor => {
      const G = e1 - e0, s = k1 - k0;
      const a = tensor(alphas.slice(k0, k1), [1, s, ...ones]);
      const b = reshape(slice(br, e0, e1), [G, 1, ...rest]);
      const d = reshape(slice(diff, e0, e1), [G, 1, ...rest]);
      const rows = reshape(add(b, mul(a, d)), [G * s, ...rest]);
      const index = new Int32Array(G * s);
      for (let g = 0; g < G; g++) index.fill(table.index[e0 + g], g * s, (g + 1) * s);
      // the backward pass is seeded with each step's quadrature weight: the weighted sum is a plain sum
      const w = new Float32Array(G * s);
      for (let g = 0; g < G; g++) w.set(weights.slice(k0, k1), g * s);
      return sum(reshape(this.gradients(rows, index, w), [G, s, ...rest]), 1);
    };
    const parts: Tensor[] = [];
    const total = E * S;
    let done = 0;
    const report = async (n: number) => {
      done += n;
      if (options.onProgress) {
        await settle();
        options.onProgress(done, total);
      }
    };
    if (S <= B) {
      const G = Math.max(1, Math.floor(B / S));
      for (let e0 = 0; e0 < E; e0 += G) {
        const e1 = Math.min(E, e0 + G);
        parts.push(await scope(() => pathSum(e0, e1, 0, S)));
        await report((e1 - e0) * S);
      }
    } else {
      for (let e = 0; e < E; e++) {
        let acc: Tensor | null = null;
        for (let k0 = 0; k0 < S; k0 += B) {
          const k1 = Math.min(S, k0 + B);
          const part: Tensor = await scope(() => pathSum(e, e + 1, k0, k1));
          if (acc) {
            const next: Tensor = add(acc, part);
            acc.dispose();
            part.dispose();
            acc = next;
          } else acc = part;
          await report(k1 - k0);
        }
        parts.push(acc!);
      }
    }
    const grads = joinRows(parts);
    const attributions = mul(diff, grads);
    grads.dispose();
    if (!withDelta) return { attributions, delta: null };
    const total_ = sum(reshape(attributions, [E, -1]), 1);
    const fx = this.scoresOf(xr, table.index, B), fb = this.scoresOf(br, table.index, B);
    const delta = sub(total_, sub(fx, fb));
    return { attributions, delta };
  }
}

function reshapeDelta(delta: Tensor, table: TargetTable): Tensor {
  return table.multi ? reshape(delta, [table.N, table.T]) : delta;
}
