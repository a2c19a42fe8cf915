/**
 * 2-D convolution and pooling over NCHW tensors.
 *
 * Convolution is im2col (shaders/conv.wgsl) into the register-tiled matmul
 * (shaders/matmul.wgsl), with the bias fused into the matmul. Its backward pass is two more
 * matmuls: the filter gradient dY·colsᵀ (ONE product whose reduction runs over every image and
 * pixel, on dY as pixel rows and the patches gathered again as rows; the bias gradient rides
 * along as a column of ones) and the input gradient col2im(Wᵀ·dY). conv.wgsl and pool.wgsl are
 * compiled per geometry (constants), so their index arithmetic has no runtime divisions.
 *
 * A transposed convolution is that input gradient run forward: col2im(Wᵀ·x), with the geometry of
 * the convolution it transposes (whose input is its output); its own backward is im2col(dY) into
 * the same products as a convolution's forward pass and filter gradient.
 */
import { placeholderBuffer } from "../../gpu/pool.ts";
import { checkLoopSteps, LLVMPIPE_LOOP_STEPS, LOOP_STEPS_PER_INVOCATION } from "../../gpu/loops.ts";
import { dispatch } from "../../gpu/queue.ts";
import { isGradEnabled, record } from "../graph.ts";
import { assertFloat, empty, own, type Tensor } from "../tensor.ts";
import { mm } from "./matmul.ts";
import { launchCopy } from "../kernels.ts";
import { reduceORI } from "./reduce_raw.ts";
import { max, mean } from "./reduce.ts";
import { concat, reshape, slice } from "./shape.ts";
import { device, kernelPath } from "../../gpu/device.ts";
import { convGemm, convGemmRuns } from "./conv_gemm.ts";

/** Bytes one im2col patch matrix may take: a quarter of the largest storage binding, at most 128 MiB. */
const COLS_BUDGET = () => Math.min(device().limits.maxStorageBufferBindingSize / 4, 128 << 20);

/** Options for `conv2d`. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: number;
  /** Zeros added on each side (default 0). */
  padding?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
}

interface Geometry {
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
}

/** A per-axis option given as one number or [height, width], checked to be integers >= min. */
function pair(op: string, what: string, v: number | readonly number[], min: number): [number, number] {
  const p = typeof v === "number" ? [v, v] : [...v];
  if (p.length !== 2 || !p.every((x) => typeof x === "number" && Number.isInteger(x) && x >= min)) {
    throw new Error(
      `${op}: ${what} must be ${min === 0 ? "a non-negative" : "a positive"} integer or a pair of them, got ${
        JSON.stringify(v)
      }`,
    );
  }
  return p as [number, number];
}

