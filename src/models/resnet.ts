/**
 * A small residual CNN with BatchNorm for C×H×W images, laid out and named as torchvision's
 * ResNet (conv1, bn1, relu, layer1, layer2, avgpool, fc; plus a parameter-free `flatten` module
 * where torchvision calls torch.flatten), so a PyTorch model of the same shape hands its
 * state_dict over unchanged (BatchNorm's `num_batches_tracked` left out: glassbox keeps none) and
 * every submodule has the path a PyTorch user expects ("layer2.0.conv2", "layer2.0.downsample.0").
 */
import { Flatten, ReLU } from "../nn/activation.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { AdaptiveAvgPool2d, Conv2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { BasicBlock } from "../nn/residual.ts";
import { Sequential } from "../nn/sequential.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** The configuration of `SmallResNet` (all optional). */
export interface SmallResNetConfig {
  /** Input channels (default 3, RGB). */
  channels?: number;
  /** Channels of the stem and of layer1; layer2 has twice as many (default 16). */
  width?: number;
  /** Outputs (default 10). */
  classes?: number;
}

/**
 * conv stem (3×3 conv without bias → BatchNorm → ReLU) → layer1 (a `BasicBlock` with the identity
 * shortcut) → layer2 (a `BasicBlock` with stride 2 and twice the width, its shortcut a 1×1
 * projection) → global average pooling → Linear(classes). Any input size works (the pooling is
 * global); `camLayer` is the last block's path, where a CAM looks.
 *
 * @example
 * ```ts
 * import { randn, SmallResNet } from "glassbox";
 * const model = new SmallResNet({ width: 8, classes: 5 });
 * if (model.forward(randn([2, 3, 32, 32])).shape.join() !== "2,5") throw new Error("shape");
 * if (model.camLayer !== "layer2.0") throw new Error(model.camLayer);
 * model.get("layer2.0.downsample.0"); // the projection's 1×1 convolution
 * ```
 */
export class SmallResNet extends Module {
  /** The stem's 3×3 convolution. */
  readonly conv1: Conv2d;
  /** The stem's BatchNorm. */
  readonly bn1: BatchNorm2d;
  /** The stem's ReLU. */
  readonly relu: ReLU;
  /** One `BasicBlock` at the stem's width, identity shortcut ("layer1.0"). */
  readonly layer1: Sequential;
  /** One `BasicBlock` with stride 2 and twice the width, projection shortcut ("layer2.0"). */
  readonly layer2: Sequential;
  /** Global average pooling. */
  readonly avgpool: AdaptiveAvgPool2d;
  /** [N, C, 1, 1] → [N, C]. */
  readonly flatten: Flatten;
  /** The classifier. */
  readonly fc: Linear;
  /** The configuration with its defaults filled in. */
  readonly config: Required<SmallResNetConfig>;

  /** A model with the given channels, width and classes (see `SmallResNetConfig`). */
  constructor(config: SmallResNetConfig = {}) {
    super();
    const c = { channels: config.channels ?? 3, width: config.width ?? 16, classes: config.classes ?? 10 };
    for (const [k, v] of Object.entries(c)) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`SmallResNet: ${k} must be a positive integer, got ${v}`);
      }
    }
    this.config = c;
    const w = c.width;
    this.conv1 = this.addModule(
      "conv1",
      new Conv2d(c.channels, w, 3, { padding: 1, bias: false, init: "kaiming" }),
    );
    this.bn1 = this.addModule("bn1", new BatchNorm2d(w));
    this.relu = this.addModule("relu", new ReLU());
    this.layer1 = this.addModule("layer1", new Sequential(new BasicBlock(w, w)));
    this.layer2 = this.addModule(
      "layer2",
      new Sequential(new BasicBlock(w, 2 * w, 2, BasicBlock.projection(w, 2 * w, 2))),
    );
    this.avgpool = this.addModule("avgpool", new AdaptiveAvgPool2d(1));
    this.flatten = this.addModule("flatten", new Flatten());
    this.fc = this.addModule("fc", new Linear(2 * w, c.classes));
  }

  /** The path of the last residual block (its output, after the ReLU): where a CAM looks. */
  get camLayer(): string {
    return `layer2.${this.layer2.layers.length - 1}`;
  }

  /** Logits [N, classes] for images [N, channels, H, W]. */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.config.channels) {
      throw new Error(
        `SmallResNet: expected images [N, ${this.config.channels}, H, W], got [${x.shape.join(", ")}]`,
      );
    }
    const h = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    return this.fc.forward(
      this.flatten.forward(this.avgpool.forward(this.layer2.forward(this.layer1.forward(h)))),
    );
  }
}

/**
 * Builds a `SmallResNet` (the registry's "small-resnet").
 *
 * @example
 * ```ts
 * import { createModel } from "glassbox";
 * const model = createModel("small-resnet", { channels: 3, width: 8, classes: 4 });
 * if (model.get("layer1.0.bn2").typeName !== "BatchNorm2d") throw new Error("layout");
 * ```
 */
export function smallResNet(config: SmallResNetConfig = {}): SmallResNet {
  return new SmallResNet(config);
}
