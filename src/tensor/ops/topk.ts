/**
 * The k largest (or smallest) entries along the last axis, with their indices
 * (shaders/topk.wgsl): chunked partial top-k passes on the GPU, merged until one list per row.
 */
import { placeholderBuffer } from "../../gpu/pool.ts";
import { dispatch } from "../../gpu/queue.ts";
import { isGradEnabled } from "../graph.ts";
import { assertFloat, empty, type Tensor } from "../tensor.ts";
import { gather } from "./select.ts";

/** Options of {@link topk}. */
export interface TopkOptions {
  /** Largest values first (default true); false gives the smallest first. */
  largest?: boolean;
}

/** The largest k this GPU top-k keeps in one invocation's list. */
export const TOPK_MAX_K = 128;

/**
 * Candidates one invocation scans. With k <= 128 an invocation runs at most 256 * 129 loop
 * steps: lavapipe was seen to stop an invocation silently after about 65,536 (a chunk of
 * 20,000 ascending values with k = 8 returned garbage), so the work per invocation is bounded.
 */
const CHUNK = 256;

/**
 * The `k` largest entries of each row along the last axis, sorted, with their int32 positions,
 * like `torch.topk(x, k, dim=-1)`: returns `[values, indices]`, both `[..., k]`. Ties go to the
 * lower index (PyTorch leaves that order unspecified); NaN ranks above every number. With
 * `largest: false` the smallest come first. Values carry gradients (through a gather of x).
 * Runs on the GPU: each pass keeps the k best of every chunk, so only the `[..., k]` results
 * remain to read. k must be 1..min(last dimension, 128).
 *
 * @example
 * ```ts
 * import { tensor, topk } from "glassbox";
 * const [v, i] = topk(tensor([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]]), 2);
 * const values = Array.from(await v.toArray()), indices = Array.from(await i.toArray());
 * if (values.join() !== "5,4,9,6" || indices.join() !== "4,2,0,2") throw new Error("topk");
 * const [, low] = topk(tensor([3, 1, 4, 1, 5]), 2, { largest: false });
 * if (Array.from(await low.toArray()).join() !== "1,3") throw new Error("ties go to the lower index");
 * ```
 */
export function topk(x: Tensor, k: number, options: TopkOptions = {}): [Tensor, Tensor] {
  assertFloat("topk", x);
  const largest = options.largest ?? true;
  if (x.ndim === 0) throw new Error("topk: needs at least one dimension, got a scalar");
  const C = x.shape[x.ndim - 1];
  if (!Number.isInteger(k) || k < 1) throw new Error(`topk: k must be a positive integer, got ${k}`);
  if (k > C) throw new Error(`topk: k = ${k} is more than the ${C} entries of the last dimension`);
  if (k > TOPK_MAX_K) throw new Error(`topk: k = ${k} is more than the GPU top-k's limit of ${TOPK_MAX_K}`);
  const R = x.size / C;
  const outShape = [...x.shape.slice(0, -1), k];
  let kmax = 8;
  while (kmax < k) kmax *= 2;
  const L = CHUNK;
  const constants = { KMAX: kmax, LARGEST: largest ? "true" : "false" };
  let vals: Tensor = x, idx: Tensor | null = null, cols = C;
  for (;;) {
    const nchunks = Math.ceil(cols / L);
    const ov = empty([R * nchunks * k]);
    const oi = empty([R * nchunks * k], "int32");
    if (R > 0) {
      dispatch({
        shader: "topk",
        entry: "partial",
        constants,
        buffers: [vals.buffer, idx ? idx.buffer : placeholderBuffer(), ov.buffer, oi.buffer],
        params: { R, C: cols, L, nchunks, k, has_idx: idx ? 1 : 0 },
        invocations: R * nchunks,
      });
    }
    if (vals !== x) vals.dispose();
    idx?.dispose();
    vals = ov;
    idx = oi;
    cols = nchunks * k;
    if (nchunks === 1) break;
  }
  const indices = idx!._view(outShape);
  idx!.dispose();
  indices._op = "topk";
  if (x.requiresGrad && isGradEnabled()) {
    vals.dispose();
    return [gather(x, -1, indices), indices];
  }
  const values = vals._view(outShape);
  vals.dispose();
  values._op = "topk";
  return [values, indices];
}
