/**
 * The sequence models glassbox ships: a token transformer (embedding, learned positions,
 * encoder layers, a per-position classifier) and a recurrent tagger (embedding, an RNN, LSTM or
 * GRU, a per-step classifier). Both take int32 tokens [B, L] and return logits [B, L, outputs];
 * both are architectures of the registry (the zoo's table), so `saveModel`/`loadModel` rebuild them.
 */
import { Embedding } from "../nn/sequence.ts";
import { LearnedPositionalEncoding, TransformerEncoderLayer } from "../nn/attention.ts";
import { GRU, LSTM, RNN } from "../nn/recurrent.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/graph.ts";
import { where } from "../tensor/ops/select.ts";

/** The size of a token transformer. */
export interface TokenTransformerConfig {
  /** Token values 0..vocab−1 (default 10). */
  vocab?: number;
  /** Classes per position (default: vocab). */
  outputs?: number;
  /** Model width (default 32). */
  dModel?: number;
  /** Attention heads per layer (default 2). */
  nhead?: number;
  /** Encoder layers (default 1). */
  layers?: number;
  /** Feed-forward width (default 4·dModel). */
  dimFeedforward?: number;
  /** The longest sequence (default 64). */
  maxLen?: number;
  /** Dropout in the encoder layers (default 0). */
  dropout?: number;
}

/**
 * A transformer encoder that classifies every position: `embed` (tokens), `pos` (learned
 * positions), `layers.0…` (TransformerEncoderLayer, post-norm), `head` (Linear).
 *
 * @example
 * ```ts
 * import { tensor, TokenTransformer } from "glassbox";
 * const model = new TokenTransformer({ vocab: 10, dModel: 16, nhead: 2 });
 * model.forward(tensor([[1, 2, 3]], undefined, { dtype: "int32" })).shape; // [1, 3, 10]
 * ```
 */
export class TokenTransformer extends Module {
  /** The token embedding. */
  embed: Embedding;
  /** The learned positional encoding. */
  pos: LearnedPositionalEncoding;
  /** The encoder layers, in order. */
  layers: Sequential;
  /** The per-position classifier. */
  head: Linear;

  /** A model of the given size (every field has a default). */
  constructor(config: TokenTransformerConfig = {}) {
    super();
    const vocab = config.vocab ?? 10, d = config.dModel ?? 32, maxLen = config.maxLen ?? 64;
    this.embed = this.addModule("embed", new Embedding(vocab, d));
    this.pos = this.addModule("pos", new LearnedPositionalEncoding(d, maxLen));
    this.layers = this.addModule(
      "layers",
      new Sequential(
        ...Array.from(
          { length: config.layers ?? 1 },
          () =>
            new TransformerEncoderLayer(d, config.nhead ?? 2, {
              dimFeedforward: config.dimFeedforward ?? 4 * d,
              dropout: config.dropout ?? 0,
            }),
        ),
      ),
    );
    this.head = this.addModule("head", new Linear(d, config.outputs ?? vocab));
  }

  /** int32 tokens [B, L] → logits [B, L, outputs]. */
  forward(tokens: Tensor): Tensor {
    return this.head.forward(this.layers.forward(this.pos.forward(this.embed.forward(tokens))));
  }
}

/** The size of a recurrent tagger. */
export interface RecurrentTaggerConfig {
  /** "lstm" (default), "gru" or "rnn" (tanh). */
  cell?: "lstm" | "gru" | "rnn";
  /** Token values 0..vocab−1 (default 10). */
  vocab?: number;
  /** Classes per step (default: vocab). */
  outputs?: number;
  /** Embedding width (default 16). */
  embedDim?: number;
  /** Hidden state size (default 32). */
  hidden?: number;
  /**
   * LSTM only: the forget gate's bias at initialisation (default 1, as Keras's
   * `unit_forget_bias`; Gers et al. 2000, Jozefowicz et al. 2015): the cell starts out
   * remembering, so the gradient reaches far back from the first step. 0 gives PyTorch's plain
   * uniform init.
   */
  forgetBias?: number;
}

/**
 * An embedding, one recurrent layer and a per-step classifier: `embed`, `rnn` (RNN, LSTM or GRU
 * with PyTorch's parameter names), `head`.
 *
 * @example
 * ```ts
 * import { RecurrentTagger, tensor } from "glassbox";
 * const model = new RecurrentTagger({ cell: "gru", vocab: 8, hidden: 16 });
 * model.forward(tensor([[1, 2, 3, 4]], undefined, { dtype: "int32" })).shape; // [1, 4, 8]
 * ```
 */
export class RecurrentTagger extends Module {
  /** The token embedding. */
  embed: Embedding;
  /** The recurrent layer. */
  rnn: RNN | LSTM | GRU;
  /** The per-step classifier. */
  head: Linear;
  /** Which recurrent cell. */
  readonly cell: "lstm" | "gru" | "rnn";

  /** A tagger of the given size (every field has a default). */
  constructor(config: RecurrentTaggerConfig = {}) {
    super();
    const vocab = config.vocab ?? 10, e = config.embedDim ?? 16, h = config.hidden ?? 32;
    this.cell = config.cell ?? "lstm";
    if (!["lstm", "gru", "rnn"].includes(this.cell)) {
      throw new Error(
        `RecurrentTagger: cell must be "lstm", "gru" or "rnn", got ${JSON.stringify(this.cell)}`,
      );
    }
    this.embed = this.addModule("embed", new Embedding(vocab, e));
    const Cell = { lstm: LSTM, gru: GRU, rnn: RNN }[this.cell];
    this.rnn = this.addModule("rnn", new Cell(e, h));
    const fb = config.forgetBias ?? 1;
    if (this.cell === "lstm" && fb !== 0) {
      // gate order i, f, g, o: b_ih[f] = forgetBias, b_hh[f] = 0 (their sum is what the gate sees)
      const forget = Float32Array.from({ length: 4 * h }, (_, k) => (k >= h && k < 2 * h ? 1 : 0));
      const mask = tensor(forget, [4 * h]);
      const w = this.rnn.layers[0];
      noGrad(() =>
        this.rnn.loadStateDict({
          bias_ih_l0: where(mask, fb, w.bIh!),
          bias_hh_l0: where(mask, 0, w.bHh!),
        }, false)
      );
      mask.dispose();
    }
    this.head = this.addModule("head", new Linear(h, config.outputs ?? vocab));
  }

  /** int32 tokens [B, T] → logits [B, T, outputs]. */
  forward(tokens: Tensor): Tensor {
    return this.head.forward(this.rnn.forward(this.embed.forward(tokens)));
  }
}
