/**
 * The compression study as library code, for any classifier with an explanation profile:
 * magnitude pruning (one-shot curve and gradual with fine-tuning), filter pruning of a conv,
 * int8 after training (min-max and percentile calibration), int8 after quantization-aware
 * training and distillation into the zoo's student for the architecture; for each variant its
 * parameters, file size, test accuracy, inference time and how far its explanations moved
 * (Integrated Gradients, and the CAM at the profile's layer for image models). A compression
 * that does not apply to the model (no Conv2d, not a Sequential, no student) is skipped with a
 * note. Everything is returned as data — summary, markdown, SVGs and model files — and nothing
 * is written here; everything model-specific (input shape, classes, CAM layer, baseline,
 * wording) comes from the profile.
 */
import { distill } from "../compress/distill.ts";
import { explanationDrift } from "../compress/drift.ts";
import { fakeQuantModel } from "../compress/fake_quant.ts";
import { encodeQuantizedModel } from "../compress/save.ts";
import { int8DotPath } from "../tensor/mod.ts";
import {
  iterativePrune,
  magnitudePrune,
  prunableWeights,
  type Pruning,
  sparsityTable,
} from "../compress/prune.ts";
import { quantizeModel } from "../compress/quantize_model.ts";
import { pruneFilters } from "../compress/structured.ts";
import type { CompressSummary, SparsityPoint, VariantSummary } from "../compress/summary.ts";
import { attributionMethod } from "../explain/methods.ts";
import { decodeSafetensors } from "../io/safetensors.ts";
import { cloneModel } from "../models/clone.ts";
import { encodeModel } from "../models/persist.ts";
import { type ExplanationProfile, validateProfile } from "../models/profile.ts";
import { createModel, modelSpec } from "../models/registry.ts";
import { Conv2d } from "../nn/conv.ts";
import { type Dataset, evaluate, predict } from "../nn/evaluate.ts";
import { fit } from "../nn/fit.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { Adam } from "../optim/adam.ts";
import { tensor } from "../tensor/create.ts";
import { adapterInfo, noGrad } from "../tensor/mod.ts";
import { manualSeed } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { attributionGrid, type InputRow } from "../viz/attribution.ts";
import { barChart, gridOfCharts, histogramChart, lineChart } from "../viz/svg.ts";
import type { OutputFile } from "./explain.ts";

/** The study's data: training examples (fine-tuning, calibration, distillation) and test examples. */
export interface CompressData {
  /** Training examples of the profile's input shape, with class labels. */
  train: Dataset;
  /** Test examples: accuracy, timing and the explained examples. */
  test: Dataset;
}

/** Options of `compressStudy`; every one has a default. */
export interface CompressOptions {
  /** Fine-tuning steps (batch 64) per pruning level, for filter pruning and for QAT (default 300). */
  steps?: number;
  /** Sparsities of gradual pruning with fine-tuning, in order (default 0.5, 0.8, 0.9). */
  levels?: number[];
  /** Sparsities of the one-shot curve (default 0.3 … 0.98; the levels are added). */
  curve?: number[];
  /** Fraction of the conv's filters removed by filter pruning (default 0.5). */
  filterAmount?: number;
  /** Training examples int8 calibration looks at (default 512). */
  calibrationSamples?: number;
  /** The student to distil into: a function building it, or null for none (default: the zoo's student for the architecture, if any). */
  student?: (() => Module) | null;
  /** Training examples both students learn from (default 12000, at most the training set). */
  distillImages?: number;
  /** Epochs of the distilled student and of the student alone (default 2). */
  distillEpochs?: number;
  /** Distillation temperature (default 4). */
  temperature?: number;
  /** Weight of the teacher's soft targets, 1 − alpha on the labels (default 0.5). */
  alpha?: number;
  /** Test examples whose explanations are compared (default 16). */
  explain?: number;
  /** Test examples accuracy is measured on (default: all of the test set). */
  testExamples?: number;
  /** Examples in the timed batch (default 256, at most the test examples). */
  timingBatch?: number;
  /** Timed repetitions, the median is reported (default 5). */
  timingReps?: number;
  /** Seed of shuffling and of the students' initialisation (default 0). */
  seed?: number;
  /** What the test data are called in the summary (default by modality: "test images", "test rows"). */
  dataName?: string;
  /** What the model is called in the summary's title (default the checkpoint's path, else "the model"). */
  modelName?: string;
  /** The checkpoint's path and sha256, recorded in summary.json (the report matches a study to its checkpoint by the hash). */
  about?: { checkpoint?: string; checkpointSha256?: string };
  /** Put before each variant's file name in summary.json (default "": "models/x.safetensors", relative to the study's directory). */
  filePrefix?: string;
}

/** A compression the study did not run on this model, and why. */
export interface SkippedVariant {
  /** The variant (or family of variants). */
  variant: string;
  /** Why it does not apply. */
  reason: string;
}

