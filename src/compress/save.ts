/**
 * Saving a model with int8 weights: every Linear and Conv2d weight is stored as an `I8`
 * tensor under its own name, with an `F32` tensor `<name>_scale` holding one scale per output
 * channel (weight ≈ q × scale), so any safetensors reader can restore float weights;
 * `loadModel` and `loadCheckpoint` do that. Everything else stays float32.
 */
import { Conv2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import type { Module } from "../nn/module.ts";
import { encodeSafetensors, type HostTensor } from "../io/safetensors.ts";
import { writeAtomic, type WriteOptions } from "../io/file.ts";
import { loadModel } from "../io/checkpoint.ts";
import { architectureMetadata, hostState, profileEntry } from "../models/persist.ts";
import { type ExplanationProfile, modelProfile } from "../models/profile.ts";
import type { Int8DotPath } from "../tensor/mod.ts";
import { quantizePerChannel } from "./int8.ts";
import { QuantizedModel, quantizeModel } from "./quantize_model.ts";

/** What `saveQuantizedModel` wrote. */
export interface QuantizedSave {
  /** The weights stored as int8, by name. */
  quantized: string[];
  /** Bytes of the file written. */
  bytes: number;
  /** Largest |w − q·scale| over all quantized weights (at most half a scale step each). */
  maxError: number;
}

/**
 * Writes `model` to `path` (atomically) with int8 per-output-channel weights for its Linear and
 * Conv2d layers, recording its architecture (when built by `createModel`) so `loadModel`
 * rebuilds it, dequantized, and its explanation profile (`options.profile`, else the one the
 * model carries) under `glassbox.profile`, as `saveModel` does. Given a `QuantizedModel`, it saves the float model it was built
 * from and records its calibrated input scales in the metadata ("glassbox.input_scales"), so
 * `loadQuantizedModel` rebuilds the int8 model itself.
 *
 * @example
 * ```ts
 * import { createModel, loadModel, saveQuantizedModel } from "glassbox";
 * const { quantized } = await saveQuantizedModel(createModel("seed-cnn"), "out/cnn-int8.safetensors");
 * const { model } = await loadModel("out/cnn-int8.safetensors"); // float weights q × scale
 * ```
 */
export async function saveQuantizedModel(
  model: Module | QuantizedModel,
  path: string,
  metadata: Record<string, string> = {},
  options: WriteOptions & { profile?: ExplanationProfile } = {},
): Promise<QuantizedSave> {
  const { profile, ...write } = options;
  const { bytes, quantized, maxError } = await encodeQuantizedModel(model, metadata, profile);
  await writeAtomic(path, bytes, write);
  return { quantized, bytes: bytes.length, maxError };
}

/**
 * The bytes `saveQuantizedModel` writes, built in memory (nothing is written): int8
 * per-output-channel weights with their `<name>_scale`, the architecture, the profile
 * (`profile`, else the model's) and, for a `QuantizedModel`, its calibrated input scales.
 *
 * @example
 * ```ts
 * import { createModel, decodeSafetensors, encodeQuantizedModel } from "glassbox";
 * const { bytes, quantized } = await encodeQuantizedModel(createModel("tabular-mlp"));
 * const file = decodeSafetensors(bytes);
 * const w = file.tensors.get(quantized[0])!;
 * if (w.dtype !== "I8" || !file.tensors.has(`${quantized[0]}_scale`)) throw new Error("not int8 with scales");
 * ```
 */
export async function encodeQuantizedModel(
  model: Module | QuantizedModel,
  metadata: Record<string, string> = {},
  profile?: ExplanationProfile,
): Promise<{ bytes: Uint8Array; quantized: string[]; maxError: number }> {
  if (model instanceof QuantizedModel) {
    const scales = JSON.stringify(Object.fromEntries(model.inputScales));
    return await encodeQuantizedModel(
      model.source,
      { ...metadata, "glassbox.input_scales": scales },
      // a profile set on the QuantizedModel itself counts too (else its float source's)
      profile ?? modelProfile(model),
    );
  }
  const targets = new Set<string>();
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Linear || m instanceof Conv2d) targets.add(name ? `${name}.weight` : "weight");
  }
  const entries: [string, HostTensor][] = [];
  const quantized: string[] = [];
  let maxError = 0;
  for (const [name, t] of await hostState(model)) {
    if (!targets.has(name) || t.dtype !== "F32") {
      entries.push([name, t]);
      continue;
    }
    const rows = t.shape[0], cols = t.data.length / rows;
    const { q, scales } = quantizePerChannel(t.data as Float32Array, rows, cols);
    for (let i = 0; i < q.length; i++) {
      maxError = Math.max(maxError, Math.abs(t.data[i] - q[i] * scales[Math.floor(i / cols)]));
    }
    entries.push([name, { dtype: "I8", shape: t.shape, data: q }]);
    entries.push([`${name}_scale`, { dtype: "F32", shape: [rows], data: scales }]);
    quantized.push(name);
  }
  const bytes = encodeSafetensors(entries, {
    format: "pt",
    producer: "glassbox",
    "glassbox.quantization": "int8 symmetric per output channel: weight = q × <name>_scale",
    ...architectureMetadata(model),
    ...metadata,
    ...profileEntry(model, metadata, profile),
  });
  return { bytes, quantized, maxError };
}

/**
 * Loads a file written by `saveQuantizedModel` from a `QuantizedModel` and rebuilds the int8
 * model: the dequantized weights are quantized again (to the same int8 values) and the input
 * scales come from the file. A file without input scales is an error that says so.
 *
 * @example
 * ```ts
 * import { createModel, loadQuantizedModel, quantizeModel, saveQuantizedModel } from "glassbox";
 * const data = { x: new Float32Array(4 * 784).fill(0.2), y: new Int32Array(4), sampleShape: [1, 28, 28] };
 * await saveQuantizedModel(await quantizeModel(createModel("seed-cnn"), data), "out/q.safetensors");
 * const q = await loadQuantizedModel("out/q.safetensors"); // runs on the int8 kernels
 * ```
 */
export async function loadQuantizedModel(
  path: string,
  options: { path?: Int8DotPath } = {},
): Promise<QuantizedModel> {
  const { model, metadata } = await loadModel(path);
  const raw = metadata["glassbox.input_scales"];
  if (!raw) {
    throw new Error(
      `${path}: the file has no glassbox.input_scales (it holds int8 weights only); loadModel gives its float model`,
    );
  }
  let scales: Map<string, number>;
  try {
    scales = new Map(Object.entries(JSON.parse(raw)).map(([k, v]) => [k, Number(v)]));
  } catch {
    throw new Error(`${path}: glassbox.input_scales in the metadata is not valid JSON`);
  }
  const none = { x: new Float32Array(0), y: new Int32Array(0), sampleShape: [1] };
  return await quantizeModel(model, none, { inputScales: scales, path: options.path });
}
