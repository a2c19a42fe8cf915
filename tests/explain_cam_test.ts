/**
 * The CAM family against a float64 CPU computation of each method's published formula (as
 * pytorch-grad-cam defines it), on conv(3×3, padding 1) → ReLU → flatten → linear: the layer is
 * the ReLU, so ∂F/∂A is the linear layer's weight for the target, which varies over positions
 * and channels, and the activations vary too. Every method's reference is checked to differ
 * from Grad-CAM's, so a method that fell back to Grad-CAM's formula fails.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

const relu = (v: number) => Math.max(v, 0);
const H = 5, Wd = 6, P = H * Wd, K = 3;

/** conv(1→K, 3×3, padding 1) in float64 of one [H, W] input: [K][P]. */
function conv3(x: number[], w: Float32Array, b: Float32Array | null, k0 = 0): number[][] {
  const k = w.length / 9;
  return Array.from({ length: k }, (_, c) =>
    Array.from({ length: P }, (_, p) => {
      const y = Math.floor(p / Wd), xx = p % Wd;
      let s = b ? b[c + k0] : 0;
      for (let dy = 0; dy < 3; dy++) {
        for (let dx = 0; dx < 3; dx++) {
          const iy = y + dy - 1, ix = xx + dx - 1;
          if (iy >= 0 && iy < H && ix >= 0 && ix < Wd) s += x[iy * Wd + ix] * w[c * 9 + dy * 3 + dx];
        }
      }
      return s;
    }));
}

/** The top eigenvector of a symmetric K×K matrix by power iteration from a random start (float64). */
function topEigenvector(C: number[][], seed: number): number[] {
  let r = seed;
  let v = C.map(() => ((r = (r * 16807) % 2147483647) / 2147483647) - 0.5);
  for (let it = 0; it < 5000; it++) {
    const nv = C.map((row) => row.reduce((s, c, j) => s + c * v[j], 0));
    const n = Math.hypot(...nv);
    v = nv.map((x) => x / n);
  }
  return v;
}

