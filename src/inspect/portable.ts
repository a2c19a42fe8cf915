/** What of src/inspect runs anywhere WebGPU does (a browser too): everything but the run folder's files (run_log.ts, run_pictures.ts). */
export {
  type Alarm,
  type AlarmEvent,
  type AlarmKind,
  type AlarmThresholds,
  checkAlarms,
  deadUnitAlarms,
  DEFAULT_THRESHOLDS,
  describeAlarm,
  type NonFiniteSource,
  SATURATION,
  stepAlarms,
  throughTimeAlarm,
} from "./alarms.ts";
export {
  histogramEdges,
  type KeyedStats,
  type Saturation,
  StatsBatch,
  type TensorStats,
  tensorStats,
} from "./gpu_stats.ts";
export {
  type DeadUnits,
  GradientTracker,
  type LayerRecord,
  type ParamRecord,
  type StepRecord,
  trackGradients,
  type TrackOptions,
} from "./tracker.ts";
export { type LayerSummary, type ModelSummary, summary } from "./summary.ts";
export { type GraphNode, graphToDot, graphToSvg, type ModelGraph, modelGraph } from "./graph.ts";
export {
  captureActivations,
  type CapturedActivation,
  disposeActivations,
  featureMapImage,
  filterImage,
} from "./activations.ts";
export {
  type AttentionGradient,
  attentionGradients,
  captureAttention,
  type CapturedAttention,
} from "./attention.ts";
export { attentionRollout } from "./rollout.ts";
export { gradientThroughTime } from "./recurrent.ts";
export {
  pca,
  project,
  type Projection,
  PROJECTION_METHODS,
  type ProjectionInfo,
  type ProjectionMethod,
  type ProjectOptions,
  tsneAffinities,
  tsneKlGradient,
} from "./projector.ts";
export { knnAccuracy, type Separation, separation, trustworthiness } from "./separation.ts";
export {
  type HostInputs,
  type RepresentationOptions,
  type Representations,
  representations,
} from "./representations.ts";
export { bhKlGradient, type SparseRows, tsneSparseAffinities } from "./barnes_hut.ts";
export {
  DEFAULT_GAN_THRESHOLDS,
  type GanStepPoint,
  type GanThresholds,
  meanPairwiseDistance,
  modeCollapseAlarm,
  vanishingDiscriminatorAlarm,
} from "./alarms.ts";
export {
  type ChromeTrace,
  chromeTrace,
  formatProfile,
  type KernelEvent,
  kernelName,
  type KernelProfile,
  type KernelRow,
  kernelRows,
  profile,
  type ProfileClock,
  type ProfiledBuffer,
  type ProfileOptions,
  type TraceEvent,
} from "./profiler.ts";
export { type Ceilings, measureCeilings, rooflineOf, type WorkBound, workBound } from "./profiler.ts";
