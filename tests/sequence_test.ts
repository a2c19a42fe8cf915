/** Layer norm, embedding and scaled dot-product attention against float64 references and finite differences. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";
import { attentionGrid, headView } from "../src/viz/attention.ts";
import { SERIES, viridis } from "../src/viz/colormap.ts";

/** Attention in float64: softmax(q kᵀ / √E, masked) v for [B, L, E] × [B, S, E] × [B, S, Ev]. */
function attentionRef(
  q: ref.Arr,
  k: ref.Arr,
  v: ref.Arr,
  allow: (i: number, j: number) => boolean,
  bias: (i: number, j: number) => number = () => 0,
): ref.Arr {
  const [B, L, E] = q.shape, S = k.shape[1], Ev = v.shape[2];
  const out = new Float64Array(B * L * Ev);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const s = Array.from({ length: S }, (_, j) => {
        if (!allow(i, j)) return -Infinity;
        let d = 0;
        for (let e = 0; e < E; e++) d += q.data[(b * L + i) * E + e] * k.data[(b * S + j) * E + e];
        return d / Math.sqrt(E) + bias(i, j);
      });
      const m = Math.max(...s), w = s.map((x) => Math.exp(x - m)), z = w.reduce((a, c) => a + c, 0);
      for (let c = 0; c < Ev; c++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += (w[j] / z) * v.data[(b * S + j) * Ev + c];
        out[(b * L + i) * Ev + c] = acc;
      }
    }
  }
  return { data: out, shape: [B, L, Ev] };
}

Deno.test("scaled dot-product attention: forward and backward against float64 and finite differences, with causal and boolean masks", async () => {
  // lengths that are not multiples of anything: L 5, S 7
  await checkOp({
    name: "attention, no mask",
    shapes: [[2, 5, 6], [2, 7, 6], [2, 7, 3]],
    gpu: (q, k, v) => gb.scaledDotProductAttention(q, k, v),
    cpu: (q, k, v) => attentionRef(q, k, v, () => true),
  });
  await checkOp({
    name: "attention, causal",
    shapes: [[2, 6, 4], [2, 6, 4], [2, 6, 5]],
    gpu: (q, k, v) => gb.scaledDotProductAttention(q, k, v, { isCausal: true }),
    cpu: (q, k, v) => attentionRef(q, k, v, (i, j) => j <= i),
  });
  const keep = [1, 1, 0, 1, 0, 1, 1]; // key padding: keys 2 and 4 are masked for every query
  await checkOp({
    name: "attention, key-padding mask",
    shapes: [[1, 3, 4], [1, 7, 4], [1, 7, 2]],
    gpu: (q, k, v) =>
      gb.scaledDotProductAttention(q, k, v, { attnMask: gb.tensor(keep, [1, 1, 7], { dtype: "int32" }) }),
    cpu: (q, k, v) => attentionRef(q, k, v, (_i, j) => keep[j] === 1),
  });
  // a float mask is added to the scores, as PyTorch's (−∞ = may not attend), in the fused kernel
  // forward and backward and in the composed ops
  const add = (i: number, j: number) => (j === 2 * i + 1 ? -Infinity : Math.sin(3 * i + j));
  const addMask = gb.tensor(Array.from({ length: 4 * 6 }, (_, p) => add(Math.floor(p / 6), p % 6)), [4, 6]);
  for (const kernel of ["fused", "composed"] as const) {
    await checkOp({
      name: `attention, additive float mask (${kernel})`,
      shapes: [[2, 4, 4], [2, 6, 4], [2, 6, 4]],
      gpu: (q, k, v) => gb.scaledDotProductAttention(q, k, v, { attnMask: addMask, kernel }),
      cpu: (q, k, v) => attentionRef(q, k, v, (i, j) => add(i, j) !== -Infinity, add),
    });
  }
});

