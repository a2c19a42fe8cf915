/** Perturbation methods against exact answers: ablation differences, exact Shapley values, linear surrogates. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";
import { localPlan } from "../src/explain/occlusion_local.ts";
import { clearOcclusionCache, setOcclusionCacheBytes } from "../src/explain/perturbation.ts";

/** A fixed MLP 6 → 5 → 2 (ReLU) and its float64 CPU twin. */
function mlp() {
  const W1 = [
    [0.5, -1, 0.3, 0.8, -0.2, 0.1],
    [-0.7, 0.4, 1.2, -0.5, 0.6, 0.2],
    [0.9, 0.9, -0.4, 0.1, 0.3, -1.1],
    [0.2, -0.3, 0.5, 0.7, -0.9, 0.4],
    [-0.6, 0.8, 0.1, -0.2, 0.5, 0.7],
  ];
  const b1 = [0.1, -0.2, 0.3, 0, 0.05];
  const W2 = [[1, -0.5, 0.8, 0.3, -1.2], [-0.4, 0.9, 0.2, -0.7, 0.6]], b2 = [0.2, -0.1];
  const l1 = new gb.Linear(6, 5), l2 = new gb.Linear(5, 2);
  l1.loadStateDict({ weight: gb.tensor(W1), bias: gb.tensor(b1) });
  l2.loadStateDict({ weight: gb.tensor(W2), bias: gb.tensor(b2) });
  const model = new gb.Sequential(l1, new gb.ReLU(), l2);
  const cpu = (x: number[], t: number) => {
    const h = W1.map((r, j) => Math.max(0, r.reduce((s, w, i) => s + w * x[i], b1[j])));
    return W2[t].reduce((s, w, j) => s + w * h[j], b2[t]);
  };
  return { model, cpu };
}

const X = [[1, -0.5, 2, 0.3, -1.2, 0.8], [-0.3, 1.1, 0.4, -0.9, 0.5, 1.5]];

Deno.test("Occlusion with a 1×1 window equals single-feature ablation, and both are F(x) − F(x with the feature at its baseline)", async () => {
  const { model, cpu } = mlp();
  const x = gb.tensor(X);
  const base = [0.2, 0.2, -0.1, 0, 0.5, 0.3];
  const want = X.flatMap((row, n) =>
    row.map((_, i) => {
      const z = [...row];
      z[i] = base[i];
      return cpu(row, n) - cpu(z, n);
    })
  );
  const occ = await new gb.Occlusion(model).attribute(x, {
    target: [0, 1],
    slidingWindowShapes: [1],
    baselines: gb.tensor(base),
  });
  const abl = await new gb.FeatureAblation(model).attribute(x, {
    target: [0, 1],
    baselines: gb.tensor(base),
  });
  assertClose(await occ.toArray(), want, { atol: 1e-5, msg: "Occlusion 1×1" });
  assertClose(await abl.toArray(), want, { atol: 1e-5, msg: "FeatureAblation" });
  // grouped ablation: a group gets F(x) − F(x with the whole group at baseline)
  const grouped = await new gb.FeatureAblation(model).attribute(x, {
    target: 0,
    featureMask: [0, 0, 1, 1, 2, 2],
  });
  const g = await grouped.toArray();
  const row = X[0], z = [...row];
  z[2] = 0;
  z[3] = 0;
  assertClose([g[2], g[3]], [cpu(row, 0) - cpu(z, 0), cpu(row, 0) - cpu(z, 0)], {
    atol: 1e-5,
    msg: "group 1",
  });
});

Deno.test("Occlusion averages over the windows that cover a feature (Captum's rule)", async () => {
  // a linear model: removing a window of features drops Σ_{i in window} w_i x_i
  const w = [1, -2, 0.5, 3, -1];
  const lin = new gb.Linear(5, 1);
  lin.loadStateDict({ weight: gb.tensor([w]), bias: gb.tensor([0.3]) });
  const xs = [0.5, 1, -1, 2, 0.25];
  const attr =
    await (await new gb.Occlusion(lin).attribute(gb.tensor([xs]), { slidingWindowShapes: [2], strides: [1] }))
      .toArray();
  // windows [0,1], [1,2], [2,3], [3,4]; feature i: mean drop over the windows containing it
  const drop = (a: number) => w[a] * xs[a] + w[a + 1] * xs[a + 1];
  const want = [drop(0), (drop(0) + drop(1)) / 2, (drop(1) + drop(2)) / 2, (drop(2) + drop(3)) / 2, drop(3)];
  assertClose(attr, want, { atol: 1e-5, msg: "Occlusion averaging" });
});

