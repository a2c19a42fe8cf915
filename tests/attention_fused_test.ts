/**
 * The fused attention kernels of both kernel families (attention_rows.wgsl: several rows per
 * invocation in registers, the default on software adapters; attention.wgsl: workgroup-memory
 * tiles, the GPU family, forced here) against a float64 reference of the output and of the
 * gradients of Σ(O ⊙ W) for q, k and v, and against the composed ops: odd lengths (not multiples
 * of the 8 rows per invocation, the 4 keys per step or the 64-row workgroup), one key, head sizes
 * 8, 16, 32 and 64, causal, key padding, full boolean and float masks, scores that would overflow
 * exp without the running maximum, fully masked rows, the averaged weights, and the fusion switch.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";

type Allow = (b: number, i: number, j: number) => boolean;
type Bias = (b: number, i: number, j: number) => number;

/**
 * Float64 attention over [N, L, D] × [N, S, D] × [N, S, DV] and its gradients for the loss
 * Σ O ⊙ W: dV = Pᵀ W, dP = W Vᵀ, dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = c·dS K, dK = c·dSᵀ Q.
 */
function reference(
  q: ref.Arr,
  k: ref.Arr,
  v: ref.Arr,
  w: ref.Arr,
  allow: Allow,
  bias: Bias,
): { o: Float64Array; dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const [N, L, D] = q.shape, S = k.shape[1], DV = v.shape[2], c = 1 / Math.sqrt(D);
  const o = new Float64Array(N * L * DV), dq = new Float64Array(N * L * D);
  const dk = new Float64Array(N * S * D), dv = new Float64Array(N * S * DV);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < L; i++) {
      const s = Array.from({ length: S }, (_, j) => {
        if (!allow(n, i, j)) return -Infinity;
        let d = 0;
        for (let e = 0; e < D; e++) d += q.data[(n * L + i) * D + e] * k.data[(n * S + j) * D + e];
        return d * c + bias(n, i, j);
      });
      const m = Math.max(...s), ex = s.map((x) => Math.exp(x - m)), z = ex.reduce((a, x) => a + x, 0);
      const p = ex.map((x) => x / z);
      const dp = Array.from({ length: S }, (_, j) => {
        let d = 0;
        for (let e = 0; e < DV; e++) d += w.data[(n * L + i) * DV + e] * v.data[(n * S + j) * DV + e];
        return d;
      });
      const delta = p.reduce((a, x, j) => a + x * dp[j], 0);
      for (let j = 0; j < S; j++) {
        const ds = p[j] * (dp[j] - delta);
        for (let e = 0; e < DV; e++) {
          o[(n * L + i) * DV + e] += p[j] * v.data[(n * S + j) * DV + e];
          dv[(n * S + j) * DV + e] += p[j] * w.data[(n * L + i) * DV + e];
        }
        for (let e = 0; e < D; e++) {
          dq[(n * L + i) * D + e] += c * ds * k.data[(n * S + j) * D + e];
          dk[(n * S + j) * D + e] += c * ds * q.data[(n * L + i) * D + e];
        }
      }
    }
  }
  return { o, dq, dk, dv };
}

interface Case {
  name: string;
  lead: number[];
  L: number;
  S: number;
  D: number;
  DV: number;
  causal?: boolean;
  /** the mask tensor (any shape broadcastable to [...lead, L, S]) and what it means per flattened n */
  mask?: { t: () => gb.Tensor; allow?: Allow; bias?: Bias };
  /** factor on q: large scores overflow exp unless the running maximum is subtracted */
  qScale?: number;
}

const B = 2, H = 3; // lead dims [2, 3]: n = b·3 + h
const padKeep = (b: number, j: number, S: number) => j < S - 2 - 3 * b; // per example, the last keys are padding
const fullAllow = (i: number, j: number) => (i * 5 + j * 3) % 4 !== 1 || j === 0;
const floatBias = (i: number, j: number) => (j % 5 === 3 ? -Infinity : Math.sin(i + 2 * j));

