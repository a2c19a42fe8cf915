/** Layers for sequence models with PyTorch's parameter names: LayerNorm and Embedding. */
import { embedding, layerNorm } from "../tensor/ops/attention.ts";
import { ones, zeros } from "../tensor/create.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { normal } from "./init.ts";
import { Module } from "./module.ts";
import type { Generator } from "../tensor/random.ts";

/**
 * Layer normalisation over the last dimensions (`weight` and `bias` as PyTorch's, initialised
 * to 1 and 0).
 *
 * @example
 * ```ts
 * import { LayerNorm, randn } from "glassbox";
 * const ln = new LayerNorm([16]);
 * ln.forward(randn([4, 16])).shape; // [4, 16]
 * ```
 */
export class LayerNorm extends Module {
  /** The per-element scale (null without `elementwiseAffine`). */
  weight: Tensor | null;
  /** The per-element shift (null without `elementwiseAffine`). */
  bias: Tensor | null;
  /** Normalises over the last dims `normalizedShape`; `eps` as PyTorch (1e-5). */
  constructor(readonly normalizedShape: number[], readonly eps: number = 1e-5, elementwiseAffine = true) {
    super();
    this.weight = elementwiseAffine ? this.addParameter("weight", ones(normalizedShape)) : null;
    this.bias = elementwiseAffine ? this.addParameter("bias", zeros(normalizedShape)) : null;
  }
  /** (x − mean)/sqrt(var + eps)·weight + bias over the last dims. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim` (`weight`, N(0, 1) as
 * PyTorch); the input is int32 indices.
 *
 * @example
 * ```ts
 * import { Embedding, tensor } from "glassbox";
 * const emb = new Embedding(10, 8);
 * emb.forward(tensor([[1, 5, 9]], undefined, { dtype: "int32" })).shape; // [1, 3, 8]
 * ```
 */
export class Embedding extends Module {
  /** [numEmbeddings, embeddingDim]. */
  weight: Tensor;
  /** A table of `numEmbeddings` rows of `embeddingDim`. */
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, generator?: Generator) {
    super();
    this.weight = this.addParameter("weight", normal([numEmbeddings, embeddingDim], 1, generator));
  }
  /** The rows for `indices`: [...indices, embeddingDim]. */
  forward(indices: Tensor): Tensor {
    return embedding(indices, this.weight);
  }
}
