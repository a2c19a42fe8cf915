/**
 * Reading ONNX files: the protobuf is decoded by npm's `onnx-proto` (protobufjs code generated from
 * onnx.proto), then turned into plain values (`OnnxGraph`) that src/models/onnx.ts builds a glassbox
 * module from. `loadOnnx` does both and reads the explanation profile from the metadata.
 */
// deno-lint-ignore no-import-prefix
import onnxproto from "npm:onnx-proto@8.0.1";
import {
  buildOnnxModel,
  type OnnxAttribute,
  type OnnxElementType,
  type OnnxGraph,
  type OnnxModel,
  type OnnxTensor,
  type OnnxValueInfo,
} from "../models/onnx.ts";
import { type ExplanationProfile, profileFromMetadata } from "../models/profile.ts";

const { onnx } = onnxproto;
type Long = { toNumber(): number };
type Int = number | Long | null | undefined;

/** An int64 field (protobufjs gives a Long) as a number; beyond 2^53 it is an error. */
function num(v: Int, what: string): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === "number" ? v : v.toNumber();
  if (!Number.isSafeInteger(n) && Math.abs(n) < 9.2e18) {
    throw new Error(`onnx: ${what} ${n} is not an exact integer`);
  }
  return n;
}

const TYPE_NAMES: Record<number, string> = {
  0: "UNDEFINED",
  1: "FLOAT",
  2: "UINT8",
  3: "INT8",
  4: "UINT16",
  5: "INT16",
  6: "INT32",
  7: "INT64",
  8: "STRING",
  9: "BOOL",
  10: "FLOAT16",
  11: "DOUBLE",
  12: "UINT32",
  13: "UINT64",
  14: "COMPLEX64",
  15: "COMPLEX128",
  16: "BFLOAT16",
};

function elementType(code: number): OnnxElementType | null {
  if (code === 1 || code === 11) return "float";
  if (code === 9) return "bool";
  if ([2, 3, 4, 5, 6, 7, 12, 13].includes(code)) return "int";
  return null;
}

/** Decodes a TensorProto's values (raw_data or the typed repeated fields). */
function decodeTensor(t: onnxproto.onnx.ITensorProto, where: string): OnnxTensor {
  const name = t.name ?? "";
  const code = t.dataType ?? 0;
  const type = elementType(code);
  const label = `${where}${name ? ` "${name}"` : ""}`;
  if (!type) {
    throw new Error(
      `onnx: ${label} has element type ${TYPE_NAMES[code] ?? code}, which glassbox does not read`,
    );
  }
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new Error(`onnx: ${label} keeps its data in an external file, which glassbox does not read`);
  }
  const dims = (t.dims ?? []).map((d) => num(d as Int, `${label} dimension`));
  const n = dims.reduce((a, b) => a * b, 1);
  let values: number[] | Float32Array;
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size: Record<number, number> = {
      1: 4,
      2: 1,
      3: 1,
      4: 2,
      5: 2,
      6: 4,
      7: 8,
      9: 1,
      11: 8,
      12: 4,
      13: 8,
    };
    const read: Record<number, (o: number) => number> = {
      1: (o) => view.getFloat32(o, true),
      2: (o) => view.getUint8(o),
      3: (o) => view.getInt8(o),
      4: (o) => view.getUint16(o, true),
      5: (o) => view.getInt16(o, true),
      6: (o) => view.getInt32(o, true),
      7: (o) => Number(view.getBigInt64(o, true)),
      9: (o) => view.getUint8(o),
      11: (o) => view.getFloat64(o, true),
      12: (o) => view.getUint32(o, true),
      13: (o) => Number(view.getBigUint64(o, true)),
    };
    if (raw.byteLength !== n * size[code]) {
      throw new Error(`onnx: ${label} has ${raw.byteLength} bytes of data for shape [${dims.join(", ")}]`);
    }
    if (code === 1) {
      values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = read[1](4 * i);
    } else values = Array.from({ length: n }, (_, i) => read[code](i * size[code]));
  } else if (code === 1) values = Float32Array.from(t.floatData ?? []);
  else if (code === 11) values = (t.doubleData ?? []).map(Number);
  else if (code === 7 || code === 13) {
    values = (t.int64Data ?? t.uint64Data ?? []).map((v) => num(v as Int, label));
  } else values = (t.int32Data ?? []).map(Number);
  if (values.length !== n) {
    throw new Error(`onnx: ${label} has ${values.length} values for shape [${dims.join(", ")}]`);
  }
  return {
    name,
    dims,
    type,
    data: values instanceof Float32Array
      ? values
      : type === "float"
      ? Float32Array.from(values)
      : Float64Array.from(values),
  };
}

const AttrType = onnx.AttributeProto.AttributeType;

