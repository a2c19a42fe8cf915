/**
 * Magnitude pruning (unstructured): the smallest-magnitude weights of Linear and Conv2d layers
 * are set to zero, per layer (each loses the same fraction) or globally (one threshold across
 * all of them, as Han et al. 2015 and PyTorch's `global_unstructured`). A `Pruning` keeps the
 * masks: the gradient of a pruned weight is zeroed by a hook, and `enforce()` after each
 * optimizer step writes the zeros back, so pruned weights stay zero through fine-tuning
 * (momentum and weight decay included). `sparsityTable` reports what is left, layer by layer.
 */
import { Conv2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import { OnnxModel } from "../models/onnx.ts";
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import type { RemovableHandle, Tensor } from "../tensor/tensor.ts";

/** Options for `magnitudePrune`. */
export interface PruneOptions {
  /** The fraction of the targeted weights to remove, in [0, 1). */
  amount: number;
  /** "layer" (default): each weight loses `amount`; "global": one threshold across all. */
  scope?: "layer" | "global";
  /** Parameter names to prune (default: the weight of every Linear and Conv2d). */
  parameters?: string[];
}

/**
 * The names of the weights of a model's Linear and Conv2d layers (for a model loaded from ONNX,
 * the weights of its Conv, Gemm and MatMul nodes: `OnnxModel.weightNames`).
 */
export function prunableWeights(model: Module): string[] {
  if (model instanceof OnnxModel) return model.weightNames();
  return model.namedModules().filter(([, m]) => m instanceof Linear || m instanceof Conv2d)
    .map(([n]) => (n ? `${n}.weight` : "weight"));
}

/** The masks of a pruned model, and what keeps them applied. */
export class Pruning {
  readonly #hooks: RemovableHandle[] = [];
  /** @internal use `magnitudePrune` */
  constructor(
    readonly model: Module,
    /** Per parameter name: 1 where the weight is kept, 0 where it was pruned. */
    readonly masks: Map<string, Tensor>,
  ) {
    const params = new Map(model.namedParameters());
    for (const [name, mask] of masks) {
      this.#hooks.push(params.get(name)!.registerHook((g) => noGrad(() => mul(g, mask))));
    }
    this.enforce();
  }

  /** Writes the zeros into the pruned weights (call after every optimizer step). */
  enforce(): void {
    const params = new Map(this.model.namedParameters());
    noGrad(() => {
      const state = new Map([...this.masks].map(([n, m]) => [n, mul(params.get(n)!, m)]));
      this.model.loadStateDict(state, false);
      state.forEach((t) => t.dispose());
    });
  }

  /** Removes the gradient hooks and frees the masks (the weights keep their zeros). */
  remove(): void {
    this.#hooks.forEach((h) => h.remove());
    this.masks.forEach((m) => m.dispose());
  }
}

/**
 * Prunes the smallest-magnitude weights: exactly floor(amount · n) of each targeted weight
 * (per layer), or of all of them together (global; ties broken by position). Returns the
 * `Pruning` that keeps them at zero.
 *
 * @example
 * ```ts
 * import { createModel, magnitudePrune } from "glassbox";
 * const model = createModel("tabular-mlp");
 * const pruning = await magnitudePrune(model, { amount: 0.8, scope: "global" });
 * // ... train; after each optimizer.step(): pruning.enforce();
 * ```
 */
export async function magnitudePrune(model: Module, options: PruneOptions): Promise<Pruning> {
  const { amount } = options;
  if (!(amount >= 0 && amount < 1)) {
    throw new Error(`magnitudePrune: amount must be in [0, 1), got ${amount}`);
  }
  const params = new Map(model.namedParameters());
  const names = options.parameters ?? prunableWeights(model);
  for (const n of names) {
    if (!params.has(n)) throw new Error(`magnitudePrune: the model has no parameter "${n}"`);
  }
  const values = await Promise.all(names.map((n) => params.get(n)!.toArray()));
  const keep = values.map((v) => new Float32Array(v.length).fill(1));
  const cut = (items: { p: number; i: number; a: number }[], k: number) => {
    items.sort((x, y) => x.a - y.a || x.p - y.p || x.i - y.i);
    for (let r = 0; r < k; r++) keep[items[r].p][items[r].i] = 0;
  };
  const all = (p: number) => Array.from(values[p], (v, i) => ({ p, i, a: Math.abs(v) }));
  if (options.scope === "global") {
    const items = values.flatMap((_, p) => all(p));
    cut(items, Math.floor(amount * items.length));
  } else {
    values.forEach((v, p) => cut(all(p), Math.floor(amount * v.length)));
  }
  const masks = new Map(names.map((n, p) => [n, tensor(keep[p], [...params.get(n)!.shape])]));
  return new Pruning(model, masks);
}

/** One row of `sparsityTable`. */
export interface SparsityRow {
  /** The parameter's name (or "total"). */
  name: string;
  /** Its number of values. */
  params: number;
  /** How many are exactly zero. */
  zeros: number;
  /** zeros / params. */
  sparsity: number;
}

/**
 * Every parameter's size and exact zeros, and the total (one readback per parameter), with a
 * printable table.
 *
 * @example
 * ```ts
 * import { createModel, sparsityTable } from "glassbox";
 * const { table } = await sparsityTable(createModel("tabular-mlp"));
 * console.log(table);
 * ```
 */
export async function sparsityTable(
  model: Module,
): Promise<{ rows: SparsityRow[]; total: SparsityRow; table: string }> {
  const rows: SparsityRow[] = [];
  for (const [name, p] of model.namedParameters()) {
    const v = await p.toArray();
    const zeros = Array.from(v).filter((x) => x === 0).length;
    rows.push({ name, params: v.length, zeros, sparsity: zeros / Math.max(1, v.length) });
  }
  const params = rows.reduce((s, r) => s + r.params, 0), zeros = rows.reduce((s, r) => s + r.zeros, 0);
  const total = { name: "total", params, zeros, sparsity: zeros / Math.max(1, params) };
  const w = Math.max(9, ...rows.map((r) => r.name.length));
  const line = (r: SparsityRow) =>
    `${r.name.padEnd(w)}  ${String(r.params).padStart(9)}  ${String(r.zeros).padStart(9)}  ${
      (100 * r.sparsity).toFixed(1).padStart(6)
    }%`;
  const table = [
    `${"parameter".padEnd(w)}  ${"params".padStart(9)}  ${"zeros".padStart(9)}  sparsity`,
    ...rows.map(line),
    line(total),
  ]
    .join("\n");
  return { rows, total, table };
}

/**
 * The gradual pruning schedule of Zhu & Gupta (2017): the sparsity after stage t of n is
 * s_f + (s_i − s_f)(1 − t/n)³, so most weights go early, while the model still has many to
 * spare, and the last stages remove few.
 *
 * @example
 * ```ts
 * import { sparsitySchedule } from "glassbox";
 * sparsitySchedule(0.8, 4); // [0.4625, 0.7, 0.7875, 0.8]
 * ```
 */
export function sparsitySchedule(final: number, stages: number, initial = 0): number[] {
  if (!(final >= 0 && final < 1) || !(initial >= 0 && initial <= final)) {
    throw new Error(`sparsitySchedule: need 0 ≤ initial (${initial}) ≤ final (${final}) < 1`);
  }
  if (!Number.isInteger(stages) || stages < 1) {
    throw new Error(`sparsitySchedule: stages must be a positive integer, got ${stages}`);
  }
  return Array.from({ length: stages }, (_, k) => final + (initial - final) * (1 - (k + 1) / stages) ** 3);
}

/** Options for `iterativePrune`. */
export interface IterativePruneOptions {
  /** The final sparsity, in [0, 1). */
  sparsity: number;
  /** How many prune-and-fine-tune stages (default 4). */
  stages?: number;
  /** The sparsity the schedule starts from (default 0; e.g. that of an earlier pruning). */
  initial?: number;
  /** "layer" (default) or "global", as in `magnitudePrune`. */
  scope?: "layer" | "global";
  /** Parameter names to prune (default: every Linear and Conv2d weight). */
  parameters?: string[];
  /**
   * Fine-tunes after each stage, with the stage's masks in place: call `pruning.enforce()`
   * after every optimizer step (e.g. `fit(model, data, { afterStep: () => pruning.enforce() })`).
   */
  fineTune: (pruning: Pruning, stage: number, sparsity: number) => Promise<void>;
}

/**
 * Prune, fine-tune, repeat: the sparsity climbs along `sparsitySchedule`, each stage prunes by
 * magnitude (weights already zero go first, so a pruned weight stays pruned) and then
 * fine-tunes. Returns the last stage's `Pruning`.
 *
 * @example
 * ```ts
 * import { Adam, createModel, fit, iterativePrune } from "glassbox";
 * const model = createModel("tabular-mlp");
 * const data = { x: new Float32Array(800), y: new Int32Array(8), sampleShape: [100] };
 * const opt = new Adam(model.parameters());
 * await iterativePrune(model, {
 *   sparsity: 0.8,
 *   fineTune: async (p) => void await fit(model, data, { optimizer: opt, afterStep: () => p.enforce() }),
 * });
 * ```
 */
export async function iterativePrune(model: Module, options: IterativePruneOptions): Promise<Pruning> {
  const schedule = sparsitySchedule(options.sparsity, options.stages ?? 4, options.initial ?? 0);
  let pruning: Pruning | null = null;
  for (const [k, amount] of schedule.entries()) {
    pruning?.remove();
    pruning = await magnitudePrune(model, { amount, scope: options.scope, parameters: options.parameters });
    await options.fineTune(pruning, k, amount);
    pruning.enforce();
  }
  return pruning!;
}
