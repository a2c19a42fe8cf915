/** Gradient attribution methods against exact answers: linear models, completeness, reused modules. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

/** A linear model y = W x + b with known weights. */
function linearModel(W: number[][], b: number[]): gb.Linear {
  const lin = new gb.Linear(W[0].length, W.length);
  lin.loadStateDict({ weight: gb.tensor(W), bias: gb.tensor(b) });
  return lin;
}

const W = [[0.5, -2, 1, 0.25], [3, 0, -1, 2], [-0.5, 1.5, 0.75, -1]];
const X = [[1, 2, -1, 0.5], [-2, 0.5, 3, 1]];
const targets = [2, 0];

Deno.test("on a linear model: Saliency is |w|, Input×Gradient is w·x, IG and DeepLift are (x − x′)·w, exactly", async () => {
  const model = linearModel(W, [0.1, -0.2, 0.3]);
  const x = gb.tensor(X);
  const want = (f: (w: number, xv: number, n: number, i: number) => number) =>
    X.flatMap((row, n) => row.map((xv, i) => f(W[targets[n]][i], xv, n, i)));
  assertClose(
    await (await new gb.Saliency(model).attribute(x, { target: targets })).toArray(),
    want((w) => Math.abs(w)),
    {
      atol: 1e-6,
      msg: "Saliency",
    },
  );
  assertClose(
    await (await new gb.Saliency(model).attribute(x, { target: targets, abs: false })).toArray(),
    want((w) => w),
    { atol: 1e-6, msg: "Saliency signed" },
  );
  assertClose(
    await (await new gb.InputXGradient(model).attribute(x, { target: targets })).toArray(),
    want((w, xv) => w * xv),
    {
      atol: 1e-6,
      msg: "InputXGradient",
    },
  );
  const base = [[0.5, 0.5, 0.5, 0.5], [-1, 0, 1, 2]];
  const bt = gb.tensor(base);
  const exact = want((w, xv, n, i) => (xv - base[n][i]) * w);
  for (
    const method of [
      "gausslegendre",
      "riemann_left",
      "riemann_right",
      "riemann_middle",
      "trapezoid",
    ] as const
  ) {
    const { attributions, delta } = await new gb.IntegratedGradients(model).attributeWithDelta(x, {
      target: targets,
      baselines: bt,
      nSteps: 7,
      method,
    });
    assertClose(await attributions.toArray(), exact, { atol: 1e-5, msg: `IG ${method}` });
    assertClose(await delta.toArray(), [0, 0], { atol: 1e-5, msg: `IG ${method} delta` });
  }
  const dl = await new gb.DeepLift(model).attributeWithDelta(x, { target: targets, baselines: bt });
  assertClose(await dl.attributions.toArray(), exact, { atol: 1e-5, msg: "DeepLift" });
  // a scalar baseline broadcasts; several targets per example give a target axis
  const multi = await new gb.IntegratedGradients(model).attribute(x, {
    target: [[0, 1], [2, 0]],
    baselines: 0,
    nSteps: 4,
  });
  assert.deepEqual(multi.shape, [2, 2, 4]);
  const m = await multi.toArray();
  assertClose(m, [0, 1, 2, 0].flatMap((t, k) => X[Math.floor(k / 2)].map((xv, i) => xv * W[t][i])), {
    atol: 1e-5,
    msg: "several targets per example",
  });
});

/** numpy's linspace(start, stop, n) in float64: start + k·step, the last point exactly stop. */
function linspace(start: number, stop: number, n: number): number[] {
  const step = (stop - start) / (n - 1);
  return Array.from({ length: n }, (_, k) => (k === n - 1 ? stop : start + k * step));
}

Deno.test("Captum's quadrature: every Riemann rule and Gauss–Legendre against approximation_methods.py's formulas; the normalised trapezoid sums to 1", () => {
  // captum/attr/_utils/approximation_methods.py, restated in float64:
  //   step_sizes(n) = [1/n] * n, the two ends halved for trapezoid
  //   alphas(n) = linspace(0, 1, n) (trapezoid), linspace(0, 1 - 1/n, n) (left),
  //               linspace(1/(2n), 1 - 1/(2n), n) (middle), linspace(1/n, 1, n) (right)
  const captum = {
    riemann_left: (n: number) => linspace(0, 1 - 1 / n, n),
    riemann_right: (n: number) => linspace(1 / n, 1, n),
    riemann_middle: (n: number) => linspace(1 / (2 * n), 1 - 1 / (2 * n), n),
    riemann_trapezoid: (n: number) => linspace(0, 1, n),
  };
  for (const n of [2, 3, 7, 32, 50]) {
    for (const [method, alphas] of Object.entries(captum)) {
      const steps = new Array(n).fill(1 / n);
      if (method === "riemann_trapezoid") {
        steps[0] /= 2;
        steps[n - 1] /= 2;
      }
      const got = gb.integrationPoints(method as gb.IntegrationMethod, n);
      assertClose(got.alphas, alphas(n), { atol: 1e-15, msg: `${method} ${n} alphas` });
      assertClose(got.weights, steps, { atol: 1e-15, msg: `${method} ${n} weights` });
    }
    // glassbox's own trapezoid: the same points, weights 1/(n − 1) with halved ends, summing to 1
    const t = gb.integrationPoints("trapezoid", n);
    assertClose(t.alphas, linspace(0, 1, n), { atol: 1e-15, msg: `trapezoid ${n} alphas` });
    assertClose(t.weights, linspace(0, 1, n).map((_, k) => (k === 0 || k === n - 1 ? 0.5 : 1) / (n - 1)), {
      atol: 1e-15,
      msg: `trapezoid ${n} weights`,
    });
    assertClose([t.weights.reduce((a, w) => a + w, 0)], [1], { atol: 1e-14, msg: "trapezoid sums to 1" });
  }
  // Captum asserts n > 1 for the Riemann rules
  for (
    const method of ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "trapezoid"]
  ) {
    assert.throws(
      () => gb.integrationPoints(method as gb.IntegrationMethod, 1),
      /needs at least 2 steps, got nSteps 1/,
    );
  }
  // Gauss–Legendre: numpy's leggauss mapped to [0, 1]; the 3-point rule on [-1, 1] is nodes 0, ±√(3/5),
  // weights 5/9, 8/9, 5/9
  const gl = gb.gaussLegendre(3);
  assertClose(gl.nodes, [-Math.sqrt(0.6), 0, Math.sqrt(0.6)], { atol: 1e-15, msg: "GL nodes" });
  assertClose(gl.weights, [5 / 9, 8 / 9, 5 / 9], { atol: 1e-15, msg: "GL weights" });
  const g3 = gb.integrationPoints("gausslegendre", 3);
  assertClose(g3.alphas, [(1 - Math.sqrt(0.6)) / 2, 0.5, (1 + Math.sqrt(0.6)) / 2], {
    atol: 1e-15,
    msg: "GL α",
  });
  assertClose(g3.weights, [5 / 18, 8 / 18, 5 / 18], { atol: 1e-15, msg: "GL step sizes" });
  // 20 points integrate x^38 exactly (degree ≤ 2n − 1)
  const g20 = gb.gaussLegendre(20);
  const integral = g20.nodes.reduce((a, v, i) => a + g20.weights[i] * (v ** 38), 0);
  assertClose([integral], [2 / 39], { rtol: 1e-12, msg: "GL exact for degree 38" });
  assert.throws(() => gb.integrationPoints("simpson" as gb.IntegrationMethod, 4), /unknown method "simpson"/);
});

