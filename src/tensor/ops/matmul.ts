/**
 * Matrix multiplication: batched, broadcasting, with an optional fused bias, in one of two kernel
 * families chosen by `kernelPath()` (src/gpu/device.ts):
 *
 * - "cpu" (software adapters such as lavapipe): shaders/matmul.wgsl, large register tiles and no
 *   workgroup memory. It reads both operands with vec4 loads, along M/N ("x") or along K ("k");
 *   `mm()` takes each operand as a strided view and packs it (shaders/matmul_pack.wgsl) only when
 *   it is in neither layout, so a transposed operand in a backward pass costs at most one copy
 *   and often none. Large products (`bigTile`) instead pack both operands into panels, one
 *   contiguous stream per register tile, and use a 32×16 tile. A parameter's packed form is
 *   kept on its storage until the next in-place write of it (see `packed()`).
 * - "gpu" (real GPUs): shaders/matmul_tiled.wgsl, 64×64 tiles staged through workgroup memory,
 *   reading both operands through their strides (never packed).
 */
import { kernelPath } from "../../gpu/device.ts";
import { LLVMPIPE_LOOP_STEPS, LOOP_STEPS_PER_INVOCATION } from "../../gpu/loops.ts";
import { placeholderBuffer } from "../../gpu/pool.ts";
import { dispatch } from "../../gpu/queue.ts";
import { record } from "../graph.ts";
import { launchBinary, launchCopy } from "../kernels.ts";
import { assertFloat, derivedForm, empty, type Tensor } from "../tensor.ts";
import { broadcastShapes } from "./elementwise.ts";
import { sumToShape } from "./reduce_raw.ts";

/** A logical [batch][K][X] view of a tensor's data: element (b, k, x) at b*sb + k*sk + x*sx. */
export interface MatView {
  t: Tensor;
  sb: number;
  sk: number;
  sx: number;
}

/**
 * How the kernel reads an operand with vec4 loads: "x" along M (for A) or N (for B), as
 * [batch][K][ld]; "k" along K, as [batch][X][ld] (each row of K contiguous, ld a multiple of 4).
 */
type Layout = "x" | "k";

interface Packed {
  buf: GPUBuffer;
  layout: Layout;
  /**
   * Packed into panels (layout "x" cut along X into panels as wide as the register tile,
   * [batch][X / ld][K][ld]): ld is then the panel's width.
   */
  panel: boolean;
  /** The stride between rows (of K in layout "x", of X in layout "k"), a multiple of 4. */
  ld: number;
  batchStride: number;
  temp: Tensor | null;
}

const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * An operand contiguous along K is read in place (layout "k") only when the other side of the
 * product is at most this: the "k" reads cost more per FMA than the "x" ones (measured on
 * lavapipe, square 512-1024: ~10-20%), so they pay where the copy they save is large next to the
 * product: [32, 676]·[676, 9] per image in a conv's filter gradient, x·Wᵀ for a batch of 64.
 */
const K_LAYOUT_MAX_OTHER = 64;

/**
 * Copies a view into layout "x": [nb][K][ld], ld = X rounded up to 4, zeros past X; or, with
 * `panel` > 0 (a multiple of 4 dividing ld), into panels [nb][ld / panel][K][panel].
 */
function packX(v: MatView, nb: number, K: number, X: number, dst: GPUBuffer, ld: number, panel = 0): void {
  const vec4 = v.sk === 1 && K % 4 === 0 && v.sb % 4 === 0 && v.sx % 4 === 0;
  const total = nb * (vec4 ? K / 4 : K) * (ld / 4);
  dispatch({
    shader: "matmul_pack",
    constants: { KFAST: v.sk === 1 ? 1 : 0, PANEL4: panel / 4, VEC4: vec4 ? 1 : 0 },
    buffers: [v.t.buffer, dst, v.t.buffer],
    params: { K, X, xq: ld / 4, sb: v.sb, sk: v.sk, sx: v.sx, total },
    invocations: total,
    cost: { bytes: 4 * (nb * K * X + nb * K * ld) },
  });
}

