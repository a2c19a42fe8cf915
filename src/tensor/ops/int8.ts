/**
 * The int8 kernels: quantizing a float matrix to packed int8 on the GPU (shaders/int8.wgsl), and
 * the register-tiled int8 matrix product (shaders/int8_gemm.wgsl: an implicit GEMM over a
 * convolution's patches, quantized once, no float im2col) with exact i32 accumulators and a
 * float requantized output. The 4-way dot product is WGSL's `dot4I8Packed` where the adapter has
 * it and an unpacking path where not, chosen at run time (`int8DotPath`), or forced. The product's
 * epilogue can take the ReLU and 2×2 max pool after a layer and quantize the pooled output straight
 * into the next layer's packed input (`int8GemmPacked`), so an int8 CNN writes no float
 * activation between its convs. Quantized layers are built on these in src/compress/int8.ts.
 */
import { type AdapterInfo, adapterInfo, hasPackedIntegerDot } from "../../gpu/device.ts";
import { errorFlags, flagLabel } from "../../gpu/errors.ts";
import { checkLoopSteps } from "../../gpu/loops.ts";
import { dispatch } from "../../gpu/queue.ts";
import { placeholderBuffer } from "../../gpu/pool.ts";
import { assertFloat, assertLive, empty, Tensor } from "../tensor.ts";
import { zeros } from "../create.ts";

/** How the kernel computes a 4-way int8 dot product. */
export type Int8DotPath = "builtin" | "unpack";

/** What `int8DotPath` decides on: whether WGSL has the packed dot product, and the adapter. */
export interface Int8Adapter {
  /** Whether WGSL has the packed_4x8_integer_dot_product language feature. */
  packedIntegerDot: boolean;
  /** The adapter's identity (as `adapterInfo()`). */
  adapter: Pick<AdapterInfo, "description" | "vendor" | "architecture" | "isFallbackAdapter">;
}

/**
 * The dot-product path for this adapter (or for `given`, to ask about another): "builtin"
 * (`dot4I8Packed`) when WGSL has the packed_4x8_integer_dot_product feature and the adapter is a
 * GPU; "unpack" otherwise. On a software adapter (a fallback adapter, or lavapipe/llvmpipe or
 * SwiftShader by name) the built-in is emulated: with the old 4×4-tile kernel a 256×32×13×13→64
 * conv took 313.8 ms with it, 181.6 ms unpacking (bench/compress.ts); with the 8×16 register
 * tile of shaders/int8_gemm.wgsl the two measured alike (within this shared machine's noise), so
 * unpacking stays the software default. Either path can be forced where a layer runs.
 *
 * @example
 * ```ts
 * import { int8DotPath } from "glassbox";
 * int8DotPath(); // "unpack" on lavapipe, "builtin" on a GPU whose WGSL has the feature
 * const gpu = { description: "", vendor: "nvidia", architecture: "ampere", isFallbackAdapter: false };
 * if (int8DotPath({ packedIntegerDot: true, adapter: gpu }) !== "builtin") throw new Error("GPU");
 * ```
 */
export function int8DotPath(given?: Int8Adapter): Int8DotPath {
  const { packedIntegerDot, adapter: a } = given ??
    { packedIntegerDot: hasPackedIntegerDot(), adapter: adapterInfo() };
  if (!packedIntegerDot) return "unpack";
  const software = a.isFallbackAdapter ||
    /llvmpipe|lavapipe|swiftshader/i.test(`${a.description} ${a.vendor} ${a.architecture}`);
  return software ? "unpack" : "builtin";
}

/** Who a NaN input is reported as (see `quantizeInput`). */
export interface QuantizeInputLabel {
  /** The name in the error, e.g. `layer "3" (Linear)` (default "quantizeInput"). */
  label?: string;
  /** Rows of the matrix per sample (a convolution's output positions; default 1). */
  rowsPerSample?: number;
}

