/**
 * `deno task train`: trains the seed CNN on real MNIST and reports test accuracy.
 *
 *   conv(32, 3×3, ReLU) → max-pool 2 → conv(64, 3×3, ReLU) → max-pool 2 → flatten
 *   → dense(128, ReLU) → dense(10), Adam.
 *
 * Writes history.json (per-step loss, per-epoch train/test loss and accuracy) and metrics.json
 * (test accuracy, per-class accuracy, confusion matrix) to the output directory.
 */
import { parseArgs } from "node:util";
import * as gb from "../mod.ts";

const HELP = `deno task train [options]
  --epochs N        epochs (default 3)
  --batch-size N    mini-batch size (default 64)
  --lr X            Adam learning rate (default 0.001)
  --schedule S      "cosine" (per epoch) or "none" (default cosine)
  --seed N          seed for init and shuffling (default 0)
  --out DIR         output directory (default out/mnist)
  --quick           smoke run: 2,000 training images, 1 epoch, 1,000 test images
  --help            this text`;

export function seedCnn(): gb.Sequential {
  return new gb.Sequential(
    new gb.Conv2d(1, 32, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Conv2d(32, 64, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Flatten(),
    new gb.Linear(1600, 128),
    new gb.ReLU(),
    new gb.Linear(128, 10),
  );
}

const MEAN = 0.1307, STD = 0.3081;

function batchTensor(split: gb.MnistSplit, idx: number[]): { x: gb.Tensor; y: gb.Tensor } {
  const x = new Float32Array(idx.length * 784);
  const y = new Int32Array(idx.length);
  idx.forEach((s, i) => {
    for (let j = 0; j < 784; j++) x[i * 784 + j] = (split.images[s * 784 + j] - MEAN) / STD;
    y[i] = split.labels[s];
  });
  return { x: gb.tensor(x, [idx.length, 1, 28, 28]), y: gb.tensor(y, [idx.length], { dtype: "int32" }) };
}

/** Loss, accuracy, per-class accuracy and confusion matrix over a split. */
export async function evaluate(model: gb.Module, split: gb.MnistSplit, limit = split.count) {
  model.eval();
  const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
  let lossSum = 0;
  for (let s = 0; s < limit; s += 500) {
    const idx = Array.from({ length: Math.min(500, limit - s) }, (_, i) => s + i);
    await gb.scope(async () => {
      const { x, y } = batchTensor(split, idx);
      const logits = gb.noGrad(() => model.forward(x));
      const loss = gb.crossEntropy(logits, y, { reduction: "sum" });
      const pred = await gb.argmax(logits, 1).toArray();
      lossSum += await loss.item();
      idx.forEach((k, i) => confusion[split.labels[k]][pred[i]]++);
    });
  }
  model.train();
  const correct = confusion.reduce((a, row, i) => a + row[i], 0);
  const perClass = confusion.map((row, i) => row[i] / Math.max(1, row.reduce((a, b) => a + b, 0)));
  return { loss: lossSum / limit, accuracy: correct / limit, perClass, confusion };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      epochs: { type: "string", default: "3" },
      "batch-size": { type: "string", default: "64" },
      lr: { type: "string", default: "0.001" },
      schedule: { type: "string", default: "cosine" },
      seed: { type: "string", default: "0" },
      out: { type: "string", default: "out/mnist" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const quick = values.quick;
  const epochs = quick ? 1 : Number(values.epochs);
  const bs = Number(values["batch-size"]);
  const seed = Number(values.seed);
  for (const [k, v] of [["epochs", epochs], ["batch-size", bs], ["lr", Number(values.lr)]] as const) {
    if (!(v > 0)) throw new Error(`--${k} must be a positive number`);
  }
  console.log(`adapter: ${gb.adapterInfo().description}`);
  const train = await gb.loadMnist("train");
  const test = await gb.loadMnist("test");
  const nTrain = quick ? 2000 : train.count, nTest = quick ? 1000 : test.count;
  gb.manualSeed(seed);
  const model = seedCnn();
  const opt = new gb.Adam(model.parameters(), { lr: Number(values.lr) });
  const sched = values.schedule === "cosine" ? new gb.CosineAnnealingLR(opt, epochs, 0) : null;
  const rng = new gb.Generator(seed + 1);
  const tty = Deno.stdout.isTerminal();
  const history: { steps: number[]; epochs: Record<string, number>[] } = { steps: [], epochs: [] };
  const t0 = performance.now();
  let stopping = false;
  const onSig = () => (stopping = true);
  Deno.addSignalListener("SIGINT", onSig);
  for (let e = 0; e < epochs && !stopping; e++) {
    const order = rng.shuffle(Array.from({ length: nTrain }, (_, i) => i));
    const steps = Math.ceil(nTrain / bs);
    let seen = 0, correct = 0, lossSum = 0;
    const te = performance.now();
    for (let s = 0; s < steps && !stopping; s++) {
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
          c = idx.reduce((a, k, i) => a + (pred[i] === train.labels[k] ? 1 : 0), 0);
        }
        return [v, c];
      });
      history.steps.push(loss);
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
    const ev = await evaluate(model, test, nTest);
    history.epochs.push({
      epoch: e + 1,
      trainLoss: lossSum / seen,
      testLoss: ev.loss,
      testAccuracy: ev.accuracy,
      lr: opt.lr,
    });
    console.log(
      `epoch ${e + 1}: train loss ${(lossSum / seen).toFixed(4)}, test loss ${
        ev.loss.toFixed(4)
      }, test accuracy ${(ev.accuracy * 100).toFixed(2)}%`,
    );
    sched?.step();
  }
  Deno.removeSignalListener("SIGINT", onSig);
  const final = await evaluate(model, test, nTest);
  const seconds = (performance.now() - t0) / 1000;
  await Deno.mkdir(values.out!, { recursive: true });
  const write = async (name: string, data: unknown) => {
    const path = `${values.out}/${name}`;
    await Deno.writeTextFile(path + ".tmp", JSON.stringify(data, null, 1));
    await Deno.rename(path + ".tmp", path);
  };
  await write("history.json", history);
  await write("metrics.json", {
    testAccuracy: final.accuracy,
    testLoss: final.loss,
    perClassAccuracy: final.perClass,
    confusion: final.confusion,
    seconds,
    stopped: stopping,
  });
  console.log(
    `test accuracy ${(final.accuracy * 100).toFixed(2)}% on ${nTest} images; ${
      seconds.toFixed(0)
    } s in all; wrote ${values.out}/history.json and metrics.json`,
  );
}