Deno.test("fused attention: one kernel forward, two backward; lengths past the workgroup size, full and padding masks, L != S causal, against float64 and finite differences", async () => {
  // 70 queries and 67 keys: neither a multiple of the 64-wide workgroup
  const full = (i: number, j: number) => (i * 7 + j * 3) % 5 !== 0;
  const fullMask = gb.tensor(
    Array.from({ length: 70 * 67 }, (_, p) => (full(Math.floor(p / 67), p % 67) ? 1 : 0)),
    [70, 67],
    { dtype: "int32" },
  );
  await checkOp({
    name: "fused attention, [L, S] mask, L 70, S 67",
    shapes: [[1, 70, 4], [1, 67, 4], [1, 67, 8]],
    gpu: (q, k, v) => gb.scaledDotProductAttention(q, k, v, { attnMask: fullMask, kernel: "fused" }),
    cpu: (q, k, v) => attentionRef(q, k, v, full),
    sample: 300,
  });
  await checkOp({
    name: "fused attention, causal with more keys than queries (top-left aligned)",
    shapes: [[2, 5, 8], [2, 9, 8], [2, 9, 4]],
    gpu: (q, k, v) => gb.scaledDotProductAttention(q, k, v, { isCausal: true, kernel: "fused" }),
    cpu: (q, k, v) => attentionRef(q, k, v, (i, j) => j <= i),
  });
  fullMask.dispose();
  await gb.scope(async () => {
    gb.manualSeed(9);
    const [B, H, L, D] = [2, 3, 11, 16];
    const q = gb.randn([B, H, L, D]), k = gb.randn([B, H, L, D]), v = gb.randn([B, H, L, D]);
    // key padding as MultiheadAttention makes it: [B, 1, 1, S], a different padding per example
    const pad = gb.tensor(
      Array.from({ length: B * L }, (_, p) => (p % L < L - 3 * (p < L ? 1 : 2) ? 1 : 0)),
      [
        B,
        1,
        1,
        L,
      ],
      { dtype: "int32" },
    );
    const before = gb.queueStats.dispatches;
    const { output, weights } = gb.attention(q, k, v, {
      attnMask: pad,
      isCausal: true,
      needWeights: true,
      kernel: "fused",
    });
    const used = gb.queueStats.dispatches - before;
    assert.ok(
      used <= 5,
      `fused forward with weights: 2 fills and a where for the mask, forward, weights; got ${used}`,
    );
    const composedW = gb.attentionWeights(q, k, { attnMask: pad, isCausal: true });
    const composedO = gb.matmul(composedW, v);
    const [w, cw, o, co] = (await Promise.all([weights!, composedW, output, composedO].map((t) =>
      t.toArray()
    ))) as Float32Array[];
    ref.assertClose(w, cw, { atol: 2e-6, msg: "fused weights = composed weights" });
    ref.assertClose(o, co, { atol: 2e-5, msg: "fused output = composed output" });
    for (let r = 0; r < B * H * L; r++) {
      const b = Math.floor(r / (H * L)), i = r % L, valid = L - 3 * (b + 1);
      const row = w.subarray(r * L, (r + 1) * L);
      for (let j = 0; j < L; j++) {
        if (j > i || j >= valid) assert.equal(row[j], 0, `masked weight (${r}, ${j}) is exactly 0`);
      }
      ref.assertClose([row.reduce((a: number, c: number) => a + c, 0)], [1], {
        atol: 1e-6,
        msg: `row ${r} sums to 1`,
      });
    }
  });
  // scores of 1e4 (and 1e4 − 1) do not overflow; a query with every key masked is NaN (as PyTorch)
  const big = await gb.scaledDotProductAttention(
    gb.tensor([[[100, 0]]]),
    gb.tensor([[[100, 0], [99.99, 0]]]),
    gb.tensor([[[1], [0]]]),
    { scale: 1 },
  ).toArray();
  ref.assertClose(big, [1 / (1 + Math.exp(-1))], { rtol: 1e-3, msg: "1e4 scores" });
  const none = await gb.scaledDotProductAttention(
    gb.ones([1, 2, 4]),
    gb.ones([1, 3, 4]),
    gb.ones([1, 3, 4]),
    {
      attnMask: gb.tensor([[1, 1, 0], [0, 0, 0]], undefined, { dtype: "int32" }),
    },
  ).toArray();
  assert.deepEqual(Array.from(none.subarray(0, 4)), [1, 1, 1, 1]);
  assert.ok(Array.from(none.subarray(4)).every(Number.isNaN), "a fully masked query row is NaN");
});

Deno.test("attention weights: rows sum to 1, masked keys get exactly 0, scores of 1e4 do not overflow", async () => {
  gb.manualSeed(4);
  const w = await gb.attentionWeights(gb.randn([2, 5, 8]), gb.randn([2, 5, 8]), { isCausal: true }).toArray();
  for (let r = 0; r < 10; r++) {
    const i = r % 5, row = Array.from(w.subarray(r * 5, r * 5 + 5));
    ref.assertClose([row.reduce((a, b) => a + b, 0)], [1], { atol: 1e-6, msg: `row ${r}` });
    for (let j = i + 1; j < 5; j++) assert.equal(row[j], 0, `masked weight (${i}, ${j})`);
  }
  const big = await gb.attentionWeights(gb.tensor([[[100, 0]]]), gb.tensor([[[100, 0], [99.99, 0]]]), {
    scale: 1,
  }).toArray();
  // scores 1e4 and 9999: softmax(1, e^-1) normalised
  ref.assertClose(big, [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))], {
    rtol: 1e-3,
    msg: "1e4 scores",
  });
});

