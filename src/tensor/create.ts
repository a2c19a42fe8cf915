/**
 * Creating tensors: from data, filled, ranges and seeded random numbers.
 */
import { device } from "../gpu/device.ts";
import { launchFill } from "./kernels.ts";
import { defaultGenerator, type Generator } from "./random.ts";
import { checkShape, type DType, empty, type Tensor } from "./tensor.ts";

/** Nested arrays of numbers, e.g. `[[1, 2], [3, 4]]`. */
export type NestedNumbers = number | NestedNumbers[];

/** Options for creating a tensor. */
export interface TensorOptions {
  /** Element type (default float32). */
  dtype?: DType;
  /** Whether gradients flow to it (default false). */
  requiresGrad?: boolean;
}

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let d: NestedNumbers = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0];
  }
  return shape;
}

function flatten(data: NestedNumbers, shape: number[], out: number[], depth = 0): void {
  if (depth === shape.length) {
    if (typeof data !== "number") {
      throw new Error(`tensor(): expected a number at depth ${depth}, got ${typeof data}`);
    }
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new Error(
      `tensor(): ragged nested array: expected ${shape[depth]} elements at depth ${depth} (shape [${
        shape.join(", ")
      }])`,
    );
  }
  for (const v of data) flatten(v, shape, out, depth + 1);
}

/** @internal uploads host data into a new tensor. */
export function fromHost(data: Float32Array | Int32Array, shape: readonly number[], dtype: DType): Tensor {
  const t = empty(shape, dtype, true);
  if (data.length > 0) {
    device().queue.writeBuffer(t.buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }
  return t;
}

/**
 * Creates a tensor from a typed array or nested numbers.
 *
 * @example
 * ```ts
 * import { tensor } from "glassbox";
 * const a = tensor([[1, 2], [3, 4]]);                       // float32 [2, 2]
 * const labels = tensor([0, 3, 1], undefined, { dtype: "int32" });
 * const w = tensor(new Float32Array(6), [2, 3], { requiresGrad: true });
 * ```
 */
export function tensor(
  data: NestedNumbers | Float32Array | Int32Array | Uint8Array | number[],
  shape?: readonly number[],
  options: TensorOptions = {},
): Tensor {
  let flat: number[] | Float32Array | Int32Array | Uint8Array;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data;
    inferred = [data.length];
  } else {
    inferred = inferShape(data);
    const out: number[] = [];
    flatten(data, inferred, out);
    flat = out;
  }
  const dtype: DType = options.dtype ?? (data instanceof Int32Array ? "int32" : "float32");
  if (shape) checkShape("tensor()", shape);
  const finalShape = shape ? [...shape] : inferred;
  const n = finalShape.reduce((a, b) => a * b, 1);
  if (n !== flat.length) {
    throw new Error(
      `tensor(): ${flat.length} values do not fill shape [${finalShape.join(", ")}] (${n} elements)`,
    );
  }
  let host: Float32Array | Int32Array;
  if (dtype === "int32") {
    for (let i = 0; i < flat.length; i++) {
      const v = (flat as ArrayLike<number>)[i];
      if (!Number.isInteger(v)) {
        throw new Error(`tensor(): int32 data must be integers, got ${v} at index ${i}`);
      }
      if (v < -2147483648 || v > 2147483647) {
        throw new Error(`tensor(): ${v} at index ${i} does not fit in int32 [-2147483648, 2147483647]`);
      }
    }
    host = flat instanceof Int32Array ? flat : Int32Array.from(flat as ArrayLike<number>);
  } else {
    host = flat instanceof Float32Array ? flat : Float32Array.from(flat as ArrayLike<number>);
  }
  const t = fromHost(host, finalShape, dtype);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/**
 * A tensor filled with one value.
 *
 * @example
 * ```ts
 * import { full } from "glassbox";
 * const t = full([2, 2], 7);
 * ```
 */
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShape("full", shape);
  if (options.dtype === "int32" && !(Number.isInteger(value) && Math.abs(value + 0.5) <= 2147483648)) {
    throw new Error(`full: ${value} is not an int32 value`);
  }
  const t = empty(shape, options.dtype ?? "float32");
  launchFill(t, value);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** A tensor of zeros. @example `zeros([3, 4])` */
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** A tensor of ones. @example `ones([3])` */
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Zeros with the shape and dtype of `t`. */
export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, { dtype: t.dtype });
}

/** Ones with the shape and dtype of `t`. */
export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, { dtype: t.dtype });
}

/**
 * Values from `start` to `end` (exclusive) by `step`, like `torch.arange`.
 *
 * @example
 * ```ts
 * import { arange } from "glassbox";
 * const t = arange(0, 5); // [0, 1, 2, 3, 4]
 * ```
 */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error("arange: step must not be 0");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const vals = Array.from({ length: n }, (_, i) => start + i * step);
  return tensor(vals, [n], options);
}

/** Options for random tensors. */
export interface RandomOptions extends TensorOptions {
  /** The generator to draw from (default: the global one, seeded by `manualSeed`). */
  generator?: Generator;
}

/**
 * The element count of `shape`, checked against the adapter's largest storage binding before the
 * values are drawn on the host (an array that large would fail to allocate, or take long to fill,
 * before the GPU could refuse it).
 */
function fits(op: string, shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1), limit = device().limits.maxStorageBufferBindingSize;
  if (n * 4 > limit) {
    throw new Error(
      `${op}: a tensor of ${
        n * 4
      } bytes exceeds this adapter's largest storage binding (${limit} bytes); use smaller batches`,
    );
  }
  return n;
}

/**
 * Standard normal values from the seeded generator (see `manualSeed`).
 *
 * @example
 * ```ts
 * import { manualSeed, randn } from "glassbox";
 * manualSeed(1);
 * const w = randn([128, 784]);
 * ```
 */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  checkShape("randn", shape);
  const g = options.generator ?? defaultGenerator;
  const n = fits("randn", shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = g.normal();
  return tensor(data, shape, { requiresGrad: options.requiresGrad });
}

/** Uniform values in [0, 1) from the seeded generator. */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  checkShape("rand", shape);
  const g = options.generator ?? defaultGenerator;
  const n = fits("rand", shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = g.random();
  return tensor(data, shape, { requiresGrad: options.requiresGrad });
}
