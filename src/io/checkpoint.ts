/**
 * Checkpoints: a module's parameters and buffers in a safetensors file, saved atomically.
 */
import { tensor } from "../tensor/create.ts";
import type { Module } from "../nn/module.ts";
import { scope } from "../tensor/scope.ts";
import { decodeSafetensors, encodeSafetensors, type HostTensor } from "./safetensors.ts";
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
  const entries: [string, HostTensor][] = [];
  for (const [name, t] of module.stateDict()) {
    const data = await t.toArray();
    entries.push([name, { dtype: t.dtype === "int32" ? "I32" : "F32", shape: [...t.shape], data }]);
  }
  await writeAtomic(
    path,
    encodeSafetensors(entries, { format: "pt", producer: "glassbox", ...metadata }),
    options,
  );
}

/**
 * Loads a safetensors checkpoint into a module. Every name, shape and dtype must match the
 * module's state; the first mismatch is named. Returns the file's metadata.
 */
export async function loadCheckpoint(module: Module, path: string): Promise<Record<string, string>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  const file = decodeSafetensors(bytes, path);
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
      ) => [n, tensor(s.data, s.shape, { dtype: s.dtype === "I32" ? "int32" : "float32" })]),
    );
    module.loadStateDict(loaded);
  });
  return file.metadata;
}