Deno.test("Occlusion counts windows as Captum does: ceil((d − w)/s) + 1, the last one cut at the end; stride > window is refused", async () => {
  // a sum of the features on an all-ones input: a window's drop is the number of features it covers
  const sum = (n: number) => {
    const l = new gb.Linear(n, 1);
    l.loadStateDict({ weight: gb.tensor([new Array(n).fill(1)]), bias: gb.tensor([0]) });
    return l;
  };
  // d = 10, w = 3, s = 3: windows [0,3), [3,6), [6,9) and [9,10) (cut): feature 9 drops 1, not 0
  const a = await new gb.Occlusion(sum(10)).attribute(gb.ones([1, 10]), {
    slidingWindowShapes: [3],
    strides: 3,
  });
  assert.deepEqual(Array.from(await a.toArray()), [3, 3, 3, 3, 3, 3, 3, 3, 3, 1]);
  // d = 8, w = 3, s = 2 with weights 1..8: windows [0,3), [2,5), [4,7), [6,8) drop 6, 12, 18, 15; a feature
  // gets the mean drop of the windows covering it
  const lin = new gb.Linear(8, 1);
  lin.loadStateDict({ weight: gb.tensor([[1, 2, 3, 4, 5, 6, 7, 8]]), bias: gb.tensor([0.5]) });
  const b = await new gb.Occlusion(lin).attribute(gb.ones([1, 8]), {
    slidingWindowShapes: [3],
    strides: [2],
  });
  assertClose(await b.toArray(), [6, 6, 9, 12, 15, 18, 16.5, 15], { atol: 1e-5, msg: "d=8 w=3 s=2" });
  // 2-D [3, 4], window [2, 3], strides [1, 3]: rows start 0, 1; columns start 0 and 3 (cut to one column)
  const c = await new gb.Occlusion(new gb.Sequential(new gb.Flatten(), sum(12))).attribute(
    gb.ones([1, 3, 4]),
    {
      slidingWindowShapes: [2, 3],
      strides: [1, 3],
    },
  );
  assert.deepEqual(Array.from(await c.toArray()), [6, 6, 6, 2, 6, 6, 6, 2, 6, 6, 6, 2]);
  await assert.rejects(
    () => new gb.Occlusion(sum(10)).attribute(gb.ones([1, 10]), { slidingWindowShapes: [3], strides: 4 }),
    /stride 4 is longer than the window 3 in dimension 0 \(size 10\)/,
  );
  // a window spanning its whole dimension may have any stride (there is one window)
  const whole = await new gb.Occlusion(sum(10)).attribute(gb.ones([1, 10]), {
    slidingWindowShapes: [10],
    strides: 20,
  });
  assert.deepEqual(Array.from(await whole.toArray()), new Array(10).fill(10));
});

Deno.test("KernelShap exact: every coalition gives the exact Shapley values (enumerated on a CPU twin) and is efficient", async () => {
  const { model, cpu } = mlp();
  const x = gb.tensor(X);
  const mask = [0, 1, 1, 2, 3, 3]; // 4 groups
  const M = 4;
  const shapley = (row: number[], t: number) => {
    const value = (S: number) => cpu(row.map((v, i) => ((S >> mask[i]) & 1 ? v : 0)), t);
    const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
    return Array.from({ length: M }, (_, i) => {
      let phi = 0;
      for (let S = 0; S < 2 ** M; S++) {
        if ((S >> i) & 1) continue;
        const k = [0, 1, 2, 3].filter((j) => (S >> j) & 1).length;
        phi += (fact(k) * fact(M - k - 1) / fact(M)) * (value(S | (1 << i)) - value(S));
      }
      return phi;
    });
  };
  const attr =
    await (await new gb.KernelShap(model).attribute(x, { target: [1, 0], featureMask: mask, exact: true }))
      .toArray();
  for (let n = 0; n < 2; n++) {
    const phi = shapley(X[n], [1, 0][n]);
    assertClose(mask.map((g) => attr[n * 6 + mask.indexOf(g)]), mask.map((g) => phi[g]), {
      atol: 1e-4,
      msg: `example ${n}`,
    });
    const sum = phi.reduce((a, b) => a + b, 0);
    assertClose([sum], [cpu(X[n], [1, 0][n]) - cpu([0, 0, 0, 0, 0, 0], [1, 0][n])], {
      atol: 1e-9,
      msg: "efficiency (truth)",
    });
    const got = [0, 1, 3, 4].reduce((a, i) => a + attr[n * 6 + i], 0);
    assertClose([got], [sum], { atol: 1e-4, msg: "KernelShap sums to F(x) − F(x′)" });
  }
  // sampled coalitions (Captum's estimate) satisfy efficiency up to Captum's 10⁶ end-point weight
  const sampled =
    await (await new gb.KernelShap(model).attribute(gb.tensor([X[0]]), { target: 1, nSamples: 10 }))
      .toArray();
  assertClose([Array.from(sampled).reduce((a, b) => a + b, 0)], [cpu(X[0], 1) - cpu([0, 0, 0, 0, 0, 0], 1)], {
    atol: 1e-4,
    msg: "sampled efficiency",
  });
});

/** Shapley values of `value` over M players by enumeration (float64). */
function shapleyValues(M: number, value: (z: number[]) => number): number[] {
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  return Array.from({ length: M }, (_, i) => {
    let phi = 0;
    for (let S = 0; S < 2 ** M; S++) {
      if ((S >> i) & 1) continue;
      const z = Array.from({ length: M }, (_, j) => (S >> j) & 1);
      const k = z.reduce((a, b) => a + b, 0);
      const zi = [...z];
      zi[i] = 1;
      phi += (fact(k) * fact(M - k - 1) / fact(M)) * (value(zi) - value(z));
    }
    return phi;
  });
}