function outSize(op: string, n: number, k: number, stride: number, pad: number, dil: number): number {
  const o = Math.floor((n + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  if (o <= 0) {
    throw new Error(`${op}: input size ${n} is too small for kernel ${k} (padding ${pad}, dilation ${dil})`);
  }
  return o;
}

function im2col(
  x: Tensor,
  dst: Tensor,
  g: Geometry,
  sN: number,
  sK: number,
  sP: number,
  ones = false,
): void {
  const n = g.N * g.C * g.OH * g.OW;
  dispatch({
    shader: "conv",
    entry: "im2col",
    constants: { ...convConstants(g), ONES: ones ? 1 : 0 },
    buffers: [x.buffer, dst.buffer],
    params: convParams(g, n, sN, sK, sP),
    invocations: n,
    cost: { bytes: 4 * (x.size + n * g.KH * g.KW) },
  });
}

/** conv.wgsl's compile-time geometry (one pipeline per geometry; see the shader's header). */
function convConstants(g: Geometry): Record<string, number> {
  return {
    C: g.C,
    H: g.H,
    W: g.W,
    KH: g.KH,
    KW: g.KW,
    OH: g.OH,
    OW: g.OW,
    STRIDE: g.stride,
    PAD: g.pad,
    DIL: g.dil,
    ONES: 0,
  };
}

function convParams(g: Geometry, total: number, sN: number, sK: number, sP: number) {
  // im2col and col2im walk the kernel window in one invocation
  checkLoopSteps("conv", g.KH * (g.KW + 1), `a ${g.KH}×${g.KW} kernel`);
  return { ...g, total, sN, sK, sP };
}

/**
 * @internal The patch matrix of a convolution as rows: [N·OH·OW, C·KH·KW], row (n, oh, ow)
 * holding the window under output pixel (oh, ow) of image n in the weight's (c, kh, kw) order
 * (zeros where the window hangs over the padding). What a quantized conv multiplies by its
 * int8 weights. No autograd.
 */
export function patchRows(
  x: Tensor,
  KH: number,
  KW: number,
  options: Conv2dOptions = {},
): { rows: Tensor; OH: number; OW: number } {
  assertFloat("patchRows", x);
  if (x.ndim !== 4) throw new Error(`patchRows: expected [N, C, H, W], got [${x.shape.join(", ")}]`);
  const [N, C, H, W] = x.shape;
  const stride = options.stride ?? 1, pad = options.padding ?? 0, dil = options.dilation ?? 1;
  const OH = outSize("conv2d", H, KH, stride, pad, dil), OW = outSize("conv2d", W, KW, stride, pad, dil);
  const K = C * KH * KW, P = OH * OW;
  const rows = empty([N * P, K]);
  im2col(x, rows, { N, C, H, W, KH, KW, OH, OW, stride, pad, dil }, P * K, 1, K);
  return { rows, OH, OW };
}

/**
 * @internal A convolution's operands and options checked (errors name `op`), with its geometry:
 * sizes, output size, and one stride, padding and dilation for both axes. The input may be given
 * as its shape alone (an intermediate that is never a tensor: conv2dFusedChain's).
 */
export function convGeometry(
  op: string,
  x: Tensor | readonly number[],
  weight: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions,
): Geometry & { Cout: number } {
  const shape = "shape" in x ? x.shape : x;
  if ("shape" in x) assertFloat(op, x);
  assertFloat(op, weight);
  if (shape.length !== 4 || weight.ndim !== 4 || shape[1] !== weight.shape[1]) {
    throw new Error(
      `${op}: expected input [N, C, H, W] and weight [Cout, C, KH, KW] with matching C, got [${
        shape.join(", ")
      }] and [${weight.shape.join(", ")}]`,
    );
  }
  const [N, C, H, W] = shape;
  const [Cout, , KH, KW] = weight.shape;
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Cout)) {
    throw new Error(`${op}: bias [${bias.shape.join(", ")}] does not match ${Cout} output channels`);
  }
  const [stride, pad, dil] = ([["stride", 1, 1], ["padding", 0, 0], ["dilation", 1, 1]] as const).map(
    ([what, dflt, min]) => {
      const [a, b] = pair(op, what, options[what] ?? dflt, min);
      if (a !== b) throw new Error(`${op}: a different ${what} per axis is not supported, got [${a}, ${b}]`);
      return a;
    },
  );
  const OH = outSize(op, H, KH, stride, pad, dil), OW = outSize(op, W, KW, stride, pad, dil);
  return { N, C, H, W, KH, KW, OH, OW, stride, pad, dil, Cout };
}

