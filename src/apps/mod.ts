/** The programs as library code: functions that take a model, its profile and data, and return data. */
export {
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
