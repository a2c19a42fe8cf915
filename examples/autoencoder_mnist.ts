/**
 * `deno task autoencoder`: trains a convolutional autoencoder (`--kind ae`) or a variational
 * one (`--kind vae`) on MNIST and draws what it learned. A thin CLI around `trainAutoencoder`
 * and `autoencoderPictures` (src/apps/autoencoder.ts).
 *
 * Writes to the output directory what `deno task train` writes (checkpoint.safetensors with
 * the profile, history.json, metrics.json after every epoch, atomically; tracker.jsonl,
 * alarms, tensorboard/, pictures/ of the training) and the autoencoder's own pictures in
 * pictures/: reconstructions, traversals, latent space, interpolation, latent attributions,
 * anomalies (with anomalies.json). Ctrl-C keeps the last complete epoch (exit code 130).
 */
import * as gb from "../mod.ts";

const HELP = `deno task autoencoder [options]
  --kind K          "ae" (autoencoder) or "vae" (variational autoencoder) (default ae)
  --latent N        latent units (default 8)
  --epochs N        epochs (default 1)
  --batch-size N    mini-batch size (default 64)
  --lr X            Adam learning rate (default 0.002)
  --beta X          the VAE's weight of the KL term (default 1)
  --seed N          seed for init, shuffling and the VAE's samples (default 0)
  --out DIR         output directory (default out/autoencoder/<kind>)
  --track-every N   record gradient statistics every N steps (default 1; 0 turns tracking off)
  --hist-every N    keep histograms every N steps (default 100)
  --lang L          words of the pictures: en or zh (default en)
  --train-images N  training images used (default all 60,000; --quick 512)
  --test-images N   test images evaluated and drawn (default all 10,000; --quick 256)
  --quick           smoke run: 512 training images, 1 epoch (unless --epochs), 256 test images
  --help            this text

Writes to the output directory: checkpoint.safetensors, history.json, metrics.json,
tracker.jsonl, alarms.txt/.jsonl, tensorboard/ and pictures/ (the training's charts and the
autoencoder's reconstructions, traversals, latent space, interpolation, latent attributions and
anomalies, with anomalies.json). Ctrl-C stops at once and keeps the last complete epoch.`;

