/**
 * A Sequential of standard layers described as data, so a model whose shape was changed
 * (structured pruning shrinks layers) is still an architecture of the registry: `saveModel`
 * records the description and `loadModel` rebuilds the model from the file alone.
 */
import { AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d, Upsample } from "../nn/conv.ts";
import { Flatten, GELU, ReLU, Sigmoid, Tanh } from "../nn/activation.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Dropout } from "../nn/dropout.ts";
import { Linear } from "../nn/linear.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { rememberSpec } from "./spec.ts";

/** One layer of a described Sequential. */
export type LayerSpec =
  | {
    type: "Conv2d";
    in: number;
    out: number;
    kernel: number;
    stride?: number;
    padding?: number;
    dilation?: number;
    bias: boolean;
  }
  | {
    type: "ConvTranspose2d";
    in: number;
    out: number;
    kernel: number;
    stride?: number;
    padding?: number;
    outputPadding?: number;
    dilation?: number;
    bias: boolean;
  }
  | {
    type: "Upsample";
    size?: [number, number];
    scaleFactor?: number | [number, number];
    mode: "nearest" | "bilinear";
    alignCorners?: boolean;
  }
  | { type: "Linear"; in: number; out: number; bias: boolean }
  | { type: "BatchNorm2d"; features: number; eps: number; momentum: number }
  | {
    type: "MaxPool2d" | "AvgPool2d";
    kernel: number | [number, number];
    stride?: number | [number, number];
    padding: number | [number, number];
  }
  | { type: "Dropout"; p: number }
  | { type: "Flatten"; start: number; end: number }
  | { type: "ReLU" | "Sigmoid" | "Tanh" | "GELU" | "AdaptiveAvgPool2d" };

/**
 * The layers of a Sequential as data; a layer of another type is an error naming it.
 *
 * @example
 * ```ts
 * import { describeSequential, Linear, ReLU, Sequential } from "glassbox";
 * describeSequential(new Sequential(new Linear(4, 2), new ReLU())); // [{ type: "Linear", in: 4, out: 2, bias: true }, { type: "ReLU" }]
 * ```
 */
export function describeSequential(model: Sequential): LayerSpec[] {
  return model.layers.map((m, i): LayerSpec => {
    if (m instanceof Conv2d) {
      const o = m.options;
      return {
        type: "Conv2d",
        in: m.inChannels,
        out: m.outChannels,
        kernel: m.kernelSize,
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
        bias: m.bias !== null,
      };
    }
    if (m instanceof ConvTranspose2d) {
      const o = m.options;
      return {
        type: "ConvTranspose2d",
        in: m.inChannels,
        out: m.outChannels,
        kernel: m.kernelSize,
        stride: o.stride,
        padding: o.padding,
        outputPadding: o.outputPadding,
        dilation: o.dilation,
        bias: m.bias !== null,
      };
    }
    if (m instanceof Upsample) {
      return {
        type: "Upsample",
        size: m.size,
        scaleFactor: m.scaleFactor,
        mode: m.mode,
        alignCorners: m.alignCorners,
      };
    }
    if (m instanceof Linear) {
      return { type: "Linear", in: m.inFeatures, out: m.outFeatures, bias: m.bias !== null };
    }
    if (m instanceof BatchNorm2d) {
      return { type: "BatchNorm2d", features: m.numFeatures, eps: m.eps, momentum: m.momentum };
    }
    if (m instanceof MaxPool2d || m instanceof AvgPool2d) {
      return {
        type: m instanceof MaxPool2d ? "MaxPool2d" : "AvgPool2d",
        kernel: m.kernelSize,
        stride: m.stride,
        padding: m.padding,
      };
    }
    if (m instanceof Dropout) return { type: "Dropout", p: m.p };
    if (m instanceof Flatten) return { type: "Flatten", start: m.startDim, end: m.endDim };
    for (
      const [T, name] of [[ReLU, "ReLU"], [Sigmoid, "Sigmoid"], [Tanh, "Tanh"], [GELU, "GELU"], [
        AdaptiveAvgPool2d,
        "AdaptiveAvgPool2d",
      ]] as const
    ) {
      if (m instanceof T) return { type: name };
    }
    throw new Error(
      `describeSequential: layer ${i} is a ${m.typeName}, which a described Sequential cannot hold`,
    );
  });
}

/** Builds the Sequential a description names (fresh weights). */
export function buildSequential(layers: LayerSpec[]): Sequential {
  return new Sequential(...layers.map((l): Module => {
    switch (l.type) {
      case "Conv2d":
        return new Conv2d(l.in, l.out, l.kernel, {
          stride: l.stride,
          padding: l.padding,
          dilation: l.dilation,
          bias: l.bias,
        });
      case "ConvTranspose2d":
        return new ConvTranspose2d(l.in, l.out, l.kernel, {
          stride: l.stride,
          padding: l.padding,
          outputPadding: l.outputPadding,
          dilation: l.dilation,
          bias: l.bias,
        });
      case "Upsample":
        return new Upsample({
          size: l.size,
          scaleFactor: l.scaleFactor,
          mode: l.mode,
          alignCorners: l.alignCorners,
        });
      case "Linear":
        return new Linear(l.in, l.out, { bias: l.bias });
      case "BatchNorm2d":
        return new BatchNorm2d(l.features, l.eps, l.momentum);
      case "MaxPool2d":
        return new MaxPool2d(l.kernel, l.stride, l.padding);
      case "AvgPool2d":
        return new AvgPool2d(l.kernel, l.stride, l.padding);
      case "Dropout":
        return new Dropout(l.p);
      case "Flatten":
        return new Flatten(l.start, l.end);
      case "ReLU":
        return new ReLU();
      case "Sigmoid":
        return new Sigmoid();
      case "Tanh":
        return new Tanh();
      case "GELU":
        return new GELU();
      case "AdaptiveAvgPool2d":
        return new AdaptiveAvgPool2d();
      default:
        throw new Error(
          `buildSequential: unknown layer type ${JSON.stringify((l as { type: unknown }).type)}`,
        );
    }
  }));
}

/**
 * A registry-built Sequential from a description (what `saveModel` can record and `loadModel`
 * rebuild).
 *
 * @example
 * ```ts
 * import { sequentialModel } from "glassbox";
 * const m = sequentialModel([{ type: "Linear", in: 4, out: 2, bias: true }, { type: "ReLU" }]);
 * ```
 */
export function sequentialModel(layers: LayerSpec[]): Sequential {
  const model = buildSequential(layers);
  rememberSpec(model, { architecture: "sequential", config: { layers: JSON.stringify(layers) } });
  return model;
}
