/**
 * The "cpu" kernel family's path for large products (src/tensor/ops/matmul.ts, bigTile): both
 * operands packed into panels as wide as the 32×16 register tile (shaders/matmul_pack.wgsl,
 * PANEL4) and read by shaders/matmul.wgsl with A_PANEL / B_PANEL. Checked against float64
 * references, forward and backward (dA = G·Bᵀ, dB = Aᵀ·G are large products too, read through
 * transposing strides), with M, N and K off the tile and panel widths, a broadcast batch, and both
 * fused biases; and the same products on the "gpu" family (shaders/matmul_tiled.wgsl) agree.
 */
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { mm } from "../src/tensor/ops/matmul.ts";

const f32 = (a: ref.Arr) => ((a.data = a.data.map(Math.fround)), a);
const t = (a: ref.Arr, requiresGrad = false) =>
  gb.tensor(Float32Array.from(a.data), a.shape, { requiresGrad });

/** C[b][m][n] = Σ_k A(b, k, m)·B(b, k, n) (+ bias) in float64, from element getters. */
function product(
  batch: number,
  M: number,
  N: number,
  K: number,
  A: (b: number, k: number, m: number) => number,
  B: (b: number, k: number, n: number) => number,
  bias?: (m: number, n: number) => number,
): Float64Array {
  const out = new Float64Array(batch * M * N);
  const col = new Float64Array(K);
  for (let b = 0; b < batch; b++) {
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) col[k] = B(b, k, n);
      for (let m = 0; m < M; m++) {
        let s = bias ? bias(m, n) : 0;
        for (let k = 0; k < K; k++) s += A(b, k, m) * col[k];
        out[(b * M + m) * N + n] = s;
      }
    }
  }
  return out;
}

async function withKernels<T>(kernels: "cpu" | "gpu", fn: () => Promise<T>): Promise<T> {
  const before = gb.gpuSettings().kernels;
  gb.configureGpu({ kernels });
  try {
    return await fn();
  } finally {
    gb.configureGpu({ kernels: before });
  }
}

/** The kernels a call launched, as the profiler names them (shader, entry, short constants). */
async function kernelsOf(fn: () => Promise<unknown>): Promise<string> {
  const p = await gb.profile(fn);
  return p.rows.map((r) => r.kernel).join("; ");
}

Deno.test("matmul on large products: panels of the 32×16 tile, ragged M, N, a broadcast batch, forward and backward, both kernel families", async () => {
  const r = ref.rng(31);
  // batch 2 × [200, 1000] · [1000, 180] shared by the batch: 72M multiply-adds, M off 32, N off 16
  const batch = 2, M = 200, K = 1000, N = 180;
  const a = f32(ref.randArr([batch, M, K], r)), b = f32(ref.randArr([K, N], r));
  const g = f32(ref.randArr([batch, M, N], r));
  const A = (q: number, k: number, m: number) => a.data[(q * M + m) * K + k];
  const want = product(batch, M, N, K, A, (_q, k, n) => b.data[k * N + n]);
  // dA[q] = G[q]·Bᵀ ([M][N]·[N][K]); dB = Σ_q A[q]ᵀ·G[q] ([K][M]·[M][N])
  const wantDa = product(
    batch,
    M,
    K,
    N,
    (q, n, m) => g.data[(q * M + m) * N + n],
    (_q, n, k) => b.data[k * N + n],
  );
  const perBatch = product(batch, K, N, M, (q, m, k) => A(q, k, m), (q, m, n) => g.data[(q * M + m) * N + n]);
  const wantDb = new Float64Array(K * N);
  for (let q = 0; q < batch; q++) for (let i = 0; i < K * N; i++) wantDb[i] += perBatch[q * K * N + i];
  for (const kernels of ["cpu", "gpu"] as const) {
    await withKernels(kernels, async () => {
      const ta = t(a, true), tb = t(b, true), tg = t(g);
      let got: ArrayLike<number> = [], da: ArrayLike<number> = [], db: ArrayLike<number> = [];
      const launched = await kernelsOf(async () => {
        const y = gb.matmul(ta, tb);
        got = await y.toArray();
        const [ga, gbb] = gb.grad(gb.sum(gb.mul(y, tg)), [ta, tb]);
        da = await ga.toArray();
        db = await gbb.toArray();
      });
      const msg = `[${batch}, ${M}, ${K}]·[${K}, ${N}], kernels ${kernels} (${launched})`;
      if (kernels === "cpu") {
        for (const w of ["TM=32, TN=16", "A_PANEL=1", "B_PANEL=1", "PANEL4=8", "PANEL4=4"]) {
          if (!launched.includes(w)) throw new Error(`${msg}: expected a kernel with ${w}`);
        }
      }
      ref.assertClose(got, want, { rtol: 1e-4, atol: 1e-4, msg: `${msg} forward` });
      ref.assertClose(da, wantDa, { rtol: 1e-4, atol: 1e-4, msg: `${msg} dA` });
      ref.assertClose(db, wantDb, { rtol: 1e-4, atol: 1e-4, msg: `${msg} dB` });
      for (const x of [ta, tb, tg]) x.dispose();
    });
  }
});

Deno.test("mm() on large products fuses both biases through the panel path: linear (per column, Wᵀ packed k-fastest) and a per-row bias", async () => {
  const r = ref.rng(32);
  // linear: x [300, 700] · W[330, 700]ᵀ + b: 69M multiply-adds, N = 330 off the 16-wide panel
  const B = 300, I = 700, O = 330;
  const x = f32(ref.randArr([B, I], r)), w = f32(ref.randArr([O, I], r)), bias = f32(ref.randArr([O], r));
  const X = (_q: number, k: number, m: number) => x.data[m * I + k];
  const Wt = (_q: number, k: number, n: number) => w.data[n * I + k];
  const want = product(1, B, O, I, X, Wt, (_m, n) => bias.data[n]);
  // a per-row bias on mm() directly: A = x (rows of K, k fastest), B = Wᵀ
  const rowBias = f32(ref.randArr([B], r));
  const wantRow = product(1, B, O, I, X, Wt, (m) => rowBias.data[m]);
  for (const kernels of ["cpu", "gpu"] as const) {
    await withKernels(kernels, async () => {
      const tx = t(x), tw = t(w), tb = t(bias), tr = t(rowBias);
      let got: ArrayLike<number> = [], gotRow: ArrayLike<number> = [];
      const launched = await kernelsOf(async () => {
        got = await gb.linear(tx, tw, tb).toArray();
        gotRow = await mm({ t: tx, sb: 0, sk: 1, sx: I }, { t: tw, sb: 0, sk: 1, sx: I }, 1, B, O, I, tr, 2)
          .toArray();
      });
      const msg = `linear [${B}, ${I}] -> ${O}, kernels ${kernels} (${launched})`;
      if (kernels === "cpu") {
        for (const want of ["A_PANEL=1", "B_PANEL=1", "BIAS=1", "BIAS=2", "KFAST=1, PANEL4=4"]) {
          if (!launched.includes(want)) throw new Error(`${msg}: expected a kernel with ${want}`);
        }
      }
      ref.assertClose(got, want, { rtol: 1e-4, atol: 1e-4, msg: `${msg} per-column bias` });
      ref.assertClose(gotRow, wantRow, { rtol: 1e-4, atol: 1e-4, msg: `${msg} per-row bias` });
      for (const v of [tx, tw, tb, tr]) v.dispose();
    });
  }
});
