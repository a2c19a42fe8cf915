/**
 * Perturbation methods: the output change when features are replaced by a baseline
 * (Occlusion, FeatureAblation) or shuffled across the batch (FeaturePermutation). Every
 * perturbed copy of every input goes through the model in GPU batches.
 */
import { full, tensor } from "../tensor/create.ts";
import { mul, sub } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { gather, where } from "../tensor/ops/select.ts";
import { concat, reshape, slice } from "../tensor/ops/shape.ts";
import { noGrad } from "../tensor/mod.ts";
import { keep, scope } from "../tensor/scope.ts";
import { Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  type AttributeOptions,
  Attribution,
  type Baseline,
  baselineLike,
  chunked,
  defaultBatchRows,
  joinRows,
  perTarget,
  repeatRows,
  rowSize,
  rowsOf,
} from "./attribution.ts";
import { targetScores, type TargetTable } from "./target.ts";
import { localForward, localIndex, type LocalPlan, localPlan } from "./occlusion_local.ts";

/** Feature groups: an int array (or int32 tensor) with one group id per feature of an example. */
export type FeatureMask = Int32Array | readonly number[] | Tensor;

/** Group ids per feature of one example (default: every feature its own group), and the group count. */
export async function resolveMask(
  op: string,
  mask: FeatureMask | undefined,
  featuresPerExample: number,
): Promise<{
  ids: Int32Array;
  groups: number;
}> {
  let ids: Int32Array;
  if (mask === undefined) ids = Int32Array.from({ length: featuresPerExample }, (_, i) => i);
  else if (mask instanceof Int32Array || Array.isArray(mask)) {
    ids = Int32Array.from(mask as ArrayLike<number>);
  } else {
    const t = mask as Tensor;
    if (t.dtype !== "int32") throw new Error(`${op}: featureMask must be int32, got ${t.describe()}`);
    ids = (await t.toArray()) as Int32Array;
  }
  if (ids.length !== featuresPerExample) {
    throw new Error(
      `${op}: featureMask has ${ids.length} entries but an example has ${featuresPerExample} features (one group id per feature)`,
    );
  }
  const distinct = [...new Set(ids)].sort((a, b) => a - b);
  if (distinct[0] < 0) throw new Error(`${op}: featureMask group ids must be >= 0`);
  // renumber to 0..G-1 so sparse ids work
  const map = new Map(distinct.map((v, i) => [v, i]));
  return { ids: ids.map((v) => map.get(v)!), groups: distinct.length };
}

/**
 * @internal What `ablate` replaces and how it spreads the output changes back: `masks` [G, D]
 * (1 where window or group g puts the baseline), and per feature the J columns 1 + g of the
 * windows covering it (`cover` [D, J], padded with column 0, whose change is exactly 0), with the
 * factor `inv` per feature (1 / the windows covering it) when the method averages.
 */
export interface Ablations {
  masks: Float32Array;
  G: number;
  cover: Int32Array;
  J: number;
  inv: Float32Array | null;
}

/** `Ablations` for windows `masks` [G, D] whose changes are averaged over the windows covering a feature. */
function averaged(masks: Float32Array, G: number, D: number): Ablations {
  const count = new Int32Array(D);
  for (let g = 0; g < G; g++) for (let i = 0; i < D; i++) count[i] += masks[g * D + i];
  const J = count.reduce((m, c) => Math.max(m, c), 1);
  const cover = new Int32Array(D * J), fill = new Int32Array(D);
  for (let g = 0; g < G; g++) {
    for (let i = 0; i < D; i++) if (masks[g * D + i] === 1) cover[i * J + fill[i]++] = g + 1;
  }
  return { masks, G, cover, J, inv: Float32Array.from(count, (c) => (c > 0 ? 1 / c : 0)) };
}

/**
 * @internal A tensor that depends only on the geometry: `make` runs once per `key` and the result
 * is kept in a small module-level cache (least recently used first out, disposed then), under
 * CACHE_BYTES in all; a bigger one, or any with a null key, belongs to the caller's scope. The
 * keys in `using` (the constants the caller has taken and not yet used) are never evicted.
 */
function constant(key: string | null, make: () => Tensor, using: Set<string>): Tensor {
  if (key === null) return make();
  using.add(key);
  const hit = constants.get(key);
  if (hit) {
    constants.delete(key); // to the back: the most recently used
    constants.set(key, hit);
    return hit;
  }
  const t = make();
  const bytes = t.size * 4;
  if (bytes > CACHE_BYTES) return t;
  let total = bytes;
  for (const c of constants.values()) total += c.size * 4;
  for (const [k, c] of constants) {
    if (total <= CACHE_BYTES) break;
    if (using.has(k)) continue;
    constants.delete(k);
    total -= c.size * 4;
    c.dispose();
  }
  constants.set(key, keep(t));
  return t;
}