Deno.test("IG under riemann_trapezoid gives Captum's numbers, (n − 1)/n of the exact attributions on a linear model; trapezoid is exact", async () => {
  const model = linearModel(W, [0.1, -0.2, 0.3]);
  const x = gb.tensor(X), base = [[0.5, 0.5, 0.5, 0.5], [-1, 0, 1, 2]];
  const exact = X.flatMap((row, n) => row.map((xv, i) => (xv - base[n][i]) * W[targets[n]][i]));
  const gap = X.map((row, n) => row.reduce((s, xv, i) => s + (xv - base[n][i]) * W[targets[n]][i], 0));
  const ig = new gb.IntegratedGradients(model);
  for (const n of [2, 32]) {
    const captum = await ig.attributeWithDelta(x, {
      target: targets,
      baselines: gb.tensor(base),
      nSteps: n,
      method: "riemann_trapezoid",
    });
    // Captum: Σ_k (1/n, ends halved) ∇F · (x − x′) with a constant gradient: (n − 1)/n of the exact value
    assertClose(await captum.attributions.toArray(), exact.map((v) => (v * (n - 1)) / n), {
      atol: 1e-5,
      msg: `riemann_trapezoid ${n}`,
    });
    assertClose(await captum.delta.toArray(), gap.map((g) => -g / n), { atol: 1e-5, msg: `its delta, ${n}` });
    const own = await ig.attributeWithDelta(x, {
      target: targets,
      baselines: gb.tensor(base),
      nSteps: n,
      method: "trapezoid",
    });
    assertClose(await own.attributions.toArray(), exact, { atol: 1e-5, msg: `trapezoid ${n}` });
    assertClose(await own.delta.toArray(), [0, 0], { atol: 1e-5, msg: `trapezoid delta ${n}` });
  }
});

/** A small nonlinear CNN with fixed seed (not trained: completeness holds for any weights). */
function smallCnn(): gb.Sequential {
  gb.manualSeed(21);
  return new gb.Sequential(
    new gb.Conv2d(1, 6, 3, { padding: 1 }),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Conv2d(6, 8, 3),
    new gb.Tanh(),
    new gb.Flatten(),
    new gb.Linear(8 * 4 * 4, 5),
  );
}

Deno.test("Integrated Gradients on a small nonlinear CNN: the delta is the completeness error, Riemann rules converge to Gauss–Legendre", async () => {
  const model = smallCnn();
  gb.manualSeed(5);
  const x = gb.rand([6, 1, 12, 12]);
  const ig = new gb.IntegratedGradients(model);
  const fx = await model.forward(x).toArray();
  const f0 = await model.forward(gb.zeros([6, 1, 12, 12])).toArray();
  const target = [0, 1, 2, 3, 4, 0];
  const gap = target.map((t, n) => fx[n * 5 + t] - f0[n * 5 + t]);
  const { attributions, delta } = await ig.attributeWithDelta(x, {
    target,
    nSteps: 64,
    internalBatchSize: 100,
  });
  const sums = await gb.sum(attributions.reshape([6, -1]), 1).toArray();
  assertClose(await delta.toArray(), sums.map((s, n) => s - gap[n]), {
    atol: 1e-4,
    msg: "delta = Σ attr − (F(x) − F(0))",
  });
  // the trapezoidal rule: the error shrinks as the steps grow, towards the same attributions
  const errs: number[] = [];
  for (const n of [4, 16, 64]) {
    const r = await ig.attributeWithDelta(x, { target, nSteps: n, method: "trapezoid" });
    errs.push(Math.max(...Array.from(await r.delta.toArray(), Math.abs)));
  }
  assert.ok(errs[2] < errs[0], `trapezoid errors ${errs}`);
  const fine = await ig.attribute(x, { target, nSteps: 256, method: "riemann_middle" });
  assertClose(await fine.toArray(), await attributions.toArray(), {
    atol: 2e-3,
    msg: "Riemann (256) ≈ Gauss–Legendre (64)",
  });
});

