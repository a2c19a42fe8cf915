/**
 * ONNX out: translates a glassbox model into an ONNX graph (opset 17) and encodes it with the
 * `onnx-proto` protobuf library. Every module type has a translator (`registerOnnxExporter`
 * adds one for a module of your own); a module without one is an error naming its path and
 * type. Initializers are named by the state-dict keys ("0.weight"), nodes by module paths
 * ("3", or "3/Erf_1" for a module's further nodes), so the ONNX graph reads like the model.
 *
 * The graph is the model in evaluation mode (Dropout is dropped, BatchNorm uses its running
 * statistics). Shapes come from one traced forward call on a zero input of `inputShape`; the
 * batch axis stays free ("batch"). No Deno API here: `saveOnnx` (io) writes the bytes.
 */
// deno-lint-ignore no-import-prefix
import onnxproto from "npm:onnx-proto@8.0.1";
import { AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d, Upsample } from "../nn/conv.ts";
import { Flatten, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "../nn/activation.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Dropout } from "../nn/dropout.ts";
import { Linear } from "../nn/linear.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { Embedding, LayerNorm } from "../nn/sequence.ts";
import {
  type AttentionMasks,
  LearnedPositionalEncoding,
  MultiheadAttention,
  SinusoidalPositionalEncoding,
  TransformerEncoderLayer,
} from "../nn/attention.ts";
import { zeros } from "../tensor/create.ts";
import { noGrad } from "../tensor/graph.ts";
import { scope } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { type ExplanationProfile, PROFILE_KEY, profileMetadata } from "./profile.ts";
import { RecurrentTagger, TokenTransformer } from "./sequence.ts";
import { GRU, LSTM, type RecurrentLayer, RNN } from "../nn/recurrent.ts";
import { BasicBlock } from "../nn/residual.ts";
import { SmallResNet } from "./resnet.ts";

const { onnx } = onnxproto;

/** The opset the exported graphs declare (the default ONNX domain). */
export const ONNX_OPSET = 17;

/** Options for `exportOnnx` and `saveOnnx`. */
export interface OnnxExportOptions {
  /** The shape of one example, without the batch axis (default: the profile's `inputShape`). */
  inputShape?: number[];
  /** The explanation profile, kept in the model's metadata under `glassbox.profile`. */
  profile?: ExplanationProfile;
  /**
   * The input's type: "float32", or "int32" for token ids (default: "int32" when the profile's
   * modality is "tokens", else "float32").
   */
  inputDtype?: "float32" | "int32";
}

/** An ONNX node attribute: an int, a float, a list of ints or floats, a string or a list of strings. */
export type OnnxAttribute =
  | { i: number }
  | { f: number }
  | { ints: number[] }
  | { floats: number[] }
  | { s: string }
  | { strings: string[] };

/**
 * What a translator sees: it adds nodes for one module and returns the name of the value the
 * module produces.
 */
export interface OnnxExportContext {
  /**
   * Adds a node and returns the name of its (single) output. The module's first node is named
   * by its path, later ones `path/Op_k`.
   */
  node(op: string, inputs: string[], attributes?: Record<string, OnnxAttribute>): string;
  /** The initializer holding the module's parameter or buffer `name` ("weight"), by its state-dict key. */
  param(name: string): string;
  /** A constant node holding float32 or int64 values of the given shape. */
  constant(values: number[], dims: number[], type?: "float32" | "int64"): string;
  /** Translates a child module (by its name in this module) applied to the value `input`. */
  child(name: string, input: string): string;
  /**
   * What the module saw in the traced call (the batch axis is 1 there): the shapes of its tensor
   * arguments, how many distinct tensors they were, and its other arguments (e.g. masks).
   */
  readonly shapes: OnnxTrace;
  /** The module's path in the model ("" for the model itself). */
  readonly path: string;
}

/** Adds the ONNX nodes for `module` applied to the value named `input`; returns its output's name. */
export type OnnxExporter<M extends Module = Module> = (
  ctx: OnnxExportContext,
  module: M,
  input: string,
) => string;

const exporters = new Map<unknown, OnnxExporter>();

/**
 * Registers the ONNX translation of a module type (the exact class: a subclass with its own
 * `forward` needs its own translator).
 *
 * @example
 * ```ts
 * import { exportOnnx, Module, registerOnnxExporter, Sequential, type Tensor } from "glassbox";
 * class Square extends Module {
 *   forward(x: Tensor): Tensor {
 *     return x.mul(x);
 *   }
 * }
 * registerOnnxExporter(Square, (ctx, _m, x) => ctx.node("Mul", [x, x]));
 * const bytes = await exportOnnx(new Sequential(new Square()), { inputShape: [3] });
 * if (bytes.length === 0) throw new Error("nothing written");
 * ```
 */
export function registerOnnxExporter<M extends Module>(
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => M,
  exporter: OnnxExporter<M>,
): void {
  exporters.set(type, exporter as OnnxExporter);
}

/** The module types `exportOnnx` can translate, by class name. */
export function onnxExportableTypes(): string[] {
  return [...exporters.keys()].map((k) => (k as { name: string }).name).sort();
}

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

registerOnnxExporter(Sequential, (ctx, m, x) => m.layers.reduce((h, _, i) => ctx.child(String(i), h), x));
registerOnnxExporter(Linear, (ctx, m, x) => {
  const w = ctx.param("weight"), b = m.bias ? [ctx.param("bias")] : [];
  if (ctx.shapes.inputs[0].length === 2) return ctx.node("Gemm", [x, w, ...b], { transB: { i: 1 } });
  const y = ctx.node("MatMul", [x, ctx.node("Transpose", [w], { perm: { ints: [1, 0] } })]);
  return b.length ? ctx.node("Add", [y, b[0]]) : y;
});
registerOnnxExporter(Conv2d, (ctx, m, x) => {
  const k = m.kernelSize, s = pair(m.options.stride ?? 1), p = pair(m.options.padding ?? 0);
  const d = pair(m.options.dilation ?? 1);
  return ctx.node("Conv", [x, ctx.param("weight"), ...(m.bias ? [ctx.param("bias")] : [])], {
    kernel_shape: { ints: [k, k] },
    strides: { ints: s },
    pads: { ints: [p[0], p[1], p[0], p[1]] },
    dilations: { ints: d },
    group: { i: 1 },
  });
});
registerOnnxExporter(ConvTranspose2d, (ctx, m, x) => {
  const k = m.kernelSize, s = m.options.stride ?? 1, p = m.options.padding ?? 0;
  const d = m.options.dilation ?? 1, op = m.options.outputPadding ?? 0;
  return ctx.node("ConvTranspose", [x, ctx.param("weight"), ...(m.bias ? [ctx.param("bias")] : [])], {
    kernel_shape: { ints: [k, k] },
    strides: { ints: [s, s] },
    pads: { ints: [p, p, p, p] },
    dilations: { ints: [d, d] },
    output_padding: { ints: [op, op] },
    group: { i: 1 },
  });
});
// Resize as PyTorch exports nn.Upsample: nearest is floor(dst / scale) ("asymmetric", "floor"),
// bilinear samples pixel centres ("half_pixel"; PyTorch's exporter writes "pytorch_half_pixel",
// which differs from PyTorch itself for an output of length 1) or aligned corners. A scale factor is
// passed as scales (ONNX samples at 1/scale, as PyTorch does), a size as sizes [N, C] ++ [OH, OW]
// built from the input's shape (the batch axis is free).
registerOnnxExporter(Upsample, (ctx, m, x) => {
  const attrs: Record<string, OnnxAttribute> = m.mode === "nearest"
    ? {
      mode: { s: "nearest" },
      coordinate_transformation_mode: { s: "asymmetric" },
      nearest_mode: { s: "floor" },
    }
    : {
      mode: { s: "linear" },
      coordinate_transformation_mode: { s: m.alignCorners ? "align_corners" : "half_pixel" },
    };
  if (m.scaleFactor !== undefined) {
    const [fh, fw] = typeof m.scaleFactor === "number" ? [m.scaleFactor, m.scaleFactor] : m.scaleFactor;
    return ctx.node("Resize", [x, "", ctx.constant([1, 1, fh, fw], [4])], attrs);
  }
  const nc = ctx.node("Slice", [
    ctx.node("Shape", [x]),
    ctx.constant([0], [1], "int64"),
    ctx.constant([2], [1], "int64"),
  ]);
  const sizes = ctx.node("Concat", [nc, ctx.constant(m.size!, [2], "int64")], { axis: { i: 0 } });
  return ctx.node("Resize", [x, "", "", sizes], attrs);
});
for (const [type, op] of [[MaxPool2d, "MaxPool"], [AvgPool2d, "AveragePool"]] as const) {
  registerOnnxExporter(type, (ctx, m: MaxPool2d | AvgPool2d, x) => {
    const k = pair(m.kernelSize), s = pair(m.stride ?? k), p = pair(m.padding);
    return ctx.node(op, [x], {
      kernel_shape: { ints: k },
      strides: { ints: s },
      pads: { ints: [p[0], p[1], p[0], p[1]] },
      ...(op === "AveragePool" ? { count_include_pad: { i: 1 } } : {}),
    });
  });
}
registerOnnxExporter(AdaptiveAvgPool2d, (ctx, _m, x) => ctx.node("GlobalAveragePool", [x]));
registerOnnxExporter(BatchNorm2d, (ctx, m, x) =>
  ctx.node(
    "BatchNormalization",
    [x, ctx.param("weight"), ctx.param("bias"), ctx.param("running_mean"), ctx.param("running_var")],
    { epsilon: { f: m.eps } },
  ));
registerOnnxExporter(LayerNorm, (ctx, m, x) => {
  const n = m.normalizedShape, size = n.reduce((a, b) => a * b, 1);
  const scale = m.weight ? ctx.param("weight") : ctx.constant(new Array(size).fill(1), n);
  return ctx.node("LayerNormalization", [x, scale, ...(m.bias ? [ctx.param("bias")] : [])], {
    axis: { i: -n.length },
    epsilon: { f: m.eps },
  });
});
registerOnnxExporter(ReLU, (ctx, _m, x) => ctx.node("Relu", [x]));
registerOnnxExporter(LeakyReLU, (ctx, m, x) => ctx.node("LeakyRelu", [x], { alpha: { f: m.slope } }));
registerOnnxExporter(Sigmoid, (ctx, _m, x) => ctx.node("Sigmoid", [x]));
registerOnnxExporter(Tanh, (ctx, _m, x) => ctx.node("Tanh", [x]));
/** opset 17 has no Gelu: x · (1 + erf(x / √2)) / 2, the exact form glassbox computes. */
function gelu(ctx: OnnxExportContext, x: string): string {
  const e = ctx.node("Erf", [ctx.node("Div", [x, ctx.constant([Math.SQRT2], [])])]);
  const half = ctx.node("Mul", [x, ctx.constant([0.5], [])]);
  return ctx.node("Mul", [half, ctx.node("Add", [e, ctx.constant([1], [])])]);
}
registerOnnxExporter(GELU, (ctx, _m, x) => gelu(ctx, x));
registerOnnxExporter(Softmax, (ctx, m, x) => ctx.node("Softmax", [x], { axis: { i: m.axis } }));
registerOnnxExporter(LogSoftmax, (ctx, m, x) => ctx.node("LogSoftmax", [x], { axis: { i: m.axis } }));
// torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); one ReLU module, used twice
registerOnnxExporter(BasicBlock, (ctx, m, x) => {
  const main = ["conv1", "bn1", "relu", "conv2", "bn2"].reduce((h, name) => ctx.child(name, h), x);
  const identity = m.downsample ? ctx.child("downsample", x) : x;
  return ctx.child("relu", ctx.node("Add", [main, identity]));
});
registerOnnxExporter(
  SmallResNet,
  (ctx, _m, x) =>
    ["conv1", "bn1", "relu", "layer1", "layer2", "avgpool", "flatten", "fc"].reduce(
      (h, name) => ctx.child(name, h),
      x,
    ),
);
registerOnnxExporter(Dropout, (_ctx, _m, x) => x); // evaluation mode: the identity
registerOnnxExporter(Flatten, (ctx, m, x) => {
  const rank = ctx.shapes.inputs[0].length;
  const start = m.startDim < 0 ? m.startDim + rank : m.startDim,
    end = m.endDim < 0 ? m.endDim + rank : m.endDim;
  if (start === 1 && end === rank - 1) return ctx.node("Flatten", [x], { axis: { i: 1 } });
  // keep the dims before start (0 = copy, so the batch stays free), merge start..end, keep the rest
  const out = ctx.shapes.output;
  const dims = out.map((d, i) => (i < start ? 0 : i === start ? -1 : d));
  return ctx.node("Reshape", [x, ctx.constant(dims, [dims.length], "int64")]);
});

/** What one module saw in the traced forward call. */
export interface OnnxTrace {
  /** The shapes of the tensor arguments, in order. */
  inputs: number[][];
  /** How many distinct tensors the arguments were (self-attention passes one three times). */
  distinctInputs: number;
  /** The arguments that were not tensors (e.g. an attention-mask object). */
  others: unknown[];
  /** The output's shape. */
  output: number[];
}

/** Runs the model once on zeros (batch 1, eval mode) and records the shapes each module saw. */
function trace(model: Module, inputShape: number[], dtype: "float32" | "int32"): Map<Module, OnnxTrace> {
  const seen = new Map<Module, OnnxTrace>();
  const handles = model.namedModules().map(([, m]) =>
    m.registerForwardHook((mod, inputs, output) => {
      if (seen.has(mod)) return;
      const tensors = inputs.filter((t) => t instanceof Tensor);
      seen.set(mod, {
        inputs: tensors.map((t) => [...t.shape]),
        distinctInputs: new Set(tensors).size,
        others: inputs.filter((t) => !(t instanceof Tensor)),
        output: [...output.shape],
      });
    })
  );
  const restore = model.enterEval();
  try {
    scope(() => noGrad(() => model.forward(zeros([1, ...inputShape], { dtype }))));
  } finally {
    restore();
    for (const h of handles) h.remove();
  }
  return seen;
}

function attribute(name: string, a: OnnxAttribute): onnxproto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("i" in a) return { name, type: T.INT, i: a.i };
  if ("f" in a) return { name, type: T.FLOAT, f: a.f };
  if ("ints" in a) return { name, type: T.INTS, ints: a.ints };
  if ("floats" in a) return { name, type: T.FLOATS, floats: a.floats };
  if ("strings" in a) {
    return {
      name,
      type: T.STRINGS,
      strings: a.strings.map((v) => new TextEncoder().encode(v)),
    };
  }
  return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
}