/** GPU constants of recent geometries (masks, index tables), least recently used first. */
const constants = new Map<string, Tensor>();
let CACHE_BYTES = 32 * 2 ** 20;

/** @internal Sets the GPU constants' budget in bytes (for tests); returns the previous one. */
export function setOcclusionCacheBytes(bytes: number): number {
  const was = CACHE_BYTES;
  CACHE_BYTES = bytes;
  return was;
}

/**
 * @internal Frees the cached geometry constants of Occlusion (masks and index tables kept on the
 * GPU between calls of the same geometry). The next call makes them again.
 */
export function clearOcclusionCache(): void {
  for (const t of constants.values()) t.dispose();
  constants.clear();
  geometries.clear();
}

/**
 * @internal For each (example, target) row e, the output change F(x_e) − F(x_e with window g
 * replaced by the baseline) for every window g of `ab.masks` [G, D] (1 inside the window), and
 * the attribution Σ_g change_g · mask_g (· ab.inv: 1 / the windows covering the feature).
 *
 * All on the GPU in one recorded batch per chunk: the masks go up once with a zero row in front
 * (that row is the unperturbed example, so F(x) comes from the same pass), one `where` builds every
 * perturbed copy of the chunk's examples (a number baseline is read as a scalar, not a tensor),
 * one model pass scores them, and one gather takes each feature's changes (a sum over the J
 * windows covering it when they overlap). Through a convolutional stem (occlusion_local.ts) the
 * perturbed copies are never made whole: one gather reads each copy's patch from the example and
 * its baseline. Nothing is read back: the caller's readback of the attributions is the only
 * synchronisation. With `key` (the geometry), the masks and index tables stay on the GPU for
 * the next call (`constant`).
 */
async function ablate(
  method: Attribution,
  x: Tensor,
  base: Tensor | number,
  table: TargetTable,
  ab: Ablations,
  options: AttributeOptions,
  key: string | null,
  local:
    | { plan: LocalPlan; index: (kind: "number" | "tensor") => { patch: Int32Array; place: Int32Array } }
    | null = null,
): Promise<Tensor> {
  const D = rowSize(x), rest = x.shape.slice(1), G = ab.G;
  const xr = repeatRows(x, table.T), br = typeof base === "number" ? base : repeatRows(base, table.T);
  const E = xr.shape[0];
  // the chunk's constants, taken by name; none of them is evicted while the chunk takes the others
  let using = new Set<string>();
  const at = (name: string, make: () => Tensor) =>
    constant(key === null ? null : `${key}|${name}`, make, using);
  const batch = defaultBatchRows(D, options.internalBatchSize);
  const B = Math.max(1, Math.floor(batch / (G + 1)));
  // the same table for each of n rows
  const rows = (row: Int32Array, n: number) => {
    const all = new Int32Array(n * row.length);
    for (let k = 0; k < n; k++) all.set(row, k * row.length);
    return tensor(all, [n, row.length], { dtype: "int32" });
  };
  const parts = await chunked(E, B, options.onProgress, (e0, e1) => {
    const n = e1 - e0;
    using = new Set();
    const xe = reshape(rowsOf(xr, e0, e1), [n, 1, D]);
    const be = typeof br === "number" ? br : reshape(rowsOf(br, e0, e1), [n, 1, D]);
    const index = new Int32Array(n * (G + 1));
    for (let k = 0; k < n; k++) index.fill(table.index[e0 + k], k * (G + 1), (k + 1) * (G + 1));
    const s = reshape(
      noGrad(() => {
        if (local && n * (G + 1) <= batch) {
          // through a convolutional stem, each copy's patch only (occlusion_local.ts), when a chunk is one pass:
          // the patches read [x | baseline], the baseline a number at D or an example at D..2D−1
          const kind = typeof be === "number" ? "number" : "tensor";
          const source = concat([
            reshape(xe, [n, D]),
            typeof be === "number" ? at(`b${be}:${n}`, () => full([n, 1], be)) : reshape(be, [n, D]),
          ], 1);
          const name = `${local.plan.key}:${kind}:${n}`;
          const patch = at(`patch:${name}`, () => rows(local.index(kind).patch, n));
          const place = at(`place:${name}`, () => rows(local.index(kind).place, n));
          const out = localForward(local.plan, reshape(xe, [n, ...rest]), source, patch, place);
          return targetScores(out, index);
        }
        // row 0 keeps every feature (F(x)), row g + 1 puts the baseline in window g
        const M0 = at("M0", () => {
          const withOriginal = new Float32Array((G + 1) * D);
          withOriginal.set(ab.masks, D);
          return tensor(withOriginal, [1, G + 1, D]);
        });
        // each example, then its G perturbed copies (the baseline inside the window): one pass for F(x) and all
        const copies = reshape(where(M0, be, xe), [n * (G + 1), ...rest]);
        return method.scoresOf(copies, index, batch);
      }),
      [n, G + 1],
    );
    // F(x) − F(x perturbed) [n, G + 1], column 0 exactly 0 (F(x) − F(x)): what `cover` pads with
    const change = sub(slice(s, 0, 1, 1), s);
    const taken = gather(change, 1, at(`cover:${n}`, () => rows(ab.cover, n))); // [n, D · J]
    const summed = ab.J === 1 ? taken : sum(reshape(taken, [n, D, ab.J]), 2);
    return ab.inv ? mul(summed, at("inv", () => tensor(ab.inv!, [1, D]))) : summed; // [n, D]
  });
  return reshape(joinRows(parts), [E, ...rest]);
}

