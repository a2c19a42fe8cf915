/** Adam and AdamW. */
import type { Tensor } from "../tensor/tensor.ts";
import { Optimizer } from "./optimizer.ts";

/** Options for `Adam`/`AdamW` (PyTorch's names and defaults). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Weight decay (default 0 for Adam, 0.01 for AdamW). */
  weightDecay?: number;
}

/**
 * Adam as `torch.optim.Adam` (weight decay is L2, added to the gradient).
 *
 * @example
 * ```ts
 * import { Adam, Linear } from "glassbox";
 * const opt = new Adam(new Linear(4, 2).parameters(), { lr: 1e-3 });
 * ```
 */
export class Adam extends Optimizer {
  /** Decay rates of the moments. */
  readonly betas: [number, number];
  /** Added to the denominator. */
  readonly eps: number;
  /** Weight decay. */
  readonly weightDecay: number;
  /** AdamW's decoupled weight decay. */
  protected decoupled = false;
  /** Adam over `params`. */
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options.lr ?? 1e-3);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }
  /** One Adam update of p, its t-th (shaders/optim.wgsl, entry adam). */
  protected update(p: Tensor, g: Tensor, t: number): void {
    const [m, v] = this.slots(p, 2);
    const [b1, b2] = this.betas;
    this.run("adam", p, g, m, v, {
      lr: this.lr,
      wd: this.weightDecay,
      a: b1,
      b: b2,
      c: this.eps,
      d: 1 - b1 ** t,
      e: 1 - b2 ** t,
      flags: this.decoupled ? 1 : 0,
      f: 1 - b1,
      g: 1 - b2,
    });
  }
}

/** AdamW as `torch.optim.AdamW`: decoupled weight decay (default 0.01). */
export class AdamW extends Adam {
  /** AdamW over `params`. */
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 });
    this.decoupled = true;
  }
}
