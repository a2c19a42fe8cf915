/** Capturing attention: every MultiheadAttention call's weights during one forward pass. */
import { MultiheadAttention } from "../nn/attention.ts";
import type { Module } from "../nn/module.ts";
import { noGrad } from "../tensor/mod.ts";
import { grad } from "../tensor/autograd.ts";
import { keep, scope } from "../tensor/scope.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import type { RemovableHandle, Tensor } from "../tensor/tensor.ts";

/**
 * Adds an attention hook to every MultiheadAttention in the model; `seen` gets each call's
 * module name, call number and weights. Returns the handles to remove.
 */
function hookAttention(
  model: Module,
  seen: (layer: string, call: number, weights: Tensor) => void,
): RemovableHandle[] {
  const names = new Map(model.namedModules().map(([n, m]) => [m, n]));
  const calls = new Map<Module, number>();
  return [...names.keys()].filter((m): m is MultiheadAttention => m instanceof MultiheadAttention).map((m) =>
    m.registerAttentionHook((mod, weights) => {
      const k = calls.get(mod) ?? 0;
      calls.set(mod, k + 1);
      seen(names.get(mod)!, k, weights);
    })
  );
}

/** One attention call's weights. */
export interface CapturedAttention {
  /** The module's dotted name in the model, e.g. "layers.1.self_attn". */
  layer: string;
  /** Which call of that module in the pass (0 for the first). */
  call: number;
  /** Per-head weights [B, H, L, S]; yours to dispose. */
  weights: Tensor;
}

/**
 * Runs the model once (eval mode, no graph) and returns the attention weights of every
 * MultiheadAttention call, per layer and head, in call order; the model is left as it was.
 *
 * @example
 * ```ts
 * import { captureAttention, randn, TransformerEncoderLayer } from "glassbox";
 * const layer = new TransformerEncoderLayer(16, 4, { dimFeedforward: 32 });
 * const [first] = await captureAttention(layer, randn([1, 6, 16]));
 * first.weights.shape; // [1, 4, 6, 6]
 * ```
 */
export async function captureAttention(model: Module, ...inputs: Tensor[]): Promise<CapturedAttention[]> {
  const found: CapturedAttention[] = [];
  const handles = hookAttention(model, (layer, call, weights) => {
    found.push({ layer, call, weights: keep(noGrad(() => mul(weights, 1))) });
  });
  const restoreModes = model.enterEval();
  try {
    await scope(async () => {
      await noGrad(() => model.forward(...inputs)).toArray(); // one synchronisation for the whole pass
    });
    return found;
  } finally {
    handles.forEach((h) => h.remove());
    restoreModes();
  }
}

/** One attention call's weights and the gradient of a chosen output with respect to them. */
export interface AttentionGradient {
  /** The module's dotted name in the model. */
  layer: string;
  /** Which call of that module in the pass. */
  call: number;
  /** Per-head weights [B, H, L, S]. */
  weights: Float32Array;
  /** ∂output/∂weights [B, H, L, S]. */
  grad: Float32Array;
  /** [B, H, L, S]. */
  shape: number[];
  /**
   * Attention × gradient per example: mean over heads of max(0, A ⊙ ∂y/∂A), [B][L][S]
   * (the head-weighting of Chefer, Gur & Wolf, 2021).
   */
  relevance: number[][][];
}

/**
 * Runs the model once with the attention weights in the autograd graph, takes the gradient of
 * `select(output)` (a scalar, e.g. one position's logit) with respect to every attention call's
 * weights, and returns weights, gradients and attention × gradient. One readback; the model is
 * left as it was (eval mode during the pass, hooks removed).
 *
 * @example
 * ```ts
 * import { attentionGradients, randn, TransformerEncoderLayer } from "glassbox";
 * const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
 * const [g] = await attentionGradients(layer, [randn([1, 4, 8])], (y) => y.sum());
 * g.relevance[0].length; // 4 query rows
 * ```
 */
export async function attentionGradients(
  model: Module,
  inputs: Tensor[],
  select: (output: Tensor) => Tensor,
): Promise<AttentionGradient[]> {
  const found: { layer: string; call: number; weights: Tensor }[] = [];
  const handles = hookAttention(model, (layer, call, weights) => found.push({ layer, call, weights }));
  const restoreModes = model.enterEval();
  try {
    return await scope(async () => {
      const y = select(model.forward(...inputs));
      if (y.size !== 1) {
        throw new Error(`attentionGradients: select must return a scalar, got ${y.describe()}`);
      }
      const live = found.filter((f) => f.weights.requiresGrad);
      if (live.length < found.length) {
        throw new Error(
          "attentionGradients: the attention weights are not in the graph (run with grad enabled)",
        );
      }
      const grads = grad(y, live.map((f) => f.weights));
      const arrays = await Promise.all([...live.map((f) => f.weights), ...grads].map((t) => t.toArray()));
      return live.map((f, i) => {
        const w = arrays[i] as Float32Array, g = arrays[live.length + i] as Float32Array;
        const [B, H, L, S] = f.weights.shape;
        const relevance = Array.from(
          { length: B },
          (_, b) =>
            Array.from({ length: L }, (_, q) =>
              Array.from({ length: S }, (_, s) => {
                let acc = 0;
                for (let h = 0; h < H; h++) {
                  const p = ((b * H + h) * L + q) * S + s;
                  acc += Math.max(0, w[p] * g[p]);
                }
                return acc / H;
              })),
        );
        return { layer: f.layer, call: f.call, weights: w, grad: g, shape: [B, H, L, S], relevance };
      });
    });
  } finally {
    handles.forEach((h) => h.remove());
    restoreModes();
  }
}
