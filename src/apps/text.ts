/**
 * The text program (`deno task text`) as library code: train a `TextClassifier` to tell text
 * collections apart, measure it against a bag-of-words logistic regression on the same fixed
 * held-out split, and explain it token by token — LayerIntegratedGradients at the embedding
 * (baseline: the <pad> embedding at every position of the text), occlusion of each token, the
 * attention maps — and which words decided each class over the held-out set. Everything is
 * returned as data (numbers, SVG texts, a summary); the CLI reads the collections and writes
 * the files. No Deno API here.
 */
import {
  hashText,
  makeTextDataset,
  type TextCollection,
  type TextDataset,
  type TextSplit,
} from "../data/fortunes.ts";
import { ReadAllTokens, type TextClassifier } from "../models/text.ts";
import { createModel } from "../models/registry.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import { LayerIntegratedGradients } from "../explain/layer_integrated.ts";
import { captureAttention } from "../inspect/attention.ts";
import { Adam } from "../optim/adam.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { backward } from "../tensor/autograd.ts";
import { crossEntropy } from "../tensor/ops/loss.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { Generator, manualSeed } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { attentionGrid } from "../viz/attention.ts";
import { confusionMatrixChart } from "../viz/diagnosis.ts";
import { lineChart } from "../viz/svg.ts";
import { type ClassWords, tokenAttributionSvg, type TokenRow, topWordsSvg } from "../viz/text.ts";
import { type BagOfWords, predictBagOfWords, trainBagOfWords } from "./bag_of_words.ts";

