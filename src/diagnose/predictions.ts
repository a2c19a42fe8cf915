/**
 * A classifier's predictions over a dataset, kept on the CPU for diagnosis: the logits, the
 * softmax probabilities, the predicted class and its probability, for every sample.
 */
import type { Dataset } from "../nn/evaluate.ts";
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";

/** Every sample's logits and what follows from them. */
export interface Predictions {
  /** Samples. */
  count: number;
  /** Classes. */
  classes: number;
  /** [count, classes] row-major. */
  logits: Float32Array;
  /** softmax(logits) per row, [count, classes]. */
  probs: Float32Array;
  /** The true class of each sample. */
  labels: Int32Array;
  /** argmax of each row. */
  predicted: Int32Array;
  /** The predicted class's probability. */
  confidence: Float32Array;
}

/**
 * Softmax of each row of [n, c] logits, in float64 (temperature T divides the logits).
 *
 * @example
 * ```ts
 * import { softmaxRows } from "glassbox";
 * softmaxRows([0, 0, 2, 0], 2); // [0.5, 0.5, 0.881, 0.119]
 * ```
 */
export function softmaxRows(logits: ArrayLike<number>, classes: number, temperature = 1): Float32Array {
  const n = logits.length / classes, out = new Float32Array(logits.length);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, logits[i * classes + c] / temperature);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(logits[i * classes + c] / temperature - m);
    for (let c = 0; c < classes; c++) {
      out[i * classes + c] = Math.exp(logits[i * classes + c] / temperature - m) / s;
    }
  }
  return out;
}

/**
 * @internal What every diagnosis needs of its rows, else an error naming the row and the value:
 * at least one row, finite logits (a NaN row has no prediction and no probability), and labels
 * that are classes.
 */
export function checkRows(
  op: string,
  count: number,
  classes: number,
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
): void {
  if (count === 0) throw new Error(`${op}: no predictions (0 rows)`);
  for (let i = 0; i < count; i++) {
    const l = labels[i];
    if (!(Number.isInteger(l) && l >= 0 && l < classes)) {
      throw new Error(`${op}: row ${i} has label ${l}, which is not a class in [0, ${classes})`);
    }
    for (let c = 0; c < classes; c++) {
      const v = logits[i * classes + c];
      if (!Number.isFinite(v)) {
        throw new Error(
          `${op}: row ${i} has logit ${v} for class ${c}; a row with a NaN or infinite logit has no prediction`,
        );
      }
    }
  }
}

/**
 * @internal `checkRows` on a Predictions object (which may have been built by hand), with its
 * array lengths.
 */
export function checkPredictions(op: string, p: Predictions): void {
  if (p.labels.length !== p.count || p.logits.length !== p.count * p.classes) {
    throw new Error(
      `${op}: ${p.labels.length} labels and ${p.logits.length} logits do not make ${p.count} rows of ${p.classes} classes`,
    );
  }
  checkRows(op, p.count, p.classes, p.logits, p.labels);
}

/**
 * Predictions from given logits and labels (for held-out logits, or any other model's). Throws,
 * naming the row, on a NaN or infinite logit or a label that is not a class, and on no rows.
 *
 * @example
 * ```ts
 * import { predictionsFromLogits } from "glassbox";
 * predictionsFromLogits(Float32Array.from([2, 0]), Int32Array.from([0]), 2).confidence; // [0.881]
 * ```
 */
export function predictionsFromLogits(
  logits: Float32Array,
  labels: Int32Array,
  classes: number,
): Predictions {
  const count = labels.length;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new Error(`predictionsFromLogits: classes must be a positive integer, got ${classes}`);
  }
  if (logits.length !== count * classes) {
    throw new Error(`predictionsFromLogits: ${logits.length} logits are not ${count} × ${classes}`);
  }
  checkRows("predictionsFromLogits", count, classes, logits, labels);
  const probs = softmaxRows(logits, classes);
  const predicted = new Int32Array(count), confidence = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + best]) best = c;
    predicted[i] = best;
    confidence[i] = probs[i * classes + best];
  }
  return { count, classes, logits, probs, labels, predicted, confidence };
}

/**
 * Runs `model` over `data` in eval mode (one readback per batch) and keeps every logit.
 *
 * @example
 * ```ts
 * import { collectPredictions, Linear } from "glassbox";
 * const data = { x: new Float32Array(8), y: new Int32Array([0, 1, 1, 0]), sampleShape: [2] };
 * const p = await collectPredictions(new Linear(2, 2), data);
 * p.confidence; // the top probability of each sample
 * ```
 */
export async function collectPredictions(
  model: Module,
  data: Dataset,
  options: { batchSize?: number; limit?: number } = {},
): Promise<Predictions> {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const count = Math.min(options.limit ?? data.y.length, data.y.length);
  if (count === 0) throw new Error("collectPredictions: the dataset has no samples");
  if (data.x.length < count * per) {
    throw new Error(
      `collectPredictions: x has ${data.x.length} values for ${count} samples of [${data.sampleShape}]`,
    );
  }
  const bs = options.batchSize ?? 500;
  const restore = model.enterEval();
  const parts: Float32Array[] = [];
  try {
    for (let s = 0; s < count; s += bs) {
      const n = Math.min(bs, count - s);
      parts.push(
        await scope(async () => {
          const x = tensor(data.x.subarray(s * per, (s + n) * per), [n, ...data.sampleShape]);
          const y = noGrad(() => model.forward(x));
          if (y.ndim !== 2 || y.shape[0] !== n) {
            throw new Error(`collectPredictions: the model gave ${y.describe()}, not [N, classes]`);
          }
          return (await y.toArray()) as Float32Array;
        }),
      );
    }
  } finally {
    restore();
  }
  const classes = parts[0].length / Math.min(bs, count);
  const logits = new Float32Array(count * classes);
  let o = 0;
  for (const p of parts) {
    logits.set(p, o);
    o += p.length;
  }
  return predictionsFromLogits(logits, data.y.slice(0, count), classes);
}
