/** Activation modules (each a parameter-free wrapper over the op of the same name). */
import { gelu, leakyRelu, relu, sigmoid, tanh } from "../tensor/ops/elementwise.ts";
import { flatten } from "../tensor/ops/shape.ts";
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