/**
 * Convolution of x [N, Cin, H, W] with weight [Cout, Cin, KH, KW] and optional bias [Cout].
 *
 * @example
 * ```ts
 * import { conv2d, randn } from "glassbox";
 * const y = conv2d(randn([8, 1, 28, 28]), randn([32, 1, 3, 3]), null, { padding: 1 }); // [8, 32, 28, 28]
 * ```
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: Conv2dOptions = {},
): Tensor {
  const gg = convGeometry("conv2d", x, weight, bias, options);
  const { Cout, ...g } = gg;
  const { N, C, KH, KW, OH, OW } = g;
  const K = C * KH * KW, P = OH * OW, ldp = Math.ceil(P / 4) * 4;
  // the patch matrix of a large batch can exceed what one binding holds: convolve in chunks of
  // images then (slice and concat carry the gradient). The implicit GEMM (shaders/conv_gemm.wgsl,
  // on a software adapter) has no patch matrix, but the backward pass still does.
  const perImage = Math.max(K * ldp, P * Math.ceil(K / 4) * 4) * 4; // forward patches, or the filter gradient's
  const fit = Math.max(1, Math.floor(COLS_BUDGET() / perImage));
  const gemm = kernelPath() === "cpu" && convGemmRuns(gg);
  const needsGrad = isGradEnabled() && [x, weight, bias].some((t) => t?.requiresGrad);
  if (N > fit && (needsGrad || !gemm)) {
    const parts: Tensor[] = [];
    for (let s = 0; s < N; s += fit) {
      parts.push(conv2d(slice(x, s, Math.min(N, s + fit)), weight, bias, options));
    }
    return concat(parts, 0);
  }
  let y: Tensor;
  if (gemm) {
    // one implicit GEMM over the whole batch, written as NCHW
    y = convGemm(x, weight, bias, gg, { activation: "none", slope: 0, pool: false }).y;
  } else {
    const cols = empty([N * K * ldp]);
    im2col(x, cols, g, K * ldp, ldp, 1);
    // C[n][Cout][P] = W[Cout][K] · cols[n][K][P]
    const out = mm(
      { t: weight, sb: 0, sk: 1, sx: K },
      { t: cols, sb: K * ldp, sk: ldp, sx: 1 },
      N,
      Cout,
      P,
      K,
      bias,
      2,
    );
    y = out._view([N, Cout, OH, OW]);
    out.dispose();
    cols.dispose();
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const node = record(y, "conv2d", inputs, (dy) => {
    const res: (Tensor | null)[] = [null, null, null];
    if (weight.requiresGrad) {
      // the bias gradient comes with it when both are wanted (a column of ones in the patches)
      const { dw, sums } = filterGradient(dy, Cout, x, g, !!bias?.requiresGrad);
      res[1] = dw._view(weight.shape);
      dw.dispose();
      res[2] = sums;
    }
    if (x.requiresGrad) {
      // dcols[n][K][P] = W^T[K][Cout] · dY[n][Cout][P], then col2im; dY's rows padded to a
      // multiple of 4 first when P is not one (pad_rows, cheaper than the matmul's generic pack)
      const ldq = Math.ceil(P / 4) * 4;
      const dyp = P === ldq ? dy : padRows(dy, N * Cout, g);
      const dcols = mm(
        { t: weight, sb: 0, sk: K, sx: 1 },
        { t: dyp, sb: Cout * ldq, sk: ldq, sx: 1 },
        N,
        K,
        P,
        Cout,
      );
      if (dyp !== dy) dyp.dispose();
      const dx = empty(x.shape);
      dispatch({
        shader: "conv",
        entry: "col2im",
        constants: convConstants(g),
        buffers: [dcols.buffer, dx.buffer],
        cost: { bytes: 4 * (dcols.size + dx.size) },
        params: convParams(g, x.size, K * P, P, 1),
        invocations: x.size,
      });
      dcols.dispose();
      res[0] = dx;
    }
    if (bias?.requiresGrad && !res[2]) res[2] = biasGradient(dy, N, Cout, P);
    return bias ? res : res.slice(0, 2);
  });
  return node;
}

/** How many invocations the filter gradient's GEMM should have at least (split over groups of images). */
const FILTER_GRAD_INVOCATIONS = 1024;

/**
 * A convolution's filter gradient as ONE matrix product whose reduction runs over every image and
 * output pixel at once: dW[M][K] = Σ_(n,p) A[n][M][p] · cols[n][K][p] with A the [N][M][P]
 * gradient (or, for a transposed convolution, its input) and cols the patches of `src` under
 * geometry g. A is laid out as pixel rows [N·P][M] (pixel_rows), the patches as [N·P][K]
 * (im2col), both K-major for matmul.wgsl with no further copy. The images are split into G
 * groups only to give the GEMM enough invocations (and a reduction under the loop budget); the
 * G partial products are summed after. With `sums`, the patch rows get one more column of ones
 * (im2col's ONES), so the same product also yields Σ_(n,p) A[n][m][p]: a convolution's bias
 * gradient, at no extra pass over A. Returns dW [M·K] and those sums [M] (or null).
 */
