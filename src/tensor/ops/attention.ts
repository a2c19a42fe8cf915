/**
 * Building blocks of sequence models, composed from the differentiable ops (so autograd gives
 * their gradients): layer normalisation, embedding lookup, and scaled dot-product attention
 * with causal and boolean masks, as PyTorch's `F.layer_norm`, `F.embedding` and
 * `F.scaled_dot_product_attention`. (Fused kernels for attention are a later step; these are
 * the reference they will be checked against.)
 */
import { full, tensor } from "../create.ts";
import { add, div, mul, sqrt, sub } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { mean } from "./reduce.ts";
import { gather, where } from "./select.ts";
import { expand, reshape, transpose } from "./shape.ts";
import { softmax } from "./softmax.ts";
import { assertFloat, assertLive, type Tensor } from "../tensor.ts";

/**
 * Layer normalisation over the last `normalizedShape.length` dimensions:
 * (x − mean) / sqrt(var + eps) · weight + bias, with the biased variance (as PyTorch).
 *
 * @example
 * ```ts
 * import { layerNorm, randn } from "glassbox";
 * const y = layerNorm(randn([2, 5, 16]), [16]); // each row of 16: mean 0, variance 1
 * ```
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  assertFloat("layerNorm", x);
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new Error(
      `layerNorm: normalizedShape [${normalizedShape.join(", ")}] is not the end of the input's shape [${
        x.shape.join(", ")
      }]`,
    );
  }
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const mu = mean(x, axes, true);
  const d = sub(x, mu);
  const v = mean(mul(d, d), axes, true);
  let y = div(d, sqrt(add(v, eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/**
 * Looks up rows of `weight` [V, E] by int32 `indices` of any shape: the result has shape
 * [...indices, E]. The gradient accumulates into the rows used (repeated indices add up). An
 * index outside [0, V) is an error at the next readback.
 *
 * @example
 * ```ts
 * import { embedding, randn, tensor } from "glassbox";
 * const table = randn([10, 4]);
 * embedding(tensor([[1, 2], [2, 9]], undefined, { dtype: "int32" }), table).shape; // [2, 2, 4]
 * ```
 */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  assertLive("embedding", indices);
  assertFloat("embedding", weight);
  if (indices.dtype !== "int32") {
    throw new Error(`embedding: indices must be int32, got ${indices.describe()}`);
  }
  if (weight.ndim !== 2) {
    throw new Error(`embedding: weight must be [V, E], got [${weight.shape.join(", ")}]`);
  }
  const E = weight.shape[1], N = indices.size;
  const idx = expand(reshape(indices, [N, 1]), [N, E]);
  return reshape(gather(weight, 0, idx), [...indices.shape, E]);
}

/** Options for `scaledDotProductAttention`. */
export interface AttentionOptions {
  /**
   * Which keys each query may attend to: a tensor broadcastable to [..., L, S], int32 or float;
   * nonzero means "may attend" (PyTorch's boolean mask).
   */
  mask?: Tensor;
  /** Query i attends only to keys j <= i (PyTorch's is_causal, top-left aligned). */
  isCausal?: boolean;
  /** The factor on q·kᵀ (default 1/sqrt(E)). */
  scale?: number;
}

/**
 * softmax(q·kᵀ·scale, masked)·v for q [..., L, E], k [..., S, E], v [..., S, Ev], as PyTorch's
 * `F.scaled_dot_product_attention`; `attentionWeights` returns the softmax too. Masked keys get
 * exactly zero weight. A query whose every key is masked gets NaN (as PyTorch).
 *
 * @example
 * ```ts
 * import { randn, scaledDotProductAttention } from "glassbox";
 * const q = randn([2, 4, 5, 8]), k = randn([2, 4, 7, 8]), v = randn([2, 4, 7, 8]);
 * scaledDotProductAttention(q, k, v, { isCausal: true }).shape; // [2, 4, 5, 8]
 * ```
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): Tensor {
  return matmul(attentionWeights(q, k, options), v);
}

/** The attention weights softmax(q·kᵀ·scale, masked): [..., L, S]; each row sums to 1. */
export function attentionWeights(q: Tensor, k: Tensor, options: AttentionOptions = {}): Tensor {
  assertFloat("attention", q);
  assertFloat("attention", k);
  if (q.ndim < 2 || k.ndim < 2 || q.shape[q.ndim - 1] !== k.shape[k.ndim - 1]) {
    throw new Error(
      `attention: q [${q.shape.join(", ")}] and k [${k.shape.join(", ")}] must end in the same feature size`,
    );
  }
  const L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2], E = q.shape[q.ndim - 1];
  let scores = mul(matmul(q, transpose(k)), options.scale ?? 1 / Math.sqrt(E));
  const masks: Tensor[] = [];
  if (options.isCausal) {
    masks.push(
      tensor(Int32Array.from({ length: L * S }, (_, p) => (p % S <= Math.floor(p / S) ? 1 : 0)), [L, S], {
        dtype: "int32",
      }),
    );
  }
  if (options.mask) masks.push(options.mask);
  if (masks.length) {
    const negInf = full([], -Infinity);
    for (const m of masks) scores = where(m, scores, negInf);
  }
  return softmax(scores, -1);
}
