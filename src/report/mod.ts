/** Explanations in words (English and Chinese) from computed facts, and what they rest on. */
export {
  AGREEMENT_SCALE,
  type Caveat,
  type PredictionFacts,
  predictionFacts,
  type PredictionFactsOptions,
  REGIONS,
  regionShares,
} from "./facts.ts";
export { fitNovelty, type InputNovelty, noveltyReference } from "./novelty.ts";
export { describeModel, describePrediction, type Language, type ModelFacts, pct } from "./words.ts";
export { embedImage, escapeHtml, htmlPage, htmlTable, type ReportSection } from "./html.ts";
export { describeTabular, type FeatureContribution, type TabularFacts, tabularFacts } from "./tabular.ts";
export { sha256Hex } from "./provenance.ts";
export { type CalibrationWords, type ReportStrings, reportStrings, type SectionWords } from "./strings.ts";
export { type Neighbour, TrainingBank, type TrainingSet } from "./neighbours.ts";