Deno.test("KernelShap on a sum of 784 all-ones features: every value is 1, or an error naming nSamples and the groups", async () => {
  // score = Σ x_i on x = 1: every Shapley value is 1 (the old remainder put 75.9 on the last pixel)
  const sum = (n: number) => {
    const l = new gb.Linear(n, 1);
    l.loadStateDict({ weight: gb.tensor([new Array(n).fill(1)]), bias: gb.tensor([0]) });
    return l;
  };
  await assert.rejects(
    () => new gb.KernelShap(sum(784)).attribute(gb.ones([1, 784])),
    /KernelShap: nSamples 25 cannot determine 784 groups: the regression has 785 unknowns/,
  );
  await assert.rejects(
    () => new gb.KernelShap(sum(784)).attribute(gb.ones([1, 784]), { nSamples: 300 }),
    /nSamples 300 cannot determine 784 groups.*at least 785/,
  );
  // enough coalitions: every value is 1
  const attr = await new gb.KernelShap(sum(64)).attribute(gb.ones([1, 64]), { nSamples: 120 });
  assertClose(await attr.toArray(), new Array(64).fill(1), { atol: 1e-4, msg: "Σx on ones, 64 features" });
  // grouped: 784 features in 16 groups of 49 → each group's value 49, shared by its features
  const mask = Array.from({ length: 784 }, (_, i) => i % 16);
  const grouped = await new gb.KernelShap(sum(784)).attribute(gb.ones([1, 784]), { featureMask: mask });
  assertClose(await grouped.toArray(), new Array(784).fill(49), { atol: 2e-3, msg: "16 groups of 49" });
  // coalitions that repeat: 3 groups need 4 independent rows; with nSamples 4, seed 1 draws {1, 2}
  // twice (rank 3), seed 0 draws {1} and {0, 1} (rank 4)
  await assert.rejects(
    () => new gb.KernelShap(sum(3)).attribute(gb.ones([1, 3]), { nSamples: 4, seed: 1 }),
    /the 4 coalitions drawn \(seed 1\) determine only 3 of the 4 unknowns for 3 groups/,
  );
  const three = await new gb.KernelShap(sum(3)).attribute(gb.ones([1, 3]), { nSamples: 4, seed: 0 });
  assertClose(await three.toArray(), [1, 1, 1], { atol: 1e-4, msg: "3 groups, 4 independent coalitions" });
  await assert.rejects(
    () => new gb.KernelShap(sum(2)).attribute(gb.ones([1, 2]), { nSamples: 1 }),
    /nSamples must be an integer of at least 2/,
  );
});

Deno.test("KernelShap samples coalition sizes from the Shapley kernel as Captum (uniform sizes give another answer)", async () => {
  // F = 4·[x0 = 1 and at most one other feature is on], on binary coalitions of 10 features (x = 1,
  // baseline 0): its Shapley values are 0.8 for feature 0 and −0.8/9 for each of the others
  const M = 10;
  const l1 = new gb.Linear(M, 3), l2 = new gb.Linear(3, 1);
  const rest = [0, ...new Array(M - 1).fill(-1)];
  l1.loadStateDict({
    weight: gb.tensor([[1, ...new Array(M - 1).fill(0)], rest, rest]),
    bias: gb.tensor([0, 2, 1]), // x0, 2 − r, 1 − r (r: the others on); relu(2 − r) − relu(1 − r) = [r ≤ 1]
  });
  l2.loadStateDict({ weight: gb.tensor([[4, 4, -4]]), bias: gb.tensor([-4]) });
  const model = new gb.Sequential(l1, new gb.ReLU(), l2, new gb.ReLU());
  const cpu = (z: number[]) => 4 * z[0] * (z.slice(1).reduce((a, b) => a + b, 0) <= 1 ? 1 : 0);
  const phi = shapleyValues(M, cpu);
  assertClose(phi, [0.8, ...new Array(M - 1).fill(-0.8 / 9)], { atol: 1e-12, msg: "truth" });
  const x = gb.ones([1, M]);
  const exact = await (await new gb.KernelShap(model).attribute(x, { exact: true })).toArray();
  assertClose(exact, phi, { atol: 1e-4, msg: "exact" });
  // Captum's estimate with 5000 coalitions: φ0 within 0.12 of 0.8 (over seeds 0–11 of a float64 twin
  // it fell in [0.72, 0.86]); sizes drawn uniformly instead give φ0 in [0.48, 0.62]
  for (const seed of [0, 1]) {
    const est = await (await new gb.KernelShap(model).attribute(x, { nSamples: 5000, seed })).toArray();
    assert.ok(Math.abs(est[0] - 0.8) < 0.12, `seed ${seed}: φ0 = ${est[0]}, Shapley 0.8`);
    const others = Array.from(est.slice(1)).reduce((a, b) => a + b, 0) / (M - 1);
    assert.ok(
      Math.abs(others + 0.8 / 9) < 0.015,
      `seed ${seed}: mean of the others ${others}, Shapley −0.0889`,
    );
    assertClose([Array.from(est).reduce((a, b) => a + b, 0)], [0], { atol: 2e-3, msg: "efficiency" });
  }
});

Deno.test("Lime recovers a linear model's contributions w·(x − x′) (alpha 0 exactly, the default alpha nearly)", async () => {
  const w = [1, -2, 0.5, 3, -1, 0.7];
  const lin = new gb.Linear(6, 1);
  lin.loadStateDict({ weight: gb.tensor([w]), bias: gb.tensor([0.3]) });
  const x = gb.tensor([X[0]]);
  const want = X[0].map((v, i) => w[i] * v);
  const exact = await (await new gb.Lime(lin).attribute(x, { nSamples: 200, alpha: 0 })).toArray();
  assertClose(exact, want, { atol: 1e-6, msg: "Lime, alpha 0" });
  const lasso = await (await new gb.Lime(lin).attribute(x, { nSamples: 200 })).toArray();
  assertClose(lasso, want, { atol: 0.1, msg: "Lime, alpha 0.01" });
});

/** Weighted least squares with an intercept by the normal equations in float64: the coefficients only. */
function weightedFit(z: number[][], y: number[], w: number[]): number[] {
  const n = z[0].length + 1;
  const A = Array.from({ length: n }, () => new Array(n + 1).fill(0));
  z.forEach((zs, s) => {
    const row = [1, ...zs];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) A[i][j] += w[s] * row[i] * row[j];
      A[i][n] += w[s] * row[i] * y[s];
    }
  });
  for (let c = 0; c < n; c++) {
    const p = A.reduce((best, r, i) => (i >= c && Math.abs(r[c]) > Math.abs(A[best][c]) ? i : best), c);
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k <= n; k++) A[r][k] -= f * A[c][k];
    }
  }
  return A.slice(1).map((r, i) => r[n] / A[i + 1][i + 1]);
}

