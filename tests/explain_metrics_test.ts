/** Explanation-quality metrics against exact answers. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

function linear(w: number[], b = 0): gb.Linear {
  const l = new gb.Linear(w.length, 1);
  l.loadStateDict({ weight: gb.tensor([w]), bias: gb.tensor([b]) });
  return l;
}

Deno.test("deletion and insertion curves of a linear model follow the removed contributions exactly", async () => {
  const w = [4, -1, 2, 0.5];
  const model = linear(w, 0.5);
  const xs = [1, 1, 1, 1];
  const x = gb.tensor([xs]);
  const attr = gb.tensor([[4, -1, 2, 0.5]]); // w·x: order 0, 2, 3, 1
  const del = await gb.deletionCurve(model, x, attr, { steps: 4, probability: false });
  assert.deepEqual(del.fractions, [0, 0.25, 0.5, 0.75, 1]);
  assertClose(del.scores[0], [6, 2, 0, -0.5, 0.5], { atol: 1e-6, msg: "deletion scores" });
  assertClose(del.auc, [(6 + 2) / 8 + (2 + 0) / 8 + (0 - 0.5) / 8 + (-0.5 + 0.5) / 8], {
    atol: 1e-6,
    msg: "AUC",
  });
  const ins = await gb.insertionCurve(model, x, attr, { steps: 4, probability: false });
  assertClose(ins.scores[0], [0.5, 4.5, 6.5, 7, 6], { atol: 1e-6, msg: "insertion scores" });
  // a good attribution beats a random one: faster deletion drop, faster insertion rise
  const rnd = await gb.deletionCurve(model, x, gb.tensor([[0, 1, 2, 3]]), { steps: 4, probability: false });
  assert.ok(del.meanAuc < rnd.meanAuc);
});

Deno.test("deletion curve of a one-output (binary logit) model follows its sigmoid probability, not the raw logit", async () => {
  const model = linear([4, -1, 2, 0.5], 0.5);
  const x = gb.tensor([[1, 1, 1, 1]]), attr = gb.tensor([[4, -1, 2, 0.5]]);
  const del = await gb.deletionCurve(model, x, attr, { steps: 4 });
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  // the logits of the previous test, 6, 2, 0, −0.5, 0.5, through the sigmoid (float64 here)
  assertClose(del.scores[0], [6, 2, 0, -0.5, 0.5].map(sig), { atol: 1e-6, msg: "deletion probabilities" });
  assert.ok(del.scores[0].every((p) => p > 0 && p < 1));
});

Deno.test("infidelity is 0 for the gradient of a linear model and not for Input×Gradient; sensitivity is 0 for its constant saliency", async () => {
  const model = linear([1, -2, 0.5], 0.3);
  gb.manualSeed(1);
  const x = gb.randn([3, 3]);
  // F(x) − F(x − I) = Iᵀw: the gradient w is exactly faithful
  const saliency = await new gb.Saliency(model).attribute(x, { abs: false });
  const inf = await gb.infidelity(model, x, saliency, { nPerturbSamples: 20 });
  assertClose(inf, [0, 0, 0], { atol: 1e-10, msg: "infidelity of the exact gradient of a linear model" });
  // Iᵀ(w ⊙ x) is not Iᵀw: the metric sees the difference
  const ixg = await new gb.InputXGradient(model).attribute(x);
  const bad = await gb.infidelity(model, x, ixg, { nPerturbSamples: 20 });
  assert.ok(bad.every((v) => v > 1e-6), `Input×Gradient is unfaithful to Iᵀw: ${bad}`);
  const sal = new gb.Saliency(model);
  assertClose(await gb.sensitivityMax((t) => sal.attribute(t, { abs: false }), x), [0, 0, 0], {
    atol: 1e-7,
    msg: "sensitivity",
  });
  // Input×Gradient changes with the input: ‖w ⊙ δ‖ / ‖w ⊙ x‖ <= r·‖w‖ / ‖w ⊙ x‖
  const sens = await gb.sensitivityMax((t) => new gb.InputXGradient(model).attribute(t), x, { radius: 0.02 });
  assert.ok(sens.every((v) => v > 0 && v < 1), `${sens}`);
});

Deno.test("infidelity under Gaussian noise: noise²·‖attr − w‖² in expectation for a linear model", async () => {
  // (Iᵀattr − Iᵀw)² with I ~ N(0, σ²): mean σ²‖attr − w‖², and the mean of S draws has a relative
  // standard deviation √(2/S) (2.2% at S = 4000)
  const w = [1, -2, 0.5];
  const model = linear(w, 0.3);
  const x = gb.tensor([[0.5, 1, -1], [2, 0, 1]]);
  const attrs = [[2, -1, 0], [0, 0, 0]];
  const sq = attrs.map((a) => a.reduce((t, v, i) => t + (v - w[i]) ** 2, 0)); // 2.25, 5.25
  for (const noise of [0.1, 0.2]) {
    const got = await gb.infidelity(model, x, gb.tensor(attrs), { nPerturbSamples: 4000, noise });
    assertClose(got, sq.map((v) => noise ** 2 * v), { rtol: 0.1, atol: 0, msg: `noise ${noise}` });
  }
});

/** A fixed MLP 3 → 4 → 2 (ReLU) and its float64 CPU twin. */
function mlp() {
  const W1 = [[0.5, -1, 0.3], [-0.7, 0.4, 1.2], [0.9, 0.9, -0.4], [0.2, -0.3, 0.5]], b1 = [0.1, -0.2, 0.3, 0];
  const W2 = [[1, -0.5, 0.8, 0.3], [-0.4, 0.9, 0.2, -0.7]], b2 = [0.2, -0.1];
  const l1 = new gb.Linear(3, 4), l2 = new gb.Linear(4, 2);
  l1.loadStateDict({ weight: gb.tensor(W1), bias: gb.tensor(b1) });
  l2.loadStateDict({ weight: gb.tensor(W2), bias: gb.tensor(b2) });
  const cpu = (x: number[], t: number) => {
    const h = W1.map((r, j) => Math.max(0, r.reduce((s, v, i) => s + v * x[i], b1[j])));
    return W2[t].reduce((s, v, j) => s + v * h[j], b2[t]);
  };
  return { model: new gb.Sequential(l1, new gb.ReLU(), l2), cpu };
}

