/**
 * Autoencoders for small images: `ConvAutoencoder` (encoder → a latent of a few units →
 * decoder) and the variational one, `VAE` (Kingma & Welling, 2014, "Auto-Encoding Variational
 * Bayes", arXiv:1312.6114), with its reparameterisation and loss. Both have the submodules
 * `encoder` (image → latent; the VAE's gives the posterior mean μ, its log-variance comes from
 * the head `logvar`) and `decoder` (latent → image through transposed convolutions and a
 * Sigmoid), so an attribution method can explain a latent unit with
 * `new IntegratedGradients(model.encoder)`. Images are in [0, 1] (not normalised): the
 * reconstruction loss is a binary cross-entropy against the pixels.
 */
import { Flatten, ReLU, Sigmoid, Unflatten } from "../nn/activation.ts";
import { Conv2d, ConvTranspose2d } from "../nn/conv.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { tensor } from "../tensor/create.ts";
import { add, exp, mul, sigmoid, sub } from "../tensor/ops/elementwise.ts";
import { binaryCrossEntropyWithLogits } from "../tensor/ops/loss.ts";
import { mean, sum } from "../tensor/ops/reduce.ts";
import { reshape } from "../tensor/ops/shape.ts";
import { isGradEnabled } from "../tensor/graph.ts";
import { defaultGenerator, type Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { ExplanationProfile } from "./profile.ts";

/** The configuration of `ConvAutoencoder` and `VAE` (what a checkpoint records). */
export interface AutoencoderConfig {
  /** Latent units (default 8). */
  latent?: number;
  /** Channels of the images (default 1). */
  imageChannels?: number;
  /** Image height, divisible by 4 (default 28, MNIST's). */
  height?: number;
  /** Image width, divisible by 4 (default 28). */
  width?: number;
  /** Filters of the first convolution; the second has twice as many (default 16). */
  filters?: number;
}

/** One ×2 upsampling layer of the decoder: a 4×4 transposed convolution with stride 2. */
function upsample2x(inC: number, outC: number): Module {
  return new ConvTranspose2d(inC, outC, 4, { stride: 2, padding: 1 });
}

function resolve(config: AutoencoderConfig): { latent: number; shape: number[]; c1: number } {
  const latent = config.latent ?? 8, c1 = config.filters ?? 16;
  const shape = [config.imageChannels ?? 1, config.height ?? 28, config.width ?? 28];
  for (const [what, v] of [["latent", latent], ["filters", c1], ["imageChannels", shape[0]]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`autoencoder: ${what} must be a whole number ≥ 1, got ${v}`);
    }
  }
  for (const [what, v] of [["height", shape[1]], ["width", shape[2]]] as const) {
    if (!Number.isInteger(v) || v < 4 || v % 4 !== 0) {
      throw new Error(`autoencoder: ${what} must be a positive multiple of 4, got ${v}`);
    }
  }
  return { latent, shape, c1 };
}

/** conv(c1, 3×3, stride 2) → ReLU → conv(2·c1, 3×3, stride 2) → ReLU → flatten: [N, 2·c1·H/4·W/4]. */
function trunk(shape: number[], c1: number): Module[] {
  return [
    new Conv2d(shape[0], c1, 3, { stride: 2, padding: 1 }),
    new ReLU(),
    new Conv2d(c1, 2 * c1, 3, { stride: 2, padding: 1 }),
    new ReLU(),
    new Flatten(),
  ];
}

/**
 * dense → ReLU → [2·c1, H/4, W/4] → ConvTranspose2d(4×4, stride 2) → ReLU → ConvTranspose2d(4×4,
 * stride 2) → Sigmoid: [N, C, H, W] in (0, 1).
 */
function decoder(latent: number, shape: number[], c1: number): Sequential {
  const h = shape[1] / 4, w = shape[2] / 4;
  return new Sequential(
    new Linear(latent, 2 * c1 * h * w),
    new ReLU(),
    new Unflatten(1, [2 * c1, h, w]),
    upsample2x(2 * c1, c1),
    new ReLU(),
    upsample2x(c1, shape[0]),
    new Sigmoid(),
  );
}

/** The decoder's logits (everything but its final Sigmoid), for a stable cross-entropy. */
function decoderLogits(dec: Sequential, z: Tensor): Tensor {
  let h = z;
  for (const m of dec.layers.slice(0, -1)) h = m.forward(h);
  return h;
}