Deno.test("internal batches do not change the result (steps split across batches, examples across batches)", async () => {
  const model = smallCnn();
  const x = gb.rand([3, 1, 12, 12]);
  const ig = new gb.IntegratedGradients(model);
  const a = await (await ig.attribute(x, { target: 1, nSteps: 20 })).toArray();
  for (const internalBatchSize of [7, 20, 45]) {
    const b = await (await ig.attribute(x, { target: 1, nSteps: 20, internalBatchSize })).toArray();
    assertClose(b, a, { atol: 1e-6, msg: `internalBatchSize ${internalBatchSize}` });
  }
});

Deno.test("DeepLift equals Integrated Gradients on a model linear between the baseline and the input", async () => {
  // positive weights, biases and inputs: every ReLU stays active along the path from 0 to x
  gb.manualSeed(2);
  const l1 = new gb.Linear(5, 8), l2 = new gb.Linear(8, 3);
  l1.loadStateDict({ weight: gb.rand([8, 5]), bias: gb.rand([8]).add(0.1) });
  const model = new gb.Sequential(l1, new gb.ReLU(), l2);
  const x = gb.rand([4, 5]);
  const dl = await new gb.DeepLift(model).attributeWithDelta(x, { target: 1 });
  const ig = await new gb.IntegratedGradients(model).attribute(x, { target: 1, nSteps: 16 });
  assertClose(await dl.attributions.toArray(), await ig.toArray(), { atol: 1e-5, msg: "DeepLift = IG" });
  assertClose(await dl.delta.toArray(), [0, 0, 0, 0], { atol: 1e-5, msg: "DeepLift completeness" });
  // and completeness holds where ReLUs do switch (the Rescale rule's guarantee)
  const y = gb.randn([4, 5]);
  const dl2 = await new gb.DeepLift(model).attributeWithDelta(y, { target: 0, baselines: gb.randn([1, 5]) });
  assertClose(await dl2.delta.toArray(), [0, 0, 0, 0], {
    atol: 1e-4,
    msg: "DeepLift completeness, switching ReLUs",
  });
});

Deno.test("one ReLU module used twice gives the same Guided Backprop and DeepLift as two separate ReLUs", async () => {
  gb.manualSeed(9);
  const a = new gb.Linear(6, 6), b = new gb.Linear(6, 4);
  const shared = new gb.ReLU();
  class Twice extends gb.Module {
    a = this.addModule("a", a);
    r = this.addModule("r", shared);
    b = this.addModule("b", b);
    forward(x: gb.Tensor): gb.Tensor {
      return this.b.forward(this.r.forward(this.a.forward(this.r.forward(x))));
    }
  }
  class Separate extends gb.Module {
    a = this.addModule("a", a);
    r1 = this.addModule("r1", new gb.ReLU());
    r2 = this.addModule("r2", new gb.ReLU());
    b = this.addModule("b", b);
    forward(x: gb.Tensor): gb.Tensor {
      return this.b.forward(this.r2.forward(this.a.forward(this.r1.forward(x))));
    }
  }
  const x = gb.randn([5, 6]);
  for (const M of [gb.GuidedBackprop, gb.Deconvolution, gb.DeepLift]) {
    const one = await new M(new Twice()).attribute(x, { target: 3 });
    const two = await new M(new Separate()).attribute(x, { target: 3 });
    assertClose(await one.toArray(), await two.toArray(), { atol: 1e-6, msg: M.name });
  }
});

Deno.test("NoiseTunnel: SmoothGrad of a linear model is its gradient; SmoothGrad² and VarGrad by definition", async () => {
  const model = linearModel(W, [0, 0, 0]);
  const x = gb.tensor(X);
  const nt = new gb.NoiseTunnel(new gb.Saliency(model));
  const sg = await nt.attribute(x, {
    target: targets,
    ntType: "smoothgrad",
    ntSamples: 6,
    stdevs: 0.5,
    abs: false,
  });
  const exact = X.flatMap((row, n) => row.map((_, i) => W[targets[n]][i]));
  assertClose(await sg.toArray(), exact, { atol: 1e-6, msg: "SmoothGrad of a linear model" });
  const sq = await nt.attribute(x, { target: targets, ntType: "smoothgrad_sq", ntSamples: 6, abs: false });
  assertClose(await sq.toArray(), exact.map((v) => v * v), { atol: 1e-5, msg: "SmoothGrad²" });
  const vg = await nt.attribute(x, { target: targets, ntType: "vargrad", ntSamples: 6, abs: false });
  assertClose(await vg.toArray(), exact.map(() => 0), { atol: 1e-5, msg: "VarGrad of a constant gradient" });
  // Input×Gradient under noise: the mean of (x + ε)·w is x·w plus the noise's mean
  const ixg = await new gb.NoiseTunnel(new gb.InputXGradient(model)).attribute(x, {
    target: targets,
    ntSamples: 400,
    stdevs: 0.1,
  });
  assertClose(await ixg.toArray(), X.flatMap((row, n) => row.map((v, i) => v * W[targets[n]][i])), {
    atol: 0.05,
    msg: "SmoothGrad of Input×Gradient",
  });
});

Deno.test("GradientShap: attributions sum to F(x) − E[F(b)] for a linear model, whatever α and b", async () => {
  const model = linearModel(W, [0.1, 0.2, 0.3]);
  const x = gb.tensor(X);
  const baselines = gb.tensor([[0, 0, 0, 0], [1, 1, 1, 1], [-1, 2, 0, 1]]);
  const attr = await new gb.GradientShap(model).attribute(x, {
    target: targets,
    baselines,
    nSamples: 300,
    seed: 3,
  });
  const sums = await gb.sum(attr, 1).toArray();
  // E over uniformly drawn baselines of w·(x − b)
  const want = X.map((row, n) => {
    const w = W[targets[n]];
    const bs = [[0, 0, 0, 0], [1, 1, 1, 1], [-1, 2, 0, 1]];
    return bs.reduce((a, b) => a + row.reduce((s, v, i) => s + w[i] * (v - b[i]), 0), 0) / 3;
  });
  assertClose(sums, want, { atol: 0.35, msg: "GradientShap sums (300 draws of 3 baselines)" });
});

