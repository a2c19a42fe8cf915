/**
 * Reductions: sum, mean, max and argmax over axes (shaders/reduce.wgsl).
 */
import { placeholderBuffer } from "../../gpu/pool.ts";
import { dispatch, grid } from "../../gpu/queue.ts";
import { record } from "../autograd.ts";
import { launchUnary } from "../kernels.ts";
import { assertFloat, assertLive, empty, type Tensor } from "../tensor.ts";
import { _setSumToShape, expand, normAxis, permute } from "./shape.ts";

/** Which axes to reduce: one, several, or all (undefined). */
export type Axes = number | number[] | undefined;

function normAxes(op: string, axes: Axes, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(op, a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`${op}: axes [${list.join(", ")}] repeat an axis`);
  return list.sort((a, b) => a - b);
}

/** Runs the reduce kernel on x viewed as [O, R, I]. */
function reduceORI(
  x: Tensor,
  O: number,
  R: number,
  I: number,
  isMax: boolean,
  scale: number,
): [Tensor, Tensor | null] {
  const y = empty([O * I]);
  const idx = isMax ? empty([O * I], "int32") : null;
  if (O * I === 0) return [y, idx];
  const useRows = I === 1 && R >= 512 && O < 4096;
  dispatch({
    shader: "reduce",
    entry: useRows ? "rows" : "main",
    constants: { IS_MAX: isMax ? "true" : "false" },
    buffers: [x.buffer, y.buffer, idx ? idx.buffer : placeholderBuffer()],
    params: [O, R, I, { f: scale }],
    workgroups: useRows ? grid(O, 1) : grid(O * I, 64),
  });
  return [y, idx];
}

/** Shape after reducing `axes` (kept as 1 with keepdim). */
function reducedShape(shape: readonly number[], axes: number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

/** Reduces x over sorted axes to [O*I] values by summing, with a scale. */
function sumRaw(x: Tensor, axes: number[], scale: number): Tensor {
  const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (axes.length === 0) {
    const [y] = reduceORI(x, x.size, 1, 1, false, scale);
    return y;
  }
  if (contiguous) {
    const O = x.shape.slice(0, axes[0]).reduce((a, b) => a * b, 1);
    const R = axes.reduce((a, ax) => a * x.shape[ax], 1);
    const I = x.shape.slice(axes[axes.length - 1] + 1).reduce((a, b) => a * b, 1);
    return reduceORI(x, O, R, I, false, scale)[0];
  }
  // move the reduced axes last, then reduce one contiguous run
  const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const p = permute(x, [...rest, ...axes]);
  const O = rest.reduce((a, i) => a * x.shape[i], 1);
  const R = axes.reduce((a, i) => a * x.shape[i], 1);
  const y = reduceORI(p, O, R, 1, false, scale)[0];
  p.dispose();
  return y;
}

function sumImpl(op: string, x: Tensor, axes: Axes, keepdim: boolean, mean: boolean): Tensor {
  assertFloat(op, x);
  const ax = normAxes(op, axes, x.ndim);
  const R = ax.reduce((a, i) => a * x.shape[i], 1);
  const scale = mean ? 1 / R : 1;
  const flat = sumRaw(x, ax, scale);
  const outShape = reducedShape(x.shape, ax, keepdim);
  const y = flat._view(outShape);
  flat.dispose();
  const keepShape = reducedShape(x.shape, ax, true);
  return record(y, op, [x], (g) => {
    const gk = g._view(keepShape);
    let gx = expand(gk, x.shape);
    gk.dispose();
    if (mean) {
      const s = mulScalarNoGrad(gx, scale);
      gx.dispose();
      gx = s;
    }
    return [gx];
  });
}

function mulScalarNoGrad(t: Tensor, s: number): Tensor {
  return launchUnary(t, "x * a + b", s, 0);
}

/**
 * Sum over axes (all when omitted), like `torch.sum`.
 *
 * @example
 * ```ts
 * import { sum, tensor } from "./mod.ts";
 * await sum(tensor([[1, 2], [3, 4]])).item(); // 10
 * sum(tensor([[1, 2], [3, 4]]), 0);           // [4, 6]
 * ```
 */
export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return sumImpl("sum", x, axes, keepdim, false);
}

/** Mean over axes (all when omitted). */
export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  return sumImpl("mean", x, axes, keepdim, true);
}

function maxImpl(op: string, x: Tensor, axis: number | undefined, keepdim: boolean): [Tensor, Tensor] {
  assertLive(op, x);
  if (x.dtype !== "float32") throw new Error(`${op} needs a float32 tensor, got ${x.describe()}`);
  if (x.size === 0) throw new Error(`${op}: cannot reduce an empty tensor ${x.describe()}`);
  let O: number, R: number, I: number, outShape: number[];
  if (axis === undefined) {
    [O, R, I] = [1, x.size, 1];
    outShape = keepdim ? x.shape.map(() => 1) : [];
  } else {
    const a = normAxis(op, axis, x.ndim);
    O = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
    R = x.shape[a];
    I = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
    outShape = reducedShape(x.shape, [a], keepdim);
  }
  const [flat, idx] = reduceORI(x, O, R, I, true, 1);
  const y = flat._view(outShape);
  flat.dispose();
  const idxOut = idx!._view(outShape);
  idx!.dispose();
  return [y, idxOut];
}

/**
 * Maximum over one axis (or over everything when omitted). The gradient flows to the first
 * maximal element.
 */
export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  const [y, idx] = maxImpl("max", x, axis, keepdim);
  const R = axis === undefined ? x.size : x.shape[normAxis("max", axis, x.ndim)];
  const O = axis === undefined
    ? 1
    : x.shape.slice(0, normAxis("max", axis, x.ndim)).reduce((p, d) => p * d, 1);
  const I = x.size / (O * R);
  const out = record(y, "max", [x], (g) => {
    const gx = empty(x.shape);
    dispatch({
      shader: "reduce_backward",
      buffers: [g.buffer, idx.buffer, gx.buffer],
      params: [O, R, I],
      workgroups: grid(x.size, 256),
    });
    return [gx];
  });
  if (!out.requiresGrad) idx.dispose();
  return out;
}

/**
 * Index of the maximum along an axis (int32), or of the flattened tensor when omitted.
 *
 * @example
 * ```ts
 * import { argmax, tensor } from "./mod.ts";
 * await argmax(tensor([[1, 5], [7, 2]]), 1).toArray(); // Int32Array [1, 0]
 * ```
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  const [y, idx] = maxImpl("argmax", x, axis, keepdim);
  y.dispose();
  idx._op = "argmax";
  return idx;
}

/**
 * Sums `g` down to `shape` (undoing broadcasting). Returns `g` itself when no reduction is needed.
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.ndim === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const off = g.ndim - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < off || (shape[i - off] === 1 && d !== 1)) axes.push(i);
  });
  const flat = sumRaw(g, axes, 1);
  const out = flat._view(shape);
  flat.dispose();
  return out;
}

_setSumToShape(sumToShape);
