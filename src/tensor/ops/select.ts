/**
 * Selecting elements: `gather` by int32 indices along an axis (target selection for
 * attribution: the logit of each example's class) and `where` (elementwise choice between two
 * tensors). shaders/gather.wgsl and shaders/where.wgsl.
 */
import { errorFlags } from "../../gpu/errors.ts";
import { LLVMPIPE_LOOP_STEPS, LOOP_STEPS_PER_INVOCATION } from "../../gpu/loops.ts";
import { dispatch } from "../../gpu/queue.ts";
import { record } from "../graph.ts";
import { launchBinary, launchCopy, launchFill, launchWhere } from "../kernels.ts";
import { assertFloat, assertLive, empty, type Tensor } from "../tensor.ts";
import { broadcastShapes, type Operand } from "./elementwise.ts";
import { sumToShape } from "./reduce_raw.ts";
import { normAxis } from "./shape.ts";

/**
 * Picks elements of `x` along `dim` at the int32 positions in `index`, like `torch.gather`:
 * for dim 1 of a matrix, `out[n][j] = x[n][index[n][j]]`. `index` has x's number of dimensions
 * and x's sizes except along `dim`; the output has index's shape. An index out of range is an
 * error at the next readback. The gradient flows back to the picked elements (summed where an
 * element is picked twice).
 *
 * @example
 * ```ts
 * import { gather, tensor } from "glassbox";
 * const logits = tensor([[1, 5, 2], [7, 3, 0]]);
 * const target = tensor([[1], [0]], undefined, { dtype: "int32" });
 * await gather(logits, 1, target).toArray(); // [5, 7]: each row's target logit
 * ```
 */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  assertFloat("gather", x);
  assertLive("gather", index);
  if (index.dtype !== "int32") throw new Error(`gather: index must be int32, got ${index.describe()}`);
  const d = normAxis("gather", dim, x.ndim);
  if (index.ndim !== x.ndim || index.shape.some((s, i) => i !== d && s !== x.shape[i])) {
    throw new Error(
      `gather: index [${index.shape.join(", ")}] must match input [${
        x.shape.join(", ")
      }] in every dimension but ${d}`,
    );
  }
  const O = x.shape.slice(0, d).reduce((a, b) => a * b, 1);
  const I = x.shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const D = x.shape[d], J = index.shape[d];
  // one entry gathers x into [O, J, I]; the other gathers g back into [O, D, I]
  const launch = (entry: "gather" | "backward", src: Tensor, shape: readonly number[]) => {
    const dst = empty(shape);
    if (dst.size === 0) return dst;
    if (entry === "backward" && J === 0) launchFill(dst, 0);
    else {
      dispatch({
        shader: "gather",
        entry,
        buffers: [src.buffer, index.buffer, dst.buffer, errorFlags()],
        params: { O, D, J, I },
        invocations: dst.size,
      });
    }
    return dst;
  };
  // the backward's invocation loops over J: past llvmpipe's loop budget (src/gpu/loops.ts) it
  // runs on blocks of 32,768 indices (copied out) and adds the blocks' gradients in order
  const backward = (g: Tensor): Tensor => {
    if (J <= LLVMPIPE_LOOP_STEPS) return launch("backward", g, x.shape);
    let acc: Tensor | null = null;
    for (let j0 = 0; j0 < J; j0 += LOOP_STEPS_PER_INVOCATION) {
      const Jc = Math.min(LOOP_STEPS_PER_INVOCATION, J - j0);
      const gs = empty([O * Jc * I]), is = empty([O * Jc * I], "int32");
      launchCopy(g, gs, "float32", [O, Jc, I], [J * I, I, 1], [Jc * I, I, 1], j0 * I);
      launchCopy(index, is, "int32", [O, Jc, I], [J * I, I, 1], [Jc * I, I, 1], j0 * I);
      const part = empty(x.shape);
      dispatch({
        shader: "gather",
        entry: "backward",
        buffers: [gs.buffer, is.buffer, part.buffer, errorFlags()],
        params: { O, D, J: Jc, I },
        invocations: part.size,
      });
      gs.dispose();
      is.dispose();
      if (acc) {
        const sum = launchBinary(acc, part, "a + b", x.shape);
        acc.dispose();
        part.dispose();
        acc = sum;
      } else acc = part;
    }
    return acc!;
  };
  const y = launch("gather", x, index.shape);
  return record(y, "gather", [x], (g) => [backward(g)], [index]);
}

/** A tensor operand as is, a number as a 0-d tensor. */
function asTensor(op: string, v: Operand): Tensor {
  if (typeof v !== "number") {
    assertFloat(op, v);
    return v;
  }
  const t = empty([]);
  launchFill(t, v);
  return t;
}

/**
 * `a` where `condition` is nonzero, `b` elsewhere, with broadcasting (like `torch.where`);
 * `a` or `b` may be a number. The gradient goes to the side that was chosen.
 *
 * @example
 * ```ts
 * import { tensor, where } from "glassbox";
 * const x = tensor([-2, 3, -1]);
 * await where(x.relu(), x, 0).toArray(); // [0, 3, 0]
 * ```
 */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  assertLive("where", condition);
  const ta = asTensor("where", a), tb = asTensor("where", b);
  const shape = broadcastShapes("where", broadcastShapes("where", condition.shape, ta.shape), tb.shape);
  const z = launchWhere(condition, ta, tb, shape);
  const scalars = [ta, tb].filter((_t, i) => typeof [a, b][i] === "number");
  const out = record(z, "where", [ta, tb], (g) => {
    const zero = empty([]);
    launchFill(zero, 0);
    const pick = (t: Tensor, chosen: boolean) => {
      if (!t.requiresGrad) return null;
      const full = chosen
        ? launchWhere(condition, g, zero, g.shape)
        : launchWhere(condition, zero, g, g.shape);
      const r = sumToShape(full, t.shape);
      if (r !== full) full.dispose();
      return r;
    };
    const res = [pick(ta, true), pick(tb, false)];
    zero.dispose();
    return res;
  }, [condition]);
  scalars.forEach((t) => t.dispose()); // the kernel has read them; they need no gradient
  return out;
}