/**
 * Puts a view where the kernel can read it with vec4 loads, copying only if needed: as it lies
 * when x is contiguous with aligned rows (layout "x"), or when k is (layout "k": a row-major A,
 * Wᵀ, a transposed gradient) and `other`, the product's other side, is small; else it is packed
 * into layout "x" by shaders/matmul_pack.wgsl.
 */
function pack(v: MatView, batch: number, K: number, X: number, other: number): Packed {
  const layout = inPlace(v, K, X, other);
  if (layout === "x") {
    return { buf: v.t.buffer, layout: "x", panel: false, ld: v.sk, batchStride: v.sb, temp: null };
  }
  if (layout === "k") {
    return { buf: v.t.buffer, layout: "k", panel: false, ld: v.sx, batchStride: v.sb, temp: null };
  }
  const nb = v.sb === 0 ? 1 : batch;
  const ld = ceil4(X);
  const { buf, temp } = packed(v, nb, K, X, ld, 0);
  return { buf, layout: "x", panel: false, ld, batchStride: v.sb === 0 ? 0 : K * ld, temp };
}

/**
 * packX() into a buffer: a temporary one, or for a parameter (a module's weight, frozen or not:
 * explain methods freeze them) the one kept on its storage (`Storage.derived`, keyed by the
 * view and the layout), packed again only when the storage's version has moved on since (an
 * optimizer step, `copy_`, `loadStateDict`), so a weight is packed once, not on every forward
 * pass. The kept buffer is freed with the parameter's storage.
 */
function packed(
  v: MatView,
  nb: number,
  K: number,
  X: number,
  ld: number,
  panel: number,
): { buf: GPUBuffer; temp: Tensor | null } {
  return derivedForm(
    v.t,
    `matmul_pack ${nb} ${K} ${X} ${ld} ${panel} ${v.sb} ${v.sk} ${v.sx}`,
    nb * K * ld,
    (buf) => packX(v, nb, K, X, buf, ld, panel),
  );
}

/** The layout pack() reads a view in without copying it, or null when it copies it. */
function inPlace(v: MatView, K: number, X: number, other: number): Layout | null {
  if (v.sx === 1 && v.sk % 4 === 0 && v.sk >= X && v.sb % 4 === 0) return "x";
  if (other <= K_LAYOUT_MAX_OTHER && v.sk === 1 && v.sx % 4 === 0 && v.sx >= K && v.sb % 4 === 0) return "k";
  return null;
}

/**
 * Packs a view into panels of `width` (a multiple of 4) along X: [nb][ceil(X / width)][K][width],
 * zeros past X. Each register tile of the big path then reads one contiguous stream per operand
 * (width floats per k) instead of a row of a matrix whose rows are a page or more apart.
 */
function packPanels(v: MatView, batch: number, K: number, X: number, width: number): Packed {
  const nb = v.sb === 0 ? 1 : batch;
  const ld = Math.ceil(X / width) * width;
  const { buf, temp } = packed(v, nb, K, X, ld, width);
  return {
    buf,
    layout: "x",
    panel: true,
    ld: width,
    batchStride: v.sb === 0 ? 0 : K * ld,
    temp,
  };
}

/**
 * The register tile and the panel widths of large products: 32 rows × 16 columns of C per
 * invocation, both operands packed into panels. Measured on lavapipe (the shared 2-core machine,
 * CPU time of the process per square product, median of 5-7, in one run): 1024³ 16×16 unpacked
 * (the tile below) ~150 ms, 16×32 unpacked 115, 16×32 with B in panels 94, both in panels 95,
 * 32×16 both in panels 86; 512³ 14.0, 13.0 (16×32 panels) and 12.1 ms (32×16 panels). Larger
 * tiles fall off a cliff (16×48 142 ms, 20×32 and 24×24 slower too, 32×32 ~4× slower) and
 * take seconds more to compile; a 4-deep unrolled k step and reading A along K in place
 * (layout "k") were slower.
 */
