/**
 * Multi-head attention with PyTorch's parameter names and layout (`in_proj_weight` [3E, E],
 * `in_proj_bias` [3E], `out_proj.weight`, `out_proj.bias`), batch-first, so a PyTorch
 * `nn.MultiheadAttention` state dict saved as safetensors loads unchanged.
 */
import { attentionWeights } from "../tensor/ops/attention.ts";
import { zeros } from "../tensor/create.ts";
import { linear, matmul } from "../tensor/ops/matmul.ts";
import { where } from "../tensor/ops/select.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { permute, reshape, slice } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { xavierUniform } from "./init.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

/** Options for a multi-head attention call. */
export interface MultiheadAttentionOptions {
  /** [B, S]: nonzero marks a key to ignore (PyTorch's key_padding_mask). */
  keyPaddingMask?: Tensor;
  /** Each query attends only to keys at or before its position. */
  isCausal?: boolean;
  /** With `forwardWithWeights`: average the weights over heads (default false: per head). */
  averageWeights?: boolean;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al., 2017), batch-first: query [B, L, E],
 * key and value [B, S, E] (self-attention when they are omitted).
 *
 * @example
 * ```ts
 * import { MultiheadAttention, randn } from "glassbox";
 * const mha = new MultiheadAttention(16, 4);
 * const x = randn([2, 5, 16]);
 * const { output, weights } = mha.forwardWithWeights(x); // [2, 5, 16] and [2, 4, 5, 5]
 * ```
 */
export class MultiheadAttention extends Module {
  /** [3E, E]: the query, key and value projections stacked, as PyTorch. */
  inProjWeight: Tensor;
  /** [3E]. */
  inProjBias: Tensor | null;
  /** The output projection (E → E). */
  outProj: Linear;

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

  /** The attention output [B, L, E]. */
  forward(query: Tensor, key?: Tensor, value?: Tensor): Tensor {
    return this.forwardWithWeights(query, key, value).output;
  }

  /** The output and the attention weights ([B, H, L, S] per head, or [B, L, S] averaged). */
  forwardWithWeights(
    query: Tensor,
    key: Tensor = query,
    value: Tensor = key,
    options: MultiheadAttentionOptions = {},
  ): { output: Tensor; weights: Tensor } {
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
    const mask = options.keyPaddingMask
      ? reshape(where(options.keyPaddingMask, 0, 1), [B, 1, 1, S]) // PyTorch: nonzero = ignore
      : undefined;
    const weights = attentionWeights(q, k, { mask, isCausal: options.isCausal });
    const heads = permute(matmul(weights, v), [0, 2, 1, 3]); // [B, L, H, D]
    const output = this.outProj.forward(reshape(heads, [B, L, E]));
    if (!options.averageWeights) return { output, weights };
    const avg = reshape(
      matmul(reshape(permute(weights, [0, 2, 3, 1]), [B * L * S, H]), zeros([H, 1]).add(1 / H)),
      [B, L, S],
    );
    return { output, weights: avg };
  }
}