function tensorProto(
  name: string,
  values: ArrayLike<number>,
  dims: number[],
  type: "float32" | "int64",
): onnxproto.onnx.ITensorProto {
  const DT = onnx.TensorProto.DataType;
  const width = type === "float32" ? 4 : 8;
  const raw = new Uint8Array(values.length * width);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) {
    if (type === "float32") view.setFloat32(i * 4, values[i], true);
    else view.setBigInt64(i * 8, BigInt(values[i]), true);
  }
  return { name, dims, dataType: type === "float32" ? DT.FLOAT : DT.INT64, rawData: raw };
}

function valueInfo(name: string, shape: number[], dtype = "float32"): onnxproto.onnx.IValueInfoProto {
  const dim = shape.map((d, i) => (i === 0 ? { dimParam: "batch" } : { dimValue: d }));
  const DT = onnx.TensorProto.DataType, elemType = dtype === "int32" ? DT.INT32 : DT.FLOAT;
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/**
 * The model as ONNX bytes (opset 17): a graph with input "input" ([batch, ...inputShape],
 * float32) and output "output", the parameters and buffers as initializers under their
 * state-dict keys, and the profile (when given) in the metadata under `glassbox.profile`.
 *
 * @example
 * ```ts
 * import { exportOnnx, Linear, ReLU, Sequential } from "glassbox";
 * const bytes = await exportOnnx(new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2)), { inputShape: [4] });
 * if (bytes.length < 4 * (4 * 8 + 8 + 8 * 2 + 2)) throw new Error("the weights are missing");
 * ```
 */
export async function exportOnnx(model: Module, options: OnnxExportOptions): Promise<Uint8Array> {
  const inputShape = options.inputShape ?? options.profile?.inputShape;
  if (!inputShape) throw new Error("exportOnnx: give an inputShape (one example, without the batch axis)");
  if (!Array.isArray(inputShape) || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`exportOnnx: inputShape must be positive integers, got ${JSON.stringify(inputShape)}`);
  }
  const metadata = options.profile ? profileMetadata(options.profile) : undefined;
  const profileShape = options.profile?.inputShape;
  if (profileShape && profileShape.join() !== inputShape.join()) {
    throw new Error(
      `exportOnnx: inputShape [${inputShape.join(", ")}] differs from the profile's [${
        profileShape.join(", ")
      }]`,
    );
  }
  // every module must have a translator before anything runs
  for (const [path, m] of model.namedModules()) {
    if (!exporters.has(m.constructor)) {
      throw new Error(
        `exportOnnx: module "${path}" (${m.typeName}) has no ONNX translation; translated types: ${
          onnxExportableTypes().join(", ")
        } (registerOnnxExporter adds one)`,
      );
    }
  }
  const dtype = options.inputDtype ?? (options.profile?.modality === "tokens" ? "int32" : "float32");
  if (dtype !== "float32" && dtype !== "int32") {
    throw new Error(`exportOnnx: inputDtype must be "float32" or "int32", got ${JSON.stringify(dtype)}`);
  }
  const shapes = trace(model, inputShape, dtype);
  const state = model.stateDict();
  const nodes: onnxproto.onnx.INodeProto[] = [];
  const used = new Map<string, Tensor>();
  const names = new Set<string>(["input", "output"]);
  let constants = 0;

  const emit = (m: Module, path: string, input: string): string => {
    const exporter = exporters.get(m.constructor)!;
    const seen = shapes.get(m);
    if (!seen) {
      throw new Error(`exportOnnx: module "${path}" (${m.typeName}) was not called by the model's forward`);
    }
    let count = 0;
    const ctx: OnnxExportContext = {
      path,
      shapes: seen,
      node(op, inputs, attributes = {}) {
        const base = path === "" ? "model" : path;
        let name = count === 0 && !names.has(base) ? base : `${base}/${op}_${count}`;
        while (names.has(name)) name = `${base}/${op}_${++count}`;
        count++;
        names.add(name);
        nodes.push({
          name,
          opType: op,
          input: inputs,
          output: [name],
          attribute: Object.entries(attributes).map(([k, a]) => attribute(k, a)),
        });
        return name;
      },
      param(name) {
        const key = path === "" ? name : `${path}.${name}`;
        const t = state.get(key);
        if (!t) {
          throw new Error(
            `exportOnnx: module "${path}" (${m.typeName}) has no parameter or buffer "${name}"`,
          );
        }
        used.set(key, t);
        return key;
      },
      constant(values, dims, type = "float32") {
        const name = `${path === "" ? "model" : path}/Constant_${constants++}`;
        names.add(name);
        nodes.push({
          name,
          opType: "Constant",
          input: [],
          output: [name],
          attribute: [{
            name: "value",
            type: onnx.AttributeProto.AttributeType.TENSOR,
            t: tensorProto(name, values, dims, type),
          }],
        });
        return name;
      },
      child(name, x) {
        const c = m.get(name);
        return emit(c, path === "" ? name : `${path}.${name}`, x);
      },
    };
    return exporter(ctx, m, input);
  };

  const out = emit(model, "", "input");
  if (out === "input") nodes.push({ name: "output", opType: "Identity", input: [out], output: ["output"] });
  else {
    // the last value is the graph's output, named "output"
    for (const n of nodes) {
      n.input = n.input!.map((v) => (v === out ? "output" : v));
      n.output = n.output!.map((v) => (v === out ? "output" : v));
    }
  }
  const initializer: onnxproto.onnx.ITensorProto[] = [];
  for (const [key, t] of used) {
    if (t.dtype !== "float32") {
      throw new Error(`exportOnnx: "${key}" is ${t.describe()}; only float32 is exported`);
    }
    initializer.push(tensorProto(key, await t.toArray(), [...t.shape], "float32"));
  }
  const model_: onnxproto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "glassbox",
    graph: {
      name: model.typeName,
      node: nodes,
      initializer,
      input: [valueInfo("input", [1, ...inputShape], dtype)],
      output: [valueInfo("output", shapes.get(model)!.output)],
    },
    metadataProps: metadata ? [{ key: PROFILE_KEY, value: metadata[PROFILE_KEY] }] : [],
  };
  return onnx.ModelProto.encode(model_).finish();
}