Deno.test("layerNorm and LayerNorm: float64 reference, gradients for input, weight and bias", async () => {
  const ln = (a: ref.Arr, w: ref.Arr, b: ref.Arr) => {
    const [R, C] = [a.shape[0] * a.shape[1], a.shape[2]];
    const out = new Float64Array(a.data.length);
    for (let r = 0; r < R; r++) {
      const row = a.data.subarray(r * C, r * C + C);
      const m = row.reduce((s, x) => s + x, 0) / C, v = row.reduce((s, x) => s + (x - m) ** 2, 0) / C;
      for (let c = 0; c < C; c++) {
        out[r * C + c] = ((row[c] - m) / Math.sqrt(v + 1e-5)) * w.data[c] + b.data[c];
      }
    }
    return { data: out, shape: a.shape };
  };
  await checkOp({
    name: "layerNorm",
    shapes: [[2, 3, 7], [7], [7]],
    gpu: (x, w, b) => gb.layerNorm(x, [7], w, b),
    cpu: ln,
    range: [-2, 2],
  });
  // 70 rows (past the workgroup size) of 33, no affine parameters
  const plain = (a: ref.Arr) =>
    ln(a, { data: new Float64Array(33).fill(1), shape: [33] }, {
      data: new Float64Array(33),
      shape: [33],
    });
  await checkOp({
    name: "layerNorm without affine, 70 rows",
    shapes: [[7, 10, 33]],
    gpu: (x) => gb.layerNorm(x, [33]),
    cpu: plain,
    sample: 300,
  });
  // a row at 1e4 ± 0.05: the fused kernel takes the mean first, so the variance does not cancel
  const r = ref.rng(3);
  const big = Array.from({ length: 64 }, () => Math.fround(1e4 + 0.05 * (2 * r() - 1)));
  const got = await gb.layerNorm(gb.tensor(big, [1, 1, 64]), [64]).toArray();
  const want = ln({ data: Float64Array.from(big), shape: [1, 1, 64] }, {
    data: new Float64Array(64).fill(1),
    shape: [64],
  }, {
    data: new Float64Array(64),
    shape: [64],
  });
  ref.assertClose(got, want.data, { atol: 1e-3, msg: "layerNorm at mean 1e4" });
  const m = new gb.LayerNorm([4]);
  assert.deepEqual(m.namedParameters().map(([n, p]) => [n, p.shape]), [["weight", [4]], ["bias", [4]]]);
  assert.throws(
    () => gb.layerNorm(gb.zeros([2, 3]), [4]),
    /normalizedShape \[4\] is not the end of the input's shape \[2, 3\]/,
  );
});

Deno.test("embedding: rows by index; repeated indices accumulate their gradients; out-of-range is an error", async () => {
  const idx = [3, 1, 3, 0, 3];
  await checkOp({
    name: "embedding with repeated indices",
    shapes: [[5, 4]],
    gpu: (w) => gb.embedding(gb.tensor(idx, [5], { dtype: "int32" }), w),
    cpu: (w) => ({
      data: Float64Array.from(idx.flatMap((i) => Array.from(w.data.subarray(i * 4, i * 4 + 4)))),
      shape: [5, 4],
    }),
  });
  const emb = new gb.Embedding(6, 3);
  assert.deepEqual(emb.forward(gb.tensor([[1, 2], [5, 0]], undefined, { dtype: "int32" })).shape, [2, 2, 3]);
  const bad = emb.forward(gb.tensor([6], undefined, { dtype: "int32" }));
  await assert.rejects(() => bad.toArray(), /embedding: token index 6 is out of range \[0, 6\)/);
  // 600 lookups into 7 rows: the scatter-add's atomic loop under heavy contention equals the CPU sums
  const r = ref.rng(5);
  const many = Array.from({ length: 600 }, () => Math.floor(r() * 7));
  const gOut = Array.from({ length: 600 * 5 }, () => Math.fround(2 * r() - 1));
  const table = gb.randn([7, 5], { requiresGrad: true });
  const [dTable] = await gb.grad(
    gb.sum(
      gb.mul(gb.embedding(gb.tensor(many, [600], { dtype: "int32" }), table), gb.tensor(gOut, [600, 5])),
    ),
    [table],
  );
  const want = new Float64Array(35);
  many.forEach((row, n) => {
    for (let e = 0; e < 5; e++) want[row * 5 + e] += gOut[n * 5 + e];
  });
  ref.assertClose(await dTable.toArray(), want, { atol: 1e-4, msg: "scatter-add of 600 rows into 7" });
  // PyTorch's layout loads by name
  emb.loadStateDict({ weight: gb.ones([6, 3]) });
  assert.throws(
    () => emb.loadStateDict({ weight: gb.ones([6, 4]) }),
    /"weight" is tensor\[6, 4\] float32 but the model has weight\[6, 3\] float32/,
  );
});