Deno.test("infidelity with a given perturbation equals its closed form on a ReLU MLP, with and without Captum's normalize", async () => {
  const { model, cpu } = mlp();
  const X = [[1, -0.5, 2], [-0.3, 1.1, 0.4]], A = [[0.4, -1, 0.2], [1.5, 0.3, -0.6]], T = [0, 1];
  const S = 6, D = 3;
  // sample s moves feature s mod 3 by c_s = 0.3 + 0.2·s
  const c = (s: number) => 0.3 + 0.2 * s;
  let seen: number[] = [];
  const perturbFunc = async (inputs: gb.Tensor) => {
    seen = Array.from(await inputs.toArray());
    return gb.tensor(Array.from({ length: inputs.shape[0] }, (_, r) => {
      const s = r % S;
      return Array.from({ length: D }, (_, i) => (i === s % D ? c(s) : 0));
    }));
  };
  const want = (normalize: boolean) =>
    X.map((x, n) => {
      const a = Array.from({ length: S }, (_, s) => c(s) * A[n][s % D]); // Iᵀattr
      const d = Array.from({ length: S }, (_, s) => {
        const moved = [...x];
        moved[s % D] -= c(s);
        return cpu(x, T[n]) - cpu(moved, T[n]); // F(x) − F(x − I)
      });
      const beta = normalize ? a.reduce((t, v, s) => t + v * d[s], 0) / a.reduce((t, v) => t + v * v, 0) : 1;
      return a.reduce((t, v, s) => t + (beta * v - d[s]) ** 2, 0) / S;
    });
  const x = gb.tensor(X), attr = gb.tensor(A);
  const plain = await gb.infidelity(model, x, attr, { target: T, nPerturbSamples: S, perturbFunc });
  assertClose(plain, want(false), { atol: 1e-6, msg: "infidelity" });
  // each example repeated S times in a row, as Captum's repeat_interleave
  assert.deepEqual(seen.map((v) => Math.round(v * 1e5) / 1e5), X.flatMap((x) => new Array(S).fill(x).flat()));
  const norm = await gb.infidelity(model, x, attr, {
    target: T,
    nPerturbSamples: S,
    perturbFunc,
    normalize: true,
  });
  assertClose(norm, want(true), { atol: 1e-6, msg: "normalized infidelity" });
  // normalize makes the score blind to a constant scaling of the attributions
  const scaled = await gb.infidelity(model, x, gb.tensor(A.map((r) => r.map((v) => -3 * v))), {
    target: T,
    nPerturbSamples: S,
    perturbFunc,
    normalize: true,
  });
  assertClose(scaled, want(true), { atol: 1e-6, msg: "normalized, attributions × −3" });
  assert.ok(plain.every((v, n) => v > want(true)[n] + 1e-3), `the fitted β lowers the score: ${plain}`);
});

