import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { checkSafetensorsRules } from "./checkpoint_test.ts";

function trainCommand(out: string, ...extra: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "examples/train_mnist.ts",
      "--quick",
      "--out",
      out,
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("deno task train --quick: history, metrics, and a checkpoint that reproduces the test accuracy exactly", async () => {
  const out = await Deno.makeTempDir();
  const r = await trainCommand(out).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, text);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
  assert.equal(history.steps.length, 32, "one loss per step (2,000 images / 64)");
  assert.ok(history.steps[31] < history.steps[0], "the loss went down");
  assert.ok(
    metrics.testAccuracy > 0.5,
    `a quick run learns something (test accuracy ${metrics.testAccuracy})`,
  );
  const total = metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0);
  assert.equal(total, 1000, "the confusion matrix counts every test image");
  checkSafetensorsRules(await Deno.readFile(`${out}/checkpoint.safetensors`));
  // the checkpoint carries the MNIST explanation profile
  const { profile } = await gb.loadModel(`${out}/checkpoint.safetensors`);
  assert.deepEqual(profile, gb.mnistProfile());
  // reload into a fresh model: the same test accuracy, exactly
  gb.manualSeed(123);
  const model = gb.seedCnn();
  const meta = await gb.loadCheckpoint(model, `${out}/checkpoint.safetensors`);
  assert.equal(meta.epoch, "1");
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const ev = await gb.evaluate(model, test, { limit: 1000 });
  assert.equal(ev.accuracy, metrics.testAccuracy);
  await Deno.remove(out, { recursive: true });
});

Deno.test("Ctrl-C stops training at once (exit 130) and keeps the last complete epoch", async () => {
  const out = await Deno.makeTempDir();
  const child = trainCommand(out, "--epochs", "50").spawn();
  const ckpt = `${out}/checkpoint.safetensors`;
  for (let i = 0; i < 600; i++) {
    try {
      await Deno.stat(ckpt);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill("SIGINT");
  const r = await child.output();
  const text = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 130, text + new TextDecoder().decode(r.stderr));
  assert.match(text, /interrupted: keeping epoch \d+ \(the last complete one\)/);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  assert.equal(metrics.stopped, true);
  const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
  assert.ok(history.epochs.length >= 1 && history.epochs.length < 50);
  checkSafetensorsRules(await Deno.readFile(ckpt));
  assert.deepEqual(
    [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.includes(".tmp")),
    [],
    "no temporary files",
  );
  await Deno.remove(out, { recursive: true });
});
