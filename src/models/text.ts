/**
 * A text classifier: token embedding, sinusoidal positions, a transformer encoder that ignores
 * padding (PyTorch's `src_key_padding_mask`), mean pooling over the real tokens, a linear head.
 * An architecture of the registry ("text-classifier"), so `saveModel`/`loadModel` rebuild it.
 */
import { Embedding } from "../nn/sequence.ts";
import {
  SinusoidalPositionalEncoding,
  TransformerEncoder,
  TransformerEncoderLayer,
} from "../nn/attention.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { noGrad } from "../tensor/graph.ts";
import { where } from "../tensor/ops/select.ts";
import { div, mul } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { reshape } from "../tensor/ops/shape.ts";
import type { ExplanationProfile } from "./profile.ts";

/** The size of a text classifier. */
export interface TextClassifierConfig {
  /** Token ids 0..vocab−1; id 0 is <pad> (required). */
  vocab: number;
  /** Classes (required). */
  classes: number;
  /** Model width (default 32). */
  dModel?: number;
  /** Attention heads per layer (default 2). */
  nhead?: number;
  /** Encoder layers (default 2). */
  layers?: number;
  /** Feed-forward width (default 2·dModel). */
  dimFeedforward?: number;
  /** The longest sequence (default 512). */
  maxLen?: number;
  /** Dropout in the encoder layers (default 0.1). */
  dropout?: number;
}

/**
 * Embedding → positions → TransformerEncoder → mean over the non-pad tokens → Linear, for int32
 * token ids [B, T] where id 0 is <pad>: pad keys are masked in every attention
 * (`keyPaddingMask`) and left out of the mean. Modules: `embed`, `pos`, `encoder.layers.i`,
 * `head`. A row of nothing but <pad> (an empty text) is read as if its pads were tokens, so it
 * gives a finite answer instead of NaN.
 *
 * @example
 * ```ts
 * import { tensor, TextClassifier } from "glassbox";
 * const model = new TextClassifier({ vocab: 20, classes: 3, dModel: 16 }).eval();
 * const x = tensor([[5, 6, 7, 0, 0], [5, 6, 7, 0, 0]], undefined, { dtype: "int32" });
 * const y = await model.forward(x).toArray(); // [2, 3]
 * // padding never changes the answer: the same text padded to 3 or 5 tokens
 * const z = await model.forward(tensor([[5, 6, 7]], undefined, { dtype: "int32" })).toArray();
 * if (z.some((v, i) => Math.abs(v - y[i]) > 1e-4)) throw new Error("padding changed the logits");
 * ```
 */
export class TextClassifier extends Module {
  /** The token embedding (row 0 is <pad>'s). */
  embed: Embedding;
  /** Sinusoidal positions. */
  pos: SinusoidalPositionalEncoding;
  /** The encoder layers. */
  encoder: TransformerEncoder;
  /** The classifier on the pooled vector. */
  head: Linear;