const BIG_TILE = { TM: 32, TN: 16 };

/**
 * Whether a product takes the big path: enough work (2²⁶ multiply-adds, e.g. 512×512×256) for
 * the 32×16 tile, and M and N large enough (>= 128) that packing both operands costs little
 * next to the product (a copy per operand of K·M or K·N floats against M·N·K multiply-adds).
 */
function bigTile(batch: number, M: number, N: number, K: number): boolean {
  return batch * M * N * K >= 2 ** 26 && M >= 128 && N >= 128;
}

/**
 * Whether a smaller product takes the big path too: a long K (>= 512), M and N >= 64, 2²² or
 * more multiply-adds, and neither operand copied only for it, each being either a parameter
 * (its panels packed once and kept, `packed()`) or a view pack() would copy anyway; a dense
 * layer such as the seed CNN's 1600 → 128 on a batch (x packed either way, W kept).
 * Measured on lavapipe, matmul kernel ms by GPU timestamps, median of 7 in one run, 16×16 tile
 * vs 32×16 panels: x·Wᵀ [64, 1600]·[1600, 128] 2.2 vs 1.1 (3 runs), [256, 1600]·[1600, 128]
 * 4.6 vs 3.7 and [169, 1600]·[1600, 128] 3.3 vs 2.9 (medians of 3 runs; the machine was noisy).
 * Where an operand lies ready in place the extra copy costs more than the tile saves:
 * [64, 576]·[576, 1024] (a conv's im2col product, B in place) 4.3 ms vs 5.0 (kernel + packs).
 */
function denseTile(a: MatView, b: MatView, batch: number, M: number, N: number, K: number): boolean {
  if (batch * M * N * K < 2 ** 22 || K < 512 || M < 64 || N < 64) return false;
  const free = (v: MatView, X: number, other: number) => !!v.t._storage?.derived || !inPlace(v, K, X, other);
  return free(a, M, N) && free(b, N, M);
}

const unrolled = new Map<string, Record<string, string>>();
/**
 * The straight-line code for a TM×TN register block reading A and B in the given layouts (see
 * the header of shaders/matmul.wgsl). With both in layout "x" one step is one k; otherwise one
 * step is 4 k (a vec4 along K), and K_TAIL does the last K mod 4 one k at a time.
 */
function unroll(TM: number, TN: number, la: Layout, lb: Layout): Record<string, string> {
  const key = `${TM}x${TN}${la}${lb}`;
  let u = unrolled.get(key);
  if (u) return u;
  const KS = la === "x" && lb === "x" ? 1 : 4;
  const comp = (i: number) => "xyzw"[i];
  const decl: string[] = [], step: string[] = [], tail: string[] = [], store: string[] = [];
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN / 4; j++) decl.push(`  var c_${i}_${j} = vec4f(0.0);`);
  }
  // one k (kk within the step, or the tail's dynamic kt): A(i) a scalar, B(j) a vec4 over 4 n
  const body = (out: string[], kk: string, dyn: boolean) => {
    const sel = (v: string) => (dyn ? `${v}[kt]` : `${v}.${comp(Number(kk))}`);
    const off = dyn ? "kt" : `${kk}u`;
    const aOf: string[] = [], bOf: string[] = [];
    if (la === "x") {
      for (let q = 0; q < TM / 4; q++) out.push(`    let a${kk}_${q} = A[ia + ${off} * P.lda4 + ${q}u];`);
      for (let i = 0; i < TM; i++) aOf.push(`a${kk}_${i >> 2}.${comp(i & 3)}`);
    } else for (let i = 0; i < TM; i++) aOf.push(sel(`ar${i}`));
    if (lb === "x") {
      for (let j = 0; j < TN / 4; j++) {
        out.push(`    let b${kk}_${j} = B[ib + ${off} * P.ldb4 + ${j}u];`);
        bOf.push(`b${kk}_${j}`);
      }
    } else {
      for (let j = 0; j < TN / 4; j++) {
        bOf.push(`vec4f(${[0, 1, 2, 3].map((c) => sel(`br${4 * j + c}`)).join(", ")})`);
      }
    }
    for (let i = 0; i < TM; i++) {
      for (let j = 0; j < TN / 4; j++) {
        out.push(`    c_${i}_${j} = fma(vec4f(${aOf[i]}), ${bOf[j]}, c_${i}_${j});`);
      }
    }
  };
  const rows = (out: string[]) => {
    if (la === "k") { for (let i = 0; i < TM; i++) out.push(`    let ar${i} = A[ia + ${i}u * P.lda4];`); }
    if (lb === "k") { for (let n = 0; n < TN; n++) out.push(`    let br${n} = B[ib + ${n}u * P.ldb4];`); }
  };
  rows(step);
  for (let kk = 0; kk < KS; kk++) body(step, String(kk), false);
  if (KS === 4) {
    rows(tail);
    body(tail, "t", true);
  }
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN / 4; j++) store.push(`  store4(cb, m0 + ${i}u, n0 + ${j * 4}u, c_${i}_${j});`);
  }
  u = {
    ACC_DECL: decl.join("\n"),
    K_STEP: step.join("\n"),
    K_TAIL: tail.join("\n"),
    STORE: store.join("\n"),
    KS: String(KS),
    A_ROWS: la === "k" ? "1" : "0",
    B_ROWS: lb === "k" ? "1" : "0",
  };
  unrolled.set(key, u);
  return u;
}

