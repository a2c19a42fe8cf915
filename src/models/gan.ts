/**
 * A small GAN: a generator that maps a latent vector z to an image in [−1, 1] and a
 * discriminator that gives one logit (real vs generated), in two kinds. "mlp" (the default):
 * multilayer perceptrons. "dcgan": DCGAN's layout (Radford et al., 2016) scaled down, a
 * generator of a dense layer and two stride-2 ConvTranspose2d with BatchNorm and ReLU, a
 * discriminator of two stride-2 convolutions with LeakyReLU. Both kinds follow DCGAN's other
 * guidelines: ReLU in the generator, LeakyReLU(0.2) in the discriminator, tanh output, Adam(2e-4,
 * β1 0.5) in training (src/apps/gan.ts). Measured on lavapipe (no GPU, a 2-core machine, nearly
 * idle), one alternating D+G step at batch 64 takes 105–117 ms for the MLP pair and 277 ms (16
 * base channels) or 651 ms (32) for the DCGAN pair, so the MLP pair is the one that trains on
 * MNIST in minutes here. The discriminator has no BatchNorm (nor dropout) in either kind, so it computes
 * the same function in training and evaluation mode (the training loop relies on it).
 */
import { Flatten, LeakyReLU, ReLU, Tanh, Unflatten } from "../nn/activation.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d, ConvTranspose2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import type { ExplanationProfile } from "./profile.ts";
import { rememberSpec } from "./spec.ts";

/** The two kinds of GAN networks (see the module comment). */
export type GanKind = "mlp" | "dcgan";

/** The generator's configuration (what its checkpoint records). */
export interface GanGeneratorConfig {
  /** "mlp" (default) or "dcgan". */
  kind?: GanKind;
  /** Length of the latent vector z (default 64). */
  latent?: number;
  /** MLP: widths of the hidden layers (default [256, 512]; a checkpoint records them as "256,512"). */
  hidden?: number[] | string;
  /** DCGAN: channels of the last hidden layer, twice that before it (default 32). */
  channels?: number;
  /** The image it draws, [C, H, W] (required; a checkpoint records it as "1,28,28"); DCGAN: H and W divisible by 4. */
  imageShape: number[] | string;
}

/** The discriminator's configuration (what its checkpoint records). */
export interface GanDiscriminatorConfig {
  /** "mlp" (default) or "dcgan". */
  kind?: GanKind;
  /** The image it judges, [C, H, W] (required; a checkpoint records it as "1,28,28"); DCGAN: H and W divisible by 4. */
  imageShape: number[] | string;
  /** MLP: widths of the hidden layers (default [512, 256]; a checkpoint records them as "512,256"). */
  hidden?: number[] | string;
  /** DCGAN: channels of the first convolution, twice that in the second (default 32). */
  channels?: number;
  /** LeakyReLU's negative slope (default 0.2). */
  slope?: number;
}

function checkKind(who: string, k: unknown): GanKind {
  if (k !== "mlp" && k !== "dcgan") {
    throw new Error(`${who}: kind must be "mlp" or "dcgan", got ${JSON.stringify(k)}`);
  }
  return k;
}

function checkChannels(who: string, c: unknown, shape: number[]): number {
  if (!(Number.isInteger(c) && (c as number) > 0)) {
    throw new Error(`${who}: channels must be a positive whole number, got ${JSON.stringify(c)}`);
  }
  if (shape[1] % 4 || shape[2] % 4) {
    throw new Error(
      `${who}: a DCGAN image's height and width must be divisible by 4, got [${shape.join(", ")}]`,
    );
  }
  return c as number;
}

/** A list as a configuration holds it: an array, or its values joined with commas (as a checkpoint records it). */
function list(v: unknown): unknown {
  return typeof v === "string" ? v.split(",").map((x) => (x.trim() === "" ? NaN : Number(x))) : v;
}

function checkShape(who: string, s0: unknown): number[] {
  const s = list(s0);
  if (!Array.isArray(s) || s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(
      `${who}: imageShape must be [C, H, W] of positive whole numbers, got ${JSON.stringify(s)}`,
    );
  }
  return s;
}

function checkWidths(who: string, h0: unknown): number[] {
  const h = list(h0);
  if (!Array.isArray(h) || h.length === 0 || !h.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(
      `${who}: hidden must be a non-empty list of positive whole numbers, got ${JSON.stringify(h)}`,
    );
  }
  return h;
}

