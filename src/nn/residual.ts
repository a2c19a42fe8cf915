/**
 * The residual block of ResNet-18/34 (He et al., 2016, arXiv:1512.03385) with torchvision's
 * layout and parameter names: conv1 → bn1 → relu → conv2 → bn2, plus the shortcut (the input
 * itself, or `downsample` when the shape changes), then relu. A PyTorch `BasicBlock`'s
 * state_dict loads into it unchanged (its BatchNorm `num_batches_tracked` entries aside, which
 * glassbox's BatchNorm2d does not keep).
 */
import { add } from "../tensor/ops/elementwise.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { ReLU } from "./activation.ts";
import { BatchNorm2d } from "./batchnorm.ts";
import { Conv2d } from "./conv.ts";
import { Module } from "./module.ts";
import { Sequential } from "./sequential.ts";

/**
 * torchvision's `BasicBlock(inplanes, planes, stride, downsample)`: two 3×3 convolutions without
 * bias, each followed by BatchNorm, the input added back (through `downsample` when given), and
 * a ReLU after the sum. Children: `conv1`, `bn1`, `relu` (one module called twice, as in
 * torchvision), `conv2`, `bn2` and, when given, `downsample` (usually `BasicBlock.projection`:
 * `downsample.0` the 1×1 convolution, `downsample.1` its BatchNorm). Without `downsample` the
 * block must keep the shape (stride 1, inplanes = planes); anything else is an error.
 *
 * @example
 * ```ts
 * import { BasicBlock, randn } from "glassbox";
 * const same = new BasicBlock(8, 8);
 * if (same.forward(randn([2, 8, 6, 6])).shape.join() !== "2,8,6,6") throw new Error("shape");
 * const down = new BasicBlock(8, 16, 2, BasicBlock.projection(8, 16, 2));
 * if (down.forward(randn([2, 8, 6, 6])).shape.join() !== "2,16,3,3") throw new Error("shape");
 * if (!down.stateDict().has("downsample.1.running_var")) throw new Error("torchvision's names");
 * ```
 */
export class BasicBlock extends Module {
  /** torchvision's `BasicBlock.expansion`: the block's output has `planes` channels. */
  static readonly expansion = 1;
  /** The first 3×3 convolution (with the block's stride). */
  readonly conv1: Conv2d;
  /** BatchNorm after conv1. */
  readonly bn1: BatchNorm2d;
  /** The ReLU, called after bn1 and after the sum. */
  readonly relu: ReLU;
  /** The second 3×3 convolution. */
  readonly conv2: Conv2d;
  /** BatchNorm after conv2. */
  readonly bn2: BatchNorm2d;
  /** The shortcut's projection (null: the input itself is added). */
  readonly downsample: Module | null;

  /** A block from `inplanes` to `planes` channels; `downsample` is needed when the shape changes. */
  constructor(
    readonly inplanes: number,
    readonly planes: number,
    readonly stride: number = 1,
    downsample: Module | null = null,
  ) {
    super();
    for (const [what, v] of [["inplanes", inplanes], ["planes", planes], ["stride", stride]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`BasicBlock: ${what} must be a positive integer, got ${v}`);
      }
    }
    if (!downsample && (stride !== 1 || inplanes !== planes)) {
      throw new Error(
        `BasicBlock(${inplanes}, ${planes}, stride ${stride}) changes the shape, so the identity shortcut ` +
          `cannot be added: pass a downsample module (e.g. BasicBlock.projection(${inplanes}, ${planes}, ${stride}))`,
      );
    }
    this.conv1 = this.addModule(
      "conv1",
      new Conv2d(inplanes, planes, 3, { stride, padding: 1, bias: false, init: "kaiming" }),
    );
    this.bn1 = this.addModule("bn1", new BatchNorm2d(planes));
    this.relu = this.addModule("relu", new ReLU());
    this.conv2 = this.addModule(
      "conv2",
      new Conv2d(planes, planes, 3, { padding: 1, bias: false, init: "kaiming" }),
    );
    this.bn2 = this.addModule("bn2", new BatchNorm2d(planes));
    this.downsample = downsample ? this.addModule("downsample", downsample) : null;
  }

  /**
   * torchvision's projection shortcut (`_make_layer`'s downsample): a 1×1 convolution without
   * bias with the block's stride, then BatchNorm.
   */
  static projection(inplanes: number, planes: number, stride = 1): Sequential {
    return new Sequential(
      new Conv2d(inplanes, planes, 1, { stride, bias: false, init: "kaiming" }),
      new BatchNorm2d(planes),
    );
  }

  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
  forward(x: Tensor): Tensor {
    const out = this.bn2.forward(
      this.conv2.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x)))),
    );
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return this.relu.forward(add(out, identity));
  }
}