/** Rows 0..n−1 of a [rows, ...] initializer. */
function firstRows(ctx: OnnxExportContext, table: string, n: number): string {
  const c = (v: number) => ctx.constant([v], [1], "int64");
  return ctx.node("Slice", [table, c(0), c(n), c(0)]);
}

/** Slice [from, to) of the last axis. */
function lastAxis(ctx: OnnxExportContext, x: string, from: number, to: number): string {
  const c = (v: number) => ctx.constant([v], [1], "int64");
  return ctx.node("Slice", [x, c(from), c(to), c(-1)]);
}

function noMasks(ctx: OnnxExportContext, m: Module): void {
  const masks = ctx.shapes.others.find((o) => typeof o === "object" && o !== null) as
    | AttentionMasks
    | undefined;
  const used = masks ? Object.entries(masks).filter(([, v]) => v !== undefined && v !== false) : [];
  if (used.length) {
    throw new Error(
      `exportOnnx: module "${ctx.path}" (${m.typeName}) was called with ${
        used.map(([k]) => k).join(", ")
      }; attention masks are not exported`,
    );
  }
}

registerOnnxExporter(
  Embedding,
  (ctx, _m, x) => ctx.node("Gather", [ctx.param("weight"), x], { axis: { i: 0 } }),
);
/** x plus the first L rows of the positional table (L as traced: the graph takes exactly L positions). */
const positions = (table: string): OnnxExporter => (ctx, _m, x) =>
  ctx.node("Add", [x, firstRows(ctx, ctx.param(table), ctx.shapes.inputs[0].at(-2)!)]);