Deno.test("Lime weighs each coalition by the exponential kernel on the cosine distance (a float64 twin of Captum's defaults)", async () => {
  // a ReLU MLP is not linear in the coalitions, so the weights change the fitted surrogate
  const { model, cpu } = mlp();
  const row = X[0], M = row.length, S = 40;
  for (const kernelWidth of [1, 0.5]) {
    // the coalitions of seed 0: each feature kept with probability ½
    const g = new gb.Generator(0);
    const z = Array.from({ length: S }, () => Array.from({ length: M }, () => (g.random() < 0.5 ? 1 : 0)));
    const y = z.map((zs) => cpu(row.map((v, i) => (zs[i] ? v : 0)), 0));
    const w = z.map((zs) => {
      const p = row.map((v, i) => (zs[i] ? v : 0));
      const dot = p.reduce((a, v, i) => a + v * row[i], 0);
      const norms = Math.hypot(...row) * Math.hypot(...p);
      const d = 1 - (norms ? dot / norms : 0);
      return Math.exp(-(d * d) / (2 * kernelWidth ** 2));
    });
    const want = weightedFit(z, y, w);
    const got = await (await new gb.Lime(model).attribute(gb.tensor([row]), {
      target: 0,
      nSamples: S,
      alpha: 0,
      kernelWidth,
    })).toArray();
    assertClose(got, want, { atol: 2e-4, msg: `Lime, kernel width ${kernelWidth}` });
    // the kernel matters here: equal weights fit another surrogate
    const flat = weightedFit(z, y, w.map(() => 1));
    assert.ok(
      Math.max(...flat.map((v, i) => Math.abs(v - want[i]))) > 0.01,
      `width ${kernelWidth}: ${flat} vs ${want}`,
    );
  }
});

Deno.test("FeaturePermutation: zero for a feature the model ignores, sums to zero over the batch for a linear model", async () => {
  const w = [2, 0, -1, 0.5];
  const lin = new gb.Linear(4, 1);
  lin.loadStateDict({ weight: gb.tensor([w]), bias: gb.tensor([0]) });
  gb.manualSeed(3);
  const x = gb.randn([32, 4]);
  const attr = await (await new gb.FeaturePermutation(lin).attribute(x)).toArray();
  for (let i = 0; i < 4; i++) {
    const col = Array.from({ length: 32 }, (_, n) => attr[n * 4 + i]);
    if (w[i] === 0) assert.ok(col.every((v) => v === 0), "an ignored feature gets 0");
    assertClose([col.reduce((a, b) => a + b, 0)], [0], { atol: 1e-4, msg: `Σ_n attr for feature ${i}` });
  }
  await assert.rejects(
    () => new gb.FeaturePermutation(lin).attribute(gb.randn([1, 4])),
    /needs a batch of at least 2/,
  );
});

Deno.test("FeaturePermutation never draws the identity: in a batch of 2 every feature is swapped", async () => {
  // with two examples a permutation is the swap or the identity; the identity would give exactly 0
  const D = 24;
  const w = Array.from({ length: D }, (_, i) => (i % 5) - 2 + 0.25);
  const lin = new gb.Linear(D, 1);
  lin.loadStateDict({ weight: gb.tensor([w]), bias: gb.tensor([0.1]) });
  const a = Array.from({ length: D }, (_, i) => Math.sin(i + 1)),
    b = Array.from({ length: D }, (_, i) => Math.cos(2 * i));
  for (const seed of [0, 1, 2]) {
    const attr = await (await new gb.FeaturePermutation(lin).attribute(gb.tensor([a, b]), { seed }))
      .toArray();
    // swapped feature i: F(x) − F(x with x_i from the other example) = w_i (x_i − other_i)
    const want = [...a.map((v, i) => w[i] * (v - b[i])), ...b.map((v, i) => w[i] * (v - a[i]))];
    assertClose(attr, want, { atol: 1e-5, msg: `seed ${seed}` });
  }
});

Deno.test("FeaturePermutation follows its seed: the same seed repeats the permutations, other seeds draw others", async () => {
  const model = new gb.Linear(3, 1);
  model.loadStateDict({ weight: gb.tensor([[1, -2, 3]]), bias: gb.tensor([0]) });
  const x = gb.tensor(Array.from({ length: 6 }, (_, n) => [n, n * n - 3, 5 - 2 * n]));
  const fp = new gb.FeaturePermutation(model);
  const run = async (seed: number) => Array.from(await (await fp.attribute(x, { seed })).toArray());
  const a = await run(0), again = await run(0);
  assert.deepEqual(again, a, "seed 0 twice");
  // with 6 distinct rows, a permutation gives each feature its own pattern of changes w_i·(x_i − x_perm(i)):
  // among seeds 1–4 some must differ from seed 0 (a generator that ignored the seed would repeat it)
  const others: number[][] = [];
  for (const seed of [1, 2, 3, 4]) others.push(await run(seed));
  assert.ok(
    others.some((o) => o.some((v, i) => Math.abs(v - a[i]) > 1e-4)),
    "other seeds draw other permutations",
  );
  // and every draw is a permutation: each feature's changes sum to zero over the batch (a linear model)
  for (const o of [a, ...others]) {
    for (let i = 0; i < 3; i++) {
      const s = o.filter((_, k) => k % 3 === i).reduce((p, v) => p + v, 0);
      assert.ok(Math.abs(s) < 1e-3, `feature ${i} sums to ${s}`);
    }
  }
});

