/**
 * Compression that stays transparent: pruning (unstructured, structured, iterative), int8
 * quantization (kernels, calibration, whole models, quantization-aware training) and
 * distillation, each measured.
 */
export * from "./portable.ts";
export { encodeQuantizedModel, loadQuantizedModel, type QuantizedSave, saveQuantizedModel } from "./save.ts";