registerOnnxExporter(LearnedPositionalEncoding, positions("weight"));
registerOnnxExporter(SinusoidalPositionalEncoding, positions("pe"));
registerOnnxExporter(MultiheadAttention, (ctx, m, x) => {
  if (ctx.shapes.distinctInputs !== 1) {
    throw new Error(
      `exportOnnx: module "${ctx.path}" (MultiheadAttention) was called with a separate key or value; only self-attention is exported`,
    );
  }
  noMasks(ctx, m);
  const E = m.embedDim, H = m.numHeads, D = E / H;
  const w = ctx.node("Transpose", [ctx.param("in_proj_weight")], { perm: { ints: [1, 0] } });
  let qkv = ctx.node("MatMul", [x, w]); // [B, L, 3E]
  if (m.inProjBias) qkv = ctx.node("Add", [qkv, ctx.param("in_proj_bias")]);
  const heads = (part: number, perm: number[]) =>
    ctx.node("Transpose", [
      ctx.node("Reshape", [
        lastAxis(ctx, qkv, part * E, (part + 1) * E),
        ctx.constant([0, 0, H, D], [4], "int64"),
      ]),
    ], { perm: { ints: perm } });
  const q = heads(0, [0, 2, 1, 3]), kT = heads(1, [0, 2, 3, 1]), v = heads(2, [0, 2, 1, 3]);
  const scores = ctx.node("Mul", [ctx.node("MatMul", [q, kT]), ctx.constant([1 / Math.sqrt(D)], [])]);
  const attended = ctx.node("MatMul", [ctx.node("Softmax", [scores], { axis: { i: -1 } }), v]); // [B, H, L, D]
  const merged = ctx.node("Reshape", [
    ctx.node("Transpose", [attended], { perm: { ints: [0, 2, 1, 3] } }),
    ctx.constant([0, 0, E], [3], "int64"),
  ]);
  return ctx.child("out_proj", merged);
});
registerOnnxExporter(TransformerEncoderLayer, (ctx, m, x) => {
  noMasks(ctx, m);
  const sa = (h: string) => ctx.child("dropout1", ctx.child("self_attn", h));
  const ffn = (h: string) => {
    const a = ctx.child("linear1", h);
    return ctx.child(
      "dropout2",
      ctx.child(
        "linear2",
        ctx.child("dropout", m.activation === "gelu" ? gelu(ctx, a) : ctx.node("Relu", [a])),
      ),
    );
  };
  if (m.normFirst) {
    const h = ctx.node("Add", [x, sa(ctx.child("norm1", x))]);
    return ctx.node("Add", [h, ffn(ctx.child("norm2", h))]);
  }
  const h = ctx.child("norm1", ctx.node("Add", [x, sa(x)]));
  return ctx.child("norm2", ctx.node("Add", [h, ffn(h)]));
});
registerOnnxExporter(
  TokenTransformer,
  (ctx, _m, x) => ctx.child("head", ctx.child("layers", ctx.child("pos", ctx.child("embed", x)))),
);

