/**
 * Checkpoints: a module's parameters and buffers in a safetensors file, saved atomically.
 */
import { tensor } from "../tensor/create.ts";
import type { Module } from "../nn/module.ts";
import { scope } from "../tensor/scope.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  type SafetensorsFile,
} from "./safetensors.ts";
import { architectures, createModel, type ModelSpec, modelSpec } from "../models/registry.ts";
import "../models/zoo.ts";
import { writeAtomic, type WriteOptions } from "./file.ts";

/**
 * Writes `module.stateDict()` to `path` in the safetensors format. The file is written to a
 * temporary name in the same folder and renamed over `path` only when complete, so a failed or
 * interrupted save leaves the previous checkpoint intact.
 *
 * @example
 * ```ts
 * import { Linear, saveCheckpoint } from "glassbox";
 * await saveCheckpoint(new Linear(4, 2), "out/linear.safetensors", { epoch: "1" });
 * ```
 */
export async function saveCheckpoint(
  module: Module,
  path: string,
  metadata: Record<string, string> = {},
  options: WriteOptions = {},
): Promise<void> {
  const entries = await hostState(module);
  await writeAtomic(
    path,
    encodeSafetensors(entries, { format: "pt", producer: "glassbox", ...metadata }),
    options,
  );
}

/** @internal A module's state read back to the CPU as safetensors entries (F32, I32), in order. */
export async function hostState(module: Module): Promise<[string, HostTensor][]> {
  const entries: [string, HostTensor][] = [];
  for (const [name, t] of module.stateDict()) {
    const data = await t.toArray();
    entries.push([name, { dtype: t.dtype === "int32" ? "I32" : "F32", shape: [...t.shape], data }]);
  }
  return entries;
}

/** @internal The metadata `loadModel` rebuilds a model from, or null for a model not built by `createModel`. */
export function architectureMetadata(model: Module): Record<string, string> | null {
  const spec = modelSpec(model);
  return spec
    ? { "glassbox.architecture": spec.architecture, "glassbox.config": JSON.stringify(spec.config) }
    : null;
}

async function readCheckpoint(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}

/**
 * Turns quantized weights back into float: an I8 tensor `name` with its F32 `<name>_scale`
 * (one scale per output channel, the first dimension) becomes F32 q × scale, and the scale
 * entry is consumed. A missing or mis-shaped scale is an error naming both tensors.
 * `loadCheckpoint` and `loadModel` do this, so a quantized file loads into a float model.
 *
 * @example
 * ```ts
 * import { dequantizeFile } from "glassbox";
 * const file = {
 *   tensors: new Map([
 *     ["w", { dtype: "I8" as const, shape: [2, 1], data: Int8Array.from([10, -3]) }],
 *     ["w_scale", { dtype: "F32" as const, shape: [2], data: Float32Array.from([0.5, 2]) }],
 *   ]),
 *   metadata: {},
 * };
 * dequantizeFile(file, "demo").tensors.get("w")!.data; // [5, -6]
 * ```
 */
export function dequantizeFile(file: SafetensorsFile, path: string): SafetensorsFile {
  const tensors = new Map<string, HostTensor>();
  const used = new Set<string>();
  for (const [name, t] of file.tensors) {
    if (t.dtype !== "I8") continue;
    const sname = `${name}_scale`, s = file.tensors.get(sname);
    if (!s) throw new Error(`${path}: "${name}" is I8 but the file has no "${sname}" to dequantize it`);
    const rows = t.shape[0] ?? 1;
    if (s.dtype !== "F32" || s.shape.length !== 1 || s.shape[0] !== rows) {
      throw new Error(
        `${path}: "${sname}" must be F32 [${rows}] (one scale per output channel of "${name}" [${t.shape}]), got ${s.dtype} [${s.shape}]`,
      );
    }
    const per = t.data.length / Math.max(rows, 1), data = new Float32Array(t.data.length);
    for (let i = 0; i < data.length; i++) data[i] = t.data[i] * (s.data[Math.floor(i / per)] as number);
    tensors.set(name, { dtype: "F32", shape: t.shape, data });
    used.add(sname);
  }
  for (const [name, t] of file.tensors) if (!tensors.has(name) && !used.has(name)) tensors.set(name, t);
  return { tensors, metadata: file.metadata };
}

