/** Evaluation: loss, accuracy, per-class accuracy and the confusion matrix; predictions. */
import { noGrad } from "../tensor/graph.ts";
import { tensor } from "../tensor/create.ts";
import { crossEntropy } from "../tensor/ops/loss.ts";
import { argmax } from "../tensor/ops/reduce.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Module } from "./module.ts";

/** Labelled samples on the CPU: `x` holds `count` samples of `sampleShape`, row-major. */
export interface Dataset {
  /** The samples, one after another, each `sampleShape` values row-major. */
  x: Float32Array;
  /** The true class of each sample (0-based); its length is the sample count. */
  y: Int32Array;
  /** The shape of one sample, e.g. [1, 28, 28] for an MNIST image. */
  sampleShape: number[];
}

/** What `evaluate` reports. */
export interface Evaluation {
  /** Mean cross-entropy over the samples (nats). */
  loss: number;
  /** Fraction of samples whose arg-max prediction is the true class, in [0, 1]. */
  accuracy: number;
  /** Accuracy per true class (NaN for a class with no samples). */
  perClassAccuracy: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Samples evaluated (the dataset size, or `limit` when smaller). */
  count: number;
}

/**
 * Runs a classifier over a dataset in eval mode (no graph, one readback per batch) and
 * returns mean cross-entropy, accuracy, per-class accuracy and the confusion matrix.
 *
 * @example
 * ```ts
 * import { evaluate, Linear } from "glassbox";
 * const data = { x: new Float32Array(8), y: new Int32Array([0, 1, 1, 0]), sampleShape: [2] };
 * const r = await evaluate(new Linear(2, 2), data);
 * r.confusion; // 2×2 counts
 * ```
 */
export async function evaluate(
  model: Module,
  data: Dataset,
  options: { batchSize?: number; numClasses?: number; limit?: number } = {},
): Promise<Evaluation> {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const count = Math.min(options.limit ?? data.y.length, data.y.length);
  if (data.x.length < count * per) {
    throw new Error(`evaluate: x has ${data.x.length} values for ${count} samples of [${data.sampleShape}]`);
  }
  const bs = options.batchSize ?? 500;
  const wasTraining = model.training;
  model.eval();
  let classes = options.numClasses ?? 0;
  let lossSum = 0;
  let confusion: number[][] = [];
  try {
    for (let s = 0; s < count; s += bs) {
      const n = Math.min(bs, count - s);
      await scope(async () => {
        const x = tensor(data.x.subarray(s * per, (s + n) * per), [n, ...data.sampleShape]);
        const y = tensor(data.y.subarray(s, s + n), [n], { dtype: "int32" });
        const logits = noGrad(() => model.forward(x));
        if (!classes) classes = logits.shape[1];
        if (confusion.length === 0) {
          confusion = Array.from({ length: classes }, () => new Array(classes).fill(0));
        }
        const loss = crossEntropy(logits, y, { reduction: "sum" });
        const pred = await argmax(logits, 1).toArray();
        lossSum += await loss.item();
        for (let i = 0; i < n; i++) confusion[data.y[s + i]][pred[i]]++;
      });
    }
  } finally {
    model.train(wasTraining);
  }
  const correct = confusion.reduce((a, row, i) => a + row[i], 0);
  const perClassAccuracy = confusion.map((row, i) => row[i] / row.reduce((a, b) => a + b, 0));
  return { loss: lossSum / count, accuracy: correct / count, perClassAccuracy, confusion, count };
}

/**
 * Class probabilities (softmax of the model's output) for a batch, in eval mode and without
 * recording the graph.
 */
export function predict(model: Module, x: Tensor): Tensor {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => softmax(model.forward(x), -1));
  } finally {
    model.train(wasTraining);
  }
}
