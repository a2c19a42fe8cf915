/** The op checker: GPU forward vs the CPU reference, GPU gradients vs float64 central differences. */
import { grad, mul, scope, sum, type Tensor, tensor } from "../mod.ts";
import { type Arr, assertClose, numericGrad, randArr, rng } from "./cpu_ref.ts";

export interface OpCase {
  name: string;
  shapes: number[][];
  gpu: (...xs: Tensor[]) => Tensor;
  cpu: (...xs: Arr[]) => Arr;
  /** input value range (default [-1, 1]) */
  range?: [number, number];
  rtol?: number;
  atol?: number;
  /** gradient tolerance, relative to each element and to the gradient's largest magnitude (default 2e-3) */
  gradTol?: number;
  /** skip the gradient check for these input positions */
  noGrad?: number[];
  /** check the gradient at this many random positions of each input (default: all, up to 2000) */
  sample?: number;
  seed?: number;
}

/**
 * Compares a gradient with float64 central differences, scale-aware: element i passes when
 * |got - want| <= tol·|want_i| + tol·max_j |want_j|. The second term is relative to the gradient's
 * own magnitude, not an absolute constant: a kernel returning zeros for a gradient of size 1e-3
 * fails, where a fixed atol of 2e-3 would let it pass.
 */
export function assertGradClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  msg: string,
): void {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  // a gradient that is zero everywhere must come out as (float32-)zero
  assertClose(got, want, { rtol: tol, atol: tol * Math.max(scale, 1e-7), msg: `${msg} (scale ${scale})` });
}

/** Up to `n` distinct positions of [0, size), sorted (all of them when size <= n). */
function positions(size: number, n: number, r: () => number): number[] {
  if (size <= n) return Array.from({ length: size }, (_, i) => i);
  const set = new Set<number>();
  while (set.size < n) set.add(Math.floor(r() * size));
  return [...set].sort((a, b) => a - b);
}

export async function checkOp(c: OpCase): Promise<void> {
  const r = rng(c.seed ?? 1234);
  const [lo, hi] = c.range ?? [-1, 1];
  const xs = c.shapes.map((s) => {
    const a = randArr(s, r, lo, hi);
    a.data = a.data.map(Math.fround);
    return a;
  });
  const expected = c.cpu(...xs);
  const w = randArr(expected.shape, r, -1, 1);
  w.data = w.data.map(Math.fround);
  await scope(async () => {
    const ts = xs.map((a, i) =>
      tensor(Float32Array.from(a.data), a.shape, { requiresGrad: !c.noGrad?.includes(i) })
    );
    const y = c.gpu(...ts);
    if (y.shape.length !== expected.shape.length || y.shape.some((d, i) => d !== expected.shape[i])) {
      throw new Error(`${c.name}: shape [${y.shape}] != expected [${expected.shape}]`);
    }
    assertClose(await y.toArray(), expected.data, {
      rtol: c.rtol ?? 1e-4,
      atol: c.atol ?? 1e-5,
      msg: `${c.name} forward`,
    });
    const wt = tensor(Float32Array.from(w.data), w.shape);
    const loss = sum(mul(y, wt));
    const want = ts.map((_, i) => !c.noGrad?.includes(i));
    const gs = grad(loss, ts.filter((_, i) => want[i]));
    let gi = 0;
    for (let i = 0; i < xs.length; i++) {
      if (!want[i]) continue;
      const pos = positions(xs[i].data.length, c.sample ?? 2000, r);
      const f = (v: Float64Array) => {
        const full = Float64Array.from(xs[i].data);
        pos.forEach((p, k) => (full[p] = v[k]));
        const args = xs.map((a, j) => (j === i ? { data: full, shape: a.shape } : a));
        const out = c.cpu(...args);
        let s = 0;
        for (let k = 0; k < out.data.length; k++) s += out.data[k] * w.data[k];
        return s;
      };
      const num = numericGrad(f, Float64Array.from(pos, (p) => xs[i].data[p]));
      const all = await gs[gi++].toArray();
      assertGradClose(
        pos.map((p) => all[p]),
        num,
        c.gradTol ?? 2e-3,
        `${c.name} gradient of input ${i} [${xs[i].shape}]`,
      );
    }
  });
}
