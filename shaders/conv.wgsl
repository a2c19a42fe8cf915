// conv.wgsl: the data movement around the convolution matmul (NCHW, stride, padding, dilation).
//
// A 2-D convolution is computed as C[n] = W[Cout][K] · cols[n][K][P] with K = Cin·KH·KW and
// P = OH·OW (src/nn/conv.ts runs that product with matmul.wgsl). These entries build and undo
// the patch matrix:
//   im2col: COLS[n·sN + k·sK + p·sP] = X[n][c][oy·stride + ky·dil - pad][ox·stride + kx·dil - pad]
//           (0 outside the image), with k = (c·KH + ky)·KW + kx and p = oy·OW + ox.
//   col2im: DX[n][c][iy][ix] = sum over (ky, kx, oy, ox) that read (iy, ix) of DCOLS[n][k][p]
//           (a gather, so no atomics: one invocation per input element).
// A transposed convolution (ConvTranspose2d) uses the same two entries with the geometry of the
// convolution it transposes: forward col2im(Wᵀ·x) (H, W its output size, OH, OW its input size;
// output padding only makes H, W larger: col2im gathers the extra rows and columns like any other,
// 0 where no window reaches), backward im2col(dY) (which reads only windows with oy < OH, ox < OW).
//   With the constant ONES = 1, im2col also writes 1.0 at k = C·KH·KW (one more patch row or
//   column), so a GEMM against the patches also sums its other operand (a conv's bias gradient).
//   col2im_bias: col2im + BIAS[c] (a transposed convolution with bias, in one pass).
//   pixel_rows: DST[(n·P + p)·sK + c] = SRC[(n·C + c)·P + p] with P = OH·OW, 0 for C <= c < sK: an
//           [N][C][P] gradient as rows of pixels [N·P][sK], the K-major operand of the filter
//           gradient's one GEMM whose reduction runs over every image and pixel. One invocation
//           per (n, p, group of 4 channels), channels fastest (neighbouring lanes write one row);
//           total = N·P·(sK / 4).
//   pixel_rows4: the same in 4×4 blocks (vec4 loads and stores) when P is a multiple of 4.
//   pad_rows: DST[r·LDP + q] = SRC[r·P + q] for q < P = OH·OW, 0 for P <= q < LDP = ceil(P / 4)·4:
//           an [N·C][P] gradient with rows padded to a multiple of 4, the direct vec4 operand of
//           the input gradient's matmul when P is not one (the seed CNN's 11×11). One invocation
//           per 4 outputs; total = N·C·LDP / 4.
// Bindings: 0 SRC (read), 1 DST (write), 2 uniform P (see struct); col2im_bias instead has
// 2 BIAS (read) and 3 uniform PB (the same struct): no entry uses both P and BIAS.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OH: u32, OW: u32,
  stride: u32, pad: u32, dil: u32, total: u32,
  sN: u32, sK: u32, sP: u32,
}

// The geometry as compile-time constants (filled by src/tensor/ops/conv.ts, one pipeline per
// geometry): every index division and the loops over the kernel window then compile to
// multiplies, shifts and straight-line code. Division of a vector of lanes by a runtime value is
// done lane by lane on llvmpipe, and im2col/col2im were bound by it (0.7-1.1 GB/s). The
// uniform's fields of the same names carry the same values.
const C: u32 = {{C}}u;
const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const KH: u32 = {{KH}}u;
const KW: u32 = {{KW}}u;
const OH: u32 = {{OH}}u;
const OW: u32 = {{OW}}u;
const STRIDE: u32 = {{STRIDE}}u;
const PAD: u32 = {{PAD}}u;
const DIL: u32 = {{DIL}}u;
// im2col: 1 also writes 1.0 at k = C·KH·KW of each patch (a column of ones: the GEMM against it
// sums the other operand, the bias gradient riding along with the filter gradient)
const ONES: u32 = {{ONES}}u;

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read_write> DST: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size({{WG}})
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  // each invocation writes the KH·KW patch values of one input channel at one output position,
  // so the index arithmetic is done once per patch. i enumerates (n, c, p) with p fastest when
  // the patches are columns (sP = 1: neighbouring lanes write neighbouring pixels), (n, p, c) with
  // c fastest when they are rows (sK = 1: neighbouring lanes write neighbouring runs of KH·KW)
  let np = OH * OW;
  var p: u32;
  var c: u32;
  if (P.sP == 1u) {
    p = i % np;
    c = (i / np) % C;
  } else {
    c = i % C;
    p = (i / C) % np;
  }
  let n = i / (np * C);
  let ox = p % OW;
  let oy = p / OW;
  let src = (n * C + c) * H * W;
  var dst = n * P.sN + c * KH * KW * P.sK + p * P.sP;
  for (var ky = 0u; ky < KH; ky++) {
    let iy = i32(oy * STRIDE + ky * DIL) - i32(PAD);
    let row_ok = iy >= 0 && iy < i32(H);
    for (var kx = 0u; kx < KW; kx++) {
      let ix = i32(ox * STRIDE + kx * DIL) - i32(PAD);
      var v = 0.0;
      if (row_ok && ix >= 0 && ix < i32(W)) {
        v = SRC[src + u32(iy) * W + u32(ix)];
      }
      DST[dst] = v;
      dst += P.sK;
    }
  }
  if (ONES == 1u && c + 1u == C) { DST[dst] = 1.0; }
}