Deno.test("MultiheadAttention with PyTorch's layout against a float64 reference; key padding; per-head and averaged weights", async () => {
  const E = 6, H = 2, D = 3, B = 2, L = 4, S = 5;
  const r = ref.rng(11);
  const rnd = (n: number) => Float32Array.from({ length: n }, () => Math.fround(2 * r() - 1));
  const inW = rnd(3 * E * E), inB = rnd(3 * E), outW = rnd(E * E), outB = rnd(E);
  const q = rnd(B * L * E), kv = rnd(B * S * E);
  const mha = new gb.MultiheadAttention(E, H);
  // a state dict in PyTorch's names and shapes loads strictly
  mha.loadStateDict({
    in_proj_weight: gb.tensor(inW, [3 * E, E]),
    in_proj_bias: gb.tensor(inB),
    "out_proj.weight": gb.tensor(outW, [E, E]),
    "out_proj.bias": gb.tensor(outB),
  });
  assert.throws(
    () => mha.loadStateDict({ ...Object.fromEntries(mha.stateDict()), in_proj_weight: gb.zeros([E, E]) }),
    /"in_proj_weight" is tensor\[6, 6\] float32 but the model has in_proj_weight\[18, 6\] float32/,
  );
  const pad = [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]; // example 0 ignores keys 3 and 4
  // float64 reference
  const lin = (x: ArrayLike<number>, row: number, part: number) =>
    Array.from({ length: E }, (_, o) => {
      let s = inB[part * E + o];
      for (let i = 0; i < E; i++) s += inW[(part * E + o) * E + i] * x[row * E + i];
      return s;
    });
  const want: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < B; b++) {
    const Q = Array.from({ length: L }, (_, i) => lin(q, b * L + i, 0));
    const K = Array.from({ length: S }, (_, j) => lin(kv, b * S + j, 1));
    const V = Array.from({ length: S }, (_, j) => lin(kv, b * S + j, 2));
    const headsOut: number[][] = Array.from({ length: L }, () => new Array(E).fill(0));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: S }, (_, j) => {
          if (pad[b][j]) return -Infinity;
          let d = 0;
          for (let e = 0; e < D; e++) d += Q[i][h * D + e] * K[j][h * D + e];
          return d / Math.sqrt(D);
        });
        const m = Math.max(...s), w = s.map((x) => Math.exp(x - m)), z = w.reduce((a, c) => a + c, 0);
        w.forEach((x) => weights.push(x / z));
        for (let e = 0; e < D; e++) {
          headsOut[i][h * D + e] = w.reduce((a, x, j) => a + (x / z) * V[j][h * D + e], 0);
        }
      }
    }
    for (let i = 0; i < L; i++) {
      for (let o = 0; o < E; o++) {
        want.push(headsOut[i].reduce((a, x, c) => a + outW[o * E + c] * x, outB[o]));
      }
    }
  }
  const x = gb.tensor(q, [B, L, E]), y = gb.tensor(kv, [B, S, E]);
  const { output, weights: w } = mha.forwardWithWeights(x, y, y, {
    keyPaddingMask: gb.tensor(pad.flat(), [B, S], { dtype: "int32" }),
  });
  ref.assertClose(await output.toArray(), want, { atol: 1e-5, msg: "output" });
  assert.deepEqual(w.shape, [B, H, L, S]);
  ref.assertClose(await w.toArray(), weights, { atol: 1e-6, msg: "per-head weights" });
  const avg = mha.forwardWithWeights(x, y, y, {
    keyPaddingMask: gb.tensor(pad.flat(), [B, S], { dtype: "int32" }),
    averageWeights: true,
  });
  assert.deepEqual(avg.weights.shape, [B, L, S]);
  const ws = Array.from({ length: B * L * S }, (_, k) => {
    const b = Math.floor(k / (L * S)), rest = k % (L * S);
    return (weights[(b * H + 0) * L * S + rest] + weights[(b * H + 1) * L * S + rest]) / 2;
  });
  ref.assertClose(await avg.weights.toArray(), ws, { atol: 1e-6, msg: "averaged weights" });
});

Deno.test("TransformerEncoderLayer: PyTorch's parameter names; with the branches zeroed it is LayerNorm(LayerNorm(x)) (post-norm) or x (pre-norm)", async () => {
  const layer = new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
  assert.deepEqual(
    layer.namedParameters().map(([n, p]) => `${n} [${p.shape}]`),
    [
      "self_attn.in_proj_weight [24,8]",
      "self_attn.in_proj_bias [24]",
      "self_attn.out_proj.weight [8,8]",
      "self_attn.out_proj.bias [8]",
      "linear1.weight [16,8]",
      "linear1.bias [16]",
      "linear2.weight [8,16]",
      "linear2.bias [8]",
      "norm1.weight [8]",
      "norm1.bias [8]",
      "norm2.weight [8]",
      "norm2.bias [8]",
    ],
  );
  gb.manualSeed(2);
  const xs = await gb.randn([2, 3, 8]).toArray();
  const x = gb.tensor(xs, [2, 3, 8]);
  for (const normFirst of [false, true]) {
    const l = new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, normFirst }).eval();
    // the attention and feed-forward branches output exactly zero
    l.loadStateDict({
      "self_attn.out_proj.weight": gb.zeros([8, 8]),
      "self_attn.out_proj.bias": gb.zeros([8]),
      "linear2.weight": gb.zeros([8, 16]),
      "linear2.bias": gb.zeros([8]),
    }, false);
    const norm = (row: number[]) => {
      const m = row.reduce((a, b) => a + b, 0) / row.length,
        v = row.reduce((a, b) => a + (b - m) ** 2, 0) / row.length;
      return row.map((c) => (c - m) / Math.sqrt(v + 1e-5));
    };
    const want = Array.from({ length: 6 }, (_, r) => Array.from(xs.subarray(r * 8, r * 8 + 8))).flatMap((
      row,
    ) => (normFirst ? row : norm(norm(row))));
    ref.assertClose(await l.forward(x).toArray(), want, { atol: 1e-5, msg: `normFirst ${normFirst}` });
  }
});