/** Options for `runTextApp` (every field has a default; `quick` makes a small run). */
export interface TextAppOptions {
  /** A small run: fewer epochs, a narrower model, fewer explained examples. */
  quick?: boolean;
  /**
   * Most training epochs (default 12; quick 3); the model kept is the one of the epoch with the
   * best accuracy on a validation tenth of the training split (chosen by hash; never the held-out).
   */
  epochs?: number;
  /** Rows per training step (default 32). */
  batchSize?: number;
  /** Adam's learning rate (default 1e-3). */
  lr?: number;
  /** Seed of the initialisation and the shuffling (default 0); the split has its own, `splitSeed`. */
  seed?: number;
  /** Seed of the held-out split's hash (default 0). */
  splitSeed?: number;
  /** Model width (default 32; quick 16). */
  dModel?: number;
  /** Encoder layers (default 2; quick 1). */
  layers?: number;
  /** Tokens per text (default 64). */
  maxLen?: number;
  /** A word enters the vocabulary at this many training occurrences (default 2). */
  minCount?: number;
  /** Held-out examples explained token by token (default all; quick 24). */
  explainCount?: number;
  /** Integration steps of LayerIntegratedGradients (default 50, as Captum's; quick 16). */
  nSteps?: number;
  /** Words per class in "which words decided" (default 12). */
  topWords?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What a token-by-token explanation of one text gives. */
export interface TokenExplanation {
  /** The text's tokens as words (<unk> for words outside the vocabulary). */
  tokens: string[];
  /** Token ids. */
  ids: number[];
  /** The explained class (the predicted one). */
  target: number;
  /** LayerIntegratedGradients at the embedding, summed over the embedding's width, per token. */
  integratedGradients: number[];
  /** Σ attributions − (F(x) − F(baseline)): the completeness gap. */
  delta: number;
  /** F(x) − F(baseline) for the target logit. */
  gap: number;
  /**
   * Target logit of the text minus that of the text with the token set to <pad> in place (so
   * masked: the model reads the other tokens at their own positions).
   */
  occlusion: number[];
}

/** The summary a run writes (summary.json). */
export interface TextSummary {
  /** The collections, in class order, with their usable quotations (after dropping duplicates). */
  collections: { name: string; train: number; heldOut: number }[];
  /** The data set's sizes. */
  data: {
    train: number;
    heldOut: number;
    vocabulary: number;
    maxLen: number;
    truncated: number;
    dropped: TextDataset["dropped"];
    splitSeed: number;
  };
  /** The model's configuration and training. */
  model: {
    architecture: string;
    config: Record<string, number>;
    /** The most epochs. */
    epochs: number;
    /** The epoch whose model was kept (best validation accuracy). */
    keptEpoch: number;
    /** Rows of the training split trained on. */
    trainRows: number;
    /** Rows of the training split that chose the epoch. */
    validationRows: number;
    /** Seconds of training. */
    seconds: number;
    /** Mean training loss per epoch. */
    losses: number[];
    /** Validation accuracy per epoch. */
    validationAccuracy: number[];
  };
  /** Held-out accuracy of the transformer, the bag-of-words baseline and always saying the largest class. */
  accuracy: {
    transformer: number;
    bagOfWords: number;
    majorityClass: number;
    perClass: Record<string, number>;
  };
  /** Held-out confusion matrix of the transformer, [true][predicted]. */
  confusion: number[][];
  /** How the token explanations were made and how well they keep their promises. */
  explanations: {
    examples: number;
    nSteps: number;
    /** Largest |Σ IG − (F(x) − F(x′))| / max(1, |F(x) − F(x′)|) over the explained texts. */
    worstRelativeDelta: number;
    /** The median of the same. */
    medianRelativeDelta: number;
    /** How often IG's and occlusion's most important token are the same word. */
    topTokenAgreement: number;
  };
  /** Per class, the words with the largest total IG over the held-out texts predicted as that class. */
  wordsThatDecided: Record<string, { word: string; value: number }[]>;
  /** Per class, the baseline's largest weights. */
  baselineWords: Record<string, { word: string; value: number }[]>;
  /** Seconds for the whole run. */
  seconds: number;
}

/** What `runTextApp` returns: the files to write (name → text), the summary, the model and its profile. */
export interface TextAppResult {
  /** File name → contents (SVG, JSON, Markdown). */
  files: Map<string, string>;
  /** The summary (also in files as summary.json). */
  summary: TextSummary;
  /** The trained classifier (yours to dispose). */
  model: TextClassifier;
  /** Its explanation profile (to save with the checkpoint). */
  profile: ExplanationProfile;
  /** The data set. */
  data: TextDataset;
  /** The baseline. */
  baseline: BagOfWords;
  /** The explained held-out texts, in held-out order. */
  explained: TokenExplanation[];
}

/** Rows `rows` of a split as int32 ids [n, L], L the longest real length among them (at least 1). */
export function batchTokens(split: TextSplit, maxLen: number, rows: number[]): Tensor {
  const L = Math.max(1, ...rows.map((r) => split.lengths[r]));
  const ids = new Int32Array(rows.length * L);
  rows.forEach((r, k) => ids.set(split.tokens.subarray(r * maxLen, r * maxLen + L), k * L));
  return tensor(ids, [rows.length, L], { dtype: "int32" });
}

/**
 * Predictions (argmax) and class probabilities [n · classes] for rows `which` of a split (default
 * all), in batches of 128, eval mode.
 */
export async function predictTexts(
  model: TextClassifier,
  split: TextSplit,
  maxLen: number,
  which?: number[],
): Promise<{ predicted: Int32Array; probabilities: Float32Array }> {
  const restore = model.enterEval();
  const C = model.config.classes, all = which ?? [...split.labels.keys()], n = all.length;
  const predicted = new Int32Array(n), probabilities = new Float32Array(n * C);
  try {
    for (let s0 = 0; s0 < n; s0 += 128) {
      const rows = all.slice(s0, s0 + 128);
      const p = await scope(async () =>
        (await noGrad(() => softmax(model.forward(batchTokens(split, maxLen, rows)), -1))
          .toArray()) as Float32Array
      );
      probabilities.set(p, s0 * C);
      rows.forEach((_, k) => {
        let best = 0;
        for (let c = 1; c < C; c++) if (p[k * C + c] > p[k * C + best]) best = c;
        predicted[s0 + k] = best;
      });
    }
  } finally {
    restore();
  }
  return { predicted, probabilities };
}

/** Options for `explainTokens` and `explainTokenBatch`. */
export interface TokenExplainOptions {
  /** Token id → word. */
  vocabulary: string[];
  /** LayerIntegratedGradients' steps (default 32). */
  nSteps?: number;
  /**
   * What occlusion puts in a token's place: "pad" (default: <pad>, which the classifier masks, so
   * the token is gone) or "unk" (<unk>, id 1: an unknown word stands there).
   */
  replaceWith?: "pad" | "unk";
}

/**
 * Explains one text (ids without padding) token by token for class `target`: IG at the
 * embedding through `ReadAllTokens` (baseline: <pad> ids at every position, the input's mask —
 * none — kept, as Captum's text tutorials pass the mask to both), and occlusion (the target
 * logit of the text minus that of the text with the token set to <pad> in place, which the
 * classifier masks, the other tokens keeping their positions). The model should be in eval mode.
 *
 * @example
 * ```ts
 * import { explainTokens, TextClassifier } from "glassbox";
 * const model = new TextClassifier({ vocab: 12, classes: 3, dModel: 8, layers: 1 }).eval();
 * const e = await explainTokens(model, [4, 7, 9], 1, { vocabulary: Array.from({ length: 12 }, (_, i) => `w${i}`), nSteps: 64 });
 * const total = e.integratedGradients.reduce((a, b) => a + b, 0);
 * if (Math.abs(total - e.gap) > 1e-2 * Math.max(1, Math.abs(e.gap))) throw new Error(`IG is not complete: ${total} vs ${e.gap}`);
 * ```
 */
export async function explainTokens(
  model: TextClassifier,
  ids: number[],
  target: number,
  options: TokenExplainOptions,
): Promise<TokenExplanation> {
  return (await explainTokenBatch(model, [ids], [target], options))[0];
}

/**
 * `explainTokens` for several texts of the same length at once (one LayerIntegratedGradients
 * call, one batched occlusion pass): the same numbers, fewer passes.
 *
 * @example
 * ```ts
 * import { explainTokenBatch, explainTokens, TextClassifier } from "glassbox";
 * const model = new TextClassifier({ vocab: 12, classes: 3, dModel: 8, layers: 1 }).eval();
 * const vocabulary = Array.from({ length: 12 }, (_, i) => `w${i}`);
 * const [, b] = await explainTokenBatch(model, [[4, 7], [9, 2]], [0, 2], { vocabulary });
 * const alone = await explainTokens(model, [9, 2], 2, { vocabulary });
 * if (Math.abs(b.integratedGradients[1] - alone.integratedGradients[1]) > 1e-4) throw new Error("batching changed IG");
 * ```
 */
export async function explainTokenBatch(
  model: TextClassifier,
  texts: number[][],
  targets: number[],
  options: TokenExplainOptions,
): Promise<TokenExplanation[]> {
  const G = texts.length, L = texts[0]?.length ?? 0, C = model.config.classes;
  if (G === 0 || targets.length !== G) {
    throw new Error(`explainTokens: ${G} texts and ${targets.length} targets (one each, at least one)`);
  }
  for (const ids of texts) {
    if (ids.length !== L) {
      throw new Error(`explainTokenBatch: texts must have one length, got ${ids.length} and ${L}`);
    }
    if (L === 0 || ids.some((id) => !Number.isInteger(id) || id <= 0 || id >= model.config.vocab)) {
      throw new Error(
        `explainTokens: ids must be 1..${model.config.vocab - 1} (no <pad>), at least one, got [${
          ids.join(", ")
        }]`,
      );
    }
  }
  for (const t of targets) {
    if (!Number.isInteger(t) || t < 0 || t >= C) {
      throw new Error(`explainTokens: target ${t} is not in 0..${C - 1}`);
    }
  }
  const replaceWith = options.replaceWith ?? "pad";
  if (replaceWith !== "pad" && replaceWith !== "unk") {
    throw new Error(`explainTokens: replaceWith must be "pad" or "unk", got ${JSON.stringify(replaceWith)}`);
  }
  const fill = replaceWith === "pad" ? 0 : 1;
  const x = tensor(Int32Array.from(texts.flat()), [G, L], { dtype: "int32" });
  try {
    const lig = new LayerIntegratedGradients(new ReadAllTokens(model), model.embed);
    const { attributions, delta } = await lig.attributeWithDelta(x, {
      target: targets,
      baselines: 0,
      nSteps: options.nSteps ?? 32,
      internalBatchSize: 512,
    });
    const perToken = await scope(async () => await sum(attributions, 2).toArray());
    const d = await delta.toArray();
    attributions.dispose();
    delta.dispose();
    // occlusion: per text, row 0 the text, row j + 1 the text with token j set to <pad> (masked by the classifier)
    const rows = new Int32Array(G * (L + 1) * L);
    texts.forEach((ids, g) => {
      for (let r = 0; r <= L; r++) rows.set(ids, (g * (L + 1) + r) * L);
      for (let j = 0; j < L; j++) rows[(g * (L + 1) + j + 1) * L + j] = fill;
    });
    const R = G * (L + 1), logits = new Float32Array(R * C);
    for (let r0 = 0; r0 < R; r0 += 512) {
      const r1 = Math.min(R, r0 + 512);
      logits.set(
        await scope(async () =>
          await noGrad(() =>
            model.forward(tensor(rows.subarray(r0 * L, r1 * L), [r1 - r0, L], { dtype: "int32" }))
          )
            .toArray()
        ),
        r0 * C,
      );
    }
    return texts.map((ids, g) => {
      const target = targets[g], full = logits[g * (L + 1) * C + target];
      const ig = Array.from(perToken.subarray(g * L, (g + 1) * L));
      const total = ig.reduce((a, b) => a + b, 0);
      return {
        tokens: ids.map((id) => options.vocabulary[id] ?? `#${id}`),
        ids: [...ids],
        target,
        integratedGradients: ig,
        delta: d[g],
        gap: total - d[g],
        occlusion: Array.from({ length: L }, (_, j) => full - logits[(g * (L + 1) + j + 1) * C + target]),
      };
    });
  } finally {
    x.dispose();
  }
}

/** The majority class's share, accuracy and per-class accuracy of predictions. */
function score(labels: Int32Array, predicted: ArrayLike<number>, C: number) {
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (let i = 0; i < labels.length; i++) confusion[labels[i]][predicted[i]]++;
  const right = confusion.reduce((s, row, c) => s + row[c], 0);
  return { accuracy: right / Math.max(1, labels.length), confusion };
}

/** The ids of one row of a split, without padding. */
function rowIds(split: TextSplit, maxLen: number, r: number): number[] {
  return Array.from(split.tokens.subarray(r * maxLen, r * maxLen + split.lengths[r]));
}

/** Up to `per` held-out rows per class, correctly predicted first, short enough to read. */
function pickExamples(data: TextDataset, predicted: Int32Array, per: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < data.classes.length; c++) {
    const rows = [...data.test.labels.keys()].filter((r) =>
      data.test.labels[r] === c && data.test.lengths[r] >= 6
    );
    rows.sort((a, b) =>
      Number(predicted[b] === c) - Number(predicted[a] === c) ||
      Math.abs(data.test.lengths[a] - 16) - Math.abs(data.test.lengths[b] - 16) || a - b
    );
    out.push(...rows.slice(0, per));
  }
  return out;
}

