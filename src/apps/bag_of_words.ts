/**
 * The baseline a text classifier must beat: multinomial logistic regression on a bag of words
 * (tf-idf, as scikit-learn's TfidfVectorizer: sublinear counts off, smooth idf, rows of unit
 * length), trained full-batch in float64 plain TypeScript with Adam on the mean cross-entropy
 * plus an L2 penalty. Deterministic: no randomness anywhere.
 */

/** Options for `trainBagOfWords`. */
export interface BagOfWordsOptions {
  /** L2 penalty λ on the weights (λ/2 · ‖W‖², added to the mean loss; default 1e-4). */
  l2?: number;
  /** Full-batch Adam steps (default 300). */
  steps?: number;
  /** Adam's learning rate (default 0.05). */
  lr?: number;
}

/** A trained bag-of-words classifier. */
export interface BagOfWords {
  /** Vocabulary size V (ids as the data set's; an id ≥ V counts as <unk> = 1). */
  vocab: number;
  /** Classes C. */
  classes: number;
  /** The idf of each id [V]. */
  idf: Float64Array;
  /** Weights [V · C], row-major by id. */
  weights: Float64Array;
  /** Biases [C]. */
  bias: Float64Array;
  /** The training objective after each step. */
  losses: number[];
}

/** The tf-idf vector of one document, sparse: ids ascending and values (unit length). */
function features(ids: ArrayLike<number>, idf: Float64Array): { ids: number[]; values: number[] } {
  const counts = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) counts.set(ids[i], (counts.get(ids[i]) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const values = keys.map((k) => counts.get(k)! * idf[k]);
  const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0)) || 1;
  return { ids: keys, values: values.map((v) => v / norm) };
}

/** Mean cross-entropy + λ/2‖W‖² and its gradient, for the sparse documents. */
function objective(
  docs: { ids: number[]; values: number[] }[],
  labels: ArrayLike<number>,
  W: Float64Array,
  b: Float64Array,
  C: number,
  l2: number,
): { loss: number; gW: Float64Array; gb: Float64Array } {
  const gW = new Float64Array(W.length), gb = new Float64Array(C), z = new Float64Array(C);
  let loss = 0;
  docs.forEach((d, n) => {
    z.set(b);
    d.ids.forEach((id, j) => {
      for (let c = 0; c < C; c++) z[c] += W[id * C + c] * d.values[j];
    });
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[c] - m);
    const lse = m + Math.log(s);
    loss += lse - z[labels[n]];
    for (let c = 0; c < C; c++) {
      const g = (Math.exp(z[c] - lse) - (c === labels[n] ? 1 : 0)) / docs.length;
      gb[c] += g;
      d.ids.forEach((id, j) => (gW[id * C + c] += g * d.values[j]));
    }
  });
  loss /= docs.length;
  let reg = 0;
  for (let i = 0; i < W.length; i++) {
    reg += W[i] * W[i];
    gW[i] += l2 * W[i];
  }
  return { loss: loss + (l2 / 2) * reg, gW, gb };
}

/**
 * Trains the baseline on documents given as token ids (any length; ids from a vocabulary of
 * `vocab` entries) and their labels in 0..classes−1.
 *
 * @example
 * ```ts
 * import { predictBagOfWords, trainBagOfWords } from "glassbox";
 * // class 0 texts say word 2, class 1 texts say word 3
 * const docs = [[2, 4], [2, 5], [3, 4], [3, 5]], labels = [0, 0, 1, 1];
 * const model = trainBagOfWords(docs, labels, 6, 2, { steps: 100 });
 * if (predictBagOfWords(model, [[2], [3, 4]]).probabilities.map((p) => p.indexOf(Math.max(...p))).join() !== "0,1") throw new Error("baseline");
 * ```
 */
export function trainBagOfWords(
  docs: ArrayLike<number>[],
  labels: ArrayLike<number>,
  vocab: number,
  classes: number,
  options: BagOfWordsOptions = {},
): BagOfWords {
  const l2 = options.l2 ?? 1e-4, steps = options.steps ?? 300, lr = options.lr ?? 0.05;
  if (docs.length !== labels.length || docs.length === 0) {
    throw new Error(`trainBagOfWords: ${docs.length} documents but ${labels.length} labels`);
  }
  for (let n = 0; n < labels.length; n++) {
    if (!Number.isInteger(labels[n]) || labels[n] < 0 || labels[n] >= classes) {
      throw new Error(`trainBagOfWords: label ${labels[n]} of document ${n} is not in 0..${classes - 1}`);
    }
  }
  const clip = (d: ArrayLike<number>) => Array.from(d, (id) => (id >= 0 && id < vocab ? id : 1));
  const df = new Float64Array(vocab);
  for (const d of docs) for (const id of new Set(clip(d))) df[id]++;
  const idf = df.map((n) => Math.log((1 + docs.length) / (1 + n)) + 1);
  const X = docs.map((d) => features(clip(d), idf));
  const W = new Float64Array(vocab * classes), b = new Float64Array(classes);
  const params = [W, b],
    m = params.map((p) => new Float64Array(p.length)),
    v = params.map((p) => new Float64Array(p.length));
  const losses: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const { loss, gW, gb } = objective(X, labels, W, b, classes, l2);
    losses.push(loss);
    [gW, gb].forEach((g, k) => {
      const p = params[k];
      for (let i = 0; i < p.length; i++) {
        m[k][i] = 0.9 * m[k][i] + 0.1 * g[i];
        v[k][i] = 0.999 * v[k][i] + 0.001 * g[i] * g[i];
        p[i] -= (lr * m[k][i] / (1 - 0.9 ** t)) / (Math.sqrt(v[k][i] / (1 - 0.999 ** t)) + 1e-8);
      }
    });
  }
  return { vocab, classes, idf, weights: W, bias: b, losses };
}

/**
 * Class probabilities of the baseline for documents given as token ids.
 *
 * @example
 * ```ts
 * import { predictBagOfWords, trainBagOfWords } from "glassbox";
 * const model = trainBagOfWords([[2], [3]], [0, 1], 4, 2, { steps: 50 });
 * const [p] = predictBagOfWords(model, [[2]]).probabilities;
 * if (Math.abs(p[0] + p[1] - 1) > 1e-12 || p[0] < 0.5) throw new Error(String(p));
 * ```
 */
export function predictBagOfWords(
  model: BagOfWords,
  docs: ArrayLike<number>[],
): { probabilities: number[][] } {
  const C = model.classes;
  const probabilities = docs.map((d) => {
    const f = features(Array.from(d, (id) => (id >= 0 && id < model.vocab ? id : 1)), model.idf);
    const z = Array.from(model.bias);
    f.ids.forEach((id, j) => {
      for (let c = 0; c < C; c++) z[c] += model.weights[id * C + c] * f.values[j];
    });
    const m = Math.max(...z), e = z.map((x) => Math.exp(x - m)), s = e.reduce((a, x) => a + x, 0);
    return e.map((x) => x / s);
  });
  return { probabilities };
}

/** @internal the objective for a finite-difference check in the tests. */
export const bagOfWordsObjective = objective;
/** @internal tf-idf features for the tests. */
export const bagOfWordsFeatures = features;
