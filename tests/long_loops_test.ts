// Kernels whose loop count grows with the data, just past llvmpipe's per-invocation loop budget
// of 65,535 steps (src/gpu/loops.ts), against exact or float64 answers. Before the fix each of
// these returned numbers computed from the first 65,535 steps only.
import * as gb from "../mod.ts";
import { ReluActivity } from "../src/inspect/relu_activity.ts";

const N = 70000;
const close = (got: number, want: number, tol: number, what: string) => {
  if (!(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)))) {
    throw new Error(`${what}: got ${got}, want ${want}`);
  }
};
const arr = async (t: gb.Tensor) => Array.from(await t.toArray() as Float32Array);

/** Deterministic values in [-1, 1) (float32-exact), so float64 references are easy. */
function values(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = (s % 2048) / 1024 - 1;
  }
  return v;
}

Deno.test("sum, mean and max over 70,000 rows (axis 0) and along a 70,000 last axis", async () => {
  await gb.scope(async () => {
    const v = values(N * 3, 1);
    const x = gb.tensor(v, [N, 3]);
    const want = [0, 1, 2].map((c) => {
      let s = 0, m = -Infinity, a = 0;
      for (let r = 0; r < N; r++) {
        const e = v[r * 3 + c];
        s += e;
        if (e > m) [m, a] = [e, r];
      }
      return { s, m, a };
    });
    const s0 = await arr(gb.sum(x, 0));
    const m0 = await arr(gb.mean(x, 0));
    const x0 = await arr(gb.max(x, 0));
    const a0 = Array.from(await gb.argmax(x, 0).toArray() as Int32Array);
    for (let c = 0; c < 3; c++) {
      close(s0[c], want[c].s, 1e-4, `sum column ${c}`);
      close(m0[c], want[c].s / N, 1e-4, `mean column ${c}`);
      close(x0[c], want[c].m, 0, `max column ${c}`);
      if (a0[c] !== want[c].a) throw new Error(`argmax column ${c}: got ${a0[c]}, want ${want[c].a}`);
    }
    // ones are exact: 70,000 per row, not 65,535
    const vt = new Float32Array(3 * N);
    for (let r = 0; r < N; r++) for (let c = 0; c < 3; c++) vt[c * N + r] = v[r * 3 + c];
    const t = gb.tensor(vt, [3, N]);
    const sl = await arr(gb.sum(t, 1));
    for (let c = 0; c < 3; c++) close(sl[c], want[c].s, 1e-4, `sum row ${c} (last axis)`);
    const ones = await arr(gb.sum(gb.ones([2, N]), 1));
    if (ones.some((o) => o !== N)) throw new Error(`sum of 2 rows of 70,000 ones: ${ones.slice(0, 3)}`);
    const ml = await arr(gb.max(t, 1));
    for (let c = 0; c < 3; c++) close(ml[c], want[c].m, 0, `max row ${c} (last axis)`);
  });
});

Deno.test("matmul with K = 70,000 and its backward (a gradient summed over 70,000 rows)", async () => {
  await gb.scope(async () => {
    const av = values(2 * N, 2), bv = values(N * 3, 3);
    const a = gb.tensor(av, [2, N], { requiresGrad: true });
    const b = gb.tensor(bv, [N, 3], { requiresGrad: true });
    const c = gb.matmul(a, b);
    const got = await arr(c);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < N; k++) s += av[i * N + k] * bv[k * 3 + j];
        close(got[i * 3 + j], s, 1e-3, `C[${i}, ${j}]`);
      }
    }
    const ones = await arr(gb.matmul(gb.ones([1, N]), gb.ones([N, 1])));
    if (ones[0] !== N) throw new Error(`ones·ones over K = 70,000: ${ones[0]}`);
    // dB = Aᵀ·dC has K = 2; dA = dC·Bᵀ too. A [70000, 2] · W [2, 3]: dW = Aᵀ·dC has K = 70,000
    const x = gb.tensor(bv.subarray(0, N * 2), [N, 2]);
    const w = gb.tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    await gb.sum(gb.matmul(x, w)).backward();
    const gw = await arr(w.grad!);
    for (let i = 0; i < 2; i++) {
      let s = 0;
      for (let r = 0; r < N; r++) s += bv[r * 2 + i];
      for (let j = 0; j < 3; j++) close(gw[i * 3 + j], s, 1e-4, `dW[${i}, ${j}]`);
    }
  });
});

