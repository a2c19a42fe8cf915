/** Capturing attention: every MultiheadAttention call's weights during one forward pass. */
import { MultiheadAttention } from "../nn/attention.ts";
import type { Module } from "../nn/module.ts";
import { noGrad } from "../tensor/graph.ts";
import { keep, scope } from "../tensor/scope.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import type { Tensor } from "../tensor/tensor.ts";

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
  const names = new Map(model.namedModules().map(([n, m]) => [m, n]));
  const found: CapturedAttention[] = [];
  const calls = new Map<Module, number>();
  const handles = [...names.keys()].filter((m): m is MultiheadAttention => m instanceof MultiheadAttention)
    .map((m) =>
      m.registerAttentionHook((mod, weights) => {
        const k = calls.get(mod) ?? 0;
        calls.set(mod, k + 1);
        found.push({ layer: names.get(mod)!, call: k, weights: keep(noGrad(() => mul(weights, 1))) });
      })
    );
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
