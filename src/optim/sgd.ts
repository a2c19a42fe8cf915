/** Stochastic gradient descent with momentum, Nesterov momentum and weight decay. */
import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer } from "./optimizer.ts";

/** Options for `SGD` (PyTorch's names). */
export interface SGDOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening for momentum (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/**
 * SGD as `torch.optim.SGD`.
 *
 * @example
 * ```ts
 * import { Linear, SGD } from "glassbox";
 * const model = new Linear(4, 2);
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true });
 * ```
 */
export class SGD extends Optimizer {
  /** Momentum factor. */
  readonly momentum: number;
  /** Dampening for momentum. */
  readonly dampening: number;
  /** Whether momentum is Nesterov's. */
  readonly nesterov: boolean;
  /** L2 penalty added to the gradient. */
  readonly weightDecay: number;
  /** SGD over `params`. */
  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error("SGD: Nesterov momentum requires a momentum > 0 and zero dampening");
    }
  }
  /** One SGD update of p (shaders/optim.wgsl, entry sgd). */
  protected update(p: Tensor, g: Tensor, t: number): void {
    const first = t === 1;
    const [buf] = this.slots(p, 1);
    const flags = (this.nesterov ? 1 : 0) | (first ? 2 : 0);
    this.run("sgd", p, g, buf, null, {
      lr: this.lr,
      wd: this.weightDecay,
      a: this.momentum,
      b: this.dampening,
      c: 0,
      d: 0,
      e: 0,
      flags,
      f: 0,
      g: 0,
    });
  }
}