/**
 * The generator. "mlp": z → Linear → ReLU → … → Linear → Tanh → Unflatten to [C, H, W].
 * "dcgan": z → Linear → Unflatten to [2c, H/4, W/4] → BatchNorm → ReLU → ConvTranspose2d (×2) →
 * BatchNorm → ReLU → ConvTranspose2d (×2) → Tanh. The channels (units) of the last hidden ReLU,
 * `lastHidden`, are where `ablateChannels` looks by default (the profile's `camLayer`).
 *
 * @example
 * ```ts
 * import { GanGenerator, randn } from "glassbox";
 * const g = new GanGenerator({ latent: 8, hidden: [16], imageShape: [1, 4, 4] });
 * const img = g.forward(randn([3, 8]));
 * if (img.shape.join() !== "3,1,4,4" || g.lastHidden !== "1") throw new Error(`${img.shape} ${g.lastHidden}`);
 * const dc = new GanGenerator({ kind: "dcgan", latent: 8, channels: 4, imageShape: [1, 8, 8] });
 * if (dc.forward(randn([2, 8])).shape.join() !== "2,1,8,8" || dc.lastHidden !== "6") throw new Error("dcgan");
 * ```
 */
export class GanGenerator extends Sequential {
  /** "mlp" or "dcgan". */
  readonly kind: GanKind;
  /** Length of z. */
  readonly latent: number;
  /** The image drawn, [C, H, W]. */
  readonly imageShape: number[];
  /** The module path of the last hidden ReLU. */
  readonly lastHidden: string;
  /** Builds the layers from `config` (bad widths or shapes are errors naming the field). */
  constructor(config: GanGeneratorConfig) {
    const kind = checkKind("GanGenerator", config.kind ?? "mlp");
    const latent = config.latent ?? 64;
    if (!(Number.isInteger(latent) && latent > 0)) {
      throw new Error(`GanGenerator: latent must be a positive whole number, got ${latent}`);
    }
    const shape = checkShape("GanGenerator", config.imageShape);
    const [C, H, W] = shape;
    const layers: Module[] = [];
    let spec: Record<string, string | number>;
    if (kind === "mlp") {
      const hidden = checkWidths("GanGenerator", config.hidden ?? [256, 512]);
      let inF = latent;
      for (const h of hidden) {
        layers.push(new Linear(inF, h), new ReLU());
        inF = h;
      }
      layers.push(new Linear(inF, C * H * W), new Tanh(), new Unflatten(1, shape));
      spec = { kind, latent, hidden: hidden.join(), imageShape: shape.join() };
    } else {
      const c = checkChannels("GanGenerator", config.channels ?? 32, shape);
      layers.push(
        new Linear(latent, 2 * c * (H / 4) * (W / 4)),
        new Unflatten(1, [2 * c, H / 4, W / 4]),
        new BatchNorm2d(2 * c),
        new ReLU(),
        new ConvTranspose2d(2 * c, c, 4, { stride: 2, padding: 1 }),
        new BatchNorm2d(c),
        new ReLU(),
        new ConvTranspose2d(c, C, 4, { stride: 2, padding: 1 }),
        new Tanh(),
      );
      spec = { kind, latent, channels: c, imageShape: shape.join() };
    }
    super(...layers);
    this.kind = kind;
    this.latent = latent;
    this.imageShape = [...shape];
    this.lastHidden = String(layers.findLastIndex((m) => m instanceof ReLU));
    // a GanGenerator is its registered architecture, so it saves without createModel (a subclass is not)
    if (new.target === GanGenerator) rememberSpec(this, { architecture: "gan-generator", config: spec });
  }
}

/**
 * The discriminator, one logit per image (its sigmoid is the probability that the image is
 * real). "mlp": Flatten → Linear → LeakyReLU → … → Linear(1). "dcgan": Conv2d(c, 4×4, stride 2)
 * → LeakyReLU → Conv2d(2c, 4×4, stride 2) → LeakyReLU → Flatten → Linear(1). No BatchNorm or
 * dropout, so training and evaluation mode compute the same function.
 *
 * @example
 * ```ts
 * import { GanDiscriminator, randn } from "glassbox";
 * const d = new GanDiscriminator({ imageShape: [1, 4, 4], hidden: [8] });
 * if (d.forward(randn([2, 1, 4, 4])).shape.join() !== "2,1") throw new Error("one logit per image");
 * const dc = new GanDiscriminator({ kind: "dcgan", imageShape: [1, 8, 8], channels: 4 });
 * if (dc.forward(randn([2, 1, 8, 8])).shape.join() !== "2,1") throw new Error("dcgan: one logit per image");
 * ```
 */
