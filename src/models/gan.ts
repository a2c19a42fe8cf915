/**
 * A small GAN: a generator that maps a latent vector z to an image in [−1, 1] and a
 * discriminator that gives one logit (real vs generated). Both are multilayer perceptrons: on
 * lavapipe (no GPU) one alternating D+G step of this pair at batch 64 takes about 90 ms, a
 * DCGAN-style convolutional pair even scaled down (16/32 channels) about 620 ms, so the MLP pair
 * trains on MNIST in minutes and the convolutional one would take an hour. They follow DCGAN's
 * other guidelines (Radford et al., 2016): ReLU in the generator, LeakyReLU(0.2) in the
 * discriminator, tanh output, Adam(2e-4, β1 0.5) in training (src/apps/gan.ts).
 */
import { Flatten, LeakyReLU, ReLU, Tanh, Unflatten } from "../nn/activation.ts";
import { Linear } from "../nn/linear.ts";
import { Sequential } from "../nn/sequential.ts";
import type { ExplanationProfile } from "./profile.ts";
import { rememberSpec } from "./spec.ts";

/** The generator's configuration (what its checkpoint records). */
export interface GanGeneratorConfig {
  /** Length of the latent vector z (default 64). */
  latent?: number;
  /** Widths of the hidden layers (default [256, 512]; a checkpoint records them as "256,512"). */
  hidden?: number[] | string;
  /** The image it draws, [C, H, W] (required; a checkpoint records it as "1,28,28"). */
  imageShape: number[] | string;
}

/** The discriminator's configuration (what its checkpoint records). */
export interface GanDiscriminatorConfig {
  /** The image it judges, [C, H, W] (required; a checkpoint records it as "1,28,28"). */
  imageShape: number[] | string;
  /** Widths of the hidden layers (default [512, 256]; a checkpoint records them as "512,256"). */
  hidden?: number[] | string;
  /** LeakyReLU's negative slope (default 0.2). */
  slope?: number;
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
 * The generator: z → Linear → ReLU → … → Linear → Tanh → Unflatten to [C, H, W]. Each ReLU's
 * units are the "channels" a channel ablation zeroes; the last one, `lastHidden`, is where
 * `ablateChannels` looks by default (the profile's `camLayer`).
 *
 * @example
 * ```ts
 * import { GanGenerator, randn } from "glassbox";
 * const g = new GanGenerator({ latent: 8, hidden: [16], imageShape: [1, 4, 4] });
 * const img = g.forward(randn([3, 8]));
 * if (img.shape.join() !== "3,1,4,4" || g.lastHidden !== "1") throw new Error(`${img.shape} ${g.lastHidden}`);
 * ```
 */
export class GanGenerator extends Sequential {
  /** Length of z. */
  readonly latent: number;
  /** The image drawn, [C, H, W]. */
  readonly imageShape: number[];
  /** The module path of the last hidden ReLU. */
  readonly lastHidden: string;
  /** Builds the layers from `config` (bad widths or shapes are errors naming the field). */
  constructor(config: GanGeneratorConfig) {
    const latent = config.latent ?? 64;
    if (!(Number.isInteger(latent) && latent > 0)) {
      throw new Error(`GanGenerator: latent must be a positive whole number, got ${latent}`);
    }
    const shape = checkShape("GanGenerator", config.imageShape);
    const hidden = checkWidths("GanGenerator", config.hidden ?? [256, 512]);
    const layers = [];
    let inF = latent;
    for (const h of hidden) {
      layers.push(new Linear(inF, h), new ReLU());
      inF = h;
    }
    layers.push(new Linear(inF, shape[0] * shape[1] * shape[2]), new Tanh(), new Unflatten(1, shape));
    super(...layers);
    this.latent = latent;
    this.imageShape = [...shape];
    this.lastHidden = String(2 * hidden.length - 1);
    // a GanGenerator is its registered architecture, so it saves without createModel (a subclass is not)
    if (new.target === GanGenerator) {
      rememberSpec(this, {
        architecture: "gan-generator",
        config: { latent, hidden: hidden.join(), imageShape: shape.join() },
      });
    }
  }
}

/**
 * The discriminator: Flatten → Linear → LeakyReLU → … → Linear(1), one logit per image (its
 * sigmoid is the probability that the image is real). No BatchNorm or dropout, so training and
 * evaluation mode compute the same function.
 *
 * @example
 * ```ts
 * import { GanDiscriminator, randn } from "glassbox";
 * const d = new GanDiscriminator({ imageShape: [1, 4, 4], hidden: [8] });
 * if (d.forward(randn([2, 1, 4, 4])).shape.join() !== "2,1") throw new Error("one logit per image");
 * ```
 */
export class GanDiscriminator extends Sequential {
  /** The image judged, [C, H, W]. */
  readonly imageShape: number[];
  /** Builds the layers from `config` (bad widths or shapes are errors naming the field). */
  constructor(config: GanDiscriminatorConfig) {
    const shape = checkShape("GanDiscriminator", config.imageShape);
    const hidden = checkWidths("GanDiscriminator", config.hidden ?? [512, 256]);
    const slope = config.slope ?? 0.2;
    const layers = [];
    let inF = shape[0] * shape[1] * shape[2];
    layers.push(new Flatten());
    for (const h of hidden) {
      layers.push(new Linear(inF, h), new LeakyReLU(slope));
      inF = h;
    }
    layers.push(new Linear(inF, 1));
    super(...layers);
    this.imageShape = [...shape];
    if (new.target === GanDiscriminator) {
      rememberSpec(this, {
        architecture: "gan-discriminator",
        config: { imageShape: shape.join(), hidden: hidden.join(), slope },
      });
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