Deno.test("sinusoidal positional encoding equals its closed form; a learned one adds its rows", async () => {
  const pe = new gb.SinusoidalPositionalEncoding(6, 20);
  const y = await pe.forward(gb.zeros([1, 4, 6])).toArray();
  const want = Array.from({ length: 24 }, (_, k) => {
    const pos = Math.floor(k / 6), i = k % 6, angle = pos / 10000 ** ((i - (i % 2)) / 6);
    return i % 2 ? Math.cos(angle) : Math.sin(angle);
  });
  ref.assertClose(y, want, { atol: 1e-6, msg: "PE" });
  assert.throws(() => pe.forward(gb.zeros([1, 21, 6])), /21 positions, the table has 20/);
  const learned = new gb.LearnedPositionalEncoding(6, 20);
  const w = await learned.weight.toArray();
  ref.assertClose(await learned.forward(gb.zeros([2, 3, 6])).toArray(), [
    ...w.subarray(0, 18),
    ...w.subarray(0, 18),
  ], { atol: 0 });
});

/** LSTM and GRU in float64, PyTorch's equations, batch-first, zero initial state. */
function recurrentRef(
  kind: "lstm" | "gru" | "rnn",
  x: ref.Arr,
  wIh: ref.Arr,
  wHh: ref.Arr,
  bIh: ref.Arr,
  bHh: ref.Arr,
): ref.Arr {
  const [B, T, I] = x.shape, G = kind === "lstm" ? 4 : 3, H = wHh.shape[1];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    let h = new Array(H).fill(0), c = new Array(H).fill(0);
    for (let t = 0; t < T; t++) {
      const a = Array.from({ length: G * H }, (_, r) => {
        let s = bIh.data[r];
        for (let i = 0; i < I; i++) s += wIh.data[r * I + i] * x.data[(b * T + t) * I + i];
        return s;
      });
      const hh = Array.from({ length: G * H }, (_, r) => {
        let s = bHh.data[r];
        for (let j = 0; j < H; j++) s += wHh.data[r * H + j] * h[j];
        return s;
      });
      if (kind === "rnn") h = a.map((v, r) => Math.tanh(v + hh[r]));
      else if (kind === "lstm") {
        const z = a.map((v, r) => v + hh[r]);
        c = c.map((cj, j) => sig(z[H + j]) * cj + sig(z[j]) * Math.tanh(z[2 * H + j]));
        h = c.map((cj, j) => sig(z[3 * H + j]) * Math.tanh(cj));
      } else {
        h = h.map((hj, j) => {
          const r = sig(a[j] + hh[j]), zz = sig(a[H + j] + hh[H + j]);
          const n = Math.tanh(a[2 * H + j] + r * hh[2 * H + j]);
          return (1 - zz) * n + zz * hj;
        });
      }
      for (let j = 0; j < H; j++) out[(b * T + t) * H + j] = h[j];
    }
  }
  return { data: out, shape: [B, T, H] };
}

Deno.test("LSTM, GRU and RNN through 20 time steps (fused cells): float64 reference and finite differences for input and every weight", async () => {
  const H = 3, I = 2, T = 20;
  for (const kind of ["lstm", "gru", "rnn"] as const) {
    const G = { lstm: 4, gru: 3, rnn: 1 }[kind];
    await checkOp({
      name: `${kind}, 20 steps`,
      shapes: [[2, T, I], [G * H, I], [G * H, H], [G * H], [G * H]],
      gpu: (x, wIh, wHh, bIh, bHh) => gb[kind](x, { wIh, wHh, bIh, bHh }).output,
      cpu: (x, wIh, wHh, bIh, bHh) => recurrentRef(kind, x, wIh, wHh, bIh, bHh),
    });
  }
  // PyTorch's names and shapes, two layers
  const m = new gb.LSTM(5, 4, { numLayers: 2 });
  assert.deepEqual(m.namedParameters().map(([n, p]) => `${n} [${p.shape}]`), [
    "weight_ih_l0 [16,5]",
    "weight_hh_l0 [16,4]",
    "bias_ih_l0 [16]",
    "bias_hh_l0 [16]",
    "weight_ih_l1 [16,4]",
    "weight_hh_l1 [16,4]",
    "bias_ih_l1 [16]",
    "bias_hh_l1 [16]",
  ]);
  const r = m.forwardWithState(gb.randn([3, 6, 5]));
  assert.deepEqual([r.output.shape, r.h.shape, r.c.shape], [[3, 6, 4], [2, 3, 4], [2, 3, 4]]);
  ref.assertClose(
    await r.h.slice(1, 2).reshape([3, 4]).toArray(),
    await r.output.slice(5, 6, 1).reshape([3, 4]).toArray(),
    {
      atol: 0,
      msg: "the last layer's final h is the last output",
    },
  );
  assert.deepEqual(new gb.GRU(5, 4).namedParameters().map(([n]) => n), [
    "weight_ih_l0",
    "weight_hh_l0",
    "bias_ih_l0",
    "bias_hh_l0",
  ]);
});