/** What `compressStudy` returns. */
export interface CompressResult {
  /** What summary.json holds (also among `files`). */
  summary: CompressSummary;
  /** The variants that were skipped, with the reason (also in summary.md and summary.json). */
  skipped: SkippedVariant[];
  /** The markdown table alone. */
  table: string;
  /** summary.md, summary.json, the SVGs and models/*.safetensors. */
  files: OutputFile[];
}

interface Variant {
  summary: VariantSummary;
  /** What runs for accuracy and timing. */
  model: Module;
  /** What the attributions are computed on (the float twin for int8 models). */
  explainModel: Module;
}

interface Maps {
  ig: { shape: number[]; data: Float32Array };
  cam?: { shape: number[]; data: Float32Array };
  camUp?: Float32Array;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

async function countParams(model: Module): Promise<{ params: number; nonzero: number }> {
  const { total } = await sparsityTable(model);
  return { params: total.params, nonzero: total.params - total.zeros };
}

async function inferenceMs(model: Module, x: Tensor, reps: number): Promise<number> {
  const restore = model.enterEval();
  const run = async () => await scope(async () => await noGrad(() => model.forward(x)).toArray());
  try {
    for (let i = 0; i < Math.min(2, reps); i++) await run();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      await run();
      t.push(performance.now() - s);
    }
    return t.sort((a, b) => a - b)[Math.floor(reps / 2)];
  } finally {
    restore();
  }
}

/** The zoo's student for a teacher's architecture: the same layout, smaller (only the seed CNN has one). */
function zooStudent(teacher: Module, profile: ExplanationProfile): (() => Module) | undefined {
  const spec = modelSpec(teacher);
  if (spec?.architecture === "seed-cnn") {
    return () => createModel("student-cnn", { classes: profile.classes.length });
  }
  return undefined;
}

/** Examples n0 … n1 − 1 of a data set. */
function slice(d: Dataset, n0: number, n1: number): Dataset {
  const per = size(d.sampleShape);
  return { x: d.x.subarray(n0 * per, n1 * per), y: d.y.subarray(n0, n1), sampleShape: d.sampleShape };
}

function checkData(what: string, d: Dataset, profile: ExplanationProfile): void {
  if (d.sampleShape.join() !== profile.inputShape.join()) {
    throw new Error(
      `compress: the ${what} examples are [${d.sampleShape.join(", ")}], the profile's input is [${
        profile.inputShape.join(", ")
      }]`,
    );
  }
  if (d.y.length === 0) throw new Error(`compress: the ${what} set is empty`);
  if (d.x.length !== d.y.length * size(d.sampleShape)) {
    throw new Error(
      `compress: the ${what} set has ${d.y.length} labels but ${d.x.length} values (${
        size(d.sampleShape)
      } per example)`,
    );
  }
  const K = profile.classes.length;
  const bad = d.y.findIndex((c) => !(Number.isInteger(c) && c >= 0 && c < K));
  if (bad >= 0) {
    throw new Error(
      `compress: ${what} label ${bad} is ${d.y[bad]}, the profile names ${K} classes (0 … ${K - 1})`,
    );
  }
}

/**
 * A data set from a safetensors file's bytes: tensor "x" (F32, [N, ...the profile's input
 * shape]) and tensor "y" (I32 class indices, [N]); anything else is an error naming the file
 * and what is wrong.
 *
 * @example
 * ```ts
 * import { datasetFromSafetensors, encodeSafetensors } from "glassbox";
 * const bytes = encodeSafetensors([
 *   ["x", { dtype: "F32", shape: [2, 3], data: new Float32Array(6) }],
 *   ["y", { dtype: "I32", shape: [2], data: Int32Array.from([0, 1]) }],
 * ]);
 * const profile = { modality: "tabular" as const, inputShape: [3], classes: ["a", "b"] };
 * if (datasetFromSafetensors(bytes, profile, "d.safetensors").y[1] !== 1) throw new Error("lost a label");
 * let message = "";
 * try { datasetFromSafetensors(bytes, { ...profile, inputShape: [4] }, "d.safetensors"); } catch (e) { message = (e as Error).message; }
 * if (!message.includes("[N, 4]")) throw new Error(message);
 * ```
 */
export function datasetFromSafetensors(
  bytes: Uint8Array,
  profile: ExplanationProfile,
  name = "data",
): Dataset {
  const { tensors } = decodeSafetensors(bytes, name);
  const x = tensors.get("x"), y = tensors.get("y");
  if (!x || !y) {
    throw new Error(
      `${name}: needs tensors "x" and "y", it has ${
        [...tensors.keys()].map((k) => `"${k}"`).join(", ") || "none"
      }`,
    );
  }
  if (x.dtype !== "F32" || y.dtype !== "I32") {
    throw new Error(`${name}: "x" must be F32 and "y" I32 (class indices), got ${x.dtype} and ${y.dtype}`);
  }
  const want = profile.inputShape.join(", ");
  if (x.shape.slice(1).join(", ") !== want || y.shape.length !== 1 || y.shape[0] !== x.shape[0]) {
    throw new Error(
      `${name}: "x" must be [N, ${want}] and "y" [N] for the model's profile, got [${
        x.shape.join(", ")
      }] and [${y.shape.join(", ")}]`,
    );
  }
  return { x: x.data as Float32Array, y: y.data as Int32Array, sampleShape: [...profile.inputShape] };
}

