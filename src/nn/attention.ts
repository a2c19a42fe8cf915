/**
 * Multi-head attention with PyTorch's parameter names and layout (`in_proj_weight` [3E, E],
 * `in_proj_bias` [3E], `out_proj.weight`, `out_proj.bias`), batch-first, so a PyTorch
 * `nn.MultiheadAttention` state dict saved as safetensors loads unchanged.
 */
import { attention, attentionWeights } from "../tensor/ops/attention.ts";
import { isGradEnabled, noGrad } from "../tensor/graph.ts";
import { tensor, zeros } from "../tensor/create.ts";
import { linear, matmul } from "../tensor/ops/matmul.ts";
import { where } from "../tensor/ops/select.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { permute, reshape, slice } from "../tensor/ops/shape.ts";
import type { RemovableHandle, Tensor } from "../tensor/tensor.ts";
import { normal, xavierUniform } from "./init.ts";
import { Dropout } from "./dropout.ts";
import { LayerNorm } from "./sequence.ts";
import { add, gelu, mul, relu } from "../tensor/ops/elementwise.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

/**
 * The masks of a multi-head attention call, as `nn.MultiheadAttention.forward`'s. An int32 mask is
 * PyTorch's boolean one, where nonzero (true) means NOT allowed to attend; a float32 mask is added
 * to the scaled scores (−∞ = not allowed; `generateSquareSubsequentMask` makes the causal one).
 * Both masks are constants (no gradient flows into them). A query whose every key is masked gets
 * NaN output and weights, as PyTorch 1.13's reference path gives (tests/torch_fixtures_test.ts); do
 * not train through such rows (PyTorch's gradients are NaN there too).
 */
export interface AttentionMasks {
  /** [L, S] for every example and head, or [B·numHeads, L, S] (example-major, as PyTorch). */
  attnMask?: Tensor;
  /** [B, S]: nonzero marks a key to ignore; float: added to that key's scores. */
  keyPaddingMask?: Tensor;
  /**
   * Each query attends only to keys at or before its position. PyTorch 2 takes `is_causal` as a
   * hint that `attn_mask` is the causal mask; here it applies the causal mask itself (with an
   * `attnMask` too, both apply, which is the same when that mask is causal).
   */
  isCausal?: boolean;
}

/** Options for a multi-head attention call that returns weights. */
export interface MultiheadAttentionOptions extends AttentionMasks {
  /** With `forwardWithWeights`: average the weights over heads (default false: per head). */
  averageWeights?: boolean;
}

/**
 * PyTorch's `nn.Transformer.generate_square_subsequent_mask`: the float32 [n, n] causal mask, 0 on
 * and below the diagonal and −∞ above it (added to the scores).
 *
 * @example
 * ```ts
 * import { generateSquareSubsequentMask } from "glassbox";
 * await generateSquareSubsequentMask(2).toArray(); // [0, -Infinity, 0, 0]
 * ```
 */
export function generateSquareSubsequentMask(n: number): Tensor {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`generateSquareSubsequentMask: size must be a whole number >= 0, got ${n}`);
  }
  return tensor(Float32Array.from({ length: n * n }, (_, p) => (p % n > Math.floor(p / n) ? -Infinity : 0)), [
    n,
    n,
  ]);
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al., 2017), batch-first: query [B, L, E],
 * key and value [B, S, E] (self-attention when they are omitted).
 *
 * @example
 * ```ts
 * import { generateSquareSubsequentMask, MultiheadAttention, randn, tensor } from "glassbox";
 * const mha = new MultiheadAttention(16, 4);
 * const x = randn([2, 5, 16]);
 * const { output, weights } = mha.forwardWithWeights(x); // [2, 5, 16] and [2, 4, 5, 5]
 * // PyTorch's masks: int32 nonzero = may not attend, float added to the scores
 * const keyPaddingMask = tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], undefined, { dtype: "int32" });
 * const y = mha.forward(x, x, x, { attnMask: generateSquareSubsequentMask(5), keyPaddingMask });
 * const w = await mha.forwardWithWeights(x, x, x, { keyPaddingMask }).weights.toArray();
 * if (w[3] !== 0 || w[4] !== 0) throw new Error("padded keys get no weight");
 * ```
 */
export class MultiheadAttention extends Module {
  /** [3E, E]: the query, key and value projections stacked, as PyTorch. */
  inProjWeight: Tensor;
  /** [3E]. */
  inProjBias: Tensor | null;
  /** The output projection (E → E). */
  outProj: Linear;
  readonly #attentionHooks: ((module: MultiheadAttention, weights: Tensor) => void)[] = [];

