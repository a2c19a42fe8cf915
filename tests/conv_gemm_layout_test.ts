/**
 * The implicit-GEMM convolution kernel's layouts (src/tensor/ops/conv_gemm.ts): the input read
 * packed (vec4 rows, zero padding written by the pack entry) or in place (scalar loads, padding
 * masks), and one or two images per tile (an odd batch leaves the last tile half empty), each
 * against the float64 reference, on shapes with padding, stride, dilation, a partial channel
 * tile and the pool epilogue. The public ops choose these by size, so small tests would not
 * reach every combination.
 */
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { convGemm, type ConvGeometry, convTile } from "../src/tensor/ops/conv_gemm.ts";

// x shape, w shape, stride, padding, dilation, pool (relu + 2×2 max pool)
const CASES: [number[], number[], number, number, number, boolean][] = [
  [[3, 3, 9, 8], [6, 3, 3, 3], 1, 1, 1, false], // padding, Cout 6: a partial channel tile
  [[3, 2, 11, 10], [17, 2, 3, 2], 2, 1, 2, false], // stride 2, dilation 2, Cout 17
  [[5, 2, 9, 9], [8, 2, 3, 3], 1, 0, 1, true], // pool, odd conv output 7×7
  [[3, 4, 12, 11], [16, 4, 3, 3], 1, 1, 1, true], // pool with padding
];

Deno.test("convGemm: packed and in-place input, one and two images per tile, vs the float64 reference", async () => {
  for (const [xs, ws, stride, pad, dil, pool] of CASES) {
    const [N, C, H, W] = xs, [Cout, , KH, KW] = ws;
    const OH = Math.floor((H + 2 * pad - dil * (KH - 1) - 1) / stride) + 1;
    const OW = Math.floor((W + 2 * pad - dil * (KW - 1) - 1) / stride) + 1;
    const g: ConvGeometry = { N, C, H, W, Cout, KH, KW, OH, OW, stride, pad, dil };
    const xd = ref.seeded(N * C * H * W, 1), wd = ref.seeded(Cout * C * KH * KW, 2), bd = ref.seeded(Cout, 3);
    const xa = { data: Float64Array.from(xd), shape: xs }, wa = { data: Float64Array.from(wd), shape: ws };
    let z = ref.conv2d(xa, wa, { data: Float64Array.from(bd), shape: [Cout] }, stride, pad, dil);
    if (pool) z = ref.pool2d(ref.unary(z, (v) => Math.max(v, 0)), 2, 2, 0, "max");
    const x = gb.tensor(xd, xs), w = gb.tensor(wd, ws), b = gb.tensor(bd, [Cout]);
    for (const TN of [1, 2]) {
      for (const pack of [true, false]) {
        const tile = { ...convTile(g, pool), TN };
        const { y } = convGemm(
          x,
          w,
          b,
          g,
          { activation: pool ? "relu" : "none", slope: 0, pool },
          tile,
          pack,
        );
        ref.assertClose(await y.toArray(), z.data, {
          atol: 1e-4,
          msg:
            `x${xs} w${ws} s${stride} p${pad} d${dil} pool ${pool}, ${TN} image(s) per tile, packed ${pack}`,
        });
        y.dispose();
      }
    }
    [x, w, b].forEach((t) => t.dispose());
  }
});
