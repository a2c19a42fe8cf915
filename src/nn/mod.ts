/** Neural-network building blocks. */
export { type BackwardHook, type ForwardHook, type ForwardPreHook, Module } from "./module.ts";
export { Linear, type LinearOptions } from "./linear.ts";
export { Flatten, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "./activation.ts";
export { Dropout } from "./dropout.ts";
export { BatchNorm2d } from "./batchnorm.ts";
export {
  AdaptiveAvgPool2d,
  AvgPool2d,
  Conv2d,
  type Conv2dLayerOptions,
  ConvTranspose2d,
  type ConvTranspose2dLayerOptions,
  MaxPool2d,
  Upsample,
  type UpsampleOptions,
} from "./conv.ts";
export { Sequential } from "./sequential.ts";
export { type Dataset, evaluate, type Evaluation, predict } from "./evaluate.ts";
export { fit, type FitOptions, type StepOptimizer } from "./fit.ts";
/**
 * Weight initialisation with PyTorch's formulas (`torch.nn.init`): uniform, normal, kaiming*, xavier*, all
 * from the seeded generator.
 */
export * as init from "./init.ts";
export { Embedding, LayerNorm } from "./sequence.ts";
export {
  type AttentionMasks,
  generateSquareSubsequentMask,
  LearnedPositionalEncoding,
  MultiheadAttention,
  type MultiheadAttentionOptions,
  SinusoidalPositionalEncoding,
  TransformerEncoderLayer,
  type TransformerEncoderLayerOptions,
} from "./attention.ts";
export { GRU, LSTM, RecurrentLayer, type RecurrentOptions, RNN } from "./recurrent.ts";
export { TransformerEncoder, type TransformerEncoderOptions } from "./attention.ts";
export { BasicBlock } from "./residual.ts";
export { Unflatten } from "./activation.ts";
