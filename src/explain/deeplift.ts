/**
 * DeepLIFT with the Rescale rule (Shrikumar, Greenside & Kundaje, 2017, "Learning Important
 * Features Through Propagating Activation Differences", ICML, arXiv:1704.02685): explains
 * F(x) − F(x′) by passing back, through each nonlinearity, the multiplier Δy/Δx between the
 * input and the baseline instead of the local derivative (Ancona et al., 2018, write it as
 * this modified gradient). The input and the baseline go through the model in one batch.
 */
import { launchBinary } from "../tensor/kernels.ts";
import { mul, sub } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { concat, reshape, slice } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type AttributeOptions,
  Attribution,
  type Baseline,
  baselineLike,
  chunked,
  defaultBatchRows,
  joinRows,
  perTarget,
  repeatRows,
  rowSize,
} from "./attribution.ts";
import { grad } from "../tensor/autograd.ts";
import { targetScores } from "./target.ts";
import type { AttributionWithDelta } from "./integrated_gradients.ts";
import { withGradient } from "./relu_rules.ts";

/** The elementwise nonlinearities the Rescale rule rewrites. */
const NONLINEAR = new Set(["ReLU", "Sigmoid", "Tanh"]);

/** The local derivative of a nonlinearity from its input x and output y (used where Δx ≈ 0). */
function derivative(type: string, x: Tensor, y: Tensor): Tensor {
  if (type === "ReLU") return launchBinary(x, x, "select(0.0, 1.0, a > 0.0)", x.shape);
  if (type === "Sigmoid") return launchBinary(y, y, "a * (1.0 - a)", y.shape);
  return launchBinary(y, y, "1.0 - a * a", y.shape); // Tanh
}

/** Options for `DeepLift.attribute`. */
export interface DeepLiftOptions extends AttributeOptions {
  /** The reference input x′ (default 0): a number, or a tensor broadcastable to x. */
  baselines?: Baseline;
  /** |Δx| below this uses the local derivative instead of Δy/Δx (default 1e-10, as Captum). */
  eps?: number;
}

/**
 * DeepLIFT (Rescale rule) for models built from modules: every ReLU, Sigmoid and Tanh module
 * passes back Δy/Δx (the local derivative where |Δx| <= eps). Linear layers and convolutions are linear, so their
 * gradient already is their multiplier. Max pooling keeps its gradient (Captum has a special
 * rule for it; glassbox does not yet). Attributions sum to F(x) − F(x′) for these models.
 *
 * @example
 * ```ts
 * import { DeepLift, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const { attributions, delta } = await new DeepLift(model).attributeWithDelta(randn([2, 4]), { target: 0 });
 * ```
 */
export class DeepLift extends Attribution {
  /** Attributions shaped like `x`. */
  async attribute(x: Tensor, options: DeepLiftOptions = {}): Promise<Tensor> {
    return (await this.attributeWithDelta(x, options)).attributions;
  }

  /** Attributions and the completeness error Σ attr − (F(x) − F(x′)) per example. */
  attributeWithDelta(x: Tensor, options: DeepLiftOptions = {}): Promise<AttributionWithDelta> {
    return this.run(x, async () => {
      const eps = options.eps ?? 1e-10;
      const table = await this.targets(x, options.target); // before the hooks: they expect [inputs; baselines]
      const mods = this.model.namedModules().map(([, m]) => m).filter((m) => NONLINEAR.has(m.typeName));
      for (const m of mods) {
        this.hold(m.registerForwardHook((_m, [input], out) => {
          // rows [0, R) are inputs, [R, 2R) their baselines: m = Δy/Δx, the same for both halves
          const R = input.shape[0] / 2;
          const dx = sub(slice(input, 0, R), slice(input, R));
          const dy = sub(slice(out, 0, R), slice(out, R));
          const ratio = launchBinary(dy, dx, `select(0.0, a / b, abs(b) > ${eps.toExponential()})`, dx.shape);
          const useRatio = launchBinary(
            dx,
            dx,
            `select(0.0, 1.0, abs(a) > ${eps.toExponential()})`,
            dx.shape,
          );
          const local = concat([ratio, ratio], 0), mask = concat([useRatio, useRatio], 0);
          return withGradient(input, out, "DeepLift", (g) => {
            // where Δx ≈ 0 the ratio is ill-posed: the local derivative takes its place
            const multiplier = launchBinary(
              mul(mask, local),
              launchBinary(mask, derivative(m.typeName, input, out), "(1.0 - a) * b", g.shape),
              "a + b",
              g.shape,
            );
            return mul(g, multiplier);
          });
        }));
      }
      const base = baselineLike("DeepLift", options.baselines, x);
      const xr = repeatRows(x, table.T), br = repeatRows(base, table.T);
      const E = xr.shape[0];
      // each internal batch holds inputs and their baselines: [x rows; x′ rows]
      const size = Math.max(1, Math.floor(defaultBatchRows(rowSize(x), options.internalBatchSize) / 2));
      const parts = await chunked(E, size, options.onProgress, (s, e) => {
        const both = concat([slice(xr, s, e), slice(br, s, e)], 0);
        const index = new Int32Array(2 * (e - s));
        index.set(table.index.subarray(s, e), 0);
        index.set(table.index.subarray(s, e), e - s);
        const leaf = both._view(both.shape).requiresGrad_(true);
        const scores = targetScores(this.model.forward(leaf), index);
        const [g] = grad(sum(scores), [leaf]);
        const diff = sub(slice(xr, s, e), slice(br, s, e));
        const attr = mul(diff, slice(g, 0, e - s));
        const gap = sub(slice(scores, 0, e - s), slice(scores, e - s)); // F(x) − F(x′)
        return { attr, delta: sub(sum(reshape(attr, [e - s, -1]), 1), gap) };
      });
      const attributions = joinRows(parts.map((p) => p.attr));
      const delta = joinRows(parts.map((p) => p.delta));
      return {
        attributions: perTarget(attributions, table),
        delta: table.multi ? reshape(delta, [table.N, table.T]) : delta,
      };
    });
  }
}
