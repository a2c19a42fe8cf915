/**
 * The GAN program as library code: a generator and a discriminator trained against each other
 * (non-saturating loss, binary cross-entropy on D's logit, Adam(2e-4, β1 0.5), one D step then
 * one G step per batch), both networks' gradients tracked with their alarms plus the GAN's own
 * (vanishing discriminator gradient, mode collapse). It writes nothing: after each epoch it hands
 * the caller both checkpoints (with their profiles), history.json, metrics.json and the epoch's
 * fixed-noise sample grid as files; `ganPictures` draws the rest (curves, interpolation, the
 * discriminator's Saliency, channel ablation). The image shape comes from the data.
 */
import {
  type Alarm,
  DEFAULT_GAN_THRESHOLDS,
  type GanStepPoint,
  type GanThresholds,
  meanPairwiseDistance,
  modeCollapseAlarm,
  vanishingDiscriminatorAlarm,
} from "../inspect/alarms.ts";
import type { StepRecord } from "../inspect/records.ts";
import { RUN_FILES } from "../inspect/run_log.ts";
import { trackGradients } from "../inspect/tracker.ts";
import { ablateChannels } from "../explain/channel_ablation.ts";
import { attributionMethod } from "../explain/methods.ts";
import {
  type GanDiscriminator,
  ganDiscriminatorProfile,
  type GanGenerator,
  ganGeneratorProfile,
} from "../models/gan.ts";
import { encodeModel } from "../models/persist.ts";
import type { Module } from "../nn/module.ts";
import { Adam } from "../optim/adam.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { binaryCrossEntropyWithLogits } from "../tensor/ops/loss.ts";
import { concat } from "../tensor/ops/shape.ts";
import { Generator } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import { absQuantile, heatmapImage } from "../viz/attribution.ts";
import { type ImageCell, imageTable, rangeImage, tileImages } from "../viz/image_table.ts";
import { encodePng, type Image } from "../viz/png.ts";
import { lineChart } from "../viz/svg.ts";
import type { OutputFile } from "./explain.ts";

/** The files of a GAN run directory besides history.json, metrics.json and the logs. */
export const GAN_FILES = {
  /** The generator with its profile and the fixed noise's seed (written after each epoch). */
  generator: "generator.safetensors",
  /** The discriminator with its profile (written after each epoch). */
  discriminator: "discriminator.safetensors",
  /** The generator's tracker log, alarms and TensorBoard files (a folder). */
  generatorLog: "generator",
  /** The discriminator's tracker log, alarms and TensorBoard files (a folder). */
  discriminatorLog: "discriminator",
} as const;

/** Options of `trainGan`; every one has a default. */
export interface GanOptions {
  /** Epochs (default 5). */
  epochs?: number;
  /** Real images per batch, and as many generated ones (default 64). */
  batchSize?: number;
  /** Adam's learning rate for both networks (default 2e-4, DCGAN's). */
  lr?: number;
  /** Adam's β1 (default 0.5, DCGAN's). */
  beta1?: number;
  /** Seed of the shuffling, the latent vectors and the fixed noise (the initialisation is the caller's; default 0). */
  seed?: number;
  /** Record gradient statistics every N steps (default 1; 0 turns tracking and the gradient alarm off). */
  trackEvery?: number;
  /** Fixed latent vectors whose samples are drawn after every epoch (default 64). */
  fixedSamples?: number;
  /** The GAN alarms' thresholds. */
  thresholds?: Partial<GanThresholds>;
}

/** Where training is, after each step. */
export interface GanStepProgress {
  /** The epoch, from 1. */
  epoch: number;
  /** Epochs in all. */
  epochs: number;
  /** The step in this epoch, from 1. */
  step: number;
  /** Steps per epoch. */
  steps: number;
  /** Steps since the start, from 1. */
  globalStep: number;
  /** D's loss: BCE(D(x), real) + BCE(D(G(z)), fake), each a mean over the batch. */
  lossD: number;
  /** G's (non-saturating) loss: BCE(D(G(z)), real). */
  lossG: number;
  /** Mean sigmoid(D(x)) over the real images (before D's update). */
  dReal: number;
  /** Mean sigmoid(D(G(z))) over the generated images (before D's update). */
  dFake: number;
  /** One line for people. */
  line: string;
}

