/**
 * The register-tiled int8 product (shaders/int8_gemm.wgsl) on shapes off its grids: batch 1, M not
 * a multiple of the 8-row block, output channels not a multiple of the 16-column block, channels
 * not a multiple of 4 (zero-padded words), dilation, stride, 1×1 filters. Accumulators bit for
 * bit against an integer CPU convolution; outputs against the requantization rule, in NCHW.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

interface Geo {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  k: number;
  stride: number;
  pad: number;
  dil: number;
}

/** Σ over the patch of q(x)·q(w) in exact integers, rows (n, oh, ow), columns o. */
function cpuConvAcc(xs: Float32Array, ws: Float32Array, g: Geo, scale: number) {
  const { N, C, H, W, O, k, stride, pad, dil } = g;
  const OH = Math.floor((H + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  const K = C * k * k, xq = gb.quantizeValues(xs, scale), wq = gb.quantizePerChannel(ws, O, K).q;
  const acc = new Int32Array(N * OH * OW * O);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let c = 0; c < C; c++) {
            for (let kh = 0; kh < k; kh++) {
              for (let kw = 0; kw < k; kw++) {
                const ih = oh * stride - pad + kh * dil, iw = ow * stride - pad + kw * dil;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += xq[((n * C + c) * H + ih) * W + iw] * wq[o * K + (c * k + kh) * k + kw];
              }
            }
          }
          acc[((n * OH + oh) * OW + ow) * O + o] = s;
        }
      }
    }
  }
  return { acc, OH, OW };
}

const paths: gb.Int8DotPath[] = gb.hasPackedIntegerDot() ? ["builtin", "unpack"] : ["unpack"];

Deno.test("int8 GEMM conv: exact accumulators and NCHW outputs on ragged shapes (batch 1, C = 5, 19 and 33 outputs, dilation, stride, 1×1), both paths", async () => {
  gb.manualSeed(21);
  const cases: Geo[] = [
    { N: 1, C: 5, H: 6, W: 11, O: 19, k: 3, stride: 1, pad: 2, dil: 2 }, // M = 66, K = 45
    { N: 3, C: 1, H: 13, W: 13, O: 4, k: 5, stride: 3, pad: 0, dil: 1 }, // M = 27, K = 25
    { N: 2, C: 7, H: 3, W: 2, O: 33, k: 1, stride: 1, pad: 0, dil: 1 }, // 1×1, K = 7
    { N: 1, C: 32, H: 5, W: 5, O: 16, k: 3, stride: 1, pad: 1, dil: 1 }, // whole words, one tile column
    // columns packing, padded: rows of Wp = 11 words (the last group of 4 cut at 3), dil = 1
    { N: 2, C: 1, H: 7, W: 9, O: 5, k: 3, stride: 1, pad: 1, dil: 1 },
    { N: 2, C: 1, H: 7, W: 9, O: 5, k: 4, stride: 1, pad: 1, dil: 1 }, // every byte of a word weighs
  ];
  for (const g of cases) {
    const conv = new gb.Conv2d(g.C, g.O, g.k, { stride: g.stride, padding: g.pad, dilation: g.dil });
    const x = gb.randn([g.N, g.C, g.H, g.W]);
    const xs = (await x.toArray()) as Float32Array, ws = (await conv.weight.toArray()) as Float32Array;
    const scale = gb.symmetricScale(xs);
    const { acc: want, OH, OW } = cpuConvAcc(xs, ws, g, scale);
    const q = await gb.QuantizedConv2d.fromConv2d(conv, scale);
    const sw = (await q.linear.weightScales.toArray()) as Float32Array;
    const bias = (await conv.bias!.toArray()) as Float32Array;
    const P = OH * OW;
    for (const path of paths) {
      const what = `${JSON.stringify(g)} ${path}`;
      const { acc, y } = q.forwardWithAccumulators(x, path);
      assert.deepEqual(Array.from((await acc.toArray()) as Int32Array), Array.from(want), what);
      assert.deepEqual(y.shape, [g.N, g.O, OH, OW], what);
      const ys = await y.toArray();
      for (let m = 0; m < g.N * P; m++) {
        for (let o = 0; o < g.O; o++) {
          const e = Math.fround(Math.fround(want[m * g.O + o]) * Math.fround(scale)) * sw[o] + bias[o];
          const got = ys[(Math.floor(m / P) * g.O + o) * P + (m % P)];
          assert.ok(
            Math.abs(got - e) <= 1e-6 * Math.max(1, Math.abs(e)),
            `${what}: y[${m}, ${o}] ${got} vs ${e}`,
          );
        }
      }
      // forward (no accumulators written) gives the same outputs bit for bit
      assert.deepEqual(Array.from(await q.forward(x, path).toArray()), Array.from(ys), what);
      acc.dispose();
      y.dispose();
    }
    q.dispose();
  }
});

Deno.test("int8 GEMM dense: QuantizedLinear equals the integer reference and the requantization rule (batch 1 and 9, K = 13 and 1030, 19 outputs), both paths", async () => {
  gb.manualSeed(22);
  for (const [M, K, O] of [[1, 13, 19], [9, 1030, 19], [17, 4, 1]]) {
    const lin = new gb.Linear(K, O);
    const x = gb.randn([M, K]);
    const xs = (await x.toArray()) as Float32Array, ws = (await lin.weight.toArray()) as Float32Array;
    const scale = gb.symmetricScale(xs);
    const xq = gb.quantizeValues(xs, scale), { q: wq, scales } = gb.quantizePerChannel(ws, O, K);
    const bias = (await lin.bias!.toArray()) as Float32Array;
    const q = await gb.QuantizedLinear.fromLinear(lin, scale);
    for (const path of paths) {
      const ys = await q.forward(x, path).toArray();
      for (let m = 0; m < M; m++) {
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += xq[m * K + k] * wq[o * K + k];
          const e = Math.fround(Math.fround(s) * Math.fround(scale)) * scales[o] + bias[o];
          const got = ys[m * O + o];
          assert.ok(
            Math.abs(got - e) <= 1e-6 * Math.max(1, Math.abs(e)),
            `${M}×${K}→${O} ${path}: y[${m}, ${o}] ${got} vs ${e}`,
          );
        }
      }
    }
    q.dispose();
  }
});
