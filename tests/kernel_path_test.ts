/**
 * The "gpu" kernel path (configureGpu({ kernels: "gpu" }), forced here on a software adapter):
 * mm()'s workgroup-memory kernel (shaders/matmul_tiled.wgsl) behind matmul, linear and conv,
 * against float64 references, forward and backward. The shapes sit off the 64×64 tile and the
 * 16-deep K slice (ragged M, N and K), broadcast a batch (batch stride 0), read transposed
 * operands (the backward products read their operands through transposing strides) and fuse
 * both bias modes (per column in linear, per row in conv2d).
 */
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { assertGradClose } from "./check.ts";
import { sizeClass } from "../src/gpu/pool.ts";
import { mm } from "../src/tensor/ops/matmul.ts";
import { autoKernelPath, device, GPU_PATH_LIMITS } from "../src/gpu/device.ts";

const f32 = (a: ref.Arr) => ((a.data = a.data.map(Math.fround)), a);
const t = (a: ref.Arr, requiresGrad = false) =>
  gb.tensor(Float32Array.from(a.data), a.shape, { requiresGrad });
const T = (a: ref.Arr) =>
  ref.permute(
    a,
    [...a.shape.keys()].map((d, _, all) =>
      // swap the last two axes
      d < all.length - 2 ? d : d === all.length - 2 ? all.length - 1 : all.length - 2
    ),
  );

/**
 * The tensor of `a` in a pooled buffer whose bytes past the data hold NaN (a freed NaN buffer of
 * the same size class is reused), so a kernel that reads past an operand's end without a bounds
 * check turns its output into NaN instead of silently multiplying neighbouring data by zero.
 */
async function nanTailed(a: ref.Arr, requiresGrad = false): Promise<gb.Tensor> {
  const n = sizeClass(4 * a.data.length) / 4;
  const junk = gb.tensor(new Float32Array(n).fill(NaN), [n]);
  await junk.toArray(); // submitted: its buffer returns to the pool clean, ready for the upload below
  junk.dispose();
  return t(a, requiresGrad);
}

/** Sums the leading axes of `a` until it has `rank` axes (a broadcast operand's gradient). */
function sumLeading(a: ref.Arr, rank: number): ref.Arr {
  const lead = a.shape.length - rank;
  return lead <= 0 ? a : ref.sumAxes(a, [...Array(lead).keys()]);
}

/** Runs `fn` with the gpu kernel path forced, and checks the tiled kernel is what ran. */
async function onGpuPath(fn: () => Promise<void>): Promise<string[]> {
  const before = gb.gpuSettings().kernels;
  gb.configureGpu({ kernels: "gpu" });
  try {
    if (gb.kernelPath() !== "gpu") throw new Error("kernelPath() ignores configureGpu({ kernels: 'gpu' })");
    const p = await gb.profile(fn);
    const kernels = p.rows.map((r) => r.kernel);
    if (!kernels.some((k) => k.startsWith("matmul_tiled:"))) {
      throw new Error(`the gpu path ran no matmul_tiled kernel: ${kernels.join("; ")}`);
    }
    if (kernels.some((k) => k.startsWith("matmul:"))) {
      throw new Error(`the gpu path ran the cpu path's matmul kernel: ${kernels.join("; ")}`);
    }
    return kernels;
  } finally {
    gb.configureGpu({ kernels: before });
  }
}