/** float64 log-softmax of one row. */
function logSoftmaxRef(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const l = Math.log(s) + m;
  return Float64Array.from(row, (v) => v - l);
}

Deno.test("softmax, logSoftmax and crossEntropy (with its gradient) over 70,000 classes", async () => {
  await gb.scope(async () => {
    const v = values(2 * N, 4).map((e) => 4 * e);
    const x = gb.tensor(v, [2, N], { requiresGrad: true });
    const refs = [0, 1].map((n) => logSoftmaxRef(v.subarray(n * N, (n + 1) * N)));
    const sm = await arr(gb.softmax(x, -1));
    const ls = await arr(gb.logSoftmax(x, 1));
    for (let n = 0; n < 2; n++) {
      let total = 0;
      for (let c = 0; c < N; c++) total += sm[n * N + c];
      close(total, 1, 1e-4, `softmax row ${n} sums to`);
      for (const c of [0, 1, 65534, 65535, 65536, N - 1]) {
        close(sm[n * N + c], Math.exp(refs[n][c]), 1e-4 * Math.exp(refs[n][c]), `softmax[${n}, ${c}]`);
        close(ls[n * N + c], refs[n][c], 1e-5, `logSoftmax[${n}, ${c}]`);
      }
    }
    // along axis 0 of [70,000, 2] (I = 2): each column sums to 1
    const cols = await arr(gb.sum(gb.softmax(gb.tensor(v, [N, 2]), 0), 0));
    cols.forEach((c, i) => close(c, 1, 1e-4, `softmax column ${i} sums to`));
    // targets past 65,535; label smoothing 0.1 makes every logit count
    const t = [69999, 3], eps = 0.1;
    const loss = gb.crossEntropy(x, gb.tensor(t, [2], { dtype: "int32" }), { labelSmoothing: eps });
    let want = 0;
    for (let n = 0; n < 2; n++) {
      let s = 0;
      for (let c = 0; c < N; c++) s += refs[n][c];
      want += (-(1 - eps) * refs[n][t[n]] - (eps / N) * s) / 2;
    }
    close(await loss.item(), want, 1e-5, "crossEntropy");
    await loss.backward();
    const gx = await arr(x.grad!);
    for (let n = 0; n < 2; n++) {
      for (const c of [0, 3, 65535, 69999]) {
        const q = (c === t[n] ? 1 - eps : 0) + eps / N;
        close(gx[n * N + c], (Math.exp(refs[n][c]) - q) / 2, 1e-6, `dCE/dx[${n}, ${c}]`);
      }
    }
  });
});

Deno.test("layerNorm over 70,000 features, with weight and bias and their gradients", async () => {
  await gb.scope(async () => {
    const v = values(2 * N, 5);
    const x = gb.tensor(v, [2, N], { requiresGrad: true });
    const wv = values(N, 6), bv = values(N, 7);
    const w = gb.tensor(wv, [N], { requiresGrad: true });
    const b = gb.tensor(bv, [N], { requiresGrad: true });
    const y = gb.layerNorm(x, [N], w, b);
    const got = await arr(y);
    const xhat: number[][] = [];
    for (let n = 0; n < 2; n++) {
      let mu = 0, vr = 0;
      for (let c = 0; c < N; c++) mu += v[n * N + c] / N;
      for (let c = 0; c < N; c++) vr += (v[n * N + c] - mu) ** 2 / N;
      const inv = 1 / Math.sqrt(vr + 1e-5);
      xhat.push(Array.from(v.subarray(n * N, (n + 1) * N), (e) => (e - mu) * inv));
      for (const c of [0, 65535, 65536, N - 1]) {
        close(got[n * N + c], xhat[n][c] * wv[c] + bv[c], 1e-4, `layerNorm[${n}, ${c}]`);
      }
    }
    await gb.sum(y).backward();
    const [gw, gb_] = [await arr(w.grad!), await arr(b.grad!)];
    for (const c of [0, 65535, N - 1]) {
      close(gw[c], xhat[0][c] + xhat[1][c], 1e-4, `dW[${c}]`);
      close(gb_[c], 2, 0, `dB[${c}]`);
    }
    // 70,000 rows of 2 features: the weight's gradient sums over 70,000 rows
    const x2 = gb.tensor(v, [N, 2]);
    const w2 = gb.tensor([1, 1], [2], { requiresGrad: true });
    await gb.sum(gb.mul(gb.layerNorm(x2, [2], w2), gb.tensor([1, 0], [2]))).backward();
    let want = 0; // xhat of feature 0 in a pair (a, b) is (a - b) / sqrt((a - b)² + 4·eps)
    for (let r = 0; r < N; r++) {
      const d = v[2 * r] - v[2 * r + 1];
      want += d / Math.sqrt(d * d + 4e-5);
    }
    close((await arr(w2.grad!))[0], want, 1e-4, "dW[0] over 70,000 rows");
  });
});

