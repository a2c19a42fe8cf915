/** Reading and writing: safetensors checkpoints, TensorBoard event files. */
export { loadCheckpoint, loadModel, saveCheckpoint, saveModel } from "./checkpoint.ts";
export type { SaveModelOptions } from "./checkpoint.ts";
export {
  fileExists,
  writeAtomic,
  writeFilesTogether,
  type WriteOptions,
  writePng,
  writeTextAtomic,
} from "./file.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  type SafetensorsEntry,
  type SafetensorsFile,
  validateSafetensors,
} from "./safetensors.ts";
export {
  crc32c,
  decodeEvent,
  encodeEvent,
  type Histogram,
  maskedCrc32c,
  readEventFile,
  type SummaryValue,
  SummaryWriter,
  type TfEvent,
  tfRecord,
} from "./tfevents.ts";
export {
  type Flags,
  type FlagSpec,
  onInterrupt,
  parseFlags,
  readFlagFile,
  runMain,
  showStep,
  uninterrupted,
  UsageError,
  type ValueOf,
} from "./cli.ts";
export { saveOnnx } from "./onnx_save.ts";
export { loadOnnx, parseOnnx } from "./onnx.ts";
export { directoryStore } from "./store.ts";
export { MAX_SPRITE_SIDE, type ProjectorEmbedding, writeProjector } from "./projector.ts";
export { defaultRuntimeDir, envIfGranted } from "./env.ts";
export { type BundleResult, bundleWeb } from "./bundle.ts";