/**
 * Trains, evaluates and explains (see the module comment). `collections` are the classes in
 * order, e.g. parsed fortune files. Returns the files to write and the numbers.
 *
 * @example
 * ```ts ignore
 * import { parseFortunes, runTextApp } from "glassbox";
 * const read = (n: string) => ({ name: n, texts: parseFortunes(Deno.readTextFileSync(`/usr/share/games/fortunes/${n}`)) });
 * const { summary } = await runTextApp(["computers", "startrek"].map(read), { quick: true });
 * console.log(summary.accuracy);
 * ```
 */
export async function runTextApp(
  collections: TextCollection[],
  options: TextAppOptions = {},
): Promise<TextAppResult> {
  const t0 = performance.now();
  const quick = options.quick ?? false, log = options.log ?? (() => {});
  const seed = options.seed ?? 0, splitSeed = options.splitSeed ?? 0;
  const epochs = options.epochs ?? (quick ? 3 : 12), batchSize = options.batchSize ?? 32;
  const maxLen = options.maxLen ?? 64, nSteps = options.nSteps ?? (quick ? 16 : 50);
  const data = makeTextDataset(collections, { seed: splitSeed, maxLen, minCount: options.minCount ?? 2 });
  const C = data.classes.length, V = data.vocabulary.length;
  log(
    `data: ${data.train.count} training and ${data.test.count} held-out texts in ${C} classes (${
      data.classes.join(", ")
    }); vocabulary ${V} words`,
  );

  // the baseline: every word of each text (not truncated)
  const index = new Map(data.vocabulary.map((w, i) => [w, i]));
  const idsOf = (words: string[]) => words.map((w) => index.get(w) ?? 1);
  const baseline = trainBagOfWords(data.train.words.map(idsOf), data.train.labels, V, C);
  const bowPred = predictBagOfWords(baseline, data.test.words.map(idsOf)).probabilities
    .map((p) => p.indexOf(Math.max(...p)));
  const bow = score(data.test.labels, bowPred, C);
  log(`bag-of-words logistic regression: held-out accuracy ${(100 * bow.accuracy).toFixed(1)}%`);

  // the transformer
  manualSeed(seed);
  const config = {
    vocab: V,
    classes: C,
    dModel: options.dModel ?? (quick ? 16 : 32),
    nhead: 2,
    layers: options.layers ?? (quick ? 1 : 2),
    maxLen,
    dropout: 0.1,
  };
  const model = createModel("text-classifier", config) as TextClassifier;
  const opt = new Adam(model.parameters(), { lr: options.lr ?? 3e-3 });
  const g = new Generator(seed + 1);
  const losses: number[] = [], validation: number[] = [];
  // a validation tenth of the training split, by a hash with another seed, picks the epoch to keep
  const trainRows: number[] = [], valRows: number[] = [];
  data.train.words.forEach((w, r) =>
    (hashText(w.join(" "), splitSeed + 1) < 0.1 * 2 ** 32 ? valRows : trainRows).push(r)
  );
  let best = {
    epoch: 0,
    accuracy: -1,
    state: new Map<string, { data: Float32Array | Int32Array; shape: number[] }>(),
  };
  const tTrain = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    const shuffle = <T>(a: T[]) => {
      for (let i = a.length - 1; i > 0; i--) {
        const j = g.int(i + 1);
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    };
    // batches of texts of about the same length (shuffled, sorted by length within windows of
    // 8 batches, the batches shuffled), so a batch is as long as its longest text, not maxLen
    const order = shuffle([...trainRows]), window = 8 * batchSize;
    const batchList: number[][] = [];
    for (let w0 = 0; w0 < order.length; w0 += window) {
      const w = order.slice(w0, w0 + window).sort((a, b) => data.train.lengths[a] - data.train.lengths[b]);
      for (let s0 = 0; s0 < w.length; s0 += batchSize) batchList.push(w.slice(s0, s0 + batchSize));
    }
    let total = 0, batches = 0;
    for (const rows of shuffle(batchList)) {
      total += await scope(async () => {
        opt.zeroGrad();
        const y = tensor(Int32Array.from(rows.map((r) => data.train.labels[r])), [rows.length], {
          dtype: "int32",
        });
        const l = crossEntropy(model.forward(batchTokens(data.train, maxLen, rows)), y);
        await backward(l);
        opt.step();
        return await l.item();
      });
      batches++;
    }
    losses.push(total / batches);
    const val = await predictTexts(model, data.train, maxLen, valRows);
    const acc = valRows.filter((r, k) => val.predicted[k] === data.train.labels[r]).length /
      Math.max(1, valRows.length);
    validation.push(acc);
    if (acc > best.accuracy) {
      const state = new Map<string, { data: Float32Array | Int32Array; shape: number[] }>();
      for (const [k, t] of model.stateDict()) state.set(k, { data: await t.toArray(), shape: [...t.shape] });
      best = { epoch, accuracy: acc, state };
    }
    log(
      `epoch ${epoch}/${epochs}  loss ${(total / batches).toFixed(4)}  validation accuracy ${
        (100 * acc).toFixed(1)
      }%  (${((performance.now() - tTrain) / 1000).toFixed(1)} s)`,
    );
  }
  scope(() =>
    noGrad(() =>
      model.loadStateDict(
        Object.fromEntries(
          [...best.state].map(([k, v]) => [
            k,
            tensor(v.data, v.shape, { dtype: v.data instanceof Int32Array ? "int32" : "float32" }),
          ]),
        ),
      )
    )
  );
  log(`kept the model of epoch ${best.epoch} (validation accuracy ${(100 * best.accuracy).toFixed(1)}%)`);
  const trainSeconds = (performance.now() - tTrain) / 1000;
  model.eval();
  const { predicted } = await predictTexts(model, data.test, maxLen);
  const tr = score(data.test.labels, predicted, C);
  log(`transformer: held-out accuracy ${(100 * tr.accuracy).toFixed(1)}%`);
  const classCounts = data.classes.map((_, c) => data.test.labels.filter((l) => l === c).length);
  const majority = Math.max(...classCounts) / Math.max(1, data.test.count);

  // token-by-token explanations of held-out texts, for the predicted class
  const count = Math.min(data.test.count, options.explainCount ?? (quick ? 24 : data.test.count));
  // a fixed spread over the held-out set (every k-th text), so a short run still sees every class
  const chosen = Array.from({ length: count }, (_, k) => Math.floor((k * data.test.count) / count));
  const shown = pickExamples(data, predicted, 2);
  const wanted = [...new Set([...chosen, ...shown])].sort((a, b) => a - b);
  const explainedBy = new Map<number, TokenExplanation>();
  const tExplain = performance.now();
  // texts of one length go through together (no padding is needed, so none is read)
  const byLength = new Map<number, number[]>();
  for (const r of wanted) {
    byLength.set(data.test.lengths[r], [...(byLength.get(data.test.lengths[r]) ?? []), r]);
  }
  let done = 0, reported = 0;
  for (const [, rows] of [...byLength].sort((a, b) => a[0] - b[0])) {
    for (let k0 = 0; k0 < rows.length; k0 += 64) {
      const part = rows.slice(k0, k0 + 64);
      const es = await explainTokenBatch(
        model,
        part.map((r) => rowIds(data.test, maxLen, r)),
        part.map((r) => predicted[r]),
        { vocabulary: data.vocabulary, nSteps },
      );
      part.forEach((r, k) => explainedBy.set(r, es[k]));
      done += part.length;
    }
    if (done - reported >= 50 || done === wanted.length) {
      reported = done;
      log(
        `explained ${done}/${wanted.length} held-out texts (${
          ((performance.now() - tExplain) / 1000).toFixed(1)
        } s)`,
      );
    }
  }
  const explained = chosen.map((r) => explainedBy.get(r)!);
  let worst = 0, agree = 0;
  const relative = explained.map((e) => Math.abs(e.delta) / Math.max(1, Math.abs(e.gap))).sort((a, b) =>
    a - b
  );
  const median = relative.length ? relative[Math.floor((relative.length - 1) / 2)] : 0;
  for (const e of explained) {
    worst = Math.max(worst, Math.abs(e.delta) / Math.max(1, Math.abs(e.gap)));
    const top = (v: number[]) => v.indexOf(Math.max(...v));
    agree += e.tokens[top(e.integratedGradients)] === e.tokens[top(e.occlusion)] ? 1 : 0;
  }
  const topK = options.topWords ?? 12;
  const decided: ClassWords[] = data.classes.map((name, c) => {
    const totals = new Map<string, number>();
    for (const e of explained) {
      if (e.target !== c) continue;
      e.tokens.forEach((t, i) => totals.set(t, (totals.get(t) ?? 0) + e.integratedGradients[i]));
    }
    const words = [...totals].map(([word, value]) => ({ word, value }))
      .sort((a, b) => b.value - a.value || (a.word < b.word ? -1 : 1)).slice(0, topK);
    return { name, words };
  });
  const baselineWords: ClassWords[] = data.classes.map((name, c) => ({
    name,
    words: data.vocabulary.map((word, id) => ({ word, value: baseline.weights[id * C + c] }))
      .filter((w) => w.word !== "<pad>").sort((a, b) => b.value - a.value).slice(0, topK),
  }));

  // pictures
  const files = new Map<string, string>();
  const rowsFor = (pick: (e: TokenExplanation) => number[]): TokenRow[] =>
    shown.map((r) => {
      const e = explainedBy.get(r)!;
      return {
        caption: `people's class: ${data.classes[data.test.labels[r]]} · model: ${data.classes[e.target]}`,
        tokens: e.tokens,
        values: pick(e),
      };
    });
  files.set(
    "tokens_ig.svg",
    tokenAttributionSvg(
      rowsFor((e) => e.integratedGradients),
      "Integrated gradients per token, for the class the model chose",
      [
        `LayerIntegratedGradients at the embedding, ${nSteps} steps, baseline: the <pad> embedding at every position; summed over the embedding.`,
        "Held-out quotations, two per class; <unk> is a word the training split had fewer than 2 times.",
      ],
    ),
  );
  files.set(
    "tokens_occlusion.svg",
    tokenAttributionSvg(
      rowsFor((e) => e.occlusion),
      "Occlusion per token: how much the chosen class's score drops when the token is masked",
      ["Each token in turn set to <pad> in place (the classifier masks it; the others keep their positions); red: the score drops."],
    ),
  );
  files.set(
    "words.svg",
    topWordsSvg(decided, "Which words decided: total integrated gradients over the held-out texts", [
      `Per class: the words with the largest total attribution over the ${explained.length} held-out texts the model assigned to that class.`,
    ]),
  );
  files.set(
    "baseline_words.svg",
    topWordsSvg(baselineWords, "The bag-of-words baseline's largest weights per class", [
      "Multinomial logistic regression on tf-idf; a word's weight for a class.",
    ]),
  );
  const first = shown.find((r) => predicted[r] === data.test.labels[r] && data.test.lengths[r] <= 16) ??
    shown[0];
  if (first !== undefined) {
    const ids = rowIds(data.test, maxLen, first);
    const caps = await captureAttention(
      model,
      tensor(Int32Array.from(ids), [1, ids.length], { dtype: "int32" }),
    );
    const panels = [];
    for (const cap of caps) {
      const [, H, Lq, S] = cap.weights.shape;
      const w = await cap.weights.toArray();
      cap.weights.dispose();
      panels.push(Array.from({ length: H }, (_, h) => ({
        title: `layer ${cap.layer.split(".").at(-2)} · head ${h}`,
        weights: Array.from(
          { length: Lq },
          (_, q) => Array.from(w.subarray((h * Lq + q) * S, (h * Lq + q + 1) * S)),
        ),
      })));
    }
    const words = ids.map((id) => data.vocabulary[id]);
    files.set(
      "attention.svg",
      attentionGrid(
        panels,
        words,
        words,
        `Attention on a held-out ${data.classes[data.test.labels[first]]} quotation`,
        "rows: queries, columns: keys",
      ),
    );
  }
  files.set(
    "confusion.svg",
    confusionMatrixChart(tr.confusion, {
      title: "Transformer on the held-out split",
      classNames: data.classes,
    }),
  );
  files.set(
    "loss.svg",
    lineChart([
      { name: "training loss", points: losses.map((l, i) => [i + 1, l]) },
      { name: "validation accuracy", points: validation.map((a, i) => [i + 1, a]) },
    ], {
      title: "Training of the text classifier",
      xLabel: "epoch",
      yLabel: "mean cross-entropy / accuracy (0–1)",
      integerX: true,
    }),
  );

  const perClass: Record<string, number> = {};
  data.classes.forEach((name, c) => (perClass[name] = tr.confusion[c][c] / Math.max(1, classCounts[c])));
  const summary: TextSummary = {
    collections: data.classes.map((name, c) => ({
      name,
      train: data.train.labels.filter((l) => l === c).length,
      heldOut: classCounts[c],
    })),
    data: {
      train: data.train.count,
      heldOut: data.test.count,
      vocabulary: V,
      maxLen,
      truncated: [...data.train.words, ...data.test.words].filter((w) => w.length > maxLen).length,
      dropped: data.dropped,
      splitSeed,
    },
    model: {
      architecture: "text-classifier",
      config,
      epochs,
      keptEpoch: best.epoch,
      trainRows: trainRows.length,
      validationRows: valRows.length,
      seconds: trainSeconds,
      losses,
      validationAccuracy: validation,
    },
    accuracy: { transformer: tr.accuracy, bagOfWords: bow.accuracy, majorityClass: majority, perClass },
    confusion: tr.confusion,
    explanations: {
      examples: explained.length,
      nSteps,
      worstRelativeDelta: worst,
      medianRelativeDelta: median,
      topTokenAgreement: agree / Math.max(1, explained.length),
    },
    wordsThatDecided: Object.fromEntries(decided.map((d) => [d.name, d.words])),
    baselineWords: Object.fromEntries(baselineWords.map((d) => [d.name, d.words])),
    seconds: (performance.now() - t0) / 1000,
  };
  files.set("summary.json", JSON.stringify(summary, null, 2) + "\n");
  files.set("README.md", textReadme(summary));
  return {
    files,
    summary,
    model,
    profile: model.profile(maxLen, data.classes, data.vocabulary),
    data,
    baseline,
    explained,
  };
}

