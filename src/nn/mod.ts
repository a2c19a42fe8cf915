/** Neural-network building blocks. */
export { type BackwardHook, type ForwardHook, Module } from "./module.ts";
export { Linear, type LinearOptions } from "./linear.ts";
export { Flatten, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "./activation.ts";
export { Dropout } from "./dropout.ts";
export { Sequential } from "./sequential.ts";
export * as init from "./init.ts";
