/**
 * Structured pruning that really shrinks the model: whole filters of a Conv2d are removed by
 * their L1 or L2 norm (Li et al. 2017, "Pruning Filters for Efficient ConvNets"), and the layers
 * that consume them shrink to match: a BatchNorm2d's channels, the next Conv2d's input
 * channels, or, after a Flatten, the first Linear's input columns. The result is a new,
 * smaller Sequential that is an architecture of the registry ("sequential"), so it saves and
 * reloads with `saveModel`/`loadModel`.
 */
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Flatten } from "../nn/activation.ts";
import { Linear } from "../nn/linear.ts";
import type { Sequential } from "../nn/sequential.ts";
import { describeSequential, sequentialModel } from "../models/sequential_spec.ts";
import { tensor } from "../tensor/create.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** What `pruneFilters` did. */
export interface FilterPruning {
  /** The smaller model (a new one; the original is unchanged). */
  model: Sequential;
  /** The filters kept, by their index in the original layer. */
  kept: number[];
  /** The filters removed. */
  removed: number[];
  /** Parameters before and after. */
  params: { before: number; after: number };
}

const PASS = new Set([
  "ReLU",
  "Sigmoid",
  "Tanh",
  "GELU",
  "MaxPool2d",
  "AvgPool2d",
  "Dropout",
  "AdaptiveAvgPool2d",
]);

/**
 * Removes the `amount` fraction of the filters of Conv2d `layer` (its index in the Sequential)
 * with the smallest L1 (default) or L2 norm, at least one kept, and shrinks what consumes them.
 *
 * @example
 * ```ts
 * import { createModel, pruneFilters, type Sequential } from "glassbox";
 * const r = await pruneFilters(createModel("seed-cnn") as Sequential, "3", { amount: 0.5 });
 * r.kept.length; // 32 of the 64 filters
 * ```
 */
export async function pruneFilters(
  model: Sequential,
  layer: string,
  options: { amount: number; norm?: "l1" | "l2" },
): Promise<FilterPruning> {
  const idx = Number(layer), conv = model.layers[idx];
  if (!(conv instanceof Conv2d)) {
    throw new Error(
      `pruneFilters: layer "${layer}" is ${conv ? `a ${conv.typeName}` : "not in the model"}, not a Conv2d`,
    );
  }
  if (!(options.amount >= 0 && options.amount < 1)) {
    throw new Error(`pruneFilters: amount must be in [0, 1), got ${options.amount}`);
  }
  const O = conv.outChannels, per = conv.weight.size / O;
  const w = await conv.weight.toArray();
  const norms = Array.from({ length: O }, (_, o) => {
    let s = 0;
    for (let i = 0; i < per; i++) s += options.norm === "l2" ? w[o * per + i] ** 2 : Math.abs(w[o * per + i]);
    return s;
  });
  const keepN = Math.max(1, O - Math.floor(options.amount * O));
  const kept = Array.from({ length: O }, (_, o) => o).sort((a, b) => norms[b] - norms[a] || a - b).slice(
    0,
    keepN,
  )
    .sort((a, b) => a - b);
  const removed = Array.from({ length: O }, (_, o) => o).filter((o) => !kept.includes(o));

  // the new description, and how each of the old tensors is cut
  const spec = describeSequential(model);
  const cuts = new Map<string, (v: ArrayLike<number>, shape: readonly number[]) => number[]>();
  const rows = (v: ArrayLike<number>, shape: readonly number[]) => {
    const n = shape.slice(1).reduce((a, b) => a * b, 1);
    return kept.flatMap((o) => Array.from({ length: n }, (_, i) => v[o * n + i]));
  };
  const inner = (group: number) => (v: ArrayLike<number>, shape: readonly number[]) => {
    // [out, O·group] (a conv's [out, O, k, k] or a Linear after Flatten): keep input channel groups
    const cols = shape.slice(1).reduce((a, b) => a * b, 1), out: number[] = [];
    for (let r = 0; r < shape[0]; r++) {
      for (const c of kept) for (let g = 0; g < group; g++) out.push(v[r * cols + c * group + g]);
    }
    return out;
  };
  (spec[idx] as { out: number }).out = keepN;
  cuts.set(`${idx}.weight`, rows);
  if (conv.bias) cuts.set(`${idx}.bias`, rows);
  let consumer = "";
  for (let j = idx + 1; j < model.layers.length && !consumer; j++) {
    const m = model.layers[j], s = spec[j] as Record<string, unknown>;
    if (m instanceof BatchNorm2d) {
      s.features = keepN;
      for (const n of ["weight", "bias", "running_mean", "running_var"]) cuts.set(`${j}.${n}`, rows);
    } else if (m instanceof Conv2d) {
      s.in = keepN;
      cuts.set(`${j}.weight`, inner(m.kernelSize * m.kernelSize));
      consumer = `${j}`;
    } else if (m instanceof Flatten) {
      const lin = model.layers[j + 1];
      if (!(lin instanceof Linear) || lin.inFeatures % O !== 0) {
        throw new Error(
          `pruneFilters: after the Flatten at "${j}" a Linear with a multiple of ${O} inputs must follow`,
        );
      }
      const group = lin.inFeatures / O;
      (spec[j + 1] as { in: number }).in = keepN * group;
      cuts.set(`${j + 1}.weight`, inner(group));
      consumer = `${j + 1}`;
    } else if (!PASS.has(m.typeName)) {
      throw new Error(`pruneFilters: cannot carry removed channels through layer "${j}" (${m.typeName})`);
    }
  }
  if (!consumer && idx < model.layers.length - 1) {
    throw new Error(`pruneFilters: nothing after layer "${layer}" consumes its channels`);
  }
  const small = sequentialModel(spec);
  const old = model.stateDict();
  await scope(async () => {
    const state = new Map<string, Tensor>();
    for (const [name, t] of small.stateDict()) {
      const src = old.get(name)!;
      const v = await src.toArray(), cut = cuts.get(name);
      state.set(name, tensor(cut ? cut(v, src.shape) : Array.from(v), [...t.shape], { dtype: t.dtype }));
    }
    small.loadStateDict(state);
  });
  const count = (m: Sequential) => m.parameters().reduce((s, p) => s + p.size, 0);
  return { model: small, kept, removed, params: { before: count(model), after: count(small) } };
}
