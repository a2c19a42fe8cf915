/** Convolution and pooling layers (NCHW). */
import {
  avgPool2d,
  checkConvTransposeOptions,
  conv2d,
  convTranspose2d,
  maxPool2d,
} from "../tensor/ops/conv.ts";
import { checkResizeOptions, type InterpolateOptions, resize } from "../tensor/ops/resize.ts";
import { mean } from "../tensor/ops/reduce.ts";
import type { Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { kaimingNormal, kaimingUniform, uniform } from "./init.ts";
import { Module } from "./module.ts";

/** Options for `Conv2d`. */
export interface Conv2dLayerOptions {
  /** Step between windows, in pixels (default 1). */
  stride?: number;
  /** Zero rows and columns added on each side of the input (default 0). */
  padding?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Learn a per-output-channel bias (default true). */
  bias?: boolean;
  /** "default" (PyTorch's) or "kaiming" (He normal, zero bias). */
  init?: "default" | "kaiming";
  /** The generator the initial weights are drawn from (default: the global one, see `manualSeed`). */
  generator?: Generator;
}

/**
 * A 2-D convolution layer, weight [out, in, k, k] as in PyTorch.
 *
 * @example
 * ```ts
 * import { Conv2d, randn } from "glassbox";
 * const conv = new Conv2d(1, 32, 3);
 * conv.forward(randn([64, 1, 28, 28])).shape; // [64, 32, 26, 26]
 * ```
 */
export class Conv2d extends Module {
  /** The learned kernels, [outChannels, inChannels, kernelSize, kernelSize] (a parameter named "weight"). */
  weight: Tensor;
  /** The learned per-channel bias, [outChannels] (parameter "bias"), or null with `bias: false`. */
  bias: Tensor | null;
  /**
   * A square `kernelSize`×`kernelSize` convolution from `inChannels` to `outChannels` channels (PyTorch's
   * `nn.Conv2d`), its weights drawn now as `options.init` says.
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: Conv2dLayerOptions = {},
  ) {
    super();
    const shape = [outChannels, inChannels, kernelSize, kernelSize];
    const g = options.generator;
    const kaiming = options.init === "kaiming";
    this.weight = this.addParameter(
      "weight",
      kaiming ? kaimingNormal(shape, g) : kaimingUniform(shape, Math.sqrt(5), g),
    );
    const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.bias = options.bias === false
      ? null
      : this.addParameter("bias", uniform([outChannels], kaiming ? 0 : -bound, kaiming ? 0 : bound, g));
  }
  /**
   * The cross-correlation of x [N, inChannels, H, W] with the kernels, plus bias: [N, outChannels, H′, W′]
   * with H′ = ⌊(H + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1.
   */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

/** Options for `ConvTranspose2d`. */
export interface ConvTranspose2dLayerOptions {
  /** Step between the windows of the convolution this layer transposes (default 1): the upsampling factor. */
  stride?: number;
  /** Rows and columns taken off each side of the output (default 0). */
  padding?: number;
  /** Extra rows and columns on the bottom and right of the output; smaller than stride or dilation. */
  outputPadding?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** Learn a per-channel bias (default true). */
  bias?: boolean;
  /** "default" (PyTorch's) or "kaiming" (He normal, zero bias). */
  init?: "default" | "kaiming";
  /** The generator the initial weights are drawn from (default: the global one, see `manualSeed`). */
  generator?: Generator;
}

/**
 * A 2-D transposed convolution layer (PyTorch's `nn.ConvTranspose2d`, groups 1): weight
 * [in, out, k, k], bias [out]. Output size (H − 1)·stride − 2·padding + dilation·(k − 1) +
 * outputPadding + 1. PyTorch's default init: kaiming_uniform(a = √5) with fan_in = out·k·k
 * (PyTorch reads the weight's dim 1 as fan in), bias U(±1/√fan_in).
 *
 * @example
 * ```ts
 * import { ConvTranspose2d, randn } from "glassbox";
 * const up = new ConvTranspose2d(64, 32, 4, { stride: 2, padding: 1 });
 * const y = up.forward(randn([8, 64, 7, 7]));
 * if (y.shape.join() !== "8,32,14,14") throw new Error(`shape ${y.shape}`);
 * if (up.weight.shape.join() !== "64,32,4,4") throw new Error("weight is [in, out, k, k]");
 * ```
 */
export class ConvTranspose2d extends Module {
  /** [inChannels, outChannels, k, k], PyTorch's layout for a transposed convolution. */
  weight: Tensor;
  /** [outChannels], or null without bias. */
  bias: Tensor | null;
  /**
   * A layer with fresh weights (PyTorch's default init unless `init` says otherwise).
   *
   * @param inChannels channels of the input
   * @param outChannels channels of the output
   * @param kernelSize the square kernel's side
   * @param options stride, padding, outputPadding, dilation, bias, init, generator
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly options: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    for (
      const [what, v] of [["inChannels", inChannels], ["outChannels", outChannels], [
        "kernelSize",
        kernelSize,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`ConvTranspose2d: ${what} must be a positive integer, got ${v}`);
      }
    }
    checkConvTransposeOptions("ConvTranspose2d", options); // now, not at the first forward
    const shape = [inChannels, outChannels, kernelSize, kernelSize];
    const g = options.generator;
    const kaiming = options.init === "kaiming";
    this.weight = this.addParameter(
      "weight",
      kaiming ? kaimingNormal(shape, g) : kaimingUniform(shape, Math.sqrt(5), g),
    );
    const bound = 1 / Math.sqrt(outChannels * kernelSize * kernelSize);
    this.bias = options.bias === false
      ? null
      : this.addParameter("bias", uniform([outChannels], kaiming ? 0 : -bound, kaiming ? 0 : bound, g));
  }
  /** x [N, inChannels, H, W] → [N, outChannels, OH, OW]. */
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.options);
  }
}

