/**
 * ONNX graphs as glassbox modules. `buildOnnxModel` turns a parsed ONNX graph (src/io/onnx.ts reads
 * the bytes) into an `OnnxModel`: every node that computes on tensors becomes a child module named
 * by its ONNX node name (so `model.get(name)`, forward hooks, the CAMs, the tracker and summary
 * reach it), every float initializer a parameter under its ONNX name (the state-dict keys), and the
 * rest — constants and the shape arithmetic exporters emit (Shape → Gather → Unsqueeze → Concat →
 * Reshape) — small host values: folded once at load time when they depend only on constants, and
 * recomputed on the CPU at each call (from the input's shape, never a readback) when they depend on
 * a dynamic axis. The computation is glassbox's own ops, so autograd runs through it.
 *
 * An operator, attribute or attribute value outside what is implemented here is an error at load
 * time that names the node, its op and what is missing.
 */
import { full, tensor } from "../tensor/create.ts";
import {
  add,
  broadcastShapes,
  div,
  erf,
  gelu,
  leakyRelu,
  mul,
  neg,
  pow,
  relu,
  sigmoid,
  sqrt,
  sub,
  tanh,
} from "../tensor/ops/elementwise.ts";
import { avgPool2d, conv2d, convTranspose2d, maxPool2d } from "../tensor/ops/conv.ts";
import { interpolate } from "../tensor/ops/resize.ts";
import { linear, matmul } from "../tensor/ops/matmul.ts";
import { embedding, layerNorm } from "../tensor/ops/attention.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { where } from "../tensor/ops/select.ts";
import { concat, expand, permute, reshape, slice } from "../tensor/ops/shape.ts";
import { logSoftmax, softmax } from "../tensor/ops/softmax.ts";
import { untrack } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Module } from "../nn/module.ts";

/** The element types glassbox holds ONNX values in: float (float32), int (int64/int32…) and bool. */
export type OnnxElementType = "float" | "int" | "bool";

/** A tensor stored in an ONNX file (an initializer or a Constant's value), decoded. */
export interface OnnxTensor {
  /** Its name (initializers), or "" for an attribute's value. */
  name: string;
  /** Its dimensions. */
  dims: number[];
  /** Its element type. */
  type: OnnxElementType;
  /** The values, row-major (int64 values as doubles, exact up to 2^53). */
  data: Float32Array | Float64Array;
}

/** A node attribute, by its ONNX type. */
export type OnnxAttribute =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "string"; value: string }
  | { type: "ints"; value: number[] }
  | { type: "floats"; value: number[] }
  | { type: "strings"; value: string[] }
  | { type: "tensor"; value: OnnxTensor }
  | { type: "unsupported"; value: string };

/** One node of an ONNX graph. */
export interface OnnxNode {
  /** The node's name (unique; a generated one when the file has none). */
  name: string;
  /** The operator, e.g. "Conv". */
  opType: string;
  /** The operator set's domain ("" for the default ONNX domain). */
  domain: string;
  /** Input value names ("" for an omitted optional input). */
  inputs: string[];
  /** Output value names. */
  outputs: string[];
  /** Attributes by name. */
  attributes: Record<string, OnnxAttribute>;
}

/** A graph input or output: its name, element type (or the ONNX type name glassbox lacks) and shape. */
export interface OnnxValueInfo {
  /** The value's name in the graph. */
  name: string;
  /** Its element type, or the ONNX type's name when glassbox does not read it (e.g. "FLOAT16"). */
  type: OnnxElementType | string;
  /** Dimensions: a size, a symbolic name (a dynamic axis) or null (unknown). */
  shape: (number | string | null)[] | null;
}

/** A decoded ONNX model: what `buildOnnxModel` needs. */
export interface OnnxGraph {
  /** The default domain's operator-set version. */
  opset: number;
  /** Who wrote the file ("pytorch 1.13.0", …). */
  producer: string;
  /** Graph inputs that are not initializers, in order. */
  inputs: OnnxValueInfo[];
  /** Graph outputs, in order. */
  outputs: OnnxValueInfo[];
  /** Initializers. */
  initializers: OnnxTensor[];
  /** Nodes, in topological order (as ONNX requires). */
  nodes: OnnxNode[];
  /** The model's metadata_props. */
  metadata: Record<string, string>;
}

/** A small value held on the host: a constant, or arithmetic on shapes. */
interface Host {
  dims: number[];
  type: OnnxElementType;
  data: number[];
}

type Value = Tensor | Host;
const isHost = (v: Value | undefined): v is Host => v !== undefined && !(v instanceof Tensor);
type Kind = "const" | "shape" | "tensor";

function fmt(s: readonly (number | string | null)[]): string {
  return `[${s.join(", ")}]`;
}
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** An error about one node: names the node and its op. */
class NodeError extends Error {}
function nodeError(node: OnnxNode, what: string): NodeError {
  return new NodeError(`onnx node "${node.name}" (${node.opType}): ${what}`);
}

// ---- attributes ------------------------------------------------------------------------------------

