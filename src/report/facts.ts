/**
 * The numbers behind an explanation in words, computed for one prediction of an image
 * classifier: the prediction and runner-up, where the positive evidence lies in a 3×3 grid of
 * the image, whether several attribution methods agree (mean pairwise rank correlation), how
 * faithful the main attribution is (its deletion score against a random order), and which
 * caveats apply. The text (words.ts) is rendered from this structure and only from it.
 */
import { attributionMethod } from "../explain/methods.ts";
import { deletionCurve, randomAttribution, spearman } from "../explain/metrics.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { ConfusedPair } from "../diagnose/errors.ts";
import type { InputNovelty } from "./novelty.ts";

/** The 3×3 regions of an image, row by row. */
export const REGIONS = [
  "top-left",
  "top",
  "top-right",
  "left",
  "centre",
  "right",
  "bottom-left",
  "bottom",
  "bottom-right",
] as const;

/** A caveat that applies to a prediction, with the numbers that triggered it. */
export type Caveat =
  | { kind: "low-margin"; margin: number; threshold: number }
  | { kind: "unusual-input"; distance: number; threshold: number }
  | { kind: "known-confusion"; actual: number; predicted: number; count: number; rate: number }
  | { kind: "methods-disagree"; agreement: number; threshold: number }
  | { kind: "unfaithful"; deletionAuc: number; randomDeletionAuc: number };

/** Everything an explanation of one prediction may state. */
export interface PredictionFacts {
  /** The predicted class and its probability. */
  predicted: number;
  /** The predicted class's probability. */
  probability: number;
  /** The second most probable class and its probability. */
  runnerUp: number;
  /** The runner-up's probability. */
  runnerUpProbability: number;
  /** probability − runnerUpProbability. */
  margin: number;
  /** The true label, when known. */
  label?: number;
  /** The method whose map locates the evidence. */
  method: string;
  /** Share of the positive attribution in each 3×3 region (REGIONS order; sums to 1 when any is positive). */
  regionShares: number[];
  /** The regions by share, largest first (indices into REGIONS). */
  regionOrder: number[];
  /**
   * Mean pairwise Spearman correlation of the methods' |maps|, each pair's, and the scale the
   * text judges it by: below `scale.weak` weak, from `weak` to `strong` moderate, above `strong` strong.
   */
  agreement: {
    methods: string[];
    mean: number;
    pairs: { a: string; b: string; rho: number }[];
    scale: { weak: number; strong: number };
  };
  /** Deletion AUC of the main map and of a random order (probability of the predicted class; lower is more faithful). */
  deletionAuc: number;
  /** The deletion AUC of a random order, for comparison. */
  randomDeletionAuc: number;
  /** The input's novelty (distance to the nearest training class mean, and the training percentile it is judged by), when a reference was given. */
  novelty?: { distance: number; threshold: number; percentile: number };
  /** The caveats that apply, in a fixed order. */
  caveats: Caveat[];
}

/** How the text grades a rank correlation: below 0.3 weak, 0.3 to 0.7 moderate, above 0.7 strong. */
export const AGREEMENT_SCALE: { weak: number; strong: number } = { weak: 0.3, strong: 0.7 };

/** Options for `predictionFacts`. */
export interface PredictionFactsOptions {
  /** What removed pixels become, and IG's baseline (default 0). */
  baseline?: number;
  /** Integration steps of IG (default 32). */
  nSteps?: number;
  /** The true label, if known. */
  label?: number;
  /** A margin below this gets the low-confidence caveat (default 0.2). */
  lowMargin?: number;
  /** Mean rank correlation below this gets the disagreement caveat (default 0.3, `AGREEMENT_SCALE.weak`). */
  lowAgreement?: number;
  /**
   * The model's known confusions (e.g. `confusedPairs` on a test set). With a true label, a
   * mistake gets a caveat when its own confusion (label taken for the prediction) is known, and
   * a right prediction when the label is known to be taken for the runner-up; without a label,
   * a confusion between the prediction and the runner-up, either way round.
   */
  knownConfusions?: ConfusedPair[];
  /** A confusion counts as known from this many samples (default 5). */
  confusionCount?: number;
  /** A reference for how unlike the training data the input is. */
  novelty?: InputNovelty;
}

/** Shares of Σ max(a, 0) in each cell of a 3×3 grid over an H×W map. */
export function regionShares(map: ArrayLike<number>, h: number, w: number): number[] {
  const s = new Array(9).fill(0);
  let total = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.max(0, map[y * w + x]);
      s[Math.min(2, Math.floor((3 * y) / h)) * 3 + Math.min(2, Math.floor((3 * x) / w))] += v;
      total += v;
    }
  }
  return s.map((v) => (total > 0 ? v / total : 0));
}

/**
 * Computes the facts of one prediction for an image [1, C, H, W]: probabilities, Integrated
 * Gradients (the map that locates the evidence), Saliency and Input×Gradient (for agreement),
 * IG's deletion curve against a random order, and the caveats.
 *
 * @example
 * ```ts
 * import { createModel, predictionFacts, randn } from "glassbox";
 * const facts = await predictionFacts(createModel("seed-cnn"), randn([1, 1, 28, 28]));
 * facts.regionShares; // 9 shares of the positive evidence
 * ```
 */
