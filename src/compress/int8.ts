/**
 * int8 arithmetic for quantized layers (the first piece of compression): symmetric
 * per-output-channel weight quantization, int8 values packed four to a u32, and the int8
 * Linear and Conv2d layers, built on the engine's int8 ops (src/tensor/ops/int8.ts:
 * `quantizeInput` and `int8Matmul`, exact i32 accumulators and a float requantized output).
 */
import { tensor } from "../tensor/create.ts";
import type { Int8DotPath, Tensor } from "../tensor/mod.ts";
import {
  denseGeometry,
  type Int8Epilogue,
  int8Gemm,
  int8GemmPacked,
  int8QuantizeInput,
  int8Weights,
  isPacked,
  type PackedT,
  packsChannels,
  type PatchGeometry,
  pooledSize,
} from "../tensor/ops/int8.ts";
import type { Linear } from "../nn/linear.ts";
import type { Conv2d } from "../nn/conv.ts";
import { reshape } from "../tensor/ops/shape.ts";
import { keep } from "../tensor/scope.ts";

/** A convolution's output size (as conv2d's). */
function outSize(op: string, n: number, k: number, stride: number, pad: number, dil: number): number {
  const o = Math.floor((n + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  if (o <= 0) {
    throw new Error(`${op}: input size ${n} is too small for kernel ${k} (padding ${pad}, dilation ${dil})`);
  }
  return o;
}

/** x rounded to the nearest integer, halves to even (as WGSL's `round`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Clamp to the narrow symmetric int8 range [−127, 127]. */
const clamp8 = (v: number) => Math.max(-127, Math.min(127, v));

/**
 * Symmetric per-row int8 quantization of a [rows, cols] float matrix (a weight, one row per
 * output channel): scale_r = max|w_r| / 127, q = round(w / scale_r) in [−127, 127], so
 * w ≈ q · scale_r. A row of zeros gets scale 1 (and zeros).
 *
 * @example
 * ```ts
 * import { quantizePerChannel } from "glassbox";
 * const { q, scales } = quantizePerChannel(Float32Array.from([0.5, -1, 0.25, 2]), 2, 2);
 * // q = [64, -127, 16, 127], scales = [1/127, 2/127]
 * ```
 */
export function quantizePerChannel(
  w: Float32Array,
  rows: number,
  cols: number,
): { q: Int8Array; scales: Float32Array } {
  if (w.length !== rows * cols) {
    throw new Error(`quantizePerChannel: ${w.length} values are not [${rows}, ${cols}]`);
  }
  const q = new Int8Array(rows * cols), scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[r * cols + c]));
    if (!Number.isFinite(max)) throw new Error(`quantizePerChannel: row ${r} has a NaN or infinite value`);
    const s = Math.fround(max > 0 ? max / 127 : 1);
    scales[r] = s;
    for (let c = 0; c < cols; c++) q[r * cols + c] = clamp8(roundHalfEven(w[r * cols + c] / s));
  }
  return { q, scales };
}

/**
 * The input quantization the kernel does, on the CPU: q = clamp(round(x · invScale), ±127)
 * with the product in float32, as WGSL computes it (for tests and calibration).
 */
export function quantizeValues(x: ArrayLike<number>, scale: number): Int8Array {
  const inv = Math.fround(1 / scale);
  return Int8Array.from(
    { length: x.length },
    (_, i) => clamp8(roundHalfEven(Math.fround(Math.fround(x[i]) * inv))),
  );
}

/**
 * Packs a [rows, cols] int8 matrix four values to a u32 word (byte 0 = the lowest column),
 * each row padded with zeros to ceil(cols / 4) words; returned as int32 bits.
 *
 * @example
 * ```ts
 * import { packInt8 } from "glassbox";
 * packInt8(Int8Array.from([1, -1, 2]), 1, 3); // [0x0002ff01]
 * ```
 */