function filterGradient(
  a: Tensor,
  M: number,
  src: Tensor,
  g: Geometry,
  sums = false,
): { dw: Tensor; sums: Tensor | null } {
  const { N, KH, KW } = g, C = g.C, P = g.OH * g.OW, K = C * KH * KW;
  const KS = sums ? K + 1 : K; // the product's columns
  const ldm = Math.ceil(M / 4) * 4, ldk = Math.ceil(KS / 4) * 4;
  const rows = empty([N * P * ldm]);
  // 4×4 blocks (vec4 both ways) when the pixels come in fours
  const blocks = P % 4 === 0 ? N * (P / 4) * (ldm / 4) : N * P * (ldm / 4);
  dispatch({
    shader: "conv",
    entry: P % 4 === 0 ? "pixel_rows4" : "pixel_rows",
    constants: { ...convConstants(g), C: M },
    buffers: [a.buffer, rows.buffer],
    params: { ...convParams(g, blocks, 0, ldm, 0), C: M },
    invocations: blocks,
    cost: { bytes: 4 * (N * P * M + N * P * ldm) },
  });
  const colsT = empty([N * P * ldk]);
  im2col(src, colsT, g, P * ldk, 1, ldk, sums);
  // the smallest number of groups (a divisor of N) that gives enough invocations
  const tiles = (G: number) => {
    const big = G * Math.ceil(M / 16) * Math.ceil(KS / 16) >= 8;
    return G * (big ? Math.ceil(M / 16) * Math.ceil(KS / 16) : Math.ceil(M / 4) * Math.ceil(KS / 4));
  };
  let G = N;
  for (let d = 1; d <= N; d++) {
    if (N % d === 0 && (N / d) * P <= LOOP_STEPS_PER_INVOCATION && tiles(d) >= FILTER_GRAD_INVOCATIONS) {
      G = d;
      break;
    }
  }
  const per = N / G;
  let full = mm(
    { t: rows, sb: per * P * ldm, sk: ldm, sx: 1 },
    { t: colsT, sb: per * P * ldk, sk: ldk, sx: 1 },
    G,
    M,
    KS,
    per * P,
  );
  rows.dispose();
  colsT.dispose();
  if (G > 1) {
    const [r] = reduceORI(full, 1, G, M * KS, false, 1);
    full.dispose();
    full = r;
  }
  if (!sums) return { dw: full, sums: null };
  // split [M][K + 1] into dW [M][K] and the sums column
  const dw = empty([M * K]), s = empty([M]);
  launchCopy(full, dw, "float32", [M, K], [KS, 1], [K, 1]);
  launchCopy(full, s, "float32", [M], [KS], [1], K);
  full.dispose();
  return { dw, sums: s };
}

/** `rows` rows of OH·OW values (geometry g) copied with each row padded to a multiple of 4. */
function padRows(src: Tensor, rows: number, g: Geometry): Tensor {
  const P = g.OH * g.OW, ld = Math.ceil(P / 4) * 4;
  const dst = empty([rows * ld]);
  dispatch({
    shader: "conv",
    entry: "pad_rows",
    constants: convConstants(g),
    buffers: [src.buffer, dst.buffer],
    params: convParams(g, rows * (ld / 4), 0, 0, 0),
    invocations: rows * (ld / 4),
    cost: { bytes: 4 * (rows * P + rows * ld) },
  });
  return dst;
}

/** A bias gradient: dY [N][C][P] summed over images (one strided pass), then over pixels. Returns [C]. */
function biasGradient(dy: Tensor, N: number, C: number, P: number): Tensor {
  let perPixel = dy;
  if (N > 1) [perPixel] = reduceORI(dy, 1, N, C * P, false, 1);
  const [db] = reduceORI(perPixel, C, P, 1, false, 1);
  if (perPixel !== dy) perPixel.dispose();
  const out = db._view([C]);
  db.dispose();
  return out;
}

/** Options for `convTranspose2d` (PyTorch's `conv_transpose2d`, groups 1). */
export interface ConvTranspose2dOptions {
  /** Step between the windows of the convolution this one transposes (default 1). */
  stride?: number;
  /** Rows and columns taken off each side of the output: dilation·(k − 1) − padding of zeros pad the input (default 0). */
  padding?: number;
  /** Extra rows and columns added on one side (bottom, right) of the output (default 0); smaller than stride or dilation. */
  outputPadding?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
}

