/**
 * Barnes–Hut t-SNE (van der Maaten 2014), as scikit-learn's `method="barnes_hut"`: input
 * affinities over each point's ⌊3·perplexity + 1⌋ nearest neighbours only (sparse P), attraction
 * over those pairs exactly, repulsion from a space-partitioning tree (quadtree in 2-D, octree in
 * 3-D) where a cell seen under an angle below θ acts as one point at its centre of mass.
 * O(N log N) a step instead of O(N²).
 */
import { squaredDistanceRow } from "./separation.ts";

const MACHINE_EPSILON = 2.220446049250313e-16;

/** A sparse symmetric matrix in compressed rows: row i's columns are `cols[rows[i]..rows[i+1]]`. */
export interface SparseRows {
  /** n + 1 offsets into cols and vals. */
  rows: Int32Array;
  /** Column indices, ascending within a row. */
  cols: Int32Array;
  /** The values. */
  vals: Float64Array;
}

/**
 * t-SNE's joint affinities over nearest neighbours (scikit-learn's Barnes–Hut P): each point's
 * k = min(N − 1, ⌊3·perplexity + 1⌋) nearest neighbours (exact, squared Euclidean), the
 * bandwidth whose conditional distribution over them has the perplexity asked for (binary search
 * to 1e-5 nats), then P = (P_cond + P_condᵀ) / ΣP, sparse and symmetric.
 *
 * @example
 * ```ts
 * import { tsneSparseAffinities } from "glassbox";
 * const x = new Float32Array([0, 1, 3, 6, 10, 15, 21, 28]); // eight points on a line
 * const P = tsneSparseAffinities(x, 1, 2);                   // 7 neighbours each: all of them
 * let total = 0;
 * for (const v of P.vals) total += v;
 * if (Math.abs(total - 1) > 1e-12) throw new Error("P sums to 1");
 * ```
 */
export function tsneSparseAffinities(vectors: Float32Array, dim: number, perplexity: number): SparseRows {
  const n = vectors.length / dim;
  if (!(perplexity > 0) || !(perplexity < n)) {
    throw new Error(
      `t-SNE: perplexity must be above 0 and below the number of points (${n}), got ${perplexity}`,
    );
  }
  const k = Math.min(n - 1, Math.floor(3 * perplexity + 1));
  const nbr = new Int32Array(n * k), cond = new Float64Array(n * k);
  const d = new Float64Array(n), nd = new Float64Array(k), p = new Float64Array(k);
  const desired = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    squaredDistanceRow(vectors, dim, i, n, d);
    d[i] = Infinity;
    // the k nearest, nearest first (insertion into a sorted list; ties: the lower index first)
    let m = 0;
    for (let j = 0; j < n; j++) {
      if (j === i || (m === k && d[j] >= nd[k - 1])) continue;
      let at = m < k ? m++ : k - 1;
      while (at > 0 && nd[at - 1] > d[j]) {
        nd[at] = nd[at - 1];
        nbr[i * k + at] = nbr[i * k + at - 1];
        at--;
      }
      nd[at] = d[j];
      nbr[i * k + at] = j;
    }
    let beta = 1, lo = -Infinity, hi = Infinity;
    for (let step = 0; step < 100; step++) {
      let sumP = 0;
      for (let a = 0; a < k; a++) sumP += p[a] = Math.exp(-nd[a] * beta);
      if (sumP === 0) sumP = 1e-8;
      let sumDP = 0;
      for (let a = 0; a < k; a++) sumDP += nd[a] * (p[a] /= sumP);
      const diff = Math.log(sumP) + beta * sumDP - desired;
      if (Math.abs(diff) <= 1e-5) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
    cond.set(p, i * k);
  }
  // symmetrise: every (i, j) and (j, i) entry, sorted, duplicates summed
  const entries = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < k; a++) {
      const j = nbr[i * k + a], v = cond[i * k + a];
      entries.set(i * n + j, (entries.get(i * n + j) ?? 0) + v);
      entries.set(j * n + i, (entries.get(j * n + i) ?? 0) + v);
    }
  }
  const keys = [...entries.keys()].sort((a, b) => a - b);
  let total = 0;
  for (const v of entries.values()) total += v;
  total = Math.max(total, MACHINE_EPSILON);
  const rows = new Int32Array(n + 1),
    cols = new Int32Array(keys.length),
    vals = new Float64Array(keys.length);
  keys.forEach((key, e) => {
    const i = Math.floor(key / n);
    rows[i + 1]++;
    cols[e] = key - i * n;
    vals[e] = entries.get(key)! / total;
  });
  for (let i = 0; i < n; i++) rows[i + 1] += rows[i];
  return { rows, cols, vals };
}