export function packInt8(q: Int8Array, rows: number, cols: number): Int32Array {
  const k4 = Math.ceil(cols / 4), out = new Int32Array(rows * k4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * k4 + (c >> 2)] |= (q[r * cols + c] & 0xff) << (8 * (c & 3));
  }
  return out;
}

/** Signal-to-quantization-noise ratio in dB: 10·log10(Σa² / Σ(a − b)²) (Infinity when equal). */
export function sqnr(reference: ArrayLike<number>, approx: ArrayLike<number>): number {
  if (reference.length !== approx.length) {
    throw new Error(`sqnr: ${reference.length} reference values against ${approx.length}`);
  }
  let s = 0, e = 0;
  for (let i = 0; i < reference.length; i++) {
    s += reference[i] * reference[i];
    e += (reference[i] - approx[i]) ** 2;
  }
  return e === 0 ? Infinity : 10 * Math.log10(s / e);
}

/** The symmetric scale that maps the largest |x| (or its `percentile`) to 127. */
export function symmetricScale(values: ArrayLike<number>, percentile = 100): number {
  const a = Float64Array.from(values, Math.abs).sort();
  if (a.length === 0) throw new Error("symmetricScale: no values");
  const v = a[Math.min(a.length - 1, Math.max(0, Math.ceil((percentile / 100) * a.length) - 1))];
  return v > 0 ? v / 127 : 1;
}

/**
 * A Linear layer with int8 weights (per output channel) and int8 inputs (one calibrated
 * scale): y ≈ x·Wᵀ + b computed as an int8 product with i32 accumulation.
 *
 * @example
 * ```ts
 * import { Linear, QuantizedLinear, randn } from "glassbox";
 * const q = await QuantizedLinear.fromLinear(new Linear(8, 4), 3 / 127);
 * q.forward(randn([2, 8])).shape; // [2, 4]
 * ```
 */
export class QuantizedLinear {
  private constructor(
    /** Packed weights [out, ceil(in/4)]. */
    readonly weight: Tensor,
    /** One scale per output channel. */
    readonly weightScales: Tensor,
    /** The float bias, or null. */
    readonly bias: Tensor | null,
    /** The input's scale (from calibration). */
    readonly inputScale: number,
    readonly inFeatures: number,
    readonly outFeatures: number,
    /** SQNR of the int8 weights against the float ones, in dB (see `sqnr`). */
    readonly weightSqnr: number,
  ) {}

  /** The name a NaN input is reported under (`quantizeModel` sets the layer's name). */
  label = "QuantizedLinear";

  /** Quantizes a Linear's weights per output channel; `inputScale` maps inputs to int8. */
  static async fromLinear(linear: Linear, inputScale: number): Promise<QuantizedLinear> {
    const [O, I] = linear.weight.shape;
    const w = (await linear.weight.toArray()) as Float32Array;
    const { q, scales } = quantizePerChannel(w, O, I);
    const bias = linear.bias ? tensor(await linear.bias.toArray(), [O]) : null;
    const packed = tensor(packInt8(q, O, I), [O, Math.ceil(I / 4)], { dtype: "int32" });
    const weightSqnr = sqnr(w, Float32Array.from(q, (v, k) => v * scales[Math.floor(k / I)]));
    return new QuantizedLinear(packed, tensor(scales, [O]), bias, inputScale, I, O, weightSqnr);
  }

  #weightT = new Map<string, PackedT>();
  /**
   * @internal The filters as the int8 product reads them for geometry g (made once per packing:
   * a Linear read as a whole-image conv after Flatten packs its input by channels).
   */
  weightT(g: PatchGeometry): PackedT {
    const key = g.kMajor ? "rows" : packsChannels(g) ? "channels" : "columns";
    let w = this.#weightT.get(key);
    if (!w) {
      w = int8Weights(this.weight, g);
      keep(w.t); // the layer owns it (freed by dispose), whatever scope made it
      this.#weightT.set(key, w);
    }
    return w;
  }