/**
 * A recurrent layer as ONNX LSTM/GRU/RNN nodes, one per layer, time-major (ORT runs no batch-first
 * layout) with the gates reordered from PyTorch's (LSTM i f g o → ONNX i o f c; GRU r z n → z r h)
 * by slicing and concatenating the initializers, which keep their state-dict names.
 */
function recurrent(op: "LSTM" | "GRU" | "RNN", order: number[]): OnnxExporter<RecurrentLayer> {
  return (ctx, m, x) => {
    const H = m.hiddenSize, i64 = (v: number[]) => ctx.constant(v, [v.length], "int64");
    const gates = (t: string) =>
      order.length === 1 ? t : ctx.node(
        "Concat",
        order.map((g) => ctx.node("Slice", [t, i64([g * H]), i64([(g + 1) * H]), i64([0])])),
        { axis: { i: 0 } },
      );
    const front = (t: string) => ctx.node("Unsqueeze", [t, i64([0])]); // [1, …]: one direction
    const attributes: Record<string, OnnxAttribute> = { hidden_size: { i: H } };
    if (m instanceof GRU) attributes.linear_before_reset = { i: 1 }; // PyTorch's GRU: r·(W_hn h + b_hn)
    if (m instanceof RNN) attributes.activations = { strings: [m.nonlinearity === "relu" ? "Relu" : "Tanh"] };
    let h = ctx.node("Transpose", [x], { perm: { ints: [1, 0, 2] } }); // [T, B, I]
    m.layers.forEach((w, l) => {
      const wi = front(gates(ctx.param(`weight_ih_l${l}`))), wh = front(gates(ctx.param(`weight_hh_l${l}`)));
      const b = w.bIh && w.bHh
        ? [front(ctx.node("Concat", [gates(ctx.param(`bias_ih_l${l}`)), gates(ctx.param(`bias_hh_l${l}`))], {
          axis: { i: 0 },
        }))]
        : [];
      const y = ctx.node(op, [h, wi, wh, ...b], attributes); // [T, 1, B, H]
      h = ctx.node("Squeeze", [y, i64([1])]);
    });
    return ctx.node("Transpose", [h], { perm: { ints: [1, 0, 2] } });
  };
}
registerOnnxExporter(LSTM, recurrent("LSTM", [0, 3, 1, 2]));
registerOnnxExporter(GRU, recurrent("GRU", [1, 0, 2]));
registerOnnxExporter(RNN, recurrent("RNN", [0]));
registerOnnxExporter(
  RecurrentTagger,
  (ctx, _m, x) => ctx.child("head", ctx.child("rnn", ctx.child("embed", x))),
);
