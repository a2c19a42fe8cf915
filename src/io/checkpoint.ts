/**
 * Checkpoints as files: a module's parameters and buffers in a safetensors file, saved
 * atomically, and a whole model (architecture, configuration, explanation profile) saved and
 * loaded by path. The model persistence itself is `src/models/persist.ts`, on bytes; this module
 * only reads and writes the files.
 */
import type { Module } from "../nn/module.ts";
import { decodeSafetensors, encodeSafetensors, type SafetensorsFile } from "./safetensors.ts";
import { writeAtomic, type WriteOptions } from "./file.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import { decodeModel, encodeModel, hostState, type LoadedModel, loadStateInto } from "../models/persist.ts";

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

/** The bytes of the file at `path`, or an error that names the path. */
async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
}

async function readCheckpoint(path: string): Promise<SafetensorsFile> {
  return decodeSafetensors(await readBytes(path), path);
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
  loadStateInto(module, file, path);
  return file.metadata;
}

/** Options for `saveModel`: how to write the file, and the explanation profile to record. */
export interface SaveModelOptions extends WriteOptions {
  /** The profile to record (default: the one the model carries, `modelProfile(model)`). */
  profile?: ExplanationProfile;
}

/**
 * Saves a model built by `createModel` with its architecture and configuration in the
 * checkpoint's metadata (`glassbox.architecture`, `glassbox.config`), so `loadModel` can
 * rebuild it from the file alone, and its explanation profile under `glassbox.profile`
 * (`options.profile`, else the one set with `setProfile`; none when it has none). The bytes are
 * `encodeModel`'s, written atomically.
 *
 * @example
 * ```ts
 * import { createModel, loadModel, saveModel } from "glassbox";
 * const profile = { modality: "tabular" as const, inputShape: [8], classes: ["risk"] };
 * await saveModel(createModel("tabular-mlp", { features: 8 }), "out/mlp.safetensors", {}, { profile });
 * const { model, profile: back } = await loadModel("out/mlp.safetensors");
 * if (back?.classes[0] !== "risk") throw new Error("the profile did not travel");
 * ```
 */
export async function saveModel(
  model: Module,
  path: string,
  metadata: Record<string, string> = {},
  options: SaveModelOptions = {},
): Promise<void> {
  const { profile, ...write } = options;
  await writeAtomic(path, await encodeModel(model, { metadata, profile }), write);
}

/**
 * Rebuilds a model from a checkpoint written by `saveModel` (or by `deno task train`): its
 * architecture and configuration come from the file's metadata, and its explanation profile
 * (undefined when the file has none) is returned and attached to the model. An unknown or
 * missing architecture is an error that lists the known ones. (`decodeModel` does the same from
 * bytes.)
 *
 * @example
 * ```ts
 * import { createModel, loadModel, saveModel } from "glassbox";
 * await saveModel(createModel("seed-cnn"), "out/cnn.safetensors");
 * const { model, metadata, profile } = await loadModel("out/cnn.safetensors");
 * if (profile !== undefined) throw new Error("a model saved without a profile has none");
 * ```
 */
export async function loadModel(path: string): Promise<LoadedModel> {
  return decodeModel(await readBytes(path), path);
}