Deno.test("Lime's defaults are Captum's: 25 coalitions, kernel width 1, Lasso alpha 0.01", async () => {
  // a ReLU MLP, where the kernel width and the penalty both change the fitted surrogate
  const { model } = mlp();
  const x = gb.tensor([X[0]]);
  const lime = new gb.Lime(model);
  const defaults = Array.from(await (await lime.attribute(x, { target: 0 })).toArray());
  const explicit = Array.from(
    await (await lime.attribute(x, { target: 0, nSamples: 25, kernelWidth: 1, alpha: 0.01, seed: 0 }))
      .toArray(),
  );
  assert.deepEqual(defaults, explicit, "no options = Captum's n_samples 25, kernel_width 1, alpha 0.01");
  // each of those settings matters on this model
  for (const other of [{ nSamples: 26 }, { kernelWidth: 0.75 }, { alpha: 0.001 }]) {
    const o = Array.from(await (await lime.attribute(x, { target: 0, ...other })).toArray());
    assert.ok(
      o.some((v, i) => Math.abs(v - defaults[i]) > 1e-6),
      `${JSON.stringify(other)} changes the result`,
    );
  }
});

/** A small CNN (Conv2d → ReLU → MaxPool2d(2), the run the engine fuses, → Flatten → Linear) and its float64 CPU twin. */
async function smallCnn() {
  gb.manualSeed(3);
  const conv = new gb.Conv2d(1, 2, 3), fc = new gb.Linear(2 * 3 * 3, 3);
  const model = new gb.Sequential(conv, new gb.ReLU(), new gb.MaxPool2d(2), new gb.Flatten(), fc);
  const [w, b, W, B] = await Promise.all(
    [conv.weight, conv.bias!, fc.weight, fc.bias!].map((t) => t.toArray()),
  );
  // one 8×8 image → its 3 outputs
  const cpu = (img: number[]): number[] => {
    const pooled: number[] = [];
    for (let c = 0; c < 2; c++) {
      const act = (y: number, x: number) => {
        let s = b[c];
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) s += w[c * 9 + i * 3 + j] * img[(y + i) * 8 + x + j];
        }
        return Math.max(0, s);
      };
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 3; x++) {
          pooled.push(
            Math.max(
              act(2 * y, 2 * x),
              act(2 * y, 2 * x + 1),
              act(2 * y + 1, 2 * x),
              act(2 * y + 1, 2 * x + 1),
            ),
          );
        }
      }
    }
    return [0, 1, 2].map((o) => pooled.reduce((s, v, i) => s + W[o * 18 + i] * v, B[o]));
  };
  return { model, cpu };
}

Deno.test("Occlusion on a CNN, several images and targets, in one batch or many small ones, fused or not: Captum's mean drop over the windows, from a float64 twin", async () => {
  const { model, cpu } = await smallCnn();
  const imgs = [0, 1].map((n) => Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.7 + n) + 0.3 * n));
  const base = Array.from({ length: 64 }, (_, i) => 0.1 * Math.cos(i));
  const targets = [[2, 0], [1, 2]];
  // windows 3×3 at stride 2 over 8×8: starts 0, 2, 4, 6 (the last cut to 2 rows or columns)
  const want: number[] = [];
  for (let n = 0; n < 2; n++) {
    for (const t of targets[n]) {
      const full = cpu(imgs[n])[t];
      const sum = new Array(64).fill(0), count = new Array(64).fill(0);
      for (let y0 = 0; y0 < 8; y0 += 2) {
        for (let x0 = 0; x0 < 8; x0 += 2) {
          const inside = (i: number) => {
            const y = Math.floor(i / 8), x = i % 8;
            return y >= y0 && y < y0 + 3 && x >= x0 && x < x0 + 3;
          };
          const drop = full - cpu(imgs[n].map((v, i) => (inside(i) ? base[i] : v)))[t];
          for (let i = 0; i < 64; i++) if (inside(i)) (sum[i] += drop, count[i]++);
        }
      }
      want.push(...sum.map((s, i) => s / count[i]));
    }
  }
  const x = gb.tensor(imgs.flat(), [2, 1, 8, 8]);
  const baselines = gb.tensor(base, [1, 1, 8, 8]);
  const run = (internalBatchSize?: number) =>
    new gb.Occlusion(model).attribute(x, {
      target: targets,
      slidingWindowShapes: [1, 3, 3],
      strides: [1, 2, 2],
      baselines,
      internalBatchSize,
    });
  const one = await run();
  assert.deepEqual(one.shape, [2, 2, 1, 8, 8]);
  assertClose(await one.toArray(), want, { atol: 1e-5, msg: "one batch" });
  // 7 rows at a time: each (image, target) row's 17 copies go through the model in three passes
  assertClose(await (await run(7)).toArray(), want, { atol: 1e-5, msg: "batches of 7" });
  const fusion = gb.gpuSettings().fusion;
  gb.configureGpu({ fusion: !fusion });
  try {
    assertClose(await (await run()).toArray(), want, { atol: 1e-5, msg: `fusion ${!fusion}` });
  } finally {
    gb.configureGpu({ fusion });
  }
  // a number baseline is Captum's too: 0 everywhere
  const zero = await new gb.FeatureAblation(model).attribute(x, {
    target: 1,
    featureMask: [...new Array(32).fill(0), ...new Array(32).fill(1)],
  });
  const z = await zero.toArray();
  for (let n = 0; n < 2; n++) {
    const full = cpu(imgs[n])[1];
    const top = full - cpu(imgs[n].map((v, i) => (i < 32 ? 0 : v)))[1];
    const bottom = full - cpu(imgs[n].map((v, i) => (i < 32 ? v : 0)))[1];
    assertClose([z[n * 64], z[n * 64 + 63]], [top, bottom], {
      atol: 1e-5,
      msg: `FeatureAblation image ${n}`,
    });
  }
});

