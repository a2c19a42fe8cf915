/**
 * The compression study on models that are not MNIST's: the zoo's small CAM CNN on 3×8×8 RGB
 * shapes with four named classes, and a tabular MLP. Every number of the table is recomputed
 * independently from the files the study returns: each model file is reloaded (int8 ones with
 * their input scales) and evaluated by a plain argmax loop here, its weights are counted here,
 * and the CAM drift is recomputed at the profile's layer.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import type { CompressResult } from "../src/apps/compress.ts";
import { runScript } from "./run_script.ts";

/** Accuracy of `model` on `data` by a plain loop: logits read back, argmax here, compared with the labels. */
async function accuracyOf(model: gb.Module, data: gb.Dataset, classes: number): Promise<number> {
  const per = data.sampleShape.reduce((a, b) => a * b, 1), N = data.y.length;
  const restore = model.enterEval();
  try {
    const logits = await gb.scope(async () =>
      await gb.noGrad(() => model.forward(gb.tensor(data.x.subarray(0, N * per), [N, ...data.sampleShape])))
        .toArray()
    );
    assert.equal(logits.length, N * classes, "the model's outputs are the profile's classes");
    let right = 0;
    for (let n = 0; n < N; n++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[n * classes + c] > logits[n * classes + best]) best = c;
      if (best === data.y[n]) right++;
    }
    return right / N;
  } finally {
    restore();
  }
}

/** Writes the study's files under `dir` (the study itself writes nothing). */
async function writeAll(dir: string, r: CompressResult): Promise<void> {
  await Deno.mkdir(`${dir}/models`, { recursive: true });
  for (const f of r.files) {
    if (typeof f.data === "string") await Deno.writeTextFile(`${dir}/${f.name}`, f.data);
    else await Deno.writeFile(`${dir}/${f.name}`, f.data);
  }
}

/** The bytes of a safetensors file's tensors (the file less its 8-byte length and JSON header). */
async function payload(path: string): Promise<number> {
  const bytes = await Deno.readFile(path);
  return bytes.length - 8 - Number(new DataView(bytes.buffer).getBigUint64(0, true));
}

/** Weights of the Linear and Conv2d layers of a reloaded model, and how many are zero. */
async function countWeights(model: gb.Module): Promise<{ all: number; zeros: number; params: number }> {
  let all = 0, zeros = 0, params = 0;
  const prunable = new Set(gb.prunableWeights(model));
  for (const [name, p] of model.namedParameters()) {
    const v = await p.toArray();
    params += v.length;
    if (!prunable.has(name)) continue;
    all += v.length;
    for (const x of v) if (x === 0) zeros++;
  }
  return { all, zeros, params };
}

const quick = {
  steps: 16,
  levels: [0.5, 0.8, 0.9],
  curve: [0.5, 0.9],
  calibrationSamples: 128,
  explain: 4,
  timingReps: 1,
};

