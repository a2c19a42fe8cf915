/**
 * The plain gradient methods: Saliency (Simonyan et al., 2014) and Input × Gradient
 * (Shrikumar et al., 2016).
 */
import { abs, mul } from "../tensor/ops/elementwise.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type AttributeOptions, Attribution, perTarget, repeatRows } from "./attribution.ts";

/** Options for `Saliency`. */
export interface SaliencyOptions extends AttributeOptions {
  /** Return |∂F/∂x| (default true, as Captum) or the signed gradient. */
  abs?: boolean;
}

/**
 * Saliency: the gradient of the target output with respect to each input element, |∂F/∂x|
 * by default. Simonyan, Vedaldi & Zisserman, 2014, "Deep Inside Convolutional Networks"
 * (arXiv:1312.6034).
 *
 * @example
 * ```ts
 * import { Linear, randn, Saliency } from "glassbox";
 * const model = new Linear(4, 3);
 * const attr = await new Saliency(model).attribute(randn([2, 4]), { target: [0, 2] }); // [2, 4]
 * ```
 */
export class Saliency extends Attribution {
  /** Attributions shaped like `x` ([N, T, ...] for several targets per example). */
  attribute(x: Tensor, options: SaliencyOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const g = await this.inputGradients(x, table, options);
      if (options.abs === false) return perTarget(g, table);
      const a = abs(g);
      g.dispose();
      return perTarget(a, table);
    });
  }
}

/**
 * Input × Gradient: x ⊙ ∂F/∂x. Shrikumar, Greenside, Shcherbina & Kundaje, 2016, "Not Just a
 * Black Box" (arXiv:1605.01713).
 *
 * @example
 * ```ts
 * import { InputXGradient, Linear, randn } from "glassbox";
 * const attr = await new InputXGradient(new Linear(4, 1)).attribute(randn([2, 4])); // w·x per feature
 * ```
 */
export class InputXGradient extends Attribution {
  /** Attributions shaped like `x` ([N, T, ...] for several targets per example). */
  attribute(x: Tensor, options: AttributeOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const g = await this.inputGradients(x, table, options);
      const a = mul(g, repeatRows(x, table.T));
      g.dispose();
      return perTarget(a, table);
    });
  }
}
