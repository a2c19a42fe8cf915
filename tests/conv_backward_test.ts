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

/**
 * conv2d's three gradients in float64 for y = conv2d(x, w, b) and an upstream gradient dy, by
 * walking every (output pixel, tap) pair once: dx += dy·w, dw += dy·x, db += dy.
 */
function convGrads(x: ref.Arr, w: ref.Arr, dy: ref.Arr, stride: number, pad: number, dil: number) {
  const [N, C, H, W] = x.shape, [O, , KH, KW] = w.shape, [, , OH, OW] = dy.shape;
  const dx = new Float64Array(x.data.length), dw = new Float64Array(w.data.length), db = new Float64Array(O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const g = dy.data[((n * O + o) * OH + oy) * OW + ox];
          db[o] += g;
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * stride + ky * dil - pad;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * stride + kx * dil - pad;
                if (ix < 0 || ix >= W) continue;
                const xi = ((n * C + c) * H + iy) * W + ix, wi = ((o * C + c) * KH + ky) * KW + kx;
                dx[xi] += g * w.data[wi];
                dw[wi] += g * x.data[xi];
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
}

/** Float32 data of a float64 reference array, rounded, so both sides start from the same numbers. */
function f32(a: ref.Arr): ref.Arr {
  a.data = a.data.map(Math.fround);
  return a;
}

Deno.test("conv2d's filter, input and bias gradients at batch 1, 63 and 64 (the image groups of the filter gradient's one GEMM) match float64", async () => {
  const cases: [number[], number[], number, number, number][] = [
    // x, w, stride, padding, dilation
    [[1, 3, 10, 9], [5, 3, 3, 3], 1, 1, 1], // batch 1; Cout, K and P not multiples of 4
    [[64, 32, 5, 5], [64, 32, 3, 3], 1, 1, 1], // the filter gradient in 16 groups of 4 images
    [[63, 32, 4, 5], [64, 32, 3, 3], 1, 1, 1], // 63 images: 21 groups of 3
    [[64, 1, 28, 28], [32, 1, 3, 3], 1, 0, 1], // the seed CNN's first conv
    [[16, 3, 11, 10], [6, 3, 3, 2], 2, 1, 2], // stride and dilation
    [[8, 2, 6, 6], [6, 2, 3, 3], 1, 1, 1], // pixels in fours (4×4 blocks), channels not
  ];
  const r = ref.rng(64);
  for (const [xs, ws, stride, padding, dilation] of cases) {
    const x = f32(ref.randArr(xs, r)), w = f32(ref.randArr(ws, r)), b = f32(ref.randArr([ws[0]], r));
    const y = ref.conv2d(x, w, b, stride, padding, dilation);
    const dy = f32(ref.randArr(y.shape, r));
    const want = convGrads(x, w, dy, stride, padding, dilation);
    await dirtyPool(Math.max(x.data.length, y.data.length) * 4);
    await gb.scope(async () => {
      const t = (a: ref.Arr) => gb.tensor(Float32Array.from(a.data), a.shape, { requiresGrad: true });
      const [xt, wt, bt] = [t(x), t(w), t(b)];
      const yt = gb.conv2d(xt, wt, bt, { stride, padding, dilation });
      const [dx, dw, db] = gb.grad(yt, [xt, wt, bt], gb.tensor(Float32Array.from(dy.data), y.shape));
      const name = `conv2d x[${xs}] w[${ws}] s${stride} p${padding} d${dilation}`;
      // sums of up to 64·784 products of numbers in [-1, 1]: tolerance relative to the largest
      const scaled = (got: ArrayLike<number>, exp: Float64Array, what: string) => {
        const scale = exp.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        ref.assertClose(got, exp, { rtol: 1e-4, atol: 1e-5 * scale, msg: `${name} ${what}` });
      };
      scaled(await dw.toArray(), want.dw, "filter gradient");
      scaled(await dx.toArray(), want.dx, "input gradient");
      scaled(await db.toArray(), want.db, "bias gradient");
    });
  }
});

Deno.test("convTranspose2d's weight gradient at batch 64 (the same one-GEMM filter gradient, roles swapped) matches float64", async () => {
  const r = ref.rng(65);
  // x [N, Cin, H, W], w [Cin, Cout, KH, KW]: y[n][o][iy·s − p + ky·d][ix·s − p + kx·d] += x·w
  const [N, Cin, H, W, Cout, K, s, p, op, d] = [64, 16, 5, 4, 6, 3, 2, 1, 1, 1];
  const x = f32(ref.randArr([N, Cin, H, W], r)), w = f32(ref.randArr([Cin, Cout, K, K], r));
  const y = ref.convTranspose2d(x, w, null, s, p, op, d);
  const dy = f32(ref.randArr(y.shape, r));
  const [, , OH, OW] = y.shape;
  const dw = new Float64Array(w.data.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < Cin; c++) {
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = x.data[((n * Cin + c) * H + iy) * W + ix];
          for (let o = 0; o < Cout; o++) {
            for (let ky = 0; ky < K; ky++) {
              const oy = iy * s - p + ky * d;
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < K; kx++) {
                const ox = ix * s - p + kx * d;
                if (ox < 0 || ox >= OW) continue;
                dw[((c * Cout + o) * K + ky) * K + kx] += v * dy.data[((n * Cout + o) * OH + oy) * OW + ox];
              }
            }
          }
        }
      }
    }
  }
  await gb.scope(async () => {
    const xt = gb.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true });
    const wt = gb.tensor(Float32Array.from(w.data), w.shape, { requiresGrad: true });
    const yt = gb.convTranspose2d(xt, wt, null, { stride: s, padding: p, outputPadding: op, dilation: d });
    const [gw] = gb.grad(yt, [wt], gb.tensor(Float32Array.from(dy.data), y.shape));
    const scale = dw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    ref.assertClose(await gw.toArray(), dw, {
      rtol: 1e-4,
      atol: 1e-5 * scale,
      msg: "convTranspose2d weight gradient",
    });
  });
});
