/**
 * Reverse-mode automatic differentiation over the graph recorded by the ops.
 *
 * Every op that has an input with `requiresGrad` attaches a `GradNode` to its output. A node is
 * always created after its inputs, so processing tensors in reverse creation order is a valid
 * reverse topological order; when a tensor is processed, every consumer has already
 * contributed to its gradient, so its gradient is complete. Tensor hooks run at that moment.
 */
import { checkVersions, nextPass, noGrad } from "./graph.ts";
import { launchBinary, launchFill } from "./kernels.ts";
import { keep } from "./scope.ts";
import type { BackwardContext } from "./graph.ts";
import { empty, Tensor } from "./tensor.ts";

export { type BackwardContext, enableGrad, isGradEnabled, noGrad, record } from "./graph.ts";

/** A tensor shaped like `t` filled with `v` (no autograd). */
function filled(t: Tensor, v: number): Tensor {
  const out = empty(t.shape, t.dtype);
  launchFill(out, v);
  return out;
}

/** a + b of equal shapes at kernel level: the engine must not record or re-enter the public ops. */
function addRaw(a: Tensor, b: Tensor): Tensor {
  return launchBinary(a, b, "a + b", a.shape);
}

function collect(roots: Tensor[]): Tensor[] {
  const seen = new Set<Tensor>();
  const stack = [...roots];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t) || !t.requiresGrad) continue;
    seen.add(t);
    if (t._node) { for (const i of t._node.inputs) if (!seen.has(i)) stack.push(i); }
  }
  return [...seen].sort((a, b) => b.id - a.id);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * @internal The engine. Propagates `seeds` from `roots` back through the graph. With
 * `targets`, returns their gradients and leaves `.grad` alone; otherwise accumulates into
 * the `.grad` of leaves (and of tensors that called `retainGrad()`).
 */
export function runBackward(roots: Tensor[], seeds: Tensor[], targets: Tensor[] | null): Map<Tensor, Tensor> {
  const order = collect(roots);
  const grads = new Map<Tensor, Tensor>();
  const results = new Map<Tensor, Tensor>();
  const targetSet = targets ? new Set(targets) : null;
  nextPass();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t);
    if (!prev) grads.set(t, g);
    else {
      grads.set(t, addRaw(prev, g));
      prev.dispose();
      g.dispose();
    }
  };
  const ctx: BackwardContext = {
    gradOf: (t) => grads.get(t),
    setGrad: (t, g) => {
      const prev = grads.get(t);
      if (prev && prev !== g) prev.dispose();
      grads.set(t, g);
    },
  };
  noGrad(() => {
    roots.forEach((r, i) => accumulate(r, seeds[i]));
    for (const t of order) {
      let g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      for (const hook of [...t._hooks]) {
        const r = hook(g);
        if (r instanceof Tensor && r !== g) {
          if (!sameShape(r.shape, t.shape)) {
            throw new Error(`a gradient hook on ${t.describe()} returned shape [${r.shape.join(", ")}]`);
          }
          g.dispose();
          g = r;
        }
      }
      let owned = true; // whether g must be disposed here
      if (targetSet) {
        if (targetSet.has(t)) {
          results.set(t, g); // stays in the caller's scope, like every other tensor made there
          owned = false;
        }
      } else if (t.isLeaf || t._retainGrad) {
        if (t.grad && !t.grad.disposed) {
          const sum = addRaw(t.grad, g);
          t.grad.dispose();
          t.grad = keep(sum);
        } else {
          t.grad = keep(g._view(g.shape));
        }
      }
      if (t._node) {
        checkVersions(t._node);
        const gs = t._node.backward(g, ctx);
        t._node.inputs.forEach((inp, i) => {
          let gi = gs[i];
          if (!gi || !inp.requiresGrad) {
            if (gi && gi !== g) gi.dispose();
            return;
          }
          if (!sameShape(gi.shape, inp.shape)) {
            throw new Error(
              `internal: ${t._node!.op} backward gave a gradient of shape [${
                gi.shape.join(", ")
              }] for an input of shape [${inp.shape.join(", ")}]`,
            );
          }
          if (gi === g || gi._storage === g._storage) gi = gi._view(gi.shape);
          accumulate(inp, gi);
        });
      }
      if (owned) g.dispose();
    }
    for (const g of grads.values()) g.dispose();
  });
  return results;
}

/**
 * Computes gradients of `output` with respect to every leaf that requires grad and
 * accumulates them into `.grad`. Prefer the method form, `await loss.backward()`.
 */
export function backward(output: Tensor, gradient?: Tensor): Promise<void> {
  if (!output.requiresGrad) {
    return Promise.reject(
      new Error(
        `backward: ${output.describe()} does not require grad (no input of the graph has requiresGrad)`,
      ),
    );
  }
  let seed: Tensor;
  if (gradient) {
    if (!sameShape(gradient.shape, output.shape)) {
      return Promise.reject(
        new Error(
          `backward: gradient shape [${gradient.shape.join(", ")}] does not match output shape [${
            output.shape.join(", ")
          }]`,
        ),
      );
    }
    seed = gradient._view(gradient.shape);
  } else {
    if (output.size !== 1) {
      return Promise.reject(
        new Error(`backward: output ${output.describe()} is not a scalar; pass a gradient of the same shape`),
      );
    }
    seed = filled(output, 1);
  }
  try {
    runBackward([output], [seed], null);
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve();
}

/**
 * Gradients of `output` with respect to `inputs`, returned (not accumulated into `.grad`),
 * like `torch.autograd.grad`. The basis of saliency and attribution methods.
 *
 * @example
 * ```ts
 * import { grad, tensor } from "glassbox";
 * const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
 * const [dx] = grad(x.mul(x).sum(), [x]); // 2x
 * ```
 */
export function grad(output: Tensor, inputs: Tensor[], gradient?: Tensor): Tensor[] {
  for (const x of inputs) {
    if (!x.requiresGrad) throw new Error(`grad: input ${x.describe()} does not require grad`);
  }
  if (!gradient && output.size !== 1) {
    throw new Error(`grad: output ${output.describe()} is not a scalar; pass a gradient of the same shape`);
  }
  const seed = gradient ? gradient._view(gradient.shape) : filled(output, 1);
  const res = runBackward([output], [seed], inputs);
  return inputs.map((x) => res.get(x) ?? filled(x, 0));
}
