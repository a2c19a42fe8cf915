/**
 * Model persistence, as bytes: a model built by `createModel` becomes a safetensors checkpoint
 * that records its architecture, configuration and explanation profile, and such a checkpoint
 * becomes the model again (quantized weights dequantized). No file is touched here — reading and
 * writing files is io's (`saveModel`/`loadModel` there hand these functions bytes), so this runs
 * wherever WebGPU does.
 */
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { scope } from "../tensor/scope.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  type SafetensorsFile,
} from "../io/safetensors.ts";
import { architectures, createModel, type ModelSpec, modelSpec } from "./registry.ts";
import {
  type ExplanationProfile,
  modelProfile,
  PROFILE_KEY,
  profileFromMetadata,
  profileMetadata,
  setProfile,
} from "./profile.ts";

/** A model rebuilt from a checkpoint: the model, the file's metadata and its explanation profile. */
export interface LoadedModel {
  /** The model, its weights loaded (dequantized when the file holds int8 weights). */
  model: Module;
  /** Every metadata entry of the file (architecture, configuration, profile, and the caller's own). */
  metadata: Record<string, string>;
  /** The explanation profile the file carries (also attached to `model`), or undefined when it has none. */
  profile: ExplanationProfile | undefined;
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

/**
 * @internal The profile entry a saved model's metadata gets: `profile` when given, else the one
 * the model carries, else a `glassbox.profile` already in `metadata` (checked); empty when none.
 */
export function profileEntry(
  model: Module,
  metadata: Record<string, string>,
  profile?: ExplanationProfile,
): Record<string, string> {
  const p = profile ?? modelProfile(model);
  if (p) return profileMetadata(p);
  if (metadata[PROFILE_KEY] !== undefined) profileFromMetadata(metadata); // a malformed one is an error now
  return {};
}

/**
 * The metadata `saveModel` writes for a model built by `createModel`: the caller's entries, its
 * architecture and configuration, and its explanation profile (see `profileEntry`). A model
 * `createModel` did not build is an error (its architecture is unknown).
 */
function modelMetadata(
  model: Module,
  metadata: Record<string, string>,
  profile?: ExplanationProfile,
): Record<string, string> {
  const arch = architectureMetadata(model);
  if (!arch) {
    throw new Error(
      "saveModel: this model was not built by createModel, so its architecture is unknown; use saveCheckpoint, or build it with createModel",
    );
  }
  return { ...metadata, ...arch, ...profileEntry(model, metadata, profile) };
}

/**
 * A model as the bytes of a safetensors checkpoint (what `saveModel` writes): its parameters and
 * buffers, its architecture and configuration, and its explanation profile (`options.profile`,
 * else the one the model carries) under `glassbox.profile`.
 *
 * @example
 * ```ts
 * import { createModel, decodeModel, encodeModel } from "glassbox";
 * const profile = { modality: "tabular" as const, inputShape: [3], classes: ["score"] };
 * const bytes = await encodeModel(createModel("tabular-mlp", { features: 3 }), { profile });
 * if (decodeModel(bytes).profile?.inputShape[0] !== 3) throw new Error("the profile did not travel");
 * ```
 */
export async function encodeModel(
  model: Module,
  options: { metadata?: Record<string, string>; profile?: ExplanationProfile } = {},
): Promise<Uint8Array> {
  const metadata = modelMetadata(model, options.metadata ?? {}, options.profile);
  return encodeSafetensors(await hostState(model), { format: "pt", producer: "glassbox", ...metadata });
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
 * const w = dequantizeFile(file, "demo").tensors.get("w")!;
 * if (w.dtype !== "F32" || w.data[0] !== 5 || w.data[1] !== -6) throw new Error(`got ${w.data}`);
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

/**
 * @internal Copies a decoded checkpoint into a module (dequantizing int8 weights), checking every
 * name, shape and dtype first; the first mismatch is named with `path`.
 */
export function loadStateInto(module: Module, raw: SafetensorsFile, path: string): void {
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
 * Rebuilds a model from a decoded checkpoint (see `decodeModel`); `path` names the file in errors.
 */
function modelFromSafetensors(file: SafetensorsFile, path: string): LoadedModel {
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
  let profile: ExplanationProfile | undefined;
  try {
    profile = profileFromMetadata(file.metadata);
  } catch (e) {
    throw new Error(`${path}: ${PROFILE_KEY}: ${(e as Error).message}`);
  }
  const model = createModel(arch, config);
  loadStateInto(model, file, path);
  if (profile) setProfile(model, profile);
  return { model, metadata: file.metadata, profile };
}

/**
 * Rebuilds a model from the bytes of a checkpoint written by `saveModel` or `encodeModel` (what
 * `loadModel` does after reading the file): its architecture and configuration come from the
 * metadata, its weights are loaded (int8 ones dequantized), and its explanation profile, when the
 * file has one, is returned and attached to the model (`modelProfile`). An unknown or missing
 * architecture is an error that lists the known ones; a malformed profile names the field.
 *
 * @example
 * ```ts
 * import { createModel, decodeModel, encodeModel, modelProfile } from "glassbox";
 * const bytes = await encodeModel(createModel("tabular-mlp", { features: 2 }));
 * const { model, profile } = decodeModel(bytes, "mlp.safetensors");
 * if (profile !== undefined || modelProfile(model) !== undefined) throw new Error("invented a profile");
 * ```
 */
export function decodeModel(bytes: Uint8Array, path = "checkpoint"): LoadedModel {
  return modelFromSafetensors(decodeSafetensors(bytes, path), path);
}