/** A baseline for `ablate`: a number stays a number (read as a scalar), a tensor becomes x's shape. */
function ablationBaseline(op: string, b: Baseline | undefined, x: Tensor): Tensor | number {
  return b === undefined || typeof b === "number" ? b ?? 0 : baselineLike(op, b, x);
}

/** Options for `Occlusion.attribute`. */
export interface OcclusionOptions extends AttributeOptions {
  /** The window, one size per dimension of an example (e.g. [1, 3, 3] for [C, H, W]). */
  slidingWindowShapes: number[];
  /** Steps between windows per dimension (default 1 everywhere). */
  strides?: number | number[];
  /** What fills the window (default 0): a number or a tensor broadcastable to x. */
  baselines?: Baseline;
}

/**
 * Occlusion: slide a window over each input, replace it by the baseline, and give every
 * feature the mean output drop over the windows that cover it, as Captum's Occlusion: windows
 * start at 0, s, 2s, … (ceil((d − w)/s) + 1 of them per dimension), the last one cut at the end
 * of the dimension, and a stride longer than its window is refused. Zeiler & Fergus, 2014
 * (arXiv:1311.2901).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, Linear, Occlusion, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 2, 3), new ReLU(), new Flatten(), new Linear(2 * 6 * 6, 3));
 * const attr = await new Occlusion(model).attribute(randn([1, 1, 8, 8]), { target: 0, slidingWindowShapes: [1, 3, 3], strides: [1, 2, 2] });
 * ```
 */
export class Occlusion extends Attribution {
  /** Attributions shaped like `x` ([N, T, ...] for several targets per example). */
  attribute(x: Tensor, options: OcclusionOptions): Promise<Tensor> {
    // the masks, baselines and scores made on the way are freed at the end; the attributions are kept
    return this.run(x, () =>
      scope(async () => {
        const dims = x.shape.slice(1);
        const win = options?.slidingWindowShapes;
        if (
          !win || win.length !== dims.length ||
          win.some((w, i) => !Number.isInteger(w) || w < 1 || w > dims[i])
        ) {
          throw new Error(
            `Occlusion: slidingWindowShapes must give a window size (1 to the size) for each of the example's dimensions [${
              dims.join(", ")
            }], got ${JSON.stringify(win)}`,
          );
        }
        const st = typeof options.strides === "number"
          ? dims.map(() => options.strides as number)
          : options.strides ?? dims.map(() => 1);
        if (st.length !== dims.length || st.some((s) => !Number.isInteger(s) || s < 1)) {
          throw new Error(
            `Occlusion: strides must be positive integers, one per dimension, got ${
              JSON.stringify(options.strides)
            }`,
          );
        }
        // Captum's rule: a stride longer than the window would skip features, unless the window spans
        // the whole dimension (then there is one window)
        const gap = dims.findIndex((d, i) => st[i] > win[i] && win[i] < d);
        if (gap >= 0) {
          throw new Error(
            `Occlusion: stride ${st[gap]} is longer than the window ${win[gap]} in dimension ${gap} (size ${
              dims[gap]
            }): features between the windows would never be occluded; use a stride of at most ${win[gap]}`,
          );
        }
        const table = await this.targets(x, options.target);
        const base = ablationBaseline("Occlusion", options.baselines, x);
        const geo = windowsOf(dims, win, st);
        const plan = localPlan(this.model, dims, geo.boxes);
        const local = plan && {
          plan,
          index: (kind: "number" | "tensor") => {
            const name = `${plan.key}:${kind}`;
            let t = geo.local.get(name);
            if (!t) {
              if (geo.local.size >= 8) geo.local.clear(); // tables for many stems: keep the latest
              geo.local.set(name, t = localIndex(plan, dims, geo.ab.masks, kind));
            }
            return t;
          },
        };
        return perTarget(await ablate(this, x, base, table, geo.ab, options, geo.key, local), table);
      }));
  }
}