Deno.test("gpu kernel path: matmul forward and backward off the tile grid, broadcast batches, K off the slice", async () => {
  const r = ref.rng(21);
  const cases: [number[], number[]][] = [
    [[65, 17], [17, 63]], // one row and one column past a 64 tile; K one past a slice
    [[3, 70, 33], [33, 129]], // B broadcast over the batch (batch stride 0), ragged everywhere
    [[2, 64, 64], [2, 64, 64]], // exact tiles
    [[1, 200], [200, 5]], // one row, K of 12.5 slices
    [[130, 1], [1, 7]], // K = 1
    [[5, 9, 40], [5, 40, 3]], // many batches of small products
  ];
  await onGpuPath(async () => {
    for (const [as, bs] of cases) {
      const a = f32(ref.randArr(as, r)), b = f32(ref.randArr(bs, r));
      const y = ref.matmul(a, b);
      const g = f32(ref.randArr(y.shape, r));
      await gb.scope(async () => {
        const ta = await nanTailed(a, true), tb = await nanTailed(b, true);
        const out = gb.matmul(ta, tb);
        const msg = `matmul [${as}]·[${bs}]`;
        ref.assertClose(await out.toArray(), y.data, { rtol: 1e-4, atol: 1e-4, msg });
        const [ga, gbb] = gb.grad(gb.sum(gb.mul(out, await nanTailed(g))), [ta, tb]);
        // dA = G·Bᵀ, dB = Aᵀ·G (summed over the batch where an operand was broadcast)
        assertGradClose(
          await ga.toArray(),
          sumLeading(ref.matmul(g, T(b)), as.length).data,
          1e-4,
          `${msg} dA`,
        );
        assertGradClose(
          await gbb.toArray(),
          sumLeading(ref.matmul(T(a), g), bs.length).data,
          1e-4,
          `${msg} dB`,
        );
      });
    }
  });
});

Deno.test("gpu kernel path: linear with its fused per-column bias, and conv2d with its fused per-row bias, forward and backward", async () => {
  const r = ref.rng(22);
  await onGpuPath(async () => {
    // linear: y = x·Wᵀ + b, reading W transposed (k contiguous) in the forward product
    for (const [B, I, O] of [[70, 100, 66], [3, 5, 130]]) {
      const x = f32(ref.randArr([B, I], r)), w = f32(ref.randArr([O, I], r)), b = f32(ref.randArr([O], r));
      const want = ref.binary(ref.matmul(x, T(w)), b, (p, q) => p + q);
      const g = f32(ref.randArr([B, O], r));
      await gb.scope(async () => {
        const tx = t(x, true), tw = t(w, true), tb = t(b, true);
        const y = gb.linear(tx, tw, tb);
        const msg = `linear ${B}x${I}->${O}`;
        ref.assertClose(await y.toArray(), want.data, { rtol: 1e-4, atol: 1e-4, msg });
        const [gx, gw, gbias] = gb.grad(gb.sum(gb.mul(y, t(g))), [tx, tw, tb]);
        assertGradClose(await gx.toArray(), ref.matmul(g, w).data, 1e-4, `${msg} dx`);
        assertGradClose(await gw.toArray(), ref.matmul(T(g), x).data, 1e-4, `${msg} dW`);
        assertGradClose(await gbias.toArray(), ref.sumAxes(g, [0]).data, 1e-4, `${msg} db`);
      });
    }
    // conv2d: C[n][Cout][P] = W[Cout][K]·cols[n][K][P] + b[Cout]; K = 5·3·3 = 45, P = 11·10 = 110
    const x = f32(ref.randArr([2, 5, 13, 12], r)), w = f32(ref.randArr([70, 5, 3, 3], r));
    const b = f32(ref.randArr([70], r));
    const want = ref.conv2d(x, w, b, 1, 0, 1);
    const g = f32(ref.randArr(want.shape, r));
    // dx is the transposed convolution of g (the float64 scatter reference); dW[o][c][i][j] = Σ g·x shifted
    const dx = ref.convTranspose2d(g, w, null, 1, 0, 0, 1);
    const [, C, H, W] = x.shape, [O, , KH, KW] = w.shape, [N, , OH, OW] = want.shape;
    const dw = new Float64Array(w.data.length);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < O; o++) {
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < KH; i++) {
            for (let j = 0; j < KW; j++) {
              let s = 0;
              for (let oy = 0; oy < OH; oy++) {
                for (let ox = 0; ox < OW; ox++) {
                  s += g.data[((n * O + o) * OH + oy) * OW + ox] *
                    x.data[((n * C + c) * H + oy + i) * W + ox + j];
                }
              }
              dw[((o * C + c) * KH + i) * KW + j] += s;
            }
          }
        }
      }
    }
    await gb.scope(async () => {
      const tx = t(x, true), tw = t(w, true), tb = t(b, true);
      const y = gb.conv2d(tx, tw, tb);
      ref.assertClose(await y.toArray(), want.data, { rtol: 1e-4, atol: 1e-4, msg: "conv2d forward" });
      const [gx, gw, gbias] = gb.grad(gb.sum(gb.mul(y, t(g))), [tx, tw, tb]);
      assertGradClose(await gx.toArray(), dx.data, 1e-4, "conv2d dx");
      assertGradClose(await gw.toArray(), dw, 1e-4, "conv2d dW");
      assertGradClose(await gbias.toArray(), ref.sumAxes(g, [0, 2, 3]).data, 1e-4, "conv2d db");
    });
  });
});

