/**
 * Post-training int8 quantization of a whole Sequential: each Linear and Conv2d becomes a
 * `QuantizedLinear`/`QuantizedConv2d` (per-output-channel int8 weights, int8 inputs on a
 * calibrated scale, i32 accumulation on the GPU); layers without weights (ReLU, pooling,
 * flatten) run in float32 between them. A layer with weights but no int8 kernel (BatchNorm2d,
 * LayerNorm, recurrent layers, …) stays float32 and is named in `fallbacks`, or stops the
 * quantization with `unsupported: "error"`. Each quantized layer's error is measured as SQNR.
 */
import { Conv2d } from "../nn/conv.ts";
import type { Dataset } from "../nn/evaluate.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { tensor } from "../tensor/create.ts";
import { gpuSettings, noGrad } from "../tensor/mod.ts";
import { reshape } from "../tensor/ops/shape.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { calibrate, type CalibrationOptions, inputScales as scalesOf } from "./calibrate.ts";
import { fakeQuantModel } from "./fake_quant.ts";
import type { Int8DotPath } from "../tensor/mod.ts";
import { QuantizedConv2d, QuantizedLinear, sqnr } from "./int8.ts";
import { Flatten, ReLU } from "../nn/activation.ts";
import { MaxPool2d } from "../nn/conv.ts";
import { exactly } from "../nn/fusion.ts";
import { isPacked, type PackedT } from "../tensor/ops/int8.ts";

const is2 = (v: number | readonly number[] | undefined, want: number) =>
  typeof v === "number" ? v === want : Array.isArray(v) && v.length === 2 && v[0] === want && v[1] === want;
/** A ReLU the int8 epilogue can take (this exact class: a subclass may have its own forward). */
const isReLU = (m: Module | undefined) => exactly(m, ReLU);
/** A Flatten of [N, C, H, W] to [N, C·H·W]. */
const isFlatten = (m: Module | undefined) => exactly(m, Flatten) && m.startDim === 1 && m.endDim === -1;
/** A MaxPool2d(2) with stride 2 and no padding, which the int8 epilogue can take. */
const isPool2 = (m: Module | undefined) =>
  exactly(m, MaxPool2d) && is2(m.kernelSize, 2) &&
  (m.stride === undefined || is2(m.stride, 2)) && is2(m.padding, 0);

/** Options for `quantizeModel`. */
export interface QuantizeOptions {
  /** How to calibrate the input scales (ignored when `inputScales` is given). */
  calibration?: CalibrationOptions;
  /** The input scale of every Linear and Conv2d, by layer name (e.g. from quantization-aware training). */
  inputScales?: Map<string, number>;
  /** A layer with weights but no int8 kernel: keep it float32 ("float", default) or throw ("error"). */
  unsupported?: "float" | "error";
  /** Force a dot-product path (default: the adapter's best, `int8DotPath()`). */
  path?: Int8DotPath;
  /** How many calibration samples the SQNR is measured on (default 64). */
  sqnrSamples?: number;
}

/** The quantization error of one layer. */
export interface QuantizedLayerReport {
  /** The layer's name in the model, e.g. "3". */
  layer: string;
  /** Its type, e.g. "Conv2d". */
  type: string;
  /** The input's int8 step. */
  inputScale: number;
  /** 10·log10(Σw² / Σ(w − q·s)²) in dB. */
  weightSqnr: number;
  /** The same for the layer's output on the same float input, int8 against float32, in dB. */
  outputSqnr: number;
}

/** A layer left in float32. */
export interface QuantizationFallback {
  /** The layer's name in the model. */
  layer: string;
  /** Its type, e.g. "BatchNorm2d". */
  type: string;
  /** Why it stays float32. */
  reason: string;
}

/** One layer of a `QuantizedModel`: its int8 layer, or the float module it runs. */
export interface QuantizedStep {
  /** The layer's name in the source model. */
  name: string;
  /** Runs the layer. */
  run: (x: Tensor) => Tensor;
  /** The int8 layer, when the step is quantized. */
  q?: QuantizedLinear | QuantizedConv2d;
}

/**
 * Runs a float layer of the source model in eval mode (running statistics, no dropout) and
 * puts its modes back: whatever mode the source was left in, the quantized model computes the
 * same function and never writes the source's running statistics.
 */
function evalStep(m: Module): (x: Tensor) => Tensor {
  return (x) => {
    const restore = m.enterEval();
    try {
      return m.forward(x);
    } finally {
      restore();
    }
  };
}

function linearStep(q: QuantizedLinear, path?: Int8DotPath, relu = false): (x: Tensor) => Tensor {
  const run = (x: Tensor) => q.run(x, path, null, false, q.label, { relu }).y;
  return (x) => {
    if (x.ndim === 2) return run(x);
    const flat = reshape(x, [x.size / q.inFeatures, q.inFeatures]);
    const y = run(flat);
    const out = reshape(y, [...x.shape.slice(0, -1), q.outFeatures]);
    flat.dispose();
    y.dispose();
    return out;
  };
}

