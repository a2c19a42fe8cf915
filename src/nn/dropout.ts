/** Dropout: zeroes elements with probability p in training mode, scaling the rest by 1/(1-p). */
import { dispatch } from "../gpu/queue.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { defaultGenerator, type Generator } from "../tensor/random.ts";
import { empty, type Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * Dropout (inverted: identity in eval mode). Masks are drawn on the GPU from the seeded generator.
 *
 * @example
 * ```ts
 * import { Dropout, ones } from "glassbox";
 * const d = new Dropout(0.5);
 * d.forward(ones([4, 4])); // about half zeros, the rest 2
 * ```
 */
export class Dropout extends Module {
  /** Drops each element with probability `p` in training mode. */
  constructor(readonly p: number = 0.5, readonly generator: Generator = defaultGenerator) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }
  /** x times a fresh mask in training mode; x itself in eval mode. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const mask = empty(x.shape);
    dispatch({
      shader: "dropout",
      buffers: [mask.buffer],
      params: { n: x.size, seed: this.generator.nextU32(), p: this.p, scale: 1 / (1 - this.p) },
      invocations: x.size,
    });
    return mul(x, mask);
  }
}
