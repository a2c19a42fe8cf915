/**
 * The implicit-GEMM convolution kernel's tile for a small K = C·KH·KW (src/tensor/ops/conv_gemm.ts,
 * `convTile`): about 64 output pixels (whole rows) instead of 33, falling back to 33 where a padded
 * tile's patch would outgrow its masks; and the bias loaded once per tile for every store. Each
 * case against the float64 reference, with a bias, relu and (mostly) the 2×2 pool, as the seed
 * CNN's first layer runs it.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { convGemm, type ConvGeometry, convTile } from "../src/tensor/ops/conv_gemm.ts";

function geometry(xs: number[], ws: number[], stride: number, pad: number, dil: number): ConvGeometry {
  const [N, C, H, W] = xs, [Cout, , KH, KW] = ws;
  const OH = Math.floor((H + 2 * pad - dil * (KH - 1) - 1) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - dil * (KW - 1) - 1) / stride) + 1;
  return { N, C, H, W, Cout, KH, KW, OH, OW, stride, pad, dil };
}

// x shape, w shape, stride, padding, pool, the tile's expected width
const CASES: [number[], number[], number, number, boolean, number][] = [
  [[3, 1, 28, 28], [32, 1, 3, 3], 1, 0, true, 26], // the seed CNN's conv1: a whole 26-wide row
  [[2, 1, 18, 18], [12, 1, 3, 3], 1, 0, true, 16], // Occlusion's map size; Cout 12: 4-channel tiles
  [[2, 1, 30, 30], [8, 1, 3, 3], 1, 1, true, 30], // padded: a 32-column patch still fits the masks
  [[2, 1, 32, 32], [8, 1, 3, 3], 1, 1, true, 16], // padded, 32 wide would need 34 columns: 33 pixels
  [[2, 1, 21, 19], [6, 1, 4, 4], 1, 1, false, 18], // no pool, 4×4 taps, Cout 6: a partial tile
  [[3, 1, 23, 20], [16, 1, 3, 3], 2, 1, true, 10], // stride 2, padding 1, odd pooled size
];

Deno.test("convGemm small K: whole-row tiles with bias, relu and pool vs the float64 reference", async () => {
  for (const [xs, ws, stride, pad, pool, tw] of CASES) {
    const g = geometry(xs, ws, stride, pad, 1);
    const tile = convTile(g, pool);
    assert.deepEqual(tile.TW, tw, `x${xs} w${ws}: tile ${JSON.stringify(tile)}`);
    const [, , KH, KW] = ws, Cout = ws[0];
    assert(xs[1] * KH * KW <= 16);
    const xd = ref.seeded(g.N * g.C * g.H * g.W, 5),
      wd = ref.seeded(Cout * g.C * KH * KW, 6),
      bd = ref.seeded(Cout, 7);
    const xa = { data: Float64Array.from(xd), shape: xs }, wa = { data: Float64Array.from(wd), shape: ws };
    let z = ref.conv2d(xa, wa, { data: Float64Array.from(bd), shape: [Cout] }, stride, pad, 1);
    z = ref.unary(z, (v) => Math.max(v, 0));
    if (pool) z = ref.pool2d(z, 2, 2, 0, "max");
    const x = gb.tensor(xd, xs), w = gb.tensor(wd, ws), b = gb.tensor(bd, [Cout]);
    for (const pack of [true, false]) {
      const { y } = convGemm(x, w, b, g, { activation: "relu", slope: 0, pool }, tile, pack);
      assert.deepEqual(y.shape, z.shape);
      ref.assertClose(await y.toArray(), z.data, {
        atol: 1e-5,
        msg: `x${xs} w${ws} s${stride} p${pad} pool ${pool}, tile ${JSON.stringify(tile)}, packed ${pack}`,
      });
      y.dispose();
    }
    [x, w, b].forEach((t) => t.dispose());
  }
});

Deno.test("convTile: two images per tile for a quarter of the large work only when the tile is small, and right on an odd batch", async () => {
  // Occlusion's conv2 (169 copies, 32×8×8 → 64, pooled): 2^26.7 MACs, a 2×6 × 16-channel tile
  assert.deepEqual(convTile(geometry([169, 32, 8, 8], [64, 32, 3, 3], 1, 0, 1), true), {
    TR: 2,
    TW: 6,
    TC: 16,
    TN: 2,
  });
  // as many MACs (2^26.1) but a 3×11 × 16-channel tile (528 pixel-channels): one image per tile
  assert.equal(convTile(geometry([32, 32, 13, 13], [64, 32, 3, 3], 1, 0, 1), false).TN, 1);
  // below a quarter of the large work (2^24.4): one image per tile
  assert.equal(convTile(geometry([17, 32, 8, 8], [64, 32, 3, 3], 1, 0, 1), true).TN, 1);
  // 51 images (odd, at least 16: the last tile's second image is past the batch), 2^25.01 MACs
  const xs = [51, 32, 8, 8], ws = [64, 32, 3, 3];
  const g = geometry(xs, ws, 1, 0, 1), tile = convTile(g, true);
  assert.equal(tile.TN, 2, `tile ${JSON.stringify(tile)}`);
  const xd = ref.seeded(51 * 32 * 64, 8), wd = ref.seeded(64 * 32 * 9, 9), bd = ref.seeded(64, 10);
  let z = ref.conv2d(
    { data: Float64Array.from(xd), shape: xs },
    { data: Float64Array.from(wd), shape: ws },
    { data: Float64Array.from(bd), shape: [64] },
    1,
    0,
    1,
  );
  z = ref.pool2d(ref.unary(z, (v) => Math.max(v, 0)), 2, 2, 0, "max");
  const x = gb.tensor(xd, xs), w = gb.tensor(wd, ws), b = gb.tensor(bd, [64]);
  const { y } = convGemm(x, w, b, g, { activation: "relu", slope: 0, pool: true }, tile, true);
  ref.assertClose(await y.toArray(), z.data, { atol: 1e-4, msg: `51 images, tile ${JSON.stringify(tile)}` });
  [x, w, b, y].forEach((t) => t.dispose());
});
