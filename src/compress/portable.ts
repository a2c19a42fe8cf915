/** What of src/compress runs anywhere WebGPU does (a browser too): everything but saving and loading files (save.ts). */
export {
  packInt8,
  QuantizedConv2d,
  QuantizedLinear,
  quantizePerChannel,
  quantizeValues,
  roundHalfEven,
  sqnr,
  symmetricScale,
} from "./int8.ts";
export {
  type CompressSummary,
  parseCompressSummary,
  type SparsityPoint,
  type VariantSummary,
} from "./summary.ts";
export {
  iterativePrune,
  type IterativePruneOptions,
  magnitudePrune,
  prunableWeights,
  type PruneOptions,
  Pruning,
  type SparsityRow,
  sparsitySchedule,
  sparsityTable,
} from "./prune.ts";
export { distill, type DistillOptions } from "./distill.ts";
export { type FilterPruning, pruneFilters } from "./structured.ts";
export { distillationLoss, fakeQuantize } from "./qat.ts";
export { type ActivationRange, calibrate, type CalibrationOptions, inputScales } from "./calibrate.ts";
export { FakeQuantized, fakeQuantizeWeight, type FakeQuantModel, fakeQuantModel } from "./fake_quant.ts";
export {
  type QuantizationFallback,
  type QuantizedLayerReport,
  QuantizedModel,
  type QuantizedStep,
  quantizeModel,
  type QuantizeOptions,
} from "./quantize_model.ts";
export { type ExplanationDrift, explanationDrift } from "./drift.ts";
