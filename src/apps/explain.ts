/**
 * The explain program as library code: attribution methods of the registry run on a model's
 * inputs, compared by deletion and insertion curves and a model-randomisation check, with the
 * pictures and numbers a person reads — returned as data (file names and contents), never
 * written here. Everything model-specific comes from the model's explanation profile: the
 * input's shape, the class names, the baseline, the CAM layer and the default methods.
 */
import { attributionMethod, defaultMethods, type MethodOptions } from "../explain/methods.ts";
import {
  type Curve,
  deletionCurve,
  insertionCurve,
  randomAttribution,
  randomizationCheck,
  type RandomizationStep,
} from "../explain/metrics.ts";
import { IntegratedGradients } from "../explain/integrated_gradients.ts";
import { visualizeFeature } from "../explain/feature_viz.ts";
import { encodeSafetensors } from "../io/safetensors.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import type { Module } from "../nn/module.ts";
import { full, tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { sigmoid } from "../tensor/ops/elementwise.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { attributionGrid, greyImage, labelledImages, rgbImage } from "../viz/attribution.ts";
import { css, diverging } from "../viz/colormap.ts";
import { barChart, lineChart, type Series, textWidth } from "../viz/svg.ts";

/** A file a program writes: its name in the output directory and its contents. */
export interface OutputFile {
  /** The file name, e.g. "comparison.svg". */
  name: string;
  /** Text (SVG, JSON) or bytes (safetensors, PNG). */
  data: string | Uint8Array;
}

/** The examples to explain. */
export interface ExplainInputs {
  /** The examples in the model's input units, row after row: N × (the profile's input size) values. */
  x: Float32Array;
  /** A name for each example (its index in the data set), shown in captions and the summary. */
  ids: number[];
  /** The true class of each example, when known. */
  labels?: number[];
}

/** Options of `explainInputs`. */
export interface ExplainOptions {
  /** Registry names of the methods (default: `defaultMethods(profile)`). */
  methods?: string[];
  /** Settings passed to every method (steps, samples, internalBatchSize, …); the methods' defaults otherwise. */
  method?: MethodOptions;
  /** Points on the deletion and insertion curves (default 20). */
  curveSteps?: number;
  /** Run the model-randomisation check (default true; image and tabular models). */
  sanity?: boolean;
  /** What the model is called in titles (default "the model"). */
  modelName?: string;
  /** Extra fields written at the top of summary.json (e.g. the checkpoint's path). */
  about?: Record<string, unknown>;
  /** Hears one line per finished step. */
  log?: (line: string) => void;
}

/** What `explainInputs` returns. */
export interface ExplainRun {
  /** The predicted class of each example. */
  predictions: number[];
  /** Softmax probabilities (one output: its sigmoid), [N, classes] row-major. */
  probabilities: Float32Array;
  /** The targets explained (the predictions). */
  targets: number[];
  /** Each method's maps, [N, ...mapShape] row-major, by registry name. */
  attributions: Record<string, { shape: number[]; data: Float32Array }>;
  /** What summary.json holds. */
  summary: Record<string, unknown>;
  /** comparison.svg, deletion.svg, insertion.svg, sanity.svg, attributions.safetensors, summary.json. */
  files: OutputFile[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function checkInputs(profile: ExplanationProfile, inputs: ExplainInputs): number {
  const per = size(profile.inputShape), N = inputs.ids.length;
  if (N === 0) throw new Error("explain: no examples to explain");
  if (inputs.x.length !== N * per) {
    throw new Error(
      `explain: ${N} examples of [${profile.inputShape.join(", ")}] need ${
        N * per
      } values, got ${inputs.x.length}`,
    );
  }
  if (inputs.labels && inputs.labels.length !== N) {
    throw new Error(`explain: ${inputs.labels.length} labels for ${N} examples`);
  }
  return N;
}

/** Names of the methods to run, each checked against the registry and the profile's modality. */
export function chooseMethods(profile: ExplanationProfile, names?: string[]): string[] {
  const chosen = names ?? defaultMethods(profile);
  if (!chosen.length) throw new Error("explain: no method chosen");
  for (const name of chosen) {
    const m = attributionMethod(name);
    if (!m.modalities.includes(profile.modality)) {
      throw new Error(
        `explain: ${name} does not suit ${profile.modality} inputs; it is for ${m.modalities.join(", ")}`,
      );
    }
  }
  return chosen;
}

/** A map per example as wide as one input (a one-channel map repeated over the channels), for the curves. */
function likeInput(a: Float32Array, N: number, inputShape: readonly number[]): Float32Array {
  const per = size(inputShape);
  if (a.length === N * per) return a;
  const C = inputShape[0], plane = per / C;
  if (a.length !== N * plane) {
    throw new Error(`explain: a map of ${a.length / N} values per example fits no input of [${inputShape}]`);
  }
  const out = new Float32Array(N * per);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) out.set(a.subarray(n * plane, (n + 1) * plane), n * per + c * plane);
  }
  return out;
}

/** One picture per example for the grid: the image itself (one channel), else the mean of its channels in raw units. */
function pictureOf(x: Float32Array, profile: ExplanationProfile): Float32Array {
  const [C, H, W] = profile.inputShape, plane = H * W;
  if (C === 1) return x;
  const out = new Float32Array(plane);
  for (let c = 0; c < C; c++) {
    const m = profile.mean?.[c] ?? 0, s = profile.std?.[c] ?? 1;
    for (let i = 0; i < plane; i++) out[i] += (x[c * plane + i] * s + m) / C;
  }
  return out;
}

/**
 * A three-channel example as the image a person saw: x · std + mean per channel (the profile's
 * normalisation undone), or, without one, the example's own min to max; undefined for other inputs.
 */
function colourOf(x: Float32Array, profile: ExplanationProfile): Float32Array | undefined {
  if (profile.inputShape[0] !== 3) return undefined;
  const plane = x.length / 3, out = new Float32Array(x.length);
  if (profile.mean && profile.std) {
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / plane);
      out[i] = x[i] * profile.std[c] + profile.mean[c];
    }
    return out;
  }
  let lo = Infinity, hi = -Infinity;
  for (const v of x) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  for (let i = 0; i < x.length; i++) out[i] = hi > lo ? (x[i] - lo) / (hi - lo) : 0;
  return out;
}

