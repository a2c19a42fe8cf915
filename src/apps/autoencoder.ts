/**
 * The autoencoder program as library code: `trainAutoencoder` trains a `ConvAutoencoder` or a
 * `VAE` with Adam on shuffled mini-batches (the progress, gradient tracking and per-epoch files
 * of `trainClassifier`), and `autoencoderPictures` looks inside the trained model —
 * reconstructions beside their inputs with the per-pixel error, latent traversals, the latent
 * space coloured by label, an interpolation in latent space, Integrated Gradients on each latent
 * unit, and the test images it reconstructs worst. Both write nothing: they return the files.
 * Everything model-specific comes from the model and its profile.
 */
import type { Alarm } from "../inspect/alarms.ts";
import type { StepRecord } from "../inspect/records.ts";
import { RUN_FILES } from "../inspect/run_log.ts";
import { project } from "../inspect/projector.ts";
import { trackGradients } from "../inspect/tracker.ts";
import { attributionMethod } from "../explain/methods.ts";
import { type ConvAutoencoder, klDivergence, VAE } from "../models/autoencoder.ts";
import { encodeModel } from "../models/persist.ts";
import { type ExplanationProfile, validateProfile } from "../models/profile.ts";
import type { Dataset } from "../nn/evaluate.ts";
import { Adam } from "../optim/adam.ts";
import { CosineAnnealingLR } from "../optim/schedule.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { Generator } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { attributionGrid, colorKey, heatmapImage, rgbImage } from "../viz/attribution.ts";
import { imageTable } from "../viz/image_table.ts";
import { type Language, methodName } from "../viz/strings.ts";
import { scatterPlot } from "../viz/scatter.ts";
import type { OutputFile } from "./explain.ts";
import type { StepProgress } from "./train.ts";

/** An autoencoder glassbox trains: the plain one or the variational one. */
export type Autoencoder = ConvAutoencoder | VAE;

/** Options of `trainAutoencoder`; every one has a default. */
export interface AutoencoderTrainOptions {
  /** Epochs (default 3). */
  epochs?: number;
  /** Mini-batch size (default 64). */
  batchSize?: number;
  /** Adam's learning rate (default 0.002). */
  lr?: number;
  /** "cosine" (annealed to 0 over the epochs, stepped per epoch) or "none" (default "cosine"). */
  schedule?: "cosine" | "none";
  /** Seed of the shuffling and of the VAE's samples (the initialisation is the caller's; default 0). */
  seed?: number;
  /** Record gradient statistics every N steps (default 1; 0 turns tracking off). */
  trackEvery?: number;
  /** Test examples evaluated after each epoch (default all). */
  testExamples?: number;
  /** The VAE's weight of the KL term (default 1, the evidence lower bound). */
  beta?: number;
}

/** The test evaluation of an autoencoder (`evaluateAutoencoder`). */
export interface AutoencoderEvaluation {
  /** Mean per-example loss: reconstruction + β·KL for a VAE (decoding the mean μ), reconstruction for an autoencoder. */
  loss: number;
  /** Mean per-example reconstruction loss: the binary cross-entropy summed over an image's pixels. */
  reconstruction: number;
  /** Mean per-example KL divergence from the prior (a VAE; 0 for an autoencoder). */
  kl: number;
  /** Per example: the mean squared error of the reconstruction over its pixels (the anomaly score). */
  errors: Float32Array;
  /** Examples evaluated. */
  count: number;
}

/** What one finished epoch leaves. */
export interface AutoencoderEpoch {
  /** The epoch, from 1. */
  epoch: number;
  /** The test evaluation. */
  evaluation: AutoencoderEvaluation;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** The learning rate the epoch ran with. */
  lr: number;
  /** checkpoint.safetensors (with the profile), history.json and metrics.json as of this epoch: write them together. */
  files: OutputFile[];
  /** One line for people. */
  line: string;
}

/** What `trainAutoencoder` tells its caller while it runs (promises are awaited). */
export interface AutoencoderHooks {
  /** After every step. */
  onStep?: (p: StepProgress) => void;
  /** After every epoch's evaluation, with the files to write. */
  onEpoch?: (e: AutoencoderEpoch) => void | Promise<void>;
  /** The tracker's records and alarms, every 100 steps and after each epoch. */
  onTrack?: (records: StepRecord[], alarms: Alarm[]) => void | Promise<void>;
  /** An alarm as it is raised. */
  onAlarm?: (a: Alarm) => void;
}

