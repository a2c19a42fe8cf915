/**
 * Where a classifier goes wrong: the confusion matrix and its most-confused class pairs, the
 * most confident mistakes, and for any class its most confidently correct example (to show a
 * mistake beside what the true and the predicted class look like when the model is right).
 */
import { checkPredictions, type Predictions } from "./predictions.ts";

/**
 * confusion[true][predicted] counts.
 *
 * @example
 * ```ts
 * import { confusionMatrix, predictionsFromLogits } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([1, 0, 1, 0]), Int32Array.from([0, 1]), 2);
 * confusionMatrix(p); // [[1, 0], [1, 0]]
 * ```
 */
export function confusionMatrix(p: Predictions): number[][] {
  checkPredictions("confusionMatrix", p);
  const m = Array.from({ length: p.classes }, () => new Array(p.classes).fill(0));
  for (let i = 0; i < p.count; i++) m[p.labels[i]][p.predicted[i]]++;
  return m;
}

/** One off-diagonal cell of the confusion matrix. */
export interface ConfusedPair {
  /** The true class. */
  actual: number;
  /** What the model said instead. */
  predicted: number;
  /** How many samples of `actual` got `predicted`. */
  count: number;
  /** count / samples of `actual`. */
  rate: number;
}

/**
 * The off-diagonal cells of a confusion matrix, most frequent first (ties: lower classes first).
 *
 * @example
 * ```ts
 * import { confusedPairs } from "glassbox";
 * confusedPairs([[8, 2], [1, 9]])[0]; // { actual: 0, predicted: 1, count: 2, rate: 0.2 }
 * ```
 */
export function confusedPairs(confusion: number[][], top = 10): ConfusedPair[] {
  const out: ConfusedPair[] = [];
  confusion.forEach((row, a) => {
    const total = row.reduce((s, v) => s + v, 0);
    row.forEach((count, p) => {
      if (p !== a && count > 0) out.push({ actual: a, predicted: p, count, rate: count / total });
    });
  });
  out.sort((x, y) => y.count - x.count || x.actual - y.actual || x.predicted - y.predicted);
  return out.slice(0, top);
}

/** A wrong prediction. */
export interface Mistake {
  /** The sample's index in the dataset. */
  index: number;
  /** The true class. */
  actual: number;
  /** The class the model gave. */
  predicted: number;
  /** The probability the model gave its (wrong) answer. */
  confidence: number;
  /** The probability it gave the true class. */
  trueProbability: number;
}

/**
 * The `top` wrong predictions made with the highest confidence.
 *
 * @example
 * ```ts
 * import { confidentMistakes, predictionsFromLogits } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([3, 0, 1, 0]), Int32Array.from([1, 1]), 2);
 * confidentMistakes(p)[0].index; // 0: wrong with 95% confidence
 * ```
 */
export function confidentMistakes(p: Predictions, top = 10): Mistake[] {
  checkPredictions("confidentMistakes", p);
  const out: Mistake[] = [];
  for (let i = 0; i < p.count; i++) {
    if (p.predicted[i] === p.labels[i]) continue;
    out.push({
      index: i,
      actual: p.labels[i],
      predicted: p.predicted[i],
      confidence: p.confidence[i],
      trueProbability: p.probs[i * p.classes + p.labels[i]],
    });
  }
  return out.sort((a, b) => b.confidence - a.confidence || a.index - b.index).slice(0, top);
}

/**
 * The index of the correctly classified sample of class `cls` with the highest confidence (−1 if none).
 *
 * @example
 * ```ts
 * import { bestExample, predictionsFromLogits } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([1, 0, 3, 0]), Int32Array.from([0, 0]), 2);
 * bestExample(p, 0); // 1
 * ```
 */
export function bestExample(p: Predictions, cls: number): number {
  checkPredictions("bestExample", p);
  let best = -1;
  for (let i = 0; i < p.count; i++) {
    if (p.labels[i] === cls && p.predicted[i] === cls && (best < 0 || p.confidence[i] > p.confidence[best])) {
      best = i;
    }
  }
  return best;
}
