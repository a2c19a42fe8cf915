import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

function deepMlp(act: "sigmoid" | "relu", depth = 12, width = 32) {
  gb.manualSeed(11);
  const layers: gb.Module[] = [];
  for (let i = 0; i < depth; i++) {
    const out = i === depth - 1 ? 10 : width;
    layers.push(new gb.Linear(i === 0 ? 16 : width, out, { init: act === "relu" ? "kaiming" : "default" }));
    if (i < depth - 1) layers.push(act === "relu" ? new gb.ReLU() : new gb.Sigmoid());
  }
  return new gb.Sequential(...layers);
}

async function trainSteps(model: gb.Module, steps: number, lr = 0.01) {
  const opt = new gb.SGD(model.parameters(), { lr });
  gb.manualSeed(5);
  const x = gb.randn([64, 16]);
  const y = gb.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 7) % 10), [64], { dtype: "int32" });
  for (let s = 0; s < steps; s++) {
    await gb.scope(async () => {
      opt.zeroGrad();
      await gb.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
  }
}

Deno.test("a 12-layer sigmoid MLP raises the vanishing alarm at its earliest layers; ReLU + Kaiming raises none", async () => {
  const sig = deepMlp("sigmoid");
  const t1 = gb.trackGradients(sig);
  await trainSteps(sig, 3);
  await t1.flush();
  const vanishing = t1.alarms.filter((a) => a.kind === "vanishing").map((a) => a.layer);
  assert.ok(vanishing.includes("0 Linear"), `the first layer is named: ${JSON.stringify(vanishing)}`);
  // the named layers are the earliest ones: a prefix of the network
  const idx = vanishing.map((l) => Number(l.split(" ")[0]) / 2).sort((a, b) => a - b);
  assert.deepEqual(idx, idx.map((_, i) => i), `a prefix of layers: ${idx}`);
  assert.ok(idx.length < 12, "the last layer is not vanishing");
  assert.match(t1.alarms.find((a) => a.layer === "0 Linear")!.message, /vanishing gradient at 0 Linear/);
  t1.remove();

  const relu = deepMlp("relu");
  const t2 = gb.trackGradients(relu);
  await trainSteps(relu, 3);
  await t2.flush();
  assert.deepEqual(t2.alarms.filter((a) => a.kind === "vanishing"), []);
  assert.equal(t2.records.length, 3);
  t2.remove();
});

Deno.test("a diverging learning rate raises the exploding alarm before the loss becomes NaN", async () => {
  gb.manualSeed(3);
  const model = new gb.Sequential(new gb.Linear(10, 16), new gb.ReLU(), new gb.Linear(16, 1));
  const tracker = gb.trackGradients(model);
  const opt = new gb.SGD(model.parameters(), { lr: 1.5 });
  const x = gb.randn([128, 10]), y = gb.randn([128, 1]);
  let nanStep = -1;
  for (let s = 1; s <= 200 && nanStep < 0; s++) {
    const loss = await gb.scope(async () => {
      opt.zeroGrad();
      const l = gb.mse(model.forward(x), y);
      await l.backward();
      opt.step();
      return await l.item();
    });
    await tracker.flush();
    if (!Number.isFinite(loss)) nanStep = s;
  }
  assert.ok(nanStep > 0, "the run diverged");
  const exploding = tracker.alarms.find((a) => a.kind === "exploding");
  assert.ok(exploding, "an exploding alarm was raised");
  assert.ok(exploding.step < nanStep, `alarm at step ${exploding.step}, loss NaN at step ${nanStep}`);
  tracker.remove();
});

Deno.test("a NaN planted in one layer's weights is reported at that layer", async () => {
  gb.manualSeed(4);
  const model = new gb.Sequential(
    new gb.Linear(6, 8),
    new gb.ReLU(),
    new gb.Linear(8, 8),
    new gb.ReLU(),
    new gb.Linear(8, 3),
  );
  const bad = new Float32Array(64).fill(0.1);
  bad[13] = NaN;
  const state = model.stateDict();
  state.set("2.weight", gb.tensor(bad, [8, 8]));
  model.loadStateDict(state);
  const tracker = gb.trackGradients(model);
  await gb.scope(async () => {
    const y = gb.tensor([0, 1, 2, 0], undefined, { dtype: "int32" });
    await gb.crossEntropy(model.forward(gb.randn([4, 6])), y).backward();
  });
  await tracker.flush();
  const nan = tracker.alarms.find((a) => a.kind === "nonfinite");
  assert.ok(nan, "a NaN alarm was raised");
  assert.equal(nan.layer, "2 Linear (op linear)");
  assert.match(nan.message, /NaN\/Inf first produced at 2 Linear \(op linear\)/);
  tracker.remove();
});

Deno.test("tracked statistics agree with a CPU computation over the same tensors", async () => {
  gb.manualSeed(8);
  const model = new gb.Sequential(new gb.Linear(5, 4), new gb.ReLU(), new gb.Linear(4, 3));
  const tracker = gb.trackGradients(model);
  const lr = 0.1;
  const opt = new gb.SGD(model.parameters(), { lr });
  const x = gb.randn([7, 5]);
  const y = gb.tensor([0, 1, 2, 0, 1, 2, 0], undefined, { dtype: "int32" });
  opt.zeroGrad();
  const w0 = await model.parameters()[0].toArray();
  const b0 = await model.parameters()[1].toArray();
  const out = model.forward(x);
  await gb.crossEntropy(out, y).backward();
  const g0 = await model.parameters()[0].grad!.toArray();
  opt.step();
  await tracker.flush();
  const rec = tracker.records[0];
  const p = rec.params.find((q) => q.name === "0.weight")!;
  const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
  assertClose([p.grad.norm, p.weight.norm], [norm(g0), norm(w0)], { rtol: 1e-5 });
  assertClose([p.grad.mean], [Array.from(g0).reduce((a, b) => a + b, 0) / g0.length], {
    rtol: 1e-4,
    atol: 1e-7,
  });
  // SGD: the update is -lr·g, so the ratio is lr·‖g‖/‖w‖
  assertClose([p.updateRatio!], [(lr * norm(g0)) / norm(w0)], { rtol: 1e-4 });
  assert.equal(
    p.weight.histogram.reduce((a, b) => a + b, 0),
    20,
    "histogram counts sum to the element count",
  );
  assert.equal(p.layer, "0 Linear");
  const total = Math.sqrt(rec.params.reduce((a, q) => a + q.grad.norm ** 2, 0));
  assertClose([rec.totalGradNorm], [total], { rtol: 1e-6 });
  // layers in forward order, with activations and output gradients
  assert.deepEqual(rec.layers.map((l) => l.label), ["0 Linear", "1 ReLU", "2 Linear"]);
  // the ReLU layer's activation statistics match its output computed directly
  const relu = await gb.relu(gb.linear(x, gb.tensor(w0, [4, 5]), gb.tensor(b0))).toArray();
  const zeros = Array.from(relu).filter((v) => v === 0).length / relu.length;
  assertClose([rec.layers[1].activation!.zeroFraction], [zeros], { rtol: 0, atol: 1e-9 });
  assertClose([rec.layers[1].activation!.mean], [Array.from(relu).reduce((a, b) => a + b, 0) / relu.length], {
    rtol: 1e-5,
  });
  assert.equal(rec.layers[2].gradOutput!.count, 21, "the gradient at the last layer's output: 7 × 3");
  tracker.remove();
});

Deno.test("the dead-ReLU fraction is exact on planted weights", async () => {
  const lin = new gb.Linear(4, 8);
  lin.loadStateDict({
    weight: gb.zeros([8, 4]),
    bias: gb.tensor([-1, -1, -1, 1, 1, 1, 1, 1]), // units 0-2 never fire
  });
  const model = new gb.Sequential(lin, new gb.ReLU(), new gb.Linear(8, 2));
  const tracker = gb.trackGradients(model);
  for (let s = 0; s < 3; s++) {
    await gb.scope(async () => {
      await gb.crossEntropy(
        model.forward(gb.randn([5, 4])),
        gb.tensor([0, 1, 0, 1, 0], undefined, { dtype: "int32" }),
      ).backward();
    });
  }
  await tracker.flush();
  assert.equal(tracker.deadUnits.length, 1);
  assert.equal(tracker.deadUnits[0].deadFraction, 3 / 8);
  assert.equal(tracker.deadUnits[0].layer, "1 ReLU");
  assert.equal(
    tracker.alarms.filter((a) => a.kind === "dead-relu").length,
    0,
    "37.5% is under the 50% threshold",
  );
  tracker.remove();
});

Deno.test("saturated sigmoid units raise the saturation alarm; a well-scaled layer does not", async () => {
  for (const [scale, expect] of [[100, true], [0.1, false]] as const) {
    gb.manualSeed(6);
    const lin = new gb.Linear(8, 16);
    const w = await lin.weight.toArray();
    lin.loadStateDict({ weight: gb.tensor(w.map((v) => v * scale), [16, 8]), bias: gb.zeros([16]) });
    const model = new gb.Sequential(lin, new gb.Sigmoid(), new gb.Linear(16, 2));
    const tracker = gb.trackGradients(model);
    await gb.scope(async () => {
      await gb.crossEntropy(
        model.forward(gb.randn([32, 8])),
        gb.tensor(new Int32Array(32), [32], { dtype: "int32" }),
      ).backward();
    });
    await tracker.flush();
    const sat = tracker.alarms.find((a) => a.kind === "saturated");
    assert.equal(Boolean(sat), expect, `scale ${scale}: ${tracker.alarms.map((a) => a.message).join("; ")}`);
    if (sat) assert.equal(sat.layer, "1 Sigmoid");
    const frac = tracker.records[0].layers.find((l) =>
      l.label === "1 Sigmoid"
    )!.activation!.saturatedFraction;
    assert.ok(expect ? frac > 0.5 : frac < 0.05, `saturated fraction ${frac}`);
    tracker.remove();
  }
});

Deno.test("flushing every step, with or without a layer step in the window, raises no false dead-ReLU alarm", async () => {
  gb.manualSeed(12);
  const model = new gb.Sequential(
    new gb.Linear(6, 16, { init: "kaiming" }),
    new gb.ReLU(),
    new gb.Linear(16, 2),
  );
  for (const options of [{}, { every: 12 }, { layerEvery: 3 }]) {
    const tracker = gb.trackGradients(model, options);
    const x = gb.randn([32, 6]);
    const y = gb.tensor(Int32Array.from({ length: 32 }, (_, i) => i % 2), [32], { dtype: "int32" });
    for (let s = 0; s < 25; s++) {
      await gb.scope(async () => {
        await gb.crossEntropy(model.forward(x), y).backward();
      });
      await tracker.flush(); // as the README suggests: windows without a layer step are not judged
    }
    assert.deepEqual(
      tracker.alarms.filter((a) => a.kind === "dead-relu").map((a) => a.message),
      [],
      JSON.stringify(options),
    );
    assert.ok(tracker.deadUnits.length > 0, "the windows that did inspect the layer were judged");
    for (const d of tracker.deadUnits) {
      assert.ok(d.deadFraction < 0.5, `${d.deadFraction} dead in ${d.fromStep}..${d.toStep}`);
    }
    tracker.remove();
  }
});

Deno.test("a NaN seen only in gradients says so, then the tracker traces it to the layer that makes it", async () => {
  gb.manualSeed(13);
  // a layer whose output is finite for most samples and NaN for the last ones (outside the 16 inspected):
  // sqrt of a feature that is negative only for samples 20..23
  class SqrtLast extends gb.Module {
    forward(x: gb.Tensor): gb.Tensor {
      return x.sqrt();
    }
  }
  const model = new gb.Sequential(new gb.Linear(3, 4), new SqrtLast(), new gb.Linear(4, 2));
  model.loadStateDict({
    "0.weight": gb.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]),
    "0.bias": gb.zeros([4]),
    "2.weight": gb.ones([2, 4]),
    "2.bias": gb.zeros([2]),
  });
  const x = gb.tensor(Float32Array.from({ length: 24 * 3 }, (_, i) => (Math.floor(i / 3) >= 20 ? -1 : 1)), [
    24,
    3,
  ]);
  const y = gb.tensor(new Int32Array(24), [24], { dtype: "int32" });
  const tracker = gb.trackGradients(model, { layerEvery: 100 });
  for (let s = 0; s < 3; s++) {
    await gb.scope(async () => {
      await gb.crossEntropy(model.forward(x), y).backward();
    });
    await tracker.flush();
  }
  const nan = tracker.alarms.filter((a) => a.kind === "nonfinite");
  // step 1 inspected 16 samples (all finite): only the gradients are known to be bad
  assert.equal(nan[0].source, "gradient");
  assert.equal(nan[0].step, 1);
  assert.match(
    nan[0].message,
    /NaN\/Inf in gradients, nearest the output at 2\.bias \(and 3 more parameters\)/,
  );
  assert.match(nan[0].message, /layer outputs over the first 16 samples were finite/);
  // step 2 inspected every layer over the whole batch and found where it starts
  assert.equal(nan[1].source, "activation");
  assert.equal(nan[1].step, 2);
  assert.equal(nan[1].layer, "1 SqrtLast (op sqrt)");
  assert.match(
    nan[1].message,
    /first produced at 1 SqrtLast \(op sqrt\): 16 non-finite values in its output over the whole batch/,
  );
  tracker.remove();
});