Deno.test("metric parameters that would give NaN are errors naming the value", async () => {
  const model = linear([1, -2, 0.5]);
  const x = gb.tensor([[1, 2, 3]]), attr = gb.tensor([[1, 0, 2]]);
  for (const curve of [gb.deletionCurve, gb.insertionCurve]) {
    await assert.rejects(
      () => curve(model, x, attr, { steps: 0 }),
      /Curve: steps must be a positive integer, got 0/,
    );
    await assert.rejects(
      () => curve(model, x, attr, { steps: 2.5 }),
      /steps must be a positive integer, got 2.5/,
    );
    await assert.rejects(
      () => curve(model, x, attr, { baseline: NaN }),
      /baseline must be a finite number, got NaN/,
    );
    await assert.rejects(
      () => curve(model, x, gb.tensor([[1, NaN, 2]]), { probability: false }),
      /attribution 1 is NaN; the features cannot be ranked/,
    );
  }
  const one = await gb.deletionCurve(model, x, attr, { steps: 1, probability: false });
  assert.deepEqual(one.fractions, [0, 1]);
  assertClose(one.scores[0], [1 - 4 + 1.5, 0], { atol: 1e-6, msg: "steps 1" });
  await assert.rejects(
    () => gb.infidelity(model, x, attr, { nPerturbSamples: 0 }),
    /nPerturbSamples must be a positive integer, got 0/,
  );
  await assert.rejects(
    () => gb.infidelity(model, x, attr, { noise: 0 }),
    /noise must be a positive number, got 0/,
  );
  await assert.rejects(
    () => gb.infidelity(model, x, attr, { noise: NaN }),
    /noise must be a positive number, got NaN/,
  );
  await assert.rejects(
    () => gb.infidelity(model, x, gb.tensor([[1, 2]])),
    /attributions \[1,2\] do not match the input \[1,3\]/,
  );
  const sal = new gb.Saliency(model);
  await assert.rejects(
    () => gb.sensitivityMax((t) => sal.attribute(t), x, { nPerturbSamples: 0 }),
    /sensitivityMax: nPerturbSamples must be a positive integer, got 0/,
  );
  await assert.rejects(
    () => gb.sensitivityMax((t) => sal.attribute(t), x, { radius: -1 }),
    /radius must be a number >= 0, got -1/,
  );
});

Deno.test("spearman: known values; the randomisation check decorrelates a gradient method and restores the weights", async () => {
  assertClose([gb.spearman([1, 2, 3, 4], [10, 20, 30, 40])], [1], { atol: 1e-12 });
  assertClose([gb.spearman([1, 2, 3, 4], [4, 3, 2, 1])], [-1], { atol: 1e-12 });
  assertClose([gb.spearman([1, 2, 2, 3], [1, 2, 3, 4])], [0.9486832980505138], { atol: 1e-12, msg: "ties" });
  gb.manualSeed(7);
  const model = new gb.Sequential(
    new gb.Linear(16, 32),
    new gb.ReLU(),
    new gb.Linear(32, 32),
    new gb.ReLU(),
    new gb.Linear(32, 3),
  );
  const before = await Promise.all(model.parameters().map((p) => p.toArray()));
  const x = gb.randn([8, 16]);
  const steps = await gb.randomizationCheck(
    model,
    (m, t) => new gb.Saliency(m).attribute(t, { target: 0 }),
    x,
  );
  assert.deepEqual(steps.map((s) => s.layer), ["original", "4 Linear", "2 Linear", "0 Linear"]);
  assert.ok(steps[3].correlation < 0.5, `fully randomised: ${steps[3].correlation}`);
  const after = await Promise.all(model.parameters().map((p) => p.toArray()));
  assert.deepEqual(after, before, "weights restored");
});
