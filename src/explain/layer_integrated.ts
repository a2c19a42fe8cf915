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
import { type Baseline, baselineLike, joinRows, perTarget, repeatRows } from "./attribution.ts";
import {
  type AttributionWithDelta,
  type IntegratedGradientsOptions,
  integrationPoints,
} from "./integrated_gradients.ts";
import { LayerAttribution } from "./layer.ts";
import { targetScores } from "./target.ts";
import { scope } from "../tensor/scope.ts";

/** Options for the layer path methods. */
export interface LayerIntegratedOptions extends IntegratedGradientsOptions {
  /** The reference input x′ (default 0). */
  baselines?: Baseline;
}

/**
 * Layer Integrated Gradients: with A and A′ the layer's outputs for the input and the baseline,
 * (A − A′) ⊙ ∫₀¹ ∂F/∂A evaluated with the layer's output set to A′ + α(A − A′). The
 * attributions are shaped like the layer's output and sum to F(x) − F(x′) (completeness).
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
    return (await this.attributeWithDelta(x, options)).attributions;
  }

  /** Attributions and Σ attr − (F(x) − F(x′)) per example. */
  attributeWithDelta(x: Tensor, options: LayerIntegratedOptions = {}): Promise<AttributionWithDelta> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const { alphas, weights } = integrationPoints(options.method ?? "gausslegendre", options.nSteps ?? 50);
      const xr = repeatRows(x, table.T),
        br = repeatRows(baselineLike("LayerIntegratedGradients", options.baselines, x), table.T);
      const E = xr.shape[0];
      const parts: { attr: Tensor; delta: Tensor }[] = [];
      for (let e = 0; e < E; e++) {
        parts.push(
          await scope(() => {
            const xe = slice(xr, e, e + 1), be = slice(br, e, e + 1);
            const A = this.activation(xe), A0 = this.activation(be);
            const S = alphas.length, lr = A.shape.slice(1), ones = lr.map(() => 1);
            // every step in one pass: the layer's output for row k is A′ + α_k (A − A′)
            const al = tensor(alphas, [S, ...ones]), w = tensor(weights, [S, ...ones]);
            const points = add(A0, mul(al, sub(A, A0)));
            const g = this.gradientAtLayerValue(
              repeatRows(xe, S),
              points,
              new Int32Array(S).fill(table.index[e]),
            );
            const total = sum(mul(g, w), 0, true);
            const attr = mul(sub(A, A0), total);
            const idx = new Int32Array(1).fill(table.index[e]);
            const fx = this.scores(xe, idx), fb = this.scores(be, idx);
            const delta = sub(sum(reshape(attr, [1, -1]), 1), sub(fx, fb));
            return { attr, delta };
          }),
        );
        options.onProgress?.(e + 1, E);
      }
      const attributions = joinRows(parts.map((p) => p.attr)), delta = joinRows(parts.map((p) => p.delta));
      return {
        attributions: perTarget(attributions, table),
        delta: table.multi ? reshape(delta, [table.N, table.T]) : delta,
      };
    });
  }

  /** @internal ∂F/∂(layer output) when the layer's output is replaced by `value` (a forward from `rows`). */
  protected gradientAtLayerValue(rows: Tensor, value: Tensor, index: Int32Array): Tensor {
    const leaf = value._view(value.shape).requiresGrad_(true);
    const h = this.layer.registerForwardHook(() => leaf);
    try {
      const scores = targetScores(this.model.forward(rows), index);
      return grad(sum(scores), [leaf])[0];
    } finally {
      h.remove();
    }
  }
}

/**
 * Layer Conductance: for each unit y of the layer, Σ_k ∂F/∂y(α_k) · (y(α_{k+1}) − y(α_k)) along
 * the input path x′ + α(x − x′) (α on a uniform grid of nSteps + 1 points): how much of F(x) −
 * F(x′) flows through y. Sums to F(x) − F(x′) up to the discretisation.
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
      const xr = repeatRows(x, table.T),
        br = repeatRows(baselineLike("LayerConductance", options.baselines, x), table.T);
      const E = xr.shape[0], rest = xr.shape.slice(1), ones = rest.map(() => 1);
      const parts: Tensor[] = [];
      for (let e = 0; e < E; e++) {
        parts.push(
          await scope(() => {
            const xe = reshape(slice(xr, e, e + 1), [1, ...rest]),
              be = reshape(slice(br, e, e + 1), [1, ...rest]);
            const a = tensor(Array.from({ length: n + 1 }, (_, k) => k / n), [n + 1, ...ones]);
            const path = add(be, mul(a, sub(xe, be))); // [n + 1, ...]
            const { act, grad: g } = this.activationAndGradient(
              path,
              new Int32Array(n + 1).fill(table.index[e]),
            );
            const dy = sub(slice(act, 1, n + 1), slice(act, 0, n)); // y(α_{k+1}) − y(α_k)
            return sum(mul(slice(g, 0, n), dy), 0, true);
          }),
        );
        options.onProgress?.(e + 1, E);
      }
      return perTarget(joinRows(parts), table);
    });
  }
}
