/**
 * The reduce kernel at its lowest level (shaders/reduce.wgsl), with no autograd: sums over
 * axes and `sumToShape`, which undoes broadcasting. The shape ops' backward passes and the
 * differentiable reductions in reduce.ts both build on it.
 */
import { checkLoopSteps, LLVMPIPE_LOOP_STEPS } from "../../gpu/loops.ts";
import { placeholderBuffer } from "../../gpu/pool.ts";
import { dispatch, grid } from "../../gpu/queue.ts";
import { launchCopy, stridesOf } from "../kernels.ts";
import { empty, type Tensor } from "../tensor.ts";

/**
 * Runs the reduce kernel on x viewed as [O, R, I].
 *
 * `main` loops over all of R in one invocation, which llvmpipe cuts short past 65,535 steps
 * (src/gpu/loops.ts). Longer reductions go to `rows` (256 invocations share a row, so one loops
 * over R/256), after moving R last when I > 1; below the limit nothing changes.
 */
export function reduceORI(
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
  const long = R > LLVMPIPE_LOOP_STEPS;
  if (long && I !== 1) {
    // [O, R, I] -> [O, I, R], then one row per output
    const p = empty([O, I, R]);
    launchCopy(x, p, "float32", [O, I, R], [R * I, 1, I], [I * R, R, 1]);
    y.dispose();
    idx?.dispose();
    const out = reduceORI(p, O * I, R, 1, isMax, scale);
    p.dispose();
    return out;
  }
  if (long) checkLoopSteps("reduce", Math.ceil(R / 256) + 8, `a reduction over ${R} values`);
  const useRows = I === 1 && ((R >= 512 && O < 4096) || long);
  dispatch({
    shader: "reduce",
    entry: useRows ? "rows" : "main",
    constants: { IS_MAX: isMax ? "true" : "false" },
    buffers: [x.buffer, y.buffer, idx ? idx.buffer : placeholderBuffer()],
    params: { O, R, I, scale },
    // rows: one workgroup per row
    ...(useRows ? { workgroups: grid(O, 1) } : { invocations: O * I }),
  });
  return [y, idx];
}

/** Reduces x over sorted axes to [O*I] values by summing, with a scale. */
export function sumRaw(x: Tensor, axes: number[], scale: number): Tensor {
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
  const order = [...rest, ...axes];
  const p = empty(order.map((a) => x.shape[a]));
  const xs = stridesOf(x.shape);
  launchCopy(x, p, "float32", p.shape, order.map((a) => xs[a]), stridesOf(p.shape));
  const O = rest.reduce((a, i) => a * x.shape[i], 1);
  const R = axes.reduce((a, i) => a * x.shape[i], 1);
  const y = reduceORI(p, O, R, 1, false, scale)[0];
  p.dispose();
  return y;
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