/**
 * A Sequential run through int8 kernels (built by `quantizeModel`). It has no parameters of
 * its own and no backward pass; `simulate()` gives a float twin with one (for explanations).
 * Like a converted PyTorch model it is in eval mode, and it has no training mode: the layers
 * left in float32 (BatchNorm, Dropout, …) run in eval mode whatever mode the source model is
 * in, and running it never changes the source.
 *
 * @example
 * ```ts
 * import { createModel, quantizeModel } from "glassbox";
 * const data = { x: new Float32Array(8 * 784).fill(0.3), y: new Int32Array(8), sampleShape: [1, 28, 28] };
 * const q = await quantizeModel(createModel("seed-cnn"), data);
 * console.log(q.table()); // per-layer input scale and SQNR
 * ```
 */
export class QuantizedModel extends Module {
  /** @internal use `quantizeModel` */
  constructor(
    /** The float model it was built from (kept for `simulate`; do not change it). */
    readonly source: Sequential,
    /** The layers in order. */
    readonly steps: QuantizedStep[],
    /** The input scale of every quantized layer. */
    readonly inputScales: Map<string, number>,
    /** Per quantized layer: scale and SQNR. */
    readonly layers: QuantizedLayerReport[],
    /** Layers left in float32, and why. */
    readonly fallbacks: QuantizationFallback[],
  ) {
    super();
    this.training = false;
  }

  /**
   * `train(false)` (or `eval()`) is accepted; `train(true)` is an error: int8 inference has no
   * backward pass, and its float layers belong to the source model. Train the source model, or
   * `simulate()`'s fake-quantized twin, instead.
   */
  override train(on = true): this {
    if (on) {
      throw new Error(
        "QuantizedModel: int8 inference has no training mode; train the float source model (or simulate()'s twin) and quantize again",
      );
    }
    this.training = false;
    return this;
  }

  /** SQNR of the model's output, int8 against float32, in dB (on the first calibration samples). */
  outputSqnr: number = NaN;
  /** The dot-product path the int8 layers were built to run on (undefined: the adapter's). */
  path?: Int8DotPath;

  /**
   * Runs the layers in order, without recording a graph. With fusion on (the default; see
   * `configureGpu`), a quantized layer's ReLU and a 2×2 stride-2 MaxPool2d after it run in
   * the int8 product's epilogue, and when the next layer is a quantized conv the pooled output
   * is quantized there too, straight into that conv's packed input: bit for bit the layers run
   * one by one (`GLASSBOX_FUSION=0`), with fewer passes over the activations.
   */
  forward(x: Tensor): Tensor {
    return noGrad(() => {
      let h: Tensor | PackedT = x;
      const free = (t: Tensor | PackedT) => {
        if (t !== x) (isPacked(t) ? t.t : t).dispose();
      };
      const layers = this.source.layers, fuse = gpuSettings().fusion;
      for (let i = 0; i < this.steps.length;) {
        const s = this.steps[i];
        const relu = fuse && s.q !== undefined && isReLU(layers[i + 1]);
        const pool = relu && s.q instanceof QuantizedConv2d && isPool2(layers[i + 2]);
        let next: Tensor | PackedT;
        let covers = pool ? 3 : relu ? 2 : 1;
        if (s.q instanceof QuantizedConv2d && (relu || isPacked(h))) {
          // the pooled output quantized in the epilogue for a quantized conv right after it, or
          // for a quantized Linear after a Flatten (read as a conv over the whole image)
          const flat = isFlatten(layers[i + 3]) && this.steps[i + 4]?.q instanceof QuantizedLinear;
          const after = this.steps[i + (flat ? 4 : 3)]?.q;
          const packed: PackedT | null = pool && after && (flat || after instanceof QuantizedConv2d)
            ? s.q.intoNext(h, this.path, true, after)
            : null;
          if (packed && after instanceof QuantizedLinear) {
            const relu2 = isReLU(layers[i + 5]);
            const y = after.runPacked(packed, this.path, false, { relu: relu2 }).y;
            packed.t.dispose();
            next = reshape(y, [y.shape[0], after.outFeatures]);
            y.dispose();
            covers = relu2 ? 6 : 5;
          } else next = packed ?? s.q.forwardFused(h, this.path, { relu, pool });
        } else if (s.q instanceof QuantizedLinear && relu && !isPacked(h)) {
          next = linearStep(s.q, this.path, true)(h);
        } else next = s.run(h as Tensor);
        if (next !== h) free(h);
        h = next;
        i += covers;
      }
      return h as Tensor;
    });
  }

  /**
   * The float twin (`fakeQuantModel` with the same input scales), in eval mode: the same
   * function up to float rounding, with gradients, for attributions of the int8 model.
   */
  simulate(): Sequential {
    const { model } = fakeQuantModel(this.source, this.inputScales);
    return model.eval();
  }