@compute @workgroup_size({{WG}})
fn pixel_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  // C is the gradient's channel count here, sK = ceil(C / 4)·4
  let np = OH * OW;
  let nc4 = (C + 3u) / 4u;
  let c4 = i % nc4;
  let p = (i / nc4) % np;
  let n = i / (nc4 * np);
  let c = c4 * 4u;
  let src = (n * C + c) * np + p;
  let dst = (n * np + p) * P.sK + c;
  for (var j = 0u; j < 4u; j++) {
    var v = 0.0;
    if (c + j < C) { v = SRC[src + j * np]; }
    DST[dst + j] = v;
  }
}

// pixel_rows in 4×4 blocks when P is a multiple of 4: one invocation reads 4 pixels of 4 channels
// as vec4 and writes them as 4 rows of 4 channels (a 4×4 transpose in registers), channel groups
// fastest; total = N·(P / 4)·(sK / 4). SRC4 and DST4 alias bindings 0 and 1 for this entry only.
@group(0) @binding(0) var<storage, read> SRC4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> DST4: array<vec4f>;

@compute @workgroup_size({{WG}})
fn pixel_rows4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let np4 = (OH * OW) / 4u;
  let nc4 = (C + 3u) / 4u;
  let c4 = i % nc4;
  let p4 = (i / nc4) % np4;
  let n = i / (nc4 * np4);
  let c = c4 * 4u;
  var r0 = vec4f(0.0);
  var r1 = vec4f(0.0);
  var r2 = vec4f(0.0);
  var r3 = vec4f(0.0);
  let src = (n * C + c) * np4 + p4;
  r0 = SRC4[src];
  if (c + 1u < C) { r1 = SRC4[src + np4]; }
  if (c + 2u < C) { r2 = SRC4[src + 2u * np4]; }
  if (c + 3u < C) { r3 = SRC4[src + 3u * np4]; }
  let dst = ((n * np4 + p4) * 4u * P.sK + c) / 4u;
  let row = P.sK / 4u;
  DST4[dst] = vec4f(r0.x, r1.x, r2.x, r3.x);
  DST4[dst + row] = vec4f(r0.y, r1.y, r2.y, r3.y);
  DST4[dst + 2u * row] = vec4f(r0.z, r1.z, r2.z, r3.z);
  DST4[dst + 3u * row] = vec4f(r0.w, r1.w, r2.w, r3.w);
}

@compute @workgroup_size({{WG}})
fn pad_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let np = OH * OW;
  let q4 = (np + 3u) / 4u;
  let r = i / q4;
  let q = (i % q4) * 4u;
  for (var j = 0u; j < 4u; j++) {
    var v = 0.0;
    if (q + j < np) { v = SRC[r * np + q + j]; }
    DST[i * 4u + j] = v;
  }
}

// The col2im sum for input element i (n, c, iy, ix) under geometry p.
fn col2im_sum(i: u32, p: Params) -> f32 {
  let ix = i % W;
  let iy = (i / W) % H;
  let c = (i / (W * H)) % C;
  let n = i / (W * H * C);
  var acc = 0.0;
  for (var ky = 0u; ky < KH; ky++) {
    let ty = i32(iy + PAD) - i32(ky * DIL);
    if (ty < 0 || (u32(ty) % STRIDE) != 0u) { continue; }
    let oy = u32(ty) / STRIDE;
    if (oy >= OH) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let tx = i32(ix + PAD) - i32(kx * DIL);
      if (tx < 0 || (u32(tx) % STRIDE) != 0u) { continue; }
      let ox = u32(tx) / STRIDE;
      if (ox >= OW) { continue; }
      let k = (c * KH + ky) * KW + kx;
      acc += SRC[n * p.sN + k * p.sK + (oy * OW + ox) * p.sP];
    }
  }
  return acc;
}

@compute @workgroup_size({{WG}})
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  DST[i] = col2im_sum(i, P);
}

// col2im plus a per-channel bias (a transposed convolution's forward pass). Its own bindings:
// 0 SRC, 1 DST, 2 BIAS (read, [C]), 3 uniform PB (the same Params); no entry uses both P and BIAS.
@group(0) @binding(2) var<storage, read> BIAS: array<f32>;
@group(0) @binding(3) var<uniform> PB: Params;

@compute @workgroup_size({{WG}})
fn col2im_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= PB.total) { return; }
  DST[i] = col2im_sum(i, PB) + BIAS[(i / (W * H)) % C];
}
