/** The optimizer base: parameter list, learning rate, per-parameter state kept on the GPU. */
import { placeholderBuffer } from "../gpu/pool.ts";
import { dispatch, type NamedParams } from "../gpu/queue.ts";
import { full } from "../tensor/create.ts";
import { keep } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Base class of SGD, Adam and AdamW. */
export abstract class Optimizer {
  /** The learning rate used by the next `step()`; schedulers change it. */
  lr: number;
  /** The learning rate given at construction. */
  readonly initialLr: number;
  /** `step()` calls made. */
  stepCount = 0;
  /** Updates each parameter has had (a parameter without a gradient at a step is skipped, as in PyTorch). */
  protected steps: Map<Tensor, number> = new Map();
  /** The parameters it updates. */
  readonly params: Tensor[];
  /** Per-parameter state tensors (momentum, moments). */
  protected state: Map<Tensor, Tensor[]> = new Map();

  /** An optimizer over `params` with learning rate `lr` (> 0). */
  constructor(params: Iterable<Tensor>, lr: number) {
    this.params = [...params];
    if (this.params.length === 0) throw new Error("optimizer got an empty parameter list");
    if (!(lr > 0)) throw new Error(`learning rate must be positive, got ${lr}`);
    this.lr = lr;
    this.initialLr = lr;
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Applies one update to every parameter that has a gradient (recorded on the GPU, no readback). */
  step(): void {
    this.stepCount++;
    for (const p of this.params) {
      if (!p.grad) continue;
      if (p.grad.size !== p.size) {
        throw new Error(`optimizer: gradient of ${p.describe()} has ${p.grad.size} elements`);
      }
      const t = (this.steps.get(p) ?? 0) + 1;
      this.steps.set(p, t);
      this.update(p, p.grad, t);
      p._markModified(); // a graph recorded before this step can no longer give p's gradient
    }
  }

  /** Frees the optimizer state. */
  dispose(): void {
    for (const list of this.state.values()) list.forEach((t) => t.dispose());
    this.state.clear();
  }

  /** Applies the `t`-th update of parameter p (t counts p's own updates, from 1). */
  protected abstract update(p: Tensor, g: Tensor, t: number): void;

  /** State tensors for p (zeros on first use, kept out of any scope). */
  protected slots(p: Tensor, n: number): Tensor[] {
    let s = this.state.get(p);
    if (!s) {
      s = keep(Array.from({ length: n }, () => full(p.shape, 0)));
      this.state.set(p, s);
    }
    return s;
  }

  /** Launches one update kernel (shaders/optim.wgsl) on p in place. */
  protected run(
    entry: string,
    p: Tensor,
    g: Tensor,
    s1: Tensor,
    s2: Tensor | null,
    params: NamedParams,
  ): void {
    dispatch({
      shader: "optim",
      entry,
      buffers: [p.buffer, g.buffer, s1.buffer, s2 ? s2.buffer : placeholderBuffer()],
      params: { n: p.size, ...params },
      invocations: p.size,
    });
  }
}