Deno.test("attention over 70,000 keys, and topk and gather (with its gradient) over 70,000", async () => {
  await gb.scope(async () => {
    // one query of head size 4 against 70,000 keys (the composed path: matmul, softmax, matmul)
    const qv = values(4, 8), kv = values(N * 4, 9), vv = values(N * 4, 10);
    const out = await arr(gb.scaledDotProductAttention(
      gb.tensor(qv, [1, 1, 4]),
      gb.tensor(kv, [1, N, 4]),
      gb.tensor(vv, [1, N, 4]),
    ));
    const s = new Float64Array(N);
    let m = -Infinity, z = 0;
    for (let j = 0; j < N; j++) {
      for (let c = 0; c < 4; c++) s[j] += qv[c] * kv[j * 4 + c] / 2;
      m = Math.max(m, s[j]);
    }
    const want = [0, 0, 0, 0];
    for (let j = 0; j < N; j++) {
      const p = Math.exp(s[j] - m);
      z += p;
      for (let c = 0; c < 4; c++) want[c] += p * vv[j * 4 + c];
    }
    for (let c = 0; c < 4; c++) close(out[c], want[c] / z, 1e-4, `attention output ${c}`);
    if (gb.adapterInfo().description.includes("llvmpipe")) {
      let msg = "";
      try {
        gb.scaledDotProductAttention(gb.zeros([1, 1, 4]), gb.zeros([1, N, 4]), gb.zeros([1, N, 4]), {
          kernel: "fused",
        });
      } catch (e) {
        msg = (e as Error).message;
      }
      if (!/^attention \(fused\): 70000 keys and 1 queries needs 140016 loop steps/.test(msg)) {
        throw new Error(`fused attention refusal: ${msg}`);
      }
    }

    // topk over a row of 70,000: the best entries sit past 65,535
    const row = values(N, 11);
    row[69000] = 5;
    row[65600] = 4;
    const [tv, ti] = gb.topk(gb.tensor(row, [1, N]), 2);
    const [v2, i2] = [await arr(tv), Array.from(await ti.toArray() as Int32Array)];
    if (v2.join() !== "5,4" || i2.join() !== "69000,65600") throw new Error(`topk: ${v2} at ${i2}`);

    // gather's backward loops over the gathered indices in one invocation: 70,000 indices, in
    // blocks; x[0, 0] is picked 70,000 - 700 times and x[1, 2] 700 times (rows past 65,535)
    const x = gb.tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const iv = new Int32Array(2 * N);
    for (let j = N - 700; j < N; j++) iv[N + j] = 2;
    for (let j = 0; j < N; j++) if (j >= N - 700) iv[j] = 1;
    const y = gb.gather(x, 1, gb.tensor(iv, [2, N], { dtype: "int32" }));
    const picked = await arr(y);
    if (picked[N - 1] !== 2 || picked[2 * N - 1] !== 6) throw new Error(`gather: ${picked[N - 1]}`);
    await gb.sum(gb.mul(y, gb.tensor([1, 2], [2, 1]))).backward();
    const gx = await arr(x.grad!);
    if (gx.join() !== [N - 700, 700, 0, 2 * (N - 700), 0, 1400].join()) throw new Error(`dgather: ${gx}`);
  });
});

