/**
 * GradientSHAP / expected gradients (Lundberg & Lee, 2017, arXiv:1705.07874; Erion et al.,
 * 2021, arXiv:1906.10670): the expectation, over baselines b drawn from a distribution, α ~
 * U(0, 1) and optional input noise, of (x − b) ⊙ ∇F(b + α(x − b)), as Captum's GradientShap.
 */
import { tensor } from "../tensor/create.ts";
import { Generator } from "../tensor/random.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { reshape, slice } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type AttributeOptions,
  Attribution,
  chunked,
  defaultBatchRows,
  joinRows,
  perTarget,
  rowSize,
} from "./attribution.ts";

/** Options for `GradientShap.attribute`. */
export interface GradientShapOptions extends AttributeOptions {
  /** Baselines to draw from: [B, ...] with x's example shape (required, as Captum). */
  baselines: Tensor;
  /** Samples per input (default 5). */
  nSamples?: number;
  /** Standard deviation of noise added to the input (default 0). */
  stdevs?: number;
  /** Seed for the draws (default 0). */
  seed?: number;
}

/**
 * GradientSHAP: the mean over `nSamples` draws of (x̃ − b) ⊙ ∇F(b + α(x̃ − b)), with b a random
 * row of `baselines`, α ~ U(0, 1) and x̃ = x + N(0, stdevs²). Attributions approximate SHAP
 * values: their sum approaches F(x) − E[F(b)].
 *
 * @example
 * ```ts
 * import { GradientShap, Linear, randn } from "glassbox";
 * const attr = await new GradientShap(new Linear(4, 2)).attribute(randn([3, 4]), { target: 1, baselines: randn([10, 4]) });
 * ```
 */
export class GradientShap extends Attribution {
  /** Attributions shaped like `x`. */
  attribute(x: Tensor, options: GradientShapOptions): Promise<Tensor> {
    return this.run(x, async () => {
      const b = options?.baselines;
      if (!b || b.ndim !== x.ndim || b.shape.slice(1).some((d, i) => d !== x.shape[i + 1])) {
        throw new Error(
          `GradientShap: baselines must be a tensor [B, ${
            x.shape.slice(1).join(", ")
          }] of reference inputs, got ${b ? `[${b.shape.join(", ")}]` : "none"}`,
        );
      }
      const S = options.nSamples ?? 5, sd = options.stdevs ?? 0;
      if (!Number.isInteger(S) || S < 1) {
        throw new Error(`GradientShap: nSamples must be a positive integer, got ${S}`);
      }
      const table = await this.targets(x, options.target);
      const row = rowSize(x), rest = x.shape.slice(1);
      const xs = await x.toArray(), bs = await b.toArray();
      const gen = new Generator(options.seed ?? 0);
      // rows (example e, sample s) at e·S + s; each example's T targets are separate examples
      const E = table.N * table.T, R = E * S;
      const points = new Float32Array(R * row), diffs = new Float32Array(R * row);
      const index = new Int32Array(R);
      for (let e = 0; e < E; e++) {
        const n = Math.floor(e / table.T);
        for (let s = 0; s < S; s++) {
          const r = e * S + s, k = gen.int(b.shape[0]), alpha = gen.random();
          index[r] = table.index[e];
          for (let i = 0; i < row; i++) {
            const xi = xs[n * row + i] + (sd ? sd * gen.normal() : 0), bi = bs[k * row + i];
            diffs[r * row + i] = xi - bi;
            points[r * row + i] = bi + alpha * (xi - bi);
          }
        }
      }
      const pts = tensor(points, [R, ...rest]), dif = tensor(diffs, [R, ...rest]);
      const size = defaultBatchRows(row, options.internalBatchSize);
      const parts = await chunked(R, size, options.onProgress, (s, e) => {
        const g = this.gradients(slice(pts, s, e), index.subarray(s, e));
        return mul(g, slice(dif, s, e));
      });
      const all = joinRows(parts);
      const attr = mean(reshape(all, [E, S, ...rest]), 1);
      return perTarget(attr, table);
    });
  }
}