/** Copies a decoded checkpoint into a module, checking every name, shape and dtype first. */
function loadInto(module: Module, raw: SafetensorsFile, path: string): void {
  const file = dequantizeFile(raw, path);
  const own = module.stateDict();
  for (const [name, t] of own) {
    const s = file.tensors.get(name);
    if (!s) {
      throw new Error(`${path}: the checkpoint has no tensor "${name}" (the model expects ${t.describe()})`);
    }
    const dtype = s.dtype === "I32" ? "int32" : "float32";
    if (dtype !== t.dtype || s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(
        `${path}: "${name}" is [${
          s.shape.join(", ")
        }] ${dtype} in the checkpoint but ${t.describe()} in the model`,
      );
    }
  }
  for (const name of file.tensors.keys()) {
    if (!own.has(name)) throw new Error(`${path}: the checkpoint has a tensor "${name}" the model does not`);
  }
  scope(() => {
    const loaded = new Map(
      [...file.tensors].map((
        [n, s],
      ) => [
        n,
        tensor(s.data as Float32Array | Int32Array, s.shape, {
          dtype: s.dtype === "I32" ? "int32" : "float32",
        }),
      ]),
    );
    module.loadStateDict(loaded);
  });
}

/**
 * Loads a safetensors checkpoint into a module. Every name, shape and dtype must match the
 * module's state; the first mismatch is named. Returns the file's metadata.
 *
 * @example
 * ```ts
 * import { Linear, loadCheckpoint, saveCheckpoint } from "glassbox";
 * await saveCheckpoint(new Linear(4, 2), "out/lin.safetensors");
 * const meta = await loadCheckpoint(new Linear(4, 2), "out/lin.safetensors"); // { format: "pt", ... }
 * ```
 */
export async function loadCheckpoint(module: Module, path: string): Promise<Record<string, string>> {
  const file = await readCheckpoint(path);
  loadInto(module, file, path);
  return file.metadata;
}

/**
 * Saves a model built by `createModel` with its architecture and configuration in the
 * checkpoint's metadata (`glassbox.architecture`, `glassbox.config`), so `loadModel` can
 * rebuild it from the file alone.
 *
 * @example
 * ```ts
 * import { createModel, loadModel, saveModel } from "glassbox";
 * await saveModel(createModel("tabular-mlp", { features: 8 }), "out/mlp.safetensors");
 * const { model } = await loadModel("out/mlp.safetensors");
 * ```
 */
export async function saveModel(
  model: Module,
  path: string,
  metadata: Record<string, string> = {},
  options: WriteOptions = {},
): Promise<void> {
  const arch = architectureMetadata(model);
  if (!arch) {
    throw new Error(
      "saveModel: this model was not built by createModel, so its architecture is unknown; use saveCheckpoint, or build it with createModel",
    );
  }
  await saveCheckpoint(model, path, { ...metadata, ...arch }, options);
}

/**
 * Rebuilds a model from a checkpoint written by `saveModel` (or by `deno task train`): its
 * architecture and configuration come from the file's metadata. An unknown or missing
 * architecture is an error that lists the known ones.
 *
 * @example
 * ```ts
 * import { createModel, loadModel, saveModel } from "glassbox";
 * await saveModel(createModel("seed-cnn"), "out/cnn.safetensors");
 * const { model, metadata } = await loadModel("out/cnn.safetensors");
 * ```
 */
export async function loadModel(path: string): Promise<{ model: Module; metadata: Record<string, string> }> {
  const file = await readCheckpoint(path);
  const known = architectures().map((a) => a.name).join(", ");
  const arch = file.metadata["glassbox.architecture"];
  if (!arch) {
    throw new Error(
      `${path}: the checkpoint does not say which architecture it holds (no glassbox.architecture in its metadata); known architectures: ${known}. Load it into a model you build with loadCheckpoint.`,
    );
  }
  let config: ModelSpec["config"] = {};
  try {
    config = JSON.parse(file.metadata["glassbox.config"] ?? "{}");
  } catch {
    throw new Error(`${path}: glassbox.config in the metadata is not valid JSON`);
  }
  if (!architectures().some((a) => a.name === arch)) {
    throw new Error(`${path}: unknown architecture "${arch}"; known architectures: ${known}`);
  }
  const model = createModel(arch, config);
  loadInto(model, file, path);
  return { model, metadata: file.metadata };
}