/**
 * The register tile: 16×16 unless there would be fewer than 8 of them. Measured on lavapipe for
 * [512, K] × [K, 32]: 16×16 1.8 ms, 16×8 1.6, 8×16 1.9, 4×4 4.1 and 8×8 6.5 ms (an 8×8 block
 * runs slower than either neighbour, so it is not used); the 4×4 tile only serves matrices too
 * small for the work to matter.
 */
function tileFor(batch: number, M: number, N: number): [number, number] {
  const tiles = (tm: number, tn: number) => batch * Math.ceil(M / tm) * Math.ceil(N / tn);
  if (tiles(16, 16) >= 8) return [16, 16];
  return [4, 4];
}

/**
 * Products of fewer tiles than this run in workgroups of 8 (the "small" entry), not 64, so that
 * llvmpipe, which runs each workgroup on one thread, can spread them over its threads.
 */
const SMALL_BELOW = 256;

/**
 * @internal C[b] = A[b]·B[b] (+ bias) for `batch` products, A given as an [M][K] view per batch
 * (passed as a [batch][K][M] MatView: x = m) and B as a [K][N] view (x = n).
 * `bias` is per column (mode 1) or per row (mode 2). Returns C as a new [batch*M*N] tensor.
 */
export function mm(
  a: MatView,
  b: MatView,
  batch: number,
  M: number,
  N: number,
  K: number,
  bias: Tensor | null = null,
  biasMode: 0 | 1 | 2 = 0,
): Tensor {
  // loop steps per invocation: K on the cpu path (at most); on the gpu path 18 per 16-deep slice
  const steps = kernelPath() === "gpu" ? Math.ceil(K / 16) * TILED_STEPS_PER_SLICE : K;
  if (steps > LLVMPIPE_LOOP_STEPS - 1024) return mmChunked(a, b, batch, M, N, K, bias, biasMode);
  const c = empty([batch * M * N]);
  if (c.size === 0) return c;
  if (kernelPath() === "gpu" && batch <= MAX_GROUPS) {
    mmTiled(a, b, batch, M, N, K, bias, biasMode, c);
    return c;
  }
  const big = bigTile(batch, M, N, K) || denseTile(a, b, batch, M, N, K);
  const [TM, TN] = big ? [BIG_TILE.TM, BIG_TILE.TN] : tileFor(batch, M, N);
  const pa = big ? packPanels(a, batch, K, M, TM) : pack(a, batch, K, M, N);
  const pb = big ? packPanels(b, batch, K, N, TN) : pack(b, batch, K, N, M);
  const tilesM = Math.ceil(M / TM);
  const tilesN = Math.ceil(N / TN);
  const invocations = batch * tilesM * tilesN;
  dispatch({
    shader: "matmul",
    entry: invocations < SMALL_BELOW ? "small" : "main",
    constants: {
      TM,
      TN,
      BIAS: bias ? biasMode : 0,
      A_PANEL: pa.panel ? 1 : 0,
      B_PANEL: pb.panel ? 1 : 0,
      ...unroll(TM, TN, pa.layout, pb.layout),
    },
    buffers: [pa.buf, pb.buf, bias ? bias.buffer : placeholderBuffer(), c.buffer],
    params: {
      M,
      N,
      K,
      lda4: pa.ld / 4,
      ldb4: pb.ld / 4,
      a_batch4: pa.batchStride / 4,
      b_batch4: pb.batchStride / 4,
      tiles_m: tilesM,
      tiles_n: tilesN,
      batch,
    },
    invocations,
    // the least traffic: A and B read once (once in all when shared by the batch), C written once
    cost: {
      flops: 2 * batch * M * N * K,
      bytes:
        4 * ((pa.batchStride ? batch : 1) * M * K + (pb.batchStride ? batch : 1) * K * N + batch * M * N) +
        (bias ? 4 * bias.size : 0),
    },
  });
  pa.temp?.dispose();
  pb.temp?.dispose();
  return c;
}