/** Reads a node's attributes, each checked for its type. */
class Attrs {
  constructor(readonly node: OnnxNode) {}
  #get(name: string, type: OnnxAttribute["type"]): OnnxAttribute | undefined {
    const a = this.node.attributes[name];
    if (a && a.type !== type) {
      throw nodeError(this.node, `attribute "${name}" should be of type ${type}, got ${a.type}`);
    }
    return a;
  }
  int(name: string, dflt: number): number {
    return (this.#get(name, "int")?.value as number | undefined) ?? dflt;
  }
  float(name: string, dflt: number): number {
    return (this.#get(name, "float")?.value as number | undefined) ?? dflt;
  }
  string(name: string, dflt: string): string {
    return (this.#get(name, "string")?.value as string | undefined) ?? dflt;
  }
  ints(name: string): number[] | undefined {
    return this.#get(name, "ints")?.value as number[] | undefined;
  }
  has(name: string): boolean {
    return name in this.node.attributes;
  }
  /** An attribute value outside what glassbox implements. */
  unsupported(name: string, value: unknown, supported: string): NodeError {
    return nodeError(
      this.node,
      `attribute ${name}=${JSON.stringify(value)} is not supported (only ${supported})`,
    );
  }
}

// ---- host arithmetic -------------------------------------------------------------------------------

function hostOf(t: OnnxTensor): Host {
  return { dims: [...t.dims], type: t.type, data: Array.from(t.data) };
}

/** Row-major strides. */
function strides(dims: readonly number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** Maps each output index of `shape` to the index in a tensor of `dims` broadcast to it. */
function broadcastIndex(dims: readonly number[], shape: readonly number[]): (i: number) => number {
  const off = shape.length - dims.length;
  const ds = strides(dims), os = strides(shape);
  return (i) => {
    let j = 0;
    for (let a = 0; a < shape.length; a++) {
      const c = Math.floor(i / os[a]) % shape[a];
      if (a >= off && dims[a - off] !== 1) j += c * ds[a - off];
    }
    return j;
  };
}

function hostBinary(
  op: string,
  a: Host,
  b: Host,
  f: (x: number, y: number) => number,
  type?: OnnxElementType,
): Host {
  const shape = broadcastShapes(op, a.dims, b.dims);
  const ia = broadcastIndex(a.dims, shape), ib = broadcastIndex(b.dims, shape);
  const data = Array.from({ length: prod(shape) }, (_, i) => f(a.data[ia(i)], b.data[ib(i)]));
  return { dims: shape, type: type ?? a.type, data };
}

function intDiv(x: number, y: number): number {
  if (y === 0) throw new Error(`integer division by zero`);
  return Math.trunc(x / y);
}

/** The host value as a list of integers (a shape, axes, indices). */
function ints(v: Value | undefined, node: OnnxNode, what: string): number[] {
  if (!isHost(v)) {
    throw nodeError(
      node,
      `${what} must be a constant or computed from shapes, not a tensor computed from the input`,
    );
  }
  return v.data;
}

/** Axes given as an input (newer opsets) or an attribute (older ones). */
function axesOf(
  node: OnnxNode,
  attrs: Attrs,
  inputs: (Value | undefined)[],
  index: number,
): number[] | undefined {
  const fromInput = inputs[index];
  if (fromInput !== undefined) return ints(fromInput, node, "axes");
  return attrs.ints("axes");
}

function normAxis(node: OnnxNode, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw nodeError(node, `axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

function unsqueezeDims(node: OnnxNode, dims: readonly number[], axes: number[]): number[] {
  const rank = dims.length + axes.length;
  const norm = axes.map((a) => normAxis(node, a, rank)).sort((a, b) => a - b);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : dims[j++]);
  return out;
}

function squeezeDims(node: OnnxNode, dims: readonly number[], axes: number[] | undefined): number[] {
  if (axes === undefined || axes.length === 0) return dims.filter((d) => d !== 1);
  const norm = axes.map((a) => normAxis(node, a, dims.length));
  for (const a of norm) {
    if (dims[a] !== 1) throw nodeError(node, `cannot squeeze axis ${a} of size ${dims[a]}`);
  }
  return dims.filter((_, i) => !norm.includes(i));
}

function reshapeDims(
  node: OnnxNode,
  dims: readonly number[],
  target: number[],
  allowzero: boolean,
): number[] {
  const out = target.map((d, i) => (d === 0 && !allowzero ? dims[i] : d));
  if (out.some((d) => d === undefined)) {
    throw nodeError(node, `shape ${fmt(target)} copies a missing dimension of ${fmt(dims)}`);
  }
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const rest = prod(out.filter((_, i) => i !== neg));
    out[neg] = rest === 0 ? 0 : prod(dims) / rest;
  }
  if (prod(out) !== prod(dims) || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw nodeError(node, `cannot reshape ${fmt(dims)} into ${fmt(target)}`);
  }
  return out;
}

/** start/end/axes/steps of a Slice, from inputs (opset ≥ 10) or attributes. */
function sliceSpec(node: OnnxNode, attrs: Attrs, inputs: (Value | undefined)[], opset: number, rank: number) {
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (opset >= 10) {
    starts = ints(inputs[1], node, "starts");
    ends = ints(inputs[2], node, "ends");
    axes = inputs[3] ? ints(inputs[3], node, "axes") : undefined;
    steps = inputs[4] ? ints(inputs[4], node, "steps") : undefined;
  } else {
    starts = attrs.ints("starts") ?? [];
    ends = attrs.ints("ends") ?? [];
    axes = attrs.ints("axes");
  }
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(node, a, rank));
  return ax.map((a, i) => ({ axis: a, start: starts[i], end: ends[i], step: steps?.[i] ?? 1 }));
}

/** The indices a Slice keeps along an axis of n (ONNX's clamping; negative steps walk backwards). */
function sliceIndices(node: OnnxNode, start: number, end: number, step: number, n: number): number[] {
  if (!Number.isInteger(step) || step === 0) throw nodeError(node, `step ${step} is not a nonzero integer`);
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  const out: number[] = [];
  if (step > 0) {
    s = Math.max(0, Math.min(n, s));
    e = Math.max(0, Math.min(n, e));
    for (let i = s; i < e; i += step) out.push(i);
  } else {
    s = Math.max(0, Math.min(n - 1, s));
    e = Math.max(-1, Math.min(n - 1, e));
    for (let i = s; i > e; i += step) out.push(i);
  }
  return out;
}

function clampRange(start: number, end: number, n: number): [number, number] {
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  s = Math.max(0, Math.min(n, s));
  e = Math.max(s, Math.min(n, e));
  return [s, e];
}

/** Picks a sub-block of a host value: per axis, the indices to keep. */
function hostPick(v: Host, keep: number[][]): Host {
  const dims = keep.map((k) => k.length);
  const st = strides(v.dims), os = strides(dims);
  const data = Array.from({ length: prod(dims) }, (_, i) => {
    let j = 0;
    for (let a = 0; a < dims.length; a++) j += keep[a][Math.floor(i / os[a]) % dims[a]] * st[a];
    return v.data[j];
  });
  return { dims, type: v.type, data };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const CAST_TYPES: Record<number, OnnxElementType> = {
  1: "float",
  2: "int",
  3: "int",
  4: "int",
  5: "int",
  6: "int",
  7: "int",
  9: "bool",
  11: "float",
  12: "int",
  13: "int",
};

function castTarget(attrs: Attrs): OnnxElementType {
  const to = attrs.int("to", -1);
  const t = CAST_TYPES[to];
  if (!t) throw attrs.unsupported("to", to, "float, double, bool and the integer types");
  return t;
}

function castHost(v: Host, to: OnnxElementType): Host {
  const f = to === "float" ? (x: number) => x : to === "int" ? Math.trunc : (x: number) => (x !== 0 ? 1 : 0);
  return { dims: v.dims, type: to, data: v.data.map(f) };
}

/** The ops evaluated on the host when all their inputs are host values. */
type HostOp = (node: OnnxNode, attrs: Attrs, inputs: (Host | undefined)[], opset: number) => Host;

function need<T>(node: OnnxNode, v: T | undefined, i: number): T {
  if (v === undefined) throw nodeError(node, `input ${i} is missing`);
  return v;
}

function constantValue(node: OnnxNode, attrs: Attrs): Host {
  const a = node.attributes;
  if (a.value?.type === "tensor") return hostOf(a.value.value);
  if (a.value_float) return { dims: [], type: "float", data: [attrs.float("value_float", 0)] };
  if (a.value_floats) {
    return {
      dims: [(a.value_floats.value as number[]).length],
      type: "float",
      data: [...(a.value_floats.value as number[])],
    };
  }
  if (a.value_int) return { dims: [], type: "int", data: [attrs.int("value_int", 0)] };
  if (a.value_ints) {
    return { dims: [attrs.ints("value_ints")!.length], type: "int", data: [...attrs.ints("value_ints")!] };
  }
  throw nodeError(node, `needs one of the attributes value, value_float(s), value_int(s)`);
}

const HOST_ARITH: Record<string, (x: number, y: number, int: boolean) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y, int) => (int ? intDiv(x, y) : x / y),
  Pow: (x, y) => Math.pow(x, y),
};

const HOST_OPS: Record<string, HostOp> = {
  Constant: (node, attrs) => constantValue(node, attrs),
  Identity: (node, _a, [x]) => need(node, x, 0),
  Dropout: (node, _a, [x]) => need(node, x, 0),
  Cast: (node, attrs, [x]) => castHost(need(node, x, 0), castTarget(attrs)),
  Neg: (node, _a, [x]) => ({ ...need(node, x, 0), data: x!.data.map((v) => -v) }),
  Sqrt: (node, _a, [x]) => ({ ...need(node, x, 0), type: "float", data: x!.data.map(Math.sqrt) }),
  Equal: (node, _a, [a, b]) =>
    hostBinary("Equal", need(node, a, 0), need(node, b, 1), (x, y) => Number(x === y), "bool"),
  Where: (node, _a, [c, a, b]) => {
    const cond = need(node, c, 0), x = need(node, a, 1), y = need(node, b, 2);
    const shape = broadcastShapes("Where", broadcastShapes("Where", cond.dims, x.dims), y.dims);
    const [ic, ix, iy] = [cond, x, y].map((v) => broadcastIndex(v.dims, shape));
    return {
      dims: shape,
      type: x.type,
      data: range(prod(shape)).map((i) => (cond.data[ic(i)] ? x.data[ix(i)] : y.data[iy(i)])),
    };
  },
  ConstantOfShape: (node, _attrs, [s]) => {
    const dims = need(node, s, 0).data;
    const v = node.attributes.value?.type === "tensor" ? hostOf(node.attributes.value.value) : null;
    return { dims: [...dims], type: v?.type ?? "float", data: new Array(prod(dims)).fill(v?.data[0] ?? 0) };
  },
  Expand: (node, _a, [x, s]) => {
    const v = need(node, x, 0);
    const shape = broadcastShapes("Expand", v.dims, need(node, s, 1).data);
    const ix = broadcastIndex(v.dims, shape);
    return { dims: shape, type: v.type, data: range(prod(shape)).map((i) => v.data[ix(i)]) };
  },
  Gather: (node, attrs, [x, idx]) => {
    const v = need(node, x, 0), ind = need(node, idx, 1);
    const axis = normAxis(node, attrs.int("axis", 0), v.dims.length);
    const n = v.dims[axis];
    const picks = ind.data.map((i) => {
      const j = i < 0 ? i + n : i;
      if (j < 0 || j >= n) throw nodeError(node, `index ${i} is out of range for axis ${axis} of size ${n}`);
      return j;
    });
    const block = hostPick(v, v.dims.map((d, a) => (a === axis ? picks : range(d))));
    return { ...block, dims: [...v.dims.slice(0, axis), ...ind.dims, ...v.dims.slice(axis + 1)] };
  },
  Unsqueeze: (node, attrs, inputs) => {
    const v = need(node, inputs[0], 0);
    return { ...v, dims: unsqueezeDims(node, v.dims, axesOf(node, attrs, inputs, 1) ?? []) };
  },
  Squeeze: (node, attrs, inputs) => {
    const v = need(node, inputs[0], 0);
    return { ...v, dims: squeezeDims(node, v.dims, axesOf(node, attrs, inputs, 1)) };
  },
  Reshape: (node, attrs, [x, s]) => {
    const v = need(node, x, 0);
    return { ...v, dims: reshapeDims(node, v.dims, need(node, s, 1).data, attrs.int("allowzero", 0) === 1) };
  },
  Flatten: (node, attrs, [x]) => {
    const v = need(node, x, 0);
    const axis = attrs.int("axis", 1);
    const a = axis < 0 ? axis + v.dims.length : axis;
    return { ...v, dims: [prod(v.dims.slice(0, a)), prod(v.dims.slice(a))] };
  },
  Concat: (node, attrs, inputs) => {
    const vs = inputs.map((v, i) => need(node, v, i));
    const axis = normAxis(node, attrs.int("axis", 0), vs[0].dims.length);
    if (vs.every((v) => v.dims.length === 1)) {
      return {
        dims: [vs.reduce((a, v) => a + v.dims[0], 0)],
        type: vs[0].type,
        data: vs.flatMap((v) => v.data),
      };
    }
    // general case: interleave blocks along the axis
    const outer = prod(vs[0].dims.slice(0, axis));
    const data: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const v of vs) {
        const block = prod(v.dims.slice(axis));
        data.push(...v.data.slice(o * block, (o + 1) * block));
      }
    }
    const dims = [...vs[0].dims];
    dims[axis] = vs.reduce((a, v) => a + v.dims[axis], 0);
    return { dims, type: vs[0].type, data };
  },
  Slice: (node, attrs, inputs, opset) => {
    const v = need(node, inputs[0], 0);
    const keep = v.dims.map((d) => range(d));
    for (const { axis, start, end, step } of sliceSpec(node, attrs, inputs, opset, v.dims.length)) {
      keep[axis] = sliceIndices(node, start, end, step, v.dims[axis]);
    }
    return hostPick(v, keep);
  },
  Transpose: (node, attrs, [x]) => {
    const v = need(node, x, 0);
    const perm = attrs.ints("perm") ?? range(v.dims.length).reverse();
    const dims = perm.map((p) => v.dims[p]);
    const st = strides(v.dims), os = strides(dims);
    const data = range(prod(dims)).map((i) =>
      v.data[perm.reduce((j, p, a) => j + (Math.floor(i / os[a]) % dims[a]) * st[p], 0)]
    );
    return { dims, type: v.type, data };
  },
};
for (const [op, f] of Object.entries(HOST_ARITH)) {
  HOST_OPS[op] = (node, _a, [a, b]) => {
    const x = need(node, a, 0), y = need(node, b, 1);
    const int = x.type !== "float" && y.type !== "float";
    return hostBinary(op, x, y, (p, q) => f(p, q, int), int ? "int" : "float");
  };
}

// ---- tensor ops ------------------------------------------------------------------------------------

/** What a tensor op gets: the node's inputs (tensors, host values, or undefined where omitted). */
interface OpContext {
  node: OnnxNode;
  attrs: Attrs;
  opset: number;
  inputs: (Value | undefined)[];
  /** Input i as a tensor (host values uploaded: floats as float32, ints and bools as int32). */
  tensor(i: number): Tensor;
  /** Input i as a number when it is a one-element host value, else as a tensor. */
  operand(i: number): Tensor | number;
}

type TensorOp = (c: OpContext) => Tensor;

/** Zero (or `value`) padding: pads[i] before and pads[i + rank] after axis i. */
function padTensor(x: Tensor, pads: number[], value: number): Tensor {
  const rank = x.ndim;
  let y = x;
  for (let a = 0; a < rank; a++) {
    const [lo, hi] = [pads[a], pads[a + rank]];
    if (!lo && !hi) continue;
    const part = (n: number) => {
      const s = [...y.shape];
      s[a] = n;
      return full(s, value);
    };
    y = concat([...(lo ? [part(lo)] : []), y, ...(hi ? [part(hi)] : [])], a);
  }
  return y;
}

/** pads for a 2-D window op: [top, left, bottom, right] → per-axis symmetric padding or null. */
function symmetric(pads: number[]): [number, number] | null {
  return pads[0] === pads[2] && pads[1] === pads[3] ? [pads[0], pads[1]] : null;
}

function windowAttrs(attrs: Attrs, spatial: number) {
  const node = attrs.node;
  const autoPad = attrs.string("auto_pad", "NOTSET");
  if (autoPad !== "NOTSET" && autoPad !== "VALID") {
    throw attrs.unsupported("auto_pad", autoPad, "NOTSET and VALID");
  }
  const pads = attrs.ints("pads") ?? new Array(2 * spatial).fill(0);
  const strides = attrs.ints("strides") ?? new Array(spatial).fill(1);
  const dilations = attrs.ints("dilations") ?? new Array(spatial).fill(1);
  if (pads.length !== 2 * spatial || strides.length !== spatial || dilations.length !== spatial) {
    throw nodeError(node, `pads, strides and dilations do not match ${spatial} spatial dimensions`);
  }
  if (pads.some((p) => p < 0)) throw attrs.unsupported("pads", pads, "non-negative padding");
  return { pads, strides, dilations };
}

/** Conv's attributes, checked (at load time too): what conv2d can do. */
function convConfig(attrs: Attrs) {
  const { pads, strides, dilations } = windowAttrs(attrs, 2);
  if (strides[0] !== strides[1]) throw attrs.unsupported("strides", strides, "the same stride on both axes");
  if (dilations[0] !== dilations[1]) {
    throw attrs.unsupported("dilations", dilations, "the same dilation on both axes");
  }
  const group = attrs.int("group", 1);
  if (!(group >= 1)) throw attrs.unsupported("group", group, "a positive group count");
  return { pads, strides, dilations, group };
}

/** A pooling node's attributes, checked (at load time too). */
function poolConfig(kind: "max" | "avg", attrs: Attrs) {
  const node = attrs.node;
  const ks = attrs.ints("kernel_shape");
  if (!ks || ks.length !== 2) {
    throw nodeError(node, `needs a kernel_shape of two sizes (2-D pooling), got ${JSON.stringify(ks)}`);
  }
  const { pads, strides, dilations } = windowAttrs(attrs, 2);
  if (attrs.int("ceil_mode", 0) !== 0) throw attrs.unsupported("ceil_mode", 1, "ceil_mode=0");
  if (dilations.some((d) => d !== 1)) throw attrs.unsupported("dilations", dilations, "dilations of 1");
  const sym = symmetric(pads);
  if (!sym) throw attrs.unsupported("pads", pads, "the same padding before and after");
  if (kind === "avg" && (sym[0] || sym[1]) && attrs.int("count_include_pad", 0) !== 1) {
    throw attrs.unsupported("count_include_pad", 0, "count_include_pad=1 when padding");
  }
  return { kernel: ks as [number, number], options: { stride: strides as [number, number], padding: sym } };
}

function conv(c: OpContext): Tensor {
  const { attrs, node } = c;
  let x = c.tensor(0);
  const w = c.tensor(1);
  const b = c.inputs[2] ? c.tensor(2) : null;
  if (w.ndim !== 4) throw nodeError(node, `only 2-D convolution is supported, got weight ${fmt(w.shape)}`);
  const { pads, strides, dilations, group } = convConfig(attrs);
  const ks = attrs.ints("kernel_shape");
  if (ks && (ks[0] !== w.shape[2] || ks[1] !== w.shape[3])) {
    throw nodeError(node, `kernel_shape ${fmt(ks)} does not match weight ${fmt(w.shape)}`);
  }
  let pad = 0;
  const sym = symmetric(pads);
  if (sym && sym[0] === sym[1]) pad = sym[0];
  else x = padTensor(x, [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]], 0);
  const options = { stride: strides[0], padding: pad, dilation: dilations[0] };
  if (group === 1) return conv2d(x, w, b, options);
  const C = x.shape[1], O = w.shape[0];
  if (C % group || O % group || w.shape[1] !== C / group) {
    throw nodeError(node, `group ${group} does not divide input ${fmt(x.shape)} and weight ${fmt(w.shape)}`);
  }
  const ci = C / group, co = O / group;
  const parts = range(group).map((g) =>
    conv2d(
      slice(x, g * ci, (g + 1) * ci, 1),
      slice(w, g * co, (g + 1) * co, 0),
      b ? slice(b, g * co, (g + 1) * co, 0) : null,
      options,
    )
  );
  return concat(parts, 1);
}

/** ConvTranspose's attributes, checked (at load time too): what convTranspose2d can do. */
function convTransposeConfig(attrs: Attrs) {
  const { pads, strides, dilations } = windowAttrs(attrs, 2);
  const same = (what: string, v: number[]) => {
    if (v[0] !== v[1]) throw attrs.unsupported(what, v, `the same ${what} on both axes`);
    return v[0];
  };
  const sym = symmetric(pads);
  if (!sym || sym[0] !== sym[1]) throw attrs.unsupported("pads", pads, "the same padding on every side");
  if (attrs.has("output_shape")) {
    throw attrs.unsupported("output_shape", attrs.ints("output_shape"), "pads and output_padding instead");
  }
  const outPad = attrs.ints("output_padding") ?? [0, 0];
  if (outPad.length !== 2) throw nodeError(attrs.node, `output_padding ${fmt(outPad)} is not 2-D`);
  const group = attrs.int("group", 1);
  if (group !== 1) throw attrs.unsupported("group", group, "group=1");
  return {
    stride: same("strides", strides),
    padding: sym[0],
    dilation: same("dilations", dilations),
    outputPadding: same("output_padding", outPad),
  };
}

function convTranspose(c: OpContext): Tensor {
  const { attrs, node } = c;
  const x = c.tensor(0), w = c.tensor(1);
  const b = c.inputs[2] ? c.tensor(2) : null;
  if (w.ndim !== 4) {
    throw nodeError(node, `only 2-D transposed convolution is supported, got weight ${fmt(w.shape)}`);
  }
  const ks = attrs.ints("kernel_shape");
  if (ks && (ks[0] !== w.shape[2] || ks[1] !== w.shape[3])) {
    throw nodeError(node, `kernel_shape ${fmt(ks)} does not match weight ${fmt(w.shape)}`);
  }
  return convTranspose2d(x, w, b, convTransposeConfig(attrs));
}

/**
 * Resize's attributes, checked (at load time too): PyTorch's upsampling, as glassbox's
 * interpolate computes it. Nearest with "asymmetric" coordinates and "floor" rounding; linear with
 * "half_pixel", "pytorch_half_pixel" (the same but for an output of length 1) or "align_corners".
 */
function resizeConfig(
  attrs: Attrs,
): { mode: "nearest" | "bilinear"; alignCorners: boolean; pytorchHalf: boolean } {
  const mode = attrs.string("mode", "nearest");
  const ctm = attrs.string("coordinate_transformation_mode", "half_pixel");
  if (attrs.int("antialias", 0) !== 0) throw attrs.unsupported("antialias", 1, "antialias=0");
  if (attrs.int("exclude_outside", 0) !== 0) {
    throw attrs.unsupported("exclude_outside", 1, "exclude_outside=0");
  }
  if (attrs.has("axes")) throw attrs.unsupported("axes", attrs.ints("axes"), "all axes (no axes attribute)");
  const policy = attrs.string("keep_aspect_ratio_policy", "stretch");
  if (policy !== "stretch") throw attrs.unsupported("keep_aspect_ratio_policy", policy, "stretch");
  if (mode === "nearest") {
    const rounding = attrs.string("nearest_mode", "round_prefer_floor");
    if (ctm !== "asymmetric" || rounding !== "floor") {
      throw attrs.unsupported(
        "coordinate_transformation_mode and nearest_mode",
        `${ctm}, ${rounding}`,
        "asymmetric with floor for mode=nearest (PyTorch's nearest)",
      );
    }
    return { mode: "nearest", alignCorners: false, pytorchHalf: false };
  }
  if (mode === "linear") {
    if (!["half_pixel", "pytorch_half_pixel", "align_corners"].includes(ctm)) {
      throw attrs.unsupported(
        "coordinate_transformation_mode",
        ctm,
        "half_pixel, pytorch_half_pixel or align_corners for mode=linear",
      );
    }
    return {
      mode: "bilinear",
      alignCorners: ctm === "align_corners",
      pytorchHalf: ctm === "pytorch_half_pixel",
    };
  }
  throw attrs.unsupported("mode", mode, "nearest and linear");
}

function resizeOp(c: OpContext): Tensor {
  const { node } = c;
  if (c.opset < 11) throw nodeError(node, `Resize of opset ${c.opset} is not supported (opset 11 and later)`);
  const x = c.tensor(0);
  if (x.ndim !== 4) {
    throw nodeError(node, `only 2-D resizing of [N, C, H, W] is supported, got ${fmt(x.shape)}`);
  }
  const { mode, alignCorners, pytorchHalf } = resizeConfig(c.attrs);
  const scales = c.inputs[2] ? ints(c.inputs[2], node, "scales") : [];
  const sizes = c.inputs[3] ? ints(c.inputs[3], node, "sizes") : [];
  if ((scales.length > 0) === (sizes.length > 0)) {
    throw nodeError(node, `needs exactly one of scales and sizes, got ${fmt(scales)} and ${fmt(sizes)}`);
  }
  const given = scales.length ? scales : sizes;
  if (given.length !== 4) {
    throw nodeError(node, `scales or sizes must have 4 entries for [N, C, H, W], got ${fmt(given)}`);
  }
  const keep = scales.length ? [1, 1] : x.shape.slice(0, 2);
  if (given[0] !== keep[0] || given[1] !== keep[1]) {
    throw nodeError(node, `only the spatial axes may be resized, got ${fmt(given)}`);
  }
  const out = scales.length
    ? [Math.floor(x.shape[2] * scales[2]), Math.floor(x.shape[3] * scales[3])]
    : given.slice(2);
  if (pytorchHalf && mode === "bilinear" && !alignCorners && out.some((n) => n === 1)) {
    throw nodeError(
      node,
      `coordinate_transformation_mode=pytorch_half_pixel to an output of length 1 is not supported`,
    );
  }
  return interpolate(
    x,
    scales.length
      ? { scaleFactor: [scales[2], scales[3]], mode, alignCorners }
      : { size: [sizes[2], sizes[3]], mode, alignCorners },
  );
}

function pool(kind: "max" | "avg"): TensorOp {
  return (c) => {
    const x = c.tensor(0);
    if (x.ndim !== 4) {
      throw nodeError(c.node, `only 2-D pooling over [N, C, H, W] is supported, got ${fmt(x.shape)}`);
    }
    const { kernel, options } = poolConfig(kind, c.attrs);
    return kind === "max" ? maxPool2d(x, kernel, options) : avgPool2d(x, kernel, options);
  };
}

function gemm(c: OpContext): Tensor {
  const { attrs } = c;
  const alpha = attrs.float("alpha", 1), beta = attrs.float("beta", 1);
  const ta = attrs.int("transA", 0), tb = attrs.int("transB", 0);
  let a = c.tensor(0);
  const b = c.tensor(1);
  const bias = c.inputs[2] ? c.tensor(2) : null;
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw nodeError(c.node, `needs matrices, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  if (ta) a = permute(a, [1, 0]);
  if (tb && alpha === 1 && beta === 1 && (!bias || (bias.ndim === 1 && bias.shape[0] === b.shape[0]))) {
    return linear(a, b, bias);
  }
  let y = matmul(a, tb ? permute(b, [1, 0]) : b);
  if (alpha !== 1) y = mul(y, alpha);
  if (bias) y = add(y, beta === 1 ? bias : mul(bias, beta));
  return y;
}

function binaryOp(f: (a: Tensor | number, b: Tensor | number) => Tensor): TensorOp {
  return (c) => {
    const a = c.operand(0), b = c.operand(1);
    if (typeof a === "number" && typeof b === "number") return f(c.tensor(0), b);
    return f(a, b);
  };
}

function unaryOp(f: (x: Tensor) => Tensor): TensorOp {
  return (c) => f(c.tensor(0));
}

function floatTensor(c: OpContext, i: number): Tensor {
  const t = c.tensor(i);
  if (t.dtype !== "float32") {
    throw nodeError(c.node, `input ${i} must be a float tensor, got ${t.describe()}`);
  }
  return t;
}

/** Softmax and LogSoftmax: one axis from opset 13 on, before it everything from `axis` on as one row. */
function softmaxOp(f: (x: Tensor, axis: number) => Tensor): (c: OpContext) => Tensor {
  return (c) => {
    const x = c.tensor(0);
    const axis = normAxis(c.node, c.attrs.int("axis", c.opset >= 13 ? -1 : 1), x.ndim);
    if (c.opset >= 13 || axis === x.ndim - 1) return f(x, axis);
    const flat = reshape(x, [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))]);
    return reshape(f(flat, -1), x.shape);
  };
}

const TENSOR_OPS: Record<string, TensorOp> = {
  Identity: (c) => c.tensor(0),
  Dropout: (c) => {
    if (c.inputs[2] !== undefined && (!isHost(c.inputs[2]) || c.inputs[2].data[0] !== 0)) {
      throw nodeError(c.node, `training_mode is not supported (inference only)`);
    }
    return c.tensor(0);
  },
  Cast: (c) => {
    const x = c.tensor(0), to = castTarget(c.attrs);
    if ((to === "float") === (x.dtype === "float32")) return x;
    throw nodeError(c.node, `casting a ${x.dtype} tensor to ${to} is not supported`);
  },
  Add: binaryOp(add),
  Sub: binaryOp(sub),
  Mul: binaryOp(mul),
  Div: binaryOp(div),
  Pow: (c) => {
    const b = c.operand(1);
    return pow(floatTensor(c, 0), b);
  },
  Neg: unaryOp(neg),
  Relu: unaryOp(relu),
  LeakyRelu: (c) => leakyRelu(c.tensor(0), c.attrs.float("alpha", 0.01)),
  Sigmoid: unaryOp(sigmoid),
  Tanh: unaryOp(tanh),
  Erf: unaryOp(erf),
  Sqrt: unaryOp(sqrt),
  Gelu: (c) => {
    STATIC_CHECKS.Gelu(c.attrs);
    return gelu(c.tensor(0));
  },
  Softmax: softmaxOp(softmax),
  LogSoftmax: softmaxOp(logSoftmax),
  MatMul: (c) => matmul(c.tensor(0), c.tensor(1)),
  Gemm: gemm,
  Conv: conv,
  ConvTranspose: convTranspose,
  Resize: resizeOp,
  MaxPool: pool("max"),
  AveragePool: pool("avg"),
  GlobalAveragePool: (c) => {
    const x = c.tensor(0);
    if (x.ndim < 3) throw nodeError(c.node, `needs [N, C, spatial...], got ${fmt(x.shape)}`);
    return mean(x, range(x.ndim - 2).map((i) => i + 2), true);
  },
  BatchNormalization: (c) => {
    const { attrs } = c;
    STATIC_CHECKS.BatchNormalization(attrs);
    const x = c.tensor(0);
    const shape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const [scale, bias, mu, v] = [1, 2, 3, 4].map((i) => reshape(c.tensor(i), shape));
    const eps = attrs.float("epsilon", 1e-5);
    return add(mul(div(sub(x, mu), sqrt(add(v, eps))), scale), bias);
  },
  LayerNormalization: (c) => {
    const x = c.tensor(0);
    const axis = normAxis(c.node, c.attrs.int("axis", -1), x.ndim);
    const ns = x.shape.slice(axis);
    const shaped = (i: number) => {
      if (!c.inputs[i]) return null;
      const t = c.tensor(i);
      return t.size === prod(ns) && t.ndim !== ns.length ? reshape(t, ns) : t;
    };
    return layerNorm(x, ns, shaped(1), shaped(2), c.attrs.float("epsilon", 1e-5));
  },
  Flatten: (c) => {
    const x = c.tensor(0);
    const axis = c.attrs.int("axis", 1);
    const a = axis < 0 ? axis + x.ndim : axis;
    return reshape(x, [prod(x.shape.slice(0, a)), prod(x.shape.slice(a))]);
  },
  Reshape: (c) => {
    const x = c.tensor(0);
    return reshape(
      x,
      reshapeDims(c.node, x.shape, ints(c.inputs[1], c.node, "shape"), c.attrs.int("allowzero", 0) === 1),
    );
  },
  Transpose: (c) => {
    const x = c.tensor(0);
    return permute(x, c.attrs.ints("perm") ?? range(x.ndim).reverse());
  },
  Concat: (c) => {
    const xs = c.inputs.map((_, i) => c.tensor(i));
    return concat(xs, normAxis(c.node, c.attrs.int("axis", 0), xs[0].ndim));
  },
  Slice: (c) => {
    let x = c.tensor(0);
    for (const { axis, start, end, step } of sliceSpec(c.node, c.attrs, c.inputs, c.opset, x.ndim)) {
      if (step !== 1) {
        throw nodeError(
          c.node,
          `step ${step} on a tensor is not supported (only steps of 1; any step on shapes)`,
        );
      }
      const [s, e] = clampRange(start, end, x.shape[axis]);
      if (s !== 0 || e !== x.shape[axis]) x = slice(x, s, e, axis);
    }
    return x;
  },
  Gather: (c) => {
    const x = c.tensor(0);
    const axis = normAxis(c.node, c.attrs.int("axis", 0), x.ndim);
    const idx = c.inputs[1];
    if (idx instanceof Tensor) {
      if (axis !== 0) {
        throw nodeError(c.node, `a tensor of indices is supported only along axis 0, got axis ${axis}`);
      }
      if (idx.dtype !== "int32") throw nodeError(c.node, `indices must be integers, got ${idx.describe()}`);
      const rest = x.shape.slice(1);
      const rows = embedding(idx, reshape(x, [x.shape[0], prod(rest)]));
      return rest.length === 1 ? rows : reshape(rows, [...idx.shape, ...rest]);
    }
    const ind = need(c.node, idx, 1);
    const n = x.shape[axis];
    const parts = ind.data.map((i) => {
      const j = i < 0 ? i + n : i;
      if (j < 0 || j >= n) {
        throw nodeError(c.node, `index ${i} is out of range for axis ${axis} of size ${n}`);
      }
      return slice(x, j, j + 1, axis);
    });
    const picked = parts.length === 1 ? parts[0] : concat(parts, axis);
    return reshape(picked, [...x.shape.slice(0, axis), ...ind.dims, ...x.shape.slice(axis + 1)]);
  },
  Unsqueeze: (c) => {
    const x = c.tensor(0);
    return reshape(x, unsqueezeDims(c.node, x.shape, axesOf(c.node, c.attrs, c.inputs, 1) ?? []));
  },
  Squeeze: (c) => {
    const x = c.tensor(0);
    return reshape(x, squeezeDims(c.node, x.shape, axesOf(c.node, c.attrs, c.inputs, 1)));
  },
  Expand: (c) => {
    const x = c.tensor(0);
    const shape = broadcastShapes("Expand", x.shape, ints(c.inputs[1], c.node, "shape"));
    return shape.length === x.ndim && shape.every((d, i) => d === x.shape[i]) ? x : expand(x, shape);
  },
  Where: (c) => {
    const cond = c.tensor(0);
    return where(cond, c.operand(1), c.operand(2));
  },
  ReduceMean: (c) => {
    const x = c.tensor(0);
    const axes = c.opset >= 18
      ? (c.inputs[1] ? ints(c.inputs[1], c.node, "axes") : undefined)
      : c.attrs.ints("axes");
    const keep = c.attrs.int("keepdims", 1) === 1;
    if ((!axes || axes.length === 0) && c.attrs.int("noop_with_empty_axes", 0) === 1) return x;
    const ax = axes && axes.length ? axes.map((a) => normAxis(c.node, a, x.ndim)) : range(x.ndim);
    return mean(x, ax, keep);
  },
  Pad: (c) => {
    const { attrs, node } = c;
    STATIC_CHECKS.Pad(attrs);
    const x = c.tensor(0);
    let pads = c.opset >= 11 ? ints(c.inputs[1], node, "pads") : attrs.ints("pads") ?? [];
    if (c.opset >= 18 && c.inputs[3]) {
      const axes = ints(c.inputs[3], node, "axes").map((a) => normAxis(node, a, x.ndim));
      const full = new Array(2 * x.ndim).fill(0);
      axes.forEach((a, i) => {
        full[a] = pads[i];
        full[a + x.ndim] = pads[i + axes.length];
      });
      pads = full;
    }
    if (pads.length !== 2 * x.ndim) throw nodeError(node, `pads ${fmt(pads)} do not match rank ${x.ndim}`);
    if (pads.some((p) => p < 0)) {
      throw nodeError(node, `negative pads ${fmt(pads)} (cropping) are not supported`);
    }
    const value = c.opset >= 11
      ? (c.inputs[2] ? ints(c.inputs[2], node, "constant_value")[0] ?? 0 : 0)
      : attrs.float("value", 0);
    return pads.every((p) => p === 0) ? x : padTensor(x, pads, value);
  },
};

/** Checks of attribute values that need no input, run at load time (and again when the node runs). */
const STATIC_CHECKS: Record<string, (attrs: Attrs) => void> = {
  Conv: (a) => void convConfig(a),
  ConvTranspose: (a) => void convTransposeConfig(a),
  Resize: (a) => void resizeConfig(a),
  MaxPool: (a) => void poolConfig("max", a),
  AveragePool: (a) => void poolConfig("avg", a),
  Cast: (a) => void castTarget(a),
  BatchNormalization: (attrs) => {
    if (attrs.int("training_mode", 0) !== 0) {
      throw attrs.unsupported("training_mode", 1, "training_mode=0 (inference)");
    }
    if (attrs.int("spatial", 1) !== 1) throw attrs.unsupported("spatial", 0, "spatial=1");
  },
  Gelu: (attrs) => {
    const approx = attrs.string("approximate", "none");
    if (approx !== "none") throw attrs.unsupported("approximate", approx, "approximate=none");
  },
  Pad: (attrs) => {
    const mode = attrs.string("mode", "constant");
    if (mode !== "constant") throw attrs.unsupported("mode", mode, "mode=constant");
  },
};

/** The attributes each op understands; any other is an error. */
const KNOWN_ATTRS: Record<string, string[]> = {
  Constant: ["value", "value_float", "value_floats", "value_int", "value_ints"],
  Cast: ["to", "saturate"],
  Conv: ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
  ConvTranspose: [
    "auto_pad",
    "dilations",
    "group",
    "kernel_shape",
    "output_padding",
    "output_shape",
    "pads",
    "strides",
  ],
  Resize: [
    "antialias",
    "axes",
    "coordinate_transformation_mode",
    "cubic_coeff_a",
    "exclude_outside",
    "extrapolation_value",
    "keep_aspect_ratio_policy",
    "mode",
    "nearest_mode",
  ],
  MaxPool: ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"],
  AveragePool: ["auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"],
  Gemm: ["alpha", "beta", "transA", "transB"],
  BatchNormalization: ["epsilon", "momentum", "training_mode", "spatial"],
  LayerNormalization: ["axis", "epsilon", "stash_type"],
  Softmax: ["axis"],
  LogSoftmax: ["axis"],
  LeakyRelu: ["alpha"],
  Flatten: ["axis"],
  Reshape: ["allowzero"],
  Transpose: ["perm"],
  Concat: ["axis"],
  Slice: ["starts", "ends", "axes"],
  Gather: ["axis"],
  Unsqueeze: ["axes"],
  Squeeze: ["axes"],
  ReduceMean: ["axes", "keepdims", "noop_with_empty_axes"],
  ConstantOfShape: ["value"],
  Dropout: ["ratio", "seed"],
  Shape: ["start", "end"],
  Gelu: ["approximate"],
  Pad: ["mode", "value"],
};

/** Every op glassbox reads, for messages. */
export const ONNX_OPS: readonly string[] = Object.freeze(
  [...new Set([...Object.keys(TENSOR_OPS), ...Object.keys(HOST_OPS), "Shape"])].sort(),
);

function checkNode(node: OnnxNode): Attrs {
  if (node.domain !== "" && node.domain !== "ai.onnx") {
    throw nodeError(
      node,
      `operators of domain "${node.domain}" are not supported (only the default ONNX domain)`,
    );
  }
  if (!TENSOR_OPS[node.opType] && !HOST_OPS[node.opType] && node.opType !== "Shape") {
    throw nodeError(node, `operator ${node.opType} is not supported (glassbox reads ${ONNX_OPS.join(", ")})`);
  }
  const known = KNOWN_ATTRS[node.opType] ?? [];
  for (const [name, a] of Object.entries(node.attributes)) {
    if (!known.includes(name)) throw nodeError(node, `attribute "${name}" is not supported`);
    if (a.type === "unsupported") {
      throw nodeError(node, `attribute "${name}" has an unsupported type (${a.value})`);
    }
  }
  const attrs = new Attrs(node);
  STATIC_CHECKS[node.opType]?.(attrs);
  return attrs;
}

function shapeOf(attrs: Attrs, dims: readonly number[]): Host {
  const r = dims.length;
  const clip = (v: number) => Math.max(0, Math.min(r, v < 0 ? v + r : v));
  const s = clip(attrs.int("start", 0)), e = clip(attrs.int("end", r));
  return { dims: [Math.max(0, e - s)], type: "int", data: dims.slice(s, e) };
}

// ---- the module --------------------------------------------------------------------------------------

/** One ONNX node that computes on tensors, as a module (its `typeName` is the ONNX op). */
export class OnnxNodeModule extends Module {
  /** @internal the node's other inputs for the current call (parameters, host values) */
  _pending: (Value | undefined)[] = [];
  /** @internal which of the node's inputs arrive as forward arguments */
  readonly _dynamic: boolean[];

  /** The node this module runs. */
  constructor(
    readonly node: OnnxNode,
    readonly opset: number,
    dynamic: boolean[],
    private readonly attrs: Attrs,
  ) {
    super();
    this._dynamic = dynamic;
  }

  /** The ONNX op, e.g. "Conv" (what summaries and graphs show). */
  override get typeName(): string {
    return this.node.opType;
  }

  /** Runs the node on its tensor inputs (the graph's activations; parameters are bound). */
  forward(...xs: Tensor[]): Tensor {
    let k = 0;
    const inputs = this._pending.map((v, i) => (this._dynamic[i] ? xs[k++] : v));
    const node = this.node;
    const cache = new Map<number, Tensor>();
    const ctx: OpContext = {
      node,
      attrs: this.attrs,
      opset: this.opset,
      inputs,
      tensor: (i) => {
        const v = need(node, inputs[i], i);
        if (v instanceof Tensor) return v;
        let t = cache.get(i);
        if (!t) {
          t = tensor(v.type === "float" ? Float32Array.from(v.data) : Int32Array.from(v.data), v.dims, {
            dtype: v.type === "float" ? "float32" : "int32",
          });
          cache.set(i, t);
        }
        return t;
      },
      operand: (i) => {
        const v = need(node, inputs[i], i);
        return isHost(v) && v.data.length === 1 && v.dims.length === 0 ? v.data[0] : ctx.tensor(i);
      },
    };
    try {
      return TENSOR_OPS[node.opType](ctx);
    } catch (e) {
      if (e instanceof NodeError) throw e;
      throw nodeError(node, (e as Error).message);
    }
  }
}

/**
 * A model read from ONNX: `forward(...inputs)` runs the graph and returns its first output
 * (`forwardAll` returns every output). Children are the nodes that compute on tensors, named by
 * their ONNX node names (`model.get("/stem/Conv")` works even though the name holds "/" and ".");
 * parameters are the float initializers under their ONNX names (BatchNormalization statistics are
 * buffers). The graph runs with inference semantics whatever `train()` says: BatchNormalization uses
 * its running statistics and Dropout is the identity, as the exported file describes.
 */
export class OnnxModel extends Module {
  /** The graph's inputs (element type and shape, a string for a dynamic axis). */
  readonly inputs: OnnxValueInfo[];
  /** The graph's outputs. */
  readonly outputNames: string[];
  /** The file's metadata_props. */
  readonly metadata: Record<string, string>;
  /** The default domain's operator-set version. */
  readonly opset: number;
  readonly #graph: OnnxGraph;
  readonly #consts = new Map<string, Host>();
  readonly #tensors = new Map<string, Tensor>();
  readonly #buffers = new Set<string>();
  readonly #owner = new Map<string, Module>();
  readonly #kinds = new Map<string, Kind>();
  readonly #modules = new Map<string, OnnxNodeModule>();
  readonly #folded = new Set<string>();
  readonly #unavailable = new Map<string, Error>();
  readonly #plan: { node: OnnxNode; attrs: Attrs; kind: Kind; module?: OnnxNodeModule }[] = [];

  /** Builds the model; use `buildOnnxModel` (or `loadOnnx` for a file). */
  constructor(graph: OnnxGraph) {
    super();
    this.#graph = graph;
    this.opset = graph.opset;
    this.inputs = graph.inputs;
    this.outputNames = graph.outputs.map((o) => o.name);
    this.metadata = graph.metadata;
    const bufferUse = new Set<string>(); // BatchNorm statistics are buffers, not parameters
    for (const n of graph.nodes) {
      if (n.opType === "BatchNormalization") n.inputs.slice(3, 5).forEach((i) => bufferUse.add(i));
    }
    for (const init of graph.initializers) {
      if (init.type === "float") {
        const t = tensor(Float32Array.from(init.data), init.dims);
        untrack(t); // the model owns it
        t.name = init.name;
        if (bufferUse.has(init.name)) this.#buffers.add(init.name);
        else t.requiresGrad_(true);
        this.#tensors.set(init.name, t);
        this.#kinds.set(init.name, "tensor");
      } else {
        this.#consts.set(init.name, hostOf(init));
        this.#kinds.set(init.name, "const");
      }
    }
    for (const i of graph.inputs) {
      if (i.type !== "float" && i.type !== "int") {
        throw new Error(
          `onnx input "${i.name}" has element type ${i.type}; glassbox reads float and integer inputs`,
        );
      }
      this.#kinds.set(i.name, "tensor");
    }
    for (const node of graph.nodes) this.#plan.push(this.#prepare(node));
    // each initializer belongs to the first node that reads it (so per-layer summaries count it);
    // the model lists them all under their ONNX names
    for (const name of this.#tensors.keys()) if (!this.#owner.has(name)) this.#own(this, name);
    for (const o of graph.outputs) {
      const missing = this.#unavailable.get(o.name);
      if (missing) throw missing;
      if (this.#kinds.get(o.name) !== "tensor") {
        throw new Error(
          `onnx output "${o.name}" is ${this.#kinds.has(o.name) ? "a constant" : "never computed"}`,
        );
      }
    }
  }

  #prepare(node: OnnxNode) {
    const attrs = checkNode(node);
    for (const i of node.inputs) {
      if (i && !this.#kinds.has(i)) throw nodeError(node, `input "${i}" is not produced by any earlier node`);
      const missing = this.#unavailable.get(i);
      if (missing) throw missing;
    }
    const kinds = node.inputs.map((i) => (i ? this.#kinds.get(i)! : "const"));
    let kind: Kind;
    if (node.opType === "Constant") kind = "const";
    else if (node.opType === "Shape") kind = kinds[0] === "const" ? "const" : "shape";
    else if (kinds.includes("tensor")) kind = "tensor";
    else kind = kinds.includes("shape") ? "shape" : "const";
    if (kind !== "tensor" && !HOST_OPS[node.opType] && node.opType !== "Shape") {
      throw nodeError(node, `computing ${node.opType} on constants or shapes is not supported`);
    }
    if (kind === "tensor" && !TENSOR_OPS[node.opType]) {
      throw nodeError(
        node,
        `${node.opType} on a tensor computed from the input is not supported (only on constants and shapes)`,
      );
    }
    // glassbox computes a node's first output only (Dropout's mask, MaxPool's indices, the statistics
    // of BatchNormalization and LayerNormalization are not); asking for another one is an error
    node.outputs.forEach((o, k) => {
      if (!o) return;
      this.#kinds.set(o, kind);
      if (k > 0) {
        this.#unavailable.set(
          o,
          nodeError(node, `its output ${k} ("${o}") is not supported (only its first)`),
        );
      }
    });
    if (kind === "const") {
      const inputs = node.inputs.map((i) => (i ? this.#consts.get(i) : undefined));
      this.#consts.set(node.outputs[0], this.#host(node, attrs, inputs));
      this.#folded.add(node.name);
      return { node, attrs, kind };
    }
    if (kind === "shape") return { node, attrs, kind };
    if (this.#modules.has(node.name) || node.name === "") {
      throw new Error(`onnx: node name "${node.name}" is ${node.name ? "not unique" : "empty"}`);
    }
    const dynamic = node.inputs.map((i) =>
      i !== "" && this.#kinds.get(i) === "tensor" && !this.#tensors.has(i)
    );
    const module = this.addModule(node.name, new OnnxNodeModule(node, this.opset, dynamic, attrs));
    this.#modules.set(node.name, module);
    for (const i of node.inputs) if (this.#tensors.has(i) && !this.#owner.has(i)) this.#own(module, i);
    return { node, attrs, kind, module };
  }

  #own(m: Module, name: string): void {
    const t = this.#tensors.get(name)!;
    if (this.#buffers.has(name)) m.addBuffer(name, t);
    else m.addParameter(name, t);
    this.#owner.set(name, m);
  }

  #named(buffers: boolean, prefix: string): [string, Tensor][] {
    return [...this.#tensors].filter(([n]) => this.#buffers.has(n) === buffers).map((
      [n, t],
    ) => [prefix ? `${prefix}.${n}` : n, t]);
  }

  /**
   * The parameters under their ONNX initializer names (each is also listed by the node module that
   * first reads it, for per-layer counts).
   */
  override namedParameters(prefix = ""): [string, Tensor][] {
    return this.#named(false, prefix);
  }

  /**
   * The weight initializers of its Conv and Gemm nodes and of MatMul nodes whose second operand is
   * one: the tensors that are a Conv2d's or a Linear's weight in the model that was exported (what
   * magnitude pruning removes from; biases and normalisation parameters are left out).
   *
   * @example
   * ```ts
   * import { buildOnnxModel } from "glassbox";
   * const model = buildOnnxModel({
   *   opset: 17, producer: "hand", metadata: {},
   *   inputs: [{ name: "x", type: "float", shape: [1, 2] }],
   *   outputs: [{ name: "y", type: "float", shape: [1, 1] }],
   *   initializers: [
   *     { name: "w", dims: [1, 2], type: "float", data: new Float32Array([2, 3]) },
   *     { name: "b", dims: [1], type: "float", data: new Float32Array([1]) },
   *   ],
   *   nodes: [{ name: "fc", opType: "Gemm", domain: "", inputs: ["x", "w", "b"], outputs: ["y"], attributes: { transB: { type: "int", value: 1 } } }],
   * });
   * if (JSON.stringify(model.weightNames()) !== '["w"]') throw new Error(String(model.weightNames()));
   * ```
   */
  weightNames(): string[] {
    const names = new Set<string>();
    for (const n of this.#graph.nodes) {
      const w = n.inputs[1];
      if (!["Conv", "Gemm", "MatMul"].includes(n.opType) || !w) continue;
      if (this.#tensors.has(w) && !this.#buffers.has(w)) names.add(w);
    }
    return [...names];
  }

  /** The BatchNormalization statistics under their ONNX initializer names. */
  override namedBuffers(prefix = ""): [string, Tensor][] {
    return this.#named(true, prefix);
  }

  #host(node: OnnxNode, attrs: Attrs, inputs: (Value | undefined)[]): Host {
    try {
      if (node.opType === "Shape") {
        const x = need(node, inputs[0], 0);
        return shapeOf(attrs, isHost(x) ? x.dims : x.shape);
      }
      return HOST_OPS[node.opType](node, attrs, inputs as (Host | undefined)[], this.opset);
    } catch (e) {
      if (e instanceof NodeError) throw e;
      throw nodeError(node, (e as Error).message);
    }
  }

  /** A new model from the same graph with its own copy of every parameter and buffer (their current values). */
  copy(): OnnxModel {
    const m = new OnnxModel(this.#graph);
    m.loadStateDict(this.stateDict());
    m.train(this.training);
    return m;
  }

  /** The submodule for an ONNX node name (or a dotted module path, as `Module.get`). */
  override get(path: string): Module {
    const m = this.#modules.get(path);
    if (m) return m;
    if (this.#folded.has(path)) {
      throw new Error(
        `onnx node "${path}" computes a constant; it was folded at load time and has no module`,
      );
    }
    return super.get(path);
  }

  /** Every output of the graph, in order, for inputs in the graph's input order. */
  forwardAll(...xs: Tensor[]): Tensor[] {
    const g = this.#graph;
    if (xs.length !== g.inputs.length) {
      throw new Error(
        `onnx model takes ${g.inputs.length} input(s) (${
          g.inputs.map((i) => i.name).join(", ")
        }), got ${xs.length}`,
      );
    }
    const env = new Map<string, Value>([...this.#consts, ...this.#tensors]);
    g.inputs.forEach((info, i) => {
      const x = xs[i];
      const want = info.type === "float" ? "float32" : "int32";
      if (!(x instanceof Tensor) || x.dtype !== want) {
        throw new Error(
          `onnx input "${info.name}" must be a ${want} tensor, got ${
            x instanceof Tensor ? x.describe() : typeof x
          }`,
        );
      }
      const shape = info.shape;
      if (
        shape && (shape.length !== x.ndim || shape.some((d, a) => typeof d === "number" && d !== x.shape[a]))
      ) {
        throw new Error(`onnx input "${info.name}" must have shape ${fmt(shape)}, got ${fmt(x.shape)}`);
      }
      env.set(info.name, x);
    });
    for (const step of this.#plan) {
      if (step.kind === "const") continue;
      const inputs = step.node.inputs.map((i) => (i ? env.get(i) : undefined));
      if (step.kind === "shape") {
        env.set(step.node.outputs[0], this.#host(step.node, step.attrs, inputs));
        continue;
      }
      const m = step.module!;
      // the node's bound inputs for this call; restored afterwards, so a hook that runs the model
      // again (as some attribution methods do) does not disturb this call
      const before = m._pending;
      m._pending = inputs;
      let y: Tensor;
      try {
        y = m.forward(...(inputs.filter((_, i) => m._dynamic[i]) as Tensor[]));
      } finally {
        m._pending = before;
      }
      env.set(step.node.outputs[0], y);
    }
    return this.outputNames.map((o) => env.get(o) as Tensor);
  }

  /** The graph's first output. */
  forward(...xs: Tensor[]): Tensor {
    return this.forwardAll(...xs)[0];
  }
}

/**
 * A glassbox module for a decoded ONNX graph (see `OnnxModel`); errors name the node, the op and
 * what is missing.
 *
 * @example
 * ```ts
 * import { buildOnnxModel, tensor } from "glassbox";
 * const model = buildOnnxModel({
 *   opset: 17, producer: "hand", metadata: {},
 *   inputs: [{ name: "x", type: "float", shape: ["batch", 2] }],
 *   outputs: [{ name: "y", type: "float", shape: ["batch", 1] }],
 *   initializers: [{ name: "w", dims: [1, 2], type: "float", data: new Float32Array([2, 3]) }],
 *   nodes: [{ name: "fc", opType: "Gemm", domain: "", inputs: ["x", "w"], outputs: ["y"],
 *     attributes: { transB: { type: "int", value: 1 } } }],
 * });
 * const y = await model.forward(tensor([[1, 1]])).toArray(); // 2 + 3
 * if (y[0] !== 5) throw new Error("Gemm");
 * model.get("fc").typeName; // "Gemm"
 * ```
 */
export function buildOnnxModel(graph: OnnxGraph): OnnxModel {
  return new OnnxModel(graph);
}