/** One option that must be the same on both axes, as one number (a pair of equal numbers is accepted). */
function scalarOption(op: string, what: string, v: number | readonly number[], min: number): number {
  const [a, b] = pair(op, what, v, min);
  if (a !== b) throw new Error(`${op}: a different ${what} per axis is not supported, got [${a}, ${b}]`);
  return a;
}

/**
 * The output size of a transposed convolution along one axis, PyTorch's rule:
 * (n − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
 */
export function convTransposeOutSize(
  n: number,
  k: number,
  stride: number,
  pad: number,
  dil: number,
  outPad: number,
): number {
  return (n - 1) * stride - 2 * pad + dil * (k - 1) + outPad + 1;
}

/**
 * @internal A transposed convolution's options checked (integers in range, the same on both axes,
 * outputPadding below stride or dilation, as PyTorch), with their defaults filled in; errors name `op`.
 */
export function checkConvTransposeOptions(
  op: string,
  options: ConvTranspose2dOptions,
): Required<ConvTranspose2dOptions> {
  const stride = scalarOption(op, "stride", options.stride ?? 1, 1);
  const padding = scalarOption(op, "padding", options.padding ?? 0, 0);
  const dilation = scalarOption(op, "dilation", options.dilation ?? 1, 1);
  const outputPadding = scalarOption(op, "outputPadding", options.outputPadding ?? 0, 0);
  if (outputPadding >= stride && outputPadding >= dilation) {
    throw new Error(
      `${op}: outputPadding ${outputPadding} must be smaller than either stride ${stride} or dilation ${dilation}`,
    );
  }
  return { stride, padding, dilation, outputPadding };
}

