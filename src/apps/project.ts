/**
 * `deno task project`'s work: a layer's representations of some examples (or a text model's word
 * embeddings) projected by PCA, t-SNE and UMAP, drawn as scatter plots coloured by label with
 * thumbnails or words, measured (kNN accuracy in the projection and the full space,
 * trustworthiness), and packed as TensorBoard projector embeddings. Returns what to write;
 * examples/project.ts reads the inputs and writes the files.
 */
import type { ExplanationProfile } from "../models/profile.ts";
import type { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Embedding } from "../nn/sequence.ts";
import { noGrad, scope, tensor } from "../tensor/mod.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { representations } from "../inspect/representations.ts";
import { project, type Projection, type ProjectionMethod } from "../inspect/projector.ts";
import { type Separation, separation } from "../inspect/separation.ts";
import type { ProjectorEmbedding } from "../io/projector.ts";
import { greyImage, rgbImage } from "../viz/attribution.ts";
import type { Image } from "../viz/png.ts";
import { scatterPlot } from "../viz/scatter.ts";
import type { Language } from "../viz/strings.ts";
import type { OutputFile } from "./explain.ts";

/** What `projectApp` projects. */
export interface ProjectInputs {
  /** The model (eval mode is set for the run and restored). */
  model: Module;
  /** Its explanation profile (input shape, classes, normalisation, vocabulary). */
  profile: ExplanationProfile;
  /** Examples, row-major [N, ...profile.inputShape]: float inputs, or token ids for a token model. */
  x: Float32Array | Int32Array;
  /** Their labels (indices into profile.classes), if known; otherwise the model's predictions colour the points. */
  y?: Int32Array;
  /** The texts of token examples (shown as the points' words and in TensorBoard's metadata). */
  texts?: string[];
}

/** Options of `projectApp`. */
export interface ProjectAppOptions {
  /**
   * What is projected: "examples" (default: each example's vector at `layer`) or "words" (a
   * token model's embedding matrix, a row a word, coloured by the class the model gives the word
   * alone).
   */
  what?: "examples" | "words";
  /** A module path whose output is the representation; default `defaultLayer`. */
  layer?: string;
  /** The projections (default all three). */
  methods?: ProjectionMethod[];
  /** 2 or 3 coordinates (default 2; the scatter plots draw the first two). */
  dims?: 2 | 3;
  /** How many examples or words (the first N; default 2000). */
  n?: number;
  /** The seed of t-SNE's and UMAP's random numbers (default 0). */
  seed?: number;
  /** t-SNE's gradient (default: exact up to 3,000 points, Barnes–Hut beyond). */
  tsneMethod?: "exact" | "barnes-hut";
  /** Progress lines, for the terminal. */
  log?: (line: string) => void;
}

/** One projection's row of the separation table. */
export interface ProjectionRow extends Separation {
  /** The method. */
  method: ProjectionMethod;
  /** Wall time of the projection in seconds. */
  seconds: number;
  /** t-SNE's final KL divergence. */
  kl?: number;
  /** t-SNE's gradient: "exact" or "barnes-hut". */
  tsneMethod?: "exact" | "barnes-hut";
  /** PCA's explained variance ratios. */
  explainedVarianceRatio?: number[];
}

/** What `projectApp` returns. */
export interface ProjectAppResult {
  /** The files for the output folder: scatter plots (en and zh), separation.json and separation.md. */
  files: OutputFile[];
  /** The TensorBoard projector embeddings (for `writeProjector` next to the run's event files). */
  embeddings: ProjectorEmbedding[];
  /** The separation table. */
  rows: ProjectionRow[];
  /** What was projected, in words: the layer and the vector size. */
  source: { layer: string; description: string; n: number; dim: number };
}

/** The pretty names of the methods. */
const METHOD_TITLE: Record<ProjectionMethod, string> = { pca: "PCA", tsne: "t-SNE", umap: "UMAP" };

/**
 * The default layer, as a description and how to read it: the model's `outputModule` when its
 * profile names one (an autoencoder's encoder: its latent; the hook for issue 19's autoencoders),
 * else the input of the model's last Linear — the vector its classifier reads (the seed CNN's
 * penultimate layer, the text classifier's pooled sentence vector).
 *
 * @example
 * ```ts
 * import { defaultLayer, seedCnn } from "glassbox";
 * const profile = { modality: "image" as const, inputShape: [1, 28, 28], classes: ["0", "1"] };
 * const { path, input } = defaultLayer(seedCnn({ classes: 2 }), profile);
 * if (path !== "9" || !input) throw new Error("the input of the last Linear: the 128 penultimate units");
 * ```
 */