/**
 * Quantizes a float [M, K] tensor to packed int8 [M, ceil(K/4)] (int32 bits) with one scale.
 * int8 has no NaN: a NaN value is written as 0 and reported by the kernel, and the next
 * readback (of any tensor) throws an error naming `label` and the sample (row / `rowsPerSample`)
 * — no readback of its own.
 *
 * @example
 * ```ts
 * import { quantizeInput, tensor } from "glassbox";
 * const xq = quantizeInput(tensor([[0.5, -1, 0.25]]), 1 / 127); // [1, 1] packed words
 * const bad = quantizeInput(tensor([[0.5, NaN, 0.25]]), 1 / 127, { label: "my layer" });
 * const message = await bad.toArray().then(() => "", (e) => e.message);
 * if (!message.startsWith("my layer: sample 0 has a NaN input")) throw new Error(message);
 * ```
 */
export function quantizeInput(x: Tensor, scale: number, who: QuantizeInputLabel = {}): Tensor {
  assertFloat("quantizeInput", x);
  if (x.ndim !== 2) throw new Error(`quantizeInput: expected [M, K], got ${x.describe()}`);
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new Error(`quantizeInput: scale must be positive, got ${scale}`);
  }
  const [M, K] = x.shape, K4 = Math.ceil(K / 4);
  const out = empty([M, K4], "int32");
  if (out.size === 0) return out;
  const perSample = who.rowsPerSample ?? 1;
  if (!Number.isInteger(perSample) || perSample < 1) {
    throw new Error(`quantizeInput: rowsPerSample must be a positive integer, got ${perSample}`);
  }
  run("quantize", [x, x, x, x, x, out, null], {
    M,
    N: 1,
    K,
    K4,
    sx: scale,
    label: flagLabel(who.label ?? "quantizeInput"),
    perSample,
  }, M * K4);
  return out;
}

function run(
  entry: string,
  b: (Tensor | null)[],
  p: {
    M: number;
    N: number;
    K: number;
    K4: number;
    sx: number;
    hasBias?: boolean;
    label?: number;
    perSample?: number;
  },
  n: number,
): void {
  const scratch = b[6] ? null : empty([1]);
  dispatch({
    shader: "int8",
    entry,
    buffers: [...b.map((t) => (t ?? scratch!).buffer), errorFlags()],
    params: {
      M: p.M,
      N: p.N,
      K: p.K,
      K4: p.K4,
      has_bias: p.hasBias ? 1 : 0,
      sx: p.sx,
      inv_sx: Math.fround(1 / p.sx),
      label: p.label ?? 0,
      per_sample: p.perSample ?? 1,
    },
    invocations: n,
  });
  scratch?.dispose();
}

/**
 * The int8 product of packed inputs xq [M, K4] and packed weights wq [N, K4]: the exact i32
 * accumulators acc [M, N], and y = acc · inputScale · weightScales[n] + bias[n] as float.
 *
 * @example
 * ```ts
 * import { int8Matmul, packInt8, tensor } from "glassbox";
 * const xq = tensor(packInt8(Int8Array.from([1, 2, 3]), 1, 3), [1, 1], { dtype: "int32" });
 * const wq = tensor(packInt8(Int8Array.from([4, 5, 6]), 1, 3), [1, 1], { dtype: "int32" });
 * const { acc } = int8Matmul(xq, wq, tensor([1]), null, 3, { inputScale: 1 }); // [[32]]
 * ```
 */
export function int8Matmul(
  xq: Tensor,
  wq: Tensor,
  weightScales: Tensor,
  bias: Tensor | null,
  K: number,
  options: { inputScale: number; path?: Int8DotPath },
): { acc: Tensor; y: Tensor } {
  for (const t of [xq, wq]) {
    assertLive("int8Matmul", t);
    if (t.dtype !== "int32" || t.ndim !== 2) {
      throw new Error(`int8Matmul: packed operands are int32 [rows, K/4], got ${t.describe()}`);
    }
  }
  const [M, K4] = xq.shape, N = wq.shape[0];
  if (wq.shape[1] !== K4 || Math.ceil(K / 4) !== K4) {
    throw new Error(`int8Matmul: packed widths ${K4} and ${wq.shape[1]} do not hold K = ${K} values`);
  }
  if (weightScales.size !== N || (bias && bias.size !== N)) {
    throw new Error(`int8Matmul: weight scales and bias need ${N} values (one per output channel)`);
  }
  const g = denseGeometry(M, K);
  const xt: PackedT = { t: xq, rows: M, g, ld: 0 }, wt = int8Weights(wq, g);
  const { acc, y } = int8Gemm(xt, wt, weightScales, bias, {
    inputScale: options.inputScale,
    path: options.path,
    withAccumulators: true,
  });
  wt.t.dispose();
  return { acc: acc!, y };
}