/**
 * Transposed convolution of x [N, Cin, H, W] with weight [Cin, Cout, KH, KW] (PyTorch's layout
 * for `ConvTranspose2d`) and optional bias [Cout]: the gradient of `conv2d` with respect to its
 * input, so a stride-2 layer doubles the size. Output [N, Cout, OH, OW] with
 * OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + outputPadding + 1 (likewise OW).
 *
 * It runs as the convolution's backward pass does: Wᵀ·x per image (matmul.wgsl), then col2im
 * (conv.wgsl, a gather); its input gradient is im2col(dY) then W·cols, its weight gradient
 * x·colsᵀ summed over the batch.
 *
 * @example
 * ```ts
 * import { convTranspose2d, ones } from "glassbox";
 * const y = convTranspose2d(ones([1, 1, 2, 2]), ones([1, 1, 3, 3]), null, { stride: 2, padding: 1, outputPadding: 1 });
 * // (2 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 4
 * if (y.shape.join() !== "1,1,4,4") throw new Error(`shape ${y.shape}`);
 * // each input pixel spreads a 3×3 block of ones with step 2: the centre row and column overlap
 * const want = [1, 2, 1, 1, 2, 4, 2, 2, 1, 2, 1, 1, 1, 2, 1, 1];
 * if ((await y.toArray()).join() !== want.join()) throw new Error("convTranspose2d");
 * ```
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: ConvTranspose2dOptions = {},
): Tensor {
  const op = "convTranspose2d";
  assertFloat(op, x);
  assertFloat(op, weight);
  if (x.ndim !== 4 || weight.ndim !== 4 || x.shape[1] !== weight.shape[0]) {
    throw new Error(
      `${op}: expected input [N, Cin, H, W] and weight [Cin, Cout, KH, KW] with matching Cin, got [${
        x.shape.join(", ")
      }] and [${weight.shape.join(", ")}]`,
    );
  }
  const [N, Cin, H, W] = x.shape;
  const [, Cout, KH, KW] = weight.shape;
  if (bias) {
    assertFloat(op, bias);
    if (bias.ndim !== 1 || bias.shape[0] !== Cout) {
      throw new Error(`${op}: bias [${bias.shape.join(", ")}] does not match ${Cout} output channels`);
    }
  }
  const { stride, padding: pad, dilation: dil, outputPadding: outPad } = checkConvTransposeOptions(
    op,
    options,
  );
  const OH = convTransposeOutSize(H, KH, stride, pad, dil, outPad);
  const OW = convTransposeOutSize(W, KW, stride, pad, dil, outPad);
  if (OH <= 0 || OW <= 0) {
    throw new Error(
      `${op}: the output would be ${OH}×${OW} for input ${H}×${W}, kernel ${KH}×${KW}, stride ${stride}, padding ${pad}, dilation ${dil}, outputPadding ${outPad}`,
    );
  }
  const K = Cout * KH * KW, P = H * W;
  // chunk a batch whose products would not fit one binding (slice and concat carry the gradient)
  const perImage = Math.max(K * Math.ceil(P / 4) * 4, P * Math.ceil(K / 4) * 4) * 4;
  const fit = Math.max(1, Math.floor(COLS_BUDGET() / perImage));
  if (N > fit) {
    const parts: Tensor[] = [];
    for (let s = 0; s < N; s += fit) {
      parts.push(convTranspose2d(slice(x, s, Math.min(N, s + fit)), weight, bias, options));
    }
    return concat(parts, 0);
  }
  // the convolution this one transposes: its input is our output, its output our input
  const g: Geometry = { N, C: Cout, H: OH, W: OW, KH, KW, OH: H, OW: W, stride, pad, dil };
  // cols[n][K][P] = Wᵀ[K][Cin] · x[n][Cin][P], then col2im gathers the columns into the image
  const cols = mm(
    { t: weight, sb: 0, sk: K, sx: 1 },
    { t: x, sb: Cin * P, sk: P, sx: 1 },
    N,
    K,
    P,
    Cin,
  );
  const y = empty([N, Cout, OH, OW]);
  dispatch({
    shader: "conv",
    entry: bias ? "col2im_bias" : "col2im",
    constants: convConstants(g),
    buffers: bias ? [cols.buffer, y.buffer, bias.buffer] : [cols.buffer, y.buffer],
    params: convParams(g, y.size, K * P, P, 1),
    invocations: y.size,
  });
  cols.dispose();
  return record(y, op, bias ? [x, weight, bias] : [x, weight], (dy) => {
    const res: (Tensor | null)[] = [null, null, null];
    if (weight.requiresGrad) {
      // dW[Cin][K] = Σ_n x[n][Cin][P] · im2col(dY)[n][K][P]ᵀ
      const { dw } = filterGradient(x, Cin, dy, g);
      res[1] = dw._view(weight.shape);
      dw.dispose();
    }
    if (x.requiresGrad) {
      // dx[n][Cin][P] = W[Cin][K] · im2col(dY)[n][K][P]: a convolution of dY
      const ldp = Math.ceil(P / 4) * 4;
      const dcols = empty([N * K * ldp]);
      im2col(dy, dcols, g, K * ldp, ldp, 1);
      const dx = mm(
        { t: weight, sb: 0, sk: 1, sx: K },
        { t: dcols, sb: K * ldp, sk: ldp, sx: 1 },
        N,
        Cin,
        P,
        K,
      );
      dcols.dispose();
      res[0] = dx._view(x.shape);
      dx.dispose();
    }
    if (bias?.requiresGrad) res[2] = biasGradient(dy, N, Cout, OH * OW);
    return bias ? res : res.slice(0, 2);
  }, [x, weight]);
}

/** Options for pooling: one number for both axes, or [height, width]. */
export interface Pool2dOptions {
  /** Default: the kernel size, per axis (as PyTorch). */
  stride?: number | [number, number];
  /** Zero padding on each side; at most half the kernel size. */
  padding?: number | [number, number];
}