Deno.test("compressStudy on a 3×8×8 RGB CNN with four named classes: every file reloads to its reported accuracy, int8 tensors ≥ 3.5× smaller (files ≥ 3×), sparsity as scheduled, filters halved, the CAM at the profile's layer", async () => {
  const t0 = performance.now();
  const train = gb.makeRgbPatternImages({
    nSamples: 600,
    size: 8,
    patternSize: 3,
    emptyClass: false,
    seed: 1,
  });
  const test = gb.makeRgbPatternImages({
    nSamples: 200,
    size: 8,
    patternSize: 3,
    emptyClass: false,
    seed: 2,
    mean: train.mean,
    std: train.std,
  });
  const profile = gb.rgbPatternProfile(train, { camLayer: "4" });
  assert.deepEqual(profile.classes, ["red square", "green diamond", "blue ring", "yellow triangle"]);
  gb.manualSeed(3);
  const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
  const trainSet = { x: train.x, y: train.y, sampleShape: [3, 8, 8] };
  const testSet = { x: test.x, y: test.y, sampleShape: [3, 8, 8] };
  await gb.fit(model, trainSet, { optimizer: new gb.Adam(model.parameters(), { lr: 5e-3 }), epochs: 4 });
  const lines: string[] = [];
  const r = await gb.compressStudy(
    model,
    profile,
    { train: trainSet, test: testSet },
    quick,
    (l) => lines.push(l),
  );
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(seconds < 60, `the quick study took ${seconds.toFixed(1)} s`);

  const v = new Map(r.summary.variants.map((x) => [x.name, x]));
  assert.deepEqual([...v.keys()], [
    "original (float32)",
    "pruned 50%",
    "pruned 80%",
    "pruned 90%",
    "filters −50% (conv 2)",
    "int8 min-max",
    "int8 percentile 99.99",
    "int8 QAT",
  ]);
  // no student in the zoo for small-cam-cnn: skipped, and said so
  assert.deepEqual(r.skipped, [{
    variant: "distillation",
    reason: "the zoo has no student for small-cam-cnn",
  }]);
  const dir = await Deno.makeTempDir();
  await writeAll(dir, r);
  const base = v.get("original (float32)")!;
  assert.ok(base.accuracy > 0.5, `the trained model is better than chance: ${base.accuracy}`);
  for (const x of v.values()) {
    const path = `${dir}/${x.file}`;
    const loaded = await gb.loadModel(path);
    assert.deepEqual(loaded.profile, profile, `${x.name}: the profile travels`);
    const m = x.name.startsWith("int8") ? await gb.loadQuantizedModel(path) : loaded.model;
    const acc = await accuracyOf(m, testSet, 4);
    assert.equal(acc, x.accuracy, `${x.name}: reloaded ${acc}, reported ${x.accuracy}`);
    assert.equal((await Deno.stat(path)).size, x.bytes, x.name);
    const w = await countWeights(loaded.model);
    if (!x.name.startsWith("int8")) {
      assert.equal(w.params, x.params, `${x.name}: parameters`);
      assert.equal(w.params - w.zeros, x.nonzero, `${x.name}: non-zero parameters`);
    }
    const level = /^pruned (\d+)%$/.exec(x.name);
    if (level) {
      assert.ok(w.zeros >= Math.floor((Number(level[1]) / 100) * w.all), `${x.name}: ${w.zeros} zeros`);
    }
    if (x.name.startsWith("int8")) {
      // the tensors: int8 weights with float biases and scales; the header (profile, architecture,
      // input scales: about 1.5 KiB) is the same size in both, so the whole file is ≈ 3.2× smaller
      const ratio = (await payload(`${dir}/${base.file}`)) / (await payload(path));
      assert.ok(ratio >= 3.5, `${x.name}: tensors ${ratio.toFixed(2)}× smaller`);
      assert.ok(base.bytes / x.bytes >= 3, `${x.name}: file ${base.bytes} / ${x.bytes}`);
    }
    assert.ok(Number.isFinite(x.camDrift) && Number.isFinite(x.igDrift), `${x.name}: drift measured`);
  }
  // filter pruning halved the last conv's 32 filters and the Linear after the pooling
  const fp = (await gb.loadModel(`${dir}/models/filters-50-conv-2.safetensors`)).model as gb.Sequential;
  assert.equal((fp.layers[3] as gb.Conv2d).outChannels, 16);
  assert.equal((fp.layers[7] as gb.Linear).inFeatures, 16);

  // the CAM drift is at the profile's layer: recomputed for the 50% model from its file
  const xs = gb.tensor(test.x.subarray(0, 4 * 192), [4, 3, 8, 8]), labels = Array.from(test.y.subarray(0, 4));
  const cam = async (m: gb.Module) => {
    const layer = m.get("4");
    return await new gb.GradCAM(m, layer).attribute(xs, { target: labels, upsample: false });
  };
  const pruned = (await gb.loadModel(`${dir}/${v.get("pruned 50%")!.file}`)).model;
  const rho = (await gb.explanationDrift(await cam(model), await cam(pruned))).mean;
  assert.ok(
    Math.abs(rho - v.get("pruned 50%")!.camDrift) < 1e-6,
    `CAM ρ ${rho} vs ${v.get("pruned 50%")!.camDrift}`,
  );

  // the summary speaks of the profile's classes and layer, never MNIST's
  const md = r.files.find((f) => f.name === "summary.md")!.data as string;
  assert.match(md, /200 test images \(4 classes: red square, green diamond, blue ring, yellow triangle\)/);
  assert.match(md, /Grad-CAM: ReLU "4" at 4×4/);
  assert.doesNotMatch(md, /MNIST|28×28|11×11/);
  // the drift pictures' captions name the label and the original's prediction by class name
  const probs = await gb.predict(model, xs).toArray();
  const svg = r.files.find((f) => f.name === "drift_gradcam.svg")!.data as string;
  for (let n = 0; n < 4; n++) {
    const p = Array.from(probs.subarray(n * 4, n * 4 + 4));
    assert.ok(
      svg.includes(`original predicts ${profile.classes[p.indexOf(Math.max(...p))]}`),
      `caption ${n}`,
    );
    assert.ok(svg.includes(`label ${profile.classes[labels[n]]}`), `caption ${n}`);
  }
  assert.ok(lines.some((l) => l.startsWith("int8 QAT: test accuracy")));
  // 16 fine-tuning steps though an epoch of 600 images is 10 batches: steps, not one epoch, decide
  for (const what of ["QAT", "filter-pruned"]) {
    assert.ok(lines.some((l) => l.startsWith(`  ${what}: step 16/16, loss`)), `${what} ran 16 steps`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("compressStudy on a tabular MLP: no filter-pruning row and why, no CAM column, every file reloads to its accuracy, int8 tensors ≥ 3.5× smaller (files ≥ 3×)", async () => {
  const d = gb.makeClassification({ nSamples: 900, nFeatures: 12, nInformative: 4, nClasses: 3, seed: 4 });
  const { train, test } = gb.trainTestSplit(d.x, d.y, 12, { testFraction: 0.25, seed: 5 });
  const names = Array.from({ length: 12 }, (_, i) => `feature ${String.fromCharCode(97 + i)}`);
  const profile: gb.ExplanationProfile = {
    modality: "tabular",
    inputShape: [12],
    classes: ["low", "middle", "high"],
    featureNames: names,
  };
  gb.manualSeed(6);
  const model = gb.sequentialModel([
    { type: "Linear", in: 12, out: 128, bias: true },
    { type: "ReLU" },
    { type: "Linear", in: 128, out: 128, bias: true },
    { type: "ReLU" },
    { type: "Linear", in: 128, out: 3, bias: true },
  ]);
  const trainSet = { x: train.x, y: train.y as Int32Array, sampleShape: [12] };
  const testSet = { x: test.x, y: test.y as Int32Array, sampleShape: [12] };
  await gb.fit(model, trainSet, { optimizer: new gb.Adam(model.parameters(), { lr: 1e-2 }), epochs: 5 });
  const r = await gb.compressStudy(model, profile, { train: trainSet, test: testSet }, quick);
  const v = new Map(r.summary.variants.map((x) => [x.name, x]));
  assert.deepEqual([...v.keys()], [
    "original (float32)",
    "pruned 50%",
    "pruned 80%",
    "pruned 90%",
    "int8 min-max",
    "int8 percentile 99.99",
    "int8 QAT",
  ]);
  assert.deepEqual(r.skipped.map((s) => s.variant), ["CAM drift", "filter pruning", "distillation"]);
  assert.match(r.skipped[1].reason, /no Conv2d/);
  const md = r.files.find((f) => f.name === "summary.md")!.data as string;
  assert.match(md, /- filter pruning: the model has no Conv2d/);
  assert.doesNotMatch(r.table, /Grad-CAM/);
  assert.ok(!r.files.some((f) => f.name === "drift_gradcam.svg"));
  const igSvg = r.files.find((f) => f.name === "drift_integrated_gradients.svg")!.data as string;
  assert.ok(igSvg.includes("feature l"), "the IG chart names the profile's features");
  const dir = await Deno.makeTempDir();
  await writeAll(dir, r);
  const base = v.get("original (float32)")!;
  assert.ok(base.accuracy > 0.6, `trained: ${base.accuracy}`);
  for (const x of v.values()) {
    assert.ok(Number.isNaN(x.camDrift) && Number.isFinite(x.igDrift), x.name);
    const path = `${dir}/${x.file}`;
    const loaded = await gb.loadModel(path);
    assert.deepEqual(loaded.profile, profile, x.name);
    const m = x.name.startsWith("int8") ? await gb.loadQuantizedModel(path) : loaded.model;
    assert.equal(await accuracyOf(m, testSet, 3), x.accuracy, x.name);
    if (x.name.startsWith("int8")) {
      // the tensors: int8 weights with float biases and scales; the header (profile, architecture,
      // input scales: about 1.5 KiB) is the same size in both, so the whole file is ≈ 3.2× smaller
      const ratio = (await payload(`${dir}/${base.file}`)) / (await payload(path));
      assert.ok(ratio >= 3.5, `${x.name}: tensors ${ratio.toFixed(2)}× smaller`);
      assert.ok(base.bytes / x.bytes >= 3, `${x.name}: file ${base.bytes} / ${x.bytes}`);
    }
    const level = /^pruned (\d+)%$/.exec(x.name);
    if (level) {
      const w = await countWeights(loaded.model);
      assert.ok(w.zeros >= Math.floor((Number(level[1]) / 100) * w.all), `${x.name}: ${w.zeros} zeros`);
      assert.equal(w.params - w.zeros, x.nonzero, x.name);
    }
  }
  // summary.json as the CLI writes it: NaN has no JSON, the CAM column is null there
  const json = JSON.parse(r.files.find((f) => f.name === "summary.json")!.data as string);
  assert.equal(json.variants[0].camDrift, null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("compressStudy refuses, naming the problem, a model whose outputs are not the profile's classes and labels outside them", async () => {
  const model = gb.sequentialModel([{ type: "Linear", in: 2, out: 3, bias: true }]);
  const data = { x: new Float32Array(8), y: Int32Array.from([0, 1, 0, 1]), sampleShape: [2] };
  const profile = { modality: "tabular" as const, inputShape: [2], classes: ["no", "yes"] };
  await assert.rejects(
    () => gb.compressStudy(model, profile, { train: data, test: data }),
    /the model gives \[1, 3\] for one example; the profile names 2 classes \(no, yes\)/,
  );
  const two = gb.sequentialModel([{ type: "Linear", in: 2, out: 2, bias: true }]);
  await assert.rejects(
    () =>
      gb.compressStudy(two, profile, { train: { ...data, y: Int32Array.from([0, 2, 0, 1]) }, test: data }),
    /training label 1 is 2, the profile names 2 classes/,
  );
});

Deno.test("deno task compress on a non-MNIST checkpoint: --train/--test safetensors files, the table as the library returns it; without them one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  const make = (n: number, seed: number, stats?: { mean: number[]; std: number[] }) =>
    gb.makeRgbPatternImages({ nSamples: n, size: 8, patternSize: 3, emptyClass: false, seed, ...stats });
  const train = make(300, 1), test = make(60, 2, { mean: train.mean, std: train.std });
  const profile = gb.rgbPatternProfile(train, { camLayer: "4" });
  gb.manualSeed(3);
  const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
  await gb.saveModel(model, `${dir}/c.safetensors`, {}, { profile });
  for (const [name, d] of [["train", train], ["test", test]] as const) {
    await Deno.writeFile(
      `${dir}/${name}.safetensors`,
      gb.encodeSafetensors([
        ["x", { dtype: "F32", shape: [d.y.length, 3, 8, 8], data: d.x }],
        ["y", { dtype: "I32", shape: [d.y.length], data: d.y }],
      ]),
    );
  }
  const compress = (...args: string[]) =>
    runScript("examples/compress_mnist.ts", [
      "--checkpoint",
      `${dir}/c.safetensors`,
      "--out",
      `${dir}/x`,
      ...args,
    ]);
  const none = await compress("--quick");
  assert.equal(none.code, 2);
  assert.match(
    none.err,
    /^error: .*c\.safetensors takes \[3, 8, 8\] inputs with 4 classes, not MNIST: give its data with --train F --test F/,
  );
  assert.equal(none.err.trim().split("\n").length, 1);
  const r = await compress(
    "--train",
    `${dir}/train.safetensors`,
    "--test",
    `${dir}/test.safetensors`,
    "--quick",
    "--steps",
    "4",
    "--explain",
    "2",
  );
  assert.equal(r.code, 0, r.err);
  const s = gb.parseCompressSummary(await Deno.readTextFile(`${dir}/x/summary.json`));
  assert.equal(s.testImages, 60);
  assert.equal(s.variants.length, 8);
  assert.match(r.out, /not run: distillation \(the zoo has no student for small-cam-cnn\)/);
  for (const v of s.variants) assert.equal((await Deno.stat(v.file)).size, v.bytes, v.name);
  assert.match(
    await Deno.readTextFile(`${dir}/x/summary.md`),
    /60 test examples of .*test\.safetensors \(4 classes/,
  );
  await Deno.remove(dir, { recursive: true });
});
