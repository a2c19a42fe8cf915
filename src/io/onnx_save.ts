/**
 * Writes a model as an ONNX file (the translation is `exportOnnx` in models/onnx_export.ts;
 * this is where its bytes reach the disk, atomically).
 */
import type { Module } from "../nn/module.ts";
import { exportOnnx, type OnnxExportOptions } from "../models/onnx_export.ts";
import { writeAtomic } from "./file.ts";

/**
 * Saves `model` as an ONNX file (opset 17) that ONNX Runtime and other ONNX clients run with
 * glassbox's outputs: input "input" [batch, ...inputShape], output "output", initializers named
 * by the state-dict keys, the profile (when given) in the metadata under `glassbox.profile`.
 * The file is written atomically; a model that cannot be translated writes nothing.
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, Linear, ReLU, saveOnnx, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(3, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 2));
 * await saveOnnx(model, "out/tiny.onnx", {
 *   inputShape: [3, 8, 8],
 *   profile: { modality: "image", inputShape: [3, 8, 8], classes: ["cat", "dog"] },
 * });
 * if ((await Deno.stat("out/tiny.onnx")).size < 4 * 4 * 3 * 9) throw new Error("the weights are missing");
 * ```
 */
export async function saveOnnx(model: Module, path: string, options: OnnxExportOptions): Promise<void> {
  await writeAtomic(path, await exportOnnx(model, options));
}