Deno.test("global pooling over a 270×270 plane is a reduction; other windows past the budget are refused", async () => {
  await gb.scope(async () => {
    const v = values(2 * 270 * 270, 12);
    v[72000] = 7; // plane 0, past the first 65,535 positions
    const x = gb.tensor(v, [1, 2, 270, 270], { requiresGrad: true });
    const mx = gb.maxPool2d(x, 270);
    const av = gb.avgPool2d(x, 270);
    const [m, a] = [await arr(mx), await arr(av)];
    if (mx.shape.join() !== "1,2,1,1" || av.shape.join() !== "1,2,1,1") throw new Error(`shape ${mx.shape}`);
    const P = 270 * 270;
    for (let c = 0; c < 2; c++) {
      let s = 0, b = -Infinity;
      for (let i = 0; i < P; i++) [s, b] = [s + v[c * P + i], Math.max(b, v[c * P + i])];
      close(m[c], b, 0, `maxPool2d plane ${c}`);
      close(a[c], s / P, 1e-5, `avgPool2d plane ${c}`);
    }
    await gb.sum(mx).backward();
    const g = await arr(x.grad!);
    if (g[72000] !== 1 || g.reduce((p, q) => p + q, 0) !== 2) throw new Error(`maxPool2d gradient`);
    if (!gb.adapterInfo().description.includes("llvmpipe")) return;
    for (const pool of [gb.maxPool2d, gb.avgPool2d]) {
      let msg = "";
      try {
        pool(x, 260);
      } catch (e) {
        msg = (e as Error).message;
      }
      if (!/Pool2d: a 260×260 window needs 67860 loop steps/.test(msg)) {
        throw new Error(`pool refusal: ${msg}`);
      }
    }
  });
});

Deno.test("ReLU activity (the tracker's dead units) over a batch of 70,000", async () => {
  await gb.scope(async () => {
    // unit 1 fires only in the last row, unit 0 never
    const v = new Float32Array(N * 2);
    v[(N - 1) * 2 + 1] = 1;
    const act = new ReluActivity();
    act.mark("relu", gb.tensor(v, [N, 2]), 0);
    const [d] = await act.close(1);
    if (d.deadFraction !== 0.5) throw new Error(`dead fraction ${d.deadFraction}, want 0.5`);
  });
});

Deno.test("conv2d's weight gradient sums over 70,225 output pixels (a matmul with K = 265²)", async () => {
  await gb.scope(async () => {
    const x = gb.ones([1, 1, 265, 265]);
    const w = gb.tensor([2], [1, 1, 1, 1], { requiresGrad: true });
    const b = gb.tensor([0], [1], { requiresGrad: true });
    await gb.sum(gb.conv2d(x, w, b)).backward();
    const [gw, gbias] = [(await arr(w.grad!))[0], (await arr(b.grad!))[0]];
    if (gw !== 265 * 265 || gbias !== 265 * 265) throw new Error(`dW ${gw}, dB ${gbias}, want 70225`);
  });
});

Deno.test("interpolate's backward over a 300×300 enlargement of one pixel: correct below, refused past the budget", async () => {
  await gb.scope(async () => {
    // 200×200 outputs read the one input pixel: 200·201 steps fit, the gradient is exact
    const x = gb.tensor([1], [1, 1, 1, 1], { requiresGrad: true });
    await gb.sum(gb.interpolate(x, { size: [200, 200], mode: "nearest" })).backward();
    const g = (await arr(x.grad!))[0];
    if (g !== 40000) throw new Error(`gradient ${g}, want 40000`);
    if (!gb.adapterInfo().description.includes("llvmpipe")) return;
    const x2 = gb.tensor([1], [1, 1, 1, 1], { requiresGrad: true });
    let msg = "";
    try {
      await gb.sum(gb.interpolate(x2, { size: [300, 300], mode: "nearest" })).backward();
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!/\(backward\): a 1×1 to 300×300 resize needs 90300 loop steps/.test(msg)) {
      throw new Error(`resize refusal: ${msg}`);
    }
  });
});