const CASES: Case[] = [
  { name: "no mask, L = S = 13 (odd), head 16", lead: [B, H], L: 13, S: 13, D: 16, DV: 16 },
  { name: "causal, L = S = 13, head 16", lead: [B, H], L: 13, S: 13, D: 16, DV: 16, causal: true },
  {
    name: "scores in the hundreds (exp overflows without the max)",
    lead: [B, H],
    L: 9,
    S: 11,
    D: 16,
    DV: 16,
    qScale: 400,
  },
  {
    name: "key padding [B, 1, 1, S], L 9, S 21, head 8",
    lead: [B, H],
    L: 9,
    S: 21,
    D: 8,
    DV: 8,
    mask: {
      t: () =>
        gb.tensor(
          Array.from({ length: B * 21 }, (_, p) => (padKeep(Math.floor(p / 21), p % 21, 21) ? 1 : 0)),
          [
            B,
            1,
            1,
            21,
          ],
          { dtype: "int32" },
        ),
      allow: (n, _i, j) => padKeep(Math.floor(n / H), j, 21),
    },
  },
  {
    name: "full boolean [L, S] mask and causal, L 21, S 9, head 32, value head 16",
    lead: [B, H],
    L: 21,
    S: 9,
    D: 32,
    DV: 16,
    causal: true,
    mask: {
      t: () =>
        gb.tensor(Array.from({ length: 21 * 9 }, (_, p) => (fullAllow(Math.floor(p / 9), p % 9) ? 1 : 0)), [
          21,
          9,
        ], {
          dtype: "int32",
        }),
      allow: (_n, i, j) => fullAllow(i, j) && j <= i,
    },
  },
  {
    name: "float additive mask with −∞, L 7, S 70 (two key tiles and a tail), head 64",
    lead: [B, H],
    L: 7,
    S: 70,
    D: 64,
    DV: 64,
    mask: {
      t: () =>
        gb.tensor(Array.from({ length: 7 * 70 }, (_, p) => floatBias(Math.floor(p / 70), p % 70)), [7, 70]),
      allow: (_n, i, j) => floatBias(i, j) !== -Infinity,
      bias: (_n, i, j) => floatBias(i, j),
    },
  },
  { name: "L 70 (two query blocks), S 5, head 16", lead: [B, H], L: 70, S: 5, D: 16, DV: 16, causal: true },
  {
    name: "L = S = 1, head 8, a key padding mask that keeps the key",
    lead: [B, H],
    L: 1,
    S: 1,
    D: 8,
    DV: 8,
    mask: { t: () => gb.tensor([1, 1], [B, 1, 1, 1], { dtype: "int32" }) },
  },
];

