/**
 * `deno task train`: trains the seed CNN on real MNIST and reports test accuracy.
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

function batchTensor(data: gb.Dataset, idx: number[]): { x: gb.Tensor; y: gb.Tensor } {
  const x = new Float32Array(idx.length * 784);
  const y = new Int32Array(idx.length);
  idx.forEach((s, i) => {
    x.set(data.x.subarray(s * 784, s * 784 + 784), i * 784);
    y[i] = data.y[s];
  });
  return { x: gb.tensor(x, [idx.length, 1, 28, 28]), y: gb.tensor(y, [idx.length], { dtype: "int32" }) };
}

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
  const bs = values["batch-size"]!;
  const seed = values.seed!;
  console.log(`adapter: ${gb.adapterInfo().description}`);
  const train = gb.mnistDataset(await gb.loadMnist("train"));
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const nTrain = quick ? 2000 : train.y.length, nTest = quick ? 1000 : test.y.length;
  const out = values.out!;
  await Deno.mkdir(out, { recursive: true });
  const ckpt = `${out}/${gb.RUN_FILES.checkpoint}`;
  gb.manualSeed(seed);
  const model = gb.createModel("seed-cnn") as gb.Sequential;
  gb.setProfile(model, gb.mnistProfile()); // saveModel writes it into every checkpoint
  const opt = new gb.Adam(model.parameters(), { lr: values.lr! });
  const sched = values.schedule === "cosine" ? new gb.CosineAnnealingLR(opt, epochs, 0) : null;
  const rng = new gb.Generator(seed + 1);
  const tty = Deno.stdout.isTerminal();
  const trackEvery = values["track-every"]!;
  const log = await gb.RunLog.create(out, { histogramEvery: values["hist-every"]! });
  const tracker = trackEvery > 0
    ? gb.trackGradients(model, {
      every: trackEvery,
      onAlarm: (a) => console.log(`${tty ? "\n" : ""}ALARM ${a.message}`),
    })
    : null;
  const history: { steps: number[]; epochs: Record<string, number>[] } = { steps: [], epochs: [] };
  // Ctrl-C (runMain): exit at once, or as soon as the save in progress is complete (never half a
  // file, never a write after the shell has the terminal back, even under a wrapper that exits first)
  gb.onInterrupt(() => {
    const kept = history.epochs.length;
    return `interrupted: ${
      kept
        ? `keeping epoch ${kept} (the last complete one) in ${out}: checkpoint, history.json and metrics.json; ` +
          `deno task inspect ${out} draws its pictures`
        : `no epoch was complete, so there is no checkpoint (the logs so far are in ${out})`
    }`;
  });
  const drain = () =>
    gb.uninterrupted(async () => {
      if (!tracker) return;
      log.alarms(await tracker.flush());
      log.records(tracker.records.splice(0));
      await log.flush();
    });
  const write = (name: string, data: unknown) =>
    gb.writeAtomic(`${out}/${name}`, new TextEncoder().encode(JSON.stringify(data, null, 1)));
  const t0 = performance.now();
  let final: gb.Evaluation | undefined;
  for (let e = 0; e < epochs; e++) {
    const order = rng.shuffle(Array.from({ length: nTrain }, (_, i) => i));
    const steps = Math.ceil(nTrain / bs);
    let seen = 0, correct = 0, lossSum = 0;
    const te = performance.now();
    for (let s = 0; s < steps; s++) {
      const idx = order.slice(s * bs, (s + 1) * bs);
      const [loss, ok] = await gb.scope(async () => {
        const { x, y } = batchTensor(train, idx);
        opt.zeroGrad();
        const logits = model.forward(x);
        const l = gb.crossEntropy(logits, y);
        await l.backward();
        opt.step();
        const v = await l.item();
        // accuracy from the same logits every 10 steps (a second readback)
        let c = -1;
        if (s % 10 === 0) {
          const pred = await gb.argmax(logits, 1).toArray();
          c = idx.reduce((a, k, i) => a + (pred[i] === train.y[k] ? 1 : 0), 0);
        }
        return [v, c];
      });
      history.steps.push(loss);
      log.scalar("loss/train_step", loss, history.steps.length);
      if (history.steps.length % 100 === 0) await drain();
      lossSum += loss * idx.length;
      seen += idx.length;
      if (ok >= 0) correct += ok / idx.length;
      const done = s + 1, rate = seen / ((performance.now() - te) / 1000);
      const eta = ((steps - done) * idx.length) / rate + (epochs - e - 1) * nTrain / rate;
      const line = `epoch ${e + 1}/${epochs} step ${done}/${steps} loss ${(lossSum / seen).toFixed(4)} acc ${
        (100 * correct / Math.ceil(done / 10)).toFixed(1)
      }% ${rate.toFixed(0)} img/s ETA ${eta.toFixed(0)}s`;
      if (tty) {
        const w = 24, f = Math.round((w * done) / steps);
        Deno.stdout.writeSync(new TextEncoder().encode(`\r[${"#".repeat(f)}${".".repeat(w - f)}] ${line}  `));
      } else if (done % 100 === 0 || done === steps) console.log(line);
    }
    if (tty) console.log();
    const ev = await gb.evaluate(model, test, { limit: nTest });
    history.epochs.push({
      epoch: e + 1,
      trainLoss: lossSum / seen,
      testLoss: ev.loss,
      testAccuracy: ev.accuracy,
      lr: opt.lr,
    });
    // the checkpoint, history and metrics of the same epoch: a Ctrl-C keeps all three or none changed
    const seconds = (performance.now() - t0) / 1000;
    await gb.uninterrupted(async () => {
      await gb.saveModel(model, ckpt, { epoch: String(e + 1), testAccuracy: String(ev.accuracy) });
      await write(gb.RUN_FILES.history, history);
      await write(gb.RUN_FILES.metrics, {
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
      });
    });
    final = ev;
    log.scalar("loss/train_epoch", lossSum / seen, e + 1);
    log.scalar("loss/test", ev.loss, e + 1);
    log.scalar("accuracy/test", ev.accuracy, e + 1);
    log.scalar("learning_rate", opt.lr, e + 1);
    await drain();
    console.log(
      `epoch ${e + 1}: train loss ${(lossSum / seen).toFixed(4)}, test loss ${
        ev.loss.toFixed(4)
      }, test accuracy ${(ev.accuracy * 100).toFixed(2)}%`,
    );
    sched?.step();
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `test accuracy ${(final!.accuracy * 100).toFixed(2)}% on ${nTest} images; ${
      seconds.toFixed(0)
    } s in all; wrote ${ckpt}, history.json, metrics.json`,
  );
  await drain();
  tracker?.remove();
  // the pictures: training charts, first-layer filters and feature maps of the first test image
  const sample = gb.tensor(test.x.subarray(0, 784), [1, 1, 28, 28]);
  const pics = await gb.renderRunPictures(out, { model, sample }); // each file saved whole
  // the same images in TensorBoard's Images tab
  const step = history.steps.length;
  log.image("filters/0 Conv2d", await gb.filterImage((model.layers[0] as gb.Conv2d).weight), step);
  const acts = await gb.captureActivations(model, sample);
  for (const a of acts) {
    if (a.output.ndim === 4) log.image(`feature_maps/${a.label}`, await gb.featureMapImage(a.output), step);
  }
  gb.disposeActivations(acts);
  await gb.uninterrupted(() => log.flush());
  sample.dispose();
  const nAlarms = tracker ? tracker.alarms.length : 0;
  console.log(
    `${pics.length} pictures in ${out}/pictures; ${nAlarms} alarm${
      nAlarms === 1 ? "" : "s"
    } (${out}/alarms.txt)`,
  );
  console.log(`TensorBoard: tensorboard --logdir ${out}/tensorboard`);
}

if (import.meta.main) await gb.runMain("train", main);