/** One Occlusion geometry: its windows, their boxes, and the stem's index tables made for it. */
interface OcclusionWindows {
  key: string | null;
  ab: Ablations;
  boxes: { start: number[]; end: number[] }[];
  local: Map<string, { patch: Int32Array; place: Int32Array }>;
}

/** Recent geometries (host side; their GPU constants are in `constants`), least recently used first. */
const geometries = new Map<string, OcclusionWindows>();
const GEOMETRIES = 8;

/**
 * The windows of an example [dims] (sizes `win`, steps `st`), remembered for the next call of the
 * same geometry (a geometry with more than 2^22 mask entries is made each time, and not cached).
 */
function windowsOf(dims: readonly number[], win: readonly number[], st: readonly number[]): OcclusionWindows {
  const key = `occlusion ${dims.join("x")} window ${win.join("x")} stride ${st.join("x")}`;
  const hit = geometries.get(key);
  if (hit) {
    geometries.delete(key);
    geometries.set(key, hit);
    return hit;
  }
  // Captum's window count: ceil((d − w) / s) + 1 starts at 0, s, 2s, …; the last window is cut at
  // the end of the dimension, so every feature is covered
  const counts = dims.map((d, i) => Math.ceil((d - win[i]) / st[i]) + 1);
  const G = counts.reduce((a, b) => a * b, 1), D = dims.reduce((a, b) => a * b, 1);
  const masks = new Float32Array(G * D);
  const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const boxes: { start: number[]; end: number[] }[] = [];
  const size = win.reduce((a, b) => a * b, 1);
  for (let g = 0; g < G; g++) {
    // the window's start per dimension
    let rem = g;
    const start = counts.map(() => 0);
    for (let i = counts.length - 1; i >= 0; i--) {
      start[i] = (rem % counts[i]) * st[i];
      rem = Math.floor(rem / counts[i]);
    }
    boxes.push({ start, end: start.map((v, i) => Math.min(dims[i], v + win[i])) });
    for (let k = 0; k < size; k++) {
      let r = k, off = 0, inside = true;
      for (let i = win.length - 1; i >= 0; i--) {
        const at = start[i] + (r % win[i]);
        if (at >= dims[i]) inside = false; // the cut-off part of a last window
        off += at * strides[i];
        r = Math.floor(r / win[i]);
      }
      if (inside) masks[g * D + off] = 1;
    }
  }
  const small = G * D <= 2 ** 22;
  const geo = { key: small ? key : null, ab: averaged(masks, G, D), boxes, local: new Map() };
  if (small) {
    geometries.set(key, geo);
    if (geometries.size > GEOMETRIES) geometries.delete(geometries.keys().next().value!);
  }
  return geo;
}

/** Options for `FeatureAblation.attribute`. */
export interface FeatureAblationOptions extends AttributeOptions {
  /** Group id per feature of an example; a group is ablated together (default: each feature alone). */
  featureMask?: FeatureMask;
  /** What replaces an ablated feature (default 0). */
  baselines?: Baseline;
}

/**
 * Feature ablation: replace each feature (or each group of `featureMask`) by the baseline and
 * give it the output change F(x) − F(x ablated).
 *
 * @example
 * ```ts
 * import { FeatureAblation, Linear, randn } from "glassbox";
 * const attr = await new FeatureAblation(new Linear(4, 2)).attribute(randn([3, 4]), { target: 1, featureMask: [0, 0, 1, 1] });
 * ```
 */
