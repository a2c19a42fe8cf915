/** Convolution and pooling layers (NCHW). */
import { avgPool2d, conv2d, maxPool2d } from "../tensor/ops/conv.ts";
import { mean } from "../tensor/ops/reduce.ts";
import type { Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { kaimingNormal, kaimingUniform, uniform } from "./init.ts";
import { Module } from "./module.ts";

/** Options for `Conv2d`. */
export interface Conv2dLayerOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  bias?: boolean;
  /** "default" (PyTorch's) or "kaiming" (He normal, zero bias). */
  init?: "default" | "kaiming";
  generator?: Generator;
}

/**
 * A 2-D convolution layer, weight [out, in, k, k] as in PyTorch.
 *
 * @example
 * ```ts
 * import { Conv2d, randn } from "glassbox";
 * const conv = new Conv2d(1, 32, 3);
 * conv.forward(randn([64, 1, 28, 28])).shape; // [64, 32, 26, 26]
 * ```
 */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: Conv2dLayerOptions = {},
  ) {
    super();
    const shape = [outChannels, inChannels, kernelSize, kernelSize];
    const g = options.generator;
    const kaiming = options.init === "kaiming";
    this.weight = this.addParameter(
      "weight",
      kaiming ? kaimingNormal(shape, g) : kaimingUniform(shape, Math.sqrt(5), g),
    );
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.bias = options.bias === false
      ? null
      : this.addParameter("bias", uniform([outChannels], kaiming ? 0 : -bound, kaiming ? 0 : bound, g));
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

/** Max pooling layer. */
export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly stride?: number | [number, number],
    readonly padding: number | [number, number] = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Average pooling layer. */
export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly stride?: number | [number, number],
    readonly padding: number | [number, number] = 0,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Global average pooling to 1×1 (AdaptiveAvgPool2d(1)). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: 1 = 1) {
    super();
    if (outputSize !== 1) throw new Error("AdaptiveAvgPool2d: only output size 1 is supported");
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) {
      throw new Error(`AdaptiveAvgPool2d: expected [N, C, H, W], got [${x.shape.join(", ")}]`);
    }
    return mean(x, [2, 3], true);
  }
}