function decodeAttribute(a: onnxproto.onnx.IAttributeProto, node: string): OnnxAttribute {
  const where = `node "${node}" attribute "${a.name}"`;
  const text = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
  switch (a.type) {
    case AttrType.INT:
      return { type: "int", value: num(a.i as Int, where) };
    case AttrType.FLOAT:
      return { type: "float", value: a.f ?? 0 };
    case AttrType.STRING:
      return { type: "string", value: text(a.s) };
    case AttrType.INTS:
      return { type: "ints", value: (a.ints ?? []).map((v) => num(v as Int, where)) };
    case AttrType.FLOATS:
      return { type: "floats", value: [...(a.floats ?? [])] };
    case AttrType.STRINGS:
      return { type: "strings", value: (a.strings ?? []).map(text) };
    case AttrType.TENSOR:
      return { type: "tensor", value: decodeTensor(a.t!, where) };
    default:
      return { type: "unsupported", value: `${AttrType[a.type ?? 0] ?? a.type}` };
  }
}

function valueInfo(v: onnxproto.onnx.IValueInfoProto): OnnxValueInfo {
  const tt = v.type?.tensorType;
  const code = tt?.elemType ?? 0;
  const shape = tt?.shape
    ? (tt.shape.dim ?? []).map((
      d,
    ) => (d.dimParam ? d.dimParam : d.dimValue != null ? num(d.dimValue as Int, "dim") : null))
    : null;
  return { name: v.name ?? "", type: elementType(code) ?? (TYPE_NAMES[code] ?? `type ${code}`), shape };
}

/**
 * Decodes an ONNX model's bytes into plain values (no GPU work): nodes with their attributes,
 * initializers as typed arrays, the default domain's opset and the metadata. A file that is not
 * an ONNX model is an error.
 *
 * @example
 * ```ts
 * import { parseOnnx } from "glassbox";
 * try {
 *   parseOnnx(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   // "onnx: not a readable ONNX model: ..."
 * }
 * ```
 */
export function parseOnnx(bytes: Uint8Array): OnnxGraph {
  let m: InstanceType<typeof onnx.ModelProto>;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`onnx: not a readable ONNX model: ${(e as Error).message}`);
  }
  const g = m.graph;
  if (!g) throw new Error(`onnx: the model has no graph`);
  const ops = (m.opsetImport ?? []).filter((o) => !o.domain || o.domain === "ai.onnx");
  const opset = ops.length ? num(ops[0].version as Int, "opset version") : 1;
  const initializers = (g.initializer ?? []).map((t) => decodeTensor(t, "initializer"));
  if ((g.sparseInitializer ?? []).length) throw new Error(`onnx: sparse initializers are not supported`);
  const initNames = new Set(initializers.map((t) => t.name));
  const used = new Set<string>();
  const nodes = (g.node ?? []).map((n, i) => {
    let name = n.name || `${n.opType}_${i}`;
    while (used.has(name)) name = `${name}_${i}`;
    used.add(name);
    const attributes: Record<string, OnnxAttribute> = {};
    for (const a of n.attribute ?? []) attributes[a.name ?? ""] = decodeAttribute(a, name);
    return {
      name,
      opType: n.opType ?? "",
      domain: n.domain ?? "",
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes,
    };
  });
  const metadata: Record<string, string> = {};
  for (const p of m.metadataProps ?? []) metadata[p.key ?? ""] = p.value ?? "";
  return {
    opset,
    producer: `${m.producerName ?? ""} ${m.producerVersion ?? ""}`.trim(),
    inputs: (g.input ?? []).filter((v) => !initNames.has(v.name ?? "")).map(valueInfo),
    outputs: (g.output ?? []).map(valueInfo),
    initializers,
    nodes,
    metadata,
  };
}

/**
 * Reads an ONNX model (a file path or its bytes) as a glassbox module built from glassbox ops —
 * autograd, hooks and module paths included; submodules are named by ONNX node name and
 * parameters by initializer name — and the explanation profile its metadata_props carry under
 * `glassbox.profile`, if any.
 *
 * @example
 * ```ts
 * import { loadOnnx, tensor } from "glassbox";
 * const url = new URL("../../tests/fixtures/onnx/mlp.onnx", import.meta.url);
 * const { model, profile } = await loadOnnx(url.pathname);
 * const y = model.forward(tensor(new Float32Array(40), [4, 10]));
 * if (y.shape.join() !== "4,3" || profile !== undefined) throw new Error("mlp.onnx");
 * model.get("/fc1/Gemm").typeName; // "Gemm"
 * ```
 */
export async function loadOnnx(
  source: string | Uint8Array,
): Promise<{ model: OnnxModel; profile?: ExplanationProfile }> {
  const bytes = typeof source === "string" ? await Deno.readFile(source) : source;
  const graph = parseOnnx(bytes);
  const model = buildOnnxModel(graph);
  const profile = profileFromMetadata(graph.metadata);
  return profile ? { model, profile } : { model };
}