  /** `embedDim` split over `numHeads` heads (it must divide evenly). */
  constructor(readonly embedDim: number, readonly numHeads: number, options: { bias?: boolean } = {}) {
    super();
    if (!Number.isInteger(embedDim / numHeads)) {
      throw new Error(`MultiheadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`);
    }
    this.inProjWeight = this.addParameter("in_proj_weight", xavierUniform([3 * embedDim, embedDim]));
    this.inProjBias = options.bias === false
      ? null
      : this.addParameter("in_proj_bias", zeros([3 * embedDim]));
    this.outProj = this.addModule(
      "out_proj",
      new Linear(embedDim, embedDim, { bias: options.bias !== false }),
    );
  }

  /**
   * Adds a hook called on every call with the per-head attention weights [B, H, L, S] (how
   * `captureAttention` sees them without changing the model).
   */
  registerAttentionHook(hook: (module: MultiheadAttention, weights: Tensor) => void): RemovableHandle {
    this.#attentionHooks.push(hook);
    return {
      remove: () => {
        const i = this.#attentionHooks.indexOf(hook);
        if (i >= 0) this.#attentionHooks.splice(i, 1);
      },
    };
  }

  /**
   * The attention output [B, L, E] (the fused kernel, forward and backward, masks included; no
   * weights are formed unless a hook asks). `masks` as PyTorch's `attn_mask`, `key_padding_mask`
   * and `is_causal`.
   */
  forward(query: Tensor, key?: Tensor, value?: Tensor): Tensor;
  /** With masks (PyTorch's `attn_mask`, `key_padding_mask`, `is_causal`). */
  forward(query: Tensor, key: Tensor | undefined, value: Tensor | undefined, masks: AttentionMasks): Tensor;
  forward(query: Tensor, key?: Tensor, value?: Tensor, masks: AttentionMasks = {}): Tensor {
    return this.#attend(query, key ?? query, value ?? key ?? query, masks, false).output;
  }

  /**
   * The output and the attention weights ([B, H, L, S] per head, or [B, L, S] averaged). With
   * grad mode on, the weights are part of the autograd graph (their gradient can be asked for,
   * as attention × gradient does); under `noGrad` the fused kernel writes them.
   */
  forwardWithWeights(
    query: Tensor,
    key: Tensor = query,
    value: Tensor = key,
    options: MultiheadAttentionOptions = {},
  ): { output: Tensor; weights: Tensor } {
    const r = this.#attend(query, key, value, options, true);
    return { output: r.output, weights: r.weights! };
  }