/** One plane per example for the pictures: the sum over channels (Captum's "all"). */
function planes(a: Float32Array, N: number, plane: number): Float32Array[] {
  const per = a.length / N;
  return Array.from({ length: N }, (_, n) => {
    const out = new Float32Array(plane);
    for (let c = 0; c < per / plane; c++) {
      for (let i = 0; i < plane; i++) out[i] += a[n * per + c * plane + i];
    }
    return out;
  });
}

/**
 * The input row of a picture: a grey image for one channel; for three, the colour image with
 * the profile's normalisation undone (else each example's min to max) and its channel mean.
 */
function inputRow(x: Float32Array, profile: ExplanationProfile, caption: string): InputRow {
  const [C, H, W] = profile.inputShape, plane = H * W;
  if (C === 1) return { image: x, caption };
  const raw = new Float32Array(x.length);
  let lo = Infinity, hi = -Infinity;
  for (const v of x) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / plane);
    raw[i] = profile.mean && profile.std
      ? x[i] * profile.std[c] + profile.mean[c]
      : hi > lo
      ? (x[i] - lo) / (hi - lo)
      : 0;
  }
  const grey = new Float32Array(plane);
  for (let i = 0; i < raw.length; i++) grey[i % plane] += raw[i] / C;
  return C === 3 ? { image: grey, rgb: raw, caption } : { image: grey, caption };
}

/** Planes of h × w values drawn k times larger (each value a k × k block), so small inputs get readable columns. */
function enlarge(values: ArrayLike<number>, h: number, w: number, k: number): Float32Array {
  const planes = values.length / (h * w), out = new Float32Array(values.length * k * k);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < h * k; y++) {
      for (let x = 0; x < w * k; x++) {
        out[p * h * w * k * k + y * w * k + x] =
          values[p * h * w + Math.floor(y / k) * w + Math.floor(x / k)];
      }
    }
  }
  return out;
}

const camLayer0 = (p: ExplanationProfile) => (p.modality === "image" ? p.camLayer : undefined);

const short = (name: string) =>
  name.replace(" (float32)", "").replace("percentile 99.99", "pctl").replace(/ \(conv \d+\)/, "")
    .replace("student, ", "student ");

/**
 * Runs the compression study on `model` (a classifier whose outputs are the profile's classes)
 * and returns the summary, the table, and every file to write: summary.md, summary.json,
 * accuracy_vs_sparsity.svg, weight_histograms.svg, drift_integrated_gradients.svg,
 * drift_gradcam.svg (image models with a CAM layer) and models/*.safetensors (each variant,
 * with the profile; int8 ones reload with `loadQuantizedModel`). `onProgress` hears one line
 * per finished step.
 *
 * @example
 * ```ts
 * import { compressStudy, sequentialModel } from "glassbox";
 * const model = sequentialModel([
 *   { type: "Linear", in: 2, out: 8, bias: true }, { type: "ReLU" }, { type: "Linear", in: 8, out: 2, bias: true },
 * ]);
 * const profile = { modality: "tabular" as const, inputShape: [2], classes: ["left", "right"], featureNames: ["a", "b"] };
 * const x = Float32Array.from({ length: 64 }, (_, i) => (i % 2 ? 1 : -1) * ((i * 7) % 5)), y = new Int32Array(32);
 * for (let i = 0; i < 32; i++) y[i] = x[2 * i] > 0 ? 1 : 0;
 * const data = { x, y, sampleShape: [2] };
 * const r = await compressStudy(model, profile, { train: data, test: data }, {
 *   steps: 2, levels: [0.5], curve: [0.5], calibrationSamples: 16, explain: 2, timingReps: 1,
 * });
 * if (r.summary.variants[0].name !== "original (float32)") throw new Error("no original");
 * if (!r.skipped.some((s) => s.variant.startsWith("filter"))) throw new Error("filter pruning of an MLP");
 * if (!r.files.some((f) => f.name === "models/int8-min-max.safetensors")) throw new Error("no int8 file");
 * ```
 */
