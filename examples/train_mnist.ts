/**
 * `deno task train`: trains the seed CNN on real MNIST and reports test accuracy. A thin CLI
 * around `trainClassifier` (src/apps/train.ts), which trains any classifier with a profile.
 *
 *   conv(32, 3×3, ReLU) → max-pool 2 → conv(64, 3×3, ReLU) → max-pool 2 → flatten
 *   → dense(128, ReLU) → dense(10), Adam.
 *
 * Writes to the output directory: checkpoint.safetensors (after every epoch, atomically),
 * history.json (per-step loss, per-epoch train/test loss and accuracy) and metrics.json (test
 * accuracy, per-class accuracy, confusion matrix).
 *
 * Ctrl-C stops the run at once: if a file is being written, when that write is done, else
 * immediately (exit code 130). The output directory then holds the last complete epoch's
 * checkpoint, history.json and metrics.json (written atomically after each epoch) and the logs
 * up to the last drain; nothing is written after the process has exited, so when the shell prompt comes
 * back the directory no longer changes.
 */
import * as gb from "../mod.ts";

const HELP = `deno task train [options]
  --epochs N        epochs (default 3)
  --batch-size N    mini-batch size (default 64)
  --lr X            Adam learning rate (default 0.002)
  --schedule S      "cosine" (per epoch) or "none" (default cosine)
  --seed N          seed for init and shuffling (default 0)
  --out DIR         output directory (default out/mnist)
  --track-every N   record gradient statistics every N steps (default 1; 0 turns tracking off)
  --hist-every N    keep histograms every N steps (default 100)
  --quick           smoke run: 2,000 training images, 1 epoch (unless --epochs), 1,000 test images
  --help            this text

Writes to the output directory: checkpoint.safetensors, history.json, metrics.json,
tracker.jsonl (per-step gradient, weight and activation statistics), alarms.txt/.jsonl,
tensorboard/ (event files: tensorboard --logdir <out>/tensorboard) and pictures/.
Render the pictures again with: deno task inspect <out>

Ctrl-C stops at once and keeps the last complete epoch (checkpoint.safetensors, history.json and
metrics.json, written together after each epoch); the pictures are drawn when a run completes.`;

const FLAGS = {
  epochs: { type: "int", min: 1 },
  "batch-size": { type: "int", min: 1, default: 64 },
  lr: { type: "number", positive: true, default: 0.002 },
  schedule: { type: "choice", choices: ["cosine", "none"], default: "cosine" },
  seed: { type: "int", min: 0, default: 0 },
  out: { type: "string", default: "out/mnist" },
  "track-every": { type: "int", min: 0, default: 1 },
  "hist-every": { type: "int", min: 1, default: 100 },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags: values } = gb.parseFlags(Deno.args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return;
  }
  const quick = values.quick;
  const epochs = values.epochs ?? (quick ? 1 : 3);
  const seed = values.seed!;
  console.log(`adapter: ${gb.adapterInfo().description}`);
  const trainAll = gb.mnistDataset(await gb.loadMnist("train"));
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const nTrain = quick ? 2000 : trainAll.y.length, nTest = quick ? 1000 : test.y.length;
  const per = trainAll.sampleShape.reduce((a, b) => a * b, 1);
  const train = { ...trainAll, x: trainAll.x.subarray(0, nTrain * per), y: trainAll.y.subarray(0, nTrain) };
  const out = values.out!;
  await Deno.mkdir(out, { recursive: true });
  const ckpt = `${out}/${gb.RUN_FILES.checkpoint}`;
  gb.manualSeed(seed);
  const model = gb.createModel("seed-cnn");
  const profile = gb.mnistProfile(); // every checkpoint carries it
  const tty = Deno.stdout.isTerminal();
  const log = await gb.RunLog.create(out, { histogramEvery: values["hist-every"]! });
  let kept = 0, steps = 0;
  // Ctrl-C (runMain): exit at once, or as soon as the save in progress is complete (never half a
  // file, never a write after the shell has the terminal back, even under a wrapper that exits first)
  gb.onInterrupt(() =>
    `interrupted: ${
      kept
        ? `keeping epoch ${kept} (the last complete one) in ${out}: checkpoint, history.json and metrics.json; ` +
          `deno task inspect ${out} draws its pictures`
        : `no epoch was complete, so there is no checkpoint (the logs so far are in ${out})`
    }`
  );
  const r = await gb.trainClassifier(model, profile, { train, test }, {
    epochs,
    batchSize: values["batch-size"]!,
    lr: values.lr!,
    schedule: values.schedule as "cosine" | "none",
    seed,
    trackEvery: values["track-every"]!,
    testExamples: nTest,
  }, {
    onAlarm: (a) => console.log(`${tty ? "\n" : ""}ALARM ${a.message}`),
    onStep: (p) => {
      steps = p.globalStep;
      log.scalar("loss/train_step", p.loss, p.globalStep);
      gb.showStep(p, tty);
    },
    // the checkpoint, history and metrics of the same epoch: a Ctrl-C keeps all three or none changed
    onEpoch: async (e) => {
      await gb.writeFilesTogether(out, e.files);
      kept = e.epoch;
      log.scalar("loss/train_epoch", e.trainLoss, e.epoch);
      log.scalar("loss/test", e.evaluation.loss, e.epoch);
      log.scalar("accuracy/test", e.evaluation.accuracy, e.epoch);
      log.scalar("learning_rate", e.lr, e.epoch);
      console.log(e.line);
    },
    onTrack: (records, alarms) =>
      gb.uninterrupted(async () => {
        log.alarms(alarms);
        log.records(records);
        await log.flush();
      }),
  });
  console.log(
    `test accuracy ${(r.evaluation.accuracy * 100).toFixed(2)}% on ${nTest} images; ${
      r.seconds.toFixed(0)
    } s in all; wrote ${ckpt}, history.json, metrics.json`,
  );
  // the pictures: training charts, first-layer filters and feature maps of the first test image
  const sample = gb.tensor(test.x.subarray(0, per), [1, ...profile.inputShape]);
  const pics = await gb.renderRunPictures(out, { model, sample }); // each file saved whole
  // the same images in TensorBoard's Images tab
  const conv = model.namedModules().find(([, m]) => m instanceof gb.Conv2d);
  if (conv) {
    log.image(`filters/${conv[0]} Conv2d`, await gb.filterImage((conv[1] as gb.Conv2d).weight), steps);
  }
  const acts = await gb.captureActivations(model, sample);
  for (const a of acts) {
    if (a.output.ndim === 4) log.image(`feature_maps/${a.label}`, await gb.featureMapImage(a.output), steps);
  }
  gb.disposeActivations(acts);
  await gb.uninterrupted(() => log.flush());
  sample.dispose();
  const nAlarms = r.alarms.length;
  console.log(
    `${pics.length} pictures in ${out}/pictures; ${nAlarms} alarm${
      nAlarms === 1 ? "" : "s"
    } (${out}/alarms.txt)`,
  );
  console.log(`TensorBoard: tensorboard --logdir ${out}/tensorboard`);
}

if (import.meta.main) await gb.runMain("train", main);
