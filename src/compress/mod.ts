/** Compression that stays transparent: int8 quantization and magnitude pruning (more to come). */
export {
  type Int8DotPath,
  int8DotPath,
  int8Matmul,
  packInt8,
  QuantizedConv2d,
  QuantizedLinear,
  quantizeInput,
  quantizePerChannel,
  quantizeValues,
  roundHalfEven,
  symmetricScale,
} from "./int8.ts";
export { type QuantizedSave, saveQuantizedModel } from "./save.ts";
export {
  magnitudePrune,
  prunableWeights,
  type PruneOptions,
  Pruning,
  type SparsityRow,
  sparsityTable,
} from "./prune.ts";
export { type FilterPruning, pruneFilters } from "./structured.ts";
export { distillationLoss, fakeQuantize } from "./qat.ts";
