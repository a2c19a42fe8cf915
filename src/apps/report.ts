/**
 * The report program as library code: one self-contained HTML page about a model — its layers
 * and graph, its training (when run logs are given), where it is wrong on a test set (per class,
 * by the profile's class names), its calibration, its most confident mistakes explained, the
 * registry's attribution methods compared, and, for tabular models, the global importance of
 * each feature. Everything model-specific comes from the model's explanation profile (the
 * input's shape and kind, the class names, the normalisation, the CAM layer, the feature names
 * or vocabulary); sections that do not apply to the profile's modality are left out. The page is
 * returned as a string with the numbers it states, never written here.
 */
import { describeModel, describePrediction, type Language, pct } from "../report/words.ts";
import { predictionFacts } from "../report/facts.ts";
import { fitNovelty, type InputNovelty } from "../report/novelty.ts";
import { TrainingBank } from "../report/neighbours.ts";
import { describeTabular, tabularFacts } from "../report/tabular.ts";
import { embedImage, escapeHtml, htmlPage, htmlTable, type ReportSection } from "../report/html.ts";
import { reportStrings } from "../report/strings.ts";
import {
  attributionMethod,
  attributionMethods,
  defaultMethods,
  type MethodSpec,
} from "../explain/methods.ts";
import type { CompressSummary } from "../compress/summary.ts";
import { decodeSafetensors } from "../io/safetensors.ts";
import { bestExample, confidentMistakes, confusedPairs, confusionMatrix } from "../diagnose/errors.ts";
import { type Predictions, predictionsFromLogits } from "../diagnose/predictions.ts";
import {
  applyTemperature,
  crossFitTemperature,
  fitTemperature,
  reliability,
} from "../diagnose/calibration.ts";
import { imageStatistics, sliceByClass, sliceByValue, weakestSlices } from "../diagnose/slices.ts";
import {
  captureActivations,
  disposeActivations,
  featureMapImage,
  filterImage,
} from "../inspect/activations.ts";
import { graphToSvg, modelGraph } from "../inspect/graph.ts";
import { summary } from "../inspect/summary.ts";
import type { Alarm } from "../inspect/alarms.ts";
import type { StepRecord } from "../inspect/records.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import {
  attributionGrid,
  colorKey,
  greyImage,
  type InputRow,
  labelledImages,
  type MethodColumn,
  rgbImage,
} from "../viz/attribution.ts";
import { confusionMatrixChart, reliabilityDiagram } from "../viz/diagnosis.ts";
import { encodePng } from "../viz/png.ts";
import { methodName } from "../viz/strings.ts";
import { barChart, gridOfCharts } from "../viz/svg.ts";
import { tokenAttributionSvg, type TokenRow } from "../viz/text.ts";
import {
  accuracyChart,
  distributionChart,
  gradientFlow,
  gradientFlowChart,
  gradNormChart,
  histogramsChart,
  type History,
  lossChart,
  updateRatioChart,
} from "../viz/training.ts";

/** Examples for the report: `x` [N, ...profile.inputShape] in the model's input units (token ids for token models), `y` [N] labels. */
export interface ReportData {
  /** The inputs, example after example. */
  x: Float32Array | Int32Array;
  /** One class index per example. */
  y: Int32Array;
}

/**
 * The examples of a safetensors file (`x` [N, ...profile.inputShape] as F32, or I32 token ids;
 * `y` [N] integer labels), the format `deno task explain --data` reads. A missing or misshapen
 * tensor is an error naming the file, the tensor and the shape it needs.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, reportData } from "glassbox";
 * const profile = { modality: "tabular" as const, inputShape: [2], classes: ["no", "yes"] };
 * const bytes = encodeSafetensors([
 *   ["x", { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
 *   ["y", { dtype: "I32", shape: [2], data: new Int32Array([0, 1]) }],
 * ]);
 * if (reportData(bytes, "test.safetensors", profile).y[1] !== 1) throw new Error("labels lost");
 * let message = "";
 * try { reportData(bytes, "test.safetensors", { ...profile, inputShape: [3] }); } catch (e) { message = (e as Error).message; }
 * if (!message.includes("[N, 3]")) throw new Error(message);
 * ```
 */
export function reportData(bytes: Uint8Array, source: string, profile: ExplanationProfile): ReportData {
  const file = decodeSafetensors(bytes, source);
  const x = file.tensors.get("x"), y = file.tensors.get("y");
  if (
    !x || (x.dtype !== "F32" && x.dtype !== "I32") || x.shape.slice(1).join() !== profile.inputShape.join()
  ) {
    throw new Error(
      `${source}: needs an F32 or I32 tensor "x" [N, ${
        profile.inputShape.join(", ")
      }] (the model's input shape), got ${x ? `${x.dtype} [${x.shape.join(", ")}]` : "none"}`,
    );
  }
  if (!y || y.shape.join() !== String(x.shape[0]) || !Array.from(y.data).every(Number.isInteger)) {
    throw new Error(`${source}: needs "y", ${x.shape[0]} integer labels`);
  }
  return { x: x.data as Float32Array | Int32Array, y: Int32Array.from(y.data as ArrayLike<number>) };
}

