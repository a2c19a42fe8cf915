/** The tensor layer: re-exports, and installs the method forms. */
import "./methods.ts";
export { type DType, type RemovableHandle, Tensor, type TensorGradHook } from "./tensor.ts";
export { keep, scope } from "./scope.ts";
export { backward, grad } from "./autograd.ts";
export { isGradEnabled, noGrad } from "./graph.ts";
export { contextKind } from "./context.ts";
export {
  arange,
  full,
  type NestedNumbers,
  ones,
  onesLike,
  rand,
  randn,
  type RandomOptions,
  tensor,
  type TensorOptions,
  zeros,
  zerosLike,
} from "./create.ts";
export { defaultGenerator, Generator, manualSeed } from "./random.ts";
export * from "./ops/elementwise.ts";
export { argmax, type Axes, max, mean, sum, sumToShape } from "./ops/reduce.ts";
export { concat, expand, flatten, narrow, permute, reshape, slice, transpose } from "./ops/shape.ts";
export { gather, where } from "./ops/select.ts";
export { topk, TOPK_MAX_K, type TopkOptions } from "./ops/topk.ts";
export { interpolate, type InterpolateOptions, resizeMatrix } from "./ops/resize.ts";
export { linear, matmul } from "./ops/matmul.ts";
export { logSoftmax, softmax } from "./ops/softmax.ts";
export {
  avgPool2d,
  conv2d,
  type Conv2dOptions,
  convTranspose2d,
  type ConvTranspose2dOptions,
  maxPool2d,
  type Pool2dOptions,
} from "./ops/conv.ts";
export { conv2dFused, type Conv2dFusedOptions } from "./ops/conv_fused.ts";
export { binaryCrossEntropyWithLogits, crossEntropy, type CrossEntropyOptions, mse } from "./ops/loss.ts";
export {
  attention,
  type AttentionOptions,
  attentionWeights,
  embedding,
  layerNorm,
  scaledDotProductAttention,
} from "./ops/attention.ts";
export { gru, lstm, type RecurrentWeights, rnn } from "./ops/recurrent.ts";
export {
  type Int8Adapter,
  type Int8DotPath,
  int8DotPath,
  int8Matmul,
  quantizeInput,
  type QuantizeInputLabel,
} from "./ops/int8.ts";
export {
  type BinaryDefinition,
  customGradient,
  type CustomGradientContext,
  type CustomGradientOptions,
  defineBinary,
  defineUnary,
  type UnaryDefinition,
} from "./define.ts";
export { type AdapterInfo, adapterInfo, gpuSettings, type PoolStats, poolStats, settle } from "./runtime.ts";
export { symmetricEigen } from "./linalg.ts";
