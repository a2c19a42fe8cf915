/**
 * The CAM family against closed forms: on conv(1×1) → global average pool → linear, every
 * method's map can be written down from the weights (the score is linear in the activations).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

const c = [1, 2, -0.5]; // 1×1 conv: channel k of the layer is c_k · x
const w = [[0.6, -0.3, 0.8], [-1, 0.5, 0.2]], b = [0.3, -0.1];

function camModel(): gb.Sequential {
  const conv = new gb.Conv2d(1, 3, 1);
  conv.loadStateDict({ weight: gb.tensor(c, [3, 1, 1, 1]), bias: gb.zeros([3]) });
  const lin = new gb.Linear(3, 2);
  lin.loadStateDict({ weight: gb.tensor(w), bias: gb.tensor(b) });
  return new gb.Sequential(conv, new gb.AdaptiveAvgPool2d(1), new gb.Flatten(), lin);
}

const relu = (v: number) => Math.max(v, 0);
const H = 5, Wd = 6, P = H * Wd;

Deno.test("Grad-CAM, HiResCAM, XGrad-CAM, LayerCAM, Grad-CAM++, Ablation-CAM, Score-CAM and Eigen-CAM match their closed forms", async () => {
  const model = camModel();
  const layer = model.get("0");
  gb.manualSeed(4);
  const xs = Array.from(await gb.rand([2, 1, H, Wd]).add(0.1).toArray()); // positive inputs
  const x = gb.tensor(xs, [2, 1, H, Wd]);
  const target = [0, 1];
  const per = (f: (n: number, t: number, xp: number[]) => number[]) =>
    [0, 1].flatMap((n) => f(n, target[n], xs.slice(n * P, (n + 1) * P)));
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const combo = (weights: number[], xp: number[]) =>
    xp.map((v) => relu(weights.reduce((s, wk, k) => s + wk * c[k] * v, 0)));
  const grads = (t: number) => w[t].map((v) => v / P); // ∂F/∂A_k: constant over positions
  const want: Record<string, number[]> = {
    GradCAM: per((_n, t, xp) => combo(grads(t), xp)),
    HiResCAM: per((_n, t, xp) => combo(grads(t), xp)),
    XGradCAM: per((_n, t, xp) => combo(grads(t), xp)),
    LayerCAM: per((_n, t, xp) => combo(grads(t).map(relu), xp)),
    GradCAMPlusPlus: per((_n, t, xp) => {
      const g = grads(t);
      const weights = g.map((gk, k) => {
        const S = c[k] * xp.reduce((s, v) => s + v, 0);
        return gk === 0 ? 0 : P * relu(gk) * (gk * gk) / (2 * gk * gk + S * gk ** 3 + 1e-7);
      });
      return combo(weights, xp);
    }),
    AblationCAM: per((_n, t, xp) => {
      const y = w[t].reduce((s, wk, k) => s + wk * c[k] * mean(xp), b[t]);
      return combo(w[t].map((wk, k) => (wk * c[k] * mean(xp)) / y), xp);
    }),
    ScoreCAM: per((_n, t, xp) => {
      const scores = c.map((ck) => {
        const a = xp.map((v) => ck * v);
        const lo = Math.min(...a), hi = Math.max(...a);
        const masked = xp.map((v, i) => v * (a[i] - lo) / (hi - lo + 1e-7));
        return w[t].reduce((s, wk, k) => s + wk * c[k] * mean(masked), b[t]);
      });
      const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((a, v) => a + v, 0);
      return combo(e.map((v) => v / z), xp);
    }),
    EigenCAM: per((_n, _t, xp) => {
      const norm = Math.hypot(...c), xm = mean(xp);
      return xp.map((v) => relu(norm * (v - xm))); // Σc > 0: the sign of the mean activation
    }),
  };
  const methods = {
    GradCAM: gb.GradCAM,
    HiResCAM: gb.HiResCAM,
    XGradCAM: gb.XGradCAM,
    LayerCAM: gb.LayerCAM,
    GradCAMPlusPlus: gb.GradCAMPlusPlus,
    AblationCAM: gb.AblationCAM,
    ScoreCAM: gb.ScoreCAM,
    EigenCAM: gb.EigenCAM,
  };
  for (const [name, M] of Object.entries(methods)) {
    const cam = await new M(model, layer).attribute(x, { target, upsample: false });
    assert.deepEqual(cam.shape, [2, 1, H, Wd], name);
    assertClose(await cam.toArray(), want[name], { rtol: 1e-4, atol: 1e-6, msg: name });
  }
});

Deno.test("CAMs are upsampled bilinearly to the input's resolution; Guided Grad-CAM is Guided Backprop times it", async () => {
  gb.manualSeed(8);
  const model = new gb.Sequential(
    new gb.Conv2d(1, 4, 3, { stride: 2 }),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(4 * 4 * 4, 3),
  );
  const x = gb.randn([2, 1, 9, 9]);
  const gc = new gb.GradCAM(model, model.get("1"));
  const small = await gc.attribute(x, { target: 2, upsample: false });
  assert.deepEqual(small.shape, [2, 1, 4, 4]);
  const big = await gc.attribute(x, { target: 2 });
  assert.deepEqual(big.shape, [2, 1, 9, 9]);
  assertClose(await big.toArray(), await gb.interpolate(small, { size: [9, 9] }).toArray(), {
    atol: 1e-6,
    msg: "upsampled",
  });
  const ggc = await new gb.GuidedGradCAM(model, model.get("1")).attribute(x, { target: 2 });
  const gbp = await new gb.GuidedBackprop(model).attribute(x, { target: 2 });
  assertClose(await ggc.toArray(), await gb.mul(gbp, big).toArray(), { atol: 1e-6, msg: "Guided Grad-CAM" });
  // several targets per example: one map per target
  const multi = await gc.attribute(x, { target: [[0, 2], [1, 2]] });
  assert.deepEqual(multi.shape, [2, 2, 1, 9, 9]);
  assertClose(await multi.slice(1, 2, 1).reshape([2, 1, 9, 9]).toArray(), await big.toArray(), {
    atol: 1e-6,
    msg: "target 2 of each",
  });
});
