/** Error diagnosis: predictions, confusion and mistakes, calibration, and the weakest slices. */
export { collectPredictions, type Predictions, predictionsFromLogits, softmaxRows } from "./predictions.ts";
export {
  applyTemperature,
  crossFitTemperature,
  fitTemperature,
  nllAtTemperature,
  type Reliability,
  reliability,
  type ReliabilityBin,
} from "./calibration.ts";
export {
  bestExample,
  confidentMistakes,
  type ConfusedPair,
  confusedPairs,
  confusionMatrix,
  type Mistake,
} from "./errors.ts";
export {
  type ImageStatistics,
  imageStatistics,
  type Slice,
  sliceByClass,
  sliceByValue,
  weakestSlices,
} from "./slices.ts";
