/**
 * How far a compressed model's explanations moved: per input, Spearman's rank correlation
 * between the original model's attribution map and the compressed model's map for the same
 * input and target (1: the same ranking of evidence; 0: unrelated).
 */
import { spearman } from "../explain/metrics.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** What `explanationDrift` reports. */
export interface ExplanationDrift {
  /** Rank correlation per input (NaN where a map is constant, so it has no ranking). */
  perInput: number[];
  /** The mean over the inputs with a ranking on both sides. */
  mean: number;
  /** The smallest of them. */
  min: number;
  /** How many inputs were left out because a map was constant. */
  constant: number;
}

/**
 * Compares two batches of attribution maps [N, …] input by input.
 *
 * @example
 * ```ts
 * import { explanationDrift, tensor } from "glassbox";
 * const a = tensor([[1, 2, 3, 4]]), b = tensor([[10, 20, 40, 30]]);
 * (await explanationDrift(a, b)).mean; // 0.8
 * ```
 */
export async function explanationDrift(reference: Tensor, other: Tensor): Promise<ExplanationDrift> {
  if (reference.shape.join() !== other.shape.join() || reference.ndim < 2) {
    throw new Error(
      `explanationDrift: the maps must have the same shape [N, …], got [${reference.shape}] and [${other.shape}]`,
    );
  }
  const N = reference.shape[0], per = reference.size / Math.max(1, N);
  const a = await reference.toArray(), b = await other.toArray();
  const perInput = Array.from({ length: N }, (_, n) => {
    const x = a.subarray(n * per, (n + 1) * per), y = b.subarray(n * per, (n + 1) * per);
    const flat = (v: ArrayLike<number>) => Array.prototype.every.call(v, (e: number) => e === v[0]);
    return flat(x) || flat(y) ? NaN : spearman(x, y);
  });
  const ok = perInput.filter((v) => !Number.isNaN(v));
  return {
    perInput,
    mean: ok.length ? ok.reduce((s, v) => s + v, 0) / ok.length : NaN,
    min: ok.length ? Math.min(...ok) : NaN,
    constant: N - ok.length,
  };
}
