/**
 * Calibration: does a 90% confident prediction come true 90% of the time? The reliability
 * diagram bins predictions by confidence and compares each bin's accuracy with its mean
 * confidence; the expected calibration error is the sample-weighted mean gap (Guo, Pleiss, Sun
 * & Weinberger 2017, "On Calibration of Modern Neural Networks"). Temperature scaling, fitted
 * on held-out data by minimising the negative log-likelihood, divides the logits by one T.
 */
import { checkPredictions, type Predictions, predictionsFromLogits } from "./predictions.ts";

/** One bin of the reliability diagram. */
export interface ReliabilityBin {
  /** Confidence range (lo, hi]; the first bin includes 0. */
  lo: number;
  /** The bin's upper confidence edge. */
  hi: number;
  /** Predictions whose confidence falls in the bin. */
  count: number;
  /** Their accuracy (NaN for an empty bin). */
  accuracy: number;
  /** Their mean confidence (NaN for an empty bin). */
  confidence: number;
}

/** The reliability diagram's numbers. */
export interface Reliability {
  /** The bins, lowest confidence first. */
  bins: ReliabilityBin[];
  /** Expected calibration error: Σ_b (n_b / N) · |accuracy_b − confidence_b|. */
  ece: number;
  /** Maximum calibration error: the largest gap of a non-empty bin. */
  mce: number;
  /** Overall accuracy. */
  accuracy: number;
  /** Mean confidence over all predictions. */
  meanConfidence: number;
}

/**
 * Bins predictions into `bins` equal-width confidence bins (default 15, as Guo et al.).
 *
 * @example
 * ```ts
 * import { predictionsFromLogits, reliability } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([2, 0, 0, 2, 2, 0]), Int32Array.from([0, 1, 1]), 2);
 * reliability(p, 10).ece; // |2/3 − 0.881| = 0.214
 * ```
 */
export function reliability(p: Predictions, bins = 15): Reliability {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new Error(`reliability: bins must be a positive integer, got ${bins}`);
  }
  checkPredictions("reliability", p);
  const n = new Array(bins).fill(0), hit = new Array(bins).fill(0), conf = new Array(bins).fill(0);
  let correct = 0, confSum = 0;
  for (let i = 0; i < p.count; i++) {
    const c = p.confidence[i];
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1));
    n[b]++;
    conf[b] += c;
    confSum += c;
    if (p.predicted[i] === p.labels[i]) {
      hit[b]++;
      correct++;
    }
  }
  let ece = 0, mce = 0;
  const out = n.map((count, b): ReliabilityBin => {
    const accuracy = count ? hit[b] / count : NaN, confidence = count ? conf[b] / count : NaN;
    if (count) {
      const gap = Math.abs(accuracy - confidence);
      ece += (count / p.count) * gap;
      mce = Math.max(mce, gap);
    }
    return { lo: b / bins, hi: (b + 1) / bins, count, accuracy, confidence };
  });
  return { bins: out, ece, mce, accuracy: correct / p.count, meanConfidence: confSum / p.count };
}

/**
 * Mean negative log-likelihood of the labels under softmax(logits / T), in float64. Throws,
 * naming the row, on a NaN or infinite logit or a label that is not a class, and on no rows.
 *
 * @example
 * ```ts
 * import { nllAtTemperature, predictionsFromLogits } from "glassbox";
 * nllAtTemperature(predictionsFromLogits(Float32Array.from([0, 0]), Int32Array.from([0]), 2), 1); // ln 2
 * ```
 */
export function nllAtTemperature(p: Predictions, temperature: number): number {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`nllAtTemperature: the temperature must be positive and finite, got ${temperature}`);
  }
  checkPredictions("nllAtTemperature", p);
  return nll(p, temperature);
}

/** The mean NLL of checked predictions. */
function nll(p: Predictions, temperature: number): number {
  const C = p.classes;
  let total = 0;
  for (let i = 0; i < p.count; i++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, p.logits[i * C + c] / temperature);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(p.logits[i * C + c] / temperature - m);
    total += m + Math.log(s) - p.logits[i * C + p.labels[i]] / temperature;
  }
  return total / p.count;
}

