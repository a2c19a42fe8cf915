/**
 * The residual CNN with BatchNorm (SmallResNet, torchvision's BasicBlock layout) against PyTorch 1.13's
 * numbers (tests/fixtures/torch/resnet.safetensors, made by make_resnet_fixtures.py there); the
 * planted-pattern RGB data set's own facts (masks, boxes, per-channel normalisation, profile); and the
 * model trained briefly on it, checked as tests/explain_trained_test.ts checks the grey CNN: Grad-CAM at
 * the last block, Occlusion and Integrated Gradients peak inside the planted shape, with every BatchNorm
 * in eval mode while it is explained and training mode given back after. The rates are printed.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";

/** max |got − want| ≤ rel · max |want|; returns the measured ratio. */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, msg: string): number {
  assert.equal(got.length, want.length, `${msg}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    const e = Math.abs(got[i] - want[i]);
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
  }
  assert.ok(scale > 0, `${msg}: PyTorch's values are all zero`);
  assert.ok(
    err <= rel * scale,
    `${msg}: max error ${err.toExponential(2)} > ${rel} × ${scale.toPrecision(3)}`,
  );
  return err / scale;
}

Deno.test("SmallResNet (torchvision's BasicBlock layout) loads PyTorch 1.13's state_dict unchanged and gives its outputs, input and parameter gradients and running statistics, in eval and train mode", async () => {
  const name = "resnet.safetensors";
  const file = decodeSafetensors(
    await Deno.readFile(new URL(`./fixtures/torch/${name}`, import.meta.url)),
    name,
  );
  const data = (n: string) => {
    const h = file.tensors.get(n);
    if (!h) throw new Error(`fixture has no "${n}"`);
    return h;
  };
  const t = (n: string, requiresGrad = false) =>
    gb.tensor(data(n).data as Float32Array, data(n).shape, { requiresGrad });
  const torchNames: string[] = JSON.parse(file.metadata.state);
  const model = new gb.SmallResNet({ channels: 3, width: 4, classes: 5 });
  // the same names, in the same order, as PyTorch's state_dict (num_batches_tracked aside)
  const ours = [...model.namedParameters(), ...model.namedBuffers()].map(([n]) => n);
  assert.deepEqual([...ours].sort(), [...torchNames].sort());
  const worst: Record<string, number> = {};
  const note = (k: string, r: number) => (worst[k] = Math.max(worst[k] ?? 0, r));
  for (const mode of ["eval", "train"] as const) {
    model.loadStateDict(Object.fromEntries(torchNames.map((n) => [n, t(`state/${n}`)])));
    model.train(mode === "train");
    const params = model.namedParameters();
    await gb.scope(async () => {
      const x = t("x", true);
      const y = model.forward(x);
      const grads = gb.grad(gb.sum(gb.mul(y, t("R"))), [x, ...params.map(([, p]) => p)]);
      note(`${mode} output`, close(await y.toArray(), data(`${mode}/output`).data, 1e-5, `${mode}: output`));
      note(
        `${mode} gradient`,
        close(await grads[0].toArray(), data(`${mode}/grad.x`).data, 1e-4, `${mode}: ∂/∂x`),
      );
      for (const [i, [n]] of params.entries()) {
        note(
          `${mode} gradient`,
          close(await grads[i + 1].toArray(), data(`${mode}/grad.${n}`).data, 1e-4, `${mode}: ∂/∂${n}`),
        );
      }
      if (mode === "train") {
        for (const [n, b] of model.namedBuffers()) {
          note(
            "running statistics",
            close(await b.toArray(), data(`train/running.${n}`).data, 1e-5, `running ${n}`),
          );
        }
      }
    });
  }
  console.log(`worst relative errors against PyTorch: ${JSON.stringify(worst)}`);
});

/** Index of the largest value of each example's map [N, C?, H, W] (summed over channels first). */
async function peaks(attr: gb.Tensor, H: number, W: number): Promise<number[]> {
  const a = await attr.toArray();
  const N = attr.shape[0], C = a.length / (N * H * W);
  return Array.from({ length: N }, (_, n) => {
    let best = -Infinity, arg = 0;
    for (let p = 0; p < H * W; p++) {
      let v = 0;
      for (let c = 0; c < C; c++) v += a[(n * C + c) * H * W + p];
      if (v > best) [best, arg] = [v, p];
    }
    return arg;
  });
}

async function train(model: gb.Module, data: gb.RgbPatternImages, steps: number, batch: number, lr: number) {
  const opt = new gb.Adam(model.parameters(), { lr });
  const S = data.size, D = 3 * S * S, N = data.y.length;
  const g = new gb.Generator(1);
  let order = g.shuffle(Array.from({ length: N }, (_, i) => i)), at = 0;
  for (let s = 0; s < steps; s++) {
    if (at + batch > N) {
      order = g.shuffle(order);
      at = 0;
    }
    const idx = order.slice(at, at += batch);
    await gb.scope(async () => {
      const xb = new Float32Array(batch * D), yb = new Int32Array(batch);
      idx.forEach((k, i) => {
        xb.set(data.x.subarray(k * D, (k + 1) * D), i * D);
        yb[i] = data.y[k];
      });
      opt.zeroGrad();
      await gb.crossEntropy(
        model.forward(gb.tensor(xb, [batch, 3, S, S])),
        gb.tensor(yb, [batch], { dtype: "int32" }),
      ).backward();
      opt.step();
    });
  }
  await gb.sync();
}

Deno.test("DeepLift on SmallResNet (a ReLU module called twice per block, residual sums, BatchNorm in eval mode) sums to F(x) − F(x′)", async () => {
  gb.manualSeed(3);
  const model = gb.createModel("small-resnet", { channels: 3, width: 4, classes: 3 });
  // running statistics that are not the initial 0 and 1
  gb.noGrad(() => [0, 1, 2].forEach(() => model.forward(gb.randn([8, 3, 8, 8]))));
  const x = gb.randn([2, 3, 8, 8]);
  const { attributions, delta } = await new gb.DeepLift(model).attributeWithDelta(x, {
    target: 1,
    baselines: 0,
  });
  const restore = model.enterEval();
  const out = await model.forward(x).toArray(), out0 = await model.forward(gb.zeros([2, 3, 8, 8])).toArray();
  restore();
  const a = await attributions.toArray(), d = await delta.toArray();
  for (let n = 0; n < 2; n++) {
    const gap = out[n * 3 + 1] - out0[n * 3 + 1];
    let sum = 0;
    for (let i = 0; i < 192; i++) sum += a[n * 192 + i];
    assert.ok(Math.abs(sum - gap) <= 1e-4 * Math.max(1, Math.abs(gap)), `image ${n}: Σ ${sum} vs ${gap}`);
    assert.ok(Math.abs(d[n]) <= 1e-4 * Math.max(1, Math.abs(gap)), `image ${n}: delta ${d[n]}`);
  }
});

Deno.test("makeRgbPatternImages: each shape where its box and mask say, in its colour; pixels normalised per channel (a test set with the training set's statistics); the profile", () => {
  const d = gb.makeRgbPatternImages({ nSamples: 200, size: 16, patternSize: 5, seed: 3 });
  const S = 16, HW = S * S;
  assert.deepEqual(d.classNames, ["red square", "green diamond", "blue ring", "yellow triangle", "none"]);
  assert.equal(d.classes, 5);
  for (let n = 0; n < 200; n++) {
    const top = d.boxes[2 * n], left = d.boxes[2 * n + 1];
    let on = 0;
    for (let p = 0; p < HW; p++) {
      if (!d.masks[n * HW + p]) continue;
      on++;
      const r = Math.floor(p / S), c = p % S;
      assert.ok(
        r >= top && r < top + 5 && c >= left && c < left + 5,
        `image ${n}: mask pixel outside its box`,
      );
    }
    // pixel counts of the 5×5 shapes: square 25, diamond 13, ring 16, triangle 15, none 0
    assert.equal(on, [25, 13, 16, 15, 0][d.y[n]], `image ${n} (class ${d.y[n]})`);
    if (d.y[n] === 0) {
      // the red square: red channel high, green and blue low (raw units)
      const p = top * S + left;
      assert.ok(d.raw[(n * 3) * HW + p] > 0.5 && d.raw[(n * 3 + 1) * HW + p] < 0.5, "red");
    }
  }
  // normalised with this set's own statistics: each channel has mean 0 and standard deviation 1
  for (let c = 0; c < 3; c++) {
    let s = 0, s2 = 0;
    for (let n = 0; n < 200; n++) {
      for (let p = 0; p < HW; p++) {
        const v = d.x[(n * 3 + c) * HW + p];
        s += v;
        s2 += v * v;
      }
    }
    const m = s / (200 * HW);
    assert.ok(Math.abs(m) < 1e-4 && Math.abs(Math.sqrt(s2 / (200 * HW) - m * m) - 1) < 1e-4, `channel ${c}`);
  }
  const test = gb.makeRgbPatternImages({
    nSamples: 10,
    size: 16,
    patternSize: 5,
    seed: 4,
    mean: d.mean,
    std: d.std,
  });
  assert.deepEqual(test.mean, d.mean);
  assert.ok(Math.abs(test.x[5] - (test.raw[5] - d.mean[0]) / d.std[0]) < 1e-6);
  const profile = gb.validateProfile(gb.rgbPatternProfile(d, { camLayer: "layer2.0" }));
  assert.deepEqual(profile.inputShape, [3, 16, 16]);
  assert.deepEqual(profile.classes, d.classNames);
  assert.deepEqual([profile.mean, profile.std, profile.camLayer], [d.mean, d.std, "layer2.0"]);
  assert.equal(gb.makeRgbPatternImages({ nSamples: 1 }).size, 32);
  assert.throws(() => gb.makeRgbPatternImages({ size: 4 }), /size 4/);
  assert.throws(() => gb.makeRgbPatternImages({ mean: [0, 0, 0] }), /both mean and std/);
  assert.throws(() => gb.makeRgbPatternImages({ mean: [0, 0], std: [1, 1] }), /mean must be 3/);
});

Deno.test("SmallResNet trained briefly on planted RGB shapes: Grad-CAM at its last block, Occlusion and Integrated Gradients peak inside the shape; every BatchNorm in eval mode while explaining, training mode and running statistics as they were after", async () => {
  gb.manualSeed(0);
  // 16×16 images and width 8 keep the run short (the data set's default is 32×32; any size works)
  const S = 16, P = 5;
  const trainSet = gb.makeRgbPatternImages({ nSamples: 800, size: S, patternSize: P, seed: 1 });
  const testSet = gb.makeRgbPatternImages({
    nSamples: 100,
    size: S,
    patternSize: P,
    seed: 2,
    mean: trainSet.mean,
    std: trainSet.std,
  });
  const model = gb.createModel("small-resnet", { channels: 3, width: 8, classes: trainSet.classes });
  assert.ok(model instanceof gb.SmallResNet);
  await train(model, trainSet, 80, 32, 0.01);
  const all = gb.tensor(testSet.x, [testSet.y.length, 3, S, S]);
  const restore = model.enterEval();
  const pred = await gb.argmax(model.forward(all), 1).toArray();
  restore();
  const right = Array.from(testSet.y.keys()).filter((n) => pred[n] === testSet.y[n]);
  assert.ok(right.length >= 90, `test accuracy ${right.length}/100`);
  // every correctly classified image with a shape (at most 24, to keep the test short)
  const shown = right.filter((n) => testSet.y[n] < testSet.classes - 1).slice(0, 24);
  const xs = gb.concat(shown.map((n) => all.slice(n, n + 1)), 0);
  const target = shown.map((n) => testSet.y[n]);
  const inside = (p: number, n: number) => {
    const r = Math.floor(p / S), c = p % S, top = testSet.boxes[2 * n], left = testSet.boxes[2 * n + 1];
    return r >= top && r < top + P && c >= left && c < left + P;
  };
  const rate = async (attr: gb.Tensor) => {
    assert.deepEqual(attr.shape.slice(-2), [S, S]);
    const pk = await peaks(attr, S, S);
    // for the record: how often the peak is on one of the shape's own pixels (its mask), not just its box
    onShape.push(pk.filter((p, i) => testSet.masks[shown[i] * S * S + p] === 1).length / shown.length);
    return pk.filter((p, i) => inside(p, shown[i])).length / shown.length;
  };
  const onShape: number[] = [];
  // BatchNorm's mode at every call while the methods run; its running statistics before and after
  const modes: boolean[] = [];
  const bns = model.namedModules().filter(([, m]) => m instanceof gb.BatchNorm2d);
  assert.equal(bns.length, 6, "the stem's, two per block, the projection's");
  const handles = bns.map(([, m]) => m.registerForwardHook((bn) => void modes.push(bn.training)));
  const stats = () => Promise.all(model.namedBuffers().map(([, b]) => b.toArray()));
  const before = await stats();
  model.train();
  const profile = gb.rgbPatternProfile(trainSet, { camLayer: (model as gb.SmallResNet).camLayer });
  const rates: Record<string, number> = {
    GradCAM: await rate(await new gb.GradCAM(model, model.get(profile.camLayer!)).attribute(xs, { target })),
    Occlusion: await rate(
      await new gb.Occlusion(model).attribute(xs, {
        target,
        slidingWindowShapes: [3, 3, 3],
        strides: [3, 1, 1],
      }),
    ),
    IntegratedGradients: await rate(
      await new gb.IntegratedGradients(model).attribute(xs, {
        target,
        baselines: profile.baseline,
        nSteps: 16,
      }),
    ),
  };
  handles.forEach((h) => h.remove());
  console.log(
    `test accuracy ${right.length}/100; peak inside the shape's box, ${shown.length} test images: ${
      JSON.stringify(rates)
    }; on a pixel of the shape itself: ${onShape.map((r) => r.toFixed(2)).join(", ")}`,
  );
  for (const [name, r] of Object.entries(rates)) assert.ok(r >= 0.9, `${name}: ${r}`);
  assert.ok(
    modes.length > 0 && modes.every((t) => !t),
    `BatchNorm ran in train mode ${modes.filter((t) => t).length} times`,
  );
  assert.ok(model.namedModules().every(([, m]) => m.training), "training mode given back to every module");
  assert.deepEqual(await stats(), before, "the running statistics are untouched");
  // the registry rebuilds it from the checkpoint alone (running statistics included), profile alongside
  const dir = await Deno.makeTempDir();
  try {
    await gb.saveModel(model, `${dir}/resnet.safetensors`, gb.profileMetadata(profile));
    const loaded = await gb.loadModel(`${dir}/resnet.safetensors`);
    assert.ok(loaded.model instanceof gb.SmallResNet && loaded.model.config.width === 8);
    assert.deepEqual(gb.profileFromMetadata(loaded.metadata), gb.validateProfile(profile));
    const a = model.enterEval(), b = loaded.model.enterEval();
    assert.deepEqual(await loaded.model.forward(xs).toArray(), await model.forward(xs).toArray());
    a();
    b();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