  /**
   * @internal The int8 product of x's patch rows under `g` (a Linear's [M, in] when omitted):
   * quantized and gathered in one pass, multiplied in i32, requantized with bias.
   */
  run(
    x: Tensor,
    path: Int8DotPath | undefined,
    g: PatchGeometry | null,
    withAccumulators: boolean,
    label = this.label,
    epilogue?: Int8Epilogue,
  ): { acc: Tensor | null; y: Tensor } {
    if (!g && (x.ndim !== 2 || x.shape[1] !== this.inFeatures)) {
      throw new Error(`QuantizedLinear: expected [M, ${this.inFeatures}], got ${x.describe()}`);
    }
    const geo = g ?? denseGeometry(x.shape[0], this.inFeatures, true);
    const xt = int8QuantizeInput(x, this.inputScale, geo, label);
    try {
      return this.runPacked(xt, path, withAccumulators, epilogue);
    } finally {
      xt.t.dispose();
    }
  }

  /** @internal The product of an input already quantized with this layer's scale (`xt.g` its geometry). */
  runPacked(
    xt: PackedT,
    path: Int8DotPath | undefined,
    withAccumulators: boolean,
    epilogue?: Int8Epilogue,
  ): { acc: Tensor | null; y: Tensor } {
    const g = xt.g;
    return int8Gemm(xt, this.weightT(g), this.weightScales, this.bias, {
      inputScale: this.inputScale,
      path,
      withAccumulators,
      shape: g.kMajor ? undefined : [g.N, this.outFeatures, g.OH, g.OW],
      epilogue,
    });
  }

  /** [M, in] float → [M, out] float, through int8. */
  forward(x: Tensor, path?: Int8DotPath): Tensor {
    return this.run(x, path, null, false).y;
  }

  /** Frees the packed weights, scales and bias. */
  dispose(): void {
    for (const w of this.#weightT.values()) w.t.dispose();
    this.#weightT.clear();
    this.weight.dispose();
    this.weightScales.dispose();
    this.bias?.dispose();
  }
}

/**
 * A Conv2d with int8 weights (per output channel) and int8 inputs (one calibrated scale): the
 * patch matrix (im2col) is quantized on the GPU and multiplied by the packed weights with i32
 * accumulation.
 *
 * @example
 * ```ts
 * import { Conv2d, QuantizedConv2d, randn } from "glassbox";
 * const q = await QuantizedConv2d.fromConv2d(new Conv2d(1, 4, 3), 3 / 127);
 * q.forward(randn([2, 1, 8, 8])).shape; // [2, 4, 6, 6]
 * ```
 */
export class QuantizedConv2d {
  private constructor(
    /** The int8 product of the flattened filters [out, in·k·k]. */
    readonly linear: QuantizedLinear,
    readonly kernelSize: number,
    readonly options: { stride?: number; padding?: number; dilation?: number },
  ) {}

  /** The name a NaN input is reported under (`quantizeModel` sets the layer's name). */
  label = "QuantizedConv2d";

  /** Quantizes a Conv2d's filters per output channel; `inputScale` maps inputs to int8. */
  static async fromConv2d(conv: Conv2d, inputScale: number): Promise<QuantizedConv2d> {
    const [O, C, KH, KW] = conv.weight.shape;
    const flat = reshape(conv.weight, [O, C * KH * KW]);
    const lin = await QuantizedLinear.fromLinear({ weight: flat, bias: conv.bias } as Linear, inputScale);
    flat.dispose();
    const { stride, padding, dilation } = conv.options;
    return new QuantizedConv2d(lin, KH, { stride, padding, dilation });
  }

  /** The i32 accumulators [N·OH·OW, out] and the float output [N, out, OH, OW]. */
  forwardWithAccumulators(x: Tensor, path?: Int8DotPath): { acc: Tensor; y: Tensor } {
    const { acc, y } = this.run(x, path, true);
    return { acc: acc!, y };
  }

