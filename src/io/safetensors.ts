/**
 * The safetensors format, so glassbox checkpoints open in PyTorch or any safetensors reader:
 *
 *   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets
 * relative to the start of the data section) plus an optional `__metadata__` of string pairs.
 * Tensors are stored little-endian, contiguously, and the offsets tile the data section
 * exactly. `validateSafetensors` checks all of these rules and names the first one broken.
 */

/** One tensor read from a file, still on the CPU. */
export interface HostTensor {
  /** F32 and I32 for state; I8 for quantized weights (stored with a `<name>_scale`). */
  dtype: "F32" | "I32" | "I8";
  /** The tensor's shape ([] for a scalar). */
  shape: number[];
  /** The values, row-major; the array type matches `dtype`. */
  data: Float32Array | Int32Array | Int8Array;
}

/** What a parsed file holds. */
export interface SafetensorsFile {
  /** Every tensor by name, in the file's header order. */
  tensors: Map<string, HostTensor>;
  /** The header's `__metadata__` string pairs ({} when absent). */
  metadata: Record<string, string>;
}

const ITEM: Record<string, number> = {
  F32: 4,
  I32: 4,
  F64: 8,
  I64: 8,
  F16: 2,
  BF16: 2,
  I16: 2,
  U8: 1,
  I8: 1,
  BOOL: 1,
};

/** Serialises tensors (in the given order) and metadata into one safetensors buffer. */
export function encodeSafetensors(
  tensors: [string, HostTensor][],
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new Error(`safetensors: "__metadata__" cannot be a tensor name`);
    const bytes = t.data.length * ITEM[t.dtype];
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new Error(`safetensors: "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " "; // align the data section
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const [, t] of tensors) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos); // typed arrays are little-endian on every platform Deno runs on
    pos += src.length;
  }
  return out;
}

/** One tensor's header entry, as `validateSafetensors` checked it (its data not yet read). */
export interface SafetensorsEntry {
  /** The tensor's name in the file (a state-dict key such as "0.weight"). */
  name: string;
  /** The stored dtype as the format spells it: "F32", "I32", "I8", "F16", "BF16", "F64", "I64", "I16", "U8" or "BOOL". */
  dtype: string;
  /** The tensor's shape ([] for a scalar). */
  shape: number[];
  /** First byte of its data, counted from the start of the data section (add `dataStart` for the file offset). */
  begin: number;
  /** One past its last byte, counted from the start of the data section. */
  end: number;
}

/** The first bytes of a file, for an error message: as text when they are printable, else in hex. */
function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 16);
  const printable = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09);
  if (printable) return JSON.stringify(new TextDecoder().decode(head));
  return [...head].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Checks a file against the format's rules; returns the parsed header entries or throws an
 * error naming the file and the first problem (truncation, bad JSON, a missing field, offsets
 * that overlap, leave a hole, or do not match the shape).
 *
 * @param bytes the whole file
 * @param name what to call the file in an error message
 * @returns the tensors' entries in header order, the `__metadata__` pairs, and `dataStart`, the
 * file offset of the data section (8 + header length)
 */
export function validateSafetensors(
  bytes: Uint8Array,
  name = "file",
): { entries: SafetensorsEntry[]; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) {
    throw new Error(
      `${name}: ${bytes.length} bytes is too short for a safetensors file (needs an 8-byte header length)`,
    );
  }
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  // a safetensors header is a JSON object right after the length: its first byte is "{"
  const looksLike = bytes.length > 8 && bytes[8] === 0x7b;
  if (n > bytes.length - 8 && !looksLike) {
    throw new Error(
      `${name} is not a safetensors file: its first 8 bytes read as a header length of ${n} bytes, ` +
        `impossible in a file of ${bytes.length} bytes, and no JSON header follows; it starts with ${
          describeStart(bytes)
        }`,
    );
  }
  if (n > bytes.length - 8) {
    throw new Error(
      `${name}: header length ${n} runs past the end of the file (${bytes.length} bytes): the file is truncated`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(
      `${name} is not a safetensors file or is damaged: its ${n}-byte header is not valid UTF-8 JSON (${
        (e as Error).message
      }); it starts with ${describeStart(bytes)}`,
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new Error(`${name}: the header is not a JSON object`);
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(header)) {
    if (key === "__metadata__") {
      if (typeof v !== "object" || v === null || Object.values(v).some((x) => typeof x !== "string")) {
        throw new Error(`${name}: __metadata__ must map strings to strings`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) throw new Error(`${name}: entry "${key}" is not an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in ITEM)) {
      throw new Error(`${name}: "${key}" has unknown dtype ${JSON.stringify(e.dtype)}`);
    }
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`${name}: "${key}" has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) ||
      off[1] < off[0]
    ) {
      throw new Error(`${name}: "${key}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (off[1] - off[0] !== count * ITEM[e.dtype]) {
      throw new Error(
        `${name}: "${key}" spans ${off[1] - off[0]} bytes but [${e.shape}] ${e.dtype} needs ${
          count * ITEM[e.dtype]
        }`,
      );
    }
    entries.push({ name: key, dtype: e.dtype, shape: e.shape as number[], begin: off[0], end: off[1] });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) {
      throw new Error(
        `${name}: "${e.name}" starts at byte ${e.begin} of the data but the previous tensor ends at ${pos} (${
          e.begin > pos ? "a hole" : "an overlap"
        })`,
      );
    }
    pos = e.end;
  }
  if (pos !== dataLen) {
    throw new Error(
      `${name}: the tensors cover ${pos} bytes but the data section has ${dataLen} (${
        pos > dataLen ? "truncated" : "trailing bytes"
      })`,
    );
  }
  return { entries, metadata, dataStart };
}

/** Parses and validates a safetensors buffer (F32, I32 and I8 tensors are supported). */
export function decodeSafetensors(bytes: Uint8Array, name = "file"): SafetensorsFile {
  const { entries, metadata, dataStart } = validateSafetensors(bytes, name);
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    if (e.dtype !== "F32" && e.dtype !== "I32" && e.dtype !== "I8") {
      throw new Error(`${name}: "${e.name}" is ${e.dtype}; glassbox reads F32, I32 and I8`);
    }
    const copy = bytes.slice(dataStart + e.begin, dataStart + e.end);
    const data = e.dtype === "F32"
      ? new Float32Array(copy.buffer)
      : e.dtype === "I32"
      ? new Int32Array(copy.buffer)
      : new Int8Array(copy.buffer);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}
