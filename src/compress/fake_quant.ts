/**
 * The float twin of an int8 model: every Linear and Conv2d sees its input on the int8 grid of
 * a fixed scale and its weights on the per-output-channel int8 grid, with straight-through
 * gradients. It serves quantization-aware training (train the twin, then quantize with the
 * same input scales) and explanations of an int8 model (the int8 kernels have no backward
 * pass; the twin computes the same function in float and has one).
 */
import { Conv2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { cloneModel } from "../models/clone.ts";
import { defineUnary, noGrad } from "../tensor/mod.ts";
import { conv2d } from "../tensor/ops/conv.ts";
import { abs, add, div, mul, sub } from "../tensor/ops/elementwise.ts";
import { linear } from "../tensor/ops/matmul.ts";
import { max } from "../tensor/ops/reduce.ts";
import { reshape } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { fakeQuantize } from "./qat.ts";

/** x rounded to the nearest integer, halves to even (WGSL's `round`); no gradient. */
const round = defineUnary({ name: "round", forward: "round(x)" });

/**
 * w on the symmetric per-output-channel int8 grid (scale_r = max|w_r| / 127, as
 * `quantizePerChannel`), with the identity as its gradient (nothing is clamped when the scale
 * comes from the row's own maximum).
 *
 * @example
 * ```ts
 * import { fakeQuantizeWeight, tensor } from "glassbox";
 * await fakeQuantizeWeight(tensor([[1, 0.3], [-2, 0.01]])).toArray(); // each row on its own grid
 * ```
 */
export function fakeQuantizeWeight(w: Tensor): Tensor {
  const delta = noGrad(() => {
    const rows = reshape(w, [w.shape[0], w.size / Math.max(1, w.shape[0])]);
    const scale = div(add(max(abs(rows), 1, true), 1e-30), 127);
    const q = mul(round(div(rows, scale)), scale);
    return reshape(sub(q, rows), w.shape);
  });
  return add(w, delta);
}

/**
 * A Linear or Conv2d computed on int8 grids: y = layer(fq(x), fq_channel(W)) + b. It holds the
 * wrapped layer's own weight and bias tensors under the same names, so a model's parameter
 * names do not change when its layers are wrapped.
 *
 * @example
 * ```ts
 * import { FakeQuantized, Linear, randn } from "glassbox";
 * const layer = new FakeQuantized(new Linear(4, 2), 3 / 127);
 * layer.forward(randn([1, 4])).shape; // [1, 2]
 * ```
 */
export class FakeQuantized extends Module {
  /** The wrapped layer's weight (trained in place). */
  readonly weight: Tensor;
  /** The wrapped layer's bias, or null. */
  readonly bias: Tensor | null;
  /** Wraps `layer` (sharing its tensors); its inputs go on the int8 grid of step `inputScale`. */
  constructor(
    /** The layer whose tensors this module trains. */
    readonly layer: Linear | Conv2d,
    /** The scale of the input's int8 grid. */
    readonly inputScale: number,
  ) {
    super();
    if (!(inputScale > 0) || !Number.isFinite(inputScale)) {
      throw new Error(`FakeQuantized: the input scale must be positive, got ${inputScale}`);
    }
    this.weight = this.addParameter("weight", layer.weight);
    this.bias = layer.bias ? this.addParameter("bias", layer.bias) : null;
  }
  /** e.g. "FakeQuantized(Conv2d)". */
  override get typeName(): string {
    return `FakeQuantized(${this.layer.typeName})`;
  }
  /** layer(fq(x), fq_channel(W)) + b. */
  forward(x: Tensor): Tensor {
    const xq = fakeQuantize(x, this.inputScale), wq = fakeQuantizeWeight(this.weight);
    return this.layer instanceof Linear
      ? linear(xq, wq, this.bias)
      : conv2d(xq, wq, this.bias, this.layer.options);
  }
}

/** A fake-quantized copy of a model, and the float model that shares its tensors. */
export interface FakeQuantModel {
  /** The copy whose Linear and Conv2d layers are `FakeQuantized` (train or explain this). */
  model: Sequential;
  /** The same tensors as a plain float Sequential (quantize or save this after training). */
  float: Sequential;
}

/**
 * Copies a Sequential and wraps each Linear and Conv2d named in `inputScales` (layer name →
 * the scale of its input, e.g. from `calibrate`) in `FakeQuantized`; other layers stay float.
 * The original model is not changed.
 *
 * @example
 * ```ts
 * import { createModel, fakeQuantModel } from "glassbox";
 * const scales = new Map([["0", 1 / 127], ["3", 4 / 127], ["7", 8 / 127], ["9", 8 / 127]]);
 * const { model, float } = fakeQuantModel(createModel("seed-cnn"), scales);
 * // train `model` (quantization-aware), then quantizeModel(float, …, { inputScales: scales })
 * ```
 */
export function fakeQuantModel(source: Module, inputScales: Map<string, number>): FakeQuantModel {
  if (!(source instanceof Sequential)) {
    throw new Error(`fakeQuantModel: expected a Sequential (layers in order), got a ${source.typeName}`);
  }
  const float = cloneModel(source);
  const names = new Set(inputScales.keys());
  const layers = float.layers.map((m, i) => {
    const s = inputScales.get(String(i));
    if (s === undefined) return m;
    names.delete(String(i));
    if (!(m instanceof Linear || m instanceof Conv2d)) {
      throw new Error(
        `fakeQuantModel: layer "${i}" is a ${m.typeName}; only Linear and Conv2d have int8 grids`,
      );
    }
    return new FakeQuantized(m, s);
  });
  if (names.size) {
    throw new Error(
      `fakeQuantModel: the model has no top-level layer ${[...names].map((n) => `"${n}"`).join(", ")}`,
    );
  }
  const model = new Sequential(...layers);
  model.train(source.training);
  return { model, float };
}
