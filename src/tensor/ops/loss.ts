/**
 * Losses: cross-entropy on class indices, mean squared error, binary cross-entropy on logits.
 */
import { errorFlags } from "../../gpu/errors.ts";
import { dispatch } from "../../gpu/queue.ts";
import { record } from "../graph.ts";
import { launchBinary } from "../kernels.ts";
import { assertFloat, assertLive, empty, type Tensor } from "../tensor.ts";
import { LLVMPIPE_LOOP_STEPS } from "../../gpu/loops.ts";
import { mul, sub } from "./elementwise.ts";
import { mean, sum } from "./reduce.ts";
import { gather } from "./select.ts";
import { reshape } from "./shape.ts";
import { logSoftmax } from "./softmax.ts";

/** Options for `crossEntropy`. */
export interface CrossEntropyOptions {
  /** Mix the one-hot target with the uniform distribution by this amount (PyTorch's label_smoothing). */
  labelSmoothing?: number;
  /** "mean" (default), "sum" or "none" (per-sample losses). */
  reduction?: "mean" | "sum" | "none";
}

function reduce(losses: Tensor, reduction: "mean" | "sum" | "none"): Tensor {
  if (reduction === "none") return losses;
  return reduction === "mean" ? mean(losses) : sum(losses);
}

/**
 * Cross-entropy between logits [N, C] and int32 class indices [N], like
 * `torch.nn.functional.cross_entropy`. A target outside [0, C) is reported as an error at
 * the next readback.
 *
 * @example
 * ```ts
 * import { crossEntropy, tensor } from "glassbox";
 * const logits = tensor([[2, 0, 0], [0, 3, 0]], undefined, { requiresGrad: true });
 * const targets = tensor([0, 1], undefined, { dtype: "int32" });
 * const loss = crossEntropy(logits, targets, { labelSmoothing: 0.1 });
 * await loss.backward();
 * ```
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  assertFloat("crossEntropy", logits);
  assertLive("crossEntropy", targets);
  if (targets.dtype !== "int32") {
    throw new Error(`crossEntropy: targets must be int32 class indices, got ${targets.describe()}`);
  }
  if (logits.ndim !== 2 || targets.ndim !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw new Error(
      `crossEntropy: expected logits [N, C] and targets [N], got [${logits.shape.join(", ")}] and [${
        targets.shape.join(", ")
      }]`,
    );
  }
  const eps = options.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const [N, C] = logits.shape;
  if (3 * C + 16 > LLVMPIPE_LOOP_STEPS) {
    // the kernel walks a row three times in one invocation, past llvmpipe's loop budget
    // (src/gpu/loops.ts): compose it (gather reports a target outside [0, C) as the kernel does)
    const logp = logSoftmax(logits, 1);
    const picked = reshape(gather(logp, 1, reshape(targets, [N, 1])), [N]);
    let perRow = mul(picked, -(1 - eps));
    if (eps > 0) perRow = sub(perRow, mul(sum(logp, [1]), eps / C));
    return reduce(perRow, options.reduction ?? "mean");
  }
  const rows = empty([N]);
  dispatch({
    shader: "cross_entropy",
    entry: "forward",
    buffers: [logits.buffer, targets.buffer, logits.buffer, rows.buffer, errorFlags()],
    params: { N, C, eps },
    invocations: N,
  });
  const perRow = record(rows, "crossEntropy", [logits], (g) => {
    const gx = empty(logits.shape);
    dispatch({
      shader: "cross_entropy",
      entry: "backward",
      buffers: [logits.buffer, targets.buffer, g.buffer, gx.buffer, errorFlags()],
      params: { N, C, eps },
      invocations: N,
    });
    return [gx];
  });
  return reduce(perRow, options.reduction ?? "mean");
}

/** Mean squared error, mean((a - b)²). */
export function mse(a: Tensor, b: Tensor): Tensor {
  // the intermediates stay alive for backward; a scope() frees them
  const d = sub(a, b);
  return mean(mul(d, d));
}

/**
 * Binary cross-entropy on logits (sigmoid folded in, stable for large |x|), like
 * `torch.nn.functional.binary_cross_entropy_with_logits`. Targets are floats in [0, 1].
 */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor,
  options: { reduction?: "mean" | "sum" | "none" } = {},
): Tensor {
  assertFloat("binaryCrossEntropyWithLogits", logits);
  assertFloat("binaryCrossEntropyWithLogits", targets);
  if (
    logits.size !== targets.size || logits.ndim !== targets.ndim ||
    !logits.shape.every((d, i) => d === targets.shape[i])
  ) {
    throw new Error(
      `binaryCrossEntropyWithLogits: logits [${logits.shape.join(", ")}] and targets [${
        targets.shape.join(", ")
      }] must have the same shape`,
    );
  }
  const l = launchBinary(logits, targets, "max(a, 0.0) - a * b + log(1.0 + exp(-abs(a)))", logits.shape);
  const per = record(l, "binaryCrossEntropyWithLogits", [logits, targets], (g) => {
    const s = launchBinary(logits, targets, "1.0 / (1.0 + exp(-a)) - b", logits.shape);
    const gx = launchBinary(s, g, "a * b", logits.shape);
    s.dispose();
    const gt = targets.requiresGrad ? launchBinary(logits, g, "-a * b", logits.shape) : null;
    return [gx, gt];
  });
  return reduce(per, options.reduction ?? "mean");
}
