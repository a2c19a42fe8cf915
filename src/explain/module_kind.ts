/**
 * Which PyTorch module a module is, for the methods that rewrite gradients at particular
 * modules (DeepLift's rules, Guided Backpropagation, Deconvolution). A model loaded from ONNX
 * names its node modules by ONNX operator ("Relu", "MaxPool"); those nodes are the same
 * computations as glassbox's (PyTorch's) ReLU and MaxPool2d modules and get the same rules.
 * Linear modules (Linear, Conv2d, ConvTranspose2d, Upsample, AvgPool2d, …) need no rule: their
 * gradient already is DeepLift's multiplier, so no kind is listed for them.
 */
import type { Module } from "../nn/module.ts";

/** ONNX operators and the glassbox module each one is. */
const ONNX_AS_MODULE: Record<string, string> = {
  Relu: "ReLU",
  LeakyRelu: "LeakyReLU",
  Sigmoid: "Sigmoid",
  Tanh: "Tanh",
  MaxPool: "MaxPool2d",
  Softmax: "Softmax",
  LogSoftmax: "LogSoftmax",
};

/** An ONNX node module as far as this file needs it (duck-typed: explain does not import models). */
interface OnnxLike {
  node: { opType: string; attributes: Record<string, { type: string; value: unknown }> };
}

function onnxNode(m: Module): OnnxLike["node"] | undefined {
  const node = (m as unknown as Partial<OnnxLike>).node;
  return node && typeof node.opType === "string" && node.opType === m.typeName ? node : undefined;
}

/**
 * The glassbox (PyTorch) module class name of `m`: its own typeName, or for an ONNX node the
 * module its operator is ("Relu" → "ReLU", "MaxPool" → "MaxPool2d").
 */
export function moduleKind(m: Module): string {
  const node = onnxNode(m);
  return node ? ONNX_AS_MODULE[node.opType] ?? m.typeName : m.typeName;
}

/** A 2-D max pooling's window and step, from a MaxPool2d or an ONNX MaxPool node. */
export function poolWindow(m: Module): { kernel: [number, number]; stride: [number, number] } {
  const pair = (v: number | number[]): [number, number] => typeof v === "number" ? [v, v] : [v[0], v[1]];
  const node = onnxNode(m);
  if (node) {
    const ints = (name: string) => {
      const a = node.attributes[name];
      return a && a.type === "ints" ? a.value as number[] : undefined;
    };
    const kernel = pair(ints("kernel_shape") ?? [1, 1]);
    return { kernel, stride: pair(ints("strides") ?? [1, 1]) };
  }
  const p = m as unknown as { kernelSize: number | [number, number]; stride?: number | [number, number] };
  return { kernel: pair(p.kernelSize), stride: pair(p.stride ?? p.kernelSize) };
}