/** A map per example as one plane: itself (one channel), else the sum over the channels (Captum's "all"). */
function planeOf(a: Float32Array, profile: ExplanationProfile): Float32Array {
  const [, H, W] = profile.inputShape, plane = H * W;
  if (a.length === plane) return a;
  const out = new Float32Array(plane);
  for (let c = 0; c < a.length / plane; c++) for (let i = 0; i < plane; i++) out[i] += a[c * plane + i];
  return out;
}

/**
 * Explains `inputs` with each chosen method (the model's predicted class is the target), ranks
 * the methods by deletion and insertion AUC against a random order, measures IG's completeness
 * error and runs the model-randomisation check; returns the numbers, the maps and the files.
 *
 * @example
 * ```ts
 * import { explainInputs, smallCamCnn } from "glassbox";
 * const model = smallCamCnn({ channels: 3, classes: 2 });
 * const profile = { modality: "image" as const, inputShape: [3, 6, 6], classes: ["cat", "dog"], camLayer: "1" };
 * const run = await explainInputs(model, profile, { x: new Float32Array(2 * 108).fill(0.5), ids: [0, 1] }, {
 *   methods: ["saliency", "gradcam"], sanity: false,
 * });
 * if (run.attributions.gradcam.shape.join() !== "2,1,6,6") throw new Error("a CAM is one plane");
 * if (!run.files.some((f) => f.name === "comparison.svg")) throw new Error("no grid");
 * ```
 */
