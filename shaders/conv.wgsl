// conv.wgsl: the data movement around the convolution matmul (NCHW, stride, padding, dilation).
//
// A 2-D convolution is computed as C[n] = W[Cout][K] · cols[n][K][P] with K = Cin·KH·KW and
// P = OH·OW (src/nn/conv.ts runs that product with matmul.wgsl). These entries build and undo
// the patch matrix:
//   im2col: COLS[n·sN + k·sK + p] = X[n][c][oy·stride + ky·dil - pad][ox·stride + kx·dil - pad]
//           (0 outside the image), with k = (c·KH + ky)·KW + kx and p = oy·OW + ox.
//   col2im: DX[n][c][iy][ix] = sum over (ky, kx, oy, ox) that read (iy, ix) of DCOLS[n][k][p]
//           (a gather, so no atomics: one invocation per input element).
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

@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= P.total) { return; }
  // i enumerates (n, k, p) with p fastest
  let np = P.OH * P.OW;
  let K = P.C * P.KH * P.KW;
  let p = i % np;
  let k = (i / np) % K;
  let n = i / (np * K);
  let kx = k % P.KW;
  let ky = (k / P.KW) % P.KH;
  let c = k / (P.KW * P.KH);
  let ox = p % P.OW;
  let oy = p / P.OW;
  let iy = i32(oy * P.stride + ky * P.dil) - i32(P.pad);
  let ix = i32(ox * P.stride + kx * P.dil) - i32(P.pad);
  var v = 0.0;
  if (iy >= 0 && iy < i32(P.H) && ix >= 0 && ix < i32(P.W)) {
    v = SRC[((n * P.C + c) * P.H + u32(iy)) * P.W + u32(ix)];
  }
  DST[n * P.sN + k * P.sK + p * P.sP] = v;
}

@compute @workgroup_size(256)
fn col2im(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * 256u;
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
