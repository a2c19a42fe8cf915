/**
 * Knowledge distillation (Hinton, Vinyals & Dean 2015): a student is trained on the teacher's
 * outputs softened by a temperature, mixed with the true labels (`distillationLoss`).
 */
import type { Dataset } from "../nn/evaluate.ts";
import { fit, type FitOptions } from "../nn/fit.ts";
import type { Module } from "../nn/module.ts";
import { noGrad } from "../tensor/mod.ts";
import { distillationLoss } from "./qat.ts";

/** Options for `distill`: those of `fit` (but the loss), and the distillation's. */
export interface DistillOptions extends Omit<FitOptions, "loss"> {
  /** Softening temperature T (default 4). */
  temperature?: number;
  /** Weight α of the soft term (default 0.9); 1 − α goes to the labels' cross-entropy. */
  alpha?: number;
}

/**
 * Trains `student` on `data` from `teacher`'s softened outputs (the teacher runs in eval mode,
 * without gradients) and returns the loss of every step.
 *
 * @example
 * ```ts
 * import { Adam, distill, Linear } from "glassbox";
 * const teacher = new Linear(2, 2), student = new Linear(2, 2);
 * const data = { x: Float32Array.from([1, 0, 0, 1]), y: Int32Array.from([0, 1]), sampleShape: [2] };
 * await distill(student, teacher, data, { optimizer: new Adam(student.parameters()), epochs: 3 });
 * ```
 */
export async function distill(
  student: Module,
  teacher: Module,
  data: Dataset,
  options: DistillOptions,
): Promise<{ losses: number[] }> {
  const restore = teacher.enterEval();
  try {
    return await fit(student, data, {
      ...options,
      loss: (logits, y, x) =>
        distillationLoss(logits, noGrad(() => teacher.forward(x)), y, {
          temperature: options.temperature,
          alpha: options.alpha,
        }),
    });
  } finally {
    restore();
  }
}