Deno.test("bad input: a target out of range, a baseline that does not broadcast, a layer not in the model, a CAM on a layer without spatial dimensions; the model is unchanged", async () => {
  const model = new gb.Sequential(new gb.Linear(4, 3), new gb.ReLU(), new gb.Linear(3, 2));
  const before = await Promise.all(model.parameters().map((p) => p.toArray()));
  const x = gb.randn([2, 4]);
  await assert.rejects(
    () => new gb.Saliency(model).attribute(x, { target: 2 }),
    /target 2 is out of range for a model with 2 outputs/,
  );
  await assert.rejects(
    () => new gb.Saliency(model).attribute(x),
    /the model has 2 outputs; say which with \{ target \}/,
  );
  await assert.rejects(
    () => new gb.IntegratedGradients(model).attribute(x, { target: 0, baselines: gb.zeros([3]) }),
    /baselines \[3\] do not broadcast to the input \[2, 4\]/,
  );
  assert.throws(
    () => new gb.GradCAM(model, new gb.ReLU()),
    /GradCAM: the layer ReLU is not part of the model/,
  );
  await assert.rejects(
    () => new gb.GradCAM(model, model.get("1")).attribute(x, { target: 0 }),
    /GradCAM: a CAM needs a layer with spatial dimensions \[N, C, H, W\]; layer 1 gives \[2, 3\]/,
  );
  await assert.rejects(
    () => new gb.GuidedBackprop(new gb.Linear(4, 2)).attribute(x, { target: 0 }),
    /has no ReLU modules/,
  );
  const after = await Promise.all(model.parameters().map((p) => p.toArray()));
  assert.deepEqual(after, before, "weights unchanged");
  for (const [, m] of model.namedModules()) {
    assert.deepEqual(m.hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
  }
  assert.equal(model.training, true, "training mode restored");
});

Deno.test("Guided Backprop and Deconvolution against their rules computed by hand on a one-hidden-layer net", async () => {
  const W1 = [[1, -1, 0.5], [-2, 0.5, 1], [0.3, 0.3, -0.7], [1, 1, 1]], b1 = [0.1, -0.2, 0.05, -3];
  const w2 = [[0.7, -1.2, 0.4, 2]];
  const l1 = linearModel(W1, b1), l2 = linearModel(w2, [0]);
  const model = new gb.Sequential(l1, new gb.ReLU(), l2);
  const xs = [[0.5, -1, 2], [1, 1, 1]];
  const x = gb.tensor(xs);
  const rule = (guided: boolean) =>
    xs.flatMap((row) => {
      const pre = W1.map((r, j) => r.reduce((s, w, i) => s + w * row[i], b1[j]));
      // backward signal at the hidden layer: w2, through the rule, then W1ᵀ
      const h = w2[0].map((g, j) => (guided ? (g > 0 && pre[j] > 0 ? g : 0) : Math.max(g, 0)));
      return row.map((_, i) => W1.reduce((s, r, j) => s + r[i] * h[j], 0));
    });
  assertClose(await (await new gb.GuidedBackprop(model).attribute(x)).toArray(), rule(true), {
    atol: 1e-6,
    msg: "GB",
  });
  assertClose(await (await new gb.Deconvolution(model).attribute(x)).toArray(), rule(false), {
    atol: 1e-6,
    msg: "Deconvolution",
  });
});

Deno.test("LayerIntegratedGradients and LayerConductance sum to F(x) − F(x′); on a linear head they are exact", async () => {
  gb.manualSeed(12);
  const model = new gb.Sequential(new gb.Linear(5, 7), new gb.Tanh(), new gb.Linear(7, 3));
  const x = gb.randn([3, 5]);
  const out = await model.forward(x).toArray(), out0 = await model.forward(gb.zeros([3, 5])).toArray();
  const target = [2, 0, 1];
  const gap = target.map((t, n) => out[n * 3 + t] - out0[n * 3 + t]);
  const lig = await new gb.LayerIntegratedGradients(model, model.get("1")).attributeWithDelta(x, {
    target,
    nSteps: 16,
  });
  assert.deepEqual(lig.attributions.shape, [3, 7]);
  assertClose(await lig.delta.toArray(), [0, 0, 0], { atol: 1e-5, msg: "LayerIG completeness" });
  // above the Tanh the model is linear: LayerIG at its output is w_t ⊙ (A − A′), exactly
  const w2 = await model.get("2").namedParameters()[0][1].toArray();
  const A = await gb.tanh(
    gb.linear(x, model.get("0").namedParameters()[0][1], model.get("0").namedParameters()[1][1]),
  ).toArray();
  const A0 = await gb.tanh(model.get("0").namedParameters()[1][1]).toArray();
  const want = target.flatMap((t, n) =>
    Array.from({ length: 7 }, (_, j) => w2[t * 7 + j] * (A[n * 7 + j] - A0[j]))
  );
  assertClose(await lig.attributions.toArray(), want, { atol: 1e-5, msg: "LayerIG on a linear head" });
  const cond = await new gb.LayerConductance(model, model.get("1")).attribute(x, { target, nSteps: 200 });
  const sums = await gb.sum(cond, 1).toArray();
  assertClose(sums, gap, { atol: 2e-3, msg: "conductance sums to F(x) − F(x′)" });
});

/** Captum's max-pool multiplier for F = Σ_j w_j · maxpool2x2(x)_j on one [H, W] plane, in float64: attributions. */
function captumMaxPoolDeepLift(x: number[][], xr: number[][], w: number[]): number[][] {
  const H = x.length, Wd = x[0].length, OW = Wd / 2;
  const argmax = (p: number[][], i: number, j: number): [number, number] => {
    let best: [number, number] = [2 * i, 2 * j];
    for (const [a, b] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      if (p[2 * i + a][2 * j + b] > p[best[0]][best[1]]) best = [2 * i + a, 2 * j + b];
    }
    return best;
  };
  const u = x.map((r) => r.map(() => 0));
  for (let i = 0; i < H / 2; i++) {
    for (let j = 0; j < OW; j++) {
      const [ai, aj] = argmax(x, i, j), [bi, bj] = argmax(xr, i, j);
      const y = x[ai][aj], yr = xr[bi][bj], top = Math.max(y, yr), g = w[i * OW + j];
      u[ai][aj] += g * (top - yr); // to the input's winner
      u[bi][bj] += g * (y - top); // to the baseline's winner
    }
  }
  // multiplier u/Δx, times Δx: the attribution is u wherever Δx ≠ 0
  return u.map((r, i) => r.map((v, j) => (x[i][j] !== xr[i][j] ? v : 0)));
}

Deno.test("DeepLift through MaxPool2d: Captum's max-pool rule, exactly, on a pooling layer computed by hand", async () => {
  // 4×4 → 2×2: windows where the input wins, where the baseline wins, and different winners
  const x = [[1, 3, -1, 0.5], [2, 0, 2, -2], [0.25, 5, 1, 1.5], [-1, 0, 0.5, 2.5]];
  const xr = [[4, 0, 0, 1], [0, 1, 0.5, 0.75], [1, 0.5, 3, 0], [2, -1, 0.25, 1]];
  const w = [2, -1, 0.5, 3];
  const head = linearModel([w], [0.1]);
  const model = new gb.Sequential(new gb.MaxPool2d(2), new gb.Flatten(), head);
  const { attributions, delta } = await new gb.DeepLift(model).attributeWithDelta(gb.tensor([[x]]), {
    baselines: gb.tensor([[xr]]),
  });
  const want = captumMaxPoolDeepLift(x, xr, w);
  assertClose(await attributions.toArray(), want.flat(), {
    atol: 1e-6,
    msg: "Captum's max-pool multipliers",
  });
  // the plain gradient would give w at x's winners times Δx: e.g. 2 · (3 − 0) = 6 at (0, 1), not 0
  assertClose(await delta.toArray(), [0], { atol: 1e-6, msg: "completeness" });
});

Deno.test("DeepLift on a small CNN with MaxPool2d and non-zero baselines: attributions sum to F(x) − F(x′)", async () => {
  const model = smallCnn();
  gb.manualSeed(31);
  const x = gb.randn([5, 1, 12, 12]), base = gb.randn([5, 1, 12, 12]).mul(0.5).add(0.2);
  const target = [0, 1, 2, 3, 4];
  const attr = await new gb.DeepLift(model).attribute(x, { target, baselines: base });
  const sums = await gb.sum(attr.reshape([5, -1]), 1).toArray();
  const fx = await model.forward(x).toArray(), fb = await model.forward(base).toArray();
  const gap = target.map((t, n) => fx[n * 5 + t] - fb[n * 5 + t]);
  const rel = Array.from(sums, (s, n) => Math.abs(s - gap[n]) / Math.abs(gap[n]));
  assert.ok(Math.min(...gap.map(Math.abs)) > 1e-2, `gaps ${gap} large enough to measure a relative error`);
  assert.ok(Math.max(...rel) < 1e-4, `relative completeness errors ${rel.map((r) => r.toExponential(2))}`);
  // LeakyReLU is one of Captum's Rescale nonlinearities too
  gb.manualSeed(4);
  const leaky = new gb.Sequential(new gb.Linear(6, 10), new gb.LeakyReLU(0.1), new gb.Linear(10, 2));
  const y = gb.randn([4, 6]);
  const dl = await new gb.DeepLift(leaky).attributeWithDelta(y, { target: 1, baselines: gb.randn([4, 6]) });
  assertClose(await dl.delta.toArray(), [0, 0, 0, 0], { atol: 1e-5, msg: "completeness through LeakyReLU" });
});

/** Linear(3, 4) → Tanh → Linear(4, 2) with fixed weights, and its pieces in float64. */
const L1 = [[0.8, -0.5, 0.3], [-1.2, 0.4, 0.9], [0.5, 1.1, -0.7], [0.2, -0.3, 1.5]], C1 = [0.1, -0.2, 0.3, 0];
const L2 = [[1.5, -0.7, 0.4, 1.1], [-0.6, 1.3, 0.9, -1.4]];
function tanhNet(): gb.Sequential {
  return new gb.Sequential(linearModel(L1, C1), new gb.Tanh(), linearModel(L2, [0.05, -0.1]));
}

/**
 * Captum's LayerConductance at the first Linear of tanhNet, in float64: with z(α) the layer's output on
 * b + α(x − b) and ∂F/∂z = L2[t] ⊙ (1 − tanh²z), Σ_k ∂F/∂z(α_k) (z(α_{k+1}) − z(α_k)).
 */
function conductanceRef(x: number[], b: number[], t: number, alphas: number[]): number[] {
  const z = (a: number) => L1.map((r, j) => r.reduce((s, w, i) => s + w * (b[i] + a * (x[i] - b[i])), C1[j]));
  return L1.map((_, j) => {
    let c = 0;
    for (let k = 0; k + 1 < alphas.length; k++) {
      const zk = z(alphas[k])[j];
      c += L2[t][j] * (1 - Math.tanh(zk) ** 2) * (z(alphas[k + 1])[j] - zk);
    }
    return c;
  });
}

Deno.test("LayerConductance follows `method` as Captum (the nSteps + 1 points of the rule), Gauss–Legendre by default", async () => {
  const model = tanhNet();
  const xs = [[1, -2, 0.5], [0.3, 0.8, -1.5]], bs = [[0.2, 0.1, -0.3], [-1, 0.5, 0.5]], t = [0, 1];
  const cond = new gb.LayerConductance(model, model.get("0"));
  const n = 2; // 3 points: Captum's alphas_func(n_steps + 1)
  const rules: [gb.IntegrationMethod | undefined, number[]][] = [
    [undefined, [(1 - Math.sqrt(0.6)) / 2, 0.5, (1 + Math.sqrt(0.6)) / 2]], // Captum's default, gausslegendre
    ["riemann_left", [0, 1 / 3, 2 / 3]],
    ["riemann_right", [1 / 3, 2 / 3, 1]],
    ["riemann_middle", [1 / 6, 1 / 2, 5 / 6]],
    ["riemann_trapezoid", [0, 0.5, 1]],
  ];
  const got: number[][] = [];
  for (const [method, alphas] of rules) {
    const c = await cond.attribute(gb.tensor(xs), { target: t, baselines: gb.tensor(bs), nSteps: n, method });
    const want = xs.flatMap((x, i) => conductanceRef(x, bs[i], t[i], alphas));
    assertClose(await c.toArray(), want, { atol: 1e-5, msg: `conductance ${method ?? "default"}` });
    got.push(Array.from(await c.toArray()));
  }
  // the rules give different numbers here (a test that cannot see the method would pass them all)
  for (let i = 1; i < got.length; i++) {
    assert.ok(Math.max(...got[i].map((v, j) => Math.abs(v - got[0][j]))) > 1e-2, `rule ${i} differs from GL`);
  }
});

Deno.test("LayerIntegratedGradients and LayerConductance: internalBatchSize 1, 3 or all gives the same numbers, and no pass sees more rows", async () => {
  const model = tanhNet();
  gb.manualSeed(8);
  const x = gb.randn([3, 3]), base = gb.randn([3, 3]);
  let seen = 0;
  model.get("0").registerForwardPreHook((_m, [input]) => void (seen = Math.max(seen, input.shape[0])));
  // at the first layer, below the Tanh: ∂F/∂(layer) changes along the path
  const target = [[0, 1], [1, 0], [1, 1]]; // 6 (example, target) rows
  for (
    const [name, run] of [
      [
        "LayerIntegratedGradients",
        (b?: number) =>
          new gb.LayerIntegratedGradients(model, model.get("0")).attributeWithDelta(x, {
            target,
            baselines: base,
            nSteps: 5,
            internalBatchSize: b,
          }),
      ],
      ["LayerConductance", async (b?: number) => ({
        attributions: await new gb.LayerConductance(model, model.get("0")).attribute(x, {
          target,
          baselines: base,
          nSteps: 4,
          method: "riemann_trapezoid",
          internalBatchSize: b,
        }),
        delta: gb.zeros([1]),
      })],
    ] as const
  ) {
    seen = 0;
    const all = await run(undefined);
    const a = await all.attributions.toArray(), d = await all.delta.toArray();
    assert.deepEqual(all.attributions.shape, [3, 2, 4]);
    for (const b of [1, 3, 4, 30]) {
      seen = 0;
      const r = await run(b);
      assert.ok(seen <= b, `${name}: a pass saw ${seen} rows with internalBatchSize ${b}`);
      assert.ok(seen >= Math.min(b, 2), `${name}: batches of ${b} used (largest ${seen})`);
      assertClose(await r.attributions.toArray(), a, { atol: 1e-6, msg: `${name} internalBatchSize ${b}` });
      assertClose(await r.delta.toArray(), d, { atol: 1e-6, msg: `${name} delta, internalBatchSize ${b}` });
    }
  }
});

/** f(x) = Σ_i x_i³ per example (one output): ∂f/∂x_i = 3x_i². */
class Cube extends gb.Module {
  forward(x: gb.Tensor): gb.Tensor {
    return gb.sum(gb.mul(gb.mul(x, x), x), 1);
  }
}

/** E[(x + ε)^m] for ε ~ N(0, σ²), exactly: Σ_{j even} C(m, j) x^{m−j} σ^j (j − 1)!!. */
function gaussMoment(x: number, s: number, m: number): number {
  let total = 0, binom = 1, dfact = 1; // C(m, j) and (j − 1)!!
  for (let j = 0; j <= m; j++) {
    if (j > 0) binom = (binom * (m - j + 1)) / j;
    if (j % 2 === 0) {
      if (j > 0) dfact *= j - 1;
      total += binom * x ** (m - j) * s ** j * dfact;
    }
  }
  return total;
}

Deno.test("NoiseTunnel on f = Σ x³: SmoothGrad, SmoothGrad² and VarGrad of the gradient 3(x + ε)² against their Gaussian expectations", async () => {
  const xs = [1, -0.5, 0, 1.5], sd = 0.5, S = 8000;
  const nt = new gb.NoiseTunnel(new gb.Saliency(new Cube()));
  // raw moments of g = 3(x + ε)²: E[g^k] = 3^k E[(x + ε)^{2k}]
  const m = (x: number, k: number) => 3 ** k * gaussMoment(x, sd, 2 * k);
  const expect = {
    smoothgrad: xs.map((x) => m(x, 1)), // 3x² + 3σ²
    smoothgrad_sq: xs.map((x) => m(x, 2)), // 9(x⁴ + 6x²σ² + 3σ⁴)
    vargrad: xs.map((x) => ((m(x, 2) - m(x, 1) ** 2) * (S - 1)) / S), // the population variance over S samples
  };
  // standard errors of the three sample statistics (the variance's by its fourth central moment)
  const se = {
    smoothgrad: xs.map((x) => Math.sqrt((m(x, 2) - m(x, 1) ** 2) / S)),
    smoothgrad_sq: xs.map((x) => Math.sqrt((m(x, 4) - m(x, 2) ** 2) / S)),
    vargrad: xs.map((x) => {
      const [e1, e2, e3, e4] = [1, 2, 3, 4].map((k) => m(x, k));
      const mu4 = e4 - 4 * e3 * e1 + 6 * e2 * e1 ** 2 - 3 * e1 ** 4, v = e2 - e1 ** 2;
      return Math.sqrt((mu4 - v * v) / S);
    }),
  };
  const failures: string[] = [];
  for (const ntType of ["smoothgrad", "smoothgrad_sq", "vargrad"] as const) {
    const opts = { ntType, ntSamples: S, stdevs: sd, seed: 7, abs: false };
    const got = await (await nt.attribute(gb.tensor([xs]), opts)).toArray();
    xs.forEach((x, i) => {
      const z = Math.abs(got[i] - expect[ntType][i]) / se[ntType][i];
      if (!(z < 5)) {
        failures.push(`${ntType} at x = ${x}: ${got[i]} vs ${expect[ntType][i]} (${z.toFixed(1)} s.e.)`);
      }
    });
  }
  assert.deepEqual(failures, [], "within 5 standard errors of the expectation");
});

Deno.test("NoiseTunnel passes per-example baselines to each example's noisy copies (Captum's repeat_interleave)", async () => {
  const model = linearModel(W, [0, 0, 0]);
  const x = gb.tensor(X), base = gb.tensor([[0.5, 0.5, 0.5, 0.5], [-1, 0, 1, 2]]);
  const ig = new gb.IntegratedGradients(model);
  // no noise (stdevs 0): each copy's IG is the example's own IG
  const nt = await new gb.NoiseTunnel(ig).attribute(x, {
    target: targets,
    baselines: base,
    stdevs: 0,
    ntSamples: 3,
  });
  const want = await ig.attribute(x, { target: targets, baselines: base });
  assertClose(await nt.toArray(), await want.toArray(), {
    atol: 1e-5,
    msg: "NoiseTunnel(IG) with [N, ...] baselines",
  });
});

Deno.test("GradientShap on f = Σ x³: the mean over α ~ U(0, 1), uniformly drawn baselines and input noise, against its closed form", async () => {
  // for one draw, attr_i = d·3(b + αd)² with d = x̃ − b, x̃ = x + ε: E_α = x̃³ − b³ and E_α[attr²] = (9/5)·d·(x̃⁵ − b⁵);
  // over ε ~ N(0, σ²) and the B baselines: E = E[x̃³] − mean b³, E[attr²] = (9/5)·mean_b E[(x̃ − b)(x̃⁵ − b⁵)]
  const xs = [1, -0.5, 1.5], bs = [[0, 0, 0], [1, -1, 0.5], [-0.5, 0.5, 2]], sd = 0.3, S = 20000;
  const mom = (x: number, k: number) => gaussMoment(x, sd, k);
  const mean = xs.map((x, i) => mom(x, 3) - bs.reduce((a, b) => a + b[i] ** 3, 0) / bs.length);
  const second = xs.map((x, i) =>
    (9 / 5) *
    bs.reduce((a, b) => a + mom(x, 6) - b[i] * mom(x, 5) - b[i] ** 5 * mom(x, 1) + b[i] ** 6, 0) / bs.length
  );
  const se = xs.map((_, i) => Math.sqrt((second[i] - mean[i] ** 2) / S));
  const attr = await new gb.GradientShap(new Cube()).attribute(gb.tensor([xs]), {
    baselines: gb.tensor(bs),
    nSamples: S,
    stdevs: sd,
    seed: 11,
    internalBatchSize: S,
  });
  const got = await attr.toArray();
  const z = xs.map((_, i) => Math.abs(got[i] - mean[i]) / se[i]);
  assert.ok(
    z.every((v) => v < 5),
    `GradientShap ${Array.from(got)} vs ${mean} (${z.map((v) => v.toFixed(1))} standard errors of ${
      se.map((v) => v.toFixed(3))
    })`,
  );
});

Deno.test("every gradient method gives the same numbers in internal batches of 1, 3 or all rows, and no pass sees more (DeepLift: an input and its baseline)", async () => {
  gb.manualSeed(17);
  const model = new gb.Sequential(new gb.Linear(3, 6), new gb.ReLU(), new gb.Linear(6, 2));
  let seen = 0;
  model.get("0").registerForwardPreHook((_m, [input]) => void (seen = Math.max(seen, input.shape[0])));
  const x = gb.randn([4, 3]), base = gb.randn([4, 3]), dist = gb.randn([5, 3]);
  const target = [0, 1, 1, 0];
  const methods: [string, (b?: number) => Promise<gb.Tensor>, number][] = [
    ["Saliency", (b) => new gb.Saliency(model).attribute(x, { target, internalBatchSize: b }), 1],
    ["InputXGradient", (b) => new gb.InputXGradient(model).attribute(x, { target, internalBatchSize: b }), 1],
    ["GuidedBackprop", (b) => new gb.GuidedBackprop(model).attribute(x, { target, internalBatchSize: b }), 1],
    ["Deconvolution", (b) => new gb.Deconvolution(model).attribute(x, { target, internalBatchSize: b }), 1],
    [
      "IntegratedGradients",
      (b) =>
        new gb.IntegratedGradients(model).attribute(x, {
          target,
          baselines: base,
          nSteps: 5,
          internalBatchSize: b,
        }),
      1,
    ],
    [
      "DeepLift",
      (b) => new gb.DeepLift(model).attribute(x, { target, baselines: base, internalBatchSize: b }),
      2,
    ],
    [
      "GradientShap",
      (b) =>
        new gb.GradientShap(model).attribute(x, {
          target,
          baselines: dist,
          nSamples: 3,
          internalBatchSize: b,
        }),
      1,
    ],
    [
      "NoiseTunnel",
      (b) =>
        new gb.NoiseTunnel(new gb.Saliency(model)).attribute(x, {
          target,
          ntSamples: 3,
          stdevs: 0.3,
          internalBatchSize: b,
        }),
      1,
    ],
  ];
  for (const [name, run, least] of methods) {
    const all = await (await run()).toArray();
    for (const b of [1, 3]) {
      seen = 0;
      const got = await (await run(b)).toArray();
      const bound = Math.max(least, least * Math.floor(b / least));
      assert.ok(seen <= bound, `${name}: a pass saw ${seen} rows with internalBatchSize ${b}`);
      assertClose(got, all, { atol: 1e-6, msg: `${name}, internalBatchSize ${b}` });
    }
  }
});

Deno.test("NoiseTunnel takes the target as a number, an array or an int32 tensor, each repeated for the example's copies", async () => {
  const model = linearModel(W, [0, 0, 0]);
  const x = gb.tensor(X);
  const nt = new gb.NoiseTunnel(new gb.Saliency(model));
  const opts = { ntSamples: 4, stdevs: 0.2, abs: false };
  const exact = X.flatMap((row, n) => row.map((_, i) => W[targets[n]][i]));
  const fromTensor = await nt.attribute(x, { ...opts, target: gb.tensor(targets, [2], { dtype: "int32" }) });
  assertClose(await fromTensor.toArray(), exact, { atol: 1e-6, msg: "tensor target" });
  const several = await nt.attribute(x, { ...opts, target: [[0, 2], [1, 0]] });
  assert.deepEqual(several.shape, [2, 2, 4]);
  assertClose(await several.toArray(), [0, 2, 1, 0].flatMap((t) => W[t]), {
    atol: 1e-6,
    msg: "[N, T] targets",
  });
  await assert.rejects(
    () => nt.attribute(x, { ...opts, target: [0, 1, 2] }),
    /3 targets given for 2 examples/,
  );
});

Deno.test("NoiseTunnel's defaults are Captum's: SmoothGrad over 5 noisy copies with σ = 1", async () => {
  // f = Σ x³ at x = 0: the gradient 3ε² has mean 3σ² and variance 18σ⁴; over 400 examples × 5 copies the
  // batch mean of the signed SmoothGrad is 3 ± 0.095 (one s.e.) at σ = 1, and 0.03 at σ = 0.1
  const cube = new Cube();
  let rows = 0;
  const h = cube.registerForwardHook((_m, [input]) => {
    rows += input.shape[0];
  });
  const N = 400, x = gb.zeros([N, 1]), nt = new gb.NoiseTunnel(new gb.Saliency(cube));
  await nt.attribute(gb.zeros([1, 1]), { abs: false, ntSamples: 1 }); // the first call also probes the output size
  rows = 0;
  const got = await (await nt.attribute(x, { abs: false })).toArray();
  const byDefault = rows;
  rows = 0;
  await nt.attribute(x, { abs: false, ntSamples: 5, stdevs: 1 });
  const five = rows;
  rows = 0;
  await nt.attribute(x, { abs: false, ntSamples: 6, stdevs: 1 });
  h.remove();
  assert.equal(rows - five, N, "one more copy is N more rows");
  assert.equal(byDefault, five, "the default is 5 noisy copies of each example");
  const mean = Array.from(got).reduce((a, v) => a + v, 0) / N;
  assert.ok(Math.abs(mean - 3) < 0.5, `mean SmoothGrad ${mean}, 3σ² = 3 at σ = 1`);
});

Deno.test("IntegratedGradients' defaults are Captum's: 50 Gauss–Legendre steps (f = Σ x³: exactly x³ per feature, 50 rows per example)", async () => {
  // from the baseline 0, IG of x³ is x · ∫ 3(αx)² dα = x³; Gauss–Legendre integrates α² exactly, every
  // Riemann rule misses it (riemann_middle by x³/(4n²): 8e-4 at x = 2, n = 50)
  const cube = new Cube();
  const ig = new gb.IntegratedGradients(cube);
  const xs = [2, -1.5, 1, 0.5];
  await ig.attribute(gb.zeros([1, 4])); // the first call also probes the output size
  let rows = 0;
  const h = cube.registerForwardHook((_m, [input]) => {
    rows += input.shape[0];
  });
  const got = await (await ig.attribute(gb.tensor([xs, xs]))).toArray();
  h.remove();
  assert.equal(rows, 2 * 50, "50 steps per example");
  assertClose(got, [...xs, ...xs].map((x) => x ** 3), {
    rtol: 0,
    atol: 1e-4,
    msg: "IG of x³ under the defaults",
  });
});

Deno.test("DeepLift refuses where Captum's numbers would differ: a Softmax/LogSoftmax module, a MaxPool2d with overlapping windows", async () => {
  const x = gb.randn([1, 1, 6, 6]);
  const soft = new gb.Sequential(new gb.Flatten(), new gb.Linear(36, 3), new gb.Softmax(1));
  await assert.rejects(
    () => new gb.DeepLift(soft).attribute(x, { target: 0 }),
    /DeepLift: module "2" is a Softmax; Captum's DeepLift applies its own softmax rule/,
  );
  const overlap = new gb.Sequential(new gb.MaxPool2d(3, 1), new gb.Flatten(), new gb.Linear(16, 2));
  await assert.rejects(
    () => new gb.DeepLift(overlap).attribute(x, { target: 0 }),
    /module "0" is a MaxPool2d with overlapping windows \(kernel 3×3, stride 1×1\)/,
  );
  // windows that tile are fine
  const tiled = new gb.Sequential(new gb.MaxPool2d(2), new gb.Flatten(), new gb.Linear(9, 2));
  const { delta } = await new gb.DeepLift(tiled).attributeWithDelta(x, { target: 0, baselines: 0.5 });
  assert.ok(Math.abs((await delta.toArray())[0]) < 1e-4);
});