/**
 * The space-partitioning tree in flat arrays (no objects per cell, so a step allocates a few
 * typed arrays, not thousands of cells): node k has its box centre `centre[k·d…]` and half-width,
 * the sum and count of its points, its first child (2^d consecutive nodes; −1 for a leaf) and, in a
 * leaf, its first point (further points at the same place chained through `next`).
 */
class Tree {
  centre: Float64Array;
  half: Float64Array;
  sum: Float64Array;
  count: Int32Array;
  child: Int32Array;
  point: Int32Array;
  next: Int32Array;
  size = 1;
  constructor(readonly Y: Float64Array, readonly d: number, readonly n: number) {
    const cap = 4 * n + 16;
    this.centre = new Float64Array(cap * d);
    this.half = new Float64Array(cap);
    this.sum = new Float64Array(cap * d);
    this.count = new Int32Array(cap);
    this.child = new Int32Array(cap).fill(-1);
    this.point = new Int32Array(cap).fill(-1);
    this.next = new Int32Array(n).fill(-1);
    let half = 0;
    for (let c = 0; c < d; c++) {
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < n; i++) lo = Math.min(lo, Y[i * d + c]), hi = Math.max(hi, Y[i * d + c]);
      this.centre[c] = (lo + hi) / 2;
      half = Math.max(half, (hi - lo) / 2);
    }
    this.half[0] = half * (1 + 1e-9) + 1e-12;
    for (let i = 0; i < n; i++) this.insert(i);
  }
  grow(): void {
    const cap = this.half.length * 2, d = this.d;
    const g = <T extends Float64Array | Int32Array>(a: T, per: number, fill?: number): T => {
      const b = new (a.constructor as { new (n: number): T })(cap * per);
      if (fill !== undefined) b.fill(fill);
      b.set(a);
      return b;
    };
    this.centre = g(this.centre, d);
    this.half = g(this.half, 1);
    this.sum = g(this.sum, d);
    this.count = g(this.count, 1);
    this.child = g(this.child, 1, -1);
    this.point = g(this.point, 1, -1);
  }
  quadrant(k: number, i: number): number {
    let q = 0;
    for (let c = 0; c < this.d; c++) if (this.Y[i * this.d + c] > this.centre[k * this.d + c]) q |= 1 << c;
    return q;
  }
  insert(i: number): void {
    const { Y, d } = this;
    let k = 0;
    for (let depth = 0;; depth++) {
      this.count[k]++;
      for (let c = 0; c < d; c++) this.sum[k * d + c] += Y[i * d + c];
      if (this.child[k] >= 0) {
        k = this.child[k] + this.quadrant(k, i);
        continue;
      }
      const p = this.point[k];
      if (p < 0) {
        this.point[k] = i;
        return;
      }
      let same = true;
      for (let c = 0; c < d; c++) if (Y[p * d + c] !== Y[i * d + c]) same = false;
      if (same || depth > 60) {
        this.next[i] = this.next[p];
        this.next[p] = i;
        return;
      }
      // split the leaf: its points (p and its chain) move to their child
      const m = 1 << d;
      while (this.size + m > this.half.length) this.grow();
      const first = this.size;
      this.size += m;
      this.child[k] = first;
      for (let q = 0; q < m; q++) {
        const ch = first + q;
        this.half[ch] = this.half[k] / 2;
        for (let c = 0; c < d; c++) {
          this.centre[ch * d + c] = this.centre[k * d + c] + ((q >> c) & 1 ? 1 : -1) * this.half[k] / 2;
        }
      }
      const ch = first + this.quadrant(k, p);
      this.point[ch] = p;
      this.point[k] = -1;
      for (let j = p; j >= 0; j = this.next[j]) {
        this.count[ch]++;
        for (let c = 0; c < d; c++) this.sum[ch * d + c] += Y[j * d + c];
      }
      k = first + this.quadrant(k, i);
    }
  }
}