Deno.test("KernelShap and Lime give the same values for several images whatever the internal batch size", async () => {
  const { model } = mlp();
  const x = gb.tensor([...X, X[0].map((v) => -v)]);
  const mask = [0, 1, 1, 2, 3, 3];
  for (
    const [name, method] of [["KernelShap", new gb.KernelShap(model)], ["Lime", new gb.Lime(model)]] as const
  ) {
    const run = async (internalBatchSize?: number) =>
      await (await method.attribute(x, {
        target: [1, 0, 1],
        featureMask: mask,
        nSamples: 12,
        internalBatchSize,
      }))
        .toArray();
    const all = await run();
    // 5 rows a pass: an image's 12 coalitions take three passes; 30 rows: one pass each
    for (const size of [5, 30]) {
      assertClose(await run(size), all, { atol: 1e-5, msg: `${name}, batches of ${size}` });
    }
  }
});

Deno.test("perturbation methods free what they make: outside any scope only the attributions stay on the GPU", async () => {
  const { model } = await smallCnn();
  const x = gb.randn([2, 1, 8, 8]);
  const runs: [string, () => Promise<gb.Tensor>][] = [
    [
      "Occlusion",
      () => new gb.Occlusion(model).attribute(x, { target: 0, slidingWindowShapes: [1, 3, 3], strides: 2 }),
    ],
    ["FeatureAblation", () => new gb.FeatureAblation(model).attribute(x, { target: [1, 2], baselines: 0.5 })],
    ["FeaturePermutation", () => new gb.FeaturePermutation(model).attribute(x, { target: [[0, 1], [2, 0]] })],
    [
      "KernelShap",
      () =>
        new gb.KernelShap(model).attribute(x, {
          target: 1,
          featureMask: Array.from({ length: 64 }, (_, i) => i >> 4),
          nSamples: 10,
        }),
    ],
    [
      "Lime",
      () =>
        new gb.Lime(model).attribute(x, {
          target: 1,
          featureMask: Array.from({ length: 64 }, (_, i) => i >> 4),
        }),
    ],
  ];
  for (const [name, run] of runs) {
    (await run()).dispose(); // the model's output shape is learnt once, outside the count
    await gb.sync();
    const before = gb.poolStats().liveBuffers;
    const a = await run();
    await a.toArray();
    assert.equal(gb.poolStats().liveBuffers - before, 1, `${name}: only the attributions are live`);
    a.dispose();
  }
});

Deno.test("Occlusion through a convolutional stem computes each copy's patch only, and gives the full model's numbers (odd sizes, strided conv, a window over one channel of two)", async () => {
  gb.manualSeed(5);
  const nets = [
    // 29×31 → conv 3 → 27×29 → pool 2 → 13×14 → conv 3 → 11×12 → pool 2 → 5×6
    new gb.Sequential(
      new gb.Conv2d(2, 3, 3),
      new gb.ReLU(),
      new gb.MaxPool2d(2),
      new gb.Conv2d(3, 4, 3),
      new gb.LeakyReLU(0.1),
      new gb.MaxPool2d(2),
      new gb.Flatten(),
      new gb.Linear(4 * 5 * 6, 3),
    ),
    // a strided conv and an overlapping pool: 29×31 → conv 3 stride 2 → 14×15 → pool 3 stride 2 → 6×7
    new gb.Sequential(
      new gb.Conv2d(2, 4, 3, { stride: 2 }),
      new gb.ReLU(),
      new gb.MaxPool2d(3, 2),
      new gb.Flatten(),
      new gb.Linear(4 * 6 * 7, 3),
    ),
    // a pool of other steps along the two axes (input strides 2 and 3): 29×31 → conv 3 → 27×29 →
    // pool [2, 3] → 13×9
    new gb.Sequential(
      new gb.Conv2d(2, 3, 3),
      new gb.ReLU(),
      new gb.MaxPool2d([2, 3]),
      new gb.Flatten(),
      new gb.Linear(3 * 13 * 9, 3),
    ),
  ];
  const x = gb.randn([2, 2, 29, 31]);
  const baselines = gb.randn([1, 2, 29, 31]).mul(0.1);
  const options = { target: [[0, 2], [1, 0]], slidingWindowShapes: [1, 5, 4], strides: [1, 3, 2], baselines };
  for (const [i, model] of nets.entries()) {
    // the plan is made: patches clearly smaller than the image
    const boxes = [{ start: [0, 0, 0], end: [1, 5, 4] }, { start: [1, 28, 30], end: [2, 29, 31] }];
    const plan = localPlan(model, [2, 29, 31], boxes);
    assert.ok(plan && plan.patch[0] * plan.patch[1] < 0.6 * 29 * 31, `net ${i}: a local plan`);
    const localRun = await gb.profile(async () =>
      await (await new gb.Occlusion(model).attribute(x, options)).toArray()
    );
    const local = localRun.result;
    // 150 rows a pass: one (image, target) row's 136 copies per chunk
    const chunks = await (await new gb.Occlusion(model).attribute(x, { ...options, internalBatchSize: 150 }))
      .toArray();
    // a hook anywhere makes every copy go through the whole model, layer by layer
    const hook = model.layers.at(-1)!.registerForwardHook(() => {});
    const wholeRun = await gb.profile(async () =>
      await (await new gb.Occlusion(model).attribute(x, options)).toArray()
    );
    const whole = wholeRun.result;
    hook.remove();
    // the stem ran on patches, and the hook did send every copy through the whole model (else the
    // comparison below would check the local path against itself)
    const flops = (p: typeof localRun) => p.events.reduce((a, e) => a + (e.flops ?? 0), 0);
    assert.ok(
      flops(localRun) < 0.6 * flops(wholeRun),
      `net ${i}: ${flops(localRun)} flops through the stem's patches, ${
        flops(wholeRun)
      } through the whole model`,
    );
    assertClose(local, whole, { atol: 1e-5, msg: `net ${i}: stem patches against the whole model` });
    assertClose(chunks, whole, { atol: 1e-5, msg: `net ${i}: stem patches in chunks of one row` });
  }
  // padding ends the stem (a patch's border would be padded where the image has pixels): a padded
  // first conv makes no plan, a padded pool ends the stem before it, and the numbers are the whole
  // model's, hook or not
  const padded = [
    new gb.Sequential(
      new gb.Conv2d(2, 3, 3, { padding: 1 }),
      new gb.ReLU(),
      new gb.MaxPool2d(2),
      new gb.Flatten(),
      new gb.Linear(3 * 14 * 15, 3),
    ),
    new gb.Sequential(
      new gb.Conv2d(2, 3, 3),
      new gb.ReLU(),
      new gb.MaxPool2d(2, 2, 1),
      new gb.Flatten(),
      new gb.Linear(3 * 14 * 15, 3),
    ),
  ];
  for (const [i, model] of padded.entries()) {
    const plan = localPlan(model, [2, 29, 31], [{ start: [0, 0, 0], end: [1, 5, 4] }]);
    assert.equal(plan && plan.prefix.length, i === 0 ? null : 2, `padded ${i}: the stem`);
    const plain = await (await new gb.Occlusion(model).attribute(x, options)).toArray();
    const hook = model.layers.at(-1)!.registerForwardHook(() => {});
    const whole = await (await new gb.Occlusion(model).attribute(x, options)).toArray();
    hook.remove();
    assertClose(plain, whole, { atol: 1e-5, msg: `padded ${i}: against the whole model` });
  }
});