// ---- the register-tiled int8 product (shaders/int8_gemm.wgsl) ----

const gemmCode = new Map<string, Record<string, string>>();
/** The straight-line code for a TM×TN block (see the header of shaders/int8_gemm.wgsl). */
function gemmUnroll(TM: number, TN: number, path: Int8DotPath, pool: boolean): Record<string, string> {
  const key = `${TM}x${TN}${path}${pool ? "pool" : ""}`;
  let u = gemmCode.get(key);
  if (u) return u;
  const decl: string[] = [], step: string[] = [], store: string[] = [];
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN / 4; j++) decl.push(`  var c_${i}_${j} = vec4i(0);`);
  }
  if (pool) {
    // TM/4 pooled pixels; rows 4i + 2·dy + dx are their windows' conv pixels
    decl.push("  let mp = m0 / 4u;");
    for (let i = 0; i < TM / 4; i++) {
      decl.push(
        `  let at${i} = pool_row(mp + ${i}u);`,
        `  let b${4 * i} = row_base(at${i});`,
        `  let b${4 * i + 1} = b${4 * i} + P.s_ox;`,
        `  let b${4 * i + 2} = b${4 * i} + P.s_oy;`,
        `  let b${4 * i + 3} = b${4 * i + 2} + P.s_ox;`,
      );
    }
  } else {
    decl.push("  var at = row_at(m0);");
    for (let r = 0; r < TM; r++) {
      decl.push(`  let b${r} = row_base(at);`, `  let yo${r} = row_out(at);`);
      if (r < TM - 1) decl.push(`  at = next_row(at, m0 + ${r + 1}u);`);
    }
  }
  for (let i = 0; i < TM / 4; i++) {
    const rows = [0, 1, 2, 3].map((r) => `XQ[b${4 * i + r} + o]`).join(", ");
    step.push(`        let x${i} = vec4u(${rows});`);
  }
  for (let j = 0; j < TN / 4; j++) step.push(`        let w${j} = WT[iw + ${j}u];`);
  if (path === "unpack") {
    // every byte sign-extended once, then each accumulator updated once per word with the sum of
    // its 4 byte products (llvmpipe keeps the accumulators in memory: one update per word, not
    // four, measured 56.5 → 51.7 ms CPU time per 256-image forward)
    for (let b = 0; b < 4; b++) {
      for (let i = 0; i < TM / 4; i++) step.push(`        let x${i}_${b} = bytes(x${i}, ${b}u);`);
      for (let j = 0; j < TN / 4; j++) step.push(`        let w${j}_${b} = bytes(w${j}, ${b}u);`);
    }
    for (let i = 0; i < TM; i++) {
      for (let j = 0; j < TN / 4; j++) {
        const terms = [0, 1, 2, 3].map((b) => `vec4i(x${i >> 2}_${b}.${"xyzw"[i & 3]}) * w${j}_${b}`);
        step.push(`        c_${i}_${j} += ${terms.join(" + ")};`);
      }
    }
  } else {
    for (let i = 0; i < TM; i++) {
      const a = `x${i >> 2}.${"xyzw"[i & 3]}`;
      for (let j = 0; j < TN / 4; j++) {
        const d = [..."xyzw"].map((c) => `dot4I8Packed(${a}, w${j}.${c})`).join(", ");
        step.push(`        c_${i}_${j} += vec4i(${d});`);
      }
    }
  }
  for (let j = 0; j < TN / 4; j++) {
    store.push(`  let ws${j} = chan_scale(n0 + ${j * 4}u);`, `  let bias${j} = chan_bias(n0 + ${j * 4}u);`);
  }
  if (pool) {
    for (let i = 0; i < TM / 4; i++) {
      for (let j = 0; j < TN / 4; j++) {
        const v = [0, 1, 2, 3].map((r) => `requant(c_${4 * i + r}_${j}, ws${j}, bias${j})`);
        store.push(
          `  store_pool(mp + ${i}u, at${i}, n0 + ${j * 4}u, max(max(${v[0]}, ${v[1]}), max(${v[2]}, ${
            v[3]
          })));`,
        );
      }
    }
  } else {
    for (let i = 0; i < TM; i++) {
      for (let j = 0; j < TN / 4; j++) {
        store.push(`  store4(m0 + ${i}u, yo${i}, n0 + ${j * 4}u, c_${i}_${j}, ws${j}, bias${j});`);
      }
    }
  }
  u = { ACC_DECL: decl.join("\n"), K_STEP: step.join("\n"), STORE: store.join("\n") };
  gemmCode.set(key, u);
  return u;
}

