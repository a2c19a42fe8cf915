/** Sequential: runs child modules in order. */
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * Chains modules; children are named "0", "1", … as in PyTorch.
 *
 * @example
 * ```ts
 * import { Linear, ReLU, Sequential, randn } from "glassbox";
 * const mlp = new Sequential(new Linear(100, 10), new ReLU(), new Linear(10, 1));
 * const y = mlp.forward(randn([32, 100]));
 * ```
 */
export class Sequential extends Module {
  /** The child modules, in the order they run. */
  readonly layers: Module[];
  /**
   * A chain of `layers`, registered as children "0", "1", … (so state-dict keys read "0.weight", as in
   * PyTorch).
   */
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.addModule(String(i), m));
  }
  /** x passed through each layer in turn; the last layer's output. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const m of this.layers) h = m.forward(h);
    return h;
  }
}
