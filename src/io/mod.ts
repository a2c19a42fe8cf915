/** Reading and writing: safetensors checkpoints, TensorBoard event files. */
export { dequantizeFile, loadCheckpoint, loadModel, saveCheckpoint, saveModel } from "./checkpoint.ts";
export { fileExists, writeAtomic, type WriteOptions, writePng, writeTextAtomic } from "./file.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
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
  runMain,
  uninterrupted,
  UsageError,
  type ValueOf,
} from "./cli.ts";
export { directoryStore } from "./store.ts";