function pool(
  op: "max" | "avg",
  x: Tensor,
  kernel: number | [number, number],
  options: Pool2dOptions,
): Tensor {
  const name = op === "max" ? "maxPool2d" : "avgPool2d";
  assertFloat(name, x);
  if (x.ndim !== 4) throw new Error(`${name}: expected input [N, C, H, W], got [${x.shape.join(", ")}]`);
  const [N, C, H, W] = x.shape;
  const [KH, KW] = pair(name, "kernel size", kernel, 1);
  const [SH, SW] = pair(name, "stride", options.stride ?? [KH, KW], 1);
  const [PH, PW] = pair(name, "padding", options.padding ?? 0, 0);
  if (PH * 2 > KH || PW * 2 > KW) {
    throw new Error(`${name}: padding [${PH}, ${PW}] must be at most half the kernel size [${KH}, ${KW}]`);
  }
  const OH = outSize(name, H, KH, SH, PH, 1), OW = outSize(name, W, KW, SW, PW, 1);
  const y = empty([N, C, OH, OW]);
  const idx = op === "max" ? empty([y.size], "int32") : null; // the winners, for max's backward

  const params = (total: number) => ({ N, C, H, W, KH, KW, OH, OW, SH, SW, PH, PW, total });
  // the geometry compiled into pool.wgsl; CH, CW: the most rows (columns) a backward cell spans
  const CH = Math.max(SH, H - (OH - 1) * SH + PH), CW = Math.max(SW, W - (OW - 1) * SW + PW);
  const constants = { H, W, KH, KW, OH, OW, SH, SW, PH, PW, CH, CW };
  // one invocation walks its window (forward) or the outputs covering its input (backward); a
  // global window past llvmpipe's loop budget (src/gpu/loops.ts) is a reduction over the plane
  const longWindow = KH * (KW + 1) > LLVMPIPE_LOOP_STEPS ||
    Math.ceil(KH / SH) * (Math.ceil(KW / SW) + 1) > LLVMPIPE_LOOP_STEPS;
  if (longWindow && KH === H && KW === W && PH === 0 && PW === 0) {
    y.dispose();
    idx?.dispose();
    const flat = reshape(x, [N, C, H * W]);
    return reshape(op === "max" ? max(flat, 2, true) : mean(flat, [2], true), [N, C, 1, 1]);
  }
  checkLoopSteps(name, KH * (KW + 1), `a ${KH}×${KW} window`);
  checkLoopSteps(
    name,
    Math.ceil(KH / SH) * (Math.ceil(KW / SW) + 1),
    `the backward pass of a ${KH}×${KW} window`,
  );
  dispatch({
    shader: "pool",
    entry: `${op}_fwd`,
    constants,
    buffers: [x.buffer, idx ? idx.buffer : placeholderBuffer(), y.buffer],
    params: params(y.size),
    invocations: y.size,
  });
  // windows that do not overlap: one invocation per output writes its whole stride cell
  // (a cell walks CH × CW steps, unrolled: keep it small)
  const cells = SH >= KH && SW >= KW && CH * CW <= 64;
  const out = record(y, name, [x], (dy) => {
    const dx = empty(x.shape);
    dispatch({
      shader: "pool",
      entry: cells ? `${op}_bwd_cells` : `${op}_bwd`,
      constants,
      buffers: [dy.buffer, idx ? idx.buffer : placeholderBuffer(), dx.buffer],
      params: params(cells ? y.size : x.size),
      invocations: cells ? y.size : x.size,
      cost: { bytes: 4 * (x.size + y.size * (idx ? 2 : 1)) },
    });
    return [dx];
  }, []); // max reads only the winners, which it owns
  if (idx && out.requiresGrad) own(out, idx); // the winners live exactly as long as the output
  else idx?.dispose();
  return out;
}

/**
 * Max pooling over NCHW (stride defaults to the kernel size). The gradient goes to each
 * window's maximum.
 *
 * @example
 * ```ts
 * import { maxPool2d, randn } from "glassbox";
 * maxPool2d(randn([1, 3, 8, 8]), 2).shape; // [1, 3, 4, 4]
 * ```
 */
export function maxPool2d(x: Tensor, kernel: number | [number, number], options: Pool2dOptions = {}): Tensor {
  return pool("max", x, kernel, options);
}

/** Average pooling over NCHW (stride defaults to the kernel size; padding counts as zeros). */
export function avgPool2d(x: Tensor, kernel: number | [number, number], options: Pool2dOptions = {}): Tensor {
  return pool("avg", x, kernel, options);
}