Deno.test("captureAttention returns every attention call's per-head weights, equal to forwardWithWeights, and leaves the model as it was", async () => {
  gb.manualSeed(5);
  class TwoLayers extends gb.Module {
    l0 = this.addModule("l0", new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }));
    l1 = this.addModule("l1", new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }));
    forward(x: gb.Tensor): gb.Tensor {
      return this.l1.forward(this.l0.forward(x));
    }
  }
  const model = new TwoLayers();
  const x = gb.randn([2, 5, 8]);
  await gb.sync();
  const before = gb.poolStats().liveBuffers;
  const caps = await gb.captureAttention(model, x);
  assert.deepEqual(caps.map((c) => [c.layer, c.call, c.weights.shape]), [
    ["l0.self_attn", 0, [2, 2, 5, 5]],
    ["l1.self_attn", 0, [2, 2, 5, 5]],
  ]);
  assert.equal(
    gb.poolStats().liveBuffers,
    before + caps.length,
    "only the captured weights outlive the call",
  );
  const w0 = await caps[0].weights.toArray(), w1 = Array.from(await caps[1].weights.toArray());
  caps.forEach((c) => c.weights.dispose());
  assert.equal(gb.poolStats().liveBuffers, before);
  for (let r = 0; r < 20; r++) {
    ref.assertClose([w1.slice(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0)], [1], { atol: 1e-5 });
  }
  for (const [, m] of model.namedModules()) {
    assert.deepEqual(m.hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
  }
  model.eval();
  ref.assertClose(w0, await model.l0.selfAttn.forwardWithWeights(x).weights.toArray(), {
    atol: 1e-6,
    msg: "layer 0 weights",
  });
  model.train();
  assert.equal(model.training, true);
});

Deno.test("attention rollout: identity stays identity, rows sum to 1, two layers by hand; the heatmap labels both axes", () => {
  const I = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  assert.deepEqual(gb.attentionRollout([[I], [I, I]]), I);
  const A = [[0.5, 0.5, 0], [0.2, 0.2, 0.6], [0, 1, 0]], B = [[1, 0, 0], [1, 0, 0], [0, 0, 1]];
  // per layer: 0.5·(mean of heads) + 0.5·I (rows already sum to 1), then R = A2·A1
  const mix = (M: number[][]) => M.map((row, i) => row.map((v, j) => 0.5 * v + (i === j ? 0.5 : 0)));
  const a1 = mix(A), a2 = mix([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25], [0, 0, 1]]); // the mean of the two heads
  const want = a2.map((row) => [0, 1, 2].map((j) => row.reduce((s, v, k) => s + v * a1[k][j], 0)));
  const got = gb.attentionRollout([[A], [[[0, 0.5, 0.5], [0, 0.5, 0.5], [0, 0, 1]], B]]);
  ref.assertClose(got.flat(), want.flat(), { atol: 1e-12, msg: "two layers" });
  for (const row of got) ref.assertClose([row.reduce((s, v) => s + v, 0)], [1], { atol: 1e-12 });
  const svg = gb.attentionHeatmap(A, ["the", "cat", "sat"], ["the", "cat", "sat"], "layer 0, head 0");
  assert.match(svg, />cat</);
  assert.match(svg, /query/);
  assert.match(svg, /key \(attended to\)/);
});