/** What the report is about. */
export interface ReportInputs {
  /** The model. */
  model: Module;
  /** Its explanation profile (`loadModel`'s; `mnistProfile()` only for an old MNIST checkpoint). */
  profile: ExplanationProfile;
  /** The test set: every number of the errors and calibration sections is measured on it. */
  test: ReportData;
  /**
   * Training examples: for images, how unlike them a mistake is (in its explanation's caveats)
   * and each mistake's nearest training examples of its true and predicted class.
   */
  train?: ReportData;
  /** The checkpoint the model came from (named in the model section). */
  checkpoint?: { path: string; sha256: string; architecture: string; epoch?: string };
  /** The run's logs (`readRunDirectory`): the training and gradient sections come from them. */
  run?: { dir: string; history?: History; records: StepRecord[]; alarms: Alarm[] };
  /** A compression study of the model (`parseCompressSummary`), and the pictures it drew. */
  compress?: { dir: string; summary: CompressSummary; pictures?: ReportPicture[] };
  /** Attention pictures of another run, with the checkpoint they came from. */
  attention?: { dir: string; checkpoint: string; sha256?: string; pictures: ReportPicture[] };
}

/** A picture another run drew: SVG text or PNG bytes, and its alternative text. */
export interface ReportPicture {
  /** SVG text or PNG bytes. */
  data: string | Uint8Array;
  /** What it shows. */
  alt: string;
}

/** How the report is made. */
export interface ReportOptions {
  /** The page's language (default "en"). */
  lang?: Language;
  /** Confident mistakes explained (default 6). */
  mistakes?: number;
  /** Test examples in the methods comparison (default 4). */
  gallery?: number;
  /** Nearest training examples shown per class under each mistake (default 5; 0 leaves them out). */
  neighbours?: number;
  /** Tabular: test rows the global importance averages over (default 100, at most the test set). */
  importanceRows?: number;
  /** When the page was made, as shown under the title (default now, UTC). */
  when?: string;
  /** Hears a line for each long step. */
  log?: (line: string) => void;
}

/** The page and the numbers it states. */
export interface ReportResult {
  /** The page, self-contained HTML. */
  html: string;
  /** The ids of its sections, in order. */
  sections: string[];
  /** Test accuracy (argmax of the model's outputs against the labels). */
  accuracy: number;
  /** Test examples judged. */
  count: number;
  /** Accuracy per class, by the profile's class names. */
  perClass: { name: string; count: number; accuracy: number }[];
  /** The registry's methods the page compares. */
  methods: string[];
  /** Tabular: mean |attribution| per method (rows of `values`) and feature (columns), over `rows` test rows. */
  importance?: { methods: string[]; features: string[]; values: number[][]; rows: number };
}

/** The image methods of the comparison, by their names in the method registry. */
const IMAGE_GALLERY = ["saliency", "ig", "smoothgrad", "guidedbackprop", "gradcam", "occlusion"];
/** Features drawn in a tabular row's bars, and in the importance chart. */
const BARS = 12, IMPORTANCE_BARS = 20;

const p = (text: string) => `<p>${escapeHtml(text)}</p>`;
/** The sentence under a heading that says what the section shows and how to read it. */
const intro = (text: string) => `<p class="intro">${escapeHtml(text)}</p>`;
const warn = (text: string) => `<p class="warning">${escapeHtml(text)}</p>`;
const pre = (text: string) => `<pre>${escapeHtml(text)}</pre>`;
const row = (...items: string[]) => `<div class="row">${items.join("")}</div>`;
/** A picture with its caption (and colour key) under it. */
const figure = (img: string, caption: string, key = "") =>
  `<figure>${img}<figcaption>${escapeHtml(caption)}</figcaption>${key}</figure>`;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function thin<T>(records: T[], max = 600): T[] {
  if (records.length <= max) return records;
  const k = Math.ceil(records.length / max);
  return records.filter((_, i) => i % k === 0 || i === records.length - 1);
}

function pictures(list: ReportPicture[] | undefined, none: string): string {
  return list?.length
    ? row(...list.map((q) => embedImage(q.data, q.alt)))
    : `<p class="note">${escapeHtml(none)}</p>`;
}

/** A batch of examples as the model takes it: int32 token ids, else float32. */
function batchOf(profile: ExplanationProfile, x: Float32Array | Int32Array, n: number): Tensor {
  const shape = [n, ...profile.inputShape];
  return profile.modality === "tokens"
    ? tensor(x instanceof Int32Array ? x : Int32Array.from(x), shape, { dtype: "int32" })
    : tensor(x instanceof Float32Array ? x : Float32Array.from(x), shape);
}