export class GanDiscriminator extends Sequential {
  /** "mlp" or "dcgan". */
  readonly kind: GanKind;
  /** The image judged, [C, H, W]. */
  readonly imageShape: number[];
  /** Builds the layers from `config` (bad widths or shapes are errors naming the field). */
  constructor(config: GanDiscriminatorConfig) {
    const kind = checkKind("GanDiscriminator", config.kind ?? "mlp");
    const shape = checkShape("GanDiscriminator", config.imageShape);
    const [C, H, W] = shape;
    const slope = config.slope ?? 0.2;
    const layers: Module[] = [];
    let spec: Record<string, string | number>;
    if (kind === "mlp") {
      const hidden = checkWidths("GanDiscriminator", config.hidden ?? [512, 256]);
      let inF = C * H * W;
      layers.push(new Flatten());
      for (const h of hidden) {
        layers.push(new Linear(inF, h), new LeakyReLU(slope));
        inF = h;
      }
      layers.push(new Linear(inF, 1));
      spec = { kind, imageShape: shape.join(), hidden: hidden.join(), slope };
    } else {
      const c = checkChannels("GanDiscriminator", config.channels ?? 32, shape);
      layers.push(
        new Conv2d(C, c, 4, { stride: 2, padding: 1 }),
        new LeakyReLU(slope),
        new Conv2d(c, 2 * c, 4, { stride: 2, padding: 1 }),
        new LeakyReLU(slope),
        new Flatten(),
        new Linear(2 * c * (H / 4) * (W / 4), 1),
      );
      spec = { kind, imageShape: shape.join(), channels: c, slope };
    }
    super(...layers);
    this.kind = kind;
    this.imageShape = [...shape];
    if (new.target === GanDiscriminator) {
      rememberSpec(this, { architecture: "gan-discriminator", config: spec });
    }
  }
}

/**
 * The generator's profile: its input is the latent vector (tabular, one feature per latent
 * dimension), its outputs the pixels of the image it draws, and its `camLayer` the last hidden
 * layer (where `ablateChannels` looks).
 *
 * @example
 * ```ts
 * import { GanGenerator, ganGeneratorProfile } from "glassbox";
 * const g = new GanGenerator({ latent: 4, hidden: [8], imageShape: [1, 2, 2] });
 * const p = ganGeneratorProfile(g);
 * if (p.inputShape[0] !== 4 || p.classes.length !== 4 || p.camLayer !== "1") throw new Error(JSON.stringify(p));
 * ```
 */
export function ganGeneratorProfile(
  g: Pick<GanGenerator, "latent" | "imageShape" | "lastHidden">,
): ExplanationProfile {
  const [C, H, W] = g.imageShape;
  const classes: string[] = [];
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) classes.push(C > 1 ? `pixel (${c}, ${y}, ${x})` : `pixel (${y}, ${x})`);
    }
  }
  return {
    modality: "tabular",
    inputShape: [g.latent],
    classes,
    featureNames: Array.from({ length: g.latent }, (_, i) => `z${i}`),
    camLayer: g.lastHidden,
  };
}

/**
 * The discriminator's profile: images in [−1, 1] (mean 0.5, std 0.5 of [0, 1] pixels), one
 * output "real" (its logit), black (−1) as the baseline, Saliency by default.
 *
 * @example
 * ```ts
 * import { GanDiscriminator, ganDiscriminatorProfile } from "glassbox";
 * const p = ganDiscriminatorProfile(new GanDiscriminator({ imageShape: [1, 4, 4], hidden: [8] }));
 * if (p.classes.join() !== "real" || p.baseline !== -1) throw new Error(JSON.stringify(p));
 * ```
 */
export function ganDiscriminatorProfile(d: Pick<GanDiscriminator, "imageShape">): ExplanationProfile {
  const C = d.imageShape[0];
  return {
    modality: "image",
    inputShape: [...d.imageShape],
    classes: ["real"],
    mean: Array(C).fill(0.5),
    std: Array(C).fill(0.5),
    baseline: -1,
    methods: ["saliency"],
  };
}
