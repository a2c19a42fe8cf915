/**
 * How unlike the training data an input is, by a measure simple enough to state in a
 * sentence: the root-mean-square distance from the input to the nearest class-mean training
 * input, against the 99th percentile of that distance over the training inputs themselves.
 */
import type { Dataset } from "../nn/evaluate.ts";

/** A fitted reference for input novelty. */
export interface InputNovelty {
  /** The RMS distance from `x` to the nearest class mean. */
  distance(x: ArrayLike<number>): number;
  /** The training inputs' distances at this percentile: above it, an input is unusual. */
  threshold: number;
  /** The percentile the threshold is at. */
  percentile: number;
}

/**
 * Fits class means on (up to `limit`) training samples and the threshold at `percentile`.
 *
 * @example
 * ```ts
 * import { fitNovelty } from "glassbox";
 * const train = { x: Float32Array.from([0, 0, 1, 1]), y: Int32Array.from([0, 1]), sampleShape: [2] };
 * const ref = fitNovelty(train);
 * ref.distance([5, 5]) > ref.threshold; // true: far from both class means
 * ```
 */
export function fitNovelty(
  data: Dataset,
  options: { percentile?: number; limit?: number } = {},
): InputNovelty {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const n = Math.min(options.limit ?? 10000, data.y.length);
  if (n === 0) throw new Error("fitNovelty: no training samples");
  const classes = Math.max(...data.y.subarray(0, n)) + 1;
  const means = Array.from({ length: classes }, () => new Float64Array(per)),
    counts = new Array(classes).fill(0);
  for (let i = 0; i < n; i++) {
    const m = means[data.y[i]];
    counts[data.y[i]]++;
    for (let k = 0; k < per; k++) m[k] += data.x[i * per + k];
  }
  means.forEach((m, c) => counts[c] && m.forEach((v, k) => (m[k] = v / counts[c])));
  const used = means.filter((_, c) => counts[c] > 0);
  const distance = (x: ArrayLike<number>) => {
    if (x.length !== per) {
      throw new Error(`novelty: the input has ${x.length} values, the training samples ${per}`);
    }
    let best = Infinity;
    for (const m of used) {
      let s = 0;
      for (let k = 0; k < per; k++) s += (x[k] - m[k]) ** 2;
      best = Math.min(best, s);
    }
    return Math.sqrt(best / per);
  };
  const p = options.percentile ?? 99;
  const d = Float64Array.from({ length: n }, (_, i) => distance(data.x.subarray(i * per, (i + 1) * per)))
    .sort();
  return { distance, threshold: d[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)], percentile: p };
}