Deno.test("gpu kernel path: a long K stays inside llvmpipe's loop budget (18 steps per 16-deep slice: K = 40,000 in one loop, K = 60,000 in K blocks)", async () => {
  const r = ref.rng(23);
  for (const [K, one] of [[40_000, true], [60_000, false]] as const) {
    const a = f32(ref.randArr([3, K], r)), b = f32(ref.randArr([K, 66], r));
    const kernels = await onGpuPath(async () => {
      const got = await gb.matmul(t(a), t(b)).toArray();
      ref.assertClose(got, ref.matmul(a, b).data, { rtol: 1e-3, atol: 1e-3, msg: `matmul K=${K}` });
    });
    if ((kernels.length === 1) !== one) throw new Error(`K=${K}: ran ${kernels.join("; ")}`);
  }
});

Deno.test("cpu kernel path: mm() reads rows of K in place (with a K mod 4 tail), packs transposed and re-pitched operands, with both biases", async () => {
  const r = ref.rng(24);
  /** A [batch][X][K] (rows of K, ld a multiple of 4) or [batch][K][X] (ld along x) view, NaN in its padding. */
  const view = (batch: number, K: number, X: number, rowsOfK: boolean, ld: number) => {
    const outer = rowsOfK ? X : K, inner = rowsOfK ? K : X;
    const data = new Float32Array(batch * outer * ld).fill(NaN);
    const val = (b: number, k: number, x: number) =>
      data[b * outer * ld + (rowsOfK ? x * ld + k : k * ld + x)];
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) data[b * outer * ld + o * ld + i] = Math.fround(r() * 2 - 1);
      }
    }
    const t = gb.tensor(data, [data.length]);
    const mv = rowsOfK ? { t, sb: outer * ld, sk: 1, sx: ld } : { t, sb: outer * ld, sk: ld, sx: 1 };
    return { mv, val, t };
  };
  const cases: {
    a: [boolean, number];
    b: [boolean, number];
    M: number;
    N: number;
    K: number;
    bias: 0 | 1 | 2;
    want: string[];
  }[] = [
    // A as rows of K read in place (N <= 64), K = 45: 11 steps of 4 and a tail of 1; NaN past K
    { a: [true, 48], b: [false, 20], M: 37, N: 20, K: 45, bias: 1, want: ["A_ROWS=1", "B_ROWS=0", "KS=4"] },
    // B as rows of K in place (M <= 64), tail of 3
    { a: [false, 20], b: [true, 44], M: 20, N: 53, K: 43, bias: 2, want: ["A_ROWS=0", "B_ROWS=1", "KS=4"] },
    { a: [true, 44], b: [true, 44], M: 30, N: 50, K: 42, bias: 0, want: ["A_ROWS=1", "B_ROWS=1"] },
    // rows of K with an unaligned stride: A is transposed by the pack kernel (k fastest); B's rows
    // of 53 are re-pitched to 56 (x fastest)
    { a: [true, 45], b: [false, 53], M: 70, N: 53, K: 45, bias: 1, want: ["KFAST=1", "KFAST=0", "KS=1"] },
  ];
  const before = gb.gpuSettings().kernels;
  gb.configureGpu({ kernels: "cpu" });
  try {
    for (const c of cases) {
      const batch = 3;
      const A = view(batch, c.K, c.M, c.a[0], c.a[1]), B = view(batch, c.K, c.N, c.b[0], c.b[1]);
      const bias = c.bias ? f32(ref.randArr([c.bias === 1 ? c.N : c.M], r)) : null;
      const want = new Float64Array(batch * c.M * c.N);
      for (let b = 0; b < batch; b++) {
        for (let m = 0; m < c.M; m++) {
          for (let n = 0; n < c.N; n++) {
            let s = bias ? bias.data[c.bias === 1 ? n : m] : 0;
            for (let k = 0; k < c.K; k++) s += A.val(b, k, m) * B.val(b, k, n);
            want[(b * c.M + m) * c.N + n] = s;
          }
        }
      }
      const bt = bias ? t(bias) : null;
      let got: ArrayLike<number> = [];
      const p = await gb.profile(async () => {
        got = await mm(A.mv, B.mv, batch, c.M, c.N, c.K, bt, c.bias).toArray();
      });
      const kernels = p.rows.map((x) => x.kernel).join("; ");
      const msg = `mm ${c.M}x${c.N}x${c.K} A ${c.a} B ${c.b} (${kernels})`;
      for (const w of c.want) if (!kernels.includes(w)) throw new Error(`${msg}: expected ${w}`);
      ref.assertClose(got, want, { rtol: 1e-4, atol: 1e-4, msg });
      A.t.dispose();
      B.t.dispose();
      bt?.dispose();
    }
  } finally {
    gb.configureGpu({ kernels: before });
  }
});

