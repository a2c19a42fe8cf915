/** The op checker: GPU forward vs the CPU reference, GPU gradients vs float64 central differences. */
import { grad, mul, scope, sum, type Tensor, tensor } from "../mod.ts";
import { type Arr, assertClose, numericGrad, randArr, rng, size } from "./cpu_ref.ts";

export interface OpCase {
  name: string;
  shapes: number[][];
  gpu: (...xs: Tensor[]) => Tensor;
  cpu: (...xs: Arr[]) => Arr;
  /** input value range (default [-1, 1]) */
  range?: [number, number];
  rtol?: number;
  atol?: number;
  gradTol?: number;
  /** skip the gradient check for these input positions */
  noGrad?: number[];
  seed?: number;
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
      const f = (v: Float64Array) => {
        const args = xs.map((a, j) => (j === i ? { data: v, shape: a.shape } : a));
        const out = c.cpu(...args);
        let s = 0;
        for (let k = 0; k < out.data.length; k++) s += out.data[k] * w.data[k];
        return s;
      };
      const num = numericGrad(f, xs[i].data);
      const tol = c.gradTol ?? 2e-3;
      assertClose(await gs[gi++].toArray(), num, {
        rtol: tol,
        atol: tol,
        msg: `${c.name} gradient of input ${i} [${xs[i].shape}]`,
      });
    }
    void size;
  });
}