export async function explainInputs(
  model: Module,
  profile: ExplanationProfile,
  inputs: ExplainInputs,
  options: ExplainOptions = {},
): Promise<ExplainRun> {
  const N = checkInputs(profile, inputs), per = size(profile.inputShape), K = profile.classes.length;
  const names = chooseMethods(profile, options.methods);
  const log = options.log ?? (() => {});
  const o = options.method ?? {};
  const baseline = o.baseline ?? profile.baseline ?? 0;
  const image = profile.modality === "image", tokens = profile.modality === "tokens";
  const x = tokens
    ? tensor(Int32Array.from(inputs.x), [N, ...profile.inputShape], { dtype: "int32" })
    : tensor(inputs.x, [N, ...profile.inputShape]);
  if (profile.outputModule !== undefined) {
    throw new Error(
      `explain: the profile's classes name the outputs of the module "${profile.outputModule}" (e.g. an autoencoder's latent units), not the model's; explain them with an attribution method on model.get("${profile.outputModule}") (deno task autoencoder draws them)`,
    );
  }
  const restore = model.enterEval();
  try {
    const probabilities = (await scope(async () =>
      // one output is a binary logit: its sigmoid (a softmax over one value is always 1)
      await noGrad(() => {
        const out = model.forward(x);
        return out.ndim === 2 && out.shape[1] === 1 ? sigmoid(out) : softmax(out, 1);
      }).toArray()
    )) as Float32Array;
    if (probabilities.length !== N * K) {
      throw new Error(
        `explain: the model gives ${
          probabilities.length / N
        } outputs per example, the profile names ${K} classes`,
      );
    }
    const predictions = Array.from({ length: N }, (_, n) => {
      let best = 0;
      for (let c = 1; c < K; c++) if (probabilities[n * K + c] > probabilities[n * K + best]) best = c;
      return best;
    });
    // explain what the model predicted
    const target = predictions;
    const attributions: ExplainRun["attributions"] = {};
    const methods: Record<string, Record<string, unknown>> = {};
    const summary: Record<string, unknown> = {
      ...options.about,
      images: inputs.ids,
      labels: inputs.labels,
      predictions,
      methods,
    };
    const curves = !tokens; // token ids have no "removed" value between them
    const curveOpts = { target, baseline, steps: options.curveSteps ?? 20 };
    const deletion: Series[] = [], insertion: Series[] = [];
    for (const name of [...names, ...(curves ? ["random"] : [])]) {
      const ts = performance.now();
      const m = name === "random" ? undefined : attributionMethod(name);
      const label = m ? m.title(profile, o) : "random order";
      const attr = m ? await m.run(model, x, target, profile, o) : randomAttribution(x, 1);
      const data = (await attr.toArray()) as Float32Array;
      const entry: Record<string, unknown> = {};
      let line = label.padEnd(26);
      if (curves) {
        const full = likeInput(data, N, profile.inputShape);
        const a = full === data ? attr : tensor(full, [...x.shape]);
        const del = await deletionCurve(model, x, a, curveOpts),
          ins = await insertionCurve(model, x, a, curveOpts);
        if (a !== attr) a.dispose();
        const mean = (c: Curve) =>
          c.fractions.map((f, k) =>
            [100 * f, c.scores.reduce((s, v) => s + v[k], 0) / N] as [number, number]
          );
        const style = name === "random" ? { dashed: true, color: "#888" } : {};
        deletion.push({ name: `${label} (AUC ${del.meanAuc.toFixed(3)})`, points: mean(del), ...style });
        insertion.push({ name: `${label} (AUC ${ins.meanAuc.toFixed(3)})`, points: mean(ins), ...style });
        entry.deletionAuc = del.meanAuc;
        entry.insertionAuc = ins.meanAuc;
        line += ` deletion AUC ${del.meanAuc.toFixed(3)}  insertion AUC ${ins.meanAuc.toFixed(3)}`;
      }
      entry.seconds = (performance.now() - ts) / 1000;
      if (name === "ig") entry.completenessError = await completeness(model, x, target, profile, o, K);
      methods[name] = entry;
      if (m) attributions[name] = { shape: [...attr.shape], data };
      attr.dispose();
      log(`${line}  ${String(entry.seconds).slice(0, 5)} s`);
    }
    const files: OutputFile[] = [];
    const what = options.modelName ?? "the model";
    const cls = (c: number) => profile.classes[c];
    const caption = (n: number) =>
      `#${inputs.ids[n]}: ${inputs.labels ? `label ${cls(inputs.labels[n])}, ` : ""}predicted ${
        cls(predictions[n])
      } (${(100 * probabilities[n * K + predictions[n]]).toFixed(0)}%)`;
    if (image) {
      const [, H, W] = profile.inputShape;
      const grid = attributionGrid(
        inputs.ids.map((_, n) => ({
          image: pictureOf(inputs.x.subarray(n * per, (n + 1) * per), profile),
          rgb: colourOf(inputs.x.subarray(n * per, (n + 1) * per), profile),
          caption: caption(n),
        })),
        names.map((name) => {
          const { data, shape } = attributions[name], each = size(shape.slice(1));
          return {
            name: attributionMethod(name).title(profile, o),
            signed: attributionMethod(name).signed,
            maps: inputs.ids.map((_, n) => planeOf(data.subarray(n * each, (n + 1) * each), profile)),
          };
        }),
        H,
        W,
        `Why ${what} predicted its class: ${names.length} attribution methods`,
      );
      files.push({ name: "comparison.svg", data: grid });
    }
    if (profile.modality === "tabular") {
      const F = profile.inputShape[0];
      files.push({
        name: "importance.svg",
        data: barChart(
          profile.featureNames ?? Array.from({ length: F }, (_, f) => `feature ${f}`),
          names.map((name) => {
            const d = attributions[name].data, mean = new Array<number>(F).fill(0);
            for (let i = 0; i < d.length; i++) mean[i % F] += Math.abs(d[i]) / N;
            return { name: attributionMethod(name).title(profile, o), values: mean };
          }),
          {
            title: `What ${what} relied on: mean |attribution| of each feature over ${N} rows`,
            xLabel: "feature",
            yLabel: "mean |attribution| (each method in its own units)",
          },
        ),
      });
    }
    if (tokens) {
      files.push({
        name: "tokens.svg",
        data: tokenPicture(
          inputs.x,
          profile,
          names.map((name) => ({
            name: attributionMethod(name).title(profile, o),
            data: attributions[name].data,
          })),
          inputs.ids.map((_, n) => caption(n)),
          `Why ${what} predicted its class: each token coloured by its attribution`,
        ),
      });
    }
    if (curves) {
      const unit = image ? "pixels" : "features";
      files.push({
        name: "deletion.svg",
        data: lineChart(deletion, {
          title: `Deletion: most important ${unit} removed first (lower is better)`,
          xLabel: `${unit} set to the baseline (%)`,
          yLabel: "probability of the predicted class",
        }),
      }, {
        name: "insertion.svg",
        data: lineChart(insertion, {
          title: `Insertion: most important ${unit} restored first (higher is better)`,
          xLabel: `${unit} restored (%)`,
          yLabel: "probability of the predicted class",
        }),
      });
    }
    files.push({
      name: "attributions.safetensors",
      data: encodeSafetensors(
        Object.entries(attributions).map(([k, v]) => [k, { dtype: "F32", shape: v.shape, data: v.data }]),
        { producer: "glassbox", images: inputs.ids.join(","), targets: target.join(",") },
      ),
    });
    if ((options.sanity ?? true) && !tokens) {
      const sanity = await sanityCheck(model, x, target, profile, o);
      summary.sanity = sanity.runs;
      log(
        `sanity check (Saliency), layers randomised from the output: ${
          sanity.runs.Saliency.map((st) => `${st.layer} ${st.correlation.toFixed(2)}`).join(", ")
        }`,
      );
      files.push({ name: "sanity.svg", data: sanity.svg });
    }
    files.push({ name: "summary.json", data: JSON.stringify(summary, null, 1) });
    return { predictions, probabilities, targets: target, attributions, summary, files };
  } finally {
    restore();
    x.dispose();
  }
}