/** Eigen-CAM's map in float64: A [K][P] centred per channel, projected on the top right-singular vector. */
function eigenMap(A: number[][]): number[] {
  const p = A[0].length;
  const M = A.map((ch) => {
    const m = ch.reduce((s, v) => s + v, 0) / p;
    return ch.map((v) => v - m);
  });
  const C = M.map((ci) => M.map((cj) => ci.reduce((s, v, q) => s + v * cj[q], 0)));
  const v = topEigenvector(C, 12345);
  const proj = Array.from({ length: p }, (_, q) => M.reduce((s, ch, c) => s + ch[q] * v[c], 0));
  // glassbox's sign: positive correlation with the channel-summed activation
  const corr = proj.reduce((s, x, q) => s + x * A.reduce((t, ch) => t + ch[q], 0), 0);
  return proj.map((x) => relu(corr < 0 ? -x : x));
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

Deno.test("every CAM matches a float64 computation of its formula where gradients and activations vary over positions and channels", async () => {
  gb.manualSeed(11);
  const conv = new gb.Conv2d(1, K, 3, { padding: 1 });
  const lin = new gb.Linear(K * P, 2);
  lin.loadStateDict({ weight: lin.weight, bias: gb.tensor([0.8, -0.7]) }); // scores well away from 0
  const model = new gb.Sequential(conv, new gb.ReLU(), new gb.Flatten(), lin);
  const cw = (await conv.weight.toArray()) as Float32Array, cb = (await conv.bias!.toArray()) as Float32Array;
  const lw = (await lin.weight.toArray()) as Float32Array, lb = (await lin.bias!.toArray()) as Float32Array;
  const x = gb.randn([2, 1, H, Wd]);
  const xs = Array.from(await x.toArray());
  const target = [0, 1];
  const forward = (xp: number[], t: number) => {
    const A = conv3(xp, cw, cb).map((ch) => ch.map(relu));
    return A.reduce((s, ch, k) => s + ch.reduce((u, a, p) => u + a * lw[t * K * P + k * P + p], 0), lb[t]);
  };
  const want: Record<string, number[]> = {};
  const add = (name: string, map: number[]) => (want[name] ??= []).push(...map);
  for (const n of [0, 1]) {
    const t = target[n], xp = xs.slice(n * P, (n + 1) * P);
    const Z = conv3(xp, cw, cb), A = Z.map((ch) => ch.map(relu));
    const G = A.map((_, k) => Array.from({ length: P }, (_, p) => lw[t * K * P + k * P + p])); // ∂F/∂A
    const y = forward(xp, t);
    assert.ok(Math.abs(y) > 0.05, `the score ${y} is too close to 0 for Ablation-CAM's ratio`);
    const combo = (w: number[]) =>
      Array.from({ length: P }, (_, p) => relu(A.reduce((s, ch, k) => s + w[k] * ch[p], 0)));
    const sumP = (f: (k: number, p: number) => number) =>
      A.map((_, k) => G[k].reduce((s, _g, p) => s + f(k, p), 0));
    const perPos = (f: (k: number, p: number) => number) =>
      Array.from({ length: P }, (_, p) => relu(A.reduce((s, _ch, k) => s + f(k, p), 0)));
    const gradcam = combo(sumP((k, p) => G[k][p] / P));
    add("GradCAM", gradcam);
    add("HiResCAM", perPos((k, p) => G[k][p] * A[k][p]));
    add(
      "XGradCAM",
      combo(sumP((k, p) => G[k][p] * A[k][p]).map((v, k) => v / (A[k].reduce((s, a) => s + a, 0) + 1e-7))),
    );
    add("LayerCAM", perPos((k, p) => relu(G[k][p]) * A[k][p]));
    add(
      "GradCAMPlusPlus",
      combo(sumP((k, p) => {
        const g = G[k][p], S = A[k].reduce((s, a) => s + a, 0);
        const alpha = g === 0 ? 0 : (g * g) / (2 * g * g + S * g ** 3 + 1e-6);
        return relu(g) * alpha;
      })),
    );
    // Ablation-CAM: (y − y_k) / y with channel k of A zeroed
    add("AblationCAM", combo(A.map((ch, k) => (y - (y - ch.reduce((s, a, p) => s + a * G[k][p], 0))) / y)));
    // Score-CAM: softmax over k of the score of x ⊙ normalised A_k (the layer is at the input's resolution)
    const scores = A.map((ch) => {
      const lo = Math.min(...ch), hi = Math.max(...ch);
      return forward(xp.map((v, p) => v * (ch[p] - lo) / (hi - lo + 1e-8)), t);
    });
    const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((s, v) => s + v, 0);
    add("ScoreCAM", combo(e.map((v) => v / z)));
    add("EigenCAM", eigenMap(A));
    // Guided Grad-CAM: guided backprop (positive gradient through positive ReLU inputs, then the
    // transposed conv) times the Grad-CAM map (already at the input's resolution)
    const gz = G.map((row, k) => row.map((g, p) => (g > 0 && Z[k][p] > 0 ? g : 0)));
    const gx = new Array(P).fill(0);
    for (let k = 0; k < K; k++) {
      for (let p = 0; p < P; p++) {
        const py = Math.floor(p / Wd), px = p % Wd;
        for (let dy = 0; dy < 3; dy++) {
          for (let dx = 0; dx < 3; dx++) {
            const iy = py + dy - 1, ix = px + dx - 1;
            if (iy >= 0 && iy < H && ix >= 0 && ix < Wd) {
              gx[iy * Wd + ix] += cw[k * 9 + dy * 3 + dx] * gz[k][p];
            }
          }
        }
      }
    }
    add("GuidedGradCAM", gx.map((g, p) => g * gradcam[p]));
  }
  const methods = {
    GradCAM: gb.GradCAM,
    HiResCAM: gb.HiResCAM,
    XGradCAM: gb.XGradCAM,
    LayerCAM: gb.LayerCAM,
    GradCAMPlusPlus: gb.GradCAMPlusPlus,
    AblationCAM: gb.AblationCAM,
    ScoreCAM: gb.ScoreCAM,
    EigenCAM: gb.EigenCAM,
    GuidedGradCAM: gb.GuidedGradCAM,
  };
  const scale = Math.max(...want.GradCAM);
  for (const [name, M] of Object.entries(methods)) {
    const ref = want[name];
    const top = Math.max(...ref.map(Math.abs));
    assert.ok(top > 1e-3, `${name}: the reference map is all zero`);
    if (name !== "GradCAM" && name !== "GuidedGradCAM") {
      // the case can tell this method from Grad-CAM (relative to each map's size)
      const d = maxDiff(ref.map((v) => v / top), want.GradCAM.map((v) => v / scale));
      assert.ok(d > 0.05, `${name}: its reference is Grad-CAM's up to scale (${d})`);
    }
    const cam = await new M(model, model.get("1")).attribute(
      x,
      name === "GuidedGradCAM" ? { target } : { target, upsample: false },
    );
    assert.deepEqual(cam.shape, [2, 1, H, Wd], name);
    assertClose(await cam.toArray(), ref, { rtol: 1e-4, atol: 1e-5 * top, msg: name });
  }
});

Deno.test("Eigen-CAM finds the first component when its loadings sum to zero (channels x and −x), and with more channels than positions", async () => {
  // two channels z and −z: the first right-singular vector is (1, −1)/√2, orthogonal to the
  // all-ones start of a power iteration; the channel sum is 0, so the sign goes by the largest
  // loading (the first on a tie): the map is ReLU(√2·(z − mean z))
  gb.manualSeed(3);
  const w = Array.from(await gb.randn([9]).toArray());
  const conv = new gb.Conv2d(1, 2, 3, { padding: 1, bias: false });
  conv.loadStateDict({ weight: gb.tensor([...w, ...w.map((v) => -v)], [2, 1, 3, 3]) });
  const model = new gb.Sequential(conv, new gb.Flatten(), new gb.Linear(2 * P, 2));
  const x = gb.randn([2, 1, H, Wd]);
  const xs = Array.from(await x.toArray());
  const want = [0, 1].flatMap((n) => {
    const z = conv3(xs.slice(n * P, (n + 1) * P), Float32Array.from(w), null)[0];
    const m = z.reduce((s, v) => s + v, 0) / P;
    return z.map((v) => relu(Math.SQRT2 * (v - m)));
  });
  const cam = await new gb.EigenCAM(model, conv).attribute(x, { target: 0, upsample: false });
  assert.ok(Math.max(...want) > 0.1);
  assertClose(await cam.toArray(), want, { rtol: 1e-4, atol: 1e-5, msg: "x / −x" });

  // six channels on a 2×2 map (K > P: the P×P Gram matrix) against power iteration on the K×K one
  const conv6 = new gb.Conv2d(1, 6, 3);
  const model6 = new gb.Sequential(conv6, new gb.ReLU(), new gb.Flatten(), new gb.Linear(24, 2));
  const x6 = gb.randn([2, 1, 4, 4]);
  const xs6 = Array.from(await x6.toArray()),
    w6 = await conv6.weight.toArray(),
    b6 = await conv6.bias!.toArray();
  const want6 = [0, 1].flatMap((n) => {
    const A = Array.from({ length: 6 }, (_, k) =>
      Array.from({ length: 4 }, (_, p) => {
        let s = b6[k];
        for (let dy = 0; dy < 3; dy++) {
          for (let dx = 0; dx < 3; dx++) {
            s += xs6[n * 16 + (Math.floor(p / 2) + dy) * 4 + (p % 2) + dx] * w6[k * 9 + dy * 3 + dx];
          }
        }
        return relu(s);
      }));
    return eigenMap(A);
  });
  const cam6 = await new gb.EigenCAM(model6, model6.get("1")).attribute(x6, { target: 0, upsample: false });
  assert.ok(Math.max(...want6) > 0.01);
  assertClose(await cam6.toArray(), want6, { rtol: 1e-4, atol: 1e-5, msg: "K > P" });
});

Deno.test("Score-CAM on a layer smaller than the input: masks upsampled bilinearly with aligned corners (pytorch-grad-cam's UpsamplingBilinear2d)", async () => {
  gb.manualSeed(5);
  const conv = new gb.Conv2d(1, 3, 3, { stride: 2 }); // 7×7 → 3×3
  const lin = new gb.Linear(27, 2);
  const model = new gb.Sequential(conv, new gb.ReLU(), new gb.Flatten(), lin);
  const cw = await conv.weight.toArray(), cb = await conv.bias!.toArray();
  const lw = await lin.weight.toArray(), lb = await lin.bias!.toArray();
  const x = gb.randn([2, 1, 7, 7]);
  const xs = Array.from(await x.toArray());
  const layer = (img: number[]) =>
    Array.from({ length: 3 }, (_, k) =>
      Array.from({ length: 9 }, (_, p) => {
        let s = cb[k];
        for (let dy = 0; dy < 3; dy++) {
          for (let dx = 0; dx < 3; dx++) {
            s += img[(2 * Math.floor(p / 3) + dy) * 7 + 2 * (p % 3) + dx] * cw[k * 9 + dy * 3 + dx];
          }
        }
        return relu(s);
      }));
  const score = (img: number[], t: number) =>
    layer(img).reduce((s, ch, k) => s + ch.reduce((u, a, p) => u + a * lw[t * 27 + k * 9 + p], 0), lb[t]);
  // bilinear 3 → 7 with aligned corners: output i samples input i·(3−1)/(7−1)
  const up = (ch: number[]) =>
    Array.from({ length: 49 }, (_, o) => {
      const sy = Math.floor(o / 7) / 3, sx = (o % 7) / 3;
      const y0 = Math.min(Math.floor(sy), 1), x0 = Math.min(Math.floor(sx), 1), fy = sy - y0, fx = sx - x0;
      const at = (y: number, xx: number) => ch[y * 3 + xx];
      return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
        fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
    });
  const target = [1, 0];
  const want = [0, 1].flatMap((n) => {
    const img = xs.slice(49 * n, 49 * n + 49), A = layer(img);
    const scores = A.map((ch) => {
      const u = up(ch), lo = Math.min(...u), hi = Math.max(...u);
      return score(img.map((v, i) => v * (u[i] - lo) / (hi - lo + 1e-8)), target[n]);
    });
    const m = Math.max(...scores), e = scores.map((s) => Math.exp(s - m)), z = e.reduce((s, v) => s + v, 0);
    return Array.from({ length: 9 }, (_, p) => relu(A.reduce((s, ch, k) => s + (e[k] / z) * ch[p], 0)));
  });
  assert.ok(Math.max(...want) > 0.05);
  const cam = await new gb.ScoreCAM(model, model.get("1")).attribute(x, { target, upsample: false });
  assertClose(await cam.toArray(), want, { rtol: 1e-4, atol: 1e-6, msg: "Score-CAM" });
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