  /** [N, in, H, W] float → [N, out, OH, OW] float, through int8. */
  forward(x: Tensor, path?: Int8DotPath): Tensor {
    return this.run(x, path, false).y;
  }

  /** The layer through the int8 GEMM: the output, and the i32 accumulators when `acc` asks for them. */
  private run(x: Tensor, path: Int8DotPath | undefined, acc: boolean): { acc: Tensor | null; y: Tensor } {
    return this.linear.run(x, path, this.geometry(x.shape, x.describe()), acc, this.label);
  }

  /** @internal The patch geometry of an input of `shape` [N, C, H, W] (`what` names it in the error). */
  geometry(shape: readonly number[], what = `[${shape.join(", ")}]`): PatchGeometry {
    const l = this.linear, k = this.kernelSize;
    if (shape.length !== 4 || shape[1] * k * k !== l.inFeatures) {
      throw new Error(`QuantizedConv2d: expected [N, ${l.inFeatures / (k * k)}, H, W], got ${what}`);
    }
    const [N, C, H, W] = shape;
    const stride = this.options.stride ?? 1,
      pad = this.options.padding ?? 0,
      dil = this.options.dilation ?? 1;
    const OH = outSize("QuantizedConv2d", H, k, stride, pad, dil);
    const OW = outSize("QuantizedConv2d", W, k, stride, pad, dil);
    return { N, C, H, W, KH: k, KW: k, OH, OW, stride, pad, dil };
  }

  /**
   * @internal The layer with its ReLU and/or 2×2 stride-2 max pool in the product's epilogue:
   * x is a float [N, C, H, W] input, or the packed input `intoNext` of the layer before made.
   * Bit for bit the unfused layers (the float ReLU and MaxPool2d after `forward`).
   */
  forwardFused(x: Tensor | PackedT, path: Int8DotPath | undefined, epilogue: Int8Epilogue): Tensor {
    if (isPacked(x)) return this.linear.runPacked(x, path, false, epilogue).y;
    return this.linear.run(x, path, this.geometry(x.shape, x.describe()), false, this.label, epilogue).y;
  }

  /**
   * @internal The layer, its ReLU (when `relu`) and a 2×2 stride-2 max pool, quantized on the
   * registers straight into `next`'s packed input (see `int8GemmPacked`), or null when `next`
   * does not read its input packed by channels (then use `forwardFused`).
   */
  intoNext(
    x: Tensor | PackedT,
    path: Int8DotPath | undefined,
    relu: boolean,
    next: QuantizedConv2d | QuantizedLinear,
  ): PackedT | null {
    const g = isPacked(x) ? x.g : this.geometry(x.shape, x.describe());
    const [PH, PW] = pooledSize(g), C = this.linear.outFeatures;
    if (PH * PW === 0) return null;
    let g2: PatchGeometry;
    if (next instanceof QuantizedConv2d) g2 = next.geometry([g.N, C, PH, PW]);
    else {
      // a Linear after Flatten is a conv whose one filter covers the whole [C, PH, PW] image:
      // the flattened order (c, y, x) is the filter's (c, ky, kx)
      if (next.inFeatures !== C * PH * PW) return null;
      g2 = { N: g.N, C, H: PH, W: PW, KH: PH, KW: PW, OH: 1, OW: 1, stride: 1, pad: 0, dil: 1 };
    }
    if (!packsChannels(g2)) return null;
    const l = this.linear, to = next instanceof QuantizedConv2d ? next.linear : next;
    const xt = isPacked(x) ? x : int8QuantizeInput(x, l.inputScale, g, this.label);
    try {
      const o = { inputScale: l.inputScale, path, relu };
      return int8GemmPacked(xt, l.weightT(g), l.weightScales, l.bias, o, {
        scale: to.inputScale,
        g: g2,
        label: next.label,
      });
    } finally {
      if (xt !== x) xt.t.dispose();
    }
  }

  /** Frees the packed filters, scales and bias. */
  dispose(): void {
    this.linear.dispose();
  }
}