/**
 * The KL divergence of a t-SNE layout against a sparse P and its gradient, the repulsion by
 * Barnes–Hut with angle θ (a cell of width w at squared distance d² from the point acts as one
 * point when (2·half-width)²/d² < θ²; θ = 0 is exact). Same kernel and constant as
 * `tsneKlGradient`: with θ = 0 the two agree to rounding.
 *
 * @example
 * ```ts
 * import { bhKlGradient, tsneSparseAffinities } from "glassbox";
 * const P = tsneSparseAffinities(new Float32Array([0, 1, 3, 6, 10]), 1, 1.5);
 * const { kl, grad } = bhKlGradient(P, new Float64Array([0, 0, 1, 0, 0, 1, 2, 2, 3, 1]), 2, 0.5);
 * if (!(kl > 0) || grad.length !== 10) throw new Error();
 * ```
 */
export function bhKlGradient(
  P: SparseRows,
  Y: Float64Array,
  dims: number,
  angle = 0.5,
  exaggeration = 1,
  computeKl = true,
): { kl: number; grad: Float64Array } {
  const n = Y.length / dims;
  const dof = Math.max(dims - 1, 1), expo = (dof + 1) / 2;
  const tree = new Tree(Y, dims, n);
  const neg = new Float64Array(n * dims), pos = new Float64Array(n * dims);
  const theta2 = angle * angle;
  let sumQ = 0;
  const stack = new Int32Array(64 * (1 << dims) + 8), com = new Float64Array(dims);
  for (let i = 0; i < n; i++) {
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const k = stack[--top];
      const cnt = tree.count[k];
      if (cnt === 0) continue;
      if (tree.child[k] < 0) {
        // a leaf: its points one by one, the point itself left out
        for (let j = tree.point[k]; j >= 0; j = tree.next[j]) {
          if (j === i) continue;
          let d2 = 0;
          for (let c = 0; c < dims; c++) d2 += (Y[i * dims + c] - Y[j * dims + c]) ** 2;
          const u = 1 / (1 + d2 / dof), w = dof === 1 ? u : u ** expo;
          sumQ += w;
          for (let c = 0; c < dims; c++) neg[i * dims + c] += w * u * (Y[i * dims + c] - Y[j * dims + c]);
        }
        continue;
      }
      let d2 = 0;
      for (let c = 0; c < dims; c++) {
        com[c] = tree.sum[k * dims + c] / cnt;
        d2 += (Y[i * dims + c] - com[c]) ** 2;
      }
      if ((2 * tree.half[k]) ** 2 < theta2 * d2) {
        const u = 1 / (1 + d2 / dof), w = dof === 1 ? u : u ** expo;
        sumQ += cnt * w;
        for (let c = 0; c < dims; c++) neg[i * dims + c] += cnt * w * u * (Y[i * dims + c] - com[c]);
      } else {
        for (let q = (1 << dims) - 1; q >= 0; q--) stack[top++] = tree.child[k] + q;
      }
    }
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let e = P.rows[i]; e < P.rows[i + 1]; e++) {
      const j = P.cols[e], p = exaggeration * P.vals[e];
      let d2 = 0;
      for (let c = 0; c < dims; c++) d2 += (Y[i * dims + c] - Y[j * dims + c]) ** 2;
      const u = 1 / (1 + d2 / dof), w = dof === 1 ? u : u ** expo;
      for (let c = 0; c < dims; c++) pos[i * dims + c] += p * u * (Y[i * dims + c] - Y[j * dims + c]);
      if (computeKl) kl += p * Math.log(Math.max(p, MACHINE_EPSILON) / Math.max(w / sumQ, MACHINE_EPSILON));
    }
  }
  const c4 = 2 * (dof + 1) / dof, grad = new Float64Array(n * dims);
  for (let k = 0; k < n * dims; k++) grad[k] = c4 * (pos[k] - neg[k] / sumQ);
  return { kl: computeKl ? kl : NaN, grad };
}