/** The run's summary in words (out/text/README.md). */
export function textReadme(s: TextSummary): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const lines = [
    "# Telling fortune collections apart",
    "",
    `Quotations from Debian's \`fortunes\` package, in the collections ${
      s.collections.map((c) => `**${c.name}**`).join(", ")
    }. People sorted the quotations into these collections; glassbox only learns to tell them apart.`,
    `Held-out split fixed by a hash of each quotation's words (seed ${s.data.splitSeed}): ${s.data.train} training and ${s.data.heldOut} held-out quotations; attributions (the "-- author" lines) removed; vocabulary of ${s.data.vocabulary} words from the training split only.`,
    `The transformer (${s.model.config.layers} encoder layers, width ${s.model.config.dModel}) trained on ${s.model.trainRows} of the training quotations for up to ${s.model.epochs} epochs; the model of epoch ${s.model.keptEpoch} was kept, the best on the other ${s.model.validationRows} (a validation tenth chosen by hash). The baseline trained on the whole training split.`,
    "",
    "| class | training | held-out | transformer accuracy |",
    "|---|---:|---:|---:|",
    ...s.collections.map((c) =>
      `| ${c.name} | ${c.train} | ${c.heldOut} | ${pct(s.accuracy.perClass[c.name])} |`
    ),
    "",
    `Held-out accuracy: transformer **${pct(s.accuracy.transformer)}**, bag-of-words logistic regression **${
      pct(s.accuracy.bagOfWords)
    }**, always the largest class ${pct(s.accuracy.majorityClass)}.`,
    "",
    `Token explanations of ${s.explanations.examples} held-out quotations: integrated gradients (${s.explanations.nSteps} steps) sum to F(x) − F(baseline) within ${
      pct(s.explanations.medianRelativeDelta)
    } (relative to max(1, |F(x) − F(baseline)|); median; worst ${
      pct(s.explanations.worstRelativeDelta)
    }); integrated gradients and occlusion agree on the most important word in ${
      pct(s.explanations.topTokenAgreement)
    } of them.`,
    "",
    "## Which words decided",
    "",
    ...s.collections.map((c) =>
      `- **${c.name}**: ${s.wordsThatDecided[c.name].map((w) => w.word).join(", ")}`
    ),
    "",
    "The baseline's largest weights, for comparison:",
    "",
    ...s.collections.map((c) => `- **${c.name}**: ${s.baselineWords[c.name].map((w) => w.word).join(", ")}`),
    "",
    "Files: tokens_ig.svg, tokens_occlusion.svg (each token coloured by its attribution), words.svg, baseline_words.svg, attention.svg, confusion.svg, loss.svg, summary.json, model.safetensors (with its explanation profile).",
    "",
  ];
  return lines.join("\n");
}
