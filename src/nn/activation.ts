/** Activation modules (each a parameter-free wrapper over the op of the same name). */
import { gelu, leakyRelu, relu, sigmoid, tanh } from "../tensor/ops/elementwise.ts";
import { flatten, reshape } from "../tensor/ops/shape.ts";
import { logSoftmax, softmax } from "../tensor/ops/softmax.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** max(x, 0). */
export class ReLU extends Module {
  /** max(x, 0) elementwise; same shape as x. */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}
/** Leaky ReLU with a negative slope. */
export class LeakyReLU extends Module {
  /**
   * A leaky ReLU whose negative inputs are multiplied by `slope` (PyTorch's `negative_slope`, default 0.01).
   */
  constructor(readonly slope: number = 0.01) {
    super();
  }
  /** x where x ≥ 0, slope·x elsewhere; same shape as x. */
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.slope);
  }
}
/** Logistic sigmoid. */
export class Sigmoid extends Module {
  /** 1 / (1 + e^−x) elementwise, in (0, 1); same shape as x. */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}
/** Hyperbolic tangent. */
export class Tanh extends Module {
  /** tanh(x) elementwise, in (−1, 1); same shape as x. */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
/** GELU (exact erf form). */
export class GELU extends Module {
  /** x·Φ(x) elementwise, Φ the standard normal CDF (PyTorch's `approximate="none"`); same shape as x. */
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}
/** Softmax along an axis. */
export class Softmax extends Module {
  /** A softmax over dimension `axis` (PyTorch's `dim`; negative counts from the end, default the last). */
  constructor(readonly axis: number = -1) {
    super();
  }
  /** exp(x) / Σ exp(x) along `axis` (each slice sums to 1); same shape as x. */
  forward(x: Tensor): Tensor {
    return softmax(x, this.axis);
  }
}
/** Log-softmax along an axis. */
export class LogSoftmax extends Module {
  /**
   * A log-softmax over dimension `axis` (PyTorch's `dim`; negative counts from the end, default the last).
   */
  constructor(readonly axis: number = -1) {
    super();
  }
  /** x − log Σ exp(x) along `axis`, computed stably; same shape as x. */
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.axis);
  }
}
/** Flattens all dimensions after the first (batch) one. */
export class Flatten extends Module {
  /**
   * Merges dimensions `startDim` through `endDim` (inclusive; negative counts from the end) into one, as
   * PyTorch's `nn.Flatten(start_dim=1, end_dim=-1)`.
   */
  constructor(readonly startDim: number = 1, readonly endDim: number = -1) {
    super();
  }
  /** x reshaped with dimensions startDim…endDim merged, e.g. [N, C, H, W] → [N, C·H·W] by default. */
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}
/**
 * Unflattens one dimension into `sizes` (PyTorch's `nn.Unflatten(dim, sizes)`), e.g. a
 * generator's [N, C·H·W] output into [N, C, H, W] images.
 *
 * @example
 * ```ts
 * import { randn, Unflatten } from "glassbox";
 * const y = new Unflatten(1, [2, 3, 4]).forward(randn([5, 24]));
 * if (y.shape.join() !== "5,2,3,4") throw new Error(`shape ${y.shape}`);
 * ```
 */
export class Unflatten extends Module {
  /** Splits dimension `dim` (negative counts from the end) into `sizes`, whose product must be its length. */
  constructor(readonly dim: number, readonly sizes: readonly number[]) {
    super();
    if (!sizes.length || !sizes.every((s) => Number.isInteger(s) && s > 0)) {
      throw new Error(`Unflatten: sizes must be positive whole numbers, got [${sizes.join(", ")}]`);
    }
  }
  /** x with dimension `dim` split into `sizes`. */
  forward(x: Tensor): Tensor {
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    const n = this.sizes.reduce((a, b) => a * b, 1);
    if (!(d >= 0 && d < x.ndim) || x.shape[d] !== n) {
      throw new Error(
        `Unflatten(${this.dim}, [${this.sizes.join(", ")}]): dimension ${this.dim} of [${
          x.shape.join(", ")
        }] must have ${n} elements`,
      );
    }
    return reshape(x, [...x.shape.slice(0, d), ...this.sizes, ...x.shape.slice(d + 1)]);
  }
}
