/**
 * How far back a recurrent network can learn: the norm of the gradient of a loss with respect
 * to the input of a recurrent layer at every time step. For a plain RNN it shrinks
 * geometrically with the distance from the loss (the vanishing gradient); an LSTM or GRU keeps
 * it (Hochreiter & Schmidhuber, 1997; Bengio, Simard & Frasconi, 1994).
 */
import type { Module } from "../nn/module.ts";
import { grad } from "../tensor/autograd.ts";
import { noGrad } from "../tensor/mod.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Runs `model` on `inputs`, and returns, for each time step t of the input [B, T, I] of
 * `layer`, the mean over the batch of ‖∂loss/∂x_t‖ (one readback). The model is left as it
 * was (eval mode during the pass, the hook removed).
 *
 * @example
 * ```ts
 * import { gradientThroughTime, RecurrentTagger, tensor } from "glassbox";
 * const model = new RecurrentTagger({ cell: "rnn", vocab: 4, hidden: 8 });
 * const x = tensor([[1, 2, 3, 0, 1]], undefined, { dtype: "int32" });
 * const norms = await gradientThroughTime(model, model.rnn, [x], (y) => y.slice(4, 5, 1).sum());
 * norms.length; // 5 time steps
 * ```
 */
export async function gradientThroughTime(
  model: Module,
  layer: Module,
  inputs: Tensor[],
  loss: (output: Tensor) => Tensor,
): Promise<number[]> {
  let seen: Tensor | null = null;
  const handle = layer.registerForwardPreHook((_m, xs) => {
    if (seen) return;
    // a fresh leaf in the graph, so its gradient can be asked for whatever feeds it
    const x = noGrad(() => mul(xs[0], 1));
    x.requiresGrad = true;
    seen = x;
    return [x, ...xs.slice(1)];
  });
  const restoreModes = model.enterEval();
  try {
    return await scope(async () => {
      const l = loss(model.forward(...inputs));
      if (!seen) throw new Error(`gradientThroughTime: the layer was not called by the model`);
      const x: Tensor = seen;
      if (x.ndim !== 3) {
        throw new Error(`gradientThroughTime: the layer's input must be [B, T, I], got ${x.describe()}`);
      }
      const [g] = grad(l, [x]);
      const [B, T, I] = x.shape, v = await g.toArray();
      return Array.from({ length: T }, (_, t) => {
        let s = 0;
        for (let b = 0; b < B; b++) {
          let n2 = 0;
          for (let i = 0; i < I; i++) n2 += v[(b * T + t) * I + i] ** 2;
          s += Math.sqrt(n2);
        }
        return s / B;
      });
    });
  } finally {
    handle.remove();
    restoreModes();
  }
}
