/**
 * The models glassbox ships: the seed CNN for MNIST, the tabular MLP of the worked example,
 * and the small CNN the localisation tests train. `ZOO` is the table of every architecture
 * glassbox ships (these, the sequence models and the described Sequential); the registry starts
 * from it, so nothing registers itself by being imported.
 */
import { AdaptiveAvgPool2d, Conv2d, MaxPool2d } from "../nn/conv.ts";
import { Flatten, ReLU } from "../nn/activation.ts";
import { Linear } from "../nn/linear.ts";
import { Sequential } from "../nn/sequential.ts";
import type { Module } from "../nn/module.ts";
import {
  RecurrentTagger,
  type RecurrentTaggerConfig,
  TokenTransformer,
  type TokenTransformerConfig,
} from "./sequence.ts";
import { buildSequential } from "./sequential_spec.ts";
import { TextClassifier, type TextClassifierConfig } from "./text.ts";
import { smallResNet } from "./resnet.ts";
import { type AutoencoderConfig, ConvAutoencoder, VAE } from "./autoencoder.ts";
import {
  GanDiscriminator,
  type GanDiscriminatorConfig,
  GanGenerator,
  type GanGeneratorConfig,
} from "./gan.ts";

/**
 * The seed CNN for 28×28 grey images: conv(32, 3×3) → ReLU → max-pool 2 → conv(64, 3×3) →
 * ReLU → max-pool 2 → flatten → dense(128) → ReLU → dense(classes).
 *
 * @example
 * ```ts
 * import { randn, seedCnn } from "glassbox";
 * seedCnn().forward(randn([2, 1, 28, 28])).shape; // [2, 10]
 * ```
 */
export function seedCnn(config: { classes?: number } = {}): Sequential {
  return new Sequential(
    new Conv2d(1, 32, 3),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(32, 64, 3),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(1600, 128),
    new ReLU(),
    new Linear(128, config.classes ?? 10),
  );
}

/**
 * A smaller CNN with the seed CNN's layout, for distillation: conv(c1, 3×3) → ReLU → max-pool
 * 2 → conv(c2, 3×3) → ReLU → max-pool 2 → flatten → dense(hidden) → ReLU → dense(classes).
 * The defaults (8, 16 channels, 64 hidden units) have 27,562 parameters, 12% of the seed CNN's
 * 225,034; layer "4" is again the last conv's ReLU (where Grad-CAM looks).
 *
 * @example
 * ```ts
 * import { randn, studentCnn } from "glassbox";
 * studentCnn().forward(randn([2, 1, 28, 28])).shape; // [2, 10]
 * ```
 */
export function studentCnn(
  config: { c1?: number; c2?: number; hidden?: number; classes?: number } = {},
): Sequential {
  const c1 = config.c1 ?? 8, c2 = config.c2 ?? 16, h = config.hidden ?? 64;
  return new Sequential(
    new Conv2d(1, c1, 3),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(c1, c2, 3),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(c2 * 25, h),
    new ReLU(),
    new Linear(h, config.classes ?? 10),
  );
}

/**
 * The worked example's MLP: features → hidden → hidden → 1 logit, with ReLU.
 *
 * @example
 * ```ts
 * import { randn, tabularMlp } from "glassbox";
 * tabularMlp().forward(randn([4, 100])).shape; // [4, 1]
 * ```
 */
export function tabularMlp(config: { features?: number; hidden?: number } = {}): Sequential {
  const f = config.features ?? 100, h = config.hidden ?? 10;
  return new Sequential(new Linear(f, h), new ReLU(), new Linear(h, h), new ReLU(), new Linear(h, 1));
}

/**
 * A small CNN ending in global average pooling (the CAM architecture): conv(16) → ReLU →
 * max-pool 2 → conv(32) → ReLU → global average pool → dense(classes). Its last ReLU ("4")
 * is at half the input's resolution, the usual place for a CAM.
 *
 * @example
 * ```ts
 * import { randn, smallCamCnn } from "glassbox";
 * smallCamCnn({ classes: 3 }).forward(randn([2, 1, 20, 20])).shape; // [2, 3]
 * ```
 */
