/** Reading and writing models: safetensors checkpoints. */
export { loadCheckpoint, saveCheckpoint, writeAtomic, type WriteOptions } from "./checkpoint.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  type SafetensorsFile,
  validateSafetensors,
} from "./safetensors.ts";