/** Checks the data against the profile; a mismatch is an error naming both. */
function checkData(what: string, d: ReportData, profile: ExplanationProfile): number {
  const per = size(profile.inputShape), n = d.y.length, K = profile.classes.length;
  if (n === 0) throw new Error(`report: the ${what} set has no examples`);
  if (d.x.length !== n * per) {
    throw new Error(
      `report: the ${what} set's x has ${d.x.length} values, not ${n} examples of [${
        profile.inputShape.join(", ")
      }] (the profile's input shape) for its ${n} labels`,
    );
  }
  const bad = d.y.findIndex((c) => !(c >= 0 && c < K));
  if (bad >= 0) {
    throw new Error(
      `report: the ${what} set's label ${d.y[bad]} (example ${bad}) is not one of the profile's ${K} classes`,
    );
  }
  if (profile.modality === "tokens") {
    const V = profile.vocabulary?.length ?? Infinity;
    const t = d.x.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= V);
    if (t >= 0) {
      throw new Error(`report: the ${what} set's token id ${d.x[t]} (value ${t}) is not in the vocabulary`);
    }
  }
  return n;
}

/** The model's outputs on every test example, as predictions (softmax, argmax). */
async function predict(model: Module, profile: ExplanationProfile, d: ReportData): Promise<Predictions> {
  const per = size(profile.inputShape), n = d.y.length, K = profile.classes.length, bs = 500;
  const logits = new Float32Array(n * K);
  for (let s = 0; s < n; s += bs) {
    const m = Math.min(bs, n - s);
    const out = await scope(async () => {
      const y = noGrad(() => model.forward(batchOf(profile, d.x.subarray(s * per, (s + m) * per), m)));
      if (y.ndim !== 2 || y.shape[0] !== m || y.shape[1] !== K) {
        throw new Error(
          `report: the model gives ${y.describe()} for ${m} examples, but its profile names ${K} classes (${
            profile.classes.join(", ")
          })`,
        );
      }
      return (await y.toArray()) as Float32Array;
    });
    logits.set(out, s * K);
  }
  return predictionsFromLogits(logits, d.y.slice(), K);
}

/** The registry's methods the page compares: the image gallery's, else the profile's (or its modality's defaults). */
function comparedMethods(profile: ExplanationProfile): MethodSpec[] {
  const suits = (m: MethodSpec) =>
    m.modalities.includes(profile.modality) && !(m.needsLayer && profile.camLayer === undefined);
  const names = profile.modality === "image" ? IMAGE_GALLERY : defaultMethods(profile);
  return names.map(attributionMethod).filter(suits);
}

/**
 * Makes the report page (see the module comment): the sections that apply to the profile's
 * modality, in the language asked for, with the numbers it states returned beside it.
 *
 * @example
 * ```ts
 * import { buildReport, Linear, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(2, 4), new ReLU(), new Linear(4, 2));
 * const profile = { modality: "tabular" as const, inputShape: [2], classes: ["stay", "leave"], featureNames: ["age", "income"] };
 * const test = { x: Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]), y: Int32Array.from([0, 1, 1, 0]) };
 * const report = await buildReport({ model, profile, test }, { mistakes: 1, gallery: 1 });
 * if (!report.html.includes("income") || !report.html.includes("leave")) throw new Error("names missing");
 * if (report.count !== 4 || report.importance?.features[0] !== "age") throw new Error("numbers missing");
 * ```
 */
