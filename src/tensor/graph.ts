/**
 * The autograd graph as the ops see it: grad mode, and `record`, which attaches a node to an
 * op's output. A leaf of the tensor layer: it imports nothing but the Tensor type, so every op
 * can depend on it and the engine (autograd.ts) can depend on the ops' kernels without cycles.
 */
import { contextSlot } from "./context.ts";
import type { GradNode, Tensor } from "./tensor.ts";

const gradMode = contextSlot<boolean>("noGrad");

/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return gradMode.get() ?? true;
}

/**
 * Runs `fn` without recording the autograd graph (inference, optimizer updates).
 *
 * @example
 * ```ts
 * import { noGrad, tensor } from "glassbox";
 * const w = tensor([1, 2], undefined, { requiresGrad: true });
 * const y = noGrad(() => w.mul(2)); // y.requiresGrad === false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  return gradMode.run(false, fn);
}

/** @internal runs fn with recording on, even inside `noGrad` (hooks that must stay in the graph). */
export function enableGrad<T>(fn: () => T): T {
  return gradMode.run(true, fn);
}

/** The engine's view of the gradients in flight, for nodes that need more than their own. */
export interface BackwardContext {
  /** The gradient accumulated so far for `t`, if any. */
  gradOf(t: Tensor): Tensor | undefined;
  /** Replaces the gradient in flight for `t` (the old one is disposed). */
  setGrad(t: Tensor, g: Tensor): void;
}

let pass = 0;
/** @internal a number for the backward pass now running (hooks use it to fire once per pass). */
export function currentPass(): number {
  return pass;
}
/** @internal called by the engine at the start of every backward pass. */
export function nextPass(): number {
  return ++pass;
}

/**
 * @internal Records `out = op(inputs)` for autograd, when grad mode is on and any input
 * requires grad. `reads` are the tensors whose values the backward uses (default: the inputs);
 * their storage versions are noted, and backward refuses to run if one was written in place
 * since (an optimizer step, `loadStateDict`, running statistics): the gradient would be wrong.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  backward: (g: Tensor, ctx: BackwardContext) => (Tensor | null)[],
  reads: Tensor[] = inputs,
): Tensor {
  out._op = op;
  if (!isGradEnabled()) return out;
  if (!inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  const node: GradNode = { op, inputs, backward };
  if (reads.length) {
    node.reads = reads;
    node.versions = reads.map((t) => t.version);
  }
  out._node = node;
  return out;
}

/** @internal throws if a tensor the node's backward reads was modified in place after the forward pass. */
export function checkVersions(node: GradNode): void {
  node.reads?.forEach((t, i) => {
    if (t.version !== node.versions![i]) {
      throw new Error(
        `backward through ${node.op}: ${t.describe()} was modified in place after the forward pass ` +
          `(version ${t.version}, the forward pass saw version ${node.versions![i]}), so its gradient ` +
          `would be wrong. Run backward before the optimizer step, loadStateDict or any other in-place ` +
          `update, or run the forward pass again.`,
      );
    }
  });
}
