/**
 * Slices where a classifier is weakest: accuracy per class, per confidence bin, and per bin of
 * a per-sample statistic (for images: the amount of ink and the stroke thickness), each slice
 * with its size so that a small slice is not mistaken for a weak one.
 */
import type { Dataset } from "../nn/evaluate.ts";
import { checkPredictions, type Predictions } from "./predictions.ts";

/** One slice of the data and how the model does on it. */
export interface Slice {
  /** e.g. "class 3", "ink 0.08–0.11", "confidence 0.5–0.6". */
  name: string;
  /** The statistic the slice is cut on ("class", "confidence", "ink", …). */
  by: string;
  /** Its range [lo, hi) (for a class: [c, c + 1)). */
  lo: number;
  /** The range's upper edge. */
  hi: number;
  /** Samples in the slice. */
  count: number;
  /** Accuracy on the slice (NaN if empty). */
  accuracy: number;
}

const correct = (p: Predictions, i: number) => p.predicted[i] === p.labels[i];

/**
 * Accuracy per true class.
 *
 * @example
 * ```ts
 * import { predictionsFromLogits, sliceByClass } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([1, 0, 1, 0]), Int32Array.from([0, 1]), 2);
 * sliceByClass(p).map((s) => s.accuracy); // [1, 0]
 * ```
 */
export function sliceByClass(p: Predictions): Slice[] {
  checkPredictions("sliceByClass", p);
  const n = new Array(p.classes).fill(0), ok = new Array(p.classes).fill(0);
  for (let i = 0; i < p.count; i++) {
    n[p.labels[i]]++;
    if (correct(p, i)) ok[p.labels[i]]++;
  }
  return n.map((count, c) => ({
    name: `class ${c}`,
    by: "class",
    lo: c,
    hi: c + 1,
    count,
    accuracy: count ? ok[c] / count : NaN,
  }));
}

/**
 * Accuracy per bin of a per-sample statistic: `bins` bins at its quantiles (so each holds about
 * the same number of samples), or at fixed `edges`.
 *
 * @example
 * ```ts
 * import { predictionsFromLogits, sliceByValue } from "glassbox";
 * const p = predictionsFromLogits(Float32Array.from([1, 0, 0, 1, 1, 0, 0, 1]), Int32Array.from([0, 1, 1, 0]), 2);
 * sliceByValue(p, [1, 2, 3, 4], "ink", { bins: 2 }); // ink 1–3: 50%, ink 3–4: 50%
 * ```
 */
export function sliceByValue(
  p: Predictions,
  values: ArrayLike<number>,
  by: string,
  options: { bins?: number; edges?: number[] } = {},
): Slice[] {
  checkPredictions("sliceByValue", p);
  if (values.length !== p.count) {
    throw new Error(`sliceByValue: ${values.length} values for ${p.count} predictions`);
  }
  let edges = options.edges;
  if (!edges) {
    const k = options.bins ?? 5;
    const sorted = Float64Array.from(values).sort();
    edges = Array.from(
      { length: k + 1 },
      (_, j) => sorted[Math.min(sorted.length - 1, Math.floor((j / k) * sorted.length))],
    );
    edges[k] = sorted[sorted.length - 1];
    edges = edges.filter((e, j) => j === 0 || e > edges![j - 1]);
  }
  const nb = edges.length - 1;
  if (nb < 1) throw new Error(`sliceByValue: "${by}" takes a single value; there is nothing to slice`);
  const n = new Array(nb).fill(0), ok = new Array(nb).fill(0);
  for (let i = 0; i < p.count; i++) {
    const v = values[i];
    if (v < edges[0] || v > edges[nb]) continue;
    let b = 0;
    while (b < nb - 1 && v >= edges[b + 1]) b++;
    n[b]++;
    if (correct(p, i)) ok[b]++;
  }
  const f = (
    v: number,
  ) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));
  return n.map((count, b) => ({
    name: `${by} ${f(edges![b])}–${f(edges![b + 1])}`,
    by,
    lo: edges![b],
    hi: edges![b + 1],
    count,
    accuracy: count ? ok[b] / count : NaN,
  }));
}

/** Per image: the fraction of pixels above `threshold` (ink) and the mean stroke width in pixels. */
export interface ImageStatistics {
  /** The fraction of pixels above the threshold. */
  ink: Float64Array;
  /** 2 · ink area / ink perimeter (4-neighbour edges): a stroke of width w and any length gives ≈ w. */
  thickness: Float64Array;
}

/**
 * Ink amount and stroke thickness of every [1, H, W] (or [H, W]) image of a dataset; `threshold`
 * is in the dataset's units (for normalised MNIST, (0.5 − mean) / std is half-intensity).
 *
 * @example
 * ```ts
 * import { imageStatistics } from "glassbox";
 * const x = new Float32Array(16); x.fill(1, 4, 12); // rows 1 and 2 of a 4×4 image: a 2-pixel-wide stroke
 * imageStatistics({ x, y: new Int32Array(1), sampleShape: [4, 4] }, 0.5).thickness[0]; // 8·2/12 = 1.33
 * ```
 */
export function imageStatistics(data: Dataset, threshold: number): ImageStatistics {
  const s = data.sampleShape;
  const [H, W] = s.length === 3 ? [s[1], s[2]] : s.length === 2 ? [s[0], s[1]] : [NaN, NaN];
  if (!(H > 0 && W > 0) || (s.length === 3 && s[0] !== 1)) {
    throw new Error(`imageStatistics: expects grey images [1, H, W] or [H, W], got [${s}]`);
  }
  const N = data.y.length, per = H * W;
  const ink = new Float64Array(N), thickness = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const img = data.x.subarray(n * per, (n + 1) * per);
    const on = (y: number, x: number) => y >= 0 && y < H && x >= 0 && x < W && img[y * W + x] > threshold;
    let area = 0, perimeter = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (!on(y, x)) continue;
        area++;
        perimeter += (on(y - 1, x) ? 0 : 1) + (on(y + 1, x) ? 0 : 1) + (on(y, x - 1) ? 0 : 1) +
          (on(y, x + 1) ? 0 : 1);
      }
    }
    ink[n] = area / per;
    thickness[n] = perimeter ? (2 * area) / perimeter : 0;
  }
  return { ink, thickness };
}

/**
 * The `top` slices with the lowest accuracy among those with at least `minCount` samples.
 *
 * @example
 * ```ts
 * import { weakestSlices } from "glassbox";
 * const s = [{ name: "a", by: "x", lo: 0, hi: 1, count: 50, accuracy: 0.9 }, { name: "b", by: "x", lo: 1, hi: 2, count: 5, accuracy: 0.1 }];
 * weakestSlices(s, 1); // [a]: b has too few samples to call weak
 * ```
 */
export function weakestSlices(slices: Slice[], top = 5, minCount = 20): Slice[] {
  return slices.filter((s) => s.count >= minCount && !Number.isNaN(s.accuracy))
    .sort((a, b) => a.accuracy - b.accuracy || b.count - a.count).slice(0, top);
}
