/**
 * Attribution on trained models, against planted truths: where a class-defining pattern is
 * (localisation), completeness on the MNIST CNN, deletion AUC against random ordering, and the
 * randomisation sanity check. The rates and numbers are printed for the record.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

async function train(
  model: gb.Module,
  x: Float32Array,
  y: Int32Array,
  shape: number[],
  steps: number,
  batch: number,
  lr: number,
) {
  const opt = new gb.Adam(model.parameters(), { lr });
  const D = shape.reduce((a, b) => a * b, 1), N = y.length;
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
        xb.set(x.subarray(k * D, (k + 1) * D), i * D);
        yb[i] = y[k];
      });
      opt.zeroGrad();
      await gb.crossEntropy(
        model.forward(gb.tensor(xb, [batch, ...shape])),
        gb.tensor(yb, [batch], { dtype: "int32" }),
      )
        .backward();
      opt.step();
    });
  }
  await gb.sync();
}

/** Index of the largest value of each example's map [N, ...] (summed over channels first). */
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

Deno.test("localisation with a planted truth: Grad-CAM's, Occlusion's and Integrated Gradients' peaks fall inside the pattern", async () => {
  gb.manualSeed(0);
  const S = 20;
  // square, cross, or nothing: the model has to detect each pattern, wherever it is
  const trainSet = gb.makePatternImages({ nSamples: 2400, size: S, seed: 1 });
  const testSet = gb.makePatternImages({ nSamples: 180, size: S, seed: 2 });
  const model = gb.createModel("small-cam-cnn", { classes: 3 });
  await train(model, trainSet.x, trainSet.y, [1, S, S], 400, 32, 0.003);
  const withPattern = Array.from(testSet.y.keys()).filter((n) => testSet.y[n] < 2);
  const all = gb.tensor(testSet.x, [180, 1, S, S]);
  model.eval();
  const pred = await gb.argmax(model.forward(all), 1).toArray();
  model.train();
  const correct = withPattern.filter((n) => pred[n] === testSet.y[n]);
  assert.ok(
    correct.length >= 0.9 * withPattern.length,
    `the model learned the patterns: ${correct.length}/${withPattern.length}`,
  );
  const xs = gb.concat(correct.map((n) => all.slice(n, n + 1)), 0);
  const target = correct.map((n) => testSet.y[n]);
  const inside = (p: number, n: number) => {
    const r = Math.floor(p / S), c = p % S, top = testSet.boxes[2 * n], left = testSet.boxes[2 * n + 1];
    return r >= top && r < top + testSet.patternSize && c >= left && c < left + testSet.patternSize;
  };
  const rate = async (attr: gb.Tensor) => {
    const pk = await peaks(attr, S, S);
    return pk.filter((p, i) => inside(p, correct[i])).length / correct.length;
  };
  const rates: Record<string, number> = {
    GradCAM: await rate(await new gb.GradCAM(model, model.get("4")).attribute(xs, { target })),
    Occlusion: await rate(
      await new gb.Occlusion(model).attribute(xs, { target, slidingWindowShapes: [1, 3, 3] }),
    ),
    IntegratedGradients: await rate(
      await new gb.IntegratedGradients(model).attribute(xs, { target, nSteps: 32 }),
    ),
  };
  console.log(
    `peak inside the pattern, ${correct.length} correctly classified test images: ${JSON.stringify(rates)}`,
  );
  for (const [name, r] of Object.entries(rates)) assert.ok(r >= 0.9, `${name}: ${r}`);
});

Deno.test("the MNIST CNN: IG completeness within 1% (64 Gauss–Legendre steps); deletion AUC of IG and Grad-CAM beats random; randomisation decorrelates", async () => {
  const trainSplit = gb.mnistDataset(await gb.loadMnist("train"));
  const testSplit = gb.mnistDataset(await gb.loadMnist("test"));
  gb.manualSeed(0);
  const model = gb.createModel("seed-cnn");
  await train(
    model,
    trainSplit.x.subarray(0, 12800 * 784),
    trainSplit.y.subarray(0, 12800),
    [1, 28, 28],
    150,
    64,
    0.002,
  );
  const N = 12;
  const x = gb.tensor(testSplit.x.subarray(0, N * 784), [N, 1, 28, 28]);
  const target = Array.from(testSplit.y.subarray(0, N));
  const black = -gb.MNIST_MEAN / gb.MNIST_STD; // the baseline: a black image in normalised units
  const ig = new gb.IntegratedGradients(model);
  const { attributions, delta } = await ig.attributeWithDelta(x, { target, baselines: black, nSteps: 64 });
  const out = await model.forward(x).toArray(),
    out0 = await model.forward(gb.full([N, 1, 28, 28], black)).toArray();
  const d = await delta.toArray();
  let worst = 0;
  for (let n = 0; n < N; n++) {
    const gap = out[n * 10 + target[n]] - out0[n * 10 + target[n]];
    worst = Math.max(worst, Math.abs(d[n]) / Math.abs(gap));
  }
  console.log(
    `IG completeness error, worst of ${N} test images: ${(100 * worst).toFixed(3)}% of |F(x) − F(x′)|`,
  );
  assert.ok(worst <= 0.01, `completeness error ${worst}`);
  const cam = await new gb.GradCAM(model, model.get("4")).attribute(x, { target });
  const opts = { target, baseline: black, steps: 20 };
  const auc = {
    IntegratedGradients: (await gb.deletionCurve(model, x, attributions, opts)).meanAuc,
    GradCAM: (await gb.deletionCurve(model, x, cam, opts)).meanAuc,
    random: (await gb.deletionCurve(model, x, gb.randomAttribution(x, 3), opts)).meanAuc,
  };
  console.log(`deletion AUC (lower is better), ${N} MNIST test images: ${JSON.stringify(auc)}`);
  assert.ok(auc.IntegratedGradients < auc.random && auc.GradCAM < auc.random, JSON.stringify(auc));
  const steps = await gb.randomizationCheck(model, (m, t) => new gb.Saliency(m).attribute(t, { target }), x);
  console.log(
    `randomisation check (Saliency): ${
      steps.map((s) => `${s.layer}: ${s.correlation.toFixed(3)}`).join(", ")
    }`,
  );
  // each randomised layer lowers the correlation (a little noise allowed), ending well below the original
  steps.forEach((st, i) =>
    assert.ok(i === 0 || st.correlation <= steps[i - 1].correlation + 0.05, `step ${i}`)
  );
  assert.ok(steps[steps.length - 1].correlation < 0.75, "fully randomised maps decorrelate");
});