  #attend(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options: MultiheadAttentionOptions,
    needWeights: boolean,
  ): { output: Tensor; weights?: Tensor } {
    const E = this.embedDim, H = this.numHeads, D = E / H;
    if (query.ndim !== 3 || query.shape[2] !== E || key.shape[2] !== E || value.shape[2] !== E) {
      throw new Error(
        `MultiheadAttention(${E}, ${H}): expected batch-first [B, L, ${E}] inputs, got query [${query.shape}], key [${key.shape}], value [${value.shape}]`,
      );
    }
    const [B, L] = query.shape, S = key.shape[1];
    const proj = (x: Tensor, part: number, n: number) => {
      const w = slice(this.inProjWeight, part * E, (part + 1) * E);
      const b = this.inProjBias ? slice(this.inProjBias, part * E, (part + 1) * E) : null;
      return permute(reshape(linear(x, w, b), [B, n, H, D]), [0, 2, 1, 3]); // [B, H, n, D]
    };
    const q = proj(query, 0, L), k = proj(key, 1, S), v = proj(value, 2, S);
    const mask = this.#additiveMask(options, B, L, S);
    const want = needWeights || this.#attentionHooks.length > 0;
    let weights: Tensor | undefined, attended: Tensor;
    if (want && isGradEnabled()) {
      // composed, so the weights are in the graph (hooks may ask for their gradient)
      weights = attentionWeights(q, k, { attnMask: mask, isCausal: options.isCausal });
      attended = matmul(weights, v);
    } else {
      const r = attention(q, k, v, { attnMask: mask, isCausal: options.isCausal, needWeights: want });
      weights = r.weights;
      attended = r.output;
    }
    if (weights) { for (const h of [...this.#attentionHooks]) h(this, weights); }
    const heads = permute(attended, [0, 2, 1, 3]); // [B, L, H, D]
    const output = this.outProj.forward(reshape(heads, [B, L, E]));
    if (!needWeights) return { output };
    if (!options.averageWeights) return { output, weights };
    return { output, weights: mean(weights!, 1) };
  }

  /** attnMask and keyPaddingMask as one additive float mask [B, H or 1, L or 1, S] (PyTorch's merge). */
  #additiveMask(masks: AttentionMasks, B: number, L: number, S: number): Tensor | undefined {
    const H = this.numHeads, name = `MultiheadAttention(${this.embedDim}, ${H})`;
    // int32: nonzero = not allowed (−∞); float32: as given
    const additive = (
      m: Tensor,
    ) => (m.dtype === "int32" ? where(m, -Infinity, 0) : m.requiresGrad ? mul(m, 1) : m);
    return noGrad(() => {
      let out: Tensor | undefined;
      const a = masks.attnMask;
      if (a) {
        const ok = a.ndim === 2 ? a.shape[0] === L && a.shape[1] === S : a.ndim === 3 &&
          a.shape[0] === B * H && a.shape[1] === L && a.shape[2] === S;
        if (!ok) {
          throw new Error(
            `${name}: attnMask must be [L, S] = [${L}, ${S}] or [B·heads, L, S] = [${
              B * H
            }, ${L}, ${S}], got [${a.shape.join(", ")}]`,
          );
        }
        out = additive(a);
        if (a.ndim === 3) out = reshape(out, [B, H, L, S]);
      }
      const kpm = masks.keyPaddingMask;
      if (kpm) {
        if (kpm.ndim !== 2 || kpm.shape[0] !== B || kpm.shape[1] !== S) {
          throw new Error(
            `${name}: keyPaddingMask must be [B, S] = [${B}, ${S}], got [${kpm.shape.join(", ")}]`,
          );
        }
        const k = reshape(additive(kpm), [B, 1, 1, S]);
        out = out ? add(out, k) : k;
      }
      return out;
    });
  }
}

/** Options for `TransformerEncoderLayer` (PyTorch's names and defaults, batch-first). */
export interface TransformerEncoderLayerOptions {
  /** Width of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability (default 0.1). */
  dropout?: number;
  /** "relu" (default) or "gelu". */
  activation?: "relu" | "gelu";
  /** LayerNorm's eps (default 1e-5). */
  layerNormEps?: number;
  /** Normalise before each block instead of after (default false, as PyTorch). */
  normFirst?: boolean;
}

/**
 * A transformer encoder layer as PyTorch's `nn.TransformerEncoderLayer` (batch-first):
 * self-attention and a feed-forward block, each with a residual connection and LayerNorm, with
 * the same submodule names (`self_attn`, `linear1`, `linear2`, `norm1`, `norm2`) so PyTorch
 * weights load unchanged.
 *
 * @example
 * ```ts
 * import { randn, TransformerEncoderLayer } from "glassbox";
 * const layer = new TransformerEncoderLayer(16, 4, { dimFeedforward: 32 });
 * layer.forward(randn([2, 5, 16])).shape; // [2, 5, 16]
 * ```
 */
export class TransformerEncoderLayer extends Module {
  /** The self-attention block. */
  selfAttn: MultiheadAttention;
  /** Feed-forward: dModel → dimFeedforward. */
  linear1: Linear;
  /** Feed-forward: dimFeedforward → dModel. */
  linear2: Linear;
  /** The LayerNorm of the attention block. */
  norm1: LayerNorm;
  /** The LayerNorm of the feed-forward block. */
  norm2: LayerNorm;
  /** Dropout inside the feed-forward block and on each residual branch. */
  dropout: Dropout;
  /** Dropout on the attention branch. */
  dropout1: Dropout;
  /** Dropout on the feed-forward branch. */
  dropout2: Dropout;
  readonly #gelu: boolean;
  readonly #normFirst: boolean;
  readonly #options: TransformerEncoderLayerOptions;

  /** A layer of width `dModel` with `nhead` attention heads. */
  constructor(readonly dModel: number, readonly nhead: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const ff = options.dimFeedforward ?? 2048, p = options.dropout ?? 0.1, eps = options.layerNormEps ?? 1e-5;
    this.selfAttn = this.addModule("self_attn", new MultiheadAttention(dModel, nhead));
    this.linear1 = this.addModule("linear1", new Linear(dModel, ff));
    this.dropout = this.addModule("dropout", new Dropout(p));
    this.linear2 = this.addModule("linear2", new Linear(ff, dModel));
    this.norm1 = this.addModule("norm1", new LayerNorm([dModel], eps));
    this.norm2 = this.addModule("norm2", new LayerNorm([dModel], eps));
    this.dropout1 = this.addModule("dropout1", new Dropout(p));
    this.dropout2 = this.addModule("dropout2", new Dropout(p));
    this.#gelu = options.activation === "gelu";
    this.#normFirst = options.normFirst ?? false;
    this.#options = { ...options };
  }

  /**
   * A new layer of the same size and options with a copy of this one's parameters (PyTorch's
   * `copy.deepcopy`, as `TransformerEncoder` makes its layers); training mode is copied too.
   *
   * @example
   * ```ts
   * import { TransformerEncoderLayer } from "glassbox";
   * const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
   * const twin = layer.copy();
   * const [a, b] = [await layer.linear1.weight.toArray(), await twin.linear1.weight.toArray()];
   * if (twin.linear1.weight === layer.linear1.weight || a.some((v, i) => v !== b[i])) throw new Error("not a copy");
   * ```
   */
  copy(): TransformerEncoderLayer {
    const twin = new TransformerEncoderLayer(this.dModel, this.nhead, this.#options);
    noGrad(() => twin.loadStateDict(this.stateDict()));
    twin.train(this.training);
    return twin;
  }

  /** The feed-forward activation, "relu" or "gelu" (for exporters that rebuild the layer). */
  get activation(): "relu" | "gelu" {
    return this.#gelu ? "gelu" : "relu";
  }

  /** Whether each block normalises before (true) or after (false, PyTorch's default) its residual. */
  get normFirst(): boolean {
    return this.#normFirst;
  }

  /**
   * [B, L, dModel] → [B, L, dModel]; `masks` as PyTorch's `src_mask` (here `attnMask`: [L, L] or
   * [B·nhead, L, L]), `src_key_padding_mask` (`keyPaddingMask`, [B, L]) and `is_causal`, with
   * `MultiheadAttention`'s meaning (int32 nonzero = not allowed, float added).
   */
  forward(x: Tensor): Tensor;
  /** With masks (PyTorch's `src_mask`, `src_key_padding_mask`, `is_causal`). */
  forward(x: Tensor, masks: AttentionMasks): Tensor;
  forward(x: Tensor, masks: AttentionMasks = {}): Tensor {
    const sa = (h: Tensor) => this.dropout1.forward(this.selfAttn.forward(h, h, h, masks));
    const ffn = (h: Tensor) => {
      const a = this.linear1.forward(h);
      return this.dropout2.forward(
        this.linear2.forward(this.dropout.forward(this.#gelu ? gelu(a) : relu(a))),
      );
    };
    if (this.#normFirst) {
      const h = add(x, sa(this.norm1.forward(x)));
      return add(h, ffn(this.norm2.forward(h)));
    }
    const h = this.norm1.forward(add(x, sa(x)));
    return this.norm2.forward(add(h, ffn(h)));
  }
}

/**
 * Adds the sinusoidal positional encoding of Vaswani et al. (2017) to [B, L, dModel] inputs:
 * PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i + 1] = cos(pos / 10000^(2i/d)). The table
 * is a buffer ("pe", [maxLen, dModel]).
 *
 * @example
 * ```ts
 * import { randn, SinusoidalPositionalEncoding } from "glassbox";
 * new SinusoidalPositionalEncoding(16, 100).forward(randn([2, 10, 16])).shape; // [2, 10, 16]
 * ```
 */
export class SinusoidalPositionalEncoding extends Module {
  /** The table [maxLen, dModel]. */
  pe: Tensor;
  /** Positions up to `maxLen` for a model of width `dModel`. */
  constructor(readonly dModel: number, readonly maxLen: number = 512) {
    super();
    const t = new Float32Array(maxLen * dModel);
    for (let pos = 0; pos < maxLen; pos++) {
      for (let i = 0; i < dModel; i += 2) {
        const angle = pos / 10000 ** (i / dModel);
        t[pos * dModel + i] = Math.sin(angle);
        if (i + 1 < dModel) t[pos * dModel + i + 1] = Math.cos(angle);
      }
    }
    this.pe = this.addBuffer("pe", tensor(t, [maxLen, dModel]));
  }
  /** x plus the encoding of positions 0..L−1. */
  forward(x: Tensor): Tensor {
    const L = x.shape[x.ndim - 2];
    if (L > this.maxLen) {
      throw new Error(`SinusoidalPositionalEncoding: ${L} positions, the table has ${this.maxLen}`);
    }
    return add(x, slice(this.pe, 0, L));
  }
}

/**
 * A learned positional embedding (`weight` [maxLen, dModel], N(0, 1)) added to [B, L, dModel].
 *
 * @example
 * ```ts
 * import { LearnedPositionalEncoding, randn } from "glassbox";
 * new LearnedPositionalEncoding(16, 100).forward(randn([2, 10, 16])).shape; // [2, 10, 16]
 * ```
 */
export class LearnedPositionalEncoding extends Module {
  /** [maxLen, dModel]. */
  weight: Tensor;
  /** Positions up to `maxLen` for a model of width `dModel`. */
  constructor(readonly dModel: number, readonly maxLen: number = 512) {
    super();
    this.weight = this.addParameter("weight", normal([maxLen, dModel], 1));
  }
  /** x plus the learned vectors of positions 0..L−1. */
  forward(x: Tensor): Tensor {
    const L = x.shape[x.ndim - 2];
    if (L > this.maxLen) {
      throw new Error(`LearnedPositionalEncoding: ${L} positions, the table has ${this.maxLen}`);
    }
    return add(x, slice(this.weight, 0, L));
  }
}

/** Options for `TransformerEncoder`. */
export interface TransformerEncoderOptions {
  /** A final normalisation applied to the last layer's output (PyTorch's `norm`, default none). */
  norm?: LayerNorm;
}

/**
 * PyTorch's `nn.TransformerEncoder` (batch-first): `numLayers` copies of `encoderLayer` (as
 * PyTorch's deep copy, each copy starts with the given layer's weights and then trains on its
 * own), applied in turn with the same masks, then the optional `norm`. Submodule names as
 * PyTorch's (`layers.0`, `layers.1`, …, `norm`), so a PyTorch state dict loads unchanged. The
 * given layer itself is not part of the stack. Unlike PyTorch's eval-mode nested-tensor fast
 * path, the outputs at padded positions are computed as in training (not set to 0).
 *
 * @example
 * ```ts
 * import { randn, tensor, TransformerEncoder, TransformerEncoderLayer } from "glassbox";
 * const encoder = new TransformerEncoder(new TransformerEncoderLayer(16, 4, { dimFeedforward: 32, dropout: 0 }), 2);
 * const x = randn([2, 5, 16]);
 * const keyPaddingMask = tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], undefined, { dtype: "int32" });
 * const y = encoder.forward(x, { keyPaddingMask }); // [2, 5, 16]
 * // the same as running the two layers in turn
 * const z = encoder.layers[1].forward(encoder.layers[0].forward(x, { keyPaddingMask }), { keyPaddingMask });
 * const [a, b] = [await y.toArray(), await z.toArray()];
 * if (a.some((v, i) => Math.abs(v - b[i]) > 1e-5)) throw new Error("the encoder is not its layers in turn");
 * ```
 */
export class TransformerEncoder extends Module {
  /** The layers, in order (each its own copy of the given layer). */
  readonly layers: TransformerEncoderLayer[];
  /** The final normalisation, if any. */
  readonly norm: LayerNorm | null;

  /** A stack of `numLayers` copies of `encoderLayer`. */
  constructor(
    encoderLayer: TransformerEncoderLayer,
    readonly numLayers: number,
    options: TransformerEncoderOptions = {},
  ) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer)) {
      throw new Error(
        `TransformerEncoder: encoderLayer must be a TransformerEncoderLayer, got ${encoderLayer}`,
      );
    }
    if (!Number.isInteger(numLayers) || numLayers < 1) {
      throw new Error(`TransformerEncoder: numLayers must be a positive integer, got ${numLayers}`);
    }
    const holder = this.addModule("layers", new LayerList());
    this.layers = Array.from(
      { length: numLayers },
      (_, i) => holder.addModule(String(i), encoderLayer.copy()),
    );
    this.norm = options.norm ? this.addModule("norm", options.norm) : null;
  }

  /**
   * [B, L, dModel] → [B, L, dModel]: every layer in turn with the same masks (PyTorch's `mask`
   * as `attnMask`, `src_key_padding_mask` as `keyPaddingMask`, `is_causal`), then `norm`.
   */
  forward(x: Tensor): Tensor;
  /** With masks (PyTorch's `mask`, `src_key_padding_mask`, `is_causal`). */
  forward(x: Tensor, masks: AttentionMasks): Tensor;
  forward(x: Tensor, masks: AttentionMasks = {}): Tensor {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h, masks);
    return this.norm ? this.norm.forward(h) : h;
  }
}

/** A container that only holds numbered children (PyTorch's ModuleList), for the encoder's `layers`. */
class LayerList extends Module {
  forward(): Tensor {
    throw new Error("TransformerEncoder: its layers are a list, not a module to call; call the encoder");
  }
}