export function defaultLayer(model: Module, profile: ExplanationProfile): { path: string; input: boolean } {
  const latent = (profile as { outputModule?: string }).outputModule;
  if (latent) return { path: latent, input: false };
  const linears = model.namedModules().filter(([, m]) => m instanceof Linear);
  if (!linears.length) return { path: "", input: false }; // no classifier: the model's output
  return { path: linears[linears.length - 1][0], input: true };
}

/** The inputs of the module at `path` for every example, in batches (eval mode, no graph). */
async function moduleInputs(
  model: Module,
  x: Float32Array | Int32Array,
  shape: number[],
  path: string,
  batchSize = 256,
): Promise<{ vectors: Float32Array; dim: number }> {
  const target = model.get(path);
  const n = shape[0], per = shape.slice(1).reduce((a, b) => a * b, 1);
  let captured: Tensor | null = null;
  const handle = target.registerForwardHook((_m, inputs) => {
    captured = inputs[0];
  });
  const restore = model.enterEval();
  let vectors: Float32Array | null = null, dim = 0;
  try {
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      const rows = await scope(async () => {
        const xb = tensor(x.subarray(s * per, (s + b) * per), [b, ...shape.slice(1)], {
          dtype: x instanceof Int32Array ? "int32" : "float32",
        });
        captured = null;
        noGrad(() => model.forward(xb));
        if (!captured) throw new Error(`project: layer "${path}" did not run in the model's forward`);
        return (await (captured as Tensor).toArray()) as Float32Array;
      });
      if (!vectors) {
        dim = rows.length / b;
        vectors = new Float32Array(n * dim);
      }
      vectors.set(rows, s * dim);
    }
  } finally {
    handle.remove();
    restore();
  }
  return { vectors: vectors!, dim };
}

/** The model's predicted class for each example. */
async function predictions(
  model: Module,
  x: Float32Array | Int32Array,
  shape: number[],
): Promise<Int32Array> {
  const out = await representations(model, { data: x, shape });
  const pred = new Int32Array(out.n);
  for (let i = 0; i < out.n; i++) {
    const row = out.vectors.subarray(i * out.dim, (i + 1) * out.dim);
    pred[i] = row.indexOf(Math.max(...row));
  }
  return pred;
}

/** An example's thumbnail: its raw pixels (normalisation undone), grey or RGB. */
function thumbnail(x: Float32Array, i: number, profile: ExplanationProfile): Image {
  const [C, H, W] = profile.inputShape;
  const v = Float32Array.from(x.subarray(i * C * H * W, (i + 1) * C * H * W));
  for (let c = 0; c < C; c++) {
    const m = profile.mean?.[c] ?? 0, s = profile.std?.[c] ?? 1;
    for (let k = 0; k < H * W; k++) v[c * H * W + k] = v[c * H * W + k] * s + m;
  }
  if (C === 3) return rgbImage(v, H, W, 1);
  // grey: raw values mapped to 0..255 over [0, 1] when they lie there, else over their range
  let lo = Infinity, hi = -Infinity;
  for (const a of v.subarray(0, H * W)) lo = Math.min(lo, a), hi = Math.max(hi, a);
  if (lo >= 0 && hi <= 1) {
    const data = new Uint8Array(H * W * 4);
    for (let k = 0; k < H * W; k++) {
      const g = Math.round(255 * v[k]);
      data.set([g, g, g, 255], k * 4);
    }
    return { width: W, height: H, data };
  }
  return greyImage(v.subarray(0, H * W), H, W, 1);
}

const fmt = (v: number) => (v * 100).toFixed(1) + "%";