export async function buildReport(inputs: ReportInputs, options: ReportOptions = {}): Promise<ReportResult> {
  const { model, profile, test } = inputs;
  const lang = options.lang ?? "en";
  if (lang !== "en" && lang !== "zh") throw new Error(`report: language must be "en" or "zh", got "${lang}"`);
  const log = options.log ?? (() => {});
  const nMistakes = options.mistakes ?? 6, nGallery = options.gallery ?? 4;
  for (const [k, v] of [["mistakes", nMistakes], ["gallery", nGallery]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new Error(`report: ${k} must be a positive integer, got ${v}`);
    }
  }
  const t = reportStrings(lang);
  if (profile.classes.length < 2) {
    throw new Error(
      `report: the profile names ${profile.classes.length} class (${
        profile.classes.join(", ")
      }); the errors and calibration sections need a classifier with an output per class, at least two (a model with one logit z can output [0, z])`,
    );
  }
  const count = checkData("test", test, profile);
  if (inputs.train) checkData("training", inputs.train, profile);
  const classes = profile.classes, K = classes.length, name = (c: number) => classes[c];
  const per = size(profile.inputShape), modality = profile.modality;
  const example = (k: number) => test.x.subarray(k * per, (k + 1) * per);
  const restore = model.enterEval();
  const sections: ReportSection[] = [];
  try {
    const first = batchOf(profile, example(0), 1);

    // the model
    log("model summary and graph");
    const sum = await summary(model, first);
    // graphToSvg names the input node "input" in English: the page's language names it here; the
    // graph is traced from the input's gradient, which token ids (int32) do not have
    const graph = modality === "tokens" ? undefined : graphToSvg(await modelGraph(model, first), t.graphTitle)
      .replaceAll('font-weight="bold">input</text>', `font-weight="bold">${escapeHtml(t.input)}</text>`);
    const ck = inputs.checkpoint;
    sections.push({
      id: "model",
      title: t.sections.model.title,
      html: intro(t.sections.model.intro) +
        (ck ? p(t.checkpointLine(ck.path, ck.architecture, ck.epoch, ck.sha256)) : "") +
        htmlTable(
          t.summaryHeaders,
          sum.layers.map((l) => [
            l.name,
            l.type,
            `[${l.outputShape.join(", ")}]`,
            l.params,
            l.macs,
            `${(l.activationBytes / 1024).toFixed(1)} KiB`,
          ]),
        ) +
        p(t.summaryTotals(
          sum.totalParams,
          sum.trainableParams,
          sum.totalMacs,
          `[${profile.inputShape.join(", ")}]`,
        )) +
        (graph ? figure(embedImage(graph, t.graphTitle), t.graphCaption) : p(t.noGraph)),
    });

    // training and gradients, from the run's logs
    const run = inputs.run;
    const records = run?.records ?? [], alarms = run?.alarms ?? [];
    const flow = records.length ? gradientFlow(records) : null;
    const withHist = records.filter((r) => r.params.some((q) => q.weight.histogram.length > 0));
    const lastHist = withHist.at(-1);
    if (run) {
      const history = run.history;
      const spe = history && history.epochs.length
        ? Math.round(history.steps.length / history.epochs.length)
        : history?.steps.length ?? 1;
      sections.push({
        id: "training",
        title: t.sections.training.title,
        html: intro(t.sections.training.intro) + (history
          ? row(
            embedImage(lossChart(history, spe, lang), t.sections.training.title),
            history.epochs.length ? embedImage(accuracyChart(history, lang), t.accuracyTitle) : "",
          )
          : p(t.noHistory(run.dir))),
      });
      const thinned = thin(records);
      sections.push({
        id: "gradients",
        title: t.sections.gradients.title,
        html: intro(t.sections.gradients.intro) + (records.length
          ? row(
            embedImage(gradientFlowChart(records, lang), t.meanAbsGrad),
            embedImage(gradNormChart(thinned, lang), t.gradNormTitle),
            thinned.some((r) => r.params.some((q) => q.updateRatio !== undefined))
              ? embedImage(updateRatioChart(thinned, lang), t.updateRatioTitle)
              : "",
            lastHist ? embedImage(histogramsChart(lastHist, "grad", lang), t.gradientValue) : "",
          )
          : p(t.noRecords(run.dir))) +
          (alarms.length
            ? pre(alarms.map((a) => t.alarmLine(a.step, a.kind, a.layer, a.value, a.threshold)).join("\n"))
            : p(t.noAlarm)),
      });
    }

    // weights and activations: distributions; filters and feature maps where the input is an image
    const figures: string[] = [];
    if (lastHist) {
      const names = lastHist.params.filter((q) => !q.name.endsWith("bias")).map((q) => q.name);
      figures.push(
        embedImage(
          gridOfCharts(names.map((n) => distributionChart(withHist, n, "weight", lang)), 2),
          t.sections.distributions.title,
        ),
        embedImage(histogramsChart(lastHist, "weight", lang), t.weightValue),
      );
      if (lastHist.layers.some((l) => l.activation?.histogram.length)) {
        figures.push(embedImage(histogramsChart(lastHist, "activation", lang), t.activationValue));
      }
    }
    const convs = modality === "image" ? model.namedModules().filter(([, m]) => m.typeName === "Conv2d") : [];
    if (convs.length) {
      log("filters and feature maps");
      const [layer, conv] = convs[0];
      const w = conv.namedParameters().find(([n]) => n === "weight")![1];
      const wa = (await w.toArray()) as Float32Array, [O, I, KH, KW] = w.shape;
      let amax = 0;
      for (let o = 0; o < O; o++) {
        for (let k = 0; k < KH * KW; k++) amax = Math.max(amax, Math.abs(wa[o * I * KH * KW + k]));
      }
      figures.push(figure(
        embedImage(encodePng(await filterImage(w)), t.filtersCaption(layer, O)),
        t.filtersCaption(layer, O),
        embedImage(
          colorKey("diverging", [`−${amax.toPrecision(2)}`, `+${amax.toPrecision(2)}`], t.filtersKey),
          t.filtersKey,
        ),
      ));
      const acts = await captureActivations(model, first);
      const fmKey = embedImage(
        colorKey("viridis", [t.tileMin, t.tileMax], t.featureMapsKey),
        t.featureMapsKey,
      );
      const shown = (label: string) =>
        label === `${layer} Conv2d` ||
        (profile.camLayer !== undefined && label.startsWith(`${profile.camLayer} `));
      for (const a of acts.filter((a) => a.output.ndim === 4 && shown(a.label))) {
        figures.push(figure(
          embedImage(
            encodePng(await featureMapImage(a.output)),
            t.featureMapsCaption(a.label, a.output.shape[1]),
          ),
          t.featureMapsCaption(a.label, a.output.shape[1]),
          fmKey,
        ));
      }
      disposeActivations(acts);
    }
    if (figures.length) {
      sections.push({
        id: "distributions",
        title: t.sections.distributions.title,
        html: intro(convs.length ? t.sections.distributions.intro : t.distributionsIntroPlain) +
          row(...figures),
      });
    }
    first.dispose();

    // errors, by the profile's class names
    log(`predictions on the ${count} test examples`);
    const preds = await predict(model, profile, test);
    const confusion = confusionMatrix(preds);
    const pairs = confusedPairs(confusion, 8);
    const rel = reliability(preds);
    const byClass = sliceByClass(preds).map((sl) => ({ ...sl, name: t.classSlice(name(sl.lo)) }));
    const [C, H, W] = modality === "image" ? profile.inputShape : [0, 0, 0];
    const grey = modality === "image" && C === 1 && profile.mean !== undefined && profile.std !== undefined;
    const stats = grey
      ? imageStatistics(
        { x: test.x as Float32Array, y: test.y, sampleShape: profile.inputShape },
        (0.5 - profile.mean![0]) / profile.std![0],
      )
      : null;
    const minCount = Math.min(50, Math.max(5, Math.floor(count / 20)));
    const slices = [
      ...byClass,
      ...(stats
        ? [
          ...sliceByValue(preds, stats.ink, t.inkSlice),
          ...sliceByValue(preds, stats.thickness, t.strokeSlice),
        ]
        : []),
      ...rel.bins.map((b) => ({
        name: t.confidenceSlice(b.lo.toFixed(2), b.hi.toFixed(2)),
        by: "confidence",
        lo: b.lo,
        hi: b.hi,
        count: b.count,
        accuracy: b.accuracy,
      })),
    ];
    const weak = weakestSlices(slices, 6, minCount);
    const perClass = byClass.map((sl) => ({ name: name(sl.lo), count: sl.count, accuracy: sl.accuracy }));
    sections.push({
      id: "errors",
      title: t.sections.errors.title,
      html: intro(t.sections.errors.intro) +
        p(t.testAccuracyLine(`${(100 * rel.accuracy).toFixed(2)}`, preds.count)) +
        `<div class="row">${
          embedImage(
            confusionMatrixChart(confusion, { title: t.confusionTitleTest, classNames: classes, lang }),
            t.confusionTitleTest,
          )
        }<div>` +
        `<h3>${escapeHtml(t.perClassHeading)}</h3>` +
        htmlTable(
          t.perClassHeaders,
          perClass.map((c) => [c.name, c.count, `${(100 * c.accuracy).toFixed(2)}%`]),
        ) +
        `<h3>${escapeHtml(t.confusedHeading)}</h3>` +
        htmlTable(
          t.confusedHeaders,
          pairs.map((c) => [name(c.actual), name(c.predicted), c.count, `${(100 * c.rate).toFixed(2)}%`]),
        ) +
        `</div></div><h3>${escapeHtml(t.weakestHeading)}</h3>` +
        p(t.slicesNote(minCount, grey)) +
        htmlTable(
          t.sliceHeaders,
          weak.map((sl) => [sl.name, sl.count, `${(100 * sl.accuracy).toFixed(2)}%`]),
        ),
    });

    // calibration: temperature scaling cross-fitted on the two halves of the test set, so every
    // example is judged with a temperature fitted on the other half, and all are judged
    const half = Math.floor(preds.count / 2);
    const part = (a: number, b: number) =>
      predictionsFromLogits(preds.logits.slice(a * K, b * K), preds.labels.slice(a, b), K);
    const { scaled, temperatures } = crossFitTemperature(preds, 2);
    const before = reliability(preds), after = reliability(scaled);
    const fold = (k: number) => {
      const [a, b] = k === 0 ? [0, half] : [half, preds.count];
      const judged = part(a, b);
      return t.calibrationFold(
        a,
        b - 1,
        temperatures[k].toFixed(3),
        reliability(judged).ece.toFixed(4),
        reliability(applyTemperature(judged, temperatures[k])).ece.toFixed(4),
      );
    };
    const fitAll = fitTemperature(preds);
    sections.push({
      id: "calibration",
      title: t.sections.calibration.title,
      html: intro(t.sections.calibration.intro) +
        p(t.calibrationText({
          count: preds.count,
          before: before.ece.toFixed(4),
          after: after.ece.toFixed(4),
          folds: [fold(0), fold(1)],
          lowered: after.ece < before.ece,
          temperature: fitAll.temperature.toFixed(3),
          nllBefore: fitAll.nllBefore.toFixed(4),
          nllAfter: fitAll.nllAfter.toFixed(4),
        })) +
        row(
          embedImage(
            reliabilityDiagram(before.bins, { title: t.beforeScaling, ece: before.ece, lang }),
            t.beforeScaling,
          ),
          embedImage(
            reliabilityDiagram(after.bins, {
              title: t.afterScaling(
                temperatures.map((v) => v.toFixed(2)).join(lang === "zh" ? " 和 " : " and "),
              ),
              ece: after.ece,
              lang,
            }),
            t.afterScaling(""),
          ),
        ),
    });

    const methods = comparedMethods(profile);
    const label = (m: MethodSpec) => methodName(m.title(profile), lang);
    /** Each method's maps of `idx` for their predicted classes, one array a method. */
    const attribute = async (idx: number[], which: MethodSpec[]) => {
      const x = new (modality === "tokens" ? Int32Array : Float32Array)(idx.length * per);
      idx.forEach((k, r) => x.set(example(k), r * per));
      const target = idx.map((k) => preds.predicted[k]);
      const out: Float32Array[] = [];
      for (const m of which) {
        out.push(
          await scope(async () =>
            (await (await m.run(model, batchOf(profile, x, idx.length), target, profile))
              .toArray()) as Float32Array
          ),
        );
      }
      return out;
    };
    const caption = (k: number) =>
      [k, name(test.y[k]), name(preds.predicted[k]), pct(preds.confidence[k])] as const;
    const mistakes = confidentMistakes(preds, nMistakes);
    const galleryIdx = Array.from({ length: Math.min(nGallery, count) }, (_, i) => i);
    let importance: ReportResult["importance"];

    // images: each map summed over channels; a colour image drawn in colour, its normalisation undone
    const plane = H * W;
    const pictureOf = (k: number): Omit<InputRow, "caption"> => pictureOfVector(example(k) as Float32Array);
    const pictureOfVector = (v: Float32Array): Omit<InputRow, "caption"> => {
      if (C === 1) return { image: v };
      const raw = Float32Array.from(v, (x, i) => {
        const c = Math.floor(i / plane);
        return x * (profile.std?.[c] ?? 1) + (profile.mean?.[c] ?? 0);
      });
      const image = new Float32Array(plane);
      for (let c = 0; c < C; c++) for (let i = 0; i < plane; i++) image[i] += raw[c * plane + i] / C;
      return C === 3 ? { image, rgb: raw } : { image };
    };
    const mapsOf = (a: Float32Array, n: number) =>
      Array.from({ length: n }, (_, r) => {
        const each = a.length / n, out = new Float32Array(plane);
        for (let c = 0; c < each / plane; c++) {
          for (let i = 0; i < plane; i++) out[i] += a[r * each + c * plane + i];
        }
        return out;
      });
    // tabular: a row's attributions as bars, the features with the largest |attribution| first
    const F = modality === "tabular" ? per : 0;
    const features = Array.from({ length: F }, (_, f) => profile.featureNames?.[f] ?? `feature ${f}`);
    const rowBars = (k: number, maps: Float32Array[], r: number, n: number) => {
      const top = Array.from({ length: F }, (_, f) => f)
        .map((f) => [f, Math.max(...maps.map((a) => Math.abs(a[r * (a.length / n) + f])))] as const)
        .sort((a, b) => b[1] - a[1]).slice(0, BARS).map(([f]) => f);
      const [i, y, pr, conf] = caption(k);
      return barChart(
        top.map((f) => features[f]),
        methods.map((m, j) => ({ name: label(m), values: top.map((f) => maps[j][r * F + f]) })),
        {
          title: t.rowBarsTitle(i, y, pr, conf),
          xLabel: t.featureAxis,
          yLabel: t.attributionAxis,
          lang,
          notes: [t.rowBarsNote(top.length, F)],
        },
      );
    };
    // tokens: a text without its trailing padding (the baseline token)
    const pad = profile.baseline ?? 0;
    const textOf = (k: number) => {
      const ids = Array.from(example(k));
      let n = ids.length;
      while (n > 1 && ids[n - 1] === pad) n--;
      return ids.slice(0, n).map((id) => profile.vocabulary?.[id] ?? `#${id}`);
    };
    const tokenRows = (idx: number[], a: Float32Array, captions: string[]): TokenRow[] =>
      idx.map((k, r) => {
        const tokens = textOf(k);
        return {
          caption: captions[r],
          tokens,
          values: Array.from(a.subarray(r * per, r * per + tokens.length)),
        };
      });

    // explanation by example: each mistake's nearest training images of its true and predicted class
    const nNeighbours = options.neighbours ?? 5;
    let neighboursSentence = inputs.train ? "" : t.neighboursAbsent;
    const mistakeNeighbours = async (list: [number, number, number][]): Promise<string[]> => {
      if (!inputs.train || nNeighbours === 0 || list.length === 0) return [];
      log("the training set's representations, for the nearest examples of each mistake");
      using bank = await TrainingBank.build(model, profile, inputs.train, { log });
      const layer = bank.layer || "(output)";
      const xs = new Float32Array(list.length * per);
      list.forEach(([k], i) => xs.set(example(k), i * per));
      const [own, taken] = [
        await bank.nearest(xs, list.map(([, a]) => a), nNeighbours),
        await bank.nearest(xs, list.map(([, , pr]) => pr), nNeighbours),
      ];
      neighboursSentence = t.neighboursIntro(
        Math.max(...own.map((r) => r.length)),
        layer,
        bank.n,
        bank.seconds.toFixed(1),
      );
      const px = Math.max(1, Math.round(56 / H));
      const strip = (
        row: { index: number; label: number; distance: number }[],
        which: "true" | "predicted",
        cls: number,
      ) => {
        const images = row.map((nb) => {
          const pic = pictureOfVector(
            inputs.train!.x.subarray(nb.index * per, (nb.index + 1) * per) as Float32Array,
          );
          return pic.rgb ? rgbImage(pic.rgb, H, W, px) : greyImage(pic.image, H, W, px);
        });
        const labels = row.map((nb) => t.neighbourLabel(name(nb.label), nb.distance.toPrecision(3)));
        const title = t.neighboursTitle(which, name(cls), layer);
        return embedImage(labelledImages(images, labels, title, t.neighboursNote("Euclidean")), title);
      };
      return list.map(([, a, pr], i) =>
        `<div class="neighbours">${strip(own[i], "true", a)}${strip(taken[i], "predicted", pr)}</div>`
      );
    };

    // the most confident mistakes, explained
    log("the most confident mistakes, explained");
    const cards: string[] = [];
    if (modality === "image") {
      const novelty: InputNovelty | undefined = inputs.train
        ? fitNovelty(
          { x: inputs.train.x as Float32Array, y: inputs.train.y, sampleShape: profile.inputShape },
          { limit: 10000 },
        )
        : undefined;
      // the registry's methods by the names the words use (their labels)
      const byLabel = new Map(attributionMethods("image").map((m) => [m.label, m]));
      const neighbourRows = await mistakeNeighbours(mistakes.map((m) => [m.index, m.actual, m.predicted]));
      for (const [mi, m] of mistakes.entries()) {
        const x = batchOf(profile, example(m.index), 1);
        const facts = await predictionFacts(model, x, {
          label: m.actual,
          baseline: profile.baseline ?? 0,
          knownConfusions: pairs,
          novelty,
        });
        x.dispose();
        const idx = [m.index, bestExample(preds, m.actual), bestExample(preds, m.predicted)];
        const cam = profile.camLayer !== undefined ? ["Grad-CAM"] : [];
        const shown = [...new Set([facts.method, ...facts.agreement.methods, ...cam])].map((l) => {
          const method = byLabel.get(l);
          if (!method) throw new Error(`the text cites ${l}, which the report cannot draw`);
          return method;
        });
        const maps = await attribute(idx, shown);
        const columns: MethodColumn[] = shown.map((method, j) => ({
          name: methodName(method.label, lang),
          maps: mapsOf(maps[j], 3),
          signed: method.signed,
        }));
        const rows = idx.map((k, r) => ({ ...pictureOf(k), caption: t.cardCaption(r, ...caption(k)) }));
        const title = t.mistakeGridTitle(m.index, name(m.actual), name(m.predicted));
        const grid = attributionGrid(rows, columns, H, W, title, lang);
        cards.push(
          `<div class="card">${embedImage(grid, title)}${neighbourRows[mi] ?? ""}${
            pre(describePrediction(facts, lang, classes))
          }</div>`,
        );
      }
    } else if (modality === "tabular") {
      for (const m of mistakes) {
        const maps = await attribute([m.index], methods);
        const facts = await scope(() =>
          tabularFacts(model, batchOf(profile, example(m.index), 1), {
            target: m.predicted,
            featureNames: features,
            baseline: new Float32Array(F).fill(pad),
          })
        );
        const chart = rowBars(m.index, maps, 0, 1);
        cards.push(
          `<div class="card">${embedImage(chart, t.rowBarsTitle(...caption(m.index)))}${
            pre(describeTabular(facts, lang, classes))
          }</div>`,
        );
      }
    } else {
      for (const m of mistakes) {
        const maps = await attribute([m.index], methods);
        const cap = t.cardCaption(0, ...caption(m.index));
        const svgs = methods.map((method, j) =>
          tokenAttributionSvg(
            tokenRows([m.index], maps[j], [cap]),
            t.tokensTitle(label(method)),
            [],
            900,
            t.tokenLegend,
          )
        );
        cards.push(
          `<div class="card">${
            svgs.map((s, j) => embedImage(s, t.tokensTitle(label(methods[j])))).join("")
          }</div>`,
        );
      }
    }
    sections.push({
      id: "mistakes",
      title: t.sections.mistakes.title,
      html: intro(
        modality === "image"
          ? t.sections.mistakes.intro + " " + neighboursSentence
          : modality === "tabular"
          ? t.mistakesIntroTabular
          : t.mistakesIntroTokens,
      ) + (cards.length ? cards.join("") : p(t.noMistakes)),
    });

    // the registry's methods compared on the same test examples
    log("the attribution methods compared");
    const maps = await attribute(galleryIdx, methods);
    let galleryHtml: string;
    if (modality === "image") {
      const columns: MethodColumn[] = methods.map((m, j) => ({
        name: label(m),
        signed: m.signed,
        maps: mapsOf(maps[j], galleryIdx.length),
      }));
      const rows = galleryIdx.map((k) => ({ ...pictureOf(k), caption: t.galleryCaption(...caption(k)) }));
      const title = t.galleryTitle(columns.length);
      galleryHtml = intro(t.sections.gallery.intro) +
        embedImage(attributionGrid(rows, columns, H, W, title, lang), title);
    } else if (modality === "tabular") {
      galleryHtml = intro(t.galleryIntroTabular) + row(
        ...galleryIdx.map((k, r) =>
          embedImage(rowBars(k, maps, r, galleryIdx.length), t.rowBarsTitle(...caption(k)))
        ),
      );
    } else {
      const captions = galleryIdx.map((k) => t.galleryCaption(...caption(k)));
      galleryHtml = intro(t.galleryIntroTokens) + methods.map((m, j) =>
        embedImage(
          tokenAttributionSvg(
            tokenRows(galleryIdx, maps[j], captions),
            t.tokensTitle(label(m)),
            [],
            900,
            t.tokenLegend,
          ),
          t.tokensTitle(label(m)),
        )
      ).join("");
    }
    sections.push({ id: "gallery", title: t.sections.gallery.title, html: galleryHtml });

    // tabular: global importance, mean |attribution| per feature per method
    if (modality === "tabular") {
      const R = Math.min(count, options.importanceRows ?? 100);
      log(`global feature importance over ${R} test rows`);
      const rows = Array.from({ length: R }, (_, i) => i);
      const all = await attribute(rows, methods);
      const values = all.map((a) =>
        features.map((_, f) => {
          let s = 0;
          for (let r = 0; r < R; r++) s += Math.abs(a[r * F + f]);
          return s / R;
        })
      );
      importance = { methods: methods.map((m) => m.name), features, values, rows: R };
      const order = features.map((_, f) => f).sort((a, b) => values[0][b] - values[0][a]);
      const top = order.slice(0, IMPORTANCE_BARS);
      const chart = barChart(
        top.map((f) => features[f]),
        methods.map((m, j) => ({ name: label(m), values: top.map((f) => values[j][f]) })),
        { title: t.importanceTitle(R), xLabel: t.featureAxis, yLabel: t.importanceAxis, lang },
      );
      sections.push({
        id: "importance",
        title: t.sections.importance.title,
        html: intro(t.sections.importance.intro) + embedImage(chart, t.importanceTitle(R)) + htmlTable(
          [t.featureHeader, ...methods.map(label)],
          order.map((f) => [features[f], ...values.map((v) => Number(v[f].toPrecision(4)))]),
        ),
      });
    }

    // the model in words: the gradient figure from the gradient-flow chart's own records
    sections.push({
      id: "words",
      title: t.sections.words.title,
      html: intro(flow ? t.sections.words.intro : t.wordsIntroNoRun) + pre(describeModel(
        {
          accuracy: rel.accuracy,
          count: preds.count,
          ece: before.ece,
          eceAfter: after.ece,
          temperature: fitAll.temperature,
          confusions: pairs.slice(0, 3),
          weakSlices: weak.slice(0, 3),
          // a checkpoint without its run was not tracked: say nothing about alarms
          alarms: run && records.length
            ? alarms.map((a) => ({ kind: a.kind, layer: a.layer, step: a.step }))
            : undefined,
          gradients: flow
            ? { steps: flow.steps, params: flow.params.map((q) => ({ name: q.name, meanAbs: q.meanAbs })) }
            : undefined,
        },
        lang,
        classes,
      )),
    });

    // borrowed runs: each names its run and checkpoint, and one from another checkpoint says so
    const att = inputs.attention;
    if (att) {
      sections.push({
        id: "attention",
        title: t.sections.attention.title,
        html: intro(t.sections.attention.intro) +
          warn(t.attentionSource(att.dir, att.checkpoint, att.sha256)) +
          pictures(att.pictures, t.noPictures(att.dir)),
      });
    }
    const cmp = inputs.compress;
    if (cmp) {
      const rho = (x: number) => (Number.isNaN(x) ? "—" : +x.toFixed(3)); // NaN: not measured
      const s = cmp.summary, mine = ck?.path ?? "?";
      const source = s.checkpointSha256 === undefined || ck === undefined
        ? warn(t.compressUnknown(cmp.dir, s.checkpoint ?? "?", mine))
        : s.checkpointSha256 === ck.sha256
        ? p(t.compressSame(cmp.dir, s.checkpoint ?? "?", ck.sha256))
        : warn(t.compressDifferent(cmp.dir, s.checkpoint ?? "?", s.checkpointSha256, mine, ck.sha256));
      sections.push({
        id: "compression",
        title: t.sections.compression.title,
        html: intro(t.sections.compression.intro) + source + htmlTable(
          t.compressHeaders,
          s.variants.map((v) => [
            v.name,
            v.params,
            v.nonzero,
            Math.round(v.bytes / 1024),
            `${(100 * v.accuracy).toFixed(2)}%`,
            +v.msPerBatch.toFixed(1),
            rho(v.igDrift),
            rho(v.camDrift),
          ]),
        ) + pictures(cmp.pictures, t.noPictures(cmp.dir)),
      });
    }

    const when = options.when ?? new Date().toISOString().slice(0, 16).replace("T", " ");
    const subtitle = run ? t.subtitle(run.dir, when) : t.subtitleModel(ck?.path ?? "", when);
    const html = htmlPage(t.pageTitle, sections, subtitle, lang);
    return {
      html,
      sections: sections.map((s) => s.id),
      accuracy: rel.accuracy,
      count: preds.count,
      perClass,
      methods: methods.map((m) => m.name),
      importance,
    };
  } finally {
    restore();
  }
}
