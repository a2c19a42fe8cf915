// conv_gemm.wgsl: {{WHAT}}.
//
// A 2-D convolution over NCHW as one implicit GEMM over the whole batch, with no patch matrix:
//   Z[n][co][oy][ox] = sum over (c, ky, kx) of X[n][c][oy·STRIDE + ky·DIL - PADDING][ox·STRIDE + kx·DIL - PADDING]
//                      · WT[(c·KH + ky)·KW + kx][co]   (+ BIAS[co]),
// then an epilogue on the registers: the activation (ACT 0 none, 1 relu, 2 leaky relu with
// slope P.slope) and, with POOL = 1, a 2×2 stride-2 max pool, so only the last op's output is
// written:
//   POOL = 0: Y[n][co][oy][ox] = act(Z)
//   POOL = 1: Y[n][co][py][px] = act(max over the window (2py + dy, 2px + dx) of Z), and
//             IDX[n][co][py][px] = 2·dy + dx of the winner (the first on ties; a NaN wins, the
//             first NaN, as pool.wgsl) + 4 when the winner's Z > 0: all the backward pass needs
//             (written only when WINNERS = 1).
//             The pooled size is ⌊OH/2⌋×⌊OW/2⌋; conv outputs no window reads are never stored.
//             act is monotonic (relu, or leaky with slope > 0), so max(act(z)) = act(max(z)).
//
// Each invocation computes a register tile of TR×TW output pixels (rows × columns of one image)
// times TC output channels: TR·TW·TC/4 vec4 accumulators, along co. Per input channel it loads
// the input patch under the tile once (NR×NC values, NR = (TR−1)·STRIDE + (KH−1)·DIL + 1, likewise
// NC: a gather per lane on llvmpipe, where invocations are SIMD lanes) and the KH·KW taps'
// weights (TC/4 vec4 each, WT transposed and padded to COUT4·4 columns), then does every FMA
// from registers: neighbouring pixels share input values, so a 3×3 kernel needs ~2-4 loads per
// 9 taps instead of 9. No workgroup memory (see shared/reference/webgpu-on-llvmpipe.md).
// TN = 2 takes the same pixels of two images (n, n + 1) in one tile, so every weight load serves
// twice the FMAs (the weights, TC/4 vec4 per tap, were most of the loads).
// PACKED = 1 reads the input as packed by the pack entry (below): each patch row starts on a vec4,
// so it is ⌈NC/4⌉ vec4 loads instead of NC scalar ones (llvmpipe (Mesa 22.3) runs every storage
// load as a loop over the SIMD lanes with an exec-mask and a bounds test per lane; a vec4 load
// runs that loop once for 4 values), and the padding is zeros in memory, not masks.
// Measured (lavapipe, GPU time of conv2 256×32×13×13→64 relu pool, A/B interleaved in one
// process, median of 9): in place 24.2 ms, packed 21.8 (pack included, ~1.2); TN = 2 another ~17%.
// With POOL = 1, TR = 2 and TW is even: a tile is TW/2 pooled pixels of one pooled row.
// Tiles: TILES_W per row of tiles, TILES_H rows of tiles per image, P.tiles_m in all; the
// channel tiles are P.tiles_n. Pixels of a tile past the output (an uneven last tile) are
// computed from whatever is read and never stored.
// Padding (PAD = 1) when not packed: each tile keeps masks of its patch's rows and columns inside the image
// (NR, NC <= 32) and reads 0 outside; PAD = 0 skips the test.
// The c loop runs CIN steps per invocation (host: loop budget); the rest is unrolled straight-line
// code from src/tensor/ops/conv_gemm.ts (LOAD_STEP, ACC_DECL, STORE: one register per value,
// as llvmpipe keeps indexed arrays in memory).
// CHAIN = 1 (inference only, WINNERS = 0): Y is not [N][COUT][..] but the NEXT convolution's packed
// input (the layout pack writes, for an input of this one's output size): each output value goes to
// every packed column that holds it (the next conv's column blocks overlap by its patch's extra
// columns, so a value may be written twice), rows past Q_HP are dropped, and the host zero-fills the
// buffer first when the next conv pads. The vec4 store (chosen by the host, in the unrolled STORE,
// which then uses pooled() and YV, not store_pool): when a tile is a whole pooled row and the next
// conv has one column block and no padding, the row is ⌈TW/8⌉ vec4 stores per channel (at most
// Q_NCP4) instead of TW/2 scalar ones.
// Constants: WG, TR, TW, TC, KH, KW, DIL, STRIDE, PADDING, CIN, H, W, OH, OW, PH, PW, COUT,
// COUT4, TILES_W, TILES_H, ACT, POOL, PAD, BIAS, FULL_C, WINNERS, TN, NIMG, PACKED, NCP4, HP,
// CHAIN, Q_PAD, Q_TWS, Q_NCOLS, Q_NCP4, Q_TILES_W, Q_HP (the next conv's packing: its padding, columns
// between the starts of its column blocks, columns a block's patches read, vec4s per block, blocks,
// padded rows per channel),
// WHAT (this header's first line).
// Bindings: forward: 0 X (read; the packed XV when PACKED = 1), 1 WT (read, vec4), 2 BIAS (read;
//           anything when BIAS = 0), 3 Y (write; YV, vec4, with the vec4 store), 4 IDX (i32,
//           write; anything when WINNERS = 0),
//           5 uniform P. pack: 0 X (read), 1 XP (write, vec4), 2 uniform PK (the same struct).

