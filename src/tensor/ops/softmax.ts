/**
 * softmax and log-softmax along an axis (shaders/softmax.wgsl), numerically stable.
 */
import { LLVMPIPE_LOOP_STEPS } from "../../gpu/loops.ts";
import { dispatch } from "../../gpu/queue.ts";
import { record } from "../graph.ts";
import { assertFloat, empty, type Tensor } from "../tensor.ts";
import { div, exp, log, sub } from "./elementwise.ts";
import { max, sum } from "./reduce.ts";
import { normAxis } from "./shape.ts";

/**
 * The kernel's invocation walks its row three times (max, sum, write), so past about 21,800
 * values llvmpipe would cut it short (src/gpu/loops.ts). Longer rows are composed from the
 * reduce and elementwise ops on every adapter (same formula, other summation order).
 */
const longRow = (R: number) => 3 * R + 16 > LLVMPIPE_LOOP_STEPS;

/** x - max(x) along axis (the max held constant: softmax does not depend on it). */
function shifted(x: Tensor, axis: number): Tensor {
  const m = max(x, axis, true).detach();
  return sub(x, m);
}

function ori(x: Tensor, axis: number): [number, number, number] {
  const a = normAxis("softmax", axis, x.ndim);
  const O = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const I = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  return [O, x.shape[a], I];
}

function run(entry: string, x: Tensor, g: Tensor | null, dims: [number, number, number]): Tensor {
  const out = empty(x.shape);
  const [O, R, I] = dims;
  if (x.size === 0) return out;
  dispatch({
    shader: "softmax",
    entry,
    buffers: [x.buffer, (g ?? x).buffer, out.buffer],
    params: { O, R, I },
    invocations: O * I,
  });
  return out;
}

/**
 * softmax(x) along `axis` (default the last): each slice sums to 1.
 *
 * @example
 * ```ts
 * import { softmax, tensor } from "glassbox";
 * softmax(tensor([[1, 2, 3]]), -1); // rows sum to 1
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertFloat("softmax", x);
  const dims = ori(x, axis);
  if (longRow(dims[1])) {
    const e = exp(shifted(x, axis));
    return div(e, sum(e, [axis], true));
  }
  const y = run("softmax", x, null, dims);
  return record(y, "softmax", [x], (g) => [run("softmax_bwd", y, g, dims)], [y]);
}

/** log(softmax(x)) along `axis`, computed as x - logsumexp(x) without overflow. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertFloat("logSoftmax", x);
  const dims = ori(x, axis);
  if (longRow(dims[1])) {
    const z = shifted(x, axis);
    return sub(z, log(sum(exp(z), [axis], true)));
  }
  const y = run("log_softmax", x, null, dims);
  return record(y, "logSoftmax", [x], (g) => [run("log_softmax_bwd", y, g, dims)], [y]);
}