  /** A model of the given size. */
  constructor(readonly config: TextClassifierConfig) {
    super();
    const { vocab, classes } = config;
    for (const [k, v] of [["vocab", vocab], ["classes", classes]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`TextClassifier: ${k} must be a positive integer, got ${v}`);
      }
    }
    const d = config.dModel ?? 32;
    this.embed = this.addModule("embed", new Embedding(vocab, d));
    this.pos = this.addModule("pos", new SinusoidalPositionalEncoding(d, config.maxLen ?? 512));
    const layer = new TransformerEncoderLayer(d, config.nhead ?? 2, {
      dimFeedforward: config.dimFeedforward ?? 2 * d,
      dropout: config.dropout ?? 0.1,
    });
    this.encoder = this.addModule("encoder", new TransformerEncoder(layer, config.layers ?? 2));
    this.head = this.addModule("head", new Linear(d, classes));
  }

  /** int32 token ids [B, T] (0 = <pad>) → logits [B, classes]. */
  forward(tokens: Tensor): Tensor {
    return this.forwardUnmasked(tokens, false);
  }

  /**
   * @internal The logits with every position read as a token when `allTokens` is true (no
   * padding mask: `ReadAllTokens`), else with <pad> masked.
   */
  forwardUnmasked(tokens: Tensor, allTokens: boolean): Tensor {
    if (tokens.dtype !== "int32" || tokens.ndim !== 2) {
      throw new Error(`TextClassifier: expected int32 token ids [B, T], got ${tokens.describe()}`);
    }
    const [B, T] = tokens.shape;
    const h = this.pos.forward(this.embed.forward(tokens));
    if (allTokens) return this.head.forward(div(sum(this.encoder.forward(h), 1), T));
    const { additive, real, count } = noGrad(() => {
      // 1 at a real token, 0 at <pad>; a row of only <pad> counts every position as real
      const isReal = where(tokens, 1, 0);
      const n = sum(isReal, 1, true); // [B, 1]
      const r = where(n, isReal, 1); // an all-pad row: every position
      // −1e9, not −∞: exp underflows to exactly 0 all the same, and an all-pad row stays finite
      return { additive: where(r, 0, -1e9), real: reshape(r, [B, T, 1]), count: sum(r, 1, true) };
    });
    const encoded = this.encoder.forward(h, { keyPaddingMask: additive });
    return this.head.forward(div(sum(mul(encoded, real), 1), count));
  }

  /**
   * The explanation profile of this classifier: token inputs of `maxLen` ids, the class names
   * and vocabulary given, baseline 0 (<pad>) and the embedding as the layer for layer methods.
   *
   * @example
   * ```ts
   * import { TextClassifier } from "glassbox";
   * const p = new TextClassifier({ vocab: 3, classes: 2 }).profile(8, ["a", "b"], ["<pad>", "<unk>", "hi"]);
   * if (p.camLayer !== "embed" || p.inputShape[0] !== 8) throw new Error(JSON.stringify(p));
   * ```
   */
  profile(maxLen: number, classes: string[], vocabulary: string[]): ExplanationProfile {
    if (classes.length !== this.config.classes || vocabulary.length !== this.config.vocab) {
      throw new Error(
        `TextClassifier.profile: the model has ${this.config.classes} classes and ${this.config.vocab} tokens, got ${classes.length} class names and ${vocabulary.length} words`,
      );
    }
    return {
      modality: "tokens",
      inputShape: [maxLen],
      classes: [...classes],
      vocabulary: [...vocabulary],
      baseline: 0,
      camLayer: "embed",
      methods: ["lig", "ablation"], // names in the method registry (src/explain/methods.ts)
    };
  }
}

/**
 * The classifier reading every position as a token (no padding mask): for one text trimmed to
 * its real length it gives the classifier's own answer, and a baseline of <pad> ids keeps the
 * input's (empty) mask, as Captum's text examples pass the input's attention mask to the
 * baseline too. `LayerIntegratedGradients(new ReadAllTokens(m), m.embed)` with baseline 0 then
 * integrates from the <pad> embedding at every position, and its delta measures completeness.
 *
 * @example
 * ```ts
 * import { ReadAllTokens, tensor, TextClassifier } from "glassbox";
 * const m = new TextClassifier({ vocab: 9, classes: 2, dModel: 8 }).eval();
 * const x = tensor([[3, 4]], undefined, { dtype: "int32" });
 * const [a, b] = [await m.forward(x).toArray(), await new ReadAllTokens(m).forward(x).toArray()];
 * if (a.some((v, i) => Math.abs(v - b[i]) > 1e-5)) throw new Error("an unpadded text must read the same");
 * ```
 */
export class ReadAllTokens extends Module {
  /** The classifier (a submodule, so its layers are this model's layers). */
  readonly model: TextClassifier;
  /** A view of `model` (it shares the parameters). */
  constructor(model: TextClassifier) {
    super();
    const name = model.name; // addModule renames its child; the classifier keeps its own name
    this.model = this.addModule("model", model);
    model.name = name;
    this.training = model.training;
  }
  /** int32 token ids [B, T], every one a token → logits [B, classes]. */
  forward(tokens: Tensor): Tensor {
    return this.model.forwardUnmasked(tokens, true);
  }
}