/** Options for `Upsample` (PyTorch's `nn.Upsample`): give `size` or `scaleFactor`. */
export interface UpsampleOptions {
  /** Output [height, width] (or one number for both). */
  size?: number | [number, number];
  /** Output size = floor(input size × factor), per axis or for both. */
  scaleFactor?: number | [number, number];
  /** "nearest" (default) or "bilinear". */
  mode?: "nearest" | "bilinear";
  /** Bilinear only: align the corner pixels' centres (default false). */
  alignCorners?: boolean;
}

/**
 * Resizes NCHW images by a scale factor or to a size, PyTorch's `nn.Upsample` (nearest by
 * default, or bilinear; see `interpolate`). No parameters.
 *
 * @example
 * ```ts
 * import { tensor, Upsample } from "glassbox";
 * const y = new Upsample({ scaleFactor: 2 }).forward(tensor([[[[1, 2], [3, 4]]]]));
 * if ((await y.toArray()).join() !== "1,1,2,2,1,1,2,2,3,3,4,4,3,3,4,4") throw new Error("nearest");
 * const b = new Upsample({ size: [1, 4], mode: "bilinear", alignCorners: true }).forward(tensor([[[[0, 3]]]]));
 * if ((await b.toArray()).join() !== "0,1,2,3") throw new Error("bilinear");
 * ```
 */
export class Upsample extends Module {
  /** The output [height, width], when given by size. */
  readonly size?: [number, number];
  /** The scale factor, when given by one. */
  readonly scaleFactor?: number | [number, number];
  /** "nearest" or "bilinear". */
  readonly mode: "nearest" | "bilinear";
  /** Bilinear's align_corners (undefined: false). */
  readonly alignCorners?: boolean;
  /**
   * Checks the options now (not at the first forward).
   *
   * @param options size or scaleFactor (exactly one), mode, alignCorners
   */
  constructor(options: UpsampleOptions = {}) {
    super();
    const { size, scaleFactor, mode = "nearest", alignCorners } = options;
    if ((size === undefined) === (scaleFactor === undefined)) {
      throw new Error(
        `Upsample: give size or scaleFactor (exactly one of them), got ${
          size === undefined ? "neither" : "both"
        }`,
      );
    }
    if (mode !== "nearest" && mode !== "bilinear") {
      throw new Error(`Upsample: unknown mode ${JSON.stringify(mode)} (use "nearest" or "bilinear")`);
    }
    if (alignCorners !== undefined && mode === "nearest") {
      throw new Error(`Upsample: alignCorners applies to mode "bilinear" only, not "nearest"`);
    }
    this.size = typeof size === "number" ? [size, size] : size;
    this.scaleFactor = scaleFactor;
    this.mode = mode;
    this.alignCorners = alignCorners;
    // check the numbers now, not at the first forward
    const probe: InterpolateOptions = { size: this.size, scaleFactor, mode, alignCorners };
    checkResizeOptions("Upsample", probe);
  }
  /** x [N, C, H, W] → [N, C, OH, OW]. */
  forward(x: Tensor): Tensor {
    return resize("Upsample", x, {
      size: this.size,
      scaleFactor: this.scaleFactor,
      mode: this.mode,
      alignCorners: this.alignCorners,
    }, "nearest");
  }
}

/** Max pooling layer. */
export class MaxPool2d extends Module {
  /**
   * A max-pooling layer (PyTorch's `nn.MaxPool2d`): windows of `kernelSize`, moved by `stride` (default the
   * kernel size), over the input padded by `padding` on each side.
   */
  constructor(
    readonly kernelSize: number | [number, number],
    readonly stride?: number | [number, number],
    readonly padding: number | [number, number] = 0,
  ) {
    super();
  }
  /** The maximum of each window of x [N, C, H, W], per channel: [N, C, H′, W′]. */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Average pooling layer. */
export class AvgPool2d extends Module {
  /**
   * An average-pooling layer (PyTorch's `nn.AvgPool2d`): windows of `kernelSize`, moved by `stride` (default
   * the kernel size), over the input zero-padded by `padding` (the zeros count in the mean).
   */
  constructor(
    readonly kernelSize: number | [number, number],
    readonly stride?: number | [number, number],
    readonly padding: number | [number, number] = 0,
  ) {
    super();
  }
  /** The mean of each window of x [N, C, H, W], per channel: [N, C, H′, W′]. */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Global average pooling to 1×1 (AdaptiveAvgPool2d(1)). */
export class AdaptiveAvgPool2d extends Module {
  /** Global average pooling; `outputSize` must be 1 (the only size supported; anything else throws). */
  constructor(readonly outputSize: 1 = 1) {
    super();
    if (outputSize !== 1) throw new Error("AdaptiveAvgPool2d: only output size 1 is supported");
  }
  /** The mean over height and width of x [N, C, H, W]: [N, C, 1, 1]. */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) {
      throw new Error(`AdaptiveAvgPool2d: expected [N, C, H, W], got [${x.shape.join(", ")}]`);
    }
    return mean(x, [2, 3], true);
  }
}
