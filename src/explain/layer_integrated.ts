/**
 * Integrated attribution at a layer: LayerIntegratedGradients (Captum's: the layer's output is
 * moved along the straight path from its value at the baseline to its value at the input) and
 * LayerConductance (Dhamdhere, Sundararajan & Yan, 2019, "How Important Is a Neuron?",
 * arXiv:1805.12233: the part of the input's IG that flows through each unit).
 */
import { grad } from "../tensor/autograd.ts";
import { tensor } from "../tensor/create.ts";
import { add, mul, sub } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { reshape, slice } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type Baseline,
  baselineLike,
  defaultBatchRows,
  joinRows,
  perTarget,
  repeatRows,
  rowSize,
} from "./attribution.ts";
import {
  type AttributionWithDelta,
  type IntegratedGradientsOptions,
  integrationPoints,
} from "./integrated_gradients.ts";
import { LayerAttribution } from "./layer.ts";
import { targetScores } from "./target.ts";
import { scope } from "../tensor/scope.ts";
import { settle } from "../tensor/mod.ts";

/** Options for the layer path methods. */
export interface LayerIntegratedOptions extends IntegratedGradientsOptions {
  /** The reference input x′ (default 0). */
  baselines?: Baseline;
}

/** Counts the rows done and reports them (after the GPU has finished them) to `onProgress`. */
function progress(total: number, onProgress?: (done: number, total: number) => void) {
  let done = 0;
  return async (n: number) => {
    done += n;
    if (onProgress) {
      await settle();
      onProgress(done, total);
    }
  };
}

/** Adds `part` to `acc` (freeing both), or starts the sum with it. */
function accumulate(acc: Tensor | null, part: Tensor): Tensor {
  if (!acc) return part;
  const next = add(acc, part);
  acc.dispose();
  part.dispose();
  return next;
}

/**
 * Layer Integrated Gradients (Captum's): with A and A′ the layer's outputs for the input and the
 * baseline, (A − A′) ⊙ ∫₀¹ ∂F/∂A evaluated with the layer's output set to A′ + α(A − A′), with
 * the quadrature of `integrationPoints` (`method`, `nSteps`). The attributions are shaped like
 * the layer's output and sum to F(x) − F(x′) up to the quadrature error. Examples, targets and
 * steps go through the model in internal batches of at most `internalBatchSize` rows.
 *
 * @example
 * ```ts
 * import { LayerIntegratedGradients, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const attr = await new LayerIntegratedGradients(model, model.get("1")).attribute(randn([2, 4]), { target: 0 }); // [2, 8]
 * ```
 */
export class LayerIntegratedGradients extends LayerAttribution {
  /** Attributions shaped like the layer's output. */
  async attribute(x: Tensor, options: LayerIntegratedOptions = {}): Promise<Tensor> {
    const { attributions, delta } = await this.attributeWithDelta(x, options);
    delta.dispose();
    return attributions;
  }

  /** Attributions and Σ attr − (F(x) − F(x′)) per example. */
  attributeWithDelta(x: Tensor, options: LayerIntegratedOptions = {}): Promise<AttributionWithDelta> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const { alphas, weights } = integrationPoints(options.method ?? "gausslegendre", options.nSteps ?? 50);
      const xr = repeatRows(x, table.T),
        br = repeatRows(baselineLike("LayerIntegratedGradients", options.baselines, x), table.T);
      const E = xr.shape[0], S = alphas.length;
      const B = defaultBatchRows(rowSize(x), options.internalBatchSize);
      // G examples with all their steps in one pass when the steps fit, else one example in chunks of steps
      const G = S <= B ? Math.max(1, Math.floor(B / S)) : 1;
      const report = progress(E * S, options.onProgress);
      const parts: { attr: Tensor; delta: Tensor }[] = [];
      for (let e0 = 0; e0 < E; e0 += G) {
        const e1 = Math.min(E, e0 + G), n = e1 - e0;
        parts.push(
          await scope(async () => {
            const xg = slice(xr, e0, e1), bg = slice(br, e0, e1);
            const A = this.activation(xg), A0 = this.activation(bg);
            const dA = sub(A, A0), lr = A.shape.slice(1), ones = lr.map(() => 1);
            const index = table.index.subarray(e0, e1);
            let total: Tensor | null = null;
            for (let k0 = 0; k0 < S; k0 += B) {
              const k1 = Math.min(S, k0 + B), s = k1 - k0;
              const part: Tensor = await scope(() => {
                // the layer's output for row (g, k) is A′ + α_k (A − A′); n·s ≤ B rows
                const al = tensor(alphas.slice(k0, k1), [1, s, ...ones]);
                const points = reshape(
                  add(reshape(A0, [n, 1, ...lr]), mul(al, reshape(dA, [n, 1, ...lr]))),
                  [n * s, ...lr],
                );
                const rowIndex = new Int32Array(n * s), w = new Float32Array(n * s);
                for (let g = 0; g < n; g++) {
                  rowIndex.fill(index[g], g * s, (g + 1) * s);
                  w.set(weights.slice(k0, k1), g * s);
                }
                const g = this.gradientAtLayerValue(repeatRows(xg, s), points, rowIndex, w);
                return sum(reshape(g, [n, s, ...lr]), 1);
              });
              total = accumulate(total, part);
              await report(n * s);
            }
            const attr = mul(dA, total!);
            const gap = sub(this.scores(xg, index), this.scores(bg, index));
            return { attr, delta: sub(sum(reshape(attr, [n, -1]), 1), gap) };
          }),
        );
      }
      const attributions = joinRows(parts.map((p) => p.attr)), delta = joinRows(parts.map((p) => p.delta));
      return {
        attributions: perTarget(attributions, table),
        delta: table.multi ? reshape(delta, [table.N, table.T]) : delta,
      };
    });
  }

  /**
   * @internal ∂F/∂(layer output) when the layer's output is replaced by `value` (a forward from
   * `rows`), row r's gradient multiplied by `weights[r]`.
   */
  protected gradientAtLayerValue(
    rows: Tensor,
    value: Tensor,
    index: Int32Array,
    weights: Float32Array,
  ): Tensor {
    const leaf = value.detach().requiresGrad_(true);
    const h = this.layer.registerForwardHook(() => leaf);
    try {
      const scores = targetScores(this.model.forward(rows), index);
      return grad(scores, [leaf], tensor(weights, [index.length]))[0];
    } finally {
      h.remove();
    }
  }
}