const FLAGS = {
  kind: { type: "choice", choices: ["ae", "vae"], default: "ae" },
  latent: { type: "int", min: 1, max: 256, default: 8 },
  epochs: { type: "int", min: 1 },
  "batch-size": { type: "int", min: 1, default: 64 },
  lr: { type: "number", positive: true, default: 0.002 },
  beta: { type: "number", default: 1 },
  seed: { type: "int", min: 0, default: 0 },
  out: { type: "string" },
  "track-every": { type: "int", min: 0, default: 1 },
  "hist-every": { type: "int", min: 1, default: 100 },
  lang: { type: "choice", choices: ["en", "zh"], default: "en" },
  "train-images": { type: "int", min: 1 },
  "test-images": { type: "int", min: 1 },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags: values } = gb.parseFlags(Deno.args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.beta! < 0) throw new gb.UsageError(`--beta must be at least 0, got ${values.beta}`);
  const quick = values.quick, kind = values.kind as "ae" | "vae";
  const epochs = values.epochs ?? 1;
  const seed = values.seed!;
  const out = values.out ?? `out/autoencoder/${kind}`;
  console.log(`adapter: ${gb.adapterInfo().description}`);
  // pixels in [0, 1], not normalised: the loss is a cross-entropy against them
  const asData = (s: gb.MnistSplit, n: number) => ({
    x: s.images.subarray(0, n * s.rows * s.cols),
    y: s.labels.subarray(0, n),
    sampleShape: [1, s.rows, s.cols],
  });
  const trainSplit = await gb.loadMnist("train"), testSplit = await gb.loadMnist("test");
  const train = asData(
    trainSplit,
    Math.min(values["train-images"] ?? (quick ? 512 : Infinity), trainSplit.count),
  );
  const test = asData(
    testSplit,
    Math.min(values["test-images"] ?? (quick ? 256 : Infinity), testSplit.count),
  );
  await Deno.mkdir(out, { recursive: true });
  gb.manualSeed(seed);
  const model = gb.createModel(kind === "vae" ? "vae" : "conv-autoencoder", {
    latent: values.latent!,
    imageChannels: train.sampleShape[0],
    height: train.sampleShape[1],
    width: train.sampleShape[2],
  }) as gb.Autoencoder;
  const profile = gb.autoencoderProfile(model); // every checkpoint carries it
  const tty = Deno.stdout.isTerminal();
  const log = await gb.RunLog.create(out, { histogramEvery: values["hist-every"]! });
  let kept = 0, steps = 0;
  gb.onInterrupt(() =>
    `interrupted: ${
      kept
        ? `keeping epoch ${kept} (the last complete one) in ${out}: checkpoint, history.json and metrics.json`
        : `no epoch was complete, so there is no checkpoint (the logs so far are in ${out})`
    }`
  );
  const r = await gb.trainAutoencoder(model, profile, { train, test }, {
    epochs,
    batchSize: values["batch-size"]!,
    lr: values.lr!,
    beta: values.beta!,
    seed,
    trackEvery: values["track-every"]!,
  }, {
    onAlarm: (a) => console.log(`${tty ? "\n" : ""}ALARM ${a.message}`),
    onStep: (p) => {
      steps = p.globalStep;
      log.scalar("loss/train_step", p.loss, p.globalStep);
      gb.showStep(p, tty);
    },
    onEpoch: async (e) => {
      await gb.writeFilesTogether(out, e.files);
      kept = e.epoch;
      log.scalar("loss/train_epoch", e.trainLoss, e.epoch);
      log.scalar("loss/test", e.evaluation.loss, e.epoch);
      log.scalar("loss/test_reconstruction", e.evaluation.reconstruction, e.epoch);
      if (kind === "vae") log.scalar("loss/test_kl", e.evaluation.kl, e.epoch);
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
    `test loss ${r.evaluation.loss.toFixed(2)} per image on ${test.y.length} images; ${
      r.seconds.toFixed(0)
    } s in all; wrote ${out}/${gb.RUN_FILES.checkpoint}, history.json, metrics.json`,
  );
  // a minute or more of work on the full test set: say so before it starts
  console.log(
    `drawing the pictures: codes and reconstruction errors of ${test.y.length} test images, traversals, interpolation, Integrated Gradients…`,
  );
  const per = train.sampleShape.reduce((a, b) => a * b, 1);
  const sample = gb.tensor(test.x.subarray(0, per), [1, ...train.sampleShape]);
  const pics = await gb.renderRunPictures(out, { model, sample });
  sample.dispose();
  const ae = await gb.autoencoderPictures(model, profile, test, { lang: values.lang as gb.Language });
  await gb.uninterrupted(async () => {
    for (const f of ae.files) {
      const bytes = typeof f.data === "string" ? new TextEncoder().encode(f.data) : f.data;
      await gb.writeAtomic(`${out}/pictures/${f.name}`, bytes);
    }
  });
  // the reconstructions in TensorBoard's Images tab: inputs over their reconstructions
  const shown = await gb.reconstructionRows(model, test, ae.anomalies.map((a) => a.index));
  const [h, w] = train.sampleShape.slice(1);
  log.image(
    "anomalies/inputs_over_reconstructions",
    gb.imageGrid([...shown.inputs, ...shown.reconstructions], h, w, { columns: shown.inputs.length }),
    steps,
  );
  await gb.uninterrupted(() => log.flush());
  const nAlarms = r.alarms.length;
  console.log(
    `${
      pics.length + ae.files.length
    } pictures and files in ${out}/pictures; worst reconstruction: test image #${
      ae.anomalies[0].index
    } (MSE ${ae.anomalies[0].error.toFixed(3)}); ${nAlarms} alarm${nAlarms === 1 ? "" : "s"}`,
  );
  console.log(`TensorBoard: tensorboard --logdir ${out}/tensorboard`);
}

if (import.meta.main) await gb.runMain("autoencoder", main);
