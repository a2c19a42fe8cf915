/**
 * @internal Thin launchers for the generic kernels (unary, binary, copy, fill). Ops call these;
 * they do not record autograd.
 */
import { type Dispatch, dispatch } from "../gpu/queue.ts";
import { gpuSettings } from "../gpu/settings.ts";
import { enqueue, type FusedOp } from "./fusion.ts";
import { type DType, empty, type Tensor } from "./tensor.ts";

/**
 * Runs an elementwise launch: appended to the pending fused chain (src/tensor/fusion.ts) when
 * fusion is on, else dispatched alone at once. `fused` describes it for the chain.
 */
function elementwise(alone: Dispatch, fused: Omit<FusedOp, "alone">): void {
  if (gpuSettings().fusion) enqueue({ ...fused, alone });
  else dispatch(alone);
}

/** Operand strides for fusion: null when read at the output's index, else broadcast strides. */
function fuseStrides(t: Tensor, shape: readonly number[], n: number): number[] | null {
  return t.size === n ? null : broadcastStrides(t.shape, shape);
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** The uniform block for up to 8 dims: [shape x8, then each stride array x8]. */
function dims8(values: readonly number[]): number[] {
  if (values.length > 8) throw new Error(`tensors of more than 8 dimensions are not supported`);
  const out = new Array(8).fill(1);
  values.forEach((v, i) => (out[i] = v));
  return out;
}
function strides8(values: readonly number[]): number[] {
  const out = new Array(8).fill(0);
  values.forEach((v, i) => (out[i] = v));
  return out;
}

/**
 * Element type and the per-element application for n elements: vec4 (four elements per
 * invocation, with vec4 loads and stores) when n is a multiple of 4. `vecs` are the per-element
 * arguments, `scalars` the uniform ones.
 */
function lanes(n: number, vecs: string[], scalars: string[]): { T: string; APPLY: string; units: number } {
  if (n % 4 !== 0) return { T: "f32", APPLY: `op(${[...vecs, ...scalars].join(", ")})`, units: n };
  const call = (c: string) => `op(${[...vecs.map((v) => `${v}.${c}`), ...scalars].join(", ")})`;
  return { T: "vec4f", APPLY: `vec4f(${["x", "y", "z", "w"].map(call).join(", ")})`, units: n / 4 };
}

/** y = OP(x, a, b) elementwise. */
export function launchUnary(x: Tensor, op: string, a = 0, b = 0, label = op): Tensor {
  const y = empty(x.shape);
  if (x.size === 0) return y;
  const v = lanes(x.size, ["v"], ["a", "b"]);
  elementwise({
    shader: "unary",
    constants: { OP: op, T: v.T, APPLY: v.APPLY },
    buffers: [x.buffer, y.buffer],
    params: { n: v.units, a, b },
    invocations: v.units,
    cost: { bytes: 8 * x.size }, // x read, y written
  }, {
    label,
    names: ["x"],
    operands: [x],
    strides: [null],
    scalarNames: ["a", "b"],
    scalars: [a, b],
    expr: op,
    out: y,
    shape: x.shape,
  });
  return y;
}

/** gx = g * DERIV(x, y, a, b) elementwise. */
export function launchUnaryBackward(
  x: Tensor,
  y: Tensor,
  g: Tensor,
  deriv: string,
  a = 0,
  b = 0,
  label = `d(${deriv})`,
): Tensor {
  const gx = empty(x.shape);
  if (x.size === 0) return gx;
  const v = lanes(x.size, ["x", "y"], ["a", "b"]);
  elementwise({
    shader: "unary_backward",
    constants: { DERIV: deriv, T: v.T, APPLY: v.APPLY.replace(/\bop\(/g, "deriv(") },
    buffers: [x.buffer, y.buffer, g.buffer, gx.buffer],
    params: { n: v.units, a, b },
    invocations: v.units,
    cost: { bytes: 16 * x.size }, // x, y, g read, gx written
  }, {
    label,
    names: ["x", "y", "g"],
    operands: [x, y, g],
    strides: [null, null, null],
    scalarNames: ["a", "b"],
    scalars: [a, b],
    expr: `g * (${deriv})`,
    out: gx,
    shape: x.shape,
  });
  return gx;
}

/** The strides that read a tensor of shape `from` broadcast to `shape` (0 along broadcast dims). */
export function broadcastStrides(from: readonly number[], shape: readonly number[]): number[] {
  const st = stridesOf(from);
  const off = shape.length - from.length;
  return shape.map((_, d) => (d < off || from[d - off] === 1 ? 0 : st[d - off]));
}

/**
 * Merges adjacent dimensions that every operand walks contiguously (and drops size-1 ones), so
 * a strided kernel does as few index divisions per element as the layout allows: [64, 8, 32]
 * plus [64, 8, 1] becomes [512, 32] with strides [32, 1] and [1, 0].
 */
export function coalesce(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const sh: number[] = [], st: number[][] = strides.map(() => []);
  shape.forEach((d, i) => {
    if (d === 1) return;
    const last = sh.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k][last] === s[i] * d)) {
      sh[last] *= d;
      strides.forEach((s, k) => (st[k][last] = s[i]));
    } else {
      sh.push(d);
      strides.forEach((s, k) => st[k].push(s[i]));
    }
  });
  return { shape: sh, strides: st };
}

