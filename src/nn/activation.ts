/** Activation modules (each a parameter-free wrapper over the op of the same name). */
import { gelu, leakyRelu, relu, sigmoid, tanh } from "../tensor/ops/elementwise.ts";
import { flatten, reshape } from "../tensor/ops/shape.ts";
import { logSoftmax, softmax } from "../tensor/ops/softmax.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** max(x, 0). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}
/** Leaky ReLU with a negative slope. */
export class LeakyReLU extends Module {
  constructor(readonly slope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.slope);
  }
}
/** Logistic sigmoid. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}
/** Hyperbolic tangent. */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}
/** GELU (exact erf form). */
export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return gelu(x);
  }
}
/** Softmax along an axis. */
export class Softmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softmax(x, this.axis);
  }
}
/** Log-softmax along an axis. */
export class LogSoftmax extends Module {
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.axis);
  }
}
/** Flattens all dimensions after the first (batch) one. */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
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
