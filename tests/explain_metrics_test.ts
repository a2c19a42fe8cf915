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

Deno.test("infidelity is 0 for Input×Gradient of a linear model (baseline 0); sensitivity is 0 for its constant saliency", async () => {
  const model = linear([1, -2, 0.5], 0.3);
  gb.manualSeed(1);
  const x = gb.randn([3, 3]);
  const ixg = await new gb.InputXGradient(model).attribute(x);
  // Iᵀ·(w ⊙ x) is not F(x) − F(x − I) = Iᵀw in general: the metric sees the difference
  const saliency = await new gb.Saliency(model).attribute(x, { abs: false });
  const inf = await gb.infidelity(model, x, saliency, { nPerturbSamples: 20 });
  assertClose(inf, [0, 0, 0], { atol: 1e-8, msg: "infidelity of the exact gradient of a linear model" });
  const bad = await gb.infidelity(model, x, ixg, { nPerturbSamples: 20 });
  assert.ok(bad.some((v) => v > 1e-6), "a different attribution is unfaithful to Iᵀw");
  const sal = new gb.Saliency(model);
  assertClose(await gb.sensitivityMax((t) => sal.attribute(t, { abs: false }), x), [0, 0, 0], {
    atol: 1e-7,
    msg: "sensitivity",
  });
  // Input×Gradient changes with the input: ‖w ⊙ δ‖ / ‖w ⊙ x‖ <= r·‖w‖ / ‖w ⊙ x‖
  const sens = await gb.sensitivityMax((t) => new gb.InputXGradient(model).attribute(t), x, { radius: 0.02 });
  assert.ok(sens.every((v) => v > 0 && v < 1), `${sens}`);
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
