/** Compression that stays transparent: int8 quantization (more to come: pruning, distillation). */
export {
  type Int8DotPath,
  int8DotPath,
  int8Matmul,
  packInt8,
  QuantizedConv2d,
  QuantizedLinear,
  quantizeInput,
  quantizePerChannel,
  quantizeValues,
  roundHalfEven,
  symmetricScale,
} from "./int8.ts";
export { type QuantizedSave, saveQuantizedModel } from "./save.ts";