export async function predictionFacts(
  model: Module,
  x: Tensor,
  options: PredictionFactsOptions = {},
): Promise<PredictionFacts> {
  if (x.ndim !== 4 || x.shape[0] !== 1) {
    throw new Error(`predictionFacts: expects one image [1, C, H, W], got ${x.describe()}`);
  }
  const [, , H, W] = x.shape;
  const baseline = options.baseline ?? 0;
  const restore = model.enterEval();
  try {
    const probs = await scope(async () =>
      Array.from(await noGrad(() => softmax(model.forward(x), -1)).toArray())
    );
    const order = probs.map((_, c) => c).sort((a, b) => probs[b] - probs[a] || a - b);
    const [predicted, runnerUp] = order;
    const target = [predicted];
    const maps: [string, Float32Array][] = [];
    // the registry's methods, on what this image says about the model: its shape, its outputs, the baseline
    const profile: ExplanationProfile = {
      modality: "image",
      inputShape: x.shape.slice(1),
      classes: probs.map((_, c) => String(c)),
      baseline,
    };
    for (const key of ["ig", "saliency", "inputxgradient"]) {
      const m = attributionMethod(key);
      maps.push([
        m.label,
        await scope(async () =>
          (await (await m.run(model, x, target, profile, { steps: options.nSteps ?? 32 }))
            .toArray()) as Float32Array
        ),
      ]);
    }
    // the evidence map: IG summed over channels
    const C = x.shape[1], ig = new Float64Array(H * W);
    for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) ig[i] += maps[0][1][c * H * W + i];
    const shares = regionShares(ig, H, W);
    const pairs: { a: string; b: string; rho: number }[] = [];
    for (let i = 0; i < maps.length; i++) {
      for (let j = i + 1; j < maps.length; j++) {
        // magnitudes: Saliency is unsigned, and agreement is about where the evidence is
        const abs = (v: Float32Array) => v.map(Math.abs);
        pairs.push({ a: maps[i][0], b: maps[j][0], rho: spearman(abs(maps[i][1]), abs(maps[j][1])) });
      }
    }
    const ok = pairs.filter((p) => Number.isFinite(p.rho));
    const agreement = ok.length ? ok.reduce((s, p) => s + p.rho, 0) / ok.length : NaN;
    const [del, rnd] = await scope(async () => {
      const igT = tensor(maps[0][1], [...x.shape]);
      const curveOpts = { target, baseline, steps: 20 };
      return [
        (await deletionCurve(model, x, igT, curveOpts)).meanAuc,
        (await deletionCurve(model, x, randomAttribution(x, 1), curveOpts)).meanAuc,
      ];
    });
    const margin = probs[predicted] - probs[runnerUp];
    const caveats: Caveat[] = [];
    const lowMargin = options.lowMargin ?? 0.2, lowAgreement = options.lowAgreement ?? AGREEMENT_SCALE.weak;
    if (margin < lowMargin) caveats.push({ kind: "low-margin", margin, threshold: lowMargin });
    let novelty: PredictionFacts["novelty"];
    if (options.novelty) {
      const distance = options.novelty.distance((await x.toArray()) as Float32Array);
      novelty = { distance, threshold: options.novelty.threshold, percentile: options.novelty.percentile };
      if (distance > options.novelty.threshold) {
        caveats.push({ kind: "unusual-input", distance, threshold: novelty.threshold });
      }
    }
    const minCount = options.confusionCount ?? 5;
    const label = options.label;
    for (const p of options.knownConfusions ?? []) {
      const involved = p.count >= minCount &&
        (label === undefined
          ? (p.predicted === predicted && p.actual === runnerUp) ||
            (p.actual === predicted && p.predicted === runnerUp)
          : label !== predicted
          ? p.actual === label && p.predicted === predicted
          : p.actual === label && p.predicted === runnerUp);
      if (involved) caveats.push({ kind: "known-confusion", ...p });
    }
    if (agreement < lowAgreement) {
      caveats.push({ kind: "methods-disagree", agreement, threshold: lowAgreement });
    }
    if (!(del < rnd)) caveats.push({ kind: "unfaithful", deletionAuc: del, randomDeletionAuc: rnd });
    return {
      predicted,
      probability: probs[predicted],
      runnerUp,
      runnerUpProbability: probs[runnerUp],
      margin,
      label: options.label,
      method: maps[0][0],
      regionShares: shares,
      regionOrder: shares.map((_, i) => i).sort((a, b) => shares[b] - shares[a] || a - b),
      agreement: { methods: maps.map(([n]) => n), mean: agreement, pairs, scale: { ...AGREEMENT_SCALE } },
      deletionAuc: del,
      randomDeletionAuc: rnd,
      novelty,
      caveats,
    };
  } finally {
    restore();
  }
}