Deno.test("token attribution: Layer Integrated Gradients at an embedding explains each token, exactly on a model linear in the embeddings", async () => {
  // tokens → embedding → mean over the sequence → linear: F = w·mean_t emb[x_t] + b
  gb.manualSeed(6);
  const V = 7, E = 4, L = 5;
  const emb = new gb.Embedding(V, E);
  const lin = new gb.Linear(E, 2);
  class Bag extends gb.Module {
    emb = this.addModule("emb", emb);
    fc = this.addModule("fc", lin);
    forward(x: gb.Tensor): gb.Tensor {
      return this.fc.forward(gb.mean(this.emb.forward(x), 1));
    }
  }
  const model = new Bag();
  const tokens = [[1, 3, 3, 6, 2], [4, 0, 5, 5, 1]];
  const x = gb.tensor(tokens.flat(), [2, L], { dtype: "int32" });
  const { attributions, delta } = await new gb.LayerIntegratedGradients(model, emb).attributeWithDelta(x, {
    target: 1,
    baselines: 0, // the "pad" token 0 everywhere
    nSteps: 8,
  });
  assert.deepEqual(attributions.shape, [2, L, E]);
  ref.assertClose(await delta.toArray(), [0, 0], { atol: 1e-5, msg: "completeness" });
  const W = await emb.weight.toArray(), w = await lin.weight.toArray();
  // per token: Σ_e w_1e / L · (emb[x_t] − emb[0])_e
  const want = tokens.flatMap((row) =>
    row.map((t) => [0, 1, 2, 3].reduce((s, e) => s + (w[E + e] / L) * (W[t * E + e] - W[e]), 0))
  );
  ref.assertClose(await gb.sum(attributions, -1).toArray(), want, {
    atol: 1e-5,
    msg: "per-token attribution",
  });
  await assert.rejects(
    () => new gb.IntegratedGradients(model).attribute(x, { target: 1 }),
    /IntegratedGradients needs a float32 tensor/,
  );
});

