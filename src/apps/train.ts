/**
 * The training program as library code: a classifier of any input shape trained with Adam on
 * shuffled mini-batches (cosine learning rate per epoch by default), gradient statistics tracked
 * with their alarms, evaluated after every epoch. It writes nothing: after each epoch it hands
 * the caller the checkpoint (with the profile), history.json and metrics.json as files, and the
 * tracker's records as they accumulate, so a CLI decides where and how (atomically, together)
 * they are written. Everything model-specific comes from the profile.
 */
import type { Alarm } from "../inspect/alarms.ts";
import type { StepRecord } from "../inspect/records.ts";
import { RUN_FILES } from "../inspect/run_log.ts";
import { trackGradients } from "../inspect/tracker.ts";
import { encodeModel } from "../models/persist.ts";
import { type ExplanationProfile, validateProfile } from "../models/profile.ts";
import { type Dataset, evaluate, type Evaluation } from "../nn/evaluate.ts";
import type { Module } from "../nn/module.ts";
import { Adam } from "../optim/adam.ts";
import { CosineAnnealingLR } from "../optim/schedule.ts";
import { tensor } from "../tensor/create.ts";
import { crossEntropy } from "../tensor/ops/loss.ts";
import { argmax } from "../tensor/ops/reduce.ts";
import { Generator } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { OutputFile } from "./explain.ts";

/** Options of `trainClassifier`; every one has a default. */
export interface TrainOptions {
  /** Epochs (default 3). */
  epochs?: number;
  /** Mini-batch size (default 64). */
  batchSize?: number;
  /** Adam's learning rate (default 0.002). */
  lr?: number;
  /** "cosine" (annealed to 0 over the epochs, stepped per epoch) or "none" (default "cosine"). */
  schedule?: "cosine" | "none";
  /** Seed of the shuffling (the model's initialisation is the caller's; default 0). */
  seed?: number;
  /** Record gradient statistics every N steps (default 1; 0 turns tracking off). */
  trackEvery?: number;
  /** Test examples evaluated after each epoch (default all). */
  testExamples?: number;
}

/** Where training is, after each step. */
export interface StepProgress {
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
  /** This step's loss. */
  loss: number;
  /** One line for people: epoch, step, mean loss, accuracy (sampled every 10 steps), speed and ETA. */
  line: string;
}

/** What one finished epoch leaves. */
export interface EpochResult {
  /** The epoch, from 1. */
  epoch: number;
  /** The test evaluation. */
  evaluation: Evaluation;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** The learning rate the epoch ran with. */
  lr: number;
  /** checkpoint.safetensors (with the profile), history.json and metrics.json as of this epoch: write them together. */
  files: OutputFile[];
  /** One line for people. */
  line: string;
}

/** What `trainClassifier` tells its caller while it runs (each may return a promise, which is awaited). */
export interface TrainHooks {
  /** After every step. */
  onStep?: (p: StepProgress) => void;
  /** After every epoch's evaluation, with the files to write. */
  onEpoch?: (e: EpochResult) => void | Promise<void>;
  /** The tracker's records and alarms, every 100 steps and after each epoch. */
  onTrack?: (records: StepRecord[], alarms: Alarm[]) => void | Promise<void>;
  /** An alarm as it is raised. */
  onAlarm?: (a: Alarm) => void;
}