/**
 * Rows per register block of the int8 product: 16 (4 pooled pixels) when the epilogue pools, else
 * 8. Measured (process CPU time of a 256-image int8 seed-CNN forward, variants interleaved in one
 * process, median of 9): 16 rows for both pooled convs took 51.8 → 45.4 ms (dot4I8Packed) and
 * 51.7 → 45.9 ms (unpacking); 16 rows for the Linears, 24 or 32 rows, or 32 columns were no
 * better or slower (llvmpipe spills the accumulators; a larger body spills more).
 */
const blockRows = (pool: boolean) => pool ? 16 : 8;
/** Output columns per register block. */
const TN = 16;
const roundUp = (v: number, to: number) => Math.ceil(v / to) * to;

/** @internal The geometry of a convolution's patch rows (a Linear is C = K and the rest 1). */
export interface PatchGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  stride: number;
  pad: number;
  dil: number;
  /** A Linear's input stored K-major ([K4][M] words: the block's rows adjacent), not row-major. */
  kMajor?: boolean;
}

/** @internal An int8 operand of int8_gemm.wgsl (see its header): the quantized input XQ or the reordered filters WT. */
export interface PackedT {
  t: Tensor;
  /** Patch rows (XQ) or output channels (WT). */
  rows: number;
  /** The geometry it was made for. */
  g: PatchGeometry;
  /** WT: the padded row count ldw. */
  ld: number;
}

function gemmDispatch(
  entry: string,
  path: Int8DotPath,
  b: {
    XF?: Tensor;
    XR?: Tensor;
    WT?: Tensor;
    WS?: Tensor;
    BIAS?: Tensor | null;
    XQ: Tensor;
    ACC?: Tensor | null;
    Y?: Tensor;
  },
  g: PatchGeometry,
  params: Record<string, number>,
  invocations: number,
  cost?: { flops: number; bytes: number },
  pool = false,
): void {
  const ph = placeholderBuffer();
  const scratch: Tensor[] = [];
  const rw = (t: Tensor | null | undefined) => {
    if (t) return t.buffer;
    const s = empty([1]);
    scratch.push(s);
    return s.buffer;
  };
  const { words: _w, size: _s, ...packing } = layout(g);
  const p = {
    M: 0,
    N: 0,
    K: g.C * g.KH * g.KW,
    K4: 0,
    ldw4: 0,
    tiles_n: 0,
    has_bias: 0,
    write_acc: 0,
    pos: g.OH * g.OW,
    sx: 0,
    inv_sx: 0,
    label: 0,
    C: g.C,
    H: g.H,
    W: g.W,
    KH: g.KH,
    KW: g.KW,
    OW: g.OW,
    stride: g.stride,
    pad: g.pad,
    dil: g.dil,
    total: invocations,
    Hp: g.H + 2 * g.pad,
    Wp: g.W + 2 * g.pad,
    C4: Math.ceil(g.C / 4),
    relu: 0,
    PH: 0,
    PW: 0,
    out_q: 0,
    q_Hp: 0,
    q_Wp: 0,
    q_pad: 0,
    q_C4: 0,
    ...packing,
    ...params,
  };
  dispatch({
    shader: "int8_gemm",
    entry,
    constants: { TM: blockRows(pool), TN, ...gemmUnroll(blockRows(pool), TN, path, pool) },
    buffers: [
      b.XF?.buffer ?? ph,
      b.XR?.buffer ?? ph,
      b.WT?.buffer ?? ph,
      b.WS?.buffer ?? ph,
      b.BIAS?.buffer ?? ph,
      b.XQ.buffer,
      rw(b.ACC),
      rw(b.Y),
      errorFlags(),
    ],
    params: p,
    invocations,
    cost,
  });
  for (const s of scratch) s.dispose();
}

