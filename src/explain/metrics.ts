/**
 * How good is an explanation? Deletion and insertion curves (Petsiuk, Das & Saenko, 2018,
 * arXiv:1806.07421), infidelity and max-sensitivity (Yeh et al., 2019, arXiv:1901.09392), the
 * model-randomisation sanity check (Adebayo et al., 2018, arXiv:1810.03292), and a random
 * attribution to compare any method with. Model evaluations run in GPU batches.
 */
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { sigmoid } from "../tensor/ops/elementwise.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import { slice } from "../tensor/ops/shape.ts";
import { Generator } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { resolveTarget, type Target, targetScores } from "./target.ts";
import { defaultBatchRows } from "./attribution.ts";

/** A random attribution shaped like x (uniform in [0, 1), seeded): the baseline every method should beat. */
export function randomAttribution(x: Tensor, seed = 0): Tensor {
  const g = new Generator(seed);
  return tensor(Float32Array.from({ length: x.size }, () => g.random()), x.shape);
}

/** Target scores (or probabilities) of many rows, in batches, on the CPU. */
async function evaluateRows(
  model: Module,
  rows: Float32Array,
  shape: readonly number[],
  index: Int32Array,
  probability: boolean,
  batch: number,
): Promise<Float64Array> {
  const D = shape.reduce((a, b) => a * b, 1), R = index.length;
  const out = new Float64Array(R);
  const restoreModes = model.enterEval();
  try {
    for (let s = 0; s < R; s += batch) {
      const e = Math.min(R, s + batch);
      const v = await scope(async () => {
        const x = tensor(rows.subarray(s * D, e * D), [e - s, ...shape]);
        const o = noGrad(() => model.forward(x));
        // one output is a binary classifier's logit: its probability is the sigmoid (as the dashboard shows it)
        const p = probability && o.ndim === 2
          ? noGrad(() => (o.shape[1] > 1 ? softmax(o, 1) : sigmoid(o)))
          : o;
        return await noGrad(() => targetScores(p, index.subarray(s, e))).toArray();
      });
      out.set(v, s);
    }
  } finally {
    restoreModes();
  }
  return out;
}

/** Options for `deletionCurve` and `insertionCurve`. */
export interface CurveOptions {
  /** The class whose score is followed (see `Target`). */
  target?: Target;
  /** What removed features become (default 0). */
  baseline?: number;
  /** Points on the curve after the start (default 20). */
  steps?: number;
  /** Follow the softmax probability (one output: its sigmoid) (default true) or the raw score. */
  probability?: boolean;
  /** Model inputs per batch. */
  internalBatchSize?: number;
}

/** A curve per example and its area (trapezoid rule over the fraction of features, 0 to 1). */
export interface Curve {
  /** Fractions of features removed (deletion) or inserted (insertion): steps + 1 points. */
  fractions: number[];
  /** scores[n][k]: example n's target score at fractions[k]. */
  scores: number[][];
  /** Area under each example's curve. */
  auc: number[];
  /** Mean area over the examples. */
  meanAuc: number;
}

