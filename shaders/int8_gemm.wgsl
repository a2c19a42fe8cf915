// int8_gemm.wgsl: the register-tiled int8 matrix product behind QuantizedLinear and
// QuantizedConv2d (src/tensor/ops/int8.ts), with the input quantization and the patch gather
// (im2col) done in int8.
//
// Loop budget (src/gpu/loops.ts): gemm loops KH·KW·C4 + KH·KW + KH times per invocation; the
// host refuses more than llvmpipe's 65,535 steps.
//
// Operands are int8, four to a u32 (byte 0 = the lowest index). The product is an implicit
// GEMM over a convolution's patches, K ordered (ky, kx, c) with channels padded to C4 words (a
// Linear is C = K, H = W = KH = KW = 1, no padding):
//   XQ [N][Hp][Wp][C4] = the quantized input, channels packed, zero borders of `pad` pixels
//     (Hp = H + 2·pad), so a patch row m = (img, oy, ox) reads word (ky·KW + kx)·C4 + c4 at
//     row_base(m) + (ky·Wp + kx)·dil·C4 + c4, no bounds checks
//   WT [K'][ldw] = the reordered filters, K-major: WT[w · ldw + n] (K' = KH·KW·C4 words; ldw a
//     multiple of TN ≥ N, zero past N), so one vec4u load brings 4 output channels
// Entries:
//   quantize:  XF (f32 [N, C, H, W]) → XQ: q = clamp(round(x · inv_sx), −127, 127) (round half
//              to even); a NaN x gives 0 and is reported through FLAGS (lib/flags.wgsl, code 4:
//              the image, the layer's label id)
//   weights:   packed row-major filters [M = out channels, K4] in (c, ky, kx) order (bound as XR)
//              → WT (written to XQ)
//   gemm:      each invocation a TM×TN block: ACC = Σ_w dot4(A[m, w], WT[w, n]) in i32 (exact;
//              the zero padding adds 0); Y = f32(ACC)·sx·WS[n] + BIAS[n], stored at
//              (m / pos)·N·pos + n·pos + m % pos (pos = 1: row-major [M, N]; pos = OH·OW: a
//              conv's NCHW output); ACC [M, N] row-major only when write_acc = 1.
// The block is unrolled by the host (llvmpipe keeps indexed arrays in memory): ACC_DECL declares
// the row bases b<row> and the vec4i accumulators c_<row>_<col4>, K_STEP loads TM words of XQ
// (as TM/4 vec4u) and TN/4 vec4u of WT and
// accumulates (the unpacking path sign-extends each byte once per load and multiplies vec4i;
// the builtin path calls dot4I8Packed per output), STORE writes through store4().
// Bindings: 0 XF (read, f32), 1 XR (read, u32), 2 WT (read, vec4u), 3 WS (read, f32 [N]),
//           4 BIAS (read, f32 [N]; bind anything when has_bias = 0), 5 XQ (read_write, u32:
//           written by quantize/weights, read by gemm), 6 ACC (read_write, i32), 7 Y (read_write,
//           f32), 8 FLAGS (read_write, the error flags), 9 uniform P.

struct Params {
  M: u32, N: u32, K: u32, K4: u32,
  ldw4: u32, tiles_n: u32, has_bias: u32,
  write_acc: u32, pos: u32, sx: f32, inv_sx: f32,
  label: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OW: u32, stride: u32,
  pad: u32, dil: u32, total: u32, Hp: u32,
  Wp: u32, C4: u32,
}

@group(0) @binding(0) var<storage, read> XF: array<f32>;
@group(0) @binding(1) var<storage, read> XR: array<u32>;
@group(0) @binding(2) var<storage, read> WT: array<vec4u>;
@group(0) @binding(3) var<storage, read> WS: array<f32>;
@group(0) @binding(4) var<storage, read> BIAS: array<f32>;
@group(0) @binding(5) var<storage, read_write> XQ: array<u32>;
@group(0) @binding(6) var<storage, read_write> ACC: array<i32>;
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;
@group(0) @binding(8) var<storage, read_write> FLAGS: array<atomic<u32>, 4>;
@group(0) @binding(9) var<uniform> P: Params;

// #include "lib/math.wgsl"

// #include "lib/flags.wgsl"

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;

// Every entry names every binding once, so one bind group layout serves all.
fn bind_all() {
  if (P.M == 0xffffffffu) {
    Y[0] = XF[0] + f32(XR[0] + WT[0].x + XQ[0]) + WS[0] + BIAS[0] + f32(ACC[0]) +
      f32(atomicLoad(&FLAGS[0]));
  }
}

