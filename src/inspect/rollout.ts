/**
 * Attention rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in Transformers",
 * arXiv:2005.00928): average each layer's heads, add the residual as 0.5·A + 0.5·I, renormalise
 * the rows, and multiply the layers from the first to the last. Plain arrays in and out (CPU,
 * float64): the matrices are small, L×L per example.
 */

/**
 * Rolls out attention through the layers: `layers[l]` is one example's per-head weights
 * [H][L][L] of layer l (first layer first). Returns the [L][L] matrix whose row i says how much
 * output token i draws, through all layers, on each input token; rows sum to 1.
 *
 * @example
 * ```ts
 * import { attentionRollout } from "glassbox";
 * const I = [[1, 0], [0, 1]];
 * attentionRollout([[I], [I]]); // the identity: every token keeps to itself
 * ```
 */
export function attentionRollout(layers: number[][][][]): number[][] {
  if (layers.length === 0) throw new Error("attentionRollout: no layers");
  const L = layers[0][0].length;
  let R: number[][] = Array.from(
    { length: L },
    (_, i) => Array.from({ length: L }, (_, j) => (i === j ? 1 : 0)),
  );
  for (const heads of layers) {
    if (heads.some((h) => h.length !== L || h.some((row) => row.length !== L))) {
      throw new Error(`attentionRollout: every layer needs [heads][${L}][${L}] weights`);
    }
    const A = Array.from({ length: L }, (_, i) =>
      Array.from({ length: L }, (_, j) => {
        const mean = heads.reduce((s, h) => s + h[i][j], 0) / heads.length;
        return 0.5 * mean + (i === j ? 0.5 : 0);
      }));
    for (const row of A) {
      const z = row.reduce((a, b) => a + b, 0) || 1;
      row.forEach((v, j) => (row[j] = v / z));
    }
    // this layer on top of what came before: R ← A · R
    R = A.map((row) => Array.from({ length: L }, (_, j) => row.reduce((s, a, k) => s + a * R[k][j], 0)));
  }
  return R;
}
