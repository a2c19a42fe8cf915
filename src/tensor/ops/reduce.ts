/**
 * Reductions: sum, mean, max and argmax over axes (shaders/reduce.wgsl).
 */
import { dispatch } from "../../gpu/queue.ts";
import { record } from "../graph.ts";
import { launchUnary } from "../kernels.ts";
import { assertFloat, assertLive, empty, own, type Tensor } from "../tensor.ts";
import { expand, normAxis } from "./shape.ts";
import { reduceORI, sumRaw } from "./reduce_raw.ts";

/** Which axes to reduce: one, several, or all (undefined). */
export type Axes = number | number[] | undefined;

function normAxes(op: string, axes: Axes, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(op, a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`${op}: axes [${list.join(", ")}] repeat an axis`);
  return list.sort((a, b) => a - b);
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
  }, []);
}

function mulScalarNoGrad(t: Tensor, s: number): Tensor {
  return launchUnary(t, "x * a + b", s, 0);
}

/**
 * Sum over axes (all when omitted), like `torch.sum`.
 *
 * @example
 * ```ts
 * import { sum, tensor } from "glassbox";
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
      params: { O, R, I },
      invocations: x.size,
    });
    return [gx];
  }, []); // reads only the winners, which it owns
  if (out.requiresGrad) own(out, idx); // the winners live exactly as long as the output
  else idx.dispose();
  return out;
}

/**
 * Index of the maximum along an axis (int32), or of the flattened tensor when omitted.
 *
 * @example
 * ```ts
 * import { argmax, tensor } from "glassbox";
 * await argmax(tensor([[1, 5], [7, 2]]), 1).toArray(); // Int32Array [1, 0]
 * ```
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  const [y, idx] = maxImpl("argmax", x, axis, keepdim);
  y.dispose();
  idx._op = "argmax";
  return idx;
}

export { sumToShape } from "./reduce_raw.ts";
