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
import { architectureMetadata, hostState } from "../io/checkpoint.ts";
import { quantizePerChannel } from "./int8.ts";

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
 * rebuilds it, dequantized.
 *
 * @example
 * ```ts
 * import { createModel, loadModel, saveQuantizedModel } from "glassbox";
 * const { quantized } = await saveQuantizedModel(createModel("seed-cnn"), "out/cnn-int8.safetensors");
 * const { model } = await loadModel("out/cnn-int8.safetensors"); // float weights q × scale
 * ```
 */
export async function saveQuantizedModel(
  model: Module,
  path: string,
  metadata: Record<string, string> = {},
  options: WriteOptions = {},
): Promise<QuantizedSave> {
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
  });
  await writeAtomic(path, bytes, options);
  return { quantized, bytes: bytes.length, maxError };
}