struct Params {
  tiles_m: u32, tiles_n: u32, _p0: u32, slope: f32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
// forward with PACKED = 1: binding 0 is the packed input (see pack)
@group(0) @binding(0) var<storage, read> XV: array<vec4f>;
@group(0) @binding(1) var<storage, read> WT: array<vec4f>;
@group(0) @binding(2) var<storage, read> BIAS: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
// forward with CHAIN = 1 and the vec4 store: binding 3 as vec4s of the next conv's packed input
@group(0) @binding(3) var<storage, read_write> YV: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> IDX: array<i32>;
@group(0) @binding(5) var<uniform> P: Params;
// pack's bindings: 0 X, 1 XP (the packed input it writes), 2 uniform PK
@group(0) @binding(1) var<storage, read_write> XP: array<vec4f>;
@group(0) @binding(2) var<uniform> PK: Params;

const TR: u32 = {{TR}}u;
const TW: u32 = {{TW}}u;
const TC: u32 = {{TC}}u;
// images per tile (the tile's first is n, a multiple of TN); NIMG images in all
const TN: u32 = {{TN}}u;
const NIMG: u32 = {{NIMG}}u;
const KH: u32 = {{KH}}u;
const KW: u32 = {{KW}}u;
const DIL: u32 = {{DIL}}u;
const STRIDE: u32 = {{STRIDE}}u;
const PADDING: u32 = {{PADDING}}u;
const CIN: u32 = {{CIN}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const OH: u32 = {{OH}}u;
const OW: u32 = {{OW}}u;
const PH: u32 = {{PH}}u;
const PW: u32 = {{PW}}u;
const COUT: u32 = {{COUT}}u;
const COUT4: u32 = {{COUT4}}u;
const TILES_W: u32 = {{TILES_W}}u;
const TILES_H: u32 = {{TILES_H}}u;
const ACT: u32 = {{ACT}}u;
const POOL: u32 = {{POOL}}u;
const PAD: u32 = {{PAD}}u;
const HAS_BIAS: u32 = {{BIAS}}u;
// 1 when every channel tile is whole (COUT is a multiple of TC), so stores need no channel test
const FULL_C: u32 = {{FULL_C}}u;
// 1 to write the pool winners' codes (IDX); inference needs only Y
const WINNERS: u32 = {{WINNERS}}u;
// 1 to read the input packed by the pack entry (vec4 loads, no padding masks)
const PACKED: u32 = {{PACKED}}u;
// the packed layout: NCP4 vec4s per tile column block of a row, ROW4 = TILES_W·NCP4 per row,
// HP rows per channel of an image
const NCP4: u32 = {{NCP4}}u;
const ROW4: u32 = TILES_W * NCP4;
const HP: u32 = {{HP}}u;
// 1 to write the next convolution's packed input (see the header); its layout
const CHAIN: u32 = {{CHAIN}}u;
const Q_PAD: u32 = {{Q_PAD}}u;
const Q_TWS: u32 = {{Q_TWS}}u;
const Q_NCOLS: u32 = {{Q_NCOLS}}u;
const Q_NCP4: u32 = {{Q_NCP4}}u;
const Q_TILES_W: u32 = {{Q_TILES_W}}u;
const Q_HP: u32 = {{Q_HP}}u;
const Q_ROW4: u32 = Q_TILES_W * Q_NCP4;

fn act(v: vec4f) -> vec4f {
  if (ACT == 1u) { return max(v, vec4f(0.0)); }
  if (ACT == 2u) { return select(v * P.slope, v, v > vec4f(0.0)); }
  return v;
}

fn bias4(co: u32) -> vec4f {
  if (HAS_BIAS == 0u) { return vec4f(0.0); }
  var b = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (FULL_C == 1u || co + c < COUT) { b[c] = BIAS[co + c]; }
  }
  return b;
}

// The bits 0 .. count-1 of the positions start + i that lie in [0, size).
fn inside(start: i32, count: u32, size: u32) -> u32 {
  var m = 0u;
  for (var i = 0u; i < count; i++) {
    let p = start + i32(i);
    if (p >= 0 && p < i32(size)) { m |= 1u << i; }
  }
  return m;
}

// CHAIN = 1: writes v, output (y, x) of channel c of image n, into the next conv's packed input:
// row y + Q_PAD of every column block whose patch columns hold x (a column where blocks overlap
// is written once per block).
fn put(n: u32, c: u32, y: u32, x: u32, v: f32) {
  let ry = y + Q_PAD;
  if (ry >= Q_HP) { return; }
  let row = ((n * COUT + c) * Q_HP + ry) * Q_ROW4 * 4u;
  for (var b = 0u; b < Q_TILES_W; b++) {
    let k = i32(x + Q_PAD) - i32(b * Q_TWS);
    if (k >= 0 && k < i32(Q_NCOLS)) { Y[row + b * Q_NCP4 * 4u + u32(k)] = v; }
  }
}

// Writes act(v + b) of output pixel (oy, ox) of image n for channels co .. co + 3 (b: their
// bias, loaded once per tile: the 4 scalar loads of bias4 cost about what the 4 stores do).
fn store_px(n: u32, oy: u32, ox: u32, co: u32, b: vec4f, v: vec4f) {
  if (n >= NIMG || oy >= OH || ox >= OW) { return; }
  let r = act(v + b);
  let yo = n * COUT * OH * OW + oy * OW + ox;
  for (var c = 0u; c < 4u; c++) {
    if (FULL_C == 1u || co + c < COUT) {
      if (CHAIN == 1u) { put(n, co + c, oy, ox, r[c]); } else { Y[yo + (co + c) * OH * OW] = r[c]; }
    }
  }
}

// The max over a window, the first winning ties and the first NaN winning.
fn take(best: vec4f, v: vec4f) -> vec4<bool> {
  return ((v > best) | (v != v)) & (best == best);
}

// act(the max of the window (v0 v1 / v2 v3) + b), as store_pool computes it (for the vec4 store).
fn pooled(b: vec4f, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) -> vec4f {
  var best = v0;
  best = select(best, v1, take(best, v1));
  best = select(best, v2, take(best, v2));
  best = select(best, v3, take(best, v3));
  return act(best + b);
}

// Pools the window (v0 v1 / v2 v3) of pooled pixel (py, px) of image n for channels co .. co + 3
// (b: their bias).
fn store_pool(n: u32, py: u32, px: u32, co: u32, b: vec4f, v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f) {
  if (n >= NIMG || py >= PH || px >= PW) { return; }
  var best = v0;
  var arg = vec4i(0);
  let t1 = take(best, v1);
  best = select(best, v1, t1);
  arg = select(arg, vec4i(1), t1);
  let t2 = take(best, v2);
  best = select(best, v2, t2);
  arg = select(arg, vec4i(2), t2);
  let t3 = take(best, v3);
  best = select(best, v3, t3);
  arg = select(arg, vec4i(3), t3);
  let z = best + b;
  let r = act(z);
  let code = arg + select(vec4i(0), vec4i(4), z > vec4f(0.0));
  let yo = n * COUT * PH * PW + py * PW + px;
  for (var c = 0u; c < 4u; c++) {
    if (FULL_C == 1u || co + c < COUT) {
      if (CHAIN == 1u) { put(n, co + c, py, px, r[c]); } else { Y[yo + (co + c) * PH * PW] = r[c]; }
      if (WINNERS == 1u) { IDX[yo + (co + c) * PH * PW] = code[c]; }
    }
  }
}

@compute @workgroup_size({{WG}})
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.tiles_m * P.tiles_n) {
    // never true for t < 2^32 - 1: keeps binding 4 in the layout when WINNERS = 0 (bound to a placeholder)
    if (WINNERS == 0u && t == 0xffffffffu) { IDX[0] = 0; }
    return;
  }
  let tm = t / P.tiles_n;
  let co0 = (t % P.tiles_n) * TC;
  let tx = tm % TILES_W;
  let ty = (tm / TILES_W) % TILES_H;
  let n = tm / (TILES_W * TILES_H) * TN;
  let oy0 = ty * TR;
  let ox0 = tx * TW;
  let iy0 = i32(oy0 * STRIDE) - i32(PADDING);
  let ix0 = i32(ox0 * STRIDE) - i32(PADDING);
  // the patch's top-left input (wrapping below 0: only positions inside the image are read)
  let base = bitcast<u32>(i32(n * CIN * H * W) + iy0 * i32(W) + ix0);
  let rows = inside(iy0, (TR - 1u) * STRIDE + (KH - 1u) * DIL + 1u, H);
  let cols = inside(ix0, (TW - 1u) * STRIDE + (KW - 1u) * DIL + 1u, W);
{{ACC_DECL}}
  var wi = co0 / 4u;
  // the patch's first value: in X (PACKED = 0), in vec4s of XV (PACKED = 1)
  var xo = select(base, (n * CIN * HP + oy0 * STRIDE) * ROW4 + tx * NCP4, PACKED == 1u);
  for (var c = 0u; c < CIN; c++) {
{{LOAD_STEP}}
    wi += KH * KW * COUT4;
    xo += select(H * W, HP * ROW4, PACKED == 1u);
  }
{{STORE}}
}

