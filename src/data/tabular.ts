/** Train/test split, standardisation and a shuffling batch iterator for row-major data. */
import { tensor } from "../tensor/create.ts";
import { Generator as Rng } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Row-major samples with labels (int class indices, or floats for regression targets). */
export interface Split {
  /** Features, `nSamples` rows of `nFeatures` values, row-major. */
  x: Float32Array;
  /** One label per row: class indices (Int32Array) or regression targets (Float32Array). */
  y: Int32Array | Float32Array;
  /** Number of rows. */
  nSamples: number;
  /** Number of columns per row. */
  nFeatures: number;
}

function take(x: Float32Array, y: Int32Array | Float32Array, f: number, idx: number[]): Split {
  const xs = new Float32Array(idx.length * f);
  const ys = new (y.constructor as Int32ArrayConstructor | Float32ArrayConstructor)(idx.length);
  idx.forEach((src, dst) => {
    xs.set(x.subarray(src * f, src * f + f), dst * f);
    ys[dst] = y[src];
  });
  return { x: xs, y: ys, nSamples: idx.length, nFeatures: f };
}

/**
 * Shuffles and splits rows into train and test sets.
 *
 * @example
 * ```ts
 * import { makeClassification, trainTestSplit } from "glassbox";
 * const d = makeClassification({ nSamples: 100, nFeatures: 5 });
 * const { train, test } = trainTestSplit(d.x, d.y, d.nFeatures, { testFraction: 0.2, seed: 1 });
 * ```
 */
export function trainTestSplit(
  x: Float32Array,
  y: Int32Array | Float32Array,
  nFeatures: number,
  options: { testFraction?: number; seed?: number } = {},
): { train: Split; test: Split } {
  const n = y.length;
  if (x.length !== n * nFeatures) {
    throw new Error(`trainTestSplit: x has ${x.length} values, expected ${n} rows × ${nFeatures} features`);
  }
  const frac = options.testFraction ?? 0.2;
  const order = new Rng(options.seed ?? 0).shuffle(Array.from({ length: n }, (_, i) => i));
  const nTest = Math.round(n * frac);
  return {
    test: take(x, y, nFeatures, order.slice(0, nTest)),
    train: take(x, y, nFeatures, order.slice(nTest)),
  };
}

/** Per-feature mean and standard deviation, fitted on one set and applied to any. */
export class Standardizer {
  /** Per-feature mean of the fitting set. */
  mean: Float64Array;
  /**
   * Per-feature population standard deviation (divided by n, as scikit-learn's `StandardScaler`) of the
   * fitting set; a constant feature gets 1, so it maps to 0 rather than NaN.
   */
  std: Float64Array;
  /**
   * Fits mean and std to `x`, rows of `nFeatures` values row-major (scikit-learn's
   * `StandardScaler().fit(x)`).
   */
  constructor(x: Float32Array, nFeatures: number) {
    const n = x.length / nFeatures;
    this.mean = new Float64Array(nFeatures);
    this.std = new Float64Array(nFeatures);
    for (let i = 0; i < n; i++) for (let j = 0; j < nFeatures; j++) this.mean[j] += x[i * nFeatures + j] / n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < nFeatures; j++) this.std[j] += (x[i * nFeatures + j] - this.mean[j]) ** 2 / n;
    }
    for (let j = 0; j < nFeatures; j++) this.std[j] = Math.sqrt(this.std[j]) || 1;
  }
  /** (x - mean) / std, as a new array. */
  transform(x: Float32Array): Float32Array {
    const f = this.mean.length;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = (x[i] - this.mean[i % f]) / this.std[i % f];
    return out;
  }
}

/** One mini-batch on the GPU. */
export interface Batch {
  /** The batch's features, [batch, nFeatures] float32. */
  x: Tensor;
  /** The batch's labels: [batch] int32 class indices, or [batch, 1] float32 regression targets. */
  y: Tensor;
  /** Row indices of this batch in the source arrays. */
  indices: number[];
}

/**
 * Yields mini-batches as tensors, reshuffled every epoch from a seeded generator. Labels are
 * int32 for integer arrays, float32 [n, 1] otherwise. The batch tensors belong to the caller
 * (dispose them, or create the iterator's batches inside a `scope`).
 *
 * @example
 * ```ts
 * import { batches, makeClassification } from "glassbox";
 * const d = makeClassification({ nSamples: 100, nFeatures: 5 });
 * for (const b of batches(d.x, d.y, d.nFeatures, { batchSize: 32, seed: 0 })) { b.x.dispose(); b.y.dispose(); }
 * ```
 */
export function* batches(
  x: Float32Array,
  y: Int32Array | Float32Array,
  nFeatures: number,
  options: { batchSize?: number; shuffle?: boolean; seed?: number; generator?: Rng; dropLast?: boolean } = {},
): Generator<Batch> {
  const n = y.length;
  const bs = options.batchSize ?? 32;
  const g = options.generator ?? new Rng(options.seed ?? 0);
  const order = Array.from({ length: n }, (_, i) => i);
  if (options.shuffle ?? true) g.shuffle(order);
  for (let s = 0; s < n; s += bs) {
    const idx = order.slice(s, s + bs);
    if (options.dropLast && idx.length < bs) break;
    const part = take(x, y, nFeatures, idx);
    const yt = y instanceof Int32Array
      ? tensor(part.y as Int32Array, [idx.length], { dtype: "int32" })
      : tensor(part.y as Float32Array, [idx.length, 1]);
    yield { x: tensor(part.x, [idx.length, nFeatures]), y: yt, indices: idx };
  }
}
