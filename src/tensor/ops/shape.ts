/**
 * Shape ops: reshape (a view), permute/transpose, expand, slicing the leading axis, concat.
 * Everything except reshape is a strided copy (shaders/copy.wgsl).
 */
import { record } from "../graph.ts";
import { launchCopy, launchFill, stridesOf } from "../kernels.ts";
import { assertLive, empty, type Tensor } from "../tensor.ts";
import { sumToShape } from "./reduce_raw.ts";

function fmt(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

/** Normalises a possibly negative axis; throws naming the op when out of range. */
export function normAxis(op: string, axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of ${ndim} dimensions`);
  }
  return a;
}

/**
 * The same data with a new shape (one dimension may be -1). Shares storage; no copy.
 *
 * @example
 * ```ts
 * import { arange, reshape } from "glassbox";
 * reshape(arange(6), [2, -1]); // shape [2, 3]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  assertLive("reshape", x);
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = s.reduce((a, d, i) => (i === neg ? a : a * d), 1);
    if (rest === 0 || x.size % rest !== 0) {
      throw new Error(`reshape: cannot reshape ${fmt(x.shape)} into ${fmt(shape)}`);
    }
    s[neg] = x.size / rest;
  }
  if (s.reduce((a, b) => a * b, 1) !== x.size) {
    throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}`);
  }
  const y = x._view(s);
  return record(y, "reshape", [x], (g) => [g._view(x.shape)], []);
}

/** Flattens dimensions `start..end` into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  const s = normAxis("flatten", start, x.ndim);
  const e = normAxis("flatten", end, x.ndim);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

/**
 * Reorders dimensions, like `torch.permute`.
 *
 * @example
 * ```ts
 * import { permute, zeros } from "glassbox";
 * permute(zeros([2, 3, 4]), [2, 0, 1]).shape; // [4, 2, 3]
 * ```
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  assertLive("permute", x);
  if (dims.length !== x.ndim) {
    throw new Error(`permute: ${dims.length} dims given for a tensor of shape ${fmt(x.shape)}`);
  }
  const d = dims.map((a) => normAxis("permute", a, x.ndim));
  if (new Set(d).size !== d.length) throw new Error(`permute: dims ${fmt(dims)} repeat an axis`);
  const shape = d.map((a) => x.shape[a]);
  const y = empty(shape, x.dtype);
  const xs = stridesOf(x.shape);
  launchCopy(x, y, x.dtype, shape, d.map((a) => xs[a]), stridesOf(shape));
  const inv = new Array(d.length);
  d.forEach((a, i) => (inv[a] = i));
  return record(y, "permute", [x], (g) => [permute(g, inv)], []);
}

/** Swaps two dimensions (default: the last two). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normAxis("transpose", dim0, x.ndim);
  const b = normAxis("transpose", dim1, x.ndim);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/**
 * Broadcasts to a larger shape by repeating size-1 (or missing leading) dimensions.
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  assertLive("expand", x);
  const off = shape.length - x.ndim;
  if (off < 0) throw new Error(`expand: cannot expand ${fmt(x.shape)} to fewer dimensions ${fmt(shape)}`);
  const xs = stridesOf(x.shape);
  const st = shape.map((d, i) => {
    if (i < off) return 0;
    const xd = x.shape[i - off];
    if (xd === d) return xs[i - off];
    if (xd === 1) return 0;
    throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shape)}`);
  });
  const y = empty(shape, x.dtype);
  launchCopy(x, y, x.dtype, shape, st, stridesOf(shape));
  return record(y, "expand", [x], (g) => [sumToShape(g, x.shape)], []);
}

/**
 * Elements `start..end` (exclusive) along `axis` (default 0, the leading axis), as a new tensor,
 * like Python's `x[start:end]` on that axis; negative indices count from the end, and the range
 * is clipped to the axis.
 *
 * @example
 * ```ts
 * import { arange, reshape, slice } from "glassbox";
 * slice(reshape(arange(6), [3, 2]), 1, 3); // [[2, 3], [4, 5]]
 * slice(reshape(arange(6), [3, 2]), 1, 2, 1); // [[1], [3], [5]]: the second column
 * ```
 */
export function slice(x: Tensor, start: number, end?: number, axis = 0): Tensor {
  assertLive("slice", x);
  if (x.ndim === 0) throw new Error("slice: cannot slice a 0-dimensional tensor");
  const ax = normAxis("slice", axis, x.ndim);
  const n = x.shape[ax];
  if (!Number.isInteger(start) || (end !== undefined && !Number.isInteger(end))) {
    throw new Error(`slice: start and end must be integers, got ${start} and ${end}`);
  }
  let s = start < 0 ? start + n : start;
  let e = end === undefined ? n : end < 0 ? end + n : end;
  s = Math.max(0, Math.min(n, s));
  e = Math.max(s, Math.min(n, e));
  const shape = [...x.shape];
  shape[ax] = e - s;
  const xs = stridesOf(x.shape);
  const y = empty(shape, x.dtype);
  launchCopy(x, y, x.dtype, shape, xs, stridesOf(shape), s * xs[ax], 0);
  return record(y, "slice", [x], (g) => {
    const gx = empty(x.shape);
    launchFill(gx, 0);
    launchCopy(g, gx, "float32", shape, stridesOf(shape), xs, 0, s * xs[ax]);
    return [gx];
  }, []);
}

/**
 * `length` elements of `dim` from `start`, like `torch.narrow`.
 *
 * @example
 * ```ts
 * import { narrow, zeros } from "glassbox";
 * narrow(zeros([2, 10]), 1, 3, 4).shape; // [2, 4]
 * ```
 */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  assertLive("narrow", x);
  const ax = normAxis("narrow", dim, x.ndim);
  const n = x.shape[ax];
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(length) || length < 0 || s < 0 || s + length > n) {
    throw new Error(`narrow: [${start}, ${start} + ${length}) is outside dimension ${dim} of size ${n}`);
  }
  return slice(x, s, s + length, ax);
}

/**
 * Joins tensors along an axis; all other dimensions must match.
 *
 * @example
 * ```ts
 * import { concat, ones, zeros } from "glassbox";
 * concat([zeros([2, 3]), ones([1, 3])], 0).shape; // [3, 3]
 * ```
 */
export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error("concat: needs at least one tensor");
  xs.forEach((t) => assertLive("concat", t));
  const ax = normAxis("concat", axis, xs[0].ndim);
  const dtype = xs[0].dtype;
  for (const t of xs) {
    const ok = t.ndim === xs[0].ndim && t.dtype === dtype &&
      t.shape.every((d, i) => i === ax || d === xs[0].shape[i]);
    if (!ok) {
      throw new Error(
        `concat: shapes ${
          xs.map((t) => fmt(t.shape) + " " + t.dtype).join(", ")
        } do not match outside axis ${axis}`,
      );
    }
  }
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((a, t) => a + t.shape[ax], 0);
  const y = empty(shape, dtype);
  const ys = stridesOf(shape);
  const offsets: number[] = [];
  let off = 0;
  for (const t of xs) {
    offsets.push(off);
    launchCopy(t, y, dtype, t.shape, stridesOf(t.shape), ys, 0, off * ys[ax]);
    off += t.shape[ax];
  }
  return record(y, "concat", xs, (g) =>
    xs.map((t, i) => {
      if (!t.requiresGrad) return null;
      const gt = empty(t.shape);
      launchCopy(g, gt, "float32", t.shape, ys, stridesOf(t.shape), offsets[i] * ys[ax], 0);
      return gt;
    }), []);
}