/**
 * How the patches are packed (see shaders/int8_gemm.wgsl): channels four to a word (K ordered
 * ky, kx, c: no waste when C is a multiple of 4), or, when that takes more words, four filter
 * columns to a word (c, ky, kx: a 3-wide filter on 1 channel takes 3 words per patch, not 9).
 */
function layout(g: PatchGeometry) {
  const C4 = Math.ceil(g.C / 4), KW4 = Math.ceil(g.KW / 4);
  const Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  if (g.kMajor) {
    return {
      slide: 2,
      LA: 1,
      LB: 1,
      LC: C4,
      SA: 0,
      SB: 0,
      SC: g.N,
      s_img: 1,
      s_oy: 0,
      s_ox: 0,
      words: C4,
      size: g.N * C4,
    };
  }
  if (g.C * g.KH * KW4 < g.KH * g.KW * C4) {
    return {
      slide: 1,
      LA: g.C,
      LB: g.KH,
      LC: KW4,
      SA: Hp * Wp,
      SB: g.dil * Wp,
      SC: 4 * g.dil,
      s_img: g.C * Hp * Wp,
      s_oy: g.stride * Wp,
      s_ox: g.stride,
      words: g.C * g.KH * KW4,
      size: g.N * g.C * Hp * Wp,
    };
  }
  return {
    slide: 0,
    LA: g.KH,
    LB: g.KW,
    LC: C4,
    SA: g.dil * Wp * C4,
    SB: g.dil * C4,
    SC: 1,
    s_img: Hp * Wp * C4,
    s_oy: g.stride * Wp * C4,
    s_ox: g.stride * C4,
    words: g.KH * g.KW * C4,
    size: g.N * Hp * Wp * C4,
  };
}

/** @internal Whether x is a packed int8 operand (not a float tensor). */
export function isPacked(x: Tensor | PackedT): x is PackedT {
  return !(x instanceof Tensor);
}

/** @internal Whether the product reads this conv's input packed by channels (what `int8GemmPacked` writes). */
export function packsChannels(g: PatchGeometry): boolean {
  return !g.kMajor && layout(g).slide === 0;
}

/** @internal The geometry of a Linear's [M, K] input as patches (1×1, K channels). */
export function denseGeometry(M: number, K: number, kMajor = false): PatchGeometry {
  return { N: M, C: K, H: 1, W: 1, KH: 1, KW: 1, OH: 1, OW: 1, stride: 1, pad: 0, dil: 1, kMajor };
}

function checkSteps(g: PatchGeometry): void {
  const l = layout(g);
  checkLoopSteps(
    "int8",
    l.LA * l.LB * (l.LC + 1) + l.LA + 16,
    `an int8 dot product over K = ${g.C * g.KH * g.KW}`,
  );
}

/**
 * @internal Quantizes x (NCHW, or a Linear's [M, K] input under `denseGeometry`) to the packed
 * channels-last operand XQ with zero borders, in one pass (no float im2col).
 */