// The input X [N][CIN][H][W] as XP [N][CIN][HP][TILES_W][NCP4 · 4]: for each row of the padded
// image (HP rows from −PADDING) and each column block of tiles, the NC columns its patches read
// (from tx·TW·STRIDE − PADDING), zeros outside the image and past NC. Every patch row then starts
// on a vec4, so forward reads it with NCP4 vec4 loads instead of NC scalar ones (each load is a
// per-lane loop with a bounds test on llvmpipe), and padded convolutions need no masks. One
// invocation per vec4 of XP; PK.tiles_m = the count of them.
@compute @workgroup_size({{WG}})
fn pack(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= PK.tiles_m) { return; }
  let k4 = i % NCP4;
  let tx = (i / NCP4) % TILES_W;
  let ry = (i / ROW4) % HP;
  let nc = i / (ROW4 * HP);
  let iy = i32(ry) - i32(PADDING);
  let ix0 = i32(tx * TW * STRIDE + k4 * 4u) - i32(PADDING);
  let nc_cols = (TW - 1u) * STRIDE + (KW - 1u) * DIL + 1u;
  var v = vec4f(0.0);
  if (iy >= 0 && iy < i32(H)) {
    let row = nc * H * W + u32(iy) * W;
    for (var j = 0u; j < 4u; j++) {
      let ix = ix0 + i32(j);
      if (ix >= 0 && ix < i32(W) && k4 * 4u + j < nc_cols) { v[j] = X[row + u32(ix)]; }
    }
  }
  XP[i] = v;
}
