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
  /** The class means it measures from, when it has them (to write it out and rebuild it with `noveltyReference`). */
  classMeans?: Float64Array[];
}

/**
 * The novelty reference for given class means and threshold: what `fitNovelty` returns, rebuilt
 * from its `classMeans`, `threshold` and `percentile` (e.g. in a page that has no training data).
 *
 * @example
 * ```ts
 * import { noveltyReference } from "glassbox";
 * const ref = noveltyReference([[0, 0], [1, 1]], 0.5, 99);
 * if (ref.distance([1, 2]) !== Math.sqrt(1 / 2)) throw new Error("RMS distance to the nearest mean");
 * ```
 */
export function noveltyReference(
  classMeans: readonly ArrayLike<number>[],
  threshold: number,
  percentile: number,
): InputNovelty {
  const means = classMeans.map((m) => Float64Array.from(m));
  const per = means[0]?.length ?? 0;
  if (means.length === 0 || means.some((m) => m.length !== per)) {
    throw new Error("noveltyReference: give one or more class means of the same length");
  }
  const distance = (x: ArrayLike<number>) => {
    if (x.length !== per) {
      throw new Error(`novelty: the input has ${x.length} values, the training samples ${per}`);
    }
    let best = Infinity;
    for (const m of means) {
      let s = 0;
      for (let k = 0; k < per; k++) s += (x[k] - m[k]) ** 2;
      best = Math.min(best, s);
    }
    return Math.sqrt(best / per);
  };
  return { distance, threshold, percentile, classMeans: means };
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
  const p = options.percentile ?? 99;
  const ref = noveltyReference(used, NaN, p);
  const d = Float64Array.from({ length: n }, (_, i) => ref.distance(data.x.subarray(i * per, (i + 1) * per)))
    .sort();
  return { ...ref, threshold: d[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] };
}
