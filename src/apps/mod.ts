/** The programs as library code: functions that take a model and data and return what to write. */
export {
  attributeRows,
  type AttributeRowsOptions,
  type AttributionJob,
  attributionsFile,
  dataIdentity,
  memoryStore,
  type MergedShards,
  mergeShards,
  parseShard,
  progressLine,
  resolveShard,
  type RowAttribution,
  type RowsResult,
  runShard,
  runSummary,
  SHARD_INDEX_VARIABLES,
  shardFileNames,
  type ShardManifest,
  shardRange,
  type ShardSpec,
  type ShardStore,
} from "./shard.ts";
export {
  batchTokens,
  explainTokenBatch,
  explainTokens,
  predictTexts,
  runTextApp,
  type TextAppOptions,
  type TextAppResult,
  textReadme,
  type TextSummary,
  type TokenExplainOptions,
  type TokenExplanation,
} from "./text.ts";
export {
  type BagOfWords,
  type BagOfWordsOptions,
  predictBagOfWords,
  trainBagOfWords,
} from "./bag_of_words.ts";
export {
  attributionOfRows,
  chooseMethods,
  explainAllInputs,
  type ExplainAllOptions,
  type ExplainInputs,
  explainInputs,
  type ExplainOptions,
  type ExplainRun,
  type OutputFile,
  visualizeClasses,
} from "./explain.ts";
export {
  type CompressData,
  type CompressOptions,
  type CompressResult,
  compressStudy,
  datasetFromSafetensors,
  type SkippedVariant,
} from "./compress.ts";
export {
  type EpochResult,
  type StepProgress,
  trainClassifier,
  type TrainHooks,
  type TrainOptions,
  type TrainResult,
} from "./train.ts";
export {
  buildReport,
  type ReportData,
  reportData,
  type ReportInputs,
  type ReportOptions,
  type ReportPicture,
  type ReportResult,
} from "./report.ts";
export {
  defaultLayer,
  projectApp,
  type ProjectAppOptions,
  type ProjectAppResult,
  type ProjectInputs,
  type ProjectionRow,
  separationTable,
} from "./project.ts";