export class FeatureAblation extends Attribution {
  /** Attributions shaped like `x` (features of one group share their group's value). */
  attribute(x: Tensor, options: FeatureAblationOptions = {}): Promise<Tensor> {
    // the masks, baselines and scores made on the way are freed at the end; the attributions are kept
    return this.run(x, () =>
      scope(async () => {
        const D = rowSize(x);
        const { ids, groups } = await resolveMask("FeatureAblation", options.featureMask, D);
        const masks = new Float32Array(groups * D);
        ids.forEach((g, i) => (masks[g * D + i] = 1));
        // a feature takes its group's change: column 1 + its group
        const ab = { masks, G: groups, cover: ids.map((g) => g + 1), J: 1, inv: null };
        const table = await this.targets(x, options.target);
        const base = ablationBaseline("FeatureAblation", options.baselines, x);
        return perTarget(await ablate(this, x, base, table, ab, options, null), table);
      }));
  }
}

/** Options for `FeaturePermutation.attribute`. */
export interface FeaturePermutationOptions extends AttributeOptions {
  /** Group id per feature; a group is permuted together (default: each feature alone). */
  featureMask?: FeatureMask;
  /** Seed of the permutations (default 0). */
  seed?: number;
}

/**
 * Permutation importance for a batch of tabular examples: shuffle one feature (or group)
 * across the batch and give each example the output change F(x) − F(x permuted); as Captum,
 * a permutation that leaves the batch in order is drawn again. Breiman,
 * 2001; Fisher, Rudin & Dominici, 2019 (arXiv:1801.01489). Needs a batch of at least two.
 *
 * @example
 * ```ts
 * import { FeaturePermutation, Linear, randn } from "glassbox";
 * const attr = await new FeaturePermutation(new Linear(4, 1)).attribute(randn([16, 4])); // [16, 4]
 * ```
 */
export class FeaturePermutation extends Attribution {
  /** Attributions shaped like `x`. */
  attribute(x: Tensor, options: FeaturePermutationOptions = {}): Promise<Tensor> {
    // the masks, baselines and scores made on the way are freed at the end; the attributions are kept
    return this.run(x, () =>
      scope(async () => {
        const N = x.shape[0], D = rowSize(x);
        if (N < 2) {
          throw new Error("FeaturePermutation: needs a batch of at least 2 examples to permute across");
        }
        const { ids, groups } = await resolveMask("FeaturePermutation", options.featureMask, D);
        const table = await this.targets(x, options.target);
        const host = await x.toArray();
        const gen = new Generator(options.seed ?? 0);
        // copy g of the batch has group g's features taken from a shuffled example
        const rows = new Float32Array(groups * N * D);
        for (let g = 0; g < groups; g++) {
          // as Captum's _permute_feature: the identity would leave the batch as it is and give the group
          // exactly 0, so it is drawn again (with N = 2 it comes up every other draw)
          let perm = gen.shuffle(Array.from({ length: N }, (_, i) => i));
          while (perm.every((v, i) => v === i)) perm = gen.shuffle(perm.map((_, i) => i));
          for (let n = 0; n < N; n++) {
            const o = (g * N + n) * D;
            for (let i = 0; i < D; i++) rows[o + i] = host[(ids[i] === g ? perm[n] : n) * D + i];
          }
        }
        const xr = repeatRows(x, table.T);
        const B = defaultBatchRows(D, options.internalBatchSize);
        const full = reshape(this.scoresOf(xr, table.index, B), [N, table.T]);
        const permuted = tensor(rows, [groups * N, ...x.shape.slice(1)]);
        const T = table.T;
        const attr = new Float32Array(N * T * D);
        // every target's pass is recorded first; all scores come back together in one wait
        const perTargetScores: Tensor[] = [];
        for (let t = 0; t < T; t++) {
          const index = new Int32Array(groups * N);
          for (let g = 0; g < groups; g++) {
            for (let n = 0; n < N; n++) index[g * N + n] = table.index[n * T + t];
          }
          perTargetScores.push(this.scoresOf(permuted, index, B));
        }
        const [fullHost, permutedHost] = await Promise.all([
          full.toArray(),
          joinRows(perTargetScores).toArray(),
        ]);
        for (let t = 0; t < T; t++) {
          const s = permutedHost.subarray(t * groups * N, (t + 1) * groups * N);
          for (let g = 0; g < groups; g++) {
            for (let n = 0; n < N; n++) {
              const change = fullHost[n * T + t] - s[g * N + n];
              for (let i = 0; i < D; i++) if (ids[i] === g) attr[(n * T + t) * D + i] = change;
            }
          }
        }
        return perTarget(tensor(attr, [N * T, ...x.shape.slice(1)]), table);
      }));
  }
}