async function runCase(c: Case, kernel: "fused" | "composed", seed: number): Promise<void> {
  const N = c.lead.reduce((a, b) => a * b, 1);
  const r = ref.rng(seed);
  const q = ref.randArr([N, c.L, c.D], r), k = ref.randArr([N, c.S, c.D], r);
  const v = ref.randArr([N, c.S, c.DV], r), w = ref.randArr([N, c.L, c.DV], r);
  if (c.qScale) q.data.forEach((x, i) => (q.data[i] = x * c.qScale!));
  const allow: Allow = (n, i, j) => (!c.causal || j <= i) && (c.mask?.allow?.(n, i, j) ?? true);
  const want = reference(q, k, v, w, allow, c.mask?.bias ?? (() => 0));
  await gb.scope(async () => {
    const t = (a: ref.Arr, d: number, grad: boolean) =>
      gb.tensor(Float32Array.from(a.data), [
        ...c.lead,
        c.L === a.shape[1] && d === 0 ? c.L : a.shape[1],
        a.shape[2],
      ], {
        requiresGrad: grad,
      });
    const tq = t(q, 0, true), tk = t(k, 1, true), tv = t(v, 1, true), tw = t(w, 0, false);
    const mask = c.mask?.t();
    const out = gb.scaledDotProductAttention(tq, tk, tv, { isCausal: c.causal, attnMask: mask, kernel });
    const grads = gb.grad(gb.sum(gb.mul(out, tw)), [tq, tk, tv]);
    const [o, dq, dk, dv] = (await Promise.all([out, ...grads].map((x) => x.toArray()))) as Float32Array[];
    const tag = `${c.name} (${kernel}, kernels ${gb.gpuSettings().kernels})`;
    const scale = c.qScale ?? 1;
    ref.assertClose(o, want.o, { atol: 2e-5, rtol: 1e-4, msg: `${tag}: output` });
    ref.assertClose(dq, want.dq, { atol: 3e-5, rtol: 2e-4, msg: `${tag}: dq` });
    ref.assertClose(dk, want.dk, { atol: 3e-5 * scale, rtol: 2e-4, msg: `${tag}: dk` });
    ref.assertClose(dv, want.dv, { atol: 3e-5, rtol: 2e-4, msg: `${tag}: dv` });
  });
}

async function withKernels(kernels: "cpu" | "gpu", f: () => Promise<void>): Promise<void> {
  const before = gb.gpuSettings().kernels;
  gb.configureGpu({ kernels });
  try {
    await f();
  } finally {
    gb.configureGpu({ kernels: before });
  }
}

Deno.test("fused attention, both kernel families: output and gradients against float64, odd lengths, S 1, heads 8 to 64, every mask kind, overflowing scores", async () => {
  for (const [ci, c] of CASES.entries()) {
    for (const kernels of ["cpu", "gpu"] as const) {
      await withKernels(kernels, () => runCase(c, "fused", 11 + ci));
    }
  }
  // the composed ops against the same truth, on the cases with masks
  for (const ci of [1, 4, 5]) await runCase(CASES[ci], "composed", 11 + ci);
});