Deno.test("attention × gradient: on a bias-free attention layer Σ A ⊙ ∂y/∂A is y itself (y is linear in A); relevance is its positive head mean", async () => {
  gb.manualSeed(21);
  const mha = new gb.MultiheadAttention(8, 2, { bias: false });
  const x = gb.randn([2, 5, 8]), w = gb.randn([2, 5, 8]);
  const y = await gb.sum(gb.mul(gb.noGrad(() => mha.forward(x)), w)).item();
  const [g] = await gb.attentionGradients(mha, [x], (out) => gb.sum(gb.mul(out, w)));
  assert.deepEqual(g.shape, [2, 2, 5, 5]);
  let s = 0;
  for (let p = 0; p < g.weights.length; p++) s += g.weights[p] * g.grad[p];
  ref.assertClose([s], [y], { rtol: 1e-4, atol: 1e-5, msg: "Σ A ⊙ ∂y/∂A = y" });
  const [b, i, j] = [1, 3, 2];
  const want = [0, 1].reduce((acc, h) => {
    const p = ((b * 2 + h) * 5 + i) * 5 + j;
    return acc + Math.max(0, g.weights[p] * g.grad[p]);
  }, 0) / 2;
  ref.assertClose([g.relevance[b][i][j]], [want], { atol: 1e-9, msg: "relevance" });
  assert.deepEqual(mha.hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
});

Deno.test("gradient through time equals central differences of the loss at each time step's input", async () => {
  gb.manualSeed(22);
  const rnn = new gb.RNN(3, 4);
  const xs = Array.from({ length: 2 * 6 * 3 }, (_, i) => Math.sin(i * 1.3));
  const loss = (out: gb.Tensor) => gb.sum(gb.mul(gb.slice(out, 5, 6, 1), gb.slice(out, 5, 6, 1)));
  const norms = await gb.gradientThroughTime(rnn, rnn, [gb.tensor(xs, [2, 6, 3])], loss);
  const f = async (v: number[]) => await gb.noGrad(() => loss(rnn.forward(gb.tensor(v, [2, 6, 3])))).item();
  const eps = 1e-2;
  for (let t = 0; t < 6; t++) {
    let mean = 0;
    for (let b = 0; b < 2; b++) {
      let n2 = 0;
      for (let i = 0; i < 3; i++) {
        const k = (b * 6 + t) * 3 + i, up = [...xs], dn = [...xs];
        up[k] += eps;
        dn[k] -= eps;
        n2 += ((await f(up)) - (await f(dn))) ** 2 / (2 * eps) ** 2;
      }
      mean += Math.sqrt(n2) / 2;
    }
    ref.assertClose([norms[t]], [mean], { rtol: 2e-2, atol: 1e-5, msg: `time step ${t}` });
  }
  // the loss is at the last step: the gradient reaching earlier steps shrinks
  assert.ok(norms[0] < norms[5]);
});

/** Every `<tag …>` element of an SVG as its attributes, with the text of its `<title>` child. */
function svgElements(svg: string, tag: string): Record<string, string>[] {
  const re = new RegExp(`<${tag} ([^>]*?)/?>(?:<title>([^<]*)</title></${tag}>)?`, "g");
  return [...svg.matchAll(re)].map((m) => ({
    ...Object.fromEntries([...m[1].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
    title: m[2] ?? "",
  }));
}

Deno.test("headView draws one line per weight at or above minWeight, from query i to key j, its width and opacity the weight at [i][j]; one colour per head", () => {
  // not symmetric, so a transposed reading draws other numbers
  const heads = [
    [[0.7, 0.2, 0.1], [0.01, 0.49, 0.5], [0.3, 0.0, 0.7]],
    [[0.05, 0.9, 0.05], [1, 0, 0], [0.25, 0.25, 0.5]],
  ];
  const tokens = ["the", "cat", "sat"];
  const svg = headView(heads, tokens, tokens, "layer 0", { minWeight: 0.04 });
  const lines = svgElements(svg, "line");
  const want = heads.flatMap((w, h) =>
    w.flatMap((row, i) => row.flatMap((v, j) => (v >= 0.04 ? [{ h, i, j, v }] : [])))
  );
  assert.equal(lines.length, want.length, "one line per weight >= minWeight (0.01 and 0 are left out)");
  // query rows on the left (x1), keys on the right (x2), 22 px apart; heads left to right
  const ys = [...new Set(lines.map((l) => Number(l.y1)))].sort((a, b) => a - b);
  const x1s = [...new Set(lines.map((l) => Number(l.x1)))].sort((a, b) => a - b);
  assert.deepEqual(ys.map((y) => y - ys[0]), [0, 22, 44]);
  assert.equal(x1s.length, 2);
  for (const w of want) {
    const l = lines.find((l) =>
      Number(l.x1) === x1s[w.h] && Number(l.y1) === ys[w.i] && Number(l.y2) === ys[w.j]
    );
    assert.ok(l, `a line for head ${w.h}, query ${w.i} → key ${w.j}`);
    assert.ok(Number(l.x2) > Number(l.x1), "keys on the right");
    ref.assertClose([Number(l["stroke-width"])], [0.5 + 4 * w.v], {
      atol: 0.005,
      msg: `width of ${w.h}/${w.i}/${w.j}`,
    });
    ref.assertClose([Number(l["stroke-opacity"])], [Math.min(1, 0.15 + 0.85 * w.v)], {
      atol: 0.005,
      msg: `opacity of ${w.h}/${w.i}/${w.j}`,
    });
    assert.equal(l.stroke, SERIES[w.h], "the head's colour");
    assert.ok(
      l.title.endsWith(`${tokens[w.i]} → ${tokens[w.j]} ${w.v.toFixed(3)}`),
      `title "${l.title}" names query, key and weight`,
    );
  }
  // a stronger weight draws a thicker line
  const width = (h: number, i: number, j: number) =>
    Number(
      lines.find((l) =>
        Number(l.x1) === x1s[h] && Number(l.y1) === ys[i] && Number(l.y2) === ys[j]
      )!["stroke-width"],
    );
  assert.ok(width(1, 1, 0) > width(0, 0, 0) && width(0, 0, 0) > width(0, 2, 0));
  assert.match(svg, /below 0\.04 not drawn/);
});

Deno.test("attentionGrid: one cell per layer × head × query × key, coloured by its weight on one shared 0..1 viridis scale, titled with query, key and weight", () => {
  const a = [[0.9, 0.1], [0.3, 0.7]], b = [[0.2, 0.8], [0.6, 0.4]], c = [[0.5, 0.5], [0.05, 0.95]];
  const panels = [[{ title: "L0 H0", weights: a }, { title: "L0 H1", weights: b }], [{
    title: "L1 H0",
    weights: c,
  }]];
  const svg = attentionGrid(panels, ["x", "y"], ["p", "q"], "attention");
  const cells = svgElements(svg, "rect").filter((r) => r.title);
  assert.equal(cells.length, 3 * 4, "one titled cell per weight");
  // the weight a colour stands for: the closest viridis colour over 0..1
  const decode = (fill: string) => {
    const [r, g, bl] = fill.match(/\d+/g)!.map(Number);
    let best = 0, bestD = Infinity;
    for (let k = 0; k <= 1000; k++) {
      const [vr, vg, vb] = viridis(k / 1000), d = (vr - r) ** 2 + (vg - g) ** 2 + (vb - bl) ** 2;
      if (d < bestD) [best, bestD] = [k / 1000, d];
    }
    return best;
  };
  const xs = [...new Set(cells.map((r) => Number(r.x)))].sort((p, q) => p - q);
  const ys = [...new Set(cells.map((r) => Number(r.y)))].sort((p, q) => p - q);
  assert.equal(xs.length, 4, "two panels of two key columns");
  assert.equal(ys.length, 4, "two layers of two query rows");
  for (const r of cells) {
    const col = xs.indexOf(Number(r.x)), row = ys.indexOf(Number(r.y));
    const w = panels[Math.floor(row / 2)][Math.floor(col / 2)].weights[row % 2][col % 2];
    ref.assertClose([decode(r.fill)], [w], { atol: 0.02, msg: `colour of cell (${row}, ${col})` });
    assert.equal(r.title, `${["x", "y"][row % 2]} → ${["p", "q"][col % 2]}: ${w.toFixed(3)}`);
  }
  for (const t of ["L0 H0", "L0 H1", "L1 H0"]) assert.match(svg, new RegExp(`>${t}<`));
});
