// The backward passes of pooling and convolution against float64 references: exact max-pool
// gradients with ties (the first maximum in row-major order wins, as PyTorch), non-overlapping and
// overlapping windows, padding and odd sizes; the filter, input and bias gradients of conv2d at
// batch 1 and 64 against a float64 reference of the gradient itself.
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";

type Pair = number | [number, number];
const two = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : v);

/** Max pooling's gradient: dy of each window goes to the window's first maximum (row-major). */
function maxPoolGrad(x: ref.Arr, dy: ref.Arr, k: Pair, s: Pair, p: Pair): Float64Array {
  const [KH, KW] = two(k), [SH, SW] = two(s), [PH, PW] = two(p);
  const [N, C, H, W] = x.shape, [, , OH, OW] = dy.shape;
  const dx = new Float64Array(x.data.length);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let best = -Infinity, arg = -1;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * SH + ky - PH, ix = ox * SW + kx - PW;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const at = (pl * H + iy) * W + ix;
            if (arg < 0 || x.data[at] > best) [best, arg] = [x.data[at], at];
          }
        }
        dx[arg] += dy.data[(pl * OH + oy) * OW + ox];
      }
    }
  }
  return dx;
}

/** Average pooling's gradient (padding counts as zeros). */
function avgPoolGrad(x: ref.Arr, dy: ref.Arr, k: Pair, s: Pair, p: Pair): Float64Array {
  const [KH, KW] = two(k), [SH, SW] = two(s), [PH, PW] = two(p);
  const [N, C, H, W] = x.shape, [, , OH, OW] = dy.shape;
  const dx = new Float64Array(x.data.length);
  for (let pl = 0; pl < N * C; pl++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * SH + ky - PH, ix = ox * SW + kx - PW;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            dx[(pl * H + iy) * W + ix] += dy.data[(pl * OH + oy) * OW + ox] / (KH * KW);
          }
        }
      }
    }
  }
  return dx;
}

/** Leaves recycled GPU buffers full of non-zeros, so a kernel that skips an element is caught. */
async function dirtyPool(size: number): Promise<void> {
  const junk = [1, 2, 4].map((m) => gb.full([size * m], 7.5));
  await junk[0].toArray();
  junk.forEach((t) => t.dispose());
}

Deno.test("max and average pooling gradients are exact: ties go to the first maximum; strides above, at and below the kernel, padding, odd sizes", async () => {
  const cases: [number[], Pair, Pair, Pair][] = [
    [[2, 3, 8, 8], 2, 2, 0], // the seed CNN's pool: windows tile the image
    [[2, 3, 7, 9], 2, 2, 0], // odd sizes: the last row and column belong to no window
    [[1, 2, 7, 9], 2, 2, 1], // padding: the first and last windows hang over the edge
    [[1, 2, 11, 8], 2, 3, 0], // stride above the kernel: gaps between windows
    [[1, 2, 9, 10], [3, 2], [3, 4], [1, 0]], // rectangular, gaps on one axis only
    [[1, 2, 7, 7], 3, 2, 1], // overlapping windows (stride below the kernel)
    [[1, 1, 6, 5], 3, 1, 0], // heavily overlapping
    [[1, 1, 26, 26], 2, 2, 0], // a seed CNN plane
  ];
  const r = ref.rng(21);
  for (const [xs, k, s, p] of cases) {
    // small integers: many ties in every window
    const x = ref.randArr(xs, r, 0, 3);
    x.data = x.data.map(Math.floor);
    const y = ref.pool2d(x, k, s, p, "max");
    const dy = ref.randArr(y.shape, r);
    dy.data = dy.data.map(Math.fround);
    for (const op of ["max", "avg"] as const) {
      await dirtyPool(x.data.length);
      await gb.scope(async () => {
        const xt = gb.tensor(Float32Array.from(x.data), xs, { requiresGrad: true });
        const pool = op === "max" ? gb.maxPool2d : gb.avgPool2d;
        const yt = pool(xt, k, { stride: s, padding: p });
        const [dx] = gb.grad(gb.sum(gb.mul(yt, gb.tensor(Float32Array.from(dy.data), y.shape))), [xt]);
        const want = op === "max" ? maxPoolGrad(x, dy, k, s, p) : avgPoolGrad(x, dy, k, s, p);
        ref.assertClose(await dx.toArray(), want, {
          rtol: 1e-6,
          atol: op === "max" ? 0 : 1e-6,
          msg: `${op}Pool2d gradient x[${xs}] k${k} s${s} p${p}`,
        });
      });
    }
  }
});
