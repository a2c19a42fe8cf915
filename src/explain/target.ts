/**
 * Targets: which output an attribution explains. A class index for every example, one index
 * per example, or an int32 tensor; several targets for the same input are a [N, T] table
 * (each row's inputs are explained for each of its T targets in one batched pass).
 *
 * Any scalar output of any module can be explained, whatever the rank of its output:
 *
 * - [N] or [N, 1] (one number per example, e.g. a reconstruction error): no target needed.
 * - [N, K] (classes, latent units): the index k in [0, K).
 * - [N, ...rest] of higher rank (e.g. a decoder's image [N, C, H, W]): a flat index into one
 *   example's output in row-major order, in [0, C·H·W) — where Captum takes the tuple
 *   (c, h, w), glassbox takes c·H·W + h·W + w, which `outputIndex` computes. A tuple given
 *   as a list would read as one target per example, so it is not accepted as coordinates.
 */
import { tensor } from "../tensor/create.ts";
import { gather } from "../tensor/ops/select.ts";
import { reshape } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** What to explain: a class index, one per example, several per example ([N][T]), or an int32 tensor [N] or [N, T]. */
export type Target = number | readonly number[] | readonly (readonly number[])[] | Tensor;

/** Targets resolved on the CPU: `T` targets for each of `N` examples, row-major. */
export interface TargetTable {
  N: number;
  /** targets per example */
  T: number;
  /** N·T class indices */
  index: Int32Array;
  /** whether the caller asked for several targets per example (the result gets a T axis) */
  multi: boolean;
}

/** How a message names an output shape of rank > 1 (one example's, flattened for targets). */
function flatNote(outputShape: readonly number[] | undefined): string {
  return outputShape && outputShape.length > 1
    ? ` (one example's output is [${outputShape.join(", ")}]; a target is a flat row-major index into it)`
    : "";
}

/** A target is an integer in [0, classes): anything else (1.7, NaN, −1, 2³² + 2, "1") is an error naming it. */
function checkIndex(op: string, v: unknown, classes: number, outputShape?: readonly number[]): void {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new Error(
      `${op}: target ${typeof v === "string" ? JSON.stringify(v) : v} is not an integer class index`,
    );
  }
  if (v < 0 || v >= classes) {
    throw new Error(
      `${op}: target ${v} is out of range for a model with ${classes} outputs [0, ${classes})${
        flatNote(outputShape)
      }`,
    );
  }
}

/**
 * The flat target index of the element at `position` of one example's output of shape
 * `outputShape` (row-major): for an image output [C, H, W], (c, h, w) → c·H·W + h·W + w
 * (what Captum's tuple target names). A position of the wrong length or out of range is an
 * error naming it.
 *
 * @example
 * ```ts
 * import { outputIndex } from "glassbox";
 * if (outputIndex([1, 28, 28], [0, 3, 5]) !== 3 * 28 + 5) throw new Error("row-major");
 * let message = "";
 * try { outputIndex([1, 28, 28], [3, 5]); } catch (e) { message = (e as Error).message; }
 * if (!message.includes("3 coordinates")) throw new Error(message);
 * ```
 */
export function outputIndex(outputShape: readonly number[], position: readonly number[]): number {
  if (position.length !== outputShape.length) {
    throw new Error(
      `outputIndex: an output of shape [${
        outputShape.join(", ")
      }] takes ${outputShape.length} coordinates, got [${position.join(", ")}]`,
    );
  }
  let k = 0;
  position.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= outputShape[i]) {
      throw new Error(
        `outputIndex: coordinate ${i} is ${p}, outside [0, ${outputShape[i]}) of the output [${
          outputShape.join(", ")
        }]`,
      );
    }
    k = k * outputShape[i] + p;
  });
  return k;
}

/**
 * Resolves `target` for `N` examples of a model with `classes` outputs per example (of shape
 * `outputShape`, named in messages when its rank is above 1). A tensor target is read back
 * (one readback). Without a target, a model with one output per example explains it.
 */
export async function resolveTarget(
  op: string,
  target: Target | undefined,
  N: number,
  classes: number,
  outputShape?: readonly number[],
): Promise<TargetTable> {
  let rows: number[][];
  let multi = false;
  if (target === undefined) {
    if (classes !== 1) {
      throw new Error(
        `${op}: the model has ${classes} outputs; say which with { target }${flatNote(outputShape)}`,
      );
    }
    rows = Array.from({ length: N }, () => [0]);
  } else if (typeof target === "number") {
    rows = Array.from({ length: N }, () => [target]);
  } else if (Array.isArray(target)) {
    if (target.length !== N) {
      throw new Error(`${op}: ${target.length} targets given for ${N} examples`);
    }
    multi = Array.isArray(target[0]);
    rows = (target as (number | readonly number[])[]).map((t) => (Array.isArray(t) ? [...t] : [t as number]));
  } else {
    const t = target as Tensor;
    if (t.dtype !== "int32") throw new Error(`${op}: a target tensor must be int32, got ${t.describe()}`);
    if (t.shape[0] !== N || t.ndim > 2) {
      throw new Error(`${op}: target tensor [${t.shape.join(", ")}] does not give targets for ${N} examples`);
    }
    multi = t.ndim === 2;
    const v = Array.from(await t.toArray());
    const T = t.ndim === 2 ? t.shape[1] : 1;
    rows = Array.from({ length: N }, (_, n) => v.slice(n * T, n * T + T));
  }
  const T = rows[0]?.length ?? 1;
  if (rows.some((r) => r.length !== T || T === 0)) {
    throw new Error(`${op}: every example needs the same number (at least one) of targets`);
  }
  // check the values as given: Int32Array.from would turn 1.7 into 1, NaN into 0 and 2³² + 2 into 2
  for (const v of rows.flat()) checkIndex(op, v, classes, outputShape);
  const index = Int32Array.from(rows.flat());
  return { N, T, index, multi };
}

/**
 * The scores of the chosen outputs: `out` [B, C] (or [B] for a model with one output, or
 * [B, ...rest] flattened to [B, C]) at `index[b]` for each row b, as a [B] tensor
 * (differentiable).
 */
export function targetScores(out: Tensor, index: Int32Array): Tensor {
  const o = out.ndim === 1
    ? reshape(out, [out.shape[0], 1])
    : out.ndim === 2
    ? out
    : reshape(out, [out.shape[0], -1]);
  if (index.length !== o.shape[0]) {
    throw new Error(`internal: ${index.length} targets for ${o.shape[0]} rows`);
  }
  return reshape(gather(o, 1, tensor(index, [index.length, 1], { dtype: "int32" })), [index.length]);
}