async function curve(
  model: Module,
  x: Tensor,
  attributions: Tensor,
  insertion: boolean,
  o: CurveOptions,
): Promise<Curve> {
  if (attributions.size !== x.size) {
    throw new Error(
      `${
        insertion ? "insertion" : "deletion"
      }Curve: attributions [${attributions.shape}] do not match the input [${x.shape}]`,
    );
  }
  const op = insertion ? "insertionCurve" : "deletionCurve";
  const N = x.shape[0], D = N ? x.size / N : 0, S = o.steps ?? 20, base = o.baseline ?? 0;
  // each would make NaN fractions or scores: k/0, an empty mean, a NaN fill
  if (!Number.isInteger(S) || S < 1) throw new Error(`${op}: steps must be a positive integer, got ${S}`);
  if (!Number.isFinite(base)) throw new Error(`${op}: baseline must be a finite number, got ${base}`);
  if (N < 1 || D < 1) {
    throw new Error(`${op}: needs at least one example with at least one feature, got [${x.shape}]`);
  }
  const classes = scope(() => noGrad(() => model.forward(slice(x, 0, 1))).size);
  const table = await resolveTarget(op, o.target, N, classes);
  if (table.T !== 1) throw new Error("deletion and insertion curves take one target per example");
  const xs = await x.toArray(), as = await attributions.toArray();
  const bad = as.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${op}: attribution ${bad} is ${as[bad]}; the features cannot be ranked`);
  const rows = new Float32Array(N * (S + 1) * D);
  const index = new Int32Array(N * (S + 1));
  for (let n = 0; n < N; n++) {
    // most important first; ties by position
    const order = Array.from({ length: D }, (_, i) => i).sort((a, b) =>
      as[n * D + b] - as[n * D + a] || a - b
    );
    for (let k = 0; k <= S; k++) {
      const r = n * (S + 1) + k, changed = Math.round((k / S) * D);
      index[r] = table.index[n];
      const row = rows.subarray(r * D, (r + 1) * D);
      if (insertion) row.fill(base);
      else row.set(xs.subarray(n * D, (n + 1) * D));
      for (let j = 0; j < changed; j++) row[order[j]] = insertion ? xs[n * D + order[j]] : base;
    }
  }
  const v = await evaluateRows(
    model,
    rows,
    x.shape.slice(1),
    index,
    o.probability ?? true,
    defaultBatchRows(D, o.internalBatchSize),
  );
  const fractions = Array.from({ length: S + 1 }, (_, k) => k / S);
  const scores = Array.from({ length: N }, (_, n) => Array.from(v.subarray(n * (S + 1), (n + 1) * (S + 1))));
  const auc = scores.map((c) => c.reduce((a, y, k) => (k === 0 ? 0 : a + (y + c[k - 1]) / (2 * S)), 0));
  return { fractions, scores, auc, meanAuc: auc.reduce((a, b) => a + b, 0) / N };
}

/**
 * Deletion curve: remove the most important features first (set them to the baseline) and
 * follow the target's probability; a faithful attribution makes it fall fast (low AUC).
 *
 * @example
 * ```ts
 * import { deletionCurve, Linear, randn, Saliency } from "glassbox";
 * const model = new Linear(8, 3);
 * const x = randn([2, 8]);
 * const attr = await new Saliency(model).attribute(x, { target: 1 });
 * (await deletionCurve(model, x, attr, { target: 1, steps: 8 })).meanAuc;
 * ```
 */
export function deletionCurve(
  model: Module,
  x: Tensor,
  attributions: Tensor,
  options: CurveOptions = {},
): Promise<Curve> {
  return curve(model, x, attributions, false, options);
}

/**
 * Insertion curve: start from the baseline and insert the most important features first; a
 * faithful attribution makes the target's probability rise fast (high AUC).
 *
 * @example
 * ```ts
 * import { insertionCurve, Linear, randn, Saliency } from "glassbox";
 * const model = new Linear(8, 3);
 * const x = randn([2, 8]);
 * const attr = await new Saliency(model).attribute(x, { target: 1 });
 * (await insertionCurve(model, x, attr, { target: 1, steps: 8 })).meanAuc;
 * ```
 */
export function insertionCurve(
  model: Module,
  x: Tensor,
  attributions: Tensor,
  options: CurveOptions = {},
): Promise<Curve> {
  return curve(model, x, attributions, true, options);
}

/** Options for `infidelity`. */
export interface InfidelityOptions {
  /** The class explained. */
  target?: Target;
  /** Perturbations per example (default 10, as Captum's `n_perturb_samples`). */
  nPerturbSamples?: number;
  /** Standard deviation of the default Gaussian perturbations I (default 0.1; not used with `perturbFunc`). */
  noise?: number;
  /**
   * The perturbations I, as Captum's `perturb_func` returning its perturbations: given the inputs
   * with each example repeated `nPerturbSamples` times in a row ([N·S, ...]), the I of the same
   * shape; the perturbed input is x − I. Default: I ~ N(0, noise²) per feature.
   */
  perturbFunc?: (inputs: Tensor) => Tensor | Promise<Tensor>;
  /**
   * Scale the attributions by β = Σ_s (Iᵀattr)(F(x) − F(x − I)) / Σ_s (Iᵀattr)² first, so that the
   * score does not change with a constant scaling of the attributions (Captum's `normalize`;
   * default false).
   */
  normalize?: boolean;
  /** Seed of the default perturbations (default 0). */
  seed?: number;
  /** Model inputs per batch. */
  internalBatchSize?: number;
}

/**
 * Infidelity, as Captum's infidelity: the mean over perturbations I of
 * (Iᵀ·attr − (F(x) − F(x − I)))², per example (lower is better). For a linear model F(x) = w·x + b,
 * F(x) − F(x − I) = Iᵀw, so the gradient w scores 0 and attr scores ‖attr − w‖²·noise² in
 * expectation under the default I ~ N(0, noise²). Captum has no default perturbation; glassbox's
 * is Gaussian noise. Yeh, Hsieh, Suggala, Inouye & Ravikumar, 2019 (arXiv:1901.09392).
 *
 * @example
 * ```ts
 * import { infidelity, InputXGradient, Linear, randn, Saliency } from "glassbox";
 * const model = new Linear(4, 2);
 * const x = randn([3, 4]);
 * // the gradient of a linear model: w·I is exactly F(x) − F(x − I)
 * const grad = await new Saliency(model).attribute(x, { target: 0, abs: false });
 * const zero = await infidelity(model, x, grad, { target: 0 });
 * if (!zero.every((v) => v < 1e-9)) throw new Error(`${zero}`);
 * // Input×Gradient w ⊙ x is not: its infidelity is about 0.1²·‖w ⊙ x − w‖² per example
 * const ixg = await new InputXGradient(model).attribute(x, { target: 0 });
 * const some = await infidelity(model, x, ixg, { target: 0 });
 * if (!some.every((v) => v > 1e-6)) throw new Error(`${some}`);
 * ```
 */
export async function infidelity(
  model: Module,
  x: Tensor,
  attributions: Tensor,
  options: InfidelityOptions = {},
): Promise<number[]> {
  const N = x.shape[0], D = N ? x.size / N : 0, S = options.nPerturbSamples ?? 10, sd = options.noise ?? 0.1;
  if (!Number.isInteger(S) || S < 1) {
    throw new Error(`infidelity: nPerturbSamples must be a positive integer, got ${S}`);
  }
  if (!(sd > 0) || !Number.isFinite(sd)) {
    throw new Error(`infidelity: noise must be a positive number, got ${sd}`);
  }
  if (N < 1) throw new Error(`infidelity: needs at least one example, got [${x.shape}]`);
  if (attributions.size !== x.size) {
    throw new Error(`infidelity: attributions [${attributions.shape}] do not match the input [${x.shape}]`);
  }
  const classes = scope(() => noGrad(() => model.forward(slice(x, 0, 1))).size);
  const table = await resolveTarget("infidelity", options.target, N, classes);
  if (table.T !== 1) throw new Error("infidelity takes one target per example");
  const xs = await x.toArray(), as = await attributions.toArray();
  // the perturbations: row n·S + s is example n's s-th
  let perturb: Float32Array;
  if (options.perturbFunc) {
    const repeated = new Float32Array(N * S * D);
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) repeated.set(xs.subarray(n * D, (n + 1) * D), (n * S + s) * D);
    }
    const I = await scope(async () => {
      const t = await options.perturbFunc!(tensor(repeated, [N * S, ...x.shape.slice(1)]));
      if (t.size !== N * S * D) {
        throw new Error(
          `infidelity: perturbFunc returned [${t.shape}] for inputs [${N * S}, ${x.shape.slice(1)}]`,
        );
      }
      return await t.toArray();
    });
    perturb = Float32Array.from(I);
  } else {
    const g = new Generator(options.seed ?? 0);
    perturb = Float32Array.from({ length: N * S * D }, () => sd * g.normal());
  }
  const rows = new Float32Array(N * (S + 1) * D), index = new Int32Array(N * (S + 1));
  const dots = new Float64Array(N * S);
  for (let n = 0; n < N; n++) {
    index.fill(table.index[n], n * (S + 1), (n + 1) * (S + 1));
    rows.set(xs.subarray(n * D, (n + 1) * D), n * (S + 1) * D); // the unperturbed input first
    for (let s = 0; s < S; s++) {
      const o = (n * (S + 1) + s + 1) * D, p = (n * S + s) * D;
      let dot = 0;
      for (let i = 0; i < D; i++) {
        rows[o + i] = xs[n * D + i] - perturb[p + i];
        // the perturbation the model sees: x − (x − I) after float32 rounding of x − I
        dot += (xs[n * D + i] - rows[o + i]) * as[n * D + i];
      }
      dots[n * S + s] = dot;
    }
  }
  const f = await evaluateRows(
    model,
    rows,
    x.shape.slice(1),
    index,
    false,
    defaultBatchRows(D, options.internalBatchSize),
  );
  return Array.from({ length: N }, (_, n) => {
    // a = Iᵀattr and d = F(x) − F(x − I) per perturbation; with normalize, β = Σ a·d / Σ a² first
    const a = dots.subarray(n * S, (n + 1) * S);
    const d = Float64Array.from({ length: S }, (_, s) => f[n * (S + 1)] - f[n * (S + 1) + s + 1]);
    let beta = 1;
    if (options.normalize) {
      let aa = 0, ad = 0;
      for (let s = 0; s < S; s++) {
        aa += a[s] * a[s];
        ad += a[s] * d[s];
      }
      beta = ad / (aa || 1); // Captum's safe_div: a zero denominator counts as 1
    }
    // Σ (βa − d)² summed directly (Captum's expansion β²Σa² − 2βΣad + Σd² is the same number, but
    // cancels to a tiny negative one for a faithful attribution)
    let acc = 0;
    for (let s = 0; s < S; s++) acc += (beta * a[s] - d[s]) ** 2;
    return acc / S;
  });
}

/** An explanation function for `sensitivityMax`: attributions of a batch of inputs. */
export type ExplanationFunction = (x: Tensor) => Promise<Tensor>;

/**
 * Max-sensitivity: max over perturbations δ uniform in [−r, r] of ‖attr(x + δ) − attr(x)‖ /
 * ‖attr(x)‖ (Frobenius), per example, as Captum's sensitivity_max (r = 0.02, 10 samples).
 * Yeh et al., 2019 (arXiv:1901.09392).
 *
 * @example
 * ```ts
 * import { Linear, randn, Saliency, sensitivityMax } from "glassbox";
 * const sal = new Saliency(new Linear(4, 2));
 * await sensitivityMax((x) => sal.attribute(x, { target: 0 }), randn([2, 4])); // [0, 0]: a constant gradient
 * ```
 */
export async function sensitivityMax(
  explain: ExplanationFunction,
  x: Tensor,
  options: { nPerturbSamples?: number; radius?: number; seed?: number } = {},
): Promise<number[]> {
  const N = x.shape[0], D = x.size / N, S = options.nPerturbSamples ?? 10, r = options.radius ?? 0.02;
  if (!Number.isInteger(S) || S < 1) {
    throw new Error(`sensitivityMax: nPerturbSamples must be a positive integer, got ${S}`);
  }
  if (!(r >= 0) || !Number.isFinite(r)) {
    throw new Error(`sensitivityMax: radius must be a number >= 0, got ${r}`);
  }
  const g = new Generator(options.seed ?? 0);
  const base = await (await explain(x)).toArray();
  const xs = await x.toArray();
  const best = new Array(N).fill(0);
  for (let s = 0; s < S; s++) {
    const noisy = Float32Array.from(xs, (v) => v + r * (2 * g.random() - 1));
    const a = await scope(async () => await (await explain(tensor(noisy, x.shape))).toArray());
    for (let n = 0; n < N; n++) {
      let num = 0, den = 0;
      for (let i = 0; i < D; i++) {
        num += (a[n * D + i] - base[n * D + i]) ** 2;
        den += base[n * D + i] ** 2;
      }
      best[n] = Math.max(best[n], Math.sqrt(num) / (Math.sqrt(den) || 1));
    }
  }
  return best;
}

/** Spearman's rank correlation of two equally long arrays (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const rank = (v: ArrayLike<number>) => {
    const idx = Array.from({ length: v.length }, (_, i) => i).sort((p, q) => v[p] - v[q]);
    const r = new Float64Array(v.length);
    for (let i = 0; i < idx.length;) {
      let j = i;
      while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
      for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2;
      i = j + 1;
    }
    return r;
  };
  const ra = rank(a), rb = rank(b), n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n, mb = rb.reduce((s, v) => s + v, 0) / n;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i] - ma) * (rb[i] - mb);
    da += (ra[i] - ma) ** 2;
    db += (rb[i] - mb) ** 2;
  }
  return num / (Math.sqrt(da * db) || 1);
}

/** One step of the randomisation check. */
export interface RandomizationStep {
  /** The layer re-initialised at this step (cumulatively, from the output down); "original" first. */
  layer: string;
  /** Mean over examples of Spearman's correlation of |attr| with the original |attr|. */
  correlation: number;
}

/**
 * The model-randomisation sanity check (cascading): re-initialise the layers with parameters
 * from the output towards the input, one more at each step, and report how the attributions'
 * rank correlation with the original ones falls. A method whose maps do not change is not
 * explaining the model. The weights are restored afterwards. Adebayo et al., 2018
 * (arXiv:1810.03292).
 *
 * @example
 * ```ts
 * import { Linear, randn, ReLU, randomizationCheck, Saliency, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const steps = await randomizationCheck(model, (m, x) => new Saliency(m).attribute(x, { target: 0 }), randn([4, 4]));
 * ```
 */
export async function randomizationCheck(
  model: Module,
  explain: (model: Module, x: Tensor) => Promise<Tensor>,
  x: Tensor,
  options: { seed?: number } = {},
): Promise<RandomizationStep[]> {
  const saved = new Map<string, Float32Array>();
  const params = model.namedParameters();
  for (const [name, p] of params) saved.set(name, (await p.toArray()) as Float32Array);
  const g = new Generator(options.seed ?? 0);
  const N = x.shape[0];
  const corr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    const D = a.length / N;
    let s = 0;
    for (let n = 0; n < N; n++) {
      s += spearman(
        Array.from({ length: D }, (_, i) => Math.abs(a[n * D + i])),
        Array.from({ length: D }, (_, i) => Math.abs(b[n * D + i])),
      );
    }
    return s / N;
  };
  try {
    const original = await scope(async () => await (await explain(model, x)).toArray());
    const steps: RandomizationStep[] = [{ layer: "original", correlation: 1 }];
    const layers = model.namedModules().filter(([, m]) =>
      m.children().length === 0 && m.parameters().length > 0
    ).reverse();
    for (const [name, m] of layers) {
      // re-initialise like the weights' own scale: N(0, std of the original weights)
      scope(() => {
        const state: Record<string, Tensor> = {};
        for (const [pn, p] of m.namedParameters()) {
          const orig = saved.get(name ? `${name}.${pn}` : pn)!;
          const mean = orig.reduce((a, v) => a + v, 0) / orig.length;
          const std = Math.sqrt(orig.reduce((a, v) => a + (v - mean) ** 2, 0) / orig.length) || 0.01;
          state[pn] = tensor(Float32Array.from({ length: p.size }, () => std * g.normal()), p.shape);
        }
        m.loadStateDict(state, false);
      });
      const a = await scope(async () => await (await explain(model, x)).toArray());
      steps.push({ layer: `${name} ${m.typeName}`, correlation: corr(original, a) });
    }
    return steps;
  } finally {
    scope(() =>
      model.loadStateDict(
        new Map(params.map(([name, p]) => [name, tensor(saved.get(name)!, p.shape)])),
        false,
      )
    );
  }
}
