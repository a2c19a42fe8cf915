/** Sequential: runs child modules in order. */
import type { Tensor } from "../tensor/tensor.ts";
import { convFusionAt, runConvChain, runConvFusion } from "./fusion.ts";
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
  /**
   * x passed through each layer in turn; the last layer's output. A Conv2d → ReLU (→ MaxPool2d(2))
   * run whose modules have no hooks runs as one fused op (`conv2dFused`) while fusion is on (see
   * `configureGpu`): the same numbers, fewer passes over memory. Two such runs in a row, in inference
   * (no gradient to record), run chained: the first writes the second's input in the layout its
   * kernel reads (`conv2dFusedChain`), never as a tensor.
   */
  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length;) {
      const run = convFusionAt(this.layers, i);
      if (run) {
        // two fused runs in a row: the first writes the second's packed input when it can
        const next = convFusionAt(this.layers, i + run.length);
        const y = next ? runConvChain(run, next, h) : null;
        if (next && y) {
          h = y;
          i += run.length + next.length;
          continue;
        }
        h = runConvFusion(run, h);
        i += run.length;
      } else h = this.layers[i++].forward(h);
    }
    return h;
  }
}
