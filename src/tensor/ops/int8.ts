/**
 * The int8 kernels (shaders/int8.wgsl): quantizing a float matrix to packed int8 on the GPU,
 * and the int8 matrix product with exact i32 accumulators and a float requantized output. The
 * 4-way dot product is WGSL's `dot4I8Packed` where the adapter has it and an unpacking path
 * where not, chosen at run time (`int8DotPath`), or forced. Quantized layers are built on
 * these in src/compress/int8.ts.
 */
import { type AdapterInfo, adapterInfo, hasPackedIntegerDot } from "../../gpu/device.ts";
import { errorFlags, flagLabel } from "../../gpu/errors.ts";
import { checkLoopSteps } from "../../gpu/loops.ts";
import { dispatch } from "../../gpu/queue.ts";
import { assertFloat, assertLive, empty, type Tensor } from "../tensor.ts";

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
 * SwiftShader by name) the built-in is emulated and measured slower than unpacking: a
 * 256×32×13×13→64 conv took 313.8 ms with it, 181.6 ms unpacking, 235.9 ms in float32
 * (bench/compress.ts). Either path can be forced where a layer runs.
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
  run("quantize", "unpack", [x, x, x, x, x, out, null], {
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
  path: Int8DotPath,
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
  checkLoopSteps("int8", p.K4 + 16, `an int8 dot product over K = ${p.K}`);
  const scratch = b[6] ? null : empty([1]);
  dispatch({
    shader: "int8",
    entry,
    constants: { DOT: path === "builtin" ? "dot4I8Packed" : "dot4_unpack" },
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
  const acc = empty([M, N], "int32"), y = empty([M, N]);
  if (acc.size === 0) return { acc, y };
  run(
    "linear",
    options.path ?? int8DotPath(),
    [xq, wq, weightScales, bias ?? weightScales, weightScales, acc, y],
    { M, N, K, K4, sx: options.inputScale, hasBias: bias !== null },
    Math.ceil(M / 4) * Math.ceil(N / 4), // 4×4 outputs per invocation
  );
  return { acc, y };
}