/** What one finished epoch leaves. */
export interface GanEpochResult {
  /** The epoch, from 1. */
  epoch: number;
  /** D's mean loss over the epoch. */
  lossD: number;
  /** G's mean loss over the epoch. */
  lossG: number;
  /** Mean D(x) over the epoch. */
  dReal: number;
  /** Mean D(G(z)) over the epoch. */
  dFake: number;
  /** Mean pairwise distance of the fixed-noise samples over that of real images. */
  diversity: number;
  /** The fixed-noise samples, [fixedSamples, C, H, W] flattened. */
  samples: Float32Array;
  /** Both checkpoints, history.json, metrics.json and pictures/samples_epoch_N.png: write them together. */
  files: OutputFile[];
  /** One line for people. */
  line: string;
}

/** What `trainGan` tells its caller while it runs (each may return a promise, which is awaited). */
export interface GanHooks {
  /** After every step. */
  onStep?: (p: GanStepProgress) => void;
  /** After every epoch, with the files to write. */
  onEpoch?: (e: GanEpochResult) => void | Promise<void>;
  /** A network's tracker records and new alarms, every 100 steps and after each epoch. */
  onTrack?: (
    net: "generator" | "discriminator",
    records: StepRecord[],
    alarms: Alarm[],
  ) => void | Promise<void>;
  /** An alarm as it is raised (the trackers' and the GAN's own). */
  onAlarm?: (a: Alarm, net: "generator" | "discriminator" | "gan") => void;
}

/** Per-step and per-epoch numbers (history.json). */
export interface GanHistory {
  /** Per step: D's loss, G's loss, mean D(x), mean D(G(z)). */
  steps: { lossD: number[]; lossG: number[]; dReal: number[]; dFake: number[] };
  /** Per epoch: means of the above and the samples' diversity. */
  epochs: Record<string, number>[];
}

/** What `trainGan` returns. */
export interface GanResult {
  /** history.json. */
  history: GanHistory;
  /** The last epoch's metrics.json. */
  metrics: Record<string, unknown>;
  /** The last epoch's files. */
  files: OutputFile[];
  /** The fixed-noise samples after each epoch. */
  samplesPerEpoch: Float32Array[];
  /** Every alarm: the GAN's and each tracker's. */
  alarms: Alarm[];
  /** The GAN's own alarms (vanishing discriminator gradient, mode collapse). */
  ganAlarms: Alarm[];
  /** Seconds the training took. */
  seconds: number;
}

/** What `trainGan` needs of a generator: a module from `latent` values to [C, H, W] images (e.g. a `GanGenerator`). */
export type GeneratorNet = Module & Pick<GanGenerator, "latent" | "imageShape" | "lastHidden">;
/** What `trainGan` needs of a discriminator: a module from [C, H, W] images to one logit (e.g. a `GanDiscriminator`). */
export type DiscriminatorNet = Module & Pick<GanDiscriminator, "imageShape">;

/** The seed the fixed noise is drawn with, for a run's seed. */
const noiseSeed = (seed: number) => seed * 7919 + 17;

/**
 * The fixed latent vectors whose samples a GAN run draws after each epoch: `n` vectors of
 * `latent` standard-normal values from the run's `seed` (the generator's checkpoint records
 * `n` and the seed, so the grid can be drawn again from the file).
 *
 * @example
 * ```ts
 * import { fixedNoise } from "glassbox";
 * const a = fixedNoise(4, 8, 3), b = fixedNoise(4, 8, 3);
 * if (a.length !== 32 || a.some((v, i) => v !== b[i])) throw new Error("not reproducible");
 * ```
 */
export function fixedNoise(n: number, latent: number, seed: number): Float32Array {
  const g = new Generator(noiseSeed(seed));
  return Float32Array.from({ length: n * latent }, () => g.normal());
}