export async function compressStudy(
  model: Module,
  profileIn: ExplanationProfile,
  data: CompressData,
  options: CompressOptions = {},
  onProgress: (line: string) => void = () => {},
): Promise<CompressResult> {
  const profile = validateProfile(profileIn);
  if (profile.modality === "tokens") {
    throw new Error("compress: token models are not supported (the study fine-tunes on float inputs)");
  }
  const K = profile.classes.length, shape = profile.inputShape, per = size(shape);
  const image = profile.modality === "image";
  checkData("training", data.train, profile);
  checkData("test", data.test, profile);
  const restoreMode = model.enterEval();
  let outputs: number[];
  try {
    outputs = scope(() => [
      ...noGrad(() => model.forward(tensor(data.test.x.subarray(0, per), [1, ...shape]))).shape,
    ]);
  } finally {
    restoreMode();
  }
  if (outputs.length !== 2 || outputs[1] !== K) {
    throw new Error(
      `compress: the model gives [${outputs.join(", ")}] for one example; the profile names ${K} classes (${
        profile.classes.slice(0, 4).join(", ")
      }${K > 4 ? ", …" : ""}), so it needs [1, ${K}]`,
    );
  }
  const steps = options.steps ?? 300, seed = options.seed ?? 0;
  const levels = options.levels ?? [0.5, 0.8, 0.9];
  const curveLevels = [...new Set([...(options.curve ?? [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]), ...levels])]
    .sort((a, b) => a - b);
  for (const s of curveLevels) {
    if (!(s > 0 && s < 1)) throw new Error(`compress: a sparsity must be in (0, 1), got ${s}`);
  }
  for (let i = 1; i < levels.length; i++) {
    if (!(levels[i] > levels[i - 1])) throw new Error(`compress: levels must increase, got ${levels}`);
  }
  const filterAmount = options.filterAmount ?? 0.5;
  const alpha = options.alpha ?? 0.5, temperature = options.temperature ?? 4;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`compress: alpha must be between 0 and 1, got ${alpha}`);
  const nTestAll = data.test.y.length;
  const nTest = options.testExamples ?? nTestAll;
  const nExplain = options.explain ?? 16;
  for (const [what, n] of [["test examples", nTest], ["explained examples", nExplain]] as const) {
    if (!(Number.isInteger(n) && n >= 1 && n <= nTestAll)) {
      throw new Error(`compress: ${what} must be 1 … ${nTestAll} (the test set's size), got ${n}`);
    }
  }
  if (camLayer0(profile) !== undefined) {
    try {
      model.get(profile.camLayer!);
    } catch (e) {
      throw new Error(
        `compress: the profile's camLayer "${profile.camLayer}" is not in the model (${
          (e as Error).message
        })`,
      );
    }
  }
  const unit = options.dataName ?? (image ? "test images" : "test rows");
  const unitWord = image ? "images" : "rows";
  const train = data.train, testSet = slice(data.test, 0, nTest);
  const nTiming = Math.min(options.timingBatch ?? 256, nTest), reps = options.timingReps ?? 5;
  const labels = Array.from(data.test.y.subarray(0, nExplain));
  const xsHost = data.test.x.subarray(0, nExplain * per);
  const camLayer = image && profile.camLayer !== undefined ? profile.camLayer : undefined;
  const skipped: SkippedVariant[] = [];
  if (!image) skipped.push({ variant: "CAM drift", reason: `a ${profile.modality} model has no CAM` });
  else if (camLayer === undefined) {
    skipped.push({ variant: "CAM drift", reason: "the profile names no camLayer" });
  }
  const filePrefix = options.filePrefix ?? "";
  const files: OutputFile[] = [];

  /** IG (and the CAM at the layer's resolution and upsampled) of the labels, as host arrays. */
  const explain = async (m: Module): Promise<Maps> => {
    const restore = m.enterEval();
    try {
      return await scope(async () => {
        const xs = tensor(xsHost, [nExplain, ...shape]);
        const ig = await attributionMethod("ig").run(m, xs, labels, profile);
        const out: Maps = { ig: { shape: [...ig.shape], data: (await ig.toArray()) as Float32Array } };
        let hasLayer = false;
        try {
          hasLayer = camLayer !== undefined && m.get(camLayer) !== undefined;
        } catch {
          hasLayer = false;
        }
        if (camLayer !== undefined && hasLayer) {
          const gradcam = attributionMethod("gradcam");
          const cam = await gradcam.run(m, xs, labels, profile, { upsample: false });
          out.cam = { shape: [...cam.shape], data: (await cam.toArray()) as Float32Array };
          out.camUp = (await (await gradcam.run(m, xs, labels, profile)).toArray()) as Float32Array;
        }
        return out;
      });
    } finally {
      restore();
    }
  };
  const drift = (a: { shape: number[]; data: Float32Array }, b: { shape: number[]; data: Float32Array }) =>
    scope(async () => (await explanationDrift(tensor(a.data, a.shape), tensor(b.data, b.shape))).mean);

  const timingX = tensor(data.test.x.subarray(0, nTiming * per), [nTiming, ...shape]);
  const variants: Variant[] = [];
  const fitOpts = (m: Module, lr: number, what: string) => ({
    optimizer: new Adam(m.parameters(), { lr }),
    batchSize: 64,
    seed: seed + 1,
    onStep: (step: number, total: number, loss: number) => {
      if (step % 100 === 0 || step === total) {
        onProgress(`  ${what}: step ${step}/${total}, loss ${loss.toFixed(4)}`);
      }
    },
  });
  /** `n` steps over the training set, however many epochs that takes (fit stops after one by default). */
  const stepsOf = (n: number) => ({ steps: n, epochs: Math.ceil(n / Math.ceil(train.y.length / 64)) });
  const add = async (
    name: string,
    m: Module,
    o: { explainModel?: Module; encode: () => Promise<Uint8Array>; note?: string },
  ) => {
    const fileName = `models/${
      name.replace(/[^a-z0-9]+/gi, "-").replace(/-$/, "").toLowerCase()
    }.safetensors`;
    const bytes = await o.encode();
    files.push({ name: fileName, data: bytes });
    const ev = await evaluate(m, testSet);
    const v: Variant = {
      model: m,
      explainModel: o.explainModel ?? m,
      summary: {
        name,
        ...await countParams(o.explainModel ?? m),
        file: `${filePrefix}${fileName}`,
        bytes: bytes.length,
        gzipBytes: await gzipSize(bytes),
        accuracy: ev.accuracy,
        msPerBatch: await inferenceMs(m, timingX, reps),
        igDrift: NaN,
        camDrift: NaN,
        note: o.note ?? "",
      },
    };
    variants.push(v);
    onProgress(
      `${name}: test accuracy ${(100 * v.summary.accuracy).toFixed(2)}%, ${v.summary.bytes} bytes, ${
        v.summary.msPerBatch.toFixed(1)
      } ms/${nTiming}`,
    );
    return v;
  };
  const floatFile = (m: Module) => () => encodeModel(m, { profile });

  try {
    const original = model;
    const restoreOriginal = original.enterEval();
    try {
      onProgress(`original: evaluating on ${nTest} ${unit}`);
      await add("original (float32)", original, { encode: floatFile(original) });

      // unstructured pruning: one-shot curve, then gradual with fine-tuning
      const curve: SparsityPoint[] = [];
      for (const s of curveLevels) {
        const m = cloneModel(original);
        const p = await magnitudePrune(m, { amount: s, scope: "global" });
        curve.push({ sparsity: s, oneShot: (await evaluate(m, testSet)).accuracy });
        p.remove();
      }
      onProgress(
        `one-shot pruning (no fine-tuning): ${
          curve.map((c) => `${+(c.sparsity * 100).toFixed(1)}% ${(100 * c.oneShot).toFixed(1)}%`).join(", ")
        }`,
      );
      const work = cloneModel(original);
      const pruneFit = fitOpts(work, 5e-4, "pruning");
      const shownLevel = levels[Math.floor((levels.length - 1) / 2)] ?? levels[0];
      let previous = 0, pruning: Pruning | null = null, sparsityRows = "";
      let shownModel: Module | null = null;
      for (const level of levels) {
        pruning?.remove();
        pruning = await iterativePrune(work, {
          sparsity: level,
          initial: previous,
          stages: 2,
          scope: "global",
          fineTune: async (p, stage, amount) => {
            onProgress(
              `pruned to ${(100 * amount).toFixed(1)}% (stage ${stage + 1} of 2 toward ${+(level * 100)
                .toFixed(1)}%), fine-tuning`,
            );
            await fit(work, train, {
              ...pruneFit,
              ...stepsOf(Math.ceil(steps / 2)),
              afterStep: () => p.enforce(),
            });
          },
        });
        previous = level;
        const snapshot = cloneModel(work);
        snapshot.eval();
        const v = await add(`pruned ${+(level * 100).toFixed(1)}%`, snapshot, {
          encode: floatFile(snapshot),
          note: "global magnitude, fine-tuned; zeros stored densely (see gzip)",
        });
        curve.find((c) => c.sparsity === level)!.tuned = v.summary.accuracy;
        if (level === shownLevel) {
          sparsityRows = (await sparsityTable(snapshot)).table;
          shownModel = snapshot;
        }
      }
      pruning?.remove();

      // structured: filters of the last conv whose channels can be carried through, by L1 norm
      const convs = original instanceof Sequential
        ? original.layers.map((m, i) => [i, m] as const).filter(([, m]) => m instanceof Conv2d)
        : [];
      if (!(original instanceof Sequential)) {
        skipped.push({
          variant: "filter pruning",
          reason: `the model is a ${original.typeName}, not a Sequential`,
        });
      } else if (convs.length === 0) {
        skipped.push({ variant: "filter pruning", reason: "the model has no Conv2d (filters are a conv's)" });
      } else {
        let done = false;
        const why: string[] = [];
        for (let k = convs.length - 1; k >= 0 && !done; k--) {
          const [idx, conv] = convs[k];
          let fp;
          try {
            fp = await pruneFilters(original, String(idx), { amount: filterAmount, norm: "l1" });
          } catch (e) {
            why.push((e as Error).message);
            continue;
          }
          done = true;
          const O = (conv as Conv2d).outChannels;
          onProgress(
            `filter pruning removed ${fp.removed.length} of ${O} filters of layer ${idx}; ${fp.params.before} → ${fp.params.after} parameters`,
          );
          await fit(fp.model, train, { ...fitOpts(fp.model, 5e-4, "filter-pruned"), ...stepsOf(steps) });
          fp.model.eval();
          const pruned = fp.model;
          await add(`filters −${+(filterAmount * 100).toFixed(1)}% (conv ${k + 1})`, pruned, {
            encode: floatFile(pruned),
            note:
              `${fp.removed.length} of ${O} filters of layer ${idx} removed (L1); next layer shrunk; fine-tuned`,
          });
        }
        if (!done) skipped.push({ variant: "filter pruning", reason: why.join("; ") });
      }

      // int8 after training, calibrated on training examples; then quantization-aware training
      const sqnrTables: string[] = [];
      if (!(original instanceof Sequential)) {
        skipped.push({
          variant: "int8 (post-training and QAT)",
          reason: `the model is a ${original.typeName}; int8 quantizes a Sequential`,
        });
      } else {
        let ptqScales: Map<string, number> | null = null;
        const samples = Math.min(options.calibrationSamples ?? 512, train.y.length);
        for (const method of ["minmax", "percentile"] as const) {
          const q = await quantizeModel(original, train, { calibration: { method, samples } });
          if (method === "percentile") ptqScales = q.inputScales;
          sqnrTables.push(`int8 (${method}):\n${q.table()}`);
          await add(`int8 ${method === "minmax" ? "min-max" : "percentile 99.99"}`, q, {
            explainModel: q.simulate(),
            encode: async () => (await encodeQuantizedModel(q, {}, profile)).bytes,
            note: `post-training, ${
              q.fallbacks.length ? `float: ${q.fallbacks.map((f) => f.layer).join(", ")}` : "every layer int8"
            }`,
          });
        }
        const qat = fakeQuantModel(original, ptqScales!);
        await fit(qat.model, train, { ...fitOpts(qat.model, 1e-4, "QAT"), ...stepsOf(steps) });
        const qq = await quantizeModel(qat.float, train, { inputScales: ptqScales! });
        sqnrTables.push(`int8 (QAT):\n${qq.table()}`);
        await add("int8 QAT", qq, {
          explainModel: qq.simulate(),
          encode: async () => (await encodeQuantizedModel(qq, {}, profile)).bytes,
          note: `${steps} fake-quantized fine-tuning steps`,
        });
      }

      // distillation: the same student, the same seed, with and without the teacher
      const epochs = options.distillEpochs ?? 2;
      const nDistill = Math.min(options.distillImages ?? 12000, train.y.length);
      const makeStudent = options.student === null
        ? undefined
        : options.student ?? zooStudent(original, profile);
      let distillation: CompressSummary["distillation"];
      if (!makeStudent) {
        skipped.push({
          variant: "distillation",
          reason: options.student === null
            ? "no student asked for"
            : `the zoo has no student for ${modelSpec(original)?.architecture ?? "this model"}`,
        });
      } else {
        const transfer = slice(train, 0, nDistill);
        manualSeed(seed);
        const student = makeStudent();
        const soloModel = cloneModel(student);
        onProgress(
          `distilling into a student with ${
            (await countParams(student)).params
          } parameters (T = ${temperature})`,
        );
        await distill(student, original, transfer, {
          ...fitOpts(student, 2e-3, "distilled student"),
          epochs,
          temperature,
          alpha,
        });
        student.eval();
        onProgress("training the same student alone");
        await fit(soloModel, transfer, { ...fitOpts(soloModel, 2e-3, "student alone"), epochs });
        soloModel.eval();
        await add("student, distilled", student, {
          encode: floatFile(student),
          note: `T = ${temperature}, α = ${alpha}, ${nDistill} ${unitWord} × ${epochs} epochs, seed ${seed}`,
        });
        await add("student alone", soloModel, {
          encode: floatFile(soloModel),
          note: `same init (seed ${seed}), ${unitWord} and batches; labels only`,
        });
        distillation = { images: nDistill, epochs, temperature, alpha };
      }

      // how far the explanations moved
      const ref = await explain(original);
      const maps = new Map<Variant, Maps>();
      for (const v of variants) {
        const e = v.model === original ? ref : await explain(v.explainModel);
        v.summary.igDrift = await drift(ref.ig, e.ig);
        if (ref.cam && e.cam) {
          v.summary.camDrift = ref.cam.shape.join() === e.cam.shape.join()
            ? await drift(ref.cam, e.cam)
            : await drift({ shape: [nExplain, size(shape.slice(1))], data: ref.camUp! }, {
              shape: [nExplain, size(shape.slice(1))],
              data: e.camUp!,
            });
        }
        maps.set(v, e);
        onProgress(
          `${v.summary.name}: explanation rank correlation with the original: IG ${
            v.summary.igDrift.toFixed(3)
          }${camLayer === undefined ? "" : `, Grad-CAM ${v.summary.camDrift.toFixed(3)}`}`,
        );
      }

      // the pictures
      const base = variants[0].summary;
      const probs = await scope(async () =>
        (await predict(original, tensor(xsHost, [nExplain, ...shape])).toArray()) as Float32Array
      );
      const predicted = Array.from({ length: nExplain }, (_, n) => {
        const p = Array.from(probs.subarray(n * K, (n + 1) * K));
        return p.indexOf(Math.max(...p));
      });
      const rho = (x: number) => (Number.isNaN(x) ? "—" : x.toFixed(2));
      if (image) {
        const [, H, W] = shape, shown = Math.min(4, nExplain);
        // an input smaller than 24 pixels is drawn larger, so the variants' names fit over their columns
        const k = Math.max(1, Math.ceil(24 / Math.max(H, W)));
        const big = (r: InputRow): InputRow => ({
          caption: r.caption,
          image: enlarge(r.image, H, W, k),
          ...(r.rgb ? { rgb: enlarge(r.rgb, H, W, k) } : {}),
        });
        const rows = Array.from({ length: shown }, (_, n) =>
          inputRow(
            data.test.x.subarray(n * per, (n + 1) * per),
            profile,
            `test ${n}: label ${profile.classes[labels[n]]}, original predicts ${
              profile.classes[predicted[n]]
            }`,
          ));
        const layerName = camLayer === undefined ? "" : `${original.get(camLayer).typeName} "${camLayer}"`;
        const camShape = ref.cam?.shape.slice(-2).join("×") ?? "";
        const grids = [
          [
            "ig",
            "Integrated Gradients of the label, per variant (ρ = rank correlation with the original over all explained images)",
            "drift_integrated_gradients.svg",
            true,
          ],
          ...(ref.cam
            ? [
              [
                "cam",
                `Grad-CAM of the label at ${layerName} (${camShape}, drawn upsampled), per variant (ρ = rank correlation with the original)`,
                "drift_gradcam.svg",
                false,
              ] as const,
            ]
            : []),
        ] as const;
        for (const [key, title, name, signed] of grids) {
          const columns = variants.filter((v) => key === "ig" || maps.get(v)!.camUp).map((v) => {
            const e = maps.get(v)!;
            const all = key === "ig" ? planes(e.ig.data, nExplain, H * W) : planes(e.camUp!, nExplain, H * W);
            return {
              name: v.summary === base
                ? short(v.summary.name)
                : `${short(v.summary.name)}\nρ = ${
                  rho(key === "ig" ? v.summary.igDrift : v.summary.camDrift)
                }`,
              maps: all.slice(0, shown).map((a) => enlarge(a, H, W, k)),
              signed,
            };
          });
          files.push({ name, data: attributionGrid(rows.map(big), columns, H * k, W * k, title) });
        }
      } else {
        const F = shape[0];
        const names = profile.featureNames ?? Array.from({ length: F }, (_, i) => `x${i}`);
        const meanAbs = (a: Float32Array) =>
          names.map((_, f) => {
            let s = 0;
            for (let n = 0; n < nExplain; n++) s += Math.abs(a[n * F + f]);
            return s / nExplain;
          });
        files.push({
          name: "drift_integrated_gradients.svg",
          data: barChart(
            names,
            variants.map((v) => ({
              name: v.summary === base
                ? short(v.summary.name)
                : `${short(v.summary.name)} (ρ = ${rho(v.summary.igDrift)})`,
              values: meanAbs(maps.get(v)!.ig.data),
            })),
            {
              title: "Integrated Gradients of the label per feature, per variant",
              xLabel: "feature",
              yLabel: "mean |attribution|",
              notes: [
                `Mean |attribution| over the first ${nExplain} ${unit}; ρ = rank correlation with the original's attributions, row by row.`,
              ],
            },
          ),
        });
      }
      const err = (acc: number) => 100 * (1 - acc);
      files.push({
        name: "accuracy_vs_sparsity.svg",
        data: lineChart(
          [
            {
              name: "one-shot (no fine-tuning)",
              points: curve.map((c) => [100 * c.sparsity, err(c.oneShot)]),
              dashed: true,
            },
            {
              name: `gradual + fine-tuned (${steps} steps per level)`,
              points: [
                [0, err(base.accuracy)],
                ...curve.filter((c) => c.tuned !== undefined).map((c) =>
                  [100 * c.sparsity, err(c.tuned!)] as [number, number]
                ),
              ],
            },
            {
              name: `dense model (${err(base.accuracy).toFixed(2)}% error)`,
              points: [[0, err(base.accuracy)], [
                100 * curveLevels[curveLevels.length - 1],
                err(base.accuracy),
              ]],
              color: "#888",
              dashed: true,
            },
          ],
          {
            title: `Test error against sparsity (global magnitude pruning, ${nTest} ${unit})`,
            xLabel: "weights pruned (%)",
            yLabel: "test error (%)",
            logY: true,
            legendAt: "top-left",
          },
        ),
      });
      const shownName = `pruned ${+(shownLevel * 100).toFixed(1)}%`;
      const hist = async (t: Tensor, lo: number, hi: number, dropZeros: boolean) => {
        const v = await t.toArray(), counts = new Array(60).fill(0);
        for (const x of v) {
          if (dropZeros && x === 0) continue;
          counts[Math.min(59, Math.max(0, Math.floor(((x - lo) / (hi - lo)) * 60)))]++;
        }
        return counts;
      };
      const charts: string[] = [];
      const shownParams = new Map(shownModel!.namedParameters());
      const originalParams = new Map(original.namedParameters());
      for (const name of prunableWeights(original)) {
        const w = originalParams.get(name)!;
        const vals = await w.toArray();
        let m = 0;
        for (const x of vals) m = Math.max(m, Math.abs(x));
        m ||= 1;
        charts.push(histogramChart(
          [
            { name: "original: all weights", lo: -m, hi: m, counts: await hist(w, -m, m, false) },
            {
              name: `${shownName}: weights kept`,
              lo: -m,
              hi: m,
              counts: await hist(shownParams.get(name)!, -m, m, true),
            },
          ],
          {
            title: `${name} [${w.shape.join("×")}]`,
            xLabel: "weight value",
            yLabel: "count",
            width: 520,
            height: 320,
          },
        ));
      }
      files.push({ name: "weight_histograms.svg", data: gridOfCharts(charts, 2) });

      // the table
      const kb = (b: number) => `${(b / 1024).toFixed(b < 10240 ? 1 : 0)} KiB`;
      const withCam = ref.cam !== undefined;
      const header =
        `| variant | parameters (non-zero) | file | gzip | test accuracy | Δ accuracy | ms / ${nTiming} ${unitWord} | IG ρ |${
          withCam ? " Grad-CAM ρ |" : ""
        } notes |`;
      const lines = variants.map(({ summary: v }) =>
        `| ${v.name} | ${v.params.toLocaleString("en-US")} (${v.nonzero.toLocaleString("en-US")}) | ${
          kb(v.bytes)
        } (${(base.bytes / v.bytes).toFixed(2)}×) | ${kb(v.gzipBytes)} | ${
          (100 * v.accuracy).toFixed(2)
        }% | ${v === base ? "—" : (100 * (v.accuracy - base.accuracy)).toFixed(2)} | ${
          v.msPerBatch.toFixed(1)
        } | ${v === base ? "1" : v.igDrift.toFixed(3)} |${
          withCam ? ` ${v === base ? "1" : Number.isNaN(v.camDrift) ? "—" : v.camDrift.toFixed(3)} |` : ""
        } ${v.note} |`
      );
      const columns = header.split("|").length - 2;
      const table = [header, "|" + " --- |".repeat(columns), ...lines].join("\n");
      const camText = withCam
        ? `; Grad-CAM: ${original.get(camLayer!).typeName} "${camLayer}" at ${
          ref.cam!.shape.slice(-2).join("×")
        }`
        : "";
      const tunedParts = ["pruning level"];
      if (variants.some((v) => v.summary.name.startsWith("filters"))) tunedParts.push("filter pruning");
      if (sqnrTables.length) tunedParts.push("QAT");
      const tuned = tunedParts.length === 1
        ? tunedParts[0]
        : `${tunedParts.slice(0, -1).join(", ")} and ${tunedParts[tunedParts.length - 1]}`;
      const title = options.modelName ?? options.about?.checkpoint ?? "the model";
      const md = [
        `# Compression of ${title}`,
        "",
        `Adapter: ${adapterInfo().description}; int8 dot product: ${int8DotPath()}. Accuracy on ${nTest} ${unit} (${K} classes: ${
          profile.classes.join(", ")
        }); explanations of the label compared on the first ${nExplain} (Integrated Gradients: baseline ${
          profile.baseline ?? 0
        }, 32 steps${camText}; ρ = Spearman rank correlation with the original model's map, mean over ${unitWord}).${
          sqnrTables.length
            ? " Int8 explanations are computed on the int8 model's float twin (the same int8 grids, with gradients)."
            : ""
        } Fine-tuning: ${steps} steps of 64 per ${tuned}${
          distillation
            ? `; students: ${distillation.images} training ${unitWord} × ${epochs} epochs, seed ${seed}, distillation T = ${temperature}, α = ${alpha}`
            : ""
        }.`,
        "",
        table,
        "",
        ...(skipped.length
          ? ["Not run on this model:", "", ...skipped.map((s) => `- ${s.variant}: ${s.reason}`), ""]
          : []),
        `Per-layer sparsity of the ${shownName} model:`,
        "",
        "```",
        sparsityRows,
        "```",
        "",
        ...(sqnrTables.length
          ? [
            "Quantization error per layer (SQNR, dB, on 64 calibration examples):",
            "",
            "```",
            sqnrTables.join("\n\n"),
            "```",
            "",
          ]
          : []),
      ].join("\n");
      const summary: CompressSummary = {
        ...(options.about?.checkpoint !== undefined ? { checkpoint: options.about.checkpoint } : {}),
        ...(options.about?.checkpointSha256 !== undefined
          ? { checkpointSha256: options.about.checkpointSha256 }
          : {}),
        testImages: nTest,
        explainedImages: nExplain,
        steps,
        seed,
        ...(distillation ? { distillation } : {}),
        curve,
        variants: variants.map((v) => v.summary),
      };
      files.push({ name: "summary.md", data: md });
      files.push({ name: "summary.json", data: JSON.stringify({ ...summary, skipped }, null, 1) });
      return { summary, skipped, table, files };
    } finally {
      restoreOriginal();
    }
  } finally {
    timingX.dispose();
  }
}
