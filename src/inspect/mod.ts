/** Seeing inside a network: gradient tracking, alarms, statistics. */
export { type Alarm, type AlarmKind, type AlarmThresholds, DEFAULT_THRESHOLDS } from "./alarms.ts";
export { type Saturation, StatsBatch, type TensorStats, tensorStats } from "./gpu_stats.ts";
export {
  type DeadUnits,
  GradientTracker,
  type LayerRecord,
  type ParamRecord,
  type StepRecord,
  trackGradients,
  type TrackOptions,
} from "./tracker.ts";