/**
 * The temperature T that minimises the held-out negative log-likelihood (golden-section
 * search over log T in [1/100, 100]; the NLL is convex in 1/T), with the NLL before and after.
 * Throws, naming the row, on a NaN or infinite logit or a label that is not a class, and on no
 * rows (each would otherwise return the search bound).
 *
 * @example
 * ```ts
 * import { fitTemperature, predictionsFromLogits } from "glassbox";
 * const heldOut = predictionsFromLogits(Float32Array.from([4, 0, 4, 0, 0, 4]), Int32Array.from([0, 1, 1]), 2);
 * fitTemperature(heldOut).temperature; // > 1: the logits were overconfident
 * ```
 */
export function fitTemperature(
  heldOut: Predictions,
): { temperature: number; nllBefore: number; nllAfter: number } {
  checkPredictions("fitTemperature", heldOut);
  let lo = Math.log(0.01), hi = Math.log(100);
  const g = (Math.sqrt(5) - 1) / 2;
  const f = (u: number) => nll(heldOut, Math.exp(u));
  let a = hi - g * (hi - lo), b = lo + g * (hi - lo), fa = f(a), fb = f(b);
  for (let k = 0; k < 80; k++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = f(b);
    }
  }
  const temperature = Math.exp((lo + hi) / 2);
  return {
    temperature,
    nllBefore: nll(heldOut, 1),
    nllAfter: nll(heldOut, temperature),
  };
}

/**
 * The same predictions with every logit divided by T (the class decisions do not change).
 *
 * @example
 * ```ts
 * import { applyTemperature, predictionsFromLogits } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([4, 0]), Int32Array.from([0]), 2);
 * applyTemperature(p, 2).confidence; // [0.881], down from 0.982
 * ```
 */
export function applyTemperature(p: Predictions, temperature: number): Predictions {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`applyTemperature: the temperature must be positive, got ${temperature}`);
  }
  return predictionsFromLogits(p.logits.map((v) => v / temperature), p.labels, p.classes);
}

/**
 * Temperature scaling by cross-fitting: the predictions are cut into `folds` consecutive parts;
 * each part is scaled by the temperature fitted on all the others, so every prediction is judged
 * with a temperature that never saw it, and all of them are judged. Returns the scaled
 * predictions (in the original order) and each fold's temperature.
 *
 * @example
 * ```ts
 * import { crossFitTemperature, predictionsFromLogits, reliability } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([4, 0, 4, 0, 0, 4, 0, 4]), Int32Array.from([0, 1, 1, 1]), 2);
 * const { scaled, temperatures } = crossFitTemperature(p, 2);
 * reliability(scaled).ece; // judged on all four, each with a T fitted on the other half
 * ```
 */
export function crossFitTemperature(
  p: Predictions,
  folds = 2,
): { scaled: Predictions; temperatures: number[] } {
  checkPredictions("crossFitTemperature", p);
  if (!Number.isInteger(folds) || folds < 2 || folds > p.count) {
    throw new Error(
      `crossFitTemperature: folds must be an integer from 2 to the ${p.count} predictions, got ${folds}`,
    );
  }
  const C = p.classes, edges = Array.from({ length: folds + 1 }, (_, k) => Math.round((k * p.count) / folds));
  const logits = new Float32Array(p.logits.length), temperatures: number[] = [];
  for (let k = 0; k < folds; k++) {
    const [a, b] = [edges[k], edges[k + 1]];
    const restLogits = Float32Array.from([...p.logits.subarray(0, a * C), ...p.logits.subarray(b * C)]);
    const restLabels = Int32Array.from([...p.labels.subarray(0, a), ...p.labels.subarray(b)]);
    const t = fitTemperature(predictionsFromLogits(restLogits, restLabels, C)).temperature;
    temperatures.push(t);
    for (let i = a * C; i < b * C; i++) logits[i] = p.logits[i] / t;
  }
  return { scaled: predictionsFromLogits(logits, p.labels, C), temperatures };
}