/** What `trainAutoencoder` returns. */
export interface AutoencoderTrainResult {
  /** Per-step losses and per-epoch numbers (history.json). */
  history: { steps: number[]; epochs: Record<string, number>[] };
  /** The last epoch's metrics.json. */
  metrics: Record<string, unknown>;
  /** The last epoch's test evaluation. */
  evaluation: AutoencoderEvaluation;
  /** The last epoch's files (as `onEpoch` got them). */
  files: OutputFile[];
  /** The tracker's alarms in all. */
  alarms: Alarm[];
  /** Seconds the training took. */
  seconds: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function check(what: string, d: Dataset, profile: ExplanationProfile, model: Autoencoder): void {
  if (
    d.sampleShape.join() !== profile.inputShape.join() || d.sampleShape.join() !== model.inputShape.join()
  ) {
    throw new Error(
      `autoencoder: the ${what} examples are [${d.sampleShape.join(", ")}], the model's input is [${
        model.inputShape.join(", ")
      }] and the profile's [${profile.inputShape.join(", ")}]`,
    );
  }
  if (d.y.length === 0) throw new Error(`autoencoder: the ${what} set is empty`);
  if (d.x.length < d.y.length * size(d.sampleShape)) {
    throw new Error(`autoencoder: the ${what} set has ${d.y.length} labels but only ${d.x.length} values`);
  }
  for (let i = 0; i < d.y.length * size(d.sampleShape); i++) {
    if (!(d.x[i] >= 0 && d.x[i] <= 1)) {
      throw new Error(
        `autoencoder: ${what} value ${i} is ${
          d.x[i]
        }; an autoencoder's pixels are in [0, 1] (its loss is a cross-entropy)`,
      );
    }
  }
}

/** Rows [start, end) of a dataset's examples as a tensor [end − start, ...shape]. */
function rowsOf(x: Float32Array, shape: readonly number[], start: number, end: number): Tensor {
  const per = size(shape);
  return tensor(x.subarray(start * per, end * per), [end - start, ...shape]);
}

/**
 * The test evaluation of an autoencoder: the mean loss, its reconstruction and KL parts
 * (a VAE's reconstruction decodes the posterior mean μ, so it is deterministic), and each
 * example's mean squared reconstruction error.
 *
 * @example
 * ```ts
 * import { ConvAutoencoder, evaluateAutoencoder } from "glassbox";
 * const ae = new ConvAutoencoder({ latent: 2, height: 8, width: 8, filters: 2 });
 * const data = { x: new Float32Array(3 * 64).fill(0.5), y: new Int32Array(3), sampleShape: [1, 8, 8] };
 * const ev = await evaluateAutoencoder(ae, data);
 * if (ev.errors.length !== 3 || !(ev.loss > 0) || ev.kl !== 0) throw new Error("evaluation");
 * ```
 */
export async function evaluateAutoencoder(
  model: Autoencoder,
  data: Dataset,
  options: { limit?: number; batchSize?: number; beta?: number } = {},
): Promise<AutoencoderEvaluation> {
  const n = Math.min(options.limit ?? data.y.length, data.y.length), bs = options.batchSize ?? 256;
  const beta = options.beta ?? 1;
  const errors = new Float32Array(n);
  let rec = 0, kl = 0;
  const restore = model.enterEval();
  try {
    for (let s = 0; s < n; s += bs) {
      const e = Math.min(n, s + bs);
      await scope(async () => {
        const xb = rowsOf(data.x, data.sampleShape, s, e);
        const [r, k, err] = noGrad(() => {
          if (model instanceof VAE) {
            const { mu, logvar } = model.encode(xb);
            const recon = model.lossTerms(xb, mu);
            return [recon.reconstruction, klDivergence(mu, logvar), recon.squaredError];
          }
          const recon = model.lossTerms(xb, model.encoder.forward(xb));
          return [recon.reconstruction, null, recon.squaredError];
        });
        const rv = await r.toArray(), ev = await err.toArray();
        for (let i = 0; i < rv.length; i++) rec += rv[i];
        errors.set(ev, s);
        if (k) { for (const v of await k.toArray()) kl += v; }
      });
    }
  } finally {
    restore();
  }
  return { loss: (rec + beta * kl) / n, reconstruction: rec / n, kl: kl / n, errors, count: n };
}

/**
 * Trains `model` (a `ConvAutoencoder` or a `VAE`, built by `createModel` so its checkpoint can
 * be loaded) in place on images in [0, 1] and returns its history and last metrics; after
 * each epoch `hooks.onEpoch` gets the checkpoint (with the profile), history and metrics to
 * write. The loss per example is the reconstruction's binary cross-entropy summed over its
 * pixels, plus β·KL for a VAE (`vaeLoss`), averaged over the batch.
 *
 * @example
 * ```ts
 * import { autoencoderProfile, createModel, decodeModel, trainAutoencoder, type VAE } from "glassbox";
 * const vae = createModel("vae", { latent: 2, height: 8, width: 8, filters: 2 }) as VAE;
 * const x = Float32Array.from({ length: 16 * 64 }, (_, i) => (i % 3 ? 0 : 1));
 * const data = { x, y: new Int32Array(16), sampleShape: [1, 8, 8] };
 * const r = await trainAutoencoder(vae, autoencoderProfile(vae), { train: data, test: data }, { epochs: 1, batchSize: 8, trackEvery: 0 });
 * if (r.history.steps.length !== 2 || !(r.evaluation.kl >= 0)) throw new Error("trained");
 * const ckpt = r.files.find((f) => f.name === "checkpoint.safetensors")!.data as Uint8Array;
 * if (decodeModel(ckpt).profile?.outputModule !== "encoder") throw new Error("the profile did not travel");
 * ```
 */
export async function trainAutoencoder(
  model: Autoencoder,
  profileIn: ExplanationProfile,
  data: { train: Dataset; test: Dataset },
  options: AutoencoderTrainOptions = {},
  hooks: AutoencoderHooks = {},
): Promise<AutoencoderTrainResult> {
  const profile = validateProfile(profileIn);
  check("training", data.train, profile, model);
  check("test", data.test, profile, model);
  const shape = profile.inputShape, per = size(shape);
  const epochs = options.epochs ?? 3, bs = options.batchSize ?? 64, seed = options.seed ?? 0;
  const trackEvery = options.trackEvery ?? 1, beta = options.beta ?? 1;
  for (const [what, v] of [["epochs", epochs], ["batchSize", bs]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new Error(`autoencoder: ${what} must be a whole number ≥ 1, got ${v}`);
    }
  }
  if (!(Number.isFinite(beta) && beta >= 0)) throw new Error(`autoencoder: beta must be ≥ 0, got ${beta}`);
  const vae = model instanceof VAE;
  const train = data.train, test = data.test, nTrain = train.y.length;
  const nTest = Math.min(options.testExamples ?? test.y.length, test.y.length);
  const opt = new Adam(model.parameters(), { lr: options.lr ?? 0.002 });
  const sched = (options.schedule ?? "cosine") === "cosine" ? new CosineAnnealingLR(opt, epochs, 0) : null;
  const rng = new Generator(seed + 1), noise = new Generator(seed + 2);
  const rate = profile.modality === "image" ? "img/s" : "examples/s";
  const tracker = trackEvery > 0
    ? trackGradients(model, { every: trackEvery, onAlarm: hooks.onAlarm })
    : null;
  const history: AutoencoderTrainResult["history"] = { steps: [], epochs: [] };
  const drain = async () => {
    if (!tracker) return;
    const alarms = await tracker.flush();
    await hooks.onTrack?.(tracker.records.splice(0), alarms);
  };
  const json = (v: unknown) => JSON.stringify(v, null, 1);
  const t0 = performance.now();
  let last:
    | { evaluation: AutoencoderEvaluation; metrics: Record<string, unknown>; files: OutputFile[] }
    | undefined;
  const x = new Float32Array(bs * per);
  try {
    for (let e = 0; e < epochs; e++) {
      const order = rng.shuffle(Array.from({ length: nTrain }, (_, i) => i));
      const steps = Math.ceil(nTrain / bs);
      let seen = 0, lossSum = 0, klSum = 0, klSeen = 0;
      const te = performance.now();
      for (let s = 0; s < steps; s++) {
        const idx = order.slice(s * bs, (s + 1) * bs);
        idx.forEach((k, i) => x.set(train.x.subarray(k * per, (k + 1) * per), i * per));
        const [loss, kl] = await scope(async () => {
          const xb = tensor(x.subarray(0, idx.length * per), [idx.length, ...shape]);
          opt.zeroGrad();
          const r = vae ? (model as VAE).loss(xb, noise, beta) : (model as ConvAutoencoder).loss(xb);
          await r.loss.backward();
          opt.step();
          const v = await r.loss.item();
          // the KL part every 10 steps (a second readback)
          const k = "kl" in r && s % 10 === 0 ? await mean(r.kl as Tensor).item() : NaN;
          return [v, k];
        });
        if (!Number.isFinite(loss)) {
          throw new Error(`autoencoder: the loss became ${loss} at step ${history.steps.length + 1}`);
        }
        history.steps.push(loss);
        lossSum += loss * idx.length;
        seen += idx.length;
        if (Number.isFinite(kl)) (klSum += kl), klSeen++;
        const done = s + 1, speed = seen / ((performance.now() - te) / 1000);
        const eta = ((steps - done) * idx.length) / speed + (epochs - e - 1) * nTrain / speed;
        hooks.onStep?.({
          epoch: e + 1,
          epochs,
          step: done,
          steps,
          globalStep: history.steps.length,
          loss,
          line: `epoch ${e + 1}/${epochs} step ${done}/${steps} loss ${(lossSum / seen).toFixed(2)}${
            vae && klSeen ? ` (KL ${(klSum / klSeen).toFixed(2)})` : ""
          } ${speed.toFixed(0)} ${rate} ETA ${eta.toFixed(0)}s`,
        });
        if (history.steps.length % 100 === 0) await drain();
      }
      const ev = await evaluateAutoencoder(model, test, { limit: nTest, beta });
      history.epochs.push({
        epoch: e + 1,
        trainLoss: lossSum / seen,
        testLoss: ev.loss,
        testReconstruction: ev.reconstruction,
        ...(vae ? { testKl: ev.kl } : {}),
        testMeanSquaredError: ev.errors.reduce((a, b) => a + b, 0) / ev.count,
        lr: opt.lr,
      });
      const seconds = (performance.now() - t0) / 1000;
      const metrics = {
        kind: vae ? "vae" : "autoencoder",
        latent: model.latent,
        testLoss: ev.loss,
        testReconstruction: ev.reconstruction,
        ...(vae ? { testKl: ev.kl, beta } : {}),
        testMeanSquaredError: ev.errors.reduce((a, b) => a + b, 0) / ev.count,
        lossNote: vae
          ? "per example: binary cross-entropy summed over the pixels (decoding the mean) + beta · KL"
          : "per example: binary cross-entropy summed over the pixels",
        testImages: nTest,
        epochs: e + 1,
        // true until the last epoch is written: what an interrupted run leaves says so
        stopped: e + 1 < epochs,
        seconds,
        imagesPerSecond: seen * (e + 1) / seconds,
      };
      const files: OutputFile[] = [
        {
          name: RUN_FILES.checkpoint,
          data: await encodeModel(model, {
            metadata: { epoch: String(e + 1), testLoss: String(ev.loss) },
            profile,
          }),
        },
        { name: RUN_FILES.history, data: json(history) },
        { name: RUN_FILES.metrics, data: json(metrics) },
      ];
      last = { evaluation: ev, metrics, files };
      await hooks.onEpoch?.({
        epoch: e + 1,
        evaluation: ev,
        trainLoss: lossSum / seen,
        lr: opt.lr,
        files,
        line: `epoch ${e + 1}: train loss ${(lossSum / seen).toFixed(2)}, test loss ${ev.loss.toFixed(2)}${
          vae ? ` (reconstruction ${ev.reconstruction.toFixed(2)} + KL ${ev.kl.toFixed(2)})` : ""
        } per image`,
      });
      await drain();
      sched?.step();
    }
    await drain();
  } finally {
    tracker?.remove();
  }
  return {
    history,
    metrics: last!.metrics,
    evaluation: last!.evaluation,
    files: last!.files,
    alarms: tracker ? [...tracker.alarms] : [],
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The words of the pictures, in English and Chinese. */
interface AeStrings {
  input: string;
  reconstruction: string;
  error: string;
  errorKey: string;
  reconTitle: string;
  reconCaption: string;
  label: (l: string) => string;
  mse: (v: number) => string;
  traversalTitle: string;
  traversalCaption: (steps: number) => string;
  unit: (j: number) => string;
  sigma: (s: number) => string;
  spaceTitle: (pca: boolean) => string;
  spaceCaption: (pca: boolean, n: number) => string;
  axis: (pca: boolean, k: number, variance: number) => string;
  interpolationTitle: string;
  interpolationCaption: (a: string, b: string) => string;
  start: (l: string) => string;
  end: (l: string) => string;
  attributionTitle: (method: string) => string;
  attributionKey: string;
  anomalyTitle: string;
  anomalyCaption: (n: number, count: number) => string;
  anomalyLabel: (index: number, l: string) => string;
  decoded: string;
  comma: string;
}

const AE_STRINGS: Record<Language, AeStrings> = {
  en: {
    input: "input",
    reconstruction: "reconstruction",
    error: "error",
    errorKey: "reconstruction − input: red too bright, blue too dark",
    reconTitle: "Reconstructions beside their inputs",
    reconCaption:
      "Top: test images; middle: what the autoencoder makes of them; bottom: the per-pixel error (same colours for all).",
    label: (l) => `label ${l}`,
    mse: (v) => `MSE ${v.toFixed(3)}`,
    traversalTitle: "Latent traversals",
    traversalCaption: (s) =>
      `Each row decodes one latent unit moved from −3σ to +3σ of its test distribution in ${s} steps; the other units stay at their mean.`,
    unit: (j) => `latent ${j}`,
    sigma: (s) => (s === 0 ? "mean" : `${s > 0 ? "+" : "−"}${Math.abs(s).toFixed(1)}σ`),
    spaceTitle: (pca) => (pca ? "The latent space (first two principal components)" : "The latent space"),
    spaceCaption: (pca, n) =>
      `${n} test images placed by their latent code${
        pca ? " projected on its two principal components" : ""
      }.`,
    axis: (pca, k, v) =>
      pca ? `principal component ${k + 1} (${(100 * v).toFixed(0)}% of the variance)` : `latent ${k}`,
    interpolationTitle: "Interpolation in latent space",
    interpolationCaption: (a, b) =>
      `Decoding the straight line between the latent codes of a test ${a} (left) and a test ${b} (right).`,
    start: (l) => `input (${l})`,
    end: (l) => `input (${l})`,
    attributionTitle: (m) => `Which pixels drive each latent unit (${m} on the encoder)`,
    attributionKey: "signed: red raises the latent unit's value, blue lowers it (baseline: a black image)",
    anomalyTitle: "Anomalies: the test images reconstructed worst",
    anomalyCaption: (n, count) =>
      `The ${n} of ${count} test images with the largest mean squared reconstruction error, with their error maps.`,
    anomalyLabel: (i, l) => `#${i}, label ${l}`,
    decoded: "decoded",
    comma: ", ",
  },
  zh: {
    input: "输入",
    reconstruction: "重建",
    error: "误差",
    errorKey: "重建 − 输入：红色偏亮，蓝色偏暗",
    reconTitle: "重建图像与输入对照",
    reconCaption: "上：测试图像；中：自编码器的重建；下：逐像素误差（所有图用同一色标）。",
    label: (l) => `标签 ${l}`,
    mse: (v) => `均方误差 ${v.toFixed(3)}`,
    traversalTitle: "潜变量遍历",
    traversalCaption: (s) =>
      `每行把一个潜变量从其测试分布的 −3σ 移到 +3σ（共 ${s} 步）并解码；其余潜变量保持均值。`,
    unit: (j) => `潜变量 ${j}`,
    sigma: (s) => (s === 0 ? "均值" : `${s > 0 ? "+" : "−"}${Math.abs(s).toFixed(1)}σ`),
    spaceTitle: (pca) => (pca ? "潜空间（前两个主成分）" : "潜空间"),
    spaceCaption: (pca, n) => `${n} 张测试图像按其潜编码${pca ? "在前两个主成分上的投影" : ""}放置。`,
    axis: (pca, k, v) => (pca ? `主成分 ${k + 1}（方差的 ${(100 * v).toFixed(0)}%）` : `潜变量 ${k}`),
    interpolationTitle: "潜空间插值",
    interpolationCaption: (a, b) => `对测试图像 ${a}（左）与 ${b}（右）的潜编码之间的直线逐点解码。`,
    start: (l) => `输入（${l}）`,
    end: (l) => `输入（${l}）`,
    attributionTitle: (m) => `哪些像素驱动每个潜变量（对编码器使用 ${m}）`,
    attributionKey: "有符号：红色使潜变量增大，蓝色使其减小（基线：全黑图像）",
    anomalyTitle: "异常：重建最差的测试图像",
    anomalyCaption: (n, count) => `${count} 张测试图像中重建均方误差最大的 ${n} 张及其误差图。`,
    anomalyLabel: (i, l) => `#${i}，标签 ${l}`,
    decoded: "解码",
    comma: "，",
  },
};

/** Reconstructions of some examples, with their error maps. */
export interface ReconstructionRows {
  /** The examples' indices. */
  indices: number[];
  /** Each input, [C·H·W]. */
  inputs: Float32Array[];
  /** Each reconstruction, [C·H·W] in (0, 1). */
  reconstructions: Float32Array[];
  /** Each error map, reconstruction − input averaged over the channels, [H·W]. */
  errorMaps: Float32Array[];
  /** Each example's mean squared error over its pixels. */
  errors: number[];
}

/**
 * The reconstructions of the examples `indices` of `data` and their per-pixel error maps
 * (reconstruction − input, averaged over channels; the VAE decodes its mean).
 *
 * @example
 * ```ts
 * import { ConvAutoencoder, reconstructionRows } from "glassbox";
 * const ae = new ConvAutoencoder({ latent: 2, height: 4, width: 4, filters: 2 });
 * const data = { x: new Float32Array(2 * 16).fill(1), y: new Int32Array(2), sampleShape: [1, 4, 4] };
 * const r = await reconstructionRows(ae, data, [1]);
 * const e = r.reconstructions[0][5] - 1;
 * if (Math.abs(r.errorMaps[0][5] - e) > 1e-6) throw new Error("error map");
 * ```
 */
export async function reconstructionRows(
  model: Autoencoder,
  data: Dataset,
  indices: number[],
): Promise<ReconstructionRows> {
  const shape = data.sampleShape, per = size(shape), [C] = shape, plane = per / C;
  const x = new Float32Array(indices.length * per);
  indices.forEach((k, i) => x.set(data.x.subarray(k * per, (k + 1) * per), i * per));
  const restore = model.enterEval();
  let recon: Float32Array;
  try {
    recon = await scope(async () => {
      const out = noGrad(() => model.forward(tensor(x, [indices.length, ...shape])));
      return Float32Array.from(await out.toArray());
    });
  } finally {
    restore();
  }
  const out: ReconstructionRows = { indices, inputs: [], reconstructions: [], errorMaps: [], errors: [] };
  indices.forEach((_, i) => {
    const a = x.slice(i * per, (i + 1) * per), r = recon.slice(i * per, (i + 1) * per);
    const map = new Float32Array(plane);
    let se = 0;
    for (let p = 0; p < per; p++) {
      const d = r[p] - a[p];
      map[p % plane] += d / C;
      se += d * d;
    }
    out.inputs.push(a);
    out.reconstructions.push(r);
    out.errorMaps.push(map);
    out.errors.push(se / per);
  });
  return out;
}

/**
 * The latent codes a traversal decodes: for each unit j (row block j) and each value
 * mean[j] + s·std[j] of `sigmas`, the mean code with unit j replaced — the other units stay at
 * their mean. Returns [units · sigmas, L] row-major.
 *
 * @example
 * ```ts
 * import { traversalCodes } from "glassbox";
 * const z = traversalCodes([1, 2], [0.5, 1], [-1, 1]);
 * if (z.join() !== "0.5,2,1.5,2,1,1,1,3") throw new Error(z.join());
 * ```
 */
export function traversalCodes(
  mean: ArrayLike<number>,
  std: ArrayLike<number>,
  sigmas: readonly number[],
  units: readonly number[] = Array.from({ length: mean.length }, (_, j) => j),
): Float32Array {
  const L = mean.length, out = new Float32Array(units.length * sigmas.length * L);
  units.forEach((j, u) =>
    sigmas.forEach((s, k) => {
      const row = (u * sigmas.length + k) * L;
      for (let i = 0; i < L; i++) out[row + i] = mean[i];
      out[row + j] = mean[j] + s * std[j];
    })
  );
  return out;
}

/** The latent codes (a VAE's posterior means) of the first `n` examples: [n · L]. */
export async function latentCodes(
  model: Autoencoder,
  data: Dataset,
  n: number,
  batch = 256,
): Promise<Float32Array> {
  const L = model.latent, out = new Float32Array(n * L);
  const restore = model.enterEval();
  try {
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      await scope(async () => {
        const z = noGrad(() => model.encoder.forward(rowsOf(data.x, data.sampleShape, s, e)));
        out.set(await z.toArray(), s * L);
      });
    }
  } finally {
    restore();
  }
  return out;
}

/** Decodes latent codes [n · L] to images [n · C·H·W]. */
export async function decodeCodes(model: Autoencoder, codes: Float32Array): Promise<Float32Array> {
  const n = codes.length / model.latent;
  const restore = model.enterEval();
  try {
    return await scope(async () => {
      const out = noGrad(() => model.decoder.forward(tensor(codes, [n, model.latent])));
      return Float32Array.from(await out.toArray());
    });
  } finally {
    restore();
  }
}

/**
 * Where each code goes in the latent-space picture: the code itself when the latent has one or
 * two units, else its first two principal components (`project`), with the axes' names.
 */
async function latentPlane(
  codes: Float32Array,
  L: number,
  t: AeStrings,
): Promise<{ xy: ArrayLike<number>; xLabel: string; yLabel: string; pca: boolean }> {
  if (L <= 2) {
    const n = codes.length / L, xy = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) (xy[2 * i] = codes[i * L]), (xy[2 * i + 1] = L === 2 ? codes[i * L + 1] : 0);
    return { xy, xLabel: t.axis(false, 0, 0), yLabel: L === 2 ? t.axis(false, 1, 0) : "", pca: false };
  }
  const p = await project(codes, L, { method: "pca", dims: 2 });
  const ratio = p.info.explainedVarianceRatio ?? [NaN, NaN];
  return { xy: p.coords, xLabel: t.axis(true, 0, ratio[0]), yLabel: t.axis(true, 1, ratio[1]), pca: true };
}

/** Options of `autoencoderPictures`. */
export interface AutoencoderPicturesOptions {
  /** The language of the pictures' words (default "en"). */
  lang?: Language;
  /** The names of the labels (default "0", "1", …: the label's number). */
  labelNames?: string[];
  /** Test examples encoded for the latent space and the anomalies (default all). */
  examples?: number;
  /** Examples in the reconstruction picture (default 10: the first of each label, then the next ones). */
  shown?: number;
  /** Anomalies shown (default 8). */
  anomalies?: number;
  /** Values per traversal, −3σ … +3σ (default 7). */
  traversalSteps?: number;
  /** Latent units shown in traversals and attributions (default the first 10). */
  units?: number;
  /** Interpolation points between the two images (default 9). */
  interpolationSteps?: number;
  /** Integrated Gradients' steps (default the registry's). */
  igSteps?: number;
  /** Examples explained by Integrated Gradients (default 3). */
  igExamples?: number;
}

/** What `autoencoderPictures` returns: the files to write and the numbers behind them. */
export interface AutoencoderPictures {
  /** The SVG pictures and anomalies.json, by file name. */
  files: OutputFile[];
  /** Each encoded example's mean squared reconstruction error. */
  errors: Float32Array;
  /** The examples with the largest error, worst first. */
  anomalies: { index: number; label: number; error: number }[];
  /** The latent codes' mean and standard deviation per unit over the encoded examples. */
  latentMean: Float64Array;
  /** See `latentMean`. */
  latentStd: Float64Array;
  /** The codes the traversal decoded ([units · steps, L]). */
  traversal: Float32Array;
}

/**
 * The pictures of a trained autoencoder on test data `test` (images in [0, 1], labels for
 * colour): reconstructions.svg, traversals.svg, latent_space.svg, interpolation.svg,
 * latent_attributions.svg (Integrated Gradients from the method registry on each latent unit
 * of `model.encoder`) and anomalies.svg, with anomalies.json. Each has a title and a sentence
 * saying what it shows.
 */
export async function autoencoderPictures(
  model: Autoencoder,
  profile: ExplanationProfile,
  test: Dataset,
  options: AutoencoderPicturesOptions = {},
): Promise<AutoencoderPictures> {
  const t = AE_STRINGS[options.lang ?? "en"];
  const shape = test.sampleShape, [C, h, w] = shape, per = size(shape), L = model.latent;
  const n = Math.min(options.examples ?? test.y.length, test.y.length);
  const names = (l: number) => options.labelNames?.[l] ?? String(l);
  const px = Math.max(1, Math.round(56 / Math.max(h, w)));
  const picture = (v: Float32Array) =>
    C === 3
      ? rgbImage(v, h, w, px)
      : rgbImage(new Float32Array(3 * h * w).map((_, i) => v[i % (h * w)]), h, w, px);
  const errorImage = (m: Float32Array) => heatmapImage(m, h, w, { signed: true, scale: 1, pixel: px });
  const key = colorKey("diverging", ["−1", "+1"], t.errorKey);
  const files: OutputFile[] = [];

  // the codes and errors of every example
  const codes = await latentCodes(model, test, n);
  const ev = await evaluateAutoencoder(model, test, { limit: n });
  const latentMean = new Float64Array(L), latentStd = new Float64Array(L);
  for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) latentMean[j] += codes[i * L + j] / n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) latentStd[j] += (codes[i * L + j] - latentMean[j]) ** 2 / n;
  }
  latentStd.forEach((v, j) => (latentStd[j] = Math.sqrt(v)));

  // reconstructions: the first example of each label, then the next ones
  const shown = Math.min(options.shown ?? 10, n);
  const picks: number[] = [];
  const labels = [...new Set(Array.from(test.y.subarray(0, n)))].sort((a, b) => a - b);
  for (const l of labels) {
    const i = test.y.subarray(0, n).indexOf(l);
    if (picks.length < shown) picks.push(i);
  }
  for (let i = 0; i < n && picks.length < shown; i++) if (!picks.includes(i)) picks.push(i);
  const rec = await reconstructionRows(model, test, picks);
  files.push({
    name: "reconstructions.svg",
    data: imageTable(
      [rec.inputs.map(picture), rec.reconstructions.map(picture), rec.errorMaps.map(errorImage)],
      {
        title: t.reconTitle,
        caption: t.reconCaption,
        rowLabels: [t.input, t.reconstruction, t.error],
        columnLabels: picks.map((k, i) => `${t.label(names(test.y[k]))}${t.comma}${t.mse(rec.errors[i])}`),
        key,
      },
    ),
  });

  // traversals
  const steps = options.traversalSteps ?? 7;
  const sigmas = Array.from({ length: steps }, (_, k) => (steps === 1 ? 0 : -3 + (6 * k) / (steps - 1)));
  const units = Array.from({ length: Math.min(L, options.units ?? 10) }, (_, j) => j);
  const traversal = traversalCodes(latentMean, latentStd, sigmas, units);
  const decoded = await decodeCodes(model, traversal);
  files.push({
    name: "traversals.svg",
    data: imageTable(
      units.map((_, u) =>
        sigmas.map((_, k) => picture(decoded.subarray((u * steps + k) * per, (u * steps + k + 1) * per)))
      ),
      {
        title: t.traversalTitle,
        caption: t.traversalCaption(steps),
        rowLabels: units.map((j) => `${t.unit(j)} (σ ${latentStd[j].toPrecision(2)})`),
        columnLabels: sigmas.map(t.sigma),
      },
    ),
  });

  // the latent space, with thumbnails of some of the images
  const plane = await latentPlane(codes, L, t);
  const thumb = (k: number) => {
    const v = test.x.subarray(k * per, (k + 1) * per);
    return C === 3
      ? rgbImage(v, h, w, 1)
      : rgbImage(Float32Array.from({ length: 3 * h * w }, (_, i) => v[i % (h * w)]), h, w, 1);
  };
  files.push({
    name: "latent_space.svg",
    data: scatterPlot(
      Array.from({ length: n }, (_, i) => ({
        x: plane.xy[2 * i],
        y: plane.xy[2 * i + 1],
        label: test.y[i],
        image: i < 2000 ? thumb(i) : undefined,
      })),
      {
        title: t.spaceTitle(plane.pca),
        caption: t.spaceCaption(plane.pca, n),
        classNames: Array.from({ length: Math.max(...labels) + 1 }, (_, l) => t.label(names(l))),
        xLabel: plane.xLabel,
        yLabel: plane.yLabel,
        lang: options.lang,
      },
    ),
  });

  // interpolation between the first example and the first of another label
  const a = 0, b = Math.max(0, test.y.subarray(0, n).findIndex((l) => l !== test.y[0]));
  const m = options.interpolationSteps ?? 9;
  const line = new Float32Array(m * L);
  for (let k = 0; k < m; k++) {
    const alpha = m === 1 ? 0 : k / (m - 1);
    for (let j = 0; j < L; j++) line[k * L + j] = (1 - alpha) * codes[a * L + j] + alpha * codes[b * L + j];
  }
  const between = await decodeCodes(model, line);
  const inputOf = (k: number) => test.x.slice(k * per, (k + 1) * per);
  files.push({
    name: "interpolation.svg",
    data: imageTable(
      [[
        picture(inputOf(a)),
        ...Array.from({ length: m }, (_, k) => picture(between.subarray(k * per, (k + 1) * per))),
        picture(inputOf(b)),
      ]],
      {
        title: t.interpolationTitle,
        caption: t.interpolationCaption(names(test.y[a]), names(test.y[b])),
        rowLabels: [t.decoded],
        columnLabels: [
          t.start(names(test.y[a])),
          ...Array.from({ length: m }, (_, k) => `α ${(m === 1 ? 0 : k / (m - 1)).toFixed(2)}`),
          t.end(names(test.y[b])),
        ],
      },
    ),
  });

  // Integrated Gradients on each latent unit of the encoder
  const ig = attributionMethod("ig");
  const igN = Math.min(options.igExamples ?? 3, picks.length);
  const igIdx = picks.slice(0, igN);
  const maps = await scope(async () => {
    const xs = new Float32Array(igN * per);
    igIdx.forEach((k, i) => xs.set(test.x.subarray(k * per, (k + 1) * per), i * per));
    const target = igIdx.map(() => units);
    const attr = await ig.run(model.encoder, tensor(xs, [igN, ...shape]), target, profile, {
      steps: options.igSteps,
    });
    return Float32Array.from(await attr.toArray()); // [N, units, C, H, W]
  });
  const unitMap = (i: number, u: number) => {
    const out = new Float32Array(h * w), base = (i * units.length + u) * per;
    for (let p = 0; p < per; p++) out[p % (h * w)] += maps[base + p];
    return out;
  };
  const zOf = (k: number) => Array.from(codes.subarray(k * L, k * L + Math.min(L, 3)), (v) => v.toFixed(2));
  files.push({
    name: "latent_attributions.svg",
    data: attributionGrid(
      igIdx.map((k) => ({
        image: test.x.subarray(k * per, k * per + h * w),
        caption: `${t.label(names(test.y[k]))}, z = (${zOf(k).join(", ")}${L > 3 ? ", …" : ""})`,
      })),
      units.map((j, u) => ({ name: t.unit(j), maps: igIdx.map((_, i) => unitMap(i, u)) })),
      h,
      w,
      t.attributionTitle(methodName(ig.title(profile, { steps: options.igSteps }), options.lang ?? "en")),
      options.lang ?? "en",
      t.attributionKey,
    ),
  });

  // anomalies: the largest reconstruction errors
  const order = Array.from({ length: n }, (_, i) => i).sort((p, q) => ev.errors[q] - ev.errors[p]);
  const worst = order.slice(0, Math.min(options.anomalies ?? 8, n));
  const an = await reconstructionRows(model, test, worst);
  files.push({
    name: "anomalies.svg",
    data: imageTable(
      [an.inputs.map(picture), an.reconstructions.map(picture), an.errorMaps.map(errorImage)],
      {
        title: t.anomalyTitle,
        caption: t.anomalyCaption(worst.length, n),
        rowLabels: [t.input, t.reconstruction, t.error],
        columnLabels: worst.map((k) =>
          `${t.anomalyLabel(k, names(test.y[k]))}${t.comma}${t.mse(ev.errors[k])}`
        ),
        key,
      },
    ),
  });
  const anomalies = worst.map((k) => ({ index: k, label: test.y[k], error: ev.errors[k] }));
  files.push({ name: "anomalies.json", data: JSON.stringify(anomalies, null, 1) });
  return { files, errors: ev.errors, anomalies, latentMean, latentStd, traversal };
}