/**
 * Pixels in [0, 1] (as `loadMnist` gives them) as values in [−1, 1], the range of a tanh
 * generator: 2·v − 1. A value outside [0, 1] is an error naming its index.
 *
 * @example
 * ```ts
 * import { unitToTanhRange } from "glassbox";
 * if (unitToTanhRange(new Float32Array([0, 0.5, 1])).join() !== "-1,0,1") throw new Error("range");
 * ```
 */
export function unitToTanhRange(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 1)) throw new Error(`unitToTanhRange: value ${i} is ${v}, not in [0, 1]`);
    out[i] = 2 * v - 1;
  }
  return out;
}

/** The samples (n rows) as one PNG grid, black −1 to white 1. */
export function samplesImage(samples: Float32Array, shape: readonly number[], columns = 8, pixel = 2): Image {
  const [C, H, W] = shape, per = C * H * W, n = samples.length / per;
  const tiles: Image[] = [];
  for (let i = 0; i < n; i++) {
    tiles.push(rangeImage(samples.subarray(i * per, i * per + H * W), H, W, -1, 1, pixel));
  }
  return tileImages(tiles, columns, 2, 128);
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const mean = (v: ArrayLike<number>, from = 0, to = v.length) => {
  let s = 0;
  for (let i = from; i < to; i++) s += v[i];
  return to > from ? s / (to - from) : NaN;
};

/**
 * Trains `G` and `D` against each other on `data` (images in [−1, 1], `sampleShape` [C, H, W]
 * matching both networks) and returns the history and last metrics; after each epoch
 * `hooks.onEpoch` gets the checkpoints, history, metrics and the fixed-noise grid to write.
 * Each network's gradients are tracked with the usual alarms, except saturation in the
 * generator (its output tanh saturates by design: a black background is −1).
 *
 * @example
 * ```ts
 * import { GanDiscriminator, GanGenerator, trainGan } from "glassbox";
 * const shape = [1, 4, 4];
 * const G = new GanGenerator({ latent: 4, hidden: [8], imageShape: shape }), D = new GanDiscriminator({ imageShape: shape, hidden: [8] });
 * const x = Float32Array.from({ length: 32 * 16 }, (_, i) => ((i * 7) % 5 < 2 ? 1 : -1)); // varied images
 * const r = await trainGan(G, D, { x, sampleShape: shape }, { epochs: 1, batchSize: 8, trackEvery: 0, fixedSamples: 4 });
 * if (r.history.steps.lossD.length !== 4 || r.samplesPerEpoch[0].length !== 4 * 16) throw new Error("steps");
 * ```
 */
export async function trainGan(
  G: GeneratorNet,
  D: DiscriminatorNet,
  data: { x: Float32Array; sampleShape: number[] },
  options: GanOptions = {},
  hooks: GanHooks = {},
): Promise<GanResult> {
  const shape = data.sampleShape, per = size(shape);
  for (const [who, s] of [["generator", G.imageShape], ["discriminator", D.imageShape]] as const) {
    if (s.join() !== shape.join()) {
      throw new Error(`gan: the images are [${shape.join(", ")}], the ${who} makes/takes [${s.join(", ")}]`);
    }
  }
  const n = Math.floor(data.x.length / per);
  if (n * per !== data.x.length || n < 2) {
    throw new Error(
      `gan: ${data.x.length} values are not whole images of [${shape.join(", ")}] (at least 2)`,
    );
  }
  const epochs = options.epochs ?? 5, bs = options.batchSize ?? 64, seed = options.seed ?? 0;
  const trackEvery = options.trackEvery ?? 1, nFixed = options.fixedSamples ?? 64;
  for (const [what, v] of [["epochs", epochs], ["batchSize", bs], ["fixedSamples", nFixed]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new Error(`gan: ${what} must be a whole number ≥ 1, got ${v}`);
    }
  }
  if (bs > n) throw new Error(`gan: batchSize ${bs} is more than the ${n} images`);
  const t: GanThresholds = { ...DEFAULT_GAN_THRESHOLDS, ...options.thresholds };
  const lr = options.lr ?? 2e-4, beta1 = options.beta1 ?? 0.5;
  const optG = new Adam(G.parameters(), { lr, betas: [beta1, 0.999] });
  const optD = new Adam(D.parameters(), { lr, betas: [beta1, 0.999] });
  const rng = new Generator(seed + 1);
  const L = G.latent;
  const fixed = fixedNoise(nFixed, L, seed);
  // the real images' diversity, over as many of them as fixed samples (spread over the set)
  const realIdx = Array.from(
    { length: Math.min(nFixed, n) },
    (_, i) => Math.floor((i * n) / Math.min(nFixed, n)),
  );
  const realRows = new Float32Array(realIdx.length * per);
  realIdx.forEach((k, i) => realRows.set(data.x.subarray(k * per, (k + 1) * per), i * per));
  const realDiversity = meanPairwiseDistance(realRows, per);
  const gProfile = ganGeneratorProfile(G), dProfile = ganDiscriminatorProfile(D);
  const alarmsOf = (net: "generator" | "discriminator") => (a: Alarm) => hooks.onAlarm?.(a, net);
  const trackers = trackEvery > 0
    ? {
      // G's tanh is its output: MNIST's black background is −1, saturated by design, so the
      // saturation alarm (meant for hidden layers) is off for G (it fired at 53% in a 5-epoch run)
      generator: trackGradients(G, {
        every: trackEvery,
        onAlarm: alarmsOf("generator"),
        thresholds: { saturatedFraction: 1 },
      }),
      discriminator: trackGradients(D, { every: trackEvery, onAlarm: alarmsOf("discriminator") }),
    }
    : null;
  const history: GanHistory = { steps: { lossD: [], lossG: [], dReal: [], dFake: [] }, epochs: [] };
  const ganAlarms: Alarm[] = [];
  const raise = (a: Alarm | null) => {
    if (!a || ganAlarms.some((b) => b.kind === a.kind)) return;
    ganAlarms.push(a);
    hooks.onAlarm?.(a, "gan");
  };
  const points: GanStepPoint[] = [];
  let checked = 0;
  const drain = async () => {
    if (!trackers) return;
    for (const net of ["generator", "discriminator"] as const) {
      const tr = trackers[net];
      const alarms = await tr.flush();
      const recs = tr.records.splice(0);
      if (net === "generator") {
        for (const r of recs) {
          points.push({ step: r.step, gradNorm: r.totalGradNorm, dFake: history.steps.dFake[r.step - 1] });
        }
        raise(vanishingDiscriminatorAlarm(points, t, checked));
        checked = points.length;
      }
      await hooks.onTrack?.(net, recs, alarms);
    }
  };
  const json = (v: unknown) => JSON.stringify(v, null, 1);
  const t0 = performance.now();
  const samplesPerEpoch: Float32Array[] = [];
  let last: { metrics: Record<string, unknown>; files: OutputFile[] } | undefined;
  const xb = new Float32Array(bs * per), zb = new Float32Array(bs * L);
  const targets = new Float32Array(2 * bs).fill(1, 0, bs);
  const steps = Math.floor(n / bs);
  try {
    for (let e = 0; e < epochs; e++) {
      const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
      const te = performance.now();
      const first = history.steps.lossD.length;
      for (let s = 0; s < steps; s++) {
        for (let i = 0; i < bs; i++) {
          const k = order[s * bs + i];
          xb.set(data.x.subarray(k * per, (k + 1) * per), i * per);
        }
        for (let i = 0; i < zb.length; i++) zb[i] = rng.normal();
        const [lossD, lossG, logits] = await scope(async () => {
          const real = tensor(xb, [bs, ...shape]);
          const z = tensor(zb, [bs, L]);
          // D step: real images labelled 1, generated ones 0, in one forward pass
          optD.zeroGrad();
          const fake = G.forward(z);
          const dOut = D.forward(concat([real, fake.detach()], 0));
          const lD = mul(
            binaryCrossEntropyWithLogits(dOut, tensor(targets, [2 * bs, 1]), { reduction: "sum" }),
            1 / bs,
          );
          await lD.backward();
          optD.step();
          // G step (non-saturating): make D call the generated images real. D runs in
          // evaluation mode (the same function: no BatchNorm or dropout) so its tracker does not
          // count this pass as a D step; D's gradients from it are cleared before D's next step.
          optG.zeroGrad();
          const restore = D.enterEval();
          let lG;
          try {
            lG = binaryCrossEntropyWithLogits(D.forward(fake), tensor(targets.subarray(0, bs), [bs, 1]));
          } finally {
            restore();
          }
          await lG.backward();
          optG.step();
          return [await lD.item(), await lG.item(), await dOut.toArray() as Float32Array];
        });
        if (!Number.isFinite(lossD) || !Number.isFinite(lossG)) {
          throw new Error(
            `gan: the losses became D ${lossD}, G ${lossG} at step ${history.steps.lossD.length + 1}`,
          );
        }
        let dr = 0, df = 0;
        for (let i = 0; i < bs; i++) (dr += sigmoid(logits[i])), (df += sigmoid(logits[bs + i]));
        const h = history.steps;
        h.lossD.push(lossD), h.lossG.push(lossG), h.dReal.push(dr / bs), h.dFake.push(df / bs);
        const done = s + 1, speed = (done * bs) / ((performance.now() - te) / 1000);
        const eta = ((steps - done) * bs + (epochs - e - 1) * steps * bs) / speed;
        const w = Math.max(first, h.lossD.length - 50);
        hooks.onStep?.({
          epoch: e + 1,
          epochs,
          step: done,
          steps,
          globalStep: h.lossD.length,
          lossD,
          lossG,
          dReal: dr / bs,
          dFake: df / bs,
          line: `epoch ${e + 1}/${epochs} step ${done}/${steps} loss D ${mean(h.lossD, w).toFixed(3)} G ${
            mean(h.lossG, w).toFixed(3)
          } D(x) ${mean(h.dReal, w).toFixed(2)} D(G(z)) ${mean(h.dFake, w).toFixed(2)} ${
            speed.toFixed(0)
          } img/s ETA ${eta.toFixed(0)}s`,
        });
        if (h.lossD.length % 100 === 0) await drain();
      }
      // the fixed-noise samples and their diversity
      const samples = await generate(G, fixed);
      samplesPerEpoch.push(samples);
      const diversity = meanPairwiseDistance(samples, per) / realDiversity;
      const step = history.steps.lossD.length;
      raise(modeCollapseAlarm(diversity * realDiversity, realDiversity, step, t));
      const h = history.steps, a = step - steps;
      const ep = {
        epoch: e + 1,
        lossD: mean(h.lossD, a),
        lossG: mean(h.lossG, a),
        dReal: mean(h.dReal, a),
        dFake: mean(h.dFake, a),
        diversity,
      };
      history.epochs.push(ep);
      const seconds = (performance.now() - t0) / 1000;
      const metrics = {
        ...ep,
        finalLossD: mean(h.lossD, Math.max(a, step - 100)),
        finalLossG: mean(h.lossG, Math.max(a, step - 100)),
        epochs: e + 1,
        stopped: e + 1 < epochs,
        steps: step,
        seconds,
        imagesPerSecond: (step * bs) / seconds,
        realDiversity,
        fixedSamples: nFixed,
        ganAlarms: ganAlarms.map((x) => x.message),
      };
      const meta = {
        epoch: String(e + 1),
        "gan.fixedNoiseSeed": String(seed),
        "gan.fixedSamples": String(nFixed),
      };
      const files: OutputFile[] = [
        { name: GAN_FILES.generator, data: await encodeModel(G, { metadata: meta, profile: gProfile }) },
        { name: GAN_FILES.discriminator, data: await encodeModel(D, { metadata: meta, profile: dProfile }) },
        { name: RUN_FILES.history, data: json(history) },
        { name: RUN_FILES.metrics, data: json(metrics) },
        { name: `pictures/samples_epoch_${e + 1}.png`, data: encodePng(samplesImage(samples, shape)) },
      ];
      last = { metrics, files };
      await hooks.onEpoch?.({
        ...ep,
        samples,
        files,
        line: `epoch ${e + 1}: loss D ${ep.lossD.toFixed(4)}, G ${ep.lossG.toFixed(4)}, D(x) ${
          ep.dReal.toFixed(3)
        }, D(G(z)) ${ep.dFake.toFixed(3)}, sample diversity ${(100 * diversity).toFixed(0)}% of real images`,
      });
      await drain();
    }
    await drain();
  } finally {
    trackers?.generator.remove();
    trackers?.discriminator.remove();
  }
  return {
    history,
    metrics: last!.metrics,
    files: last!.files,
    samplesPerEpoch,
    alarms: [
      ...ganAlarms,
      ...(trackers ? [...trackers.generator.alarms, ...trackers.discriminator.alarms] : []),
    ],
    ganAlarms,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * The generator's images for latent vectors `z` (rows of `G.latent` values), in evaluation mode
 * without gradients, flattened.
 *
 * @example
 * ```ts
 * import { GanGenerator, generate } from "glassbox";
 * const G = new GanGenerator({ latent: 2, hidden: [4], imageShape: [1, 2, 2] });
 * const x = await generate(G, new Float32Array([0, 1, 1, 0]));
 * if (x.length !== 8 || x.some((v) => Math.abs(v) > 1)) throw new Error("tanh images");
 * ```
 */
export async function generate(G: GeneratorNet, z: Float32Array): Promise<Float32Array> {
  const restore = G.enterEval();
  try {
    return await noGrad(() =>
      scope(async () => await G.forward(tensor(z, [z.length / G.latent, G.latent])).toArray() as Float32Array)
    );
  } finally {
    restore();
  }
}

/** Moving average over `w` points (shorter at the start). */
function smooth(v: number[], w: number): [number, number][] {
  const out: [number, number][] = [];
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    s += v[i];
    if (i >= w) s -= v[i - w];
    out.push([i + 1, s / Math.min(i + 1, w)]);
  }
  return out;
}

/** What `ganPictures` draws from. */
export interface GanPictureInputs {
  /** The trained generator. */
  G: GeneratorNet;
  /** The trained discriminator. */
  D: DiscriminatorNet;
  /** The run's history. */
  history: GanHistory;
  /** The fixed-noise samples after each epoch. */
  samplesPerEpoch: Float32Array[];
  /** The fixed latent vectors (as `fixedNoise` gives them). */
  fixed: Float32Array;
  /** Some real images in [−1, 1] (at least 8), flattened. */
  real: Float32Array;
  /** Steps per epoch (the curves mark epochs). */
  stepsPerEpoch: number;
}

/**
 * The run's pictures as files under pictures/: the loss curves and D's outputs over the steps,
 * the fixed-noise samples of every epoch side by side, an interpolation between latent vectors,
 * the discriminator's Saliency on real and generated images, and the generator channels whose
 * removal changes its images most, with what disappears.
 *
 * @example
 * ```ts
 * import { fixedNoise, GanDiscriminator, GanGenerator, ganPictures, generate } from "glassbox";
 * const shape = [1, 4, 4];
 * const G = new GanGenerator({ latent: 4, hidden: [8], imageShape: shape }), D = new GanDiscriminator({ imageShape: shape, hidden: [8] });
 * const fixed = fixedNoise(8, 4, 0), samples = await generate(G, fixed);
 * const history = { steps: { lossD: [1.4, 1.3], lossG: [0.7, 0.8], dReal: [0.5, 0.6], dFake: [0.5, 0.4] }, epochs: [] };
 * const files = await ganPictures({ G, D, history, samplesPerEpoch: [samples], fixed, real: samples, stepsPerEpoch: 2 });
 * if (!files.some((f) => f.name === "pictures/channel_ablation.svg")) throw new Error(files.map((f) => f.name).join());
 * ```
 */
export async function ganPictures(p: GanPictureInputs): Promise<OutputFile[]> {
  const { G, D, history } = p;
  const shape = G.imageShape, [, H, W] = shape, per = size(shape), L = G.latent;
  const grey = (v: Float32Array, i: number, pixel = 3) =>
    rangeImage(v.subarray(i * per, i * per + H * W), H, W, -1, 1, pixel);
  const files: OutputFile[] = [];
  const nSteps = history.steps.lossD.length, win = Math.max(1, Math.min(50, Math.floor(nSteps / 10)));
  const epochNote = `An epoch is ${p.stepsPerEpoch} steps; ${
    win > 1 ? `each line is a moving average over ${win} steps` : "each point is one step's value"
  }.`;
  files.push({
    name: "pictures/gan_losses.svg",
    data: lineChart([
      { name: "D loss (real + generated)", points: smooth(history.steps.lossD, win) },
      { name: "G loss (non-saturating)", points: smooth(history.steps.lossG, win) },
      {
        name: "ln 4: D at chance (D(x) = D(G(z)) = 0.5)",
        points: [[1, Math.log(4)], [nSteps, Math.log(4)]],
        dashed: true,
        color: "#999",
      },
    ], {
      title: "GAN losses per training step",
      xLabel: "step",
      yLabel: "binary cross-entropy (nats)",
      notes: [
        "D's loss is BCE on real images (label 1) plus BCE on generated ones (label 0); G's is BCE of D(G(z)) against label 1.",
        epochNote,
      ],
    }),
  });
  files.push({
    name: "pictures/gan_d_outputs.svg",
    data: lineChart([
      { name: "D(x): real images", points: smooth(history.steps.dReal, win) },
      { name: "D(G(z)): generated images", points: smooth(history.steps.dFake, win) },
    ], {
      title: "What the discriminator says: mean probability 'real'",
      xLabel: "step",
      yLabel: "mean sigmoid(D logit)",
      notes: [
        "Both near 0.5: D cannot tell real from generated. D(x) near 1 with D(G(z)) near 0: D is winning (if D also saturates, G's gradient vanishes: see alarms.txt).",
        epochNote,
      ],
    }),
  });
  // the fixed-noise samples of every epoch (the first 8 of them per row)
  const cols = Math.min(8, p.fixed.length / L);
  files.push({
    name: "pictures/samples_by_epoch.svg",
    data: imageTable(
      p.samplesPerEpoch.map((s) => Array.from({ length: cols }, (_, i) => ({ image: grey(s, i) }))),
      {
        title: "Generated images for the same latent vectors after each epoch",
        rowLabels: p.samplesPerEpoch.map((_, e) => `epoch ${e + 1}`),
        columnLabels: Array.from({ length: cols }, (_, i) => `z${i + 1}`),
        notes: [
          "Each column keeps its latent vector z fixed: down a column, the same z as the generator learns.",
          "Black is −1, white +1 (the tanh output). pictures/samples_epoch_N.png hold all fixed samples of epoch N.",
        ],
      },
    ),
  });
  // interpolation between pairs of fixed latent vectors
  const pairs = Math.min(3, Math.floor(p.fixed.length / L / 2)), stepsI = 9;
  const zi = new Float32Array(pairs * stepsI * L);
  for (let q = 0; q < pairs; q++) {
    const a = p.fixed.subarray(2 * q * L, (2 * q + 1) * L),
      b = p.fixed.subarray((2 * q + 1) * L, (2 * q + 2) * L);
    for (let k = 0; k < stepsI; k++) {
      const tt = k / (stepsI - 1);
      for (let j = 0; j < L; j++) zi[(q * stepsI + k) * L + j] = (1 - tt) * a[j] + tt * b[j];
    }
  }
  const gi = await generate(G, zi);
  files.push({
    name: "pictures/interpolation.svg",
    data: imageTable(
      Array.from(
        { length: pairs },
        (_, q) => Array.from({ length: stepsI }, (_, k) => ({ image: grey(gi, q * stepsI + k) })),
      ),
      {
        title: "Latent interpolation: G((1 − t)·a + t·b) between two latent vectors",
        rowLabels: Array.from({ length: pairs }, (_, q) => `z${2 * q + 1} → z${2 * q + 2}`),
        columnLabels: Array.from({ length: stepsI }, (_, k) => `t = ${(k / (stepsI - 1)).toFixed(2)}`),
        notes: [
          "Each row walks in a straight line from one fixed latent vector (left) to another (right).",
          "A smooth change means the generator's latent space is continuous; a sudden jump, that the path crosses a boundary.",
        ],
      },
    ),
  });
  // the discriminator's Saliency on real and generated images (one logit: no target needed)
  const k = Math.min(8, Math.floor(p.real.length / per), Math.floor(p.fixed.length / L));
  const last = p.samplesPerEpoch[p.samplesPerEpoch.length - 1];
  const saliency = attributionMethod("saliency");
  const dProfile = ganDiscriminatorProfile(D);
  const [sal, logits] = await scope(async () => {
    const x = tensor(concat_(p.real.subarray(0, k * per), last.subarray(0, k * per)), [2 * k, ...shape]);
    const a = await (await saliency.run(D, x, 0, dProfile)).toArray() as Float32Array;
    const restore = D.enterEval();
    try {
      return [a, await noGrad(() => D.forward(x)).toArray() as Float32Array] as const;
    } finally {
      restore();
    }
  });
  const both = new Float32Array(2 * k * per);
  both.set(p.real.subarray(0, k * per));
  both.set(last.subarray(0, k * per), k * per);
  const scale = absQuantile(sal, 0.99);
  const salRow = (off: number) =>
    Array.from({ length: k }, (_, i) => ({
      image: heatmapImage(sal.subarray((off + i) * per, (off + i) * per + H * W), H, W, {
        signed: false,
        scale,
        pixel: 3,
      }),
    }));
  const imgRow = (off: number) =>
    Array.from(
      { length: k },
      (_, i) => ({ image: grey(both, off + i), caption: `D = ${sigmoid(logits[off + i]).toFixed(2)}` }),
    );
  files.push({
    name: "pictures/discriminator_saliency.svg",
    data: imageTable([imgRow(0), salRow(0), imgRow(k), salRow(k)], {
      title: "Where the discriminator looks: Saliency |∂ D logit / ∂ pixel|",
      rowLabels: ["real images", "Saliency", "generated images", "Saliency"],
      notes: [
        "Under each image, D = sigmoid(logit): the discriminator's probability that it is real.",
        "Saliency: yellow pixels change D's logit most; one colour scale for all 16 maps (its 99th percentile is full yellow).",
      ],
    }),
  });
  // channel ablation at the generator's last hidden layer, on the first 4 fixed vectors
  const nA = Math.min(4, p.fixed.length / L);
  const ab = await scope(() => ablateChannels(G, G.lastHidden, tensor(p.fixed.subarray(0, nA * L), [nA, L])));
  const top = ab.order.slice(0, 8);
  const rows: ImageCell[][] = top.map((c) => {
    const cells: ImageCell[] = [];
    for (let s = 0; s < Math.min(2, nA); s++) {
      const base = ab.base.subarray(s * per, (s + 1) * per);
      const abl = ab.ablated.subarray((c * nA + s) * per, (c * nA + s + 1) * per);
      const diff = base.map((v, i) => v - abl[i]);
      cells.push(
        { image: rangeImage(base, H, W, -1, 1, 3) },
        { image: rangeImage(abl, H, W, -1, 1, 3) },
        { image: heatmapImage(diff, H, W, { signed: true, scale: 1, pixel: 3 }) },
      );
    }
    return cells;
  });
  const word = ab.channelSize > 1 ? "channel" : "unit";
  const colLabels = Array.from(
    { length: Math.min(2, nA) },
    (_, s) => [`z${s + 1}: sample`, `${word} off`, "removed"],
  ).flat();
  files.push({
    name: "pictures/channel_ablation.svg",
    data: imageTable(rows, {
      title: `Which generator ${word}s draw which strokes (layer ${G.lastHidden}, ${ab.channels} ${word}s)`,
      rowLabels: top.map((c) => `${word} ${c}: change ${ab.change[c].toFixed(2)}`),
      columnLabels: colLabels,
      notes: [
        `Each row zeroes one ${word} of layer ${G.lastHidden} (the last hidden ReLU) with a forward hook: the sample, the sample without it, and the difference.`,
        `Rows are the ${top.length} ${word}s whose removal changes the images most (mean L2 change over ${nA} fixed latent vectors).`,
        `Difference (sample − sample without it): red is ink the ${word} adds, blue ink it takes away; full colour is a change of 1 (of the range −1 to 1).`,
      ],
    }),
  });
  return files;
}

function concat_(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