Deno.test("Occlusion's geometry cache: alternating geometries, baselines, batch sizes and models give a fresh instance's numbers, and the GPU pool stays flat over 100 calls", async () => {
  gb.manualSeed(11);
  // the seed CNN's layout at small widths: 28×28 → conv 3 → pool 2 → conv 3 → pool 2 → 5×5
  const cnn = (c1: number, c2: number) =>
    new gb.Sequential(
      new gb.Conv2d(1, c1, 3),
      new gb.ReLU(),
      new gb.MaxPool2d(2),
      new gb.Conv2d(c1, c2, 3),
      new gb.ReLU(),
      new gb.MaxPool2d(2),
      new gb.Flatten(),
      new gb.Linear(c2 * 25, 4),
    );
  const models = [cnn(3, 4), cnn(2, 5)];
  const x2 = gb.randn([2, 1, 28, 28]), x1 = gb.slice(x2, 1, 2);
  const image = gb.randn([1, 1, 28, 28]).mul(0.2);
  // A and B differ only in the stride; three paths: A's stem patches and tiles, B's whole copies (its
  // patches would not be smaller than the image), C's patches and one pass over the example
  const geometries = [
    { slidingWindowShapes: [1, 4, 4], strides: [1, 2, 2] },
    { slidingWindowShapes: [1, 4, 4], strides: [1, 3, 3] },
    { slidingWindowShapes: [1, 5, 3], strides: [1, 3, 2] },
  ];
  const boxesOf = (w: number[], s: number[]) => {
    const out: { start: number[]; end: number[] }[] = [];
    for (let y = 0; y < Math.ceil((28 - w[1]) / s[1]) + 1; y++) {
      for (let x = 0; x < Math.ceil((28 - w[2]) / s[2]) + 1; x++) {
        out.push({
          start: [0, y * s[1], x * s[2]],
          end: [1, Math.min(28, y * s[1] + w[1]), Math.min(28, x * s[2] + w[2])],
        });
      }
    }
    return out;
  };
  const tiled = geometries.map((g) =>
    localPlan(models[0], [1, 28, 28], boxesOf(g.slidingWindowShapes, g.strides))?.tiles
  );
  assert.ok(
    tiled[0] && tiled[1] === undefined && tiled[2] === null,
    "A's patches tile the stem's output, B has no patches (whole copies), C takes a pass over the example",
  );
  const cases: { name: string; model: gb.Sequential; x: gb.Tensor; options: gb.OcclusionOptions }[] = [];
  for (const [m, model] of models.entries()) {
    for (const [g, geometry] of geometries.entries()) {
      for (const [b, baselines] of [0, 0.5, image].entries()) {
        cases.push({
          name: `model ${m}, geometry ${g}, baseline ${b}`,
          model,
          x: (g + b) % 2 === 0 ? x2 : x1,
          options: { target: 1, ...geometry, baselines },
        });
      }
    }
  }
  // the truth: each case alone, nothing cached, and the model with a hook (every copy whole, no patches)
  const fresh: number[][] = [];
  for (const c of cases) {
    clearOcclusionCache();
    fresh.push(Array.from(await (await new gb.Occlusion(c.model).attribute(c.x, c.options)).toArray()));
    const hook = c.model.layers.at(-1)!.registerForwardHook(() => {});
    const whole = await (await new gb.Occlusion(c.model).attribute(c.x, c.options)).toArray();
    hook.remove();
    assertClose(fresh.at(-1)!, whole, { atol: 1e-5, msg: `${c.name}: against the whole model` });
  }
  // then all of them in turn, twice, one instance per model, the cache warm from the second call on
  clearOcclusionCache();
  const methods = new Map(models.map((m) => [m, new gb.Occlusion(m)]));
  for (let round = 0; round < 2; round++) {
    for (const [i, c] of cases.entries()) {
      const got = Array.from(await (await methods.get(c.model)!.attribute(c.x, c.options)).toArray());
      assert.deepEqual(got, fresh[i], `round ${round}, ${c.name}: the fresh numbers`);
    }
  }
  // owned: the cached masks and tables do not grow with the calls
  const live: number[] = [];
  for (let k = 0; k < 100; k++) {
    const c = cases[k % cases.length];
    (await methods.get(c.model)!.attribute(c.x, c.options)).dispose();
    await gb.sync();
    live.push(gb.poolStats().liveBuffers);
  }
  assert.ok(
    live.every((v) => v === live[0]),
    `live buffers over 100 calls: ${[...new Set(live)].join(", ")}`,
  );
  clearOcclusionCache();
  await gb.sync();
  assert.ok(gb.poolStats().liveBuffers < live[0], "clearing the cache frees its tensors");
  // a budget smaller than two tables: every call evicts (and frees) what the others made, never a table
  // it has taken and not yet used
  const was = setOcclusionCacheBytes(250_000);
  try {
    const tight: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (const [i, c] of cases.entries()) {
        const a = await methods.get(c.model)!.attribute(c.x, c.options);
        assert.deepEqual(Array.from(await a.toArray()), fresh[i], `250 kB budget, round ${round}, ${c.name}`);
        a.dispose();
        await gb.sync();
        if (round === 1) tight.push(gb.poolStats().liveBuffers);
      }
    }
    assert.ok(
      Math.max(...tight) <= live[0],
      `live buffers with evictions: ${[...new Set(tight)].join(", ")}`,
    );
  } finally {
    setOcclusionCacheBytes(was);
    clearOcclusionCache();
  }
});