const escapeXml = (t: string) =>
  t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Each example's tokens in a row per method, each token's box coloured by its attribution (red
 * raises the explained class's score, blue lowers it; each row scaled to its own largest |value|).
 */
function tokenPicture(
  ids: Float32Array,
  profile: ExplanationProfile,
  methods: { name: string; data: Float32Array }[],
  captions: string[],
  title: string,
): string {
  const T = profile.inputShape[0], vocab = profile.vocabulary;
  const word = (id: number) => vocab?.[id] ?? `#${id}`;
  const gap = 4, rowH = 24, left = 12, label = 12 + Math.max(...methods.map((m) => textWidth(m.name)));
  const parts: string[] = [];
  const note =
    "red raises the explained class's score, blue lowers it; each row scaled to its own largest |value|";
  let y = 62, W = Math.max(480, 2 * left + 1.2 * textWidth(title), 2 * left + textWidth(note));
  captions.forEach((cap, n) => {
    parts.push(`<text x="${left}" y="${y}" font-weight="bold">${escapeXml(cap)}</text>`);
    y += 10;
    for (const m of methods) {
      const row = m.data.subarray(n * T, (n + 1) * T);
      const scale = Math.max(...Array.from(row, Math.abs)) || 1;
      parts.push(`<text x="${left}" y="${y + 16}">${escapeXml(m.name)}</text>`);
      let x = left + label;
      for (let t = 0; t < T; t++) {
        const text = word(ids[n * T + t]), w = textWidth(text) + 8;
        parts.push(
          `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${
            css(diverging(row[t] / scale))
          }" stroke="#ccc"><title>${escapeXml(`${text}: ${row[t].toPrecision(4)}`)}</title></rect>`,
          `<text x="${(x + 4).toFixed(1)}" y="${y + 15}"${
            Math.abs(row[t] / scale) > 0.6 ? ' fill="white"' : ""
          }>${escapeXml(text)}</text>`,
        );
        x += w + gap;
      }
      W = Math.max(W, x + left);
      y += rowH;
    }
    y += 14;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${
      Math.ceil(W)
    }" height="${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="${Math.ceil(W)}" height="${y}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left}" y="40" fill="#555">${escapeXml(note)}</text>`,
    ...parts,
    "</svg>",
  ].join("\n");
}

/** IG's completeness error per example: |Σ attr − (F(x) − F(x′))| / |F(x) − F(x′)| for the target. */
async function completeness(
  model: Module,
  x: Tensor,
  target: number[],
  profile: ExplanationProfile,
  o: MethodOptions,
  K: number,
): Promise<number[]> {
  const baseline = o.baseline ?? profile.baseline ?? 0;
  return await scope(async () => {
    const { delta } = await new IntegratedGradients(model).attributeWithDelta(x, {
      target,
      baselines: baseline,
      nSteps: o.steps ?? attributionMethod("ig").defaults.steps,
      internalBatchSize: o.internalBatchSize,
    });
    const f = await noGrad(() => model.forward(x)).toArray(),
      f0 = await noGrad(() => model.forward(full(x.shape, baseline))).toArray();
    const d = await delta.toArray();
    return Array.from(d, (v, n) => Math.abs(v) / Math.abs(f[n * K + target[n]] - f0[n * K + target[n]]));
  });
}

/** The model-randomisation check (Adebayo et al.) of Saliency and IG (16 steps), and its chart. */
async function sanityCheck(
  model: Module,
  x: Tensor,
  target: number[],
  profile: ExplanationProfile,
  o: MethodOptions,
): Promise<{ runs: Record<string, RandomizationStep[]>; svg: string }> {
  const sanity: Series[] = [];
  const runs: Record<string, RandomizationStep[]> = {};
  const ig = "Integrated Gradients (0 where x = x′)";
  for (const [name, key] of [["Saliency", "saliency"], [ig, "ig"]] as const) {
    const m = attributionMethod(key);
    const steps = await randomizationCheck(
      model,
      (mm, t) => m.run(mm, t, target, profile, { ...o, steps: 16 }),
      x,
    );
    sanity.push({ name, points: steps.map((st, k) => [k, st.correlation] as [number, number]) });
    runs[name] = steps;
  }
  const svg = lineChart(
    [...sanity, {
      name: "unchanged maps",
      points: [[0, 1], [sanity[0].points.length - 1, 1]],
      dashed: true,
      color: "#888",
    }],
    {
      title: "Model-randomisation check: a method passes when its curve falls",
      notes: [
        "Pass: the maps change as layers are re-initialised, so they depend on what the model learnt.",
        "Integrated Gradients is exactly 0 wherever the input equals the baseline (x − x′ = 0) whatever the",
        "weights; those shared zeros keep its rank correlation near 1 even if its other values change completely.",
        "A flat IG curve here is this measure's blind spot, not evidence that IG ignores the model.",
      ],
      xLabel: "layers re-initialised so far, from the output down",
      xTickLabels: runs.Saliency.map((st) => st.layer),
      yLabel: "rank correlation with the original map",
      legendAt: "bottom-left",
    },
  );
  return { runs, svg };
}

/** Options of `explainAllInputs`. */
export interface ExplainAllOptions {
  /** Settings passed to the method. */
  method?: MethodOptions;
  /** Examples per chunk (default 250): memory stays bounded by one chunk. */
  chunk?: number;
  /** Hears the examples done after each chunk. */
  onProgress?: (done: number, total: number) => void;
  /** Extra fields of summary.json. */
  about?: Record<string, unknown>;
}

/**
 * One method over a whole data set (targets: the labels) in chunks of bounded memory, with
 * progress; IG's |delta| (its completeness) is summarised. Returns the maps, the summary and
 * the two files (attributions.safetensors, summary.json).
 *
 * @example
 * ```ts
 * import { explainAllInputs, Linear } from "glassbox";
 * const profile = { modality: "tabular" as const, inputShape: [3], classes: ["no", "yes"] };
 * const r = await explainAllInputs(new Linear(3, 2), profile, { x: new Float32Array(12).fill(1), ids: [0, 1, 2, 3], labels: [0, 1, 0, 1] }, "saliency", { chunk: 3 });
 * if (r.attributions.length !== 12) throw new Error("one value per feature of every row");
 * ```
 */
export async function explainAllInputs(
  model: Module,
  profile: ExplanationProfile,
  inputs: ExplainInputs,
  name: string,
  options: ExplainAllOptions = {},
): Promise<
  { attributions: Float32Array; shape: number[]; summary: Record<string, unknown>; files: OutputFile[] }
> {
  const N = checkInputs(profile, inputs), per = size(profile.inputShape);
  const [m] = chooseMethods(profile, [name]).map(attributionMethod);
  if (!inputs.labels) throw new Error("explain --all explains the labels; the inputs have none");
  const labels = inputs.labels, chunk = options.chunk ?? 250, o = options.method ?? {};
  const t0 = performance.now();
  let out: Float32Array | undefined, each = 0, mapShape: number[] = [];
  const completeness: number[] = [];
  const restore = model.enterEval();
  try {
    for (let s = 0; s < N; s += chunk) {
      const e = Math.min(N, s + chunk);
      await scope(async () => {
        const rows = inputs.x.subarray(s * per, e * per);
        const x = profile.modality === "tokens"
          ? tensor(Int32Array.from(rows), [e - s, ...profile.inputShape], { dtype: "int32" })
          : tensor(rows, [e - s, ...profile.inputShape]);
        const target = labels.slice(s, e);
        let a: Tensor;
        if (name === "ig") {
          const r = await new IntegratedGradients(model).attributeWithDelta(x, {
            target,
            baselines: o.baseline ?? profile.baseline ?? 0,
            nSteps: o.steps ?? m.defaults.steps,
            internalBatchSize: o.internalBatchSize,
          });
          a = r.attributions;
          completeness.push(...Array.from(await r.delta.toArray(), Math.abs));
        } else a = await m.run(model, x, target, profile, o);
        if (!out) {
          mapShape = a.shape.slice(1);
          each = size(mapShape);
          out = new Float32Array(N * each);
        }
        out.set(await a.toArray(), s * each);
      });
      options.onProgress?.(e, N);
    }
  } finally {
    restore();
  }
  const summary: Record<string, unknown> = {
    ...options.about,
    method: name,
    images: N,
    seconds: (performance.now() - t0) / 1000,
  };
  if (completeness.length) {
    const sorted = [...completeness].sort((a, b) => a - b);
    summary.completenessAbsDelta = {
      median: sorted[Math.floor(N / 2)],
      p99: sorted[Math.floor(0.99 * N)],
      max: sorted[N - 1],
    };
  }
  const shape = [N, ...mapShape];
  return {
    attributions: out!,
    shape,
    summary,
    files: [
      {
        name: "attributions.safetensors",
        data: encodeSafetensors([[name, { dtype: "F32", shape, data: out! }]], {
          producer: "glassbox",
          images: `${inputs.ids[0]}-${inputs.ids[N - 1]}`,
          targets: "labels",
        }),
      },
    ],
  };
}

/**
 * One method over rows [start, end) of `x` with the labels as targets, in the form the shard runner
 * (`attributeRows`, `runShard`) takes: the attributions of those rows and, for `ig`, each row's
 * |completeness delta| (`completenessAbsDelta`). The model runs in eval mode for each call.
 *
 * @example
 * ```ts
 * import { attributionOfRows, attributeRows, Flatten, Linear, Sequential } from "glassbox";
 * const model = new Sequential(new Flatten(), new Linear(4, 2));
 * const profile = { modality: "tabular" as const, inputShape: [4], classes: ["a", "b"] };
 * const x = Float32Array.from({ length: 12 }, (_, i) => i / 12);
 * const rows = attributionOfRows(model, profile, { x, labels: [0, 1, 0] }, "ig", { steps: 8 });
 * const r = await attributeRows({ start: 0, end: 3 }, 4, rows, { chunk: 2 });
 * if (r.attributions.length !== 12 || r.perRow.completenessAbsDelta.length !== 3) throw new Error("rows");
 * ```
 */
export function attributionOfRows(
  model: Module,
  profile: ExplanationProfile,
  inputs: { x: Float32Array; labels: ArrayLike<number> },
  name: string,
  o: MethodOptions = {},
): (
  start: number,
  end: number,
) => Promise<{ attributions: Float32Array; perRow?: Record<string, Float32Array> }> {
  const [m] = chooseMethods(profile, [name]).map(attributionMethod);
  const per = size(profile.inputShape);
  return (s, e) =>
    scope(async () => {
      const restore = model.enterEval();
      try {
        const rows = inputs.x.subarray(s * per, e * per);
        const x = profile.modality === "tokens"
          ? tensor(Int32Array.from(rows), [e - s, ...profile.inputShape], { dtype: "int32" })
          : tensor(rows, [e - s, ...profile.inputShape]);
        const target = Array.from(inputs.labels).slice(s, e);
        if (name !== "ig") {
          return {
            attributions: (await (await m.run(model, x, target, profile, o)).toArray()) as Float32Array,
          };
        }
        const r = await new IntegratedGradients(model).attributeWithDelta(x, {
          target,
          baselines: o.baseline ?? profile.baseline ?? 0,
          nSteps: o.steps ?? m.defaults.steps,
          internalBatchSize: o.internalBatchSize,
        });
        return {
          attributions: (await r.attributions.toArray()) as Float32Array,
          perRow: { completenessAbsDelta: Float32Array.from(await r.delta.toArray(), Math.abs) },
        };
      } finally {
        restore();
      }
    });
}

/**
 * What each class looks like to an image model: the input maximising each class's score from
 * noise (L2 penalty, jitter, blur), drawn side by side (three channels in colour, others in grey).
 * Returns classes.svg.
 */
export async function visualizeClasses(
  model: Module,
  profile: ExplanationProfile,
  options: { steps?: number; onClass?: (done: number, total: number) => void } = {},
): Promise<OutputFile> {
  if (profile.modality !== "image") {
    throw new Error(`visualizeClasses: needs an image model, this is ${profile.modality}`);
  }
  const [, H, W] = profile.inputShape, K = profile.classes.length;
  const pixel = Math.max(1, Math.ceil(112 / Math.max(H, W))); // about 112 px an image, as MNIST's digits were drawn
  const maps: Float32Array[] = [];
  for (let c = 0; c < K; c++) {
    const v = await visualizeFeature(model, {
      objective: { class: c },
      shape: profile.inputShape,
      steps: options.steps ?? 200,
      lr: 0.05,
      l2: 0.01,
      seed: c,
    });
    maps.push((await v.image.toArray()) as Float32Array);
    v.image.dispose();
    options.onClass?.(c + 1, K);
  }
  const svg = labelledImages(
    // each from its own min to max: in colour when it has three channels, else its channels' mean in grey
    maps.map((m) =>
      profile.inputShape[0] === 3
        ? rgbImage(colourOf(m, { ...profile, mean: undefined, std: undefined })!, H, W, pixel)
        : greyImage(pictureOf(m, { ...profile, mean: undefined, std: undefined }), H, W, pixel)
    ),
    profile.classes.map((name) => `class ${name}`),
    "What each class looks like to the model (the input that maximises its score)",
    "found by gradient ascent from noise with an L2 penalty, jitter and blur; each image from its own min (black) to max (white)",
  );
  return { name: "classes.svg", data: svg };
}
