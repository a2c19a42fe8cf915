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
// Bindings: 0 SRC (read), 1 DST (write), 2 uniform P (see struct).

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
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  // i enumerates input elements (n, c, iy, ix)
  let ix = i % P.W;
  let iy = (i / P.W) % P.H;
  let c = (i / (P.W * P.H)) % P.C;
  let n = i / (P.W * P.H * P.C);
  var acc = 0.0;
  for (var ky = 0u; ky < P.KH; ky++) {
    let ty = i32(iy + P.pad) - i32(ky * P.dil);
    if (ty < 0 || (u32(ty) % P.stride) != 0u) { continue; }
    let oy = u32(ty) / P.stride;
    if (oy >= P.OH) { continue; }
    for (var kx = 0u; kx < P.KW; kx++) {
      let tx = i32(ix + P.pad) - i32(kx * P.dil);
      if (tx < 0 || (u32(tx) % P.stride) != 0u) { continue; }
      let ox = u32(tx) / P.stride;
      if (ox >= P.OW) { continue; }
      let k = (c * P.KH + ky) * P.KW + kx;
      acc += SRC[n * P.sN + k * P.sK + (oy * P.OW + ox) * P.sP];
    }
  }
  DST[i] = acc;
}
