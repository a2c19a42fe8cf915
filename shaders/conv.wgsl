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
//   col2im_bias: col2im + BIAS[c] (a transposed convolution with bias, in one pass).
//   pixel_rows: DST[(n·P + p)·sK + c] = SRC[(n·C + c)·P + p] with P = OH·OW, 0 for C <= c < sK: an
//           [N][C][P] gradient as rows of pixels [N·P][sK], the K-major operand of the filter
//           gradient's one GEMM whose reduction runs over every image and pixel. One invocation
//           per (n, p, group of 4 channels), p fastest (neighbouring lanes read neighbouring pixels);
//           total = N·P·(sK / 4).
// Bindings: 0 SRC (read), 1 DST (write), 2 uniform P (see struct); col2im_bias instead has
// 2 BIAS (read) and 3 uniform PB (the same struct): no entry uses both P and BIAS.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OH: u32, OW: u32,
  stride: u32, pad: u32, dil: u32, total: u32,
  sN: u32, sK: u32, sP: u32,
}

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read_write> DST: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size({{WG}})
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  // i enumerates (n, c, p) with p fastest; each invocation writes the KH·KW patch values of
  // one input channel at one output position, so the index arithmetic is done once per patch
  let np = P.OH * P.OW;
  let p = i % np;
  let c = (i / np) % P.C;
  let n = i / (np * P.C);
  let ox = p % P.OW;
  let oy = p / P.OW;
  let src = (n * P.C + c) * P.H * P.W;
  var dst = n * P.sN + c * P.KH * P.KW * P.sK + p * P.sP;
  for (var ky = 0u; ky < P.KH; ky++) {
    let iy = i32(oy * P.stride + ky * P.dil) - i32(P.pad);
    let row_ok = iy >= 0 && iy < i32(P.H);
    for (var kx = 0u; kx < P.KW; kx++) {
      let ix = i32(ox * P.stride + kx * P.dil) - i32(P.pad);
      var v = 0.0;
      if (row_ok && ix >= 0 && ix < i32(P.W)) {
        v = SRC[src + u32(iy) * P.W + u32(ix)];
      }
      DST[dst] = v;
      dst += P.sK;
    }
  }
}

@compute @workgroup_size({{WG}})
fn pixel_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let np = P.OH * P.OW;
  let p = i % np;
  let t = i / np;
  let c4 = t % (P.sK / 4u);
  let n = t / (P.sK / 4u);
  let c = c4 * 4u;
  let src = (n * P.C + c) * np + p;
  let dst = (n * np + p) * P.sK + c;
  for (var j = 0u; j < 4u; j++) {
    var v = 0.0;
    if (c + j < P.C) { v = SRC[src + j * np]; }
    DST[dst + j] = v;
  }
}

// The col2im sum for input element i (n, c, iy, ix) under geometry p.
fn col2im_sum(i: u32, p: Params) -> f32 {
  let ix = i % p.W;
  let iy = (i / p.W) % p.H;
  let c = (i / (p.W * p.H)) % p.C;
  let n = i / (p.W * p.H * p.C);
  var acc = 0.0;
  for (var ky = 0u; ky < p.KH; ky++) {
    let ty = i32(iy + p.pad) - i32(ky * p.dil);
    if (ty < 0 || (u32(ty) % p.stride) != 0u) { continue; }
    let oy = u32(ty) / p.stride;
    if (oy >= p.OH) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let tx = i32(ix + p.pad) - i32(kx * p.dil);
      if (tx < 0 || (u32(tx) % p.stride) != 0u) { continue; }
      let ox = u32(tx) / p.stride;
      if (ox >= p.OW) { continue; }
      let k = (c * p.KH + ky) * p.KW + kx;
      acc += SRC[n * p.sN + k * p.sK + (oy * p.OW + ox) * p.sP];
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
  DST[i] = col2im_sum(i, PB) + BIAS[(i / (PB.W * PB.H)) % PB.C];
}