/**
 * Loop steps shaders/matmul_tiled.wgsl spends per 16-deep K slice on llvmpipe, measured with
 * all-ones operands (the sum counts the k done): the kernel stopped after 3,640.9 slices = 65,535
 * steps / 18, i.e. llvmpipe does not unroll the 16-step inner k loop.
 */
const TILED_STEPS_PER_SLICE = 18;

/** The most workgroups along one grid dimension that every WebGPU adapter accepts. */
const MAX_GROUPS = 65535;

/**
 * The "gpu" kernel path of mm(): shaders/matmul_tiled.wgsl, 64×64 tiles of C per workgroup with
 * 16-deep K slices staged in workgroup memory. It reads both operands through their strides,
 * so nothing is packed; its staging loads walk k fastest when an operand is contiguous along k.
 */
function mmTiled(
  a: MatView,
  b: MatView,
  batch: number,
  M: number,
  N: number,
  K: number,
  bias: Tensor | null,
  biasMode: 0 | 1 | 2,
  c: Tensor,
): void {
  const tilesM = Math.ceil(M / 64), tilesN = Math.ceil(N / 64);
  if (tilesM > MAX_GROUPS || tilesN > MAX_GROUPS) {
    throw new Error(`matmul: ${M}×${N} needs more than ${MAX_GROUPS} tiles of 64 along one side`);
  }
  dispatch({
    shader: "matmul_tiled",
    constants: {
      BIAS: bias ? biasMode : 0,
      A_KFAST: a.sk === 1 && a.sx !== 1 ? 1 : 0,
      B_KFAST: b.sk === 1 && b.sx !== 1 ? 1 : 0,
    },
    buffers: [a.t.buffer, b.t.buffer, bias ? bias.buffer : placeholderBuffer(), c.buffer],
    params: { M, N, K, sab: a.sb, sak: a.sk, sam: a.sx, sbb: b.sb, sbk: b.sk, sbn: b.sx },
    workgroups: [tilesN, tilesM, batch],
    cost: {
      flops: 2 * batch * M * N * K,
      bytes: 4 * ((a.sb ? batch : 1) * M * K + (b.sb ? batch : 1) * K * N + batch * M * N) +
        (bias ? 4 * bias.size : 0),
    },
  });
}

