/** Seeing inside a network: gradient tracking, alarms, statistics. */
export * from "./portable.ts";
export {
  readRunDirectory,
  readRunLog,
  RUN_FILES,
  type RunDirectory,
  RunLog,
  type RunLogOptions,
} from "./run_log.ts";
export { renderRunPictures } from "./run_pictures.ts";