/** Two conv → activation → pool blocks over 28×28 images, four outputs (the second activation can be replaced). */
function twoConvStem(act: gb.Module = new gb.ReLU()): gb.Sequential {
  return new gb.Sequential(
    new gb.Conv2d(1, 3, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Conv2d(3, 4, 3),
    act,
    new gb.MaxPool2d(2),
    new gb.Flatten(),
    new gb.Linear(100, 4),
  );
}

Deno.test("Occlusion's geometry cache: two number baselines on the same geometry and batch each give their own numbers", async () => {
  gb.manualSeed(12);
  // a convolutional stem, so the copies' patches read [x | baseline] with the number as a cached column
  const model = twoConvStem();
  const x = gb.randn([1, 1, 28, 28]);
  const options = { target: 1, slidingWindowShapes: [1, 4, 4], strides: [1, 2, 2] };
  const run = async (o: gb.Occlusion, baselines: number) =>
    Array.from(await (await o.attribute(x, { ...options, baselines })).toArray());
  const fresh: number[][] = [];
  for (const b of [0, 0.5]) {
    clearOcclusionCache();
    fresh.push(await run(new gb.Occlusion(model), b));
  }
  assert.notDeepEqual(fresh[0], fresh[1], "the two baselines give different attributions");
  clearOcclusionCache();
  const occlusion = new gb.Occlusion(model);
  for (const [i, b] of [0, 0.5, 0].entries()) {
    assert.deepEqual(
      await run(occlusion, b),
      fresh[i % 2],
      `baseline ${b} after the other: the fresh numbers`,
    );
  }
  clearOcclusionCache();
  model.parameters().forEach((p) => p.dispose());
  x.dispose();
});

Deno.test("Occlusion's convolutional stem stops at a subclass of ReLU (its own forward may not be local)", async () => {
  gb.manualSeed(13);
  // a ReLU subclass that scales each example's map by its mean: run on a patch it would see another mean
  class Scaled extends gb.ReLU {
    override forward(x: gb.Tensor): gb.Tensor {
      const r = super.forward(x);
      return r.mul(gb.mean(r, [1, 2, 3], true));
    }
  }
  const model = twoConvStem(new Scaled());
  const x = gb.randn([1, 1, 28, 28]);
  const options = { target: 1, slidingWindowShapes: [1, 4, 4], strides: [1, 2, 2] };
  clearOcclusionCache();
  const got = await (await new gb.Occlusion(model).attribute(x, options)).toArray();
  // the truth: every copy whole (a hook keeps the stem's patches out)
  const hook = model.layers.at(-1)!.registerForwardHook(() => {});
  const whole = await (await new gb.Occlusion(model).attribute(x, options)).toArray();
  hook.remove();
  assertClose(got, whole, { atol: 1e-5, msg: "against the whole model" });
  clearOcclusionCache();
  model.parameters().forEach((p) => p.dispose());
  x.dispose();
});

Deno.test("Occlusion after the model's weights change (an optimizer step, loadStateDict) gives the new model's numbers", async () => {
  gb.manualSeed(14);
  const model = twoConvStem(), other = twoConvStem();
  const x = gb.randn([1, 1, 28, 28]);
  const options = { target: 1, slidingWindowShapes: [1, 4, 4], strides: [1, 2, 2] };
  const occlusion = new gb.Occlusion(model);
  const attribute = async () => Array.from(await (await occlusion.attribute(x, options)).toArray());
  // the truth: a fresh instance on a fresh twin of the model's current weights, nothing cached
  const truth = async () => {
    clearOcclusionCache();
    const twin = twoConvStem();
    twin.loadStateDict(model.stateDict());
    const got = Array.from(await (await new gb.Occlusion(twin).attribute(x, options)).toArray());
    twin.parameters().forEach((p) => p.dispose());
    return got;
  };
  const first = await attribute();
  // an SGD step on the model's own loss
  const opt = new gb.SGD(model.parameters(), { lr: 0.5 });
  await gb.scope(async () => {
    await model.forward(x).mul(model.forward(x)).mean().backward();
    opt.step();
  });
  opt.zeroGrad();
  const afterStep = await attribute();
  assert.notDeepEqual(afterStep, first, "the step changed the attributions");
  assertClose(afterStep, await truth(), { atol: 1e-6, msg: "after an SGD step" });
  noGradLoad(model, other);
  const afterLoad = await attribute();
  assertClose(afterLoad, await truth(), { atol: 1e-6, msg: "after loadStateDict" });
  clearOcclusionCache();
  [...model.parameters(), ...other.parameters()].forEach((p) => p.dispose());
  x.dispose();
});

function noGradLoad(model: gb.Module, from: gb.Module): void {
  gb.noGrad(() => model.loadStateDict(from.stateDict()));
}