/** Rows k0 .. k0 + kc of a view, copied to a contiguous [batch or 1][kc][X] view. */
function kSlice(v: MatView, batch: number, k0: number, kc: number, X: number): MatView {
  const nb = v.sb === 0 ? 1 : batch;
  const t = empty([nb * kc * X]);
  launchCopy(v.t, t, "float32", [nb, kc, X], [v.sb, v.sk, v.sx], [kc * X, X, 1], k0 * v.sk);
  return { t, sb: v.sb === 0 ? 0 : kc * X, sk: X, sx: 1 };
}

/**
 * mm() for a long K: one invocation's K loop would pass llvmpipe's loop budget
 * (src/gpu/loops.ts), so the product is summed over K blocks of 32,768, in order, on every
 * adapter (the bias goes with the first block); on the gpu path past K = 57,344 (see
 * TILED_STEPS_PER_SLICE).
 */
function mmChunked(
  a: MatView,
  b: MatView,
  batch: number,
  M: number,
  N: number,
  K: number,
  bias: Tensor | null,
  biasMode: 0 | 1 | 2,
): Tensor {
  let acc: Tensor | null = null;
  for (let k0 = 0; k0 < K; k0 += LOOP_STEPS_PER_INVOCATION) {
    const kc = Math.min(LOOP_STEPS_PER_INVOCATION, K - k0);
    const sa = kSlice(a, batch, k0, kc, M);
    const sb = kSlice(b, batch, k0, kc, N);
    const part = mm(sa, sb, batch, M, N, kc, acc ? null : bias, acc ? 0 : biasMode);
    sa.t.dispose();
    sb.t.dispose();
    if (acc) {
      const sum = launchBinary(acc, part, "a + b", [batch * M * N]);
      acc.dispose();
      part.dispose();
      acc = sum;
    } else acc = part;
  }
  return acc!;
}

/** Row-major [.., R, C] tensor seen as [batch][R][C] with batch stride (0 when broadcast). */
function rowMajor(R: number, C: number, broadcast: boolean): { sb: number; sr: number; sc: number } {
  return { sb: broadcast ? 0 : R * C, sr: C, sc: 1 };
}

