/**
 * Training for compression: fake quantization for quantization-aware training (the forward
 * pass sees int8-rounded values, the backward pass a straight-through estimator: Bengio et al.
 * 2013, Jacob et al. 2018), and the distillation loss of Hinton, Vinyals & Dean (2015).
 */
import { defineUnary, noGrad } from "../tensor/mod.ts";
import { crossEntropy } from "../tensor/ops/loss.ts";
import { add, mul, sub } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { logSoftmax, softmax } from "../tensor/ops/softmax.ts";
import { assertFloat, type Tensor } from "../tensor/tensor.ts";

/**
 * q(x) = clamp(round(x / scale), −127, 127) · scale in the forward pass; in the backward pass
 * the gradient passes unchanged where x / scale is inside [−127.5, 127.5] and is zero where
 * the value was clamped (the straight-through estimator).
 *
 * @example
 * ```ts
 * import { fakeQuantize, tensor } from "glassbox";
 * await fakeQuantize(tensor([0.26, -1, 9]), 0.5).toArray(); // [0.5, -1, 9]
 * ```
 */
export function fakeQuantize(x: Tensor, scale: number): Tensor {
  assertFloat("fakeQuantize", x);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new Error(`fakeQuantize: scale must be positive, got ${scale}`);
  }
  return fakeQuantizeOp(x, 1 / scale, scale);
}

/** y = clamp(round(x · a), ±127) · b, with the straight-through derivative (a = 1/scale, b = scale). */
const fakeQuantizeOp = defineUnary({
  name: "fakeQuantize",
  forward: "clamp(round(x * a), -127.0, 127.0) * b",
  derivative: "select(0.0, 1.0, abs(x * a) <= 127.5)",
});

/**
 * Knowledge distillation (Hinton et al. 2015): α · T² · KL(softmax(teacher/T) ‖ softmax(student/T))
 * + (1 − α) · crossEntropy(student, targets), the KL averaged over the batch. The teacher's
 * logits get no gradient. T² keeps the soft term's gradient on the scale of the hard one.
 *
 * @example
 * ```ts
 * import { distillationLoss, tensor } from "glassbox";
 * const s = tensor([[1, 0, -1]]), t = tensor([[2, 0, 0]]), y = tensor([0], undefined, { dtype: "int32" });
 * distillationLoss(s, t, y, { temperature: 4, alpha: 0.7 }); // a scalar
 * ```
 */
export function distillationLoss(
  student: Tensor,
  teacher: Tensor,
  targets: Tensor,
  options: { temperature?: number; alpha?: number } = {},
): Tensor {
  const T = options.temperature ?? 4, alpha = options.alpha ?? 0.9;
  if (!(T > 0)) throw new Error(`distillationLoss: temperature must be positive, got ${T}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`distillationLoss: alpha must be in [0, 1], got ${alpha}`);
  if (student.ndim !== 2 || teacher.shape.join() !== student.shape.join()) {
    throw new Error(
      `distillationLoss: student [${student.shape}] and teacher [${teacher.shape}] logits must both be [N, C]`,
    );
  }
  const N = student.shape[0];
  const pt = noGrad(() => softmax(mul(teacher, 1 / T), -1));
  const logPt = noGrad(() => logSoftmax(mul(teacher, 1 / T), -1));
  const logPs = logSoftmax(mul(student, 1 / T), -1);
  const kl = mul(sum(mul(pt, sub(logPt, logPs))), (T * T) / N);
  return add(mul(kl, alpha), mul(crossEntropy(student, targets), 1 - alpha));
}