export function smallCamCnn(config: { classes?: number; channels?: number } = {}): Sequential {
  const c = config.channels ?? 1;
  return new Sequential(
    new Conv2d(c, 16, 3, { padding: 1 }),
    new ReLU(),
    new MaxPool2d(2),
    new Conv2d(16, 32, 3, { padding: 1 }),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(32, config.classes ?? 2),
  );
}

/** An architecture of the registry: its name, how to build it from a configuration, what it is. */
export interface Architecture {
  /** The name `createModel` and a checkpoint's `glassbox.architecture` use. */
  name: string;
  /** Builds the model from the configuration a checkpoint records. */
  // deno-lint-ignore no-explicit-any
  build: (config: any) => Module;
  /** One line for people (listed when a checkpoint names an unknown architecture). */
  description: string;
}

/**
 * Every architecture glassbox ships, in the order `architectures()` lists them. Add a built-in
 * architecture here (a user's own goes through `registerArchitecture`).
 *
 * @example
 * ```ts
 * import { ZOO } from "glassbox";
 * if (!ZOO.some((a) => a.name === "seed-cnn")) throw new Error("the seed CNN is missing");
 * ```
 */
export const ZOO: readonly Architecture[] = [
  { name: "seed-cnn", build: seedCnn, description: "the seed CNN for 28×28 grey images (MNIST)" },
  { name: "tabular-mlp", build: tabularMlp, description: "the worked example's MLP for tabular features" },
  { name: "small-cam-cnn", build: smallCamCnn, description: "a small CNN with global average pooling" },
  {
    name: "student-cnn",
    build: studentCnn,
    description: "a smaller CNN with the seed CNN's layout (for distillation)",
  },
  {
    name: "token-transformer",
    build: (c) => new TokenTransformer(c as TokenTransformerConfig),
    description:
      "a transformer encoder classifying every token (embedding, learned positions, encoder layers)",
  },
  {
    name: "small-resnet",
    build: smallResNet,
    description: "a small residual CNN with BatchNorm for C×H×W images",
  },
  {
    name: "text-classifier",
    build: (c) => new TextClassifier(c as TextClassifierConfig),
    description:
      "embedding, transformer encoder with a padding mask, mean pooling over real tokens, linear head",
  },
  {
    name: "recurrent-tagger",
    build: (c) => new RecurrentTagger(c as RecurrentTaggerConfig),
    description: "an embedding, one RNN/LSTM/GRU layer and a per-step classifier",
  },
  {
    name: "sequential",
    build: (c) => buildSequential(JSON.parse(String(c.layers ?? "[]"))),
    description:
      "a Sequential of standard layers described in its configuration (e.g. a structurally pruned model)",
  },
  {
    name: "conv-autoencoder",
    build: (c) => new ConvAutoencoder(c as AutoencoderConfig),
    description: "a convolutional autoencoder: encoder to a few latent units, upsampling decoder",
  },
  {
    name: "vae",
    build: (c) => new VAE(c as AutoencoderConfig),
    description: "a convolutional variational autoencoder (posterior mean and log-variance heads)",
  },
  {
    name: "gan-generator",
    build: (c) => new GanGenerator(c as GanGeneratorConfig),
    description:
      "a GAN's generator: latent vector z → MLP, or DCGAN-style ConvTranspose2d, with ReLU → tanh image in [−1, 1]",
  },
  {
    name: "gan-discriminator",
    build: (c) => new GanDiscriminator(c as GanDiscriminatorConfig),
    description:
      "a GAN's discriminator: image → MLP, or DCGAN-style strided Conv2d, with LeakyReLU → one logit (real vs generated)",
  },
];
