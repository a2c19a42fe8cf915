/** Dense linear algebra on the CPU in float64 (small matrices: covariances, Gram matrices). */

/**
 * The eigenvalues and eigenvectors of a symmetric n×n matrix (row-major, float64) by cyclic
 * Jacobi rotations: exact to rounding whatever the start, unlike a power iteration, which
 * returns nothing useful when its start is orthogonal to the first eigenvector. Returns the
 * eigenvalues and the eigenvectors as the rows of `vectors` (row-major n×n), in no particular
 * order and with no particular sign. EigenCAM and the embedding projector's PCA use it.
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "glassbox";
 * // [[2, 1], [1, 2]] has eigenvalues 1 and 3, eigenvectors (1, -1)/√2 and (1, 1)/√2
 * const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
 * const top = values[0] > values[1] ? 0 : 1;
 * if (Math.abs(values[top] - 3) > 1e-12 || Math.abs(values[1 - top] - 1) > 1e-12) throw new Error();
 * if (Math.abs(Math.abs(vectors[top * 2]) - Math.SQRT1_2) > 1e-12) throw new Error();
 * if (Math.sign(vectors[top * 2]) !== Math.sign(vectors[top * 2 + 1])) throw new Error();
 * ```
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) throw new Error(`symmetricEigen: ${a.length} values are not ${n} × ${n}`);
  const A = Float64Array.from(a), Vt = new Float64Array(n * n); // Vt: eigenvectors as rows
  for (let i = 0; i < n; i++) Vt[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += A[i] * A[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p * n + q] ** 2;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        // the rotation that zeroes A[p][q] (Golub & Van Loan, Algorithm 8.5.1), applied to the
        // rows p and q and, by symmetry, to the columns
        const app = A[p * n + p], aqq = A[q * n + q];
        const tau = (aqq - app) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t), s = t * c;
        const rp = p * n, rq = q * n;
        for (let k = 0; k < n; k++) {
          if (k === p || k === q) continue;
          const akp = A[rp + k], akq = A[rq + k];
          const np = c * akp - s * akq, nq = s * akp + c * akq;
          A[rp + k] = np;
          A[k * n + p] = np;
          A[rq + k] = nq;
          A[k * n + q] = nq;
        }
        A[rp + p] = app - t * apq;
        A[rq + q] = aqq + t * apq;
        A[rp + q] = 0;
        A[rq + p] = 0;
        for (let k = 0; k < n; k++) {
          const vp = Vt[rp + k], vq = Vt[rq + k];
          Vt[rp + k] = c * vp - s * vq;
          Vt[rq + k] = s * vp + c * vq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => A[i * n + i]), vectors: Vt };
}