/**
 * Matrix product with PyTorch's rules: 1-D operands are vectors, leading dimensions are
 * batch dimensions and broadcast.
 *
 * @example
 * ```ts
 * import { matmul, randn } from "glassbox";
 * const y = matmul(randn([8, 3, 4]), randn([4, 5])); // shape [8, 3, 5]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  assertFloat("matmul", a);
  assertFloat("matmul", b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new Error(`matmul: operands must have at least 1 dimension, got [${a.shape}] and [${b.shape}]`);
  }
  const a2 = a.ndim === 1 ? [1, a.shape[0]] : [...a.shape];
  const b2 = b.ndim === 1 ? [b.shape[0], 1] : [...b.shape];
  const M = a2[a2.length - 2], K = a2[a2.length - 1];
  const K2 = b2[b2.length - 2], N = b2[b2.length - 1];
  if (K !== K2) {
    throw new Error(
      `matmul: shapes [${a.shape.join(", ")}] and [${b.shape.join(", ")}] do not align (${K} vs ${K2})`,
    );
  }
  const ab = a2.slice(0, -2), bb = b2.slice(0, -2);
  const batchShape = broadcastShapes("matmul", ab, bb);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const aB = ab.reduce((p, d) => p * d, 1), bB = bb.reduce((p, d) => p * d, 1);
  if ((aB !== batch && aB !== 1) || (bB !== batch && bB !== 1)) {
    throw new Error(
      `matmul: batch dimensions of [${a.shape}] and [${b.shape}] broadcast only partly; expand them first`,
    );
  }
  const ra = rowMajor(M, K, aB === 1 && batch > 1);
  const rb = rowMajor(K, N, bB === 1 && batch > 1);
  const c = mm({ t: a, sb: ra.sb, sk: 1, sx: K }, { t: b, sb: rb.sb, sk: N, sx: 1 }, batch, M, N, K);
  let outShape = [...batchShape, M, N];
  if (a.ndim === 1) outShape = [...batchShape, N];
  if (b.ndim === 1) outShape = a.ndim === 1 ? [...batchShape] : [...batchShape, M];
  const y = c._view(outShape);
  c.dispose();
  return record(y, "matmul", [a, b], (g) => {
    // g as [batch][M][N]
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (a.requiresGrad) {
      // dA[M][K] = g[M][N] · B^T ; as mm: A' = g viewed (k'=n, x=m), B' = B^T viewed (k'=n, x=k)
      const full = mm({ t: g, sb: M * N, sk: 1, sx: N }, { t: b, sb: rb.sb, sk: 1, sx: N }, batch, M, K, N);
      const fullV = full._view([...batchShape, M, K]);
      full.dispose();
      const red = sumToShape(fullV, [...ab, M, K]);
      ga = red === fullV ? fullV : (fullV.dispose(), red);
      if (ga.shape.length !== a.ndim) {
        const v = ga._view(a.shape);
        ga.dispose();
        ga = v;
      }
    }
    if (b.requiresGrad) {
      // dB[K][N] = A^T · g ; A' = A^T viewed (k'=m, x=k), B' = g viewed (k'=m, x=n)
      const full = mm({ t: a, sb: ra.sb, sk: K, sx: 1 }, { t: g, sb: M * N, sk: N, sx: 1 }, batch, K, N, M);
      const fullV = full._view([...batchShape, K, N]);
      full.dispose();
      const red = sumToShape(fullV, [...bb, K, N]);
      gb = red === fullV ? fullV : (fullV.dispose(), red);
      if (gb.shape.length !== b.ndim) {
        const v = gb._view(b.shape);
        gb.dispose();
        gb = v;
      }
    }
    return [ga, gb];
  });
}

/**
 * y = x·Wᵀ + b for x [.., in] and W [out, in] (PyTorch's layout), with the bias fused into the
 * matmul kernel.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  assertFloat("linear", x);
  assertFloat("linear", weight);
  const [O, I] = weight.shape;
  if (weight.ndim !== 2 || x.shape[x.ndim - 1] !== I) {
    throw new Error(
      `linear: input [${x.shape.join(", ")}] does not match weight [${
        weight.shape.join(", ")
      }] (expects last dim ${I})`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== O)) {
    throw new Error(
      `linear: bias [${bias.shape.join(", ")}] does not match weight [${weight.shape.join(", ")}]`,
    );
  }
  const B = x.size / I;
  // C[B][O] = x[B][I] · W^T[I][O]: A' = x viewed (k=i, x=b), B' = W^T viewed (k=i, x=o)
  const c = mm(
    { t: x, sb: 0, sk: 1, sx: I },
    { t: weight, sb: 0, sk: 1, sx: I },
    1,
    B,
    O,
    I,
    bias ?? null,
    1,
  );
  const y = c._view([...x.shape.slice(0, -1), O]);
  c.dispose();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, "linear", inputs, (g) => {
    const out: (Tensor | null)[] = [null, null, null];
    if (x.requiresGrad) {
      // dx[B][I] = g[B][O] · W[O][I]: A' = g (k=o, x=b), B' = W (k=o, x=i)
      const d = mm({ t: g, sb: 0, sk: 1, sx: O }, { t: weight, sb: 0, sk: I, sx: 1 }, 1, B, I, O);
      out[0] = d._view(x.shape);
      d.dispose();
    }
    if (weight.requiresGrad) {
      // dW[O][I] = g^T[O][B] · x[B][I]: A' = g^T (k=b, x=o), B' = x (k=b, x=i)
      const d = mm({ t: g, sb: 0, sk: O, sx: 1 }, { t: x, sb: 0, sk: I, sx: 1 }, 1, O, I, B);
      out[1] = d._view(weight.shape);
      d.dispose();
    }
    if (bias?.requiresGrad) {
      const g2 = g._view([B, O]);
      const s = sumToShape(g2, [1, O]);
      out[2] = s._view([O]);
      s.dispose();
      g2.dispose();
    }
    return bias ? out : out.slice(0, 2);
  });
}