Deno.test("fused attention, both kernel families: a fully masked query row is NaN, the others exact; averaged weights equal the composed ones; fusion off runs the composed ops", async () => {
  for (const kernels of ["cpu", "gpu"] as const) {
    await withKernels(kernels, async () => {
      await gb.scope(async () => {
        // 10 queries, 9 keys; query 3 may see no key
        const keep = (i: number, j: number) => i !== 3 && (i + j) % 3 !== 0;
        const mask = gb.tensor(
          Array.from({ length: 90 }, (_, p) => (keep(Math.floor(p / 9), p % 9) ? 1 : 0)),
          [10, 9],
          {
            dtype: "int32",
          },
        );
        gb.manualSeed(5);
        const q = gb.randn([2, 10, 8]), k = gb.randn([2, 9, 8]), v = gb.randn([2, 9, 4]);
        const fused = gb.attention(q, k, v, { attnMask: mask, kernel: "fused", needWeights: true });
        const cw = gb.attentionWeights(q, k, { attnMask: mask });
        const co = gb.matmul(cw, v);
        const [o, w, eo, ew] = (await Promise.all([fused.output, fused.weights!, co, cw].map((x) =>
          x.toArray()
        ))) as Float32Array[];
        for (let n = 0; n < 2; n++) {
          for (let i = 0; i < 10; i++) {
            const os = o.subarray((n * 10 + i) * 4, (n * 10 + i + 1) * 4);
            const ws = w.subarray((n * 10 + i) * 9, (n * 10 + i + 1) * 9);
            if (i === 3) {
              assert.ok([...os, ...ws].every(Number.isNaN), `${kernels}: the fully masked row ${n},3 is NaN`);
              continue;
            }
            ref.assertClose(os, eo.subarray((n * 10 + i) * 4, (n * 10 + i + 1) * 4), {
              atol: 2e-5,
              msg: `${kernels}: output row ${n},${i}`,
            });
            ref.assertClose(ws, ew.subarray((n * 10 + i) * 9, (n * 10 + i + 1) * 9), {
              atol: 2e-6,
              msg: `${kernels}: weights row ${n},${i}`,
            });
            for (let j = 0; j < 9; j++) {
              if (!keep(i, j)) {
                assert.equal(ws[j], 0, `masked weight ${n},${i},${j} is 0`);
              }
            }
          }
        }
      });
    });
  }
  // MultiheadAttention (PyTorch's masks: True = may NOT attend) through the fused kernel under
  // noGrad: its averaged weights equal the mean of the composed per-head weights (grad mode), and
  // the padded keys get exactly 0
  await gb.scope(async () => {
    gb.manualSeed(8);
    const mha = new gb.MultiheadAttention(16, 4);
    const x = gb.randn([2, 11, 16]);
    const pad = gb.tensor(
      Array.from({ length: 22 }, (_, p) => (p % 11 >= 9 - 2 * Math.floor(p / 11) ? 1 : 0)),
      [2, 11],
      {
        dtype: "int32",
      },
    );
    const fused = gb.noGrad(() =>
      mha.forwardWithWeights(x, x, x, { keyPaddingMask: pad, averageWeights: true })
    );
    const perHead = mha.forwardWithWeights(x, x, x, { keyPaddingMask: pad });
    const [w, e, o, eo] = (await Promise.all(
      [fused.weights, gb.mean(perHead.weights, 1), fused.output, perHead.output].map((t) => t.toArray()),
    )) as Float32Array[];
    ref.assertClose(w, e, {
      atol: 1e-6,
      msg: "MultiheadAttention: averaged fused weights = mean of the composed ones",
    });
    ref.assertClose(o, eo, { atol: 2e-5, msg: "MultiheadAttention: fused output = composed output" });
    for (let p = 0; p < w.length; p++) {
      const b = Math.floor(p / (11 * 11)), j = p % 11;
      if (j >= 9 - 2 * b) assert.equal(w[p], 0, `padded key ${j} of example ${b} gets weight 0`);
    }
  });
  // fusion off: the same call runs matmul and softmax, no attention kernel
  const before = gb.gpuSettings().fusion;
  gb.configureGpu({ fusion: false });
  try {
    await gb.scope(async () => {
      const q = gb.randn([1, 2, 6, 8]);
      const p = await gb.profile(() => gb.scaledDotProductAttention(q, q, q).toArray());
      const names = p.rows.map((r) => r.kernel);
      assert.ok(
        !names.some((s) => s.startsWith("attention")),
        `fusion off: no attention kernel, got ${names}`,
      );
      assert.ok(names.some((s) => s.startsWith("softmax")), `fusion off: softmax runs, got ${names}`);
    });
  } finally {
    gb.configureGpu({ fusion: before });
  }
});

Deno.test("attention() composed with a gradient keeps its weights for the backward pass (equal to the fused kernel's)", async () => {
  gb.manualSeed(3);
  const grads: Float32Array[] = [];
  for (const kernel of ["composed", "fused"] as const) {
    await gb.scope(async () => {
      gb.manualSeed(4);
      const q = gb.randn([2, 2, 5, 8], { requiresGrad: true });
      const mask = gb.tensor(new Float32Array(25).map((_, i) => (i % 5 === 4 ? -Infinity : 0)), [5, 5]);
      const { output } = gb.attention(q, q, q, { attnMask: mask, kernel });
      await gb.sum(gb.mul(output, output)).backward();
      grads.push((await q.grad!.toArray()) as Float32Array);
    });
  }
  let worst = 0;
  grads[0].forEach((g, i) => (worst = Math.max(worst, Math.abs(g - grads[1][i]))));
  if (!(worst < 1e-4)) throw new Error(`composed and fused gradients differ by ${worst}`);
});
