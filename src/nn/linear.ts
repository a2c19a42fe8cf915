/** Linear: y = x·Wᵀ + b, with PyTorch's weight layout [out, in] and default init. */
import { linear } from "../tensor/ops/matmul.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Generator } from "../tensor/random.ts";
import { kaimingNormal, kaimingUniform, uniform, xavierUniform } from "./init.ts";
import { Module } from "./module.ts";

/** Options for `Linear`. */
export interface LinearOptions {
  /** Whether to add a bias (default true). */
  bias?: boolean;
  /** "default" (PyTorch's: uniform ±1/√fan_in), "kaiming" (He normal) or "xavier" (Glorot uniform). */
  init?: "default" | "kaiming" | "xavier";
  /** The generator the initial weights are drawn from (default: the global one, see `manualSeed`). */
  generator?: Generator;
}

/**
 * A fully connected layer.
 *
 * @example
 * ```ts
 * import { Linear, randn } from "glassbox";
 * const fc = new Linear(784, 128, { init: "kaiming" });
 * const y = fc.forward(randn([64, 784])); // [64, 128]
 * ```
 */
export class Linear extends Module {
  /** The learned weight, [outFeatures, inFeatures] (parameter "weight"). */
  weight: Tensor;
  /** The learned bias, [outFeatures] (parameter "bias"), or null with `bias: false`. */
  bias: Tensor | null;
  /**
   * A layer from `inFeatures` to `outFeatures` (PyTorch's `nn.Linear`), its weights drawn now as
   * `options.init` says.
   */
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    const shape = [outFeatures, inFeatures];
    const g = options.generator;
    const init = options.init ?? "default";
    const w = init === "kaiming"
      ? kaimingNormal(shape, g)
      : init === "xavier"
      ? xavierUniform(shape, 1, g)
      : kaimingUniform(shape, Math.sqrt(5), g);
    this.weight = this.addParameter("weight", w);
    const bound = 1 / Math.sqrt(inFeatures);
    this.bias = options.bias === false ? null : this.addParameter(
      "bias",
      init === "default" ? uniform([outFeatures], -bound, bound, g) : uniform([outFeatures], 0, 0, g),
    );
  }
  /** x·Wᵀ + b for x [..., inFeatures]: [..., outFeatures]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