// the sign-extended byte b of each lane
fn bytes(v: vec4u, b: u32) -> vec4i {
  return bitcast<vec4i>(v << vec4u(24u - 8u * b)) >> vec4u(24u);
}

// the int8 values of 4 floats packed in a word (a NaN is 0 and reported for image img; lanes
// where `inside` is false are 0)
fn pack4(xv: vec4f, inside: vec4<bool>, img: u32) -> u32 {
  let nan = inside & ((bitcast<vec4u>(xv) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u));
  if (any(nan)) { report_index(4u, i32(img), P.label); }
  let qi = vec4i(clamp(round(xv * P.inv_sx), vec4f(-127.0), vec4f(127.0)));
  let q = select(vec4u(0u), bitcast<vec4u>(qi) & vec4u(0xffu), inside & !nan);
  return q.x | (q.y << 8u) | (q.z << 16u) | (q.w << 24u);
}

// invocation t: word (img, y, x, c4) of XQ [N][Hp][Wp][C4]: channels 4·c4 .. 4·c4+3 of
// input pixel (y − pad, x − pad), 0 outside the image and past C
@compute @workgroup_size({{WG}})
fn quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let c0 = (t % P.C4) * 4u;
  let x = i32((t / P.C4) % P.Wp) - i32(P.pad);
  let y = i32((t / (P.C4 * P.Wp)) % P.Hp) - i32(P.pad);
  let img = t / (P.C4 * P.Wp * P.Hp);
  let pixel = x >= 0 && x < i32(P.W) && y >= 0 && y < i32(P.H);
  let c = vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u);
  let inside = vec4<bool>(pixel) & (c < vec4u(P.C));
  let plane = P.H * P.W;
  let at = select(vec4u(0u), (img * P.C + c) * plane + u32(y) * P.W + u32(x), inside);
  XQ[t] = pack4(vec4f(XF[at.x], XF[at.y], XF[at.z], XF[at.w]), inside, img);
}

// invocation t: XQ[w · ldw + n] for 4 output channels n = n0 .. n0+3 (0 past M rows): word
// w = (ky·KW + kx)·C4 + c4 of the filters reordered, from the packed row-major [M, K4] filters
// in (c, ky, kx) order bound as XR
@compute @workgroup_size({{WG}})
fn weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let w = t / P.ldw4;
  let n0 = (t % P.ldw4) * 4u;
  let c4 = w % P.C4;
  let kx = (w / P.C4) % P.KW;
  let ky = w / (P.C4 * P.KW);
  for (var r = 0u; r < 4u; r++) {
    var word = 0u;
    let n = n0 + r;
    for (var i = 0u; i < 4u; i++) {
      let c = c4 * 4u + i;
      if (n < P.M && c < P.C) {
        let k = (c * P.KH + ky) * P.KW + kx;
        word |= ((XR[n * P.K4 + k / 4u] >> (8u * (k % 4u))) & 0xffu) << (8u * i);
      }
    }
    XQ[w * P.ldw4 * 4u + n] = word;
  }
}

// where row m's patch starts in XQ: output pixel (oy, ox) of image img reads padded pixel
// (oy·stride, ox·stride) onwards
fn row_base(m: u32) -> u32 {
  let r = min(m, P.M - 1u);
  let img = r / P.pos;
  let p = r % P.pos;
  return ((img * P.Hp + (p / P.OW) * P.stride) * P.Wp + (p % P.OW) * P.stride) * P.C4;
}

// one row of 4 outputs of a block: the accumulators and requantized outputs inside [M, N]
fn store4(m: u32, n0: u32, acc: vec4i) {
  if (m >= P.M) { return; }
  let img = m / P.pos;
  let p = m % P.pos;
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < P.N) {
      if (P.write_acc != 0u) { ACC[m * P.N + n] = acc[j]; }
      var y = f32(acc[j]) * P.sx * WS[n];
      if (P.has_bias != 0u) { y += BIAS[n]; }
      Y[(img * P.N + n) * P.pos + p] = y;
    }
  }
}

@compute @workgroup_size({{WG}})
fn gemm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let m0 = (t / P.tiles_n) * TM;
  let n0 = (t % P.tiles_n) * TN;
{{ACC_DECL}}
  var iw = n0 / 4u;
  let row_step = P.dil * P.Wp * P.C4;
  let col_step = P.dil * P.C4;
  for (var ky = 0u; ky < P.KH; ky++) {
    for (var kx = 0u; kx < P.KW; kx++) {
      let ko = ky * row_step + kx * col_step;
      for (var c4 = 0u; c4 < P.C4; c4++) {
        let o = ko + c4;
{{K_STEP}}
        iw += P.ldw4;
      }
    }
  }
{{STORE}}
}