/** The words of the pictures and the table, by language. */
const WORDS: Record<Language, {
  title: (method: string, what: string) => string;
  caption: (r: ProjectionRow, what: string, by: "label" | "prediction" | "alone") => string;
  examples: (at: { path: string; input: boolean; kind: string }, dim: number) => string;
  words: (dim: number) => string;
  pc: (k: number, share: number) => string;
  firstTwo: string;
}> = {
  en: {
    title: (m, what) => `${m} of ${what}`,
    caption: (r, what, by) =>
      `Each dot is one of ${what}, coloured by ${
        by === "label"
          ? "its true label"
          : by === "prediction"
          ? "the model's prediction"
          : "the class the model predicts for the word alone"
      }; nearby dots had similar vectors. ` +
      `5-nearest-neighbour accuracy: ${fmt(r.knnProjected)} in this picture, ${
        fmt(r.knnFull)
      } in the full space; trustworthiness ${
        r.trustworthiness.toFixed(3)
      } (1 = every neighbour here was a neighbour there).` +
      (r.kl !== undefined ? ` Final KL divergence ${r.kl.toFixed(3)}.` : "") +
      (r.method !== "pca"
        ? " Distances between clusters and cluster sizes mean little in t-SNE and UMAP."
        : ""),
    examples: (at, dim) =>
      !at.path
        ? `the model's outputs (${dim} numbers each)`
        : `the examples ${
          at.input ? "entering" : "leaving"
        } layer ${at.path} (${at.kind}) (${dim} numbers each)`,
    words: (dim) => `the model's word embeddings (${dim} numbers each)`,
    pc: (k, share) => `principal component ${k} (${fmt(share)} of the variance)`,
    firstTwo:
      " The picture shows the first two of the three coordinates; TensorBoard's projector shows all three.",
  },
  zh: {
    title: (m, what) => `${what}的 ${m} 投影`,
    caption: (r, what, by) =>
      `每个点是${what}中的一个，按${
        by === "label" ? "其真实标签" : by === "prediction" ? "模型的预测" : "模型对单独这个词预测的类别"
      }着色；相近的点向量相似。` +
      `5 近邻准确率：本图中 ${fmt(r.knnProjected)}，完整空间中 ${fmt(r.knnFull)}；` +
      `可信度 ${r.trustworthiness.toFixed(3)}（1 表示此图中的每个近邻在完整空间中也是近邻）。` +
      (r.kl !== undefined ? `最终 KL 散度 ${r.kl.toFixed(3)}。` : "") +
      (r.method !== "pca" ? "在 t-SNE 和 UMAP 中，簇之间的距离和簇的大小意义不大。" : ""),
    examples: (at, dim) =>
      !at.path
        ? `模型的输出（每个 ${dim} 个数）`
        : `样本在第 ${at.path} 层（${at.kind}）${at.input ? "输入" : "输出"}处的表示（每个 ${dim} 个数）`,
    words: (dim) => `模型的词嵌入（每个 ${dim} 个数）`,
    pc: (k, share) => `第 ${k} 主成分（占方差的 ${fmt(share)}）`,
    firstTwo: "图中只画出三个坐标中的前两个；TensorBoard 的投影器显示全部三个。",
  },
};

/**
 * Projects a model's representations and returns the pictures, the separation table and the
 * TensorBoard embeddings. For examples: the vectors at `layer` (default `defaultLayer`) of the
 * first N examples, coloured by label (or the prediction when there are no labels), with
 * thumbnails (images) or the texts' first words (tokens). For words: the token embedding's rows
 * except <pad> and <unk>, the first N (the most frequent), coloured by the class the model
 * predicts for the word alone.
 *
 * @example
 * ```ts
 * import { Linear, projectApp, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const profile = { modality: "tabular" as const, inputShape: [4], classes: ["a", "b"] };
 * const x = Float32Array.from({ length: 40 * 4 }, (_, i) => Math.sin(i) + (i % 8 < 4 ? 0 : 3));
 * const r = await projectApp({ model, profile, x }, { methods: ["pca"], n: 40 });
 * if (r.source.dim !== 8 || r.rows[0].method !== "pca") throw new Error("the hidden layer, by PCA");
 * if (!r.files.some((f) => f.name === "pca_zh.svg")) throw new Error("the Chinese picture");
 * ```
 */