/** The reconstruction terms of decoding `z` for inputs `x`: each example's BCE sum and mean squared error, [N] each. */
function terms(dec: Sequential, x: Tensor, z: Tensor): { reconstruction: Tensor; squaredError: Tensor } {
  const logits = decoderLogits(dec, z);
  const d = sub(sigmoid(logits), x);
  return {
    reconstruction: bcePerExample(logits, x),
    squaredError: mean(reshape(mul(d, d), [x.shape[0], -1]), 1),
  };
}

/**
 * A convolutional autoencoder: `encoder` maps an image [N, C, H, W] to a latent [N, latent]
 * (two stride-2 convolutions and a dense layer), `decoder` maps it back to an image in (0, 1)
 * (a dense layer and two stride-2 transposed convolutions, Sigmoid). `forward` is decoder(encoder(x)).
 *
 * @example
 * ```ts
 * import { ConvAutoencoder, rand } from "glassbox";
 * const ae = new ConvAutoencoder({ latent: 4 });
 * if (ae.encoder.forward(rand([2, 1, 28, 28])).shape.join() !== "2,4") throw new Error("latent");
 * if (ae.forward(rand([2, 1, 28, 28])).shape.join() !== "2,1,28,28") throw new Error("image");
 * ```
 */
export class ConvAutoencoder extends Module {
  /** Image → latent [N, latent]. */
  readonly encoder: Sequential;
  /** Latent → image [N, C, H, W] in (0, 1). */
  readonly decoder: Sequential;
  /** Latent units. */
  readonly latent: number;
  /** One image, [C, H, W]. */
  readonly inputShape: number[];

  /** Builds the autoencoder (see `AutoencoderConfig` for the defaults). */
  constructor(config: AutoencoderConfig = {}) {
    super();
    const { latent, shape, c1 } = resolve(config);
    this.latent = latent;
    this.inputShape = shape;
    const flat = 2 * c1 * (shape[1] / 4) * (shape[2] / 4);
    this.encoder = this.addModule("encoder", new Sequential(...trunk(shape, c1), new Linear(flat, latent)));
    this.decoder = this.addModule("decoder", decoder(latent, shape, c1));
  }

  #logits: Tensor | null = null;