/** z = c != 0 ? a : b with all three broadcast to `shape` (shaders/where.wgsl). */
export function launchWhere(c: Tensor, a: Tensor, b: Tensor, shape: readonly number[]): Tensor {
  const z = empty(shape);
  if (z.size === 0) return z;
  const m = coalesce(shape, [c, a, b].map((t) => broadcastStrides(t.shape, shape)));
  elementwise({
    shader: "where",
    constants: { TC: c.dtype === "int32" ? "i32" : "f32", RANK: m.shape.length },
    buffers: [c.buffer, a.buffer, b.buffer, z.buffer],
    params: {
      n: z.size,
      rank: m.shape.length,
      shape: dims8(m.shape),
      sc: strides8(m.strides[0]),
      sa: strides8(m.strides[1]),
      sb: strides8(m.strides[2]),
    },
    invocations: z.size,
    cost: { bytes: 4 * (c.size + a.size + b.size + z.size) }, // broadcast operands read once
  }, {
    label: "where",
    names: ["c", "a", "b"],
    operands: [c, a, b],
    strides: [c, a, b].map((t) => fuseStrides(t, shape, z.size)),
    intOperands: [c.dtype === "int32", false, false],
    scalarNames: [],
    scalars: [],
    expr: "select(b, a, c != 0.0)",
    out: z,
    shape,
  });
  return z;
}

/** z = OP(a, b) with a and b broadcast to `shape` (their shapes right-aligned to it). */
export function launchBinary(
  a: Tensor,
  b: Tensor,
  op: string,
  shape: readonly number[],
  label = op,
): Tensor {
  const z = empty(shape);
  const n = z.size;
  if (n === 0) return z;
  const same = a.size === n && b.size === n;
  const m = coalesce(shape, same ? [] : [a, b].map((t) => broadcastStrides(t.shape, shape)));
  const v = same ? lanes(n, ["a", "b"], []) : { T: "f32", APPLY: "op(a, b)", units: n };
  elementwise({
    shader: "binary",
    constants: { OP: op, BCAST: same ? 0 : 1, T: v.T, APPLY: v.APPLY, RANK: same ? 0 : m.shape.length },
    buffers: [a.buffer, b.buffer, z.buffer],
    params: {
      n: v.units,
      rank: m.shape.length,
      shape: dims8(m.shape),
      sa: strides8(same ? [] : m.strides[0]),
      sb: strides8(same ? [] : m.strides[1]),
    },
    invocations: v.units,
    cost: { bytes: 4 * (a.size + b.size + n) }, // broadcast operands read once
  }, {
    label,
    names: ["a", "b"],
    operands: [a, b],
    strides: [a, b].map((t) => fuseStrides(t, shape, n)),
    scalarNames: [],
    scalars: [],
    expr: op,
    out: z,
    shape,
  });
  return z;
}

/** DST[dstOff + Σ i·dstStrides] = SRC[srcOff + Σ i·srcStrides] over every index of `shape`. */
export function launchCopy(
  src: Tensor | GPUBuffer,
  dst: Tensor | GPUBuffer,
  dtype: DType,
  shape: readonly number[],
  srcStrides: readonly number[],
  dstStrides: readonly number[],
  srcOff = 0,
  dstOff = 0,
): void {
  const n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  // merge dims walked contiguously by both sides (and drop size-1 ones) to keep the index loop short
  const m = coalesce(shape, [srcStrides, dstStrides]);
  dispatch({
    shader: "copy",
    constants: { T: dtype === "int32" ? "i32" : "f32", RANK: Math.max(1, m.shape.length) },
    buffers: [src instanceof GPUBuffer ? src : src.buffer, dst instanceof GPUBuffer ? dst : dst.buffer],
    params: {
      n,
      rank: m.shape.length,
      src_off: srcOff,
      dst_off: dstOff,
      shape: dims8(m.shape),
      ss: strides8(m.strides[0]),
      ds: strides8(m.strides[1]),
    },
    invocations: n,
    cost: { bytes: 8 * n }, // n elements read, n written
  });
}

/** Sets every element of `t` to `value`. */
export function launchFill(t: Tensor, value: number): void {
  if (t.size === 0) return;
  const bits = new DataView(new ArrayBuffer(4));
  if (t.dtype === "int32") bits.setInt32(0, value, true);
  else bits.setFloat32(0, value, true);
  dispatch({
    shader: "fill",
    constants: { T: t.dtype === "int32" ? "i32" : "f32" },
    buffers: [t.buffer],
    params: { n: t.size, value: bits.getUint32(0, true) },
    invocations: t.size,
    cost: { bytes: 4 * t.size },
  });
}