export async function projectApp(
  inputs: ProjectInputs,
  options: ProjectAppOptions = {},
): Promise<ProjectAppResult> {
  const { model, profile } = inputs;
  const what = options.what ?? "examples";
  const methods = options.methods ?? ["pca", "tsne", "umap"];
  const dims = options.dims ?? 2;
  const log = options.log ?? (() => {});
  const per = profile.inputShape.reduce((a, b) => a * b, 1);
  let vectors: Float32Array, dim: number, labels: Int32Array, layerName: string;
  let at = { path: "", input: false, kind: "" };
  let images: Image[] | undefined, texts: string[] | undefined;
  const metadata: { columns: string[]; rows: (string | number)[][] } = { columns: [], rows: [] };
  // an autoencoder's profile names its encoder's outputs ("latent 0", …), not classes: its points
  // are coloured by the data's labels, named by their numbers, and it has no prediction
  const noClasses = profile.outputModule !== undefined;
  const className = (k: number) => noClasses ? String(k) : profile.classes[k] ?? String(k);

  if (what === "words") {
    if (profile.modality !== "tokens" || !profile.vocabulary) {
      throw new Error(
        `project: word embeddings need a token model with a vocabulary; this is a ${profile.modality} model`,
      );
    }
    const emb = model.namedModules().find(([, m]) => m instanceof Embedding);
    if (!emb) throw new Error("project: the model has no Embedding layer to take word vectors from");
    const weight = (emb[1] as Embedding).weight;
    const all = (await weight.toArray()) as Float32Array;
    dim = weight.shape[1];
    const ids = profile.vocabulary.map((_, i) => i).filter((i) => i >= 2).slice(0, options.n ?? 2000);
    vectors = new Float32Array(ids.length * dim);
    ids.forEach((id, k) => vectors.set(all.subarray(id * dim, (id + 1) * dim), k * dim));
    // each word alone, as a one-word text of the model's length
    const T = profile.inputShape[0];
    const alone = new Int32Array(ids.length * T);
    ids.forEach((id, k) => (alone[k * T] = id));
    labels = await predictions(model, alone, [ids.length, T]);
    texts = ids.map((id) => profile.vocabulary![id]);
    layerName = emb[0];
    metadata.columns = ["word", "class alone"];
    metadata.rows = ids.map((_, k) => [texts![k], className(labels[k])]);
  } else {
    const total = inputs.x.length / per;
    if (!Number.isInteger(total) || total === 0) {
      throw new Error(
        `project: ${inputs.x.length} input values are not a whole number of [${profile.inputShape}] examples`,
      );
    }
    const n = Math.min(options.n ?? 2000, total);
    const x = inputs.x.subarray(0, n * per) as Float32Array | Int32Array;
    const shape = [n, ...profile.inputShape];
    const layer = options.layer !== undefined
      ? { path: options.layer, input: false }
      : defaultLayer(model, profile);
    log(
      `representations of ${n} examples ${
        layer.path ? `${layer.input ? "entering" : "leaving"} layer ${layer.path}` : "at the model's output"
      }`,
    );
    if (layer.input) ({ vectors, dim } = await moduleInputs(model, x, shape, layer.path));
    else ({ vectors, dim } = await representations(model, { data: x, shape }, { layer: layer.path }));
    at = { ...layer, kind: layer.path ? model.get(layer.path).constructor.name : "" };
    // said as a stranger reads it: "entering layer 9 (Linear)", not "9 (input)"
    layerName = layer.path
      ? `${layer.input ? "entering" : "leaving"} layer ${layer.path} (${at.kind})`
      : "at the model's output";
    if (noClasses && !inputs.y) {
      throw new Error(
        `project: this model's output is not a class (its profile's classes name the outputs of "${profile.outputModule}"); give the examples' labels (y) to colour the points`,
      );
    }
    const pred = noClasses ? new Int32Array(n) : await predictions(model, x, shape);
    labels = inputs.y ? inputs.y.slice(0, n) : pred;
    if (profile.modality === "image") {
      images = Array.from({ length: n }, (_, i) => thumbnail(x as Float32Array, i, profile));
    }
    if (profile.modality === "tokens" && inputs.texts) {
      texts = inputs.texts.slice(0, n).map((t) => t.split(/\s+/).slice(0, 3).join(" "));
    }
    metadata.columns = noClasses ? ["label"] : inputs.y ? ["label", "prediction"] : ["prediction"];
    metadata.rows = Array.from(
      { length: n },
      (_, i) =>
        noClasses
          ? [className(labels[i])]
          : inputs.y
          ? [className(labels[i]), className(pred[i])]
          : [className(pred[i])],
    );
    if (profile.modality === "tokens" && inputs.texts) {
      metadata.columns.push("text");
      metadata.rows.forEach((r, i) => r.push(inputs.texts![i]));
    }
  }
  const n = vectors.length / dim;
  const lbl = Array.from(labels);
  const labelNames = Array.from({ length: lbl.reduce((a, b) => Math.max(a, b), 0) + 1 }, (_, k) => String(k));
  const rows: ProjectionRow[] = [];
  const files: OutputFile[] = [];
  const projections: [ProjectionMethod, Projection][] = [];
  for (const method of methods) {
    log(`${METHOD_TITLE[method]} of ${n} vectors of ${dim} numbers…`);
    const p = await project(vectors, dim, {
      method,
      dims,
      seed: options.seed,
      perplexity: Math.min(30, Math.floor((n - 1) / 3)),
      tsneMethod: options.tsneMethod ?? (n <= 3000 ? "exact" : "barnes-hut"),
      nNeighbors: Math.min(15, n - 1),
    });
    const sep = separation(vectors, dim, p.coords, dims, lbl, Math.min(5, Math.ceil(n / 2) - 1));
    const row: ProjectionRow = {
      method,
      seconds: p.info.seconds,
      ...sep,
      ...(p.info.kl !== undefined
        ? {
          kl: p.info.kl,
          tsneMethod: options.tsneMethod ?? (n <= 3000 ? "exact" as const : "barnes-hut" as const),
        }
        : {}),
      ...(p.info.explainedVarianceRatio ? { explainedVarianceRatio: p.info.explainedVarianceRatio } : {}),
    };
    rows.push(row);
    projections.push([method, p]);
    log(
      `  ${p.info.seconds.toFixed(1)} s; kNN ${fmt(sep.knnProjected)} (full space ${
        fmt(sep.knnFull)
      }), trustworthiness ${sep.trustworthiness.toFixed(3)}`,
    );
    for (const lang of ["en", "zh"] as const) {
      const W = WORDS[lang];
      const whatText = what === "words" ? W.words(dim) : W.examples(at, dim);
      const points = Array.from({ length: n }, (_, i) => ({
        x: p.coords[i * dims],
        y: p.coords[i * dims + 1],
        label: labels[i],
        ...(images ? { image: images[i] } : {}),
        ...(texts ? { text: texts[i] } : {}),
      }));
      const evr = p.info.explainedVarianceRatio;
      files.push({
        name: `${method}_${lang}.svg`,
        data: scatterPlot(points, {
          title: W.title(METHOD_TITLE[method], whatText),
          caption: W.caption(row, whatText, what === "words" ? "alone" : inputs.y ? "label" : "prediction") +
            (dims === 3 ? W.firstTwo : ""),
          classNames: noClasses ? labelNames : profile.classes,
          lang,
          thumbnail: 20,
          maxAnnotations: 60,
          ...(evr ? { xLabel: W.pc(1, evr[0]), yLabel: W.pc(2, evr[1]) } : {}),
        }),
      });
    }
  }
  const description = what === "words" ? WORDS.en.words(dim) : WORDS.en.examples(at, dim);
  files.push({
    name: "separation.json",
    data: JSON.stringify({ source: { layer: layerName, n, dim, what }, rows }, null, 2) + "\n",
  });
  files.push({ name: "separation.md", data: separationTable(rows, description, n) });
  const tag = what === "words" ? "word embeddings" : `examples ${layerName}`;
  const embeddings: ProjectorEmbedding[] = [
    { name: tag, vectors, dim, metadata, ...(images ? { images } : {}) },
    ...projections.map(([m, p]) => ({
      name: `${tag} ${METHOD_TITLE[m]} (glassbox)`,
      vectors: p.coords,
      dim: dims,
      metadata,
      ...(images ? { images } : {}),
    })),
  ];
  return { files, embeddings, rows, source: { layer: layerName, description, n, dim } };
}