Deno.test("kernelPath's automatic choice: cpu for software adapters and for devices below the gpu kernels' limits", () => {
  const full = { ...GPU_PATH_LIMITS };
  const gpu = {
    description: "NVIDIA GeForce RTX 4090",
    vendor: "nvidia",
    architecture: "lovelace",
    isFallbackAdapter: false,
  };
  const cases: [
    string,
    Parameters<typeof autoKernelPath>[0],
    Parameters<typeof autoKernelPath>[1],
    "cpu" | "gpu",
  ][] = [
    ["a discrete GPU", gpu, full, "gpu"],
    [
      "a browser that hides the names",
      { ...gpu, description: "", vendor: "", architecture: "" },
      full,
      "gpu",
    ],
    ["lavapipe", { ...gpu, description: "llvmpipe (LLVM 15.0.6, 256 bits)", vendor: "65541" }, full, "cpu"],
    ["SwiftShader", { ...gpu, description: "", vendor: "google", architecture: "swiftshader" }, full, "cpu"],
    ["a fallback adapter", { ...gpu, isFallbackAdapter: true }, full, "cpu"],
    ["compatibility mode (128 invocations)", gpu, {
      ...full,
      maxComputeInvocationsPerWorkgroup: 128,
      maxComputeWorkgroupSizeX: 128,
    }, "cpu"],
    ["4 KiB of workgroup memory", gpu, { ...full, maxComputeWorkgroupStorageSize: 4096 }, "cpu"],
  ];
  for (const [what, info, limits, want] of cases) {
    const got = autoKernelPath(info, limits);
    if (got !== want) throw new Error(`${what}: ${got}, expected ${want}`);
  }
  // and on this machine the choice follows the adapter (lavapipe here: cpu)
  const before = gb.gpuSettings().kernels;
  gb.configureGpu({ kernels: "auto" });
  try {
    const info = gb.adapterInfo();
    if (gb.kernelPath() !== autoKernelPath(info, device().limits)) {
      throw new Error("kernelPath() ignores the adapter");
    }
  } finally {
    gb.configureGpu({ kernels: before });
  }
});
