/**
 * `deno task compress` end to end on a briefly trained seed CNN: every variant is written and
 * reloads to the accuracy the table reports; sizes and parameter counts are what compression
 * promises; command-line mistakes are one line.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { parseCompressSummary, type VariantSummary } from "../src/compress/summary.ts";
import { runScript } from "./run_script.ts";

const compress = (...args: string[]) => runScript("examples/compress_mnist.ts", args);

Deno.test("deno task compress: mistakes are one line; a missing checkpoint says how to make one", async () => {
  const bad = await compress("--steps", "abc");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^error: --steps/);
  const none = await compress("--checkpoint", "/nonexistent/c.safetensors");
  assert.equal(none.code, 1);
  assert.match(
    none.err,
    /^error: no checkpoint at \/nonexistent\/c\.safetensors: make one with `deno task train`/,
  );
  for (const r of [bad, none]) assert.equal(r.err.trim().split("\n").length, 1);
});

Deno.test("deno task compress builds every variant; each file reloads to the reported accuracy, int8 is ≥ 3.5× smaller, pruning removes what it says", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(2);
  const train = gb.mnistDataset(await gb.loadMnist("train"));
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const model = gb.createModel("seed-cnn");
  await gb.fit(model, train, { optimizer: new gb.Adam(model.parameters(), { lr: 2e-3 }), limit: 3000 });
  // a profile of its own (not MNIST's default) that every file the study writes must keep
  const profile = {
    ...gb.mnistProfile(),
    classes: "zero one two three four five six seven eight nine".split(" "),
  };
  await gb.saveModel(model, `${dir}/c.safetensors`, {}, { profile });
  const r = await compress(
    "--checkpoint",
    `${dir}/c.safetensors`,
    "--out",
    `${dir}/x`,
    "--quick",
    "--steps",
    "10",
    "--explain",
    "2",
    "--test-images",
    "500",
    // both students are only counted and reloaded here: 512 examples for one epoch make the same files
    // (--quick alone would train each on 12,000 examples for 2 epochs)
    "--distill-images",
    "512",
    "--distill-epochs",
    "1",
  );
  assert.equal(r.code, 0, r.err);
  for (
    const f of [
      "summary.md",
      "accuracy_vs_sparsity.svg",
      "weight_histograms.svg",
      "drift_integrated_gradients.svg",
      "drift_gradcam.svg",
    ]
  ) {
    assert.ok((await Deno.stat(`${dir}/x/${f}`)).size > 500, f);
  }
  const s = parseCompressSummary(await Deno.readTextFile(`${dir}/x/summary.json`));
  const v = new Map<string, VariantSummary>(s.variants.map((x: VariantSummary) => [x.name, x]));
  assert.deepEqual([...v.keys()], [
    "original (float32)",
    "pruned 50%",
    "pruned 80%",
    "pruned 90%",
    "filters −50% (conv 2)",
    "int8 min-max",
    "int8 percentile 99.99",
    "int8 QAT",
    "student, distilled",
    "student alone",
  ]);
  const base = v.get("original (float32)")!;
  const prunable = 32 * 9 + 64 * 32 * 9 + 128 * 1600 + 10 * 128;
  for (const level of [0.5, 0.8, 0.9]) {
    const p = v.get(`pruned ${level * 100}%`)!;
    assert.equal(p.params, base.params);
    assert.ok(base.params - p.nonzero >= Math.floor(level * prunable), `${level}: ${p.nonzero} non-zero`);
  }
  assert.ok(v.get("filters −50% (conv 2)")!.params < 0.55 * base.params);
  assert.ok(v.get("student, distilled")!.params <= base.params / 4);
  for (const name of ["int8 min-max", "int8 percentile 99.99", "int8 QAT"]) {
    assert.ok(base.bytes / v.get(name)!.bytes >= 3.5, name);
    // the float twin explains (nearly) what the float model explains
    assert.ok(v.get(name)!.igDrift > 0.9 || name === "int8 QAT", `${name} IG ρ ${v.get(name)!.igDrift}`);
  }
  // post-training int8 of a briefly trained model: within 1 point on 500 images (5 images)
  assert.ok(Math.abs(v.get("int8 min-max")!.accuracy - base.accuracy) <= 0.01);
  // every file reloads to the accuracy the table states
  const limited = { ...test, x: test.x.subarray(0, 500 * 784), y: test.y.subarray(0, 500) };
  for (const x of v.values()) {
    const m = x.name.startsWith("int8")
      ? await gb.loadQuantizedModel(x.file)
      : (await gb.loadModel(x.file)).model;
    assert.deepEqual((await gb.loadModel(x.file)).profile, profile, `${x.name}: the profile`);
    const acc = (await gb.evaluate(m, limited)).accuracy;
    assert.ok(Math.abs(acc - x.accuracy) <= 0.002, `${x.name}: reloaded ${acc}, reported ${x.accuracy}`);
  }
});