export function int8QuantizeInput(
  x: Tensor,
  scale: number,
  g: PatchGeometry,
  label = "quantizeInput",
): PackedT {
  assertFloat("int8QuantizeInput", x);
  checkSteps(g);
  // channels: a pixel each; columns: 4 words of a padded row each
  const l = layout(g), Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  const total = l.slide === 0
    ? l.size / Math.max(1, Math.ceil(g.C / 4))
    : l.slide === 1
    ? g.N * g.C * Hp * Math.ceil(Wp / 4)
    : l.size;
  const t = empty([Math.max(l.size, 1)], "int32");
  if (total > 0) {
    gemmDispatch(
      "quantize",
      "unpack",
      { XF: x, XQ: t },
      g,
      {
        inv_sx: Math.fround(1 / scale),
        label: flagLabel(label),
      },
      total,
      { flops: 0, bytes: 4 * (x.size + l.size) },
    );
  }
  return { t, rows: g.N * g.OH * g.OW, g, ld: 0 };
}

/**
 * @internal Packed row-major filters [out, K4] in (c, ky, kx) order (`g`: the conv's geometry,
 * or `denseGeometry`) as the gemm's WT operand.
 */
export function int8Weights(r: Tensor, g: PatchGeometry): PackedT {
  const [rows, K4] = r.shape, ld = roundUp(Math.max(rows, 1), TN);
  const Kw = layout(g).words;
  const t = empty([Kw * ld], "int32");
  const total = Kw * (ld / 4);
  if (total > 0) gemmDispatch("weights", "unpack", { XR: r, XQ: t }, g, { M: rows, K4, ldw4: ld / 4 }, total);
  return { t, rows, g, ld };
}

/**
 * @internal What the int8 product does to its output before storing it (shaders/int8_gemm.wgsl):
 * ReLU, then a 2×2 stride-2 max pool (a conv's output), then, with `next`, quantization straight
 * into the next conv's packed input (`int8GemmPacked`).
 */
export interface Int8Epilogue {
  /** max(y, 0), as a ReLU after the layer. */
  relu?: boolean;
  /** A 2×2 stride-2 max pool (no padding, as MaxPool2d(2)) of the conv's output, after the ReLU. */
  pool?: boolean;
}

/** @internal The pooled output size of a conv geometry (⌊OH/2⌋ × ⌊OW/2⌋). */
export function pooledSize(g: PatchGeometry): [number, number] {
  return [Math.floor(g.OH / 2), Math.floor(g.OW / 2)];
}

/**
 * @internal The int8 product of the patch rows of x (from `int8QuantizeInput`) and the filters w
 * (from `int8Weights`, same geometry): the i32 accumulators [M, N] (when `withAccumulators`) and
 * y = acc · inputScale · weightScales[n] + bias[n], stored as the conv's NCHW output (row-major
 * [M, N] for a dense geometry), with `shape` (default [M, N]); `epilogue` applies a ReLU and a
 * 2×2 max pool (then y is [N, out, ⌊OH/2⌋, ⌊OW/2⌋]) on the registers.
 */
export function int8Gemm(
  x: PackedT,
  w: PackedT,
  weightScales: Tensor,
  bias: Tensor | null,
  o: {
    inputScale: number;
    path?: Int8DotPath;
    withAccumulators?: boolean;
    shape?: number[];
    epilogue?: Int8Epilogue;
  },
): { acc: Tensor | null; y: Tensor } {
  const g = x.g, N = w.rows, pool = o.epilogue?.pool ?? false;
  if (pool && o.withAccumulators) throw new Error("int8Gemm: a pooled product has no accumulators to return");
  const [PH, PW] = pooledSize(g);
  const shape = pool ? [g.N, N, PH, PW] : o.shape ?? [x.rows, N];
  const acc = o.withAccumulators ? empty([x.rows, N], "int32") : null, y = empty(shape);
  if (y.size === 0) return { acc, y };
  gemmCore(x, w, weightScales, bias, o, { acc, y });
  return { acc, y };
}

/**
 * @internal The int8 product of a conv, its ReLU and 2×2 stride-2 max pool, quantized on the
 * registers with `scale` straight into the packed input of the next conv (geometry `next`, whose
 * input is this pooled output): no float activation is written, and the next layer needs no
 * quantization pass. `label` names the next layer when a value has no int8 (a NaN). Bit for bit
 * `int8QuantizeInput` of `int8Gemm`'s pooled output.
 */