/**
 * Layer Conductance, as Captum's: for each unit y of the layer, Σ_k ∂F/∂y(α_k) · (y(α_{k+1}) −
 * y(α_k)) along the input path x′ + α(x − x′), over the nSteps + 1 points α_0 … α_nSteps that
 * `integrationPoints(method, nSteps + 1)` gives (its weights are not used): how much of F(x) −
 * F(x′) flows through y. The sum over the units telescopes to about F(x(α_n)) − F(x(α_0)): with
 * Captum's default "gausslegendre", whose points exclude 0 and 1, that falls short of F(x) −
 * F(x′) by the two end pieces of the path (small for many steps); "riemann_trapezoid" (or
 * "trapezoid") puts α_0 = 0 and α_n = 1. Examples, targets and points go through the model in
 * internal batches of at most `internalBatchSize` rows.
 *
 * @example
 * ```ts
 * import { LayerConductance, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const c = await new LayerConductance(model, model.get("1")).attribute(randn([2, 4]), { target: 1, nSteps: 32 });
 * ```
 */
export class LayerConductance extends LayerAttribution {
  /** Conductance of each unit, shaped like the layer's output. */
  attribute(x: Tensor, options: LayerIntegratedOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const n = options.nSteps ?? 50;
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`LayerConductance: nSteps must be a positive integer, got ${n}`);
      }
      const { alphas } = integrationPoints(options.method ?? "gausslegendre", n + 1);
      const xr = repeatRows(x, table.T),
        br = repeatRows(baselineLike("LayerConductance", options.baselines, x), table.T);
      const E = xr.shape[0], P = alphas.length, rest = xr.shape.slice(1), ones = rest.map(() => 1);
      const B = defaultBatchRows(rowSize(x), options.internalBatchSize);
      const report = progress(E * P, options.onProgress);
      // the path points k0 … k1 − 1 of examples [e0, e1): [(e1 − e0)·(k1 − k0), ...]
      const path = (e0: number, e1: number, k0: number, k1: number) => {
        const G = e1 - e0, s = k1 - k0;
        const a = tensor(alphas.slice(k0, k1), [1, s, ...ones]);
        const b = reshape(slice(br, e0, e1), [G, 1, ...rest]),
          d = reshape(sub(slice(xr, e0, e1), slice(br, e0, e1)), [G, 1, ...rest]);
        const rows = reshape(add(b, mul(a, d)), [G * s, ...rest]);
        const index = new Int32Array(G * s);
        for (let g = 0; g < G; g++) index.fill(table.index[e0 + g], g * s, (g + 1) * s);
        return this.activationAndGradient(rows, index);
      };
      const parts: Tensor[] = [];
      if (P <= B) {
        // G examples with all their points in one pass
        const G = Math.max(1, Math.floor(B / P));
        for (let e0 = 0; e0 < E; e0 += G) {
          const e1 = Math.min(E, e0 + G), m = e1 - e0;
          parts.push(
            await scope(() => {
              const { act, grad: g } = path(e0, e1, 0, P);
              const lr = act.shape.slice(1);
              const y = reshape(act, [m, P, ...lr]), dy = reshape(g, [m, P, ...lr]);
              const step = sub(slice(y, 1, P, 1), slice(y, 0, P - 1, 1)); // y(α_{k+1}) − y(α_k)
              return sum(mul(slice(dy, 0, P - 1, 1), step), 1);
            }),
          );
          await report(m * P);
        }
      } else {
        // one example at a time, its points in chunks; the last point of a chunk pairs with the first of the next
        for (let e = 0; e < E; e++) {
          let acc: Tensor | null = null;
          let carry: { act: Tensor; grad: Tensor } | null = null;
          for (let k0 = 0; k0 < P; k0 += B) {
            const k1 = Math.min(P, k0 + B), s = k1 - k0;
            const prev: { act: Tensor; grad: Tensor } | null = carry;
            const r: { part: Tensor | null; last: { act: Tensor; grad: Tensor } } = await scope(() => {
              const { act, grad: g } = path(e, e + 1, k0, k1);
              let part: Tensor | null = null;
              if (s > 1) {
                const step = sub(slice(act, 1, s), slice(act, 0, s - 1));
                part = sum(mul(slice(g, 0, s - 1), step), 0, true);
              }
              if (prev) {
                const bridge = mul(prev.grad, sub(slice(act, 0, 1), prev.act));
                part = part ? add(part, bridge) : bridge;
              }
              return { part, last: { act: slice(act, s - 1, s), grad: slice(g, s - 1, s) } };
            });
            if (prev) {
              prev.act.dispose();
              prev.grad.dispose();
            }
            carry = r.last;
            if (r.part) acc = accumulate(acc, r.part);
            await report(s);
          }
          carry!.act.dispose();
          carry!.grad.dispose();
          parts.push(acc!);
        }
      }
      return perTarget(joinRows(parts), table);
    });
  }
}
