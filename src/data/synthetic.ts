/**
 * A seeded synthetic classification generator in the spirit of scikit-learn's
 * `make_classification`: a few informative features (at known, shuffled column indices)
 * carry the class signal; the rest are pure noise.
 */
import { Generator } from "../tensor/random.ts";

/** Options for `makeClassification`. */
export interface ClassificationOptions {
  /** Rows to generate (default 1000). */
  nSamples?: number;
  /** Columns per row, informative and noise together (default 20). */
  nFeatures?: number;
  /** Columns that carry the class signal (default 2; at most nFeatures). */
  nInformative?: number;
  /** Number of classes, labelled 0 … nClasses − 1 (default 2; at least 2). */
  nClasses?: number;
  /** Distance scale between class centres (default 1.5). */
  classSep?: number;
  /** Seed of the generator, so the same options give the same data (default 0). */
  seed?: number;
}

/** A synthetic dataset: row-major features, labels, and the truth about which columns matter. */
export interface TabularData {
  /** Features, `nSamples` rows of `nFeatures` values, row-major. */
  x: Float32Array;
  /** The class of each row, 0 … nClasses − 1. */
  y: Int32Array;
  /** Number of rows. */
  nSamples: number;
  /** Number of columns per row. */
  nFeatures: number;
  /** Column indices of the informative features, ascending. */
  informative: number[];
}

/**
 * Makes a classification problem with known informative features.
 *
 * Each class gets a centre at a random vertex of a hypercube of side 2·classSep in the
 * informative subspace; samples are centre + standard normal noise there, mixed by a random
 * linear map so features are correlated; every other column is standard normal noise.
 *
 * @example
 * ```ts
 * import { makeClassification } from "glassbox";
 * const d = makeClassification({ nSamples: 1000, nFeatures: 100, nInformative: 5, seed: 0 });
 * d.informative; // e.g. [7, 21, 48, 63, 90]
 * ```
 */
export function makeClassification(options: ClassificationOptions = {}): TabularData {
  const n = options.nSamples ?? 1000;
  const f = options.nFeatures ?? 20;
  const k = options.nInformative ?? 2;
  const c = options.nClasses ?? 2;
  const sep = options.classSep ?? 1.5;
  if (k > f) throw new Error(`makeClassification: nInformative (${k}) > nFeatures (${f})`);
  if (c < 2) throw new Error(`makeClassification: nClasses must be at least 2, got ${c}`);
  const g = new Generator(options.seed ?? 0);
  // class centres on distinct hypercube vertices
  const centres: number[][] = [];
  const used = new Set<string>();
  while (centres.length < c) {
    const v = Array.from({ length: k }, () => (g.random() < 0.5 ? -sep : sep));
    const key = v.join(",");
    if (used.has(key) && used.size < 2 ** k) continue;
    used.add(key);
    centres.push(v);
  }
  // a random mixing matrix, diagonal-dominant so each informative column keeps signal
  const mix = Array.from(
    { length: k },
    (_, i) => Array.from({ length: k }, (_, j) => (i === j ? 1 : 0.3 * g.normal())),
  );
  const cols = g.shuffle(Array.from({ length: f }, (_, i) => i));
  const informative = cols.slice(0, k).sort((a, b) => a - b);
  const x = new Float32Array(n * f);
  const y = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const cls = s % c;
    y[s] = cls;
    const z = centres[cls].map((m) => m + g.normal());
    for (let j = 0; j < f; j++) x[s * f + j] = g.normal();
    for (let i = 0; i < k; i++) {
      let v = 0;
      for (let j = 0; j < k; j++) v += mix[i][j] * z[j];
      x[s * f + informative[i]] = v;
    }
  }
  // shuffle rows
  const order = g.shuffle(Array.from({ length: n }, (_, i) => i));
  const xs = new Float32Array(n * f);
  const ys = new Int32Array(n);
  order.forEach((src, dst) => {
    xs.set(x.subarray(src * f, src * f + f), dst * f);
    ys[dst] = y[src];
  });
  return { x: xs, y: ys, nSamples: n, nFeatures: f, informative };
}