export function int8GemmPacked(
  x: PackedT,
  w: PackedT,
  weightScales: Tensor,
  bias: Tensor | null,
  o: { inputScale: number; path?: Int8DotPath; relu?: boolean },
  next: { scale: number; g: PatchGeometry; label: string },
): PackedT {
  const g = x.g, g2 = next.g, N = w.rows, [PH, PW] = pooledSize(g), l2 = layout(g2);
  if (g2.N !== g.N || g2.C !== N || g2.H !== PH || g2.W !== PW || l2.slide !== 0) {
    throw new Error(
      `int8GemmPacked: the next layer's input [${g2.N}, ${g2.C}, ${g2.H}, ${g2.W}] (packing ${l2.slide}) is not this layer's pooled output [${g.N}, ${N}, ${PH}, ${PW}] packed by channels`,
    );
  }
  if (!(next.scale > 0) || !Number.isFinite(next.scale)) {
    throw new Error(`int8GemmPacked: scale must be positive, got ${next.scale}`);
  }
  checkSteps(g2);
  // the border words are the zero padding the next product reads
  const t = g2.pad > 0
    ? zeros([Math.max(l2.size, 1)], { dtype: "int32" })
    : empty([Math.max(l2.size, 1)], "int32");
  if (g.N * PH * PW > 0 && N > 0) {
    gemmCore(x, w, weightScales, bias, { ...o, epilogue: { relu: o.relu, pool: true } }, {
      acc: null,
      y: null,
      next: { t, scale: next.scale, g: g2, label: next.label },
    });
  }
  return { t, rows: g2.N * g2.OH * g2.OW, g: g2, ld: 0 };
}

function gemmCore(
  x: PackedT,
  w: PackedT,
  weightScales: Tensor,
  bias: Tensor | null,
  o: { inputScale: number; path?: Int8DotPath; epilogue?: Int8Epilogue },
  out: {
    acc: Tensor | null;
    y: Tensor | null;
    next?: { t: Tensor; scale: number; g: PatchGeometry; label: string };
  },
): void {
  const g = x.g, N = w.rows, K = g.C * g.KH * g.KW, pool = o.epilogue?.pool ?? false;
  checkSteps(g);
  const [PH, PW] = pooledSize(g);
  if (pool && (g.kMajor || PH * PW === 0)) {
    throw new Error(`int8Gemm: a 2×2 max pool needs a conv output of at least 2×2, got ${g.OH}×${g.OW}`);
  }
  // pooled: 4 rows per pooled pixel (its window), the conv pixels no window reads skipped
  const M = pool ? 4 * g.N * PH * PW : x.rows;
  const tilesN = Math.ceil(N / TN), tiles = Math.ceil(M / blockRows(pool)) * tilesN;
  const Kw = g.KH * g.KW * Math.ceil(g.C / 4);
  const q = out.next;
  const written = q ? q.t.size : out.y!.size;
  gemmDispatch(
    "gemm",
    o.path ?? int8DotPath(),
    {
      WT: w.t,
      WS: weightScales,
      BIAS: bias,
      XQ: x.t,
      ACC: q ? q.t : out.acc,
      Y: out.y ?? undefined,
    },
    g,
    {
      M,
      N,
      ldw4: w.ld / 4,
      tiles_n: tilesN,
      has_bias: bias ? 1 : 0,
      write_acc: out.acc ? 1 : 0,
      sx: o.inputScale,
      relu: o.epilogue?.relu ? 1 : 0,
      PH,
      PW,
      ...(pool ? { pos: PH * PW } : {}),
      ...(q
        ? {
          out_q: 1,
          inv_sx: Math.fround(1 / q.scale),
          label: flagLabel(q.label),
          q_Hp: q.g.H + 2 * q.g.pad,
          q_Wp: q.g.W + 2 * q.g.pad,
          q_pad: q.g.pad,
          q_C4: Math.ceil(q.g.C / 4),
        }
        : {}),
    },
    tiles,
    { flops: 2 * M * N * K, bytes: 4 * (x.t.size + Kw * N) + 4 * written + (out.acc ? 4 * M * N : 0) },
    pool,
  );
}