  /** The per-layer table: input scale, weight and output SQNR, and the layers left float. */
  table(): string {
    const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "exact").padStart(8);
    const rows = this.layers.map((r) =>
      `${r.layer.padEnd(6)} ${r.type.padEnd(10)} ${r.inputScale.toExponential(3).padStart(10)} ${
        f(r.weightSqnr)
      } ${f(r.outputSqnr)}`
    );
    const fb = this.fallbacks.map((r) => `${r.layer.padEnd(6)} ${r.type.padEnd(10)} float32: ${r.reason}`);
    return [
      `layer  type       in. scale  W SQNR dB  out SQNR dB`,
      ...rows,
      ...fb,
      `model output SQNR ${f(this.outputSqnr).trim()} dB`,
    ].join("\n");
  }

  /** Frees the int8 weights (the source model is not touched). */
  dispose(): void {
    for (const s of this.steps) s.q?.dispose();
  }
}

/**
 * Quantizes a Sequential for int8 inference: calibrates the input scales on `data` (or takes
 * `inputScales`), quantizes every Linear and Conv2d per output channel, and measures each
 * layer's SQNR on the first `sqnrSamples` calibration inputs.
 *
 * @example
 * ```ts
 * import { createModel, quantizeModel, tensor } from "glassbox";
 * const data = { x: new Float32Array(8 * 784).fill(0.3), y: new Int32Array(8), sampleShape: [1, 28, 28] };
 * const q = await quantizeModel(createModel("seed-cnn"), data, { calibration: { method: "percentile" } });
 * q.forward(tensor(data.x, [8, 1, 28, 28])).shape; // [8, 10], computed through int8
 * ```
 */
export async function quantizeModel(
  model: Module,
  data: Dataset,
  options: QuantizeOptions = {},
): Promise<QuantizedModel> {
  if (!(model instanceof Sequential)) {
    throw new Error(`quantizeModel: expected a Sequential (layers in order), got a ${model.typeName}`);
  }
  const unsupported = options.unsupported ?? "float";
  const fallbacks: QuantizationFallback[] = [];
  model.layers.forEach((m, i) => {
    if (m instanceof Linear || m instanceof Conv2d || m.namedParameters().length === 0) return;
    const reason = `no int8 kernel for ${m.typeName}`;
    if (unsupported === "error") {
      throw new Error(
        `quantizeModel: layer "${i}" (${m.typeName}) has weights but no int8 kernel; pass { unsupported: "float" } to keep it in float32`,
      );
    }
    fallbacks.push({ layer: String(i), type: m.typeName, reason });
  });
  const scales = options.inputScales ?? scalesOf(await calibrate(model, data, options.calibration));
  const steps: QuantizedStep[] = [];
  const reports: QuantizedLayerReport[] = [];
  const quantized = new Map<string, QuantizedLinear | QuantizedConv2d>();
  try {
    for (const [i, m] of model.layers.entries()) {
      const name = String(i);
      if (!(m instanceof Linear || m instanceof Conv2d)) {
        steps.push({ name, run: evalStep(m) });
        continue;
      }
      const s = scales.get(name);
      if (!(s !== undefined && s > 0 && Number.isFinite(s))) {
        throw new Error(`quantizeModel: no valid input scale for layer "${name}" (${m.typeName}): ${s}`);
      }
      const q = m instanceof Linear
        ? await QuantizedLinear.fromLinear(m, s)
        : await QuantizedConv2d.fromConv2d(m, s);
      q.label = `layer "${name}" (${m.typeName})`;
      quantized.set(name, q);
      const run = q instanceof QuantizedLinear
        ? linearStep(q, options.path)
        : (x: Tensor) => q.forward(x, options.path);
      steps.push({ name, run, q });
      const weightSqnr = q instanceof QuantizedLinear ? q.weightSqnr : q.linear.weightSqnr;
      reports.push({ layer: name, type: m.typeName, inputScale: s, weightSqnr, outputSqnr: NaN });
    }
  } catch (e) {
    quantized.forEach((q) => q.dispose());
    throw e;
  }
  // the output SQNR of each layer on its float input, and of the whole model
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const n = Math.min(options.sqnrSamples ?? 64, data.y.length, Math.floor(data.x.length / per));
  const result = new QuantizedModel(model, steps, scales, reports, fallbacks);
  result.path = options.path;
  let outputSqnr = NaN;
  if (n > 0) {
    const restore = model.enterEval();
    try {
      outputSqnr = await scope(async () => {
        const x = tensor(data.x.subarray(0, n * per), [n, ...data.sampleShape]);
        const pairs: [QuantizedLayerReport, Tensor, Tensor][] = [];
        const floatOut = noGrad(() => {
          let h = x;
          for (const [i, m] of model.layers.entries()) {
            const next = m.forward(h);
            const rep = reports.find((r) => r.layer === String(i));
            if (rep) pairs.push([rep, next, steps[i].run(h)]);
            h = next;
          }
          return h;
        });
        for (const [rep, ref, q] of pairs) rep.outputSqnr = sqnr(await ref.toArray(), await q.toArray());
        return sqnr(await floatOut.toArray(), await result.forward(x).toArray());
      });
    } finally {
      restore();
    }
  }
  result.outputSqnr = outputSqnr;
  return result;
}