  /** The reconstruction, decoder(encoder(x)). */
  forward(x: Tensor): Tensor {
    // the decoder's layers one by one, to keep its logits for the loss (a stable cross-entropy)
    this.#logits = this.decoderLogits(this.encoder.forward(x));
    return this.decoder.layers[this.decoder.layers.length - 1].forward(this.#logits);
  }

  /** The decoder's pre-Sigmoid output for latents `z`: [N, C, H, W]. */
  decoderLogits(z: Tensor): Tensor {
    return decoderLogits(this.decoder, z);
  }

  /**
   * Decoding latents `z` for inputs `x`: per example, the binary cross-entropy summed over the
   * pixels and the mean squared error of the reconstruction, [N] each.
   */
  lossTerms(x: Tensor, z: Tensor): { reconstruction: Tensor; squaredError: Tensor } {
    return terms(this.decoder, x, z);
  }

  /**
   * The training loss: the per-pixel binary cross-entropy of the reconstruction, summed over
   * each image's pixels and averaged over the batch (the VAE's reconstruction term, so the two
   * are comparable). Returns the mean and the per-example values [N].
   */
  loss(x: Tensor): { loss: Tensor; reconstruction: Tensor } {
    // through forward, so forward hooks (a gradient tracker's step) see the training pass
    this.forward(x);
    const reconstruction = bcePerExample(this.#logits!, x);
    this.#logits = null;
    return { loss: mean(reconstruction), reconstruction };
  }
}

/** Σ over each example's pixels of BCE(sigmoid(logits), x): [N]. */
export function bcePerExample(logits: Tensor, x: Tensor): Tensor {
  const per = binaryCrossEntropyWithLogits(logits, x, { reduction: "none" });
  return sum(reshape(per, [x.shape[0], -1]), 1);
}

/**
 * The KL divergence of the posterior N(μ, diag σ²) from the prior N(0, I), per example:
 * KL = −½ Σⱼ (1 + log σ²ⱼ − μⱼ² − σ²ⱼ), with `logvar` = log σ². Returns [N].
 *
 * @example
 * ```ts
 * import { klDivergence, tensor } from "glassbox";
 * // μ = 1, log σ² = 0: KL = ½ μ² = 0.5
 * const kl = await klDivergence(tensor([[1]]), tensor([[0]])).toArray();
 * if (Math.abs(kl[0] - 0.5) > 1e-6) throw new Error(`KL ${kl[0]}`);
 * ```
 */
export function klDivergence(mu: Tensor, logvar: Tensor): Tensor {
  const inner = sub(add(logvar, 1), add(mul(mu, mu), exp(logvar)));
  return mul(sum(inner, 1), -0.5);
}

/**
 * The reparameterisation trick: z = μ + σ ⊙ ε with σ = exp(½ log σ²) and ε ~ N(0, I) drawn
 * from `generator` (default: the global one), so z is differentiable in μ and log σ²
 * (∂z/∂μ = 1, ∂z/∂log σ² = ½ σ ε). Returns z and the ε it drew.
 *
 * @example
 * ```ts
 * import { Generator, reparameterise, tensor } from "glassbox";
 * const { z, eps } = reparameterise(tensor([[2]]), tensor([[Math.log(4)]]), new Generator(1));
 * const [zv] = await z.toArray(), [e] = await eps.toArray();
 * if (Math.abs(zv - (2 + 2 * e)) > 1e-5) throw new Error("z = μ + σ ε with σ = 2");
 * ```
 */
export function reparameterise(
  mu: Tensor,
  logvar: Tensor,
  generator: Generator = defaultGenerator,
): { z: Tensor; eps: Tensor } {
  const e = new Float32Array(mu.size);
  for (let i = 0; i < e.length; i++) e[i] = generator.normal();
  const eps = tensor(e, mu.shape);
  return { z: add(mu, mul(exp(mul(logvar, 0.5)), eps)), eps };
}

/** The VAE loss of a batch, with its two terms per example. */
export interface VaeLoss {
  /** mean over the batch of reconstruction + β·KL (a scalar). */
  loss: Tensor;
  /** Σ over pixels of the binary cross-entropy, per example: [N]. */
  reconstruction: Tensor;
  /** KL(N(μ, σ²) ‖ N(0, I)) per example: [N]. */
  kl: Tensor;
}

/**
 * The VAE loss (the negative evidence lower bound with β = 1): per example, the binary
 * cross-entropy of the decoded image summed over its pixels (−log p(x | z) for Bernoulli
 * pixels) plus β times the KL divergence of the posterior from the prior (`klDivergence`);
 * `loss` is its mean over the batch. `logits` are the decoder's pre-Sigmoid outputs.
 *
 * @example
 * ```ts
 * import { tensor, vaeLoss } from "glassbox";
 * // one pixel x = 1 with logit 0 (p = ½): BCE = log 2; μ = 0, log σ² = 0: KL = 0
 * const r = vaeLoss(tensor([[[[0]]]]), tensor([[[[1]]]]), tensor([[0]]), tensor([[0]]));
 * if (Math.abs((await r.loss.item()) - Math.LN2) > 1e-6) throw new Error("loss");
 * ```
 */
export function vaeLoss(
  logits: Tensor,
  x: Tensor,
  mu: Tensor,
  logvar: Tensor,
  options: { beta?: number } = {},
): VaeLoss {
  const beta = options.beta ?? 1;
  if (!(Number.isFinite(beta) && beta >= 0)) throw new Error(`vaeLoss: beta must be ≥ 0, got ${beta}`);
  const reconstruction = bcePerExample(logits, x);
  const kl = klDivergence(mu, logvar);
  return { loss: mean(add(reconstruction, mul(kl, beta))), reconstruction, kl };
}

/**
 * A variational autoencoder: `encoder` maps an image to the posterior mean μ [N, latent] (the
 * same layers as `ConvAutoencoder`'s), the head `logvar` maps the encoder's features to
 * log σ², and `decoder` maps a latent to an image in (0, 1). `forward` decodes the mean
 * (deterministic); its `loss` samples z with `reparameterise`, as training does.
 *
 * @example
 * ```ts
 * import { Generator, rand, VAE } from "glassbox";
 * const vae = new VAE({ latent: 2 });
 * const x = rand([3, 1, 28, 28]);
 * const { mu, logvar } = vae.encode(x);
 * if (mu.shape.join() !== "3,2" || logvar.shape.join() !== "3,2") throw new Error("posterior");
 * const { loss } = vae.loss(x, new Generator(0));
 * if (!Number.isFinite(await loss.item())) throw new Error("loss");
 * ```
 */
export class VAE extends Module {
  /** Image → μ [N, latent]. */
  readonly encoder: Sequential;
  /** The encoder's features → log σ² [N, latent]. */
  readonly logvar: Linear;
  /** Latent → image [N, C, H, W] in (0, 1). */
  readonly decoder: Sequential;
  /** Latent units. */
  readonly latent: number;
  /** One image, [C, H, W]. */
  readonly inputShape: number[];

  /** Builds the VAE (see `AutoencoderConfig` for the defaults). */
  constructor(config: AutoencoderConfig = {}) {
    super();
    const { latent, shape, c1 } = resolve(config);
    this.latent = latent;
    this.inputShape = shape;
    const flat = 2 * c1 * (shape[1] / 4) * (shape[2] / 4);
    this.encoder = this.addModule("encoder", new Sequential(...trunk(shape, c1), new Linear(flat, latent)));
    this.logvar = this.addModule("logvar", new Linear(flat, latent));
    this.decoder = this.addModule("decoder", decoder(latent, shape, c1));
  }

  /** The posterior's mean and log-variance, [N, latent] each (one pass through the encoder's trunk). */
  encode(x: Tensor): { mu: Tensor; logvar: Tensor } {
    const layers = this.encoder.layers;
    let h = x;
    for (const m of layers.slice(0, -1)) h = m.forward(h);
    return { mu: layers[layers.length - 1].forward(h), logvar: this.logvar.forward(h) };
  }

  #last: { logits: Tensor; mu: Tensor; logvar: Tensor } | null = null;
  #generator: Generator = defaultGenerator;

  /**
   * The reconstruction: decoder(μ) (deterministic) in eval mode or without gradients; in
   * training with gradients, decoder(z) with z sampled by `reparameterise` (as `loss` does).
   */
  forward(x: Tensor): Tensor {
    const { mu, logvar } = this.encode(x);
    const z = this.training && isGradEnabled() ? reparameterise(mu, logvar, this.#generator).z : mu;
    const logits = this.decoderLogits(z);
    this.#last = { logits, mu, logvar };
    return this.decoder.layers[this.decoder.layers.length - 1].forward(logits);
  }

  /** The decoder's pre-Sigmoid output for latents `z`: [N, C, H, W]. */
  decoderLogits(z: Tensor): Tensor {
    return decoderLogits(this.decoder, z);
  }

  /**
   * Decoding latents `z` for inputs `x`: per example, the binary cross-entropy summed over the
   * pixels and the mean squared error of the reconstruction, [N] each.
   */
  lossTerms(x: Tensor, z: Tensor): { reconstruction: Tensor; squaredError: Tensor } {
    return terms(this.decoder, x, z);
  }

  /**
   * The VAE loss of a batch (`vaeLoss`) with z sampled by `reparameterise` from `generator`
   * (with gradients enabled; under `noGrad` z is μ).
   */
  loss(x: Tensor, generator: Generator = defaultGenerator, beta = 1): VaeLoss {
    // through forward, so forward hooks (a gradient tracker's step) see the training pass
    const mode = this.training;
    this.#generator = generator;
    this.training = true;
    try {
      this.forward(x);
    } finally {
      this.training = mode;
      this.#generator = defaultGenerator;
    }
    const { logits, mu, logvar } = this.#last!;
    this.#last = null;
    return vaeLoss(logits, x, mu, logvar, { beta });
  }
}

/**
 * The explanation profile of an autoencoder: an image model whose named outputs are the latent
 * units of its `encoder` ("latent 0" …), not classes (`outputModule: "encoder"`); inputs in
 * [0, 1] (mean 0, std 1) with a black baseline.
 *
 * @example
 * ```ts
 * import { autoencoderProfile, ConvAutoencoder, validateProfile } from "glassbox";
 * const p = validateProfile(autoencoderProfile(new ConvAutoencoder({ latent: 3 })));
 * if (p.classes.join() !== "latent 0,latent 1,latent 2" || p.outputModule !== "encoder") throw new Error("profile");
 * ```
 */
export function autoencoderProfile(model: ConvAutoencoder | VAE): ExplanationProfile {
  return {
    modality: "image",
    inputShape: [...model.inputShape],
    classes: Array.from({ length: model.latent }, (_, i) => `latent ${i}`),
    outputModule: "encoder",
    mean: Array.from({ length: model.inputShape[0] }, () => 0),
    std: Array.from({ length: model.inputShape[0] }, () => 1),
    baseline: 0,
    methods: ["ig", "saliency"],
  };
}