/** What `trainClassifier` returns. */
export interface TrainResult {
  /** Per-step losses and per-epoch numbers (history.json). */
  history: { steps: number[]; epochs: Record<string, number>[] };
  /** The last epoch's metrics.json. */
  metrics: Record<string, unknown>;
  /** The last epoch's test evaluation. */
  evaluation: Evaluation;
  /** The last epoch's files (as `onEpoch` got them). */
  files: OutputFile[];
  /** The tracker's alarms in all. */
  alarms: Alarm[];
  /** Seconds the training took. */
  seconds: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function check(what: string, d: Dataset, profile: ExplanationProfile): void {
  if (d.sampleShape.join() !== profile.inputShape.join()) {
    throw new Error(
      `train: the ${what} examples are [${d.sampleShape.join(", ")}], the profile's input is [${
        profile.inputShape.join(", ")
      }]`,
    );
  }
  if (d.y.length === 0) throw new Error(`train: the ${what} set is empty`);
  if (d.x.length < d.y.length * size(d.sampleShape)) {
    throw new Error(`train: the ${what} set has ${d.y.length} labels but only ${d.x.length} values`);
  }
  const K = profile.classes.length;
  const bad = d.y.findIndex((c) => !(Number.isInteger(c) && c >= 0 && c < K));
  if (bad >= 0) {
    throw new Error(
      `train: ${what} label ${bad} is ${d.y[bad]}, the profile names ${K} classes (0 … ${K - 1})`,
    );
  }
}

/**
 * Trains `model` (a classifier whose outputs are the profile's classes) in place and returns
 * its history and last metrics; after each epoch `hooks.onEpoch` gets the checkpoint, history
 * and metrics to write.
 *
 * @example
 * ```ts
 * import { decodeModel, sequentialModel, trainClassifier } from "glassbox";
 * const model = sequentialModel([{ type: "Linear", in: 2, out: 2, bias: true }]);
 * const profile = { modality: "tabular" as const, inputShape: [2], classes: ["left", "right"] };
 * const x = Float32Array.from({ length: 64 }, (_, i) => (i % 2 ? 0 : (i % 4) - 1.5)), y = new Int32Array(32);
 * for (let i = 0; i < 32; i++) y[i] = x[2 * i] > 0 ? 1 : 0;
 * const data = { x, y, sampleShape: [2] };
 * const r = await trainClassifier(model, profile, { train: data, test: data }, { epochs: 2, batchSize: 8, trackEvery: 0 });
 * if (r.history.steps.length !== 8) throw new Error(`${r.history.steps.length} steps`);
 * const ckpt = r.files.find((f) => f.name === "checkpoint.safetensors")!.data as Uint8Array;
 * if (decodeModel(ckpt).profile?.classes[1] !== "right") throw new Error("the profile did not travel");
 * ```
 */
export async function trainClassifier(
  model: Module,
  profileIn: ExplanationProfile,
  data: { train: Dataset; test: Dataset },
  options: TrainOptions = {},
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const profile = validateProfile(profileIn);
  check("training", data.train, profile);
  check("test", data.test, profile);
  const shape = profile.inputShape, per = size(shape);
  const epochs = options.epochs ?? 3, bs = options.batchSize ?? 64, seed = options.seed ?? 0;
  const trackEvery = options.trackEvery ?? 1;
  for (const [what, v] of [["epochs", epochs], ["batchSize", bs]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new Error(`train: ${what} must be a whole number ≥ 1, got ${v}`);
    }
  }
  const train = data.train, test = data.test, nTrain = train.y.length;
  const nTest = Math.min(options.testExamples ?? test.y.length, test.y.length);
  const opt = new Adam(model.parameters(), { lr: options.lr ?? 0.002 });
  const sched = (options.schedule ?? "cosine") === "cosine" ? new CosineAnnealingLR(opt, epochs, 0) : null;
  const rng = new Generator(seed + 1);
  const rate = profile.modality === "image" ? "img/s" : "examples/s";
  const tracker = trackEvery > 0
    ? trackGradients(model, { every: trackEvery, onAlarm: hooks.onAlarm })
    : null;
  const history: TrainResult["history"] = { steps: [], epochs: [] };
  const drain = async () => {
    if (!tracker) return;
    const alarms = await tracker.flush();
    await hooks.onTrack?.(tracker.records.splice(0), alarms);
  };
  const json = (v: unknown) => JSON.stringify(v, null, 1);
  const t0 = performance.now();
  let last: { evaluation: Evaluation; metrics: Record<string, unknown>; files: OutputFile[] } | undefined;
  const x = new Float32Array(bs * per), y = new Int32Array(bs);
  try {
    for (let e = 0; e < epochs; e++) {
      const order = rng.shuffle(Array.from({ length: nTrain }, (_, i) => i));
      const steps = Math.ceil(nTrain / bs);
      let seen = 0, correct = 0, lossSum = 0;
      const te = performance.now();
      for (let s = 0; s < steps; s++) {
        const idx = order.slice(s * bs, (s + 1) * bs);
        idx.forEach((k, i) => {
          x.set(train.x.subarray(k * per, (k + 1) * per), i * per);
          y[i] = train.y[k];
        });
        const [loss, ok] = await scope(async () => {
          const xb = tensor(x.subarray(0, idx.length * per), [idx.length, ...shape]);
          const yb = tensor(y.subarray(0, idx.length), [idx.length], { dtype: "int32" });
          opt.zeroGrad();
          const logits = model.forward(xb);
          const l = crossEntropy(logits, yb);
          await l.backward();
          opt.step();
          const v = await l.item();
          // accuracy from the same logits every 10 steps (a second readback)
          let c = -1;
          if (s % 10 === 0) {
            const pred = await argmax(logits, 1).toArray();
            c = idx.reduce((a, k, i) => a + (pred[i] === train.y[k] ? 1 : 0), 0);
          }
          return [v, c];
        });
        if (!Number.isFinite(loss)) {
          throw new Error(`train: the loss became ${loss} at step ${history.steps.length + 1}`);
        }
        history.steps.push(loss);
        lossSum += loss * idx.length;
        seen += idx.length;
        if (ok >= 0) correct += ok / idx.length;
        const done = s + 1, speed = seen / ((performance.now() - te) / 1000);
        const eta = ((steps - done) * idx.length) / speed + (epochs - e - 1) * nTrain / speed;
        hooks.onStep?.({
          epoch: e + 1,
          epochs,
          step: done,
          steps,
          globalStep: history.steps.length,
          loss,
          line: `epoch ${e + 1}/${epochs} step ${done}/${steps} loss ${(lossSum / seen).toFixed(4)} acc ${
            (100 * correct / Math.ceil(done / 10)).toFixed(1)
          }% ${speed.toFixed(0)} ${rate} ETA ${eta.toFixed(0)}s`,
        });
        if (history.steps.length % 100 === 0) await drain();
      }
      const ev = await evaluate(model, test, { limit: nTest });
      history.epochs.push({
        epoch: e + 1,
        trainLoss: lossSum / seen,
        testLoss: ev.loss,
        testAccuracy: ev.accuracy,
        lr: opt.lr,
      });
      const seconds = (performance.now() - t0) / 1000;
      const metrics = {
        testAccuracy: ev.accuracy,
        testLoss: ev.loss,
        perClassAccuracy: ev.perClassAccuracy,
        confusion: ev.confusion,
        testImages: nTest,
        epochs: e + 1,
        // true until the last epoch is written: what an interrupted run leaves says so
        stopped: e + 1 < epochs,
        seconds,
        imagesPerSecond: (history.steps.length * bs) / seconds,
      };
      const files: OutputFile[] = [
        {
          name: RUN_FILES.checkpoint,
          data: await encodeModel(model, {
            metadata: { epoch: String(e + 1), testAccuracy: String(ev.accuracy) },
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
        line: `epoch ${e + 1}: train loss ${(lossSum / seen).toFixed(4)}, test loss ${
          ev.loss.toFixed(4)
        }, test accuracy ${(ev.accuracy * 100).toFixed(2)}%`,
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