/**
 * The separation table as Markdown: a row per projection.
 *
 * @example
 * ```ts
 * import { separationTable } from "glassbox";
 * const md = separationTable([{ method: "pca", seconds: 0.2, k: 5, knnFull: 0.98, knnProjected: 0.7, trustworthiness: 0.85 }], "digits", 500);
 * if (!md.includes("| PCA | 70.0% | 98.0% | 0.850 |")) throw new Error(md);
 * ```
 */
export function separationTable(rows: ProjectionRow[], description: string, n: number): string {
  const lines = [
    `# How well the projections keep the classes apart`,
    "",
    `${n} points: ${description}. kNN: leave-one-out accuracy of a ${
      rows[0]?.k ?? 5
    }-nearest-neighbour vote; ` +
    `trustworthiness (Venna & Kaski; scikit-learn's definition): 1 when every neighbour in the projection was a neighbour in the full space.`,
    "",
    "| method | kNN in the projection | kNN in the full space | trustworthiness | seconds | notes |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${METHOD_TITLE[r.method]} | ${fmt(r.knnProjected)} | ${fmt(r.knnFull)} | ${
        r.trustworthiness.toFixed(3)
      } | ${r.seconds.toFixed(1)} | ${
        r.kl !== undefined
          ? `final KL ${r.kl.toFixed(3)} (${
            r.tsneMethod === "barnes-hut" ? "Barnes–Hut, angle 0.5" : "exact"
          })`
          : r.explainedVarianceRatio
          ? `variance explained ${r.explainedVarianceRatio.map(fmt).join(", ")}`
          : ""
      } |`
    ),
  ];
  return lines.join("\n") + "\n";
}
