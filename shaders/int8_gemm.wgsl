// int8_gemm.wgsl: the register-tiled int8 matrix product behind QuantizedLinear and
// QuantizedConv2d (src/tensor/ops/int8.ts), with the input quantization and the patch gather
// (im2col) done in int8.
//
// Loop budget (src/gpu/loops.ts): gemm loops K4 times per invocation; the host refuses K past
// llvmpipe's 65,535 steps (K4 + 16 <= 65,535).
//
// Operands are int8, four to a u32 (byte 0 = the lowest k), stored "K-major" so one vec4u load
// brings the same packed word of 4 consecutive rows:
//   XT[w · ldx + m] = packed X[m, 4w .. 4w+3]   (ldx a multiple of 4·TM/4 ≥ M; rows ≥ M unused)
//   WT[w · ldw + n] = packed W[n, 4w .. 4w+3]   (ldw a multiple of TN ≥ N; zero past N)
// Entries:
//   patches:   XF (f32 [N, C, H, W]) → XT: row m = (img, oy, ox), k = (c·KH + ky)·KW + kx of the
//              conv geometry (invocations: ldx/4 row groups × ceil(K4 / CHUNK) chunks); q = clamp(round(x · inv_sx), −127, 127) (0 outside the image and for
//              k ≥ K). A Linear's [M, K] input is the geometry C = K, H = W = KH = KW = OH = OW = 1.
//              A NaN x gives 0 and is reported through FLAGS (lib/flags.wgsl, code 4: sample img,
//              the layer's label id).
//   transpose: packed row-major R [rows, K4] (bound as XR) → RT [K4][ld] (written to XT),
//              zero past rows.
//   gemm:      each invocation a TM×TN block: ACC = Σ_w dot4(XT[w, m], WT[w, n]) in i32 (exact);
//              Y = f32(ACC)·sx·WS[n] + BIAS[n], stored at (m / pos)·N·pos + n·pos + m % pos
//              (pos = 1: row-major [M, N]; pos = OH·OW: a conv's NCHW output); ACC [M, N]
//              row-major only when write_acc = 1.
// The block is unrolled by the host (llvmpipe keeps indexed arrays in memory): ACC_DECL declares
// the vec4i accumulators c_<row>_<col4>, K_STEP loads TM/4 vec4u of XT and TN/4 of WT and
// accumulates (the unpacking path sign-extends each byte once per load and multiplies vec4i;
// the builtin path calls dot4I8Packed per output), STORE writes through store4().
// Bindings: 0 XF (read, f32), 1 XR (read, u32), 2 WT (read, vec4u), 3 WS (read, f32 [N]),
//           4 BIAS (read, f32 [N]; bind anything when has_bias = 0), 5 XT (read_write, vec4u:
//           written by patches/transpose, read by gemm), 6 ACC (read_write, i32), 7 Y (read_write,
//           f32), 8 FLAGS (read_write, the error flags), 9 uniform P.

struct Params {
  M: u32, N: u32, K: u32, K4: u32,
  ldx4: u32, ldw4: u32, tiles_n: u32, has_bias: u32,
  write_acc: u32, pos: u32, sx: f32, inv_sx: f32,
  label: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OW: u32, stride: u32,
  pad: u32, dil: u32, total: u32,
}

@group(0) @binding(0) var<storage, read> XF: array<f32>;
@group(0) @binding(1) var<storage, read> XR: array<u32>;
@group(0) @binding(2) var<storage, read> WT: array<vec4u>;
@group(0) @binding(3) var<storage, read> WS: array<f32>;
@group(0) @binding(4) var<storage, read> BIAS: array<f32>;
@group(0) @binding(5) var<storage, read_write> XT: array<vec4u>;
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
    Y[0] = XF[0] + f32(XR[0] + WT[0].x + XT[0].x) + WS[0] + BIAS[0] + f32(ACC[0]) +
      f32(atomicLoad(&FLAGS[0]));
  }
}

// the sign-extended byte b of each lane
fn bytes(v: vec4u, b: u32) -> vec4i {
  return bitcast<vec4i>(v << vec4u(24u - 8u * b)) >> vec4u(24u);
}

// reports the NaN inputs among 4 rows (the value is quantized to 0)
fn report_nan(nan: vec4<bool>, img: vec4u) {
  for (var r = 0u; r < 4u; r++) {
    if (nan[r]) { report_index(4u, i32(img[r]), P.label); }
  }
}

// Invocation t: rows m0 .. m0+3 (one vec4u of XT) and the CHUNK packed words from w0 (the last
// chunk may be shorter). k = (c·KH + ky)·KW + kx walks by counters, so the (slow, scalarised)
// integer divisions are done once per invocation, not per value.
const CHUNK: u32 = 16u;
@compute @workgroup_size({{WG}})
fn patches(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let m0 = (t % P.ldx4) * 4u;
  let w0 = (t / P.ldx4) * CHUNK;
  let m = vec4u(m0, m0 + 1u, m0 + 2u, m0 + 3u);
  let live = m < vec4u(P.M);
  let img = min(m, vec4u(P.M - 1u)) / P.pos;
  let p = min(m, vec4u(P.M - 1u)) % P.pos;
  let iy0 = vec4i(p / P.OW * P.stride) - i32(P.pad);
  let ix0 = vec4i(p % P.OW * P.stride) - i32(P.pad);
  let base = img * P.C * P.H * P.W;
  let kk = P.KH * P.KW;
  let k_start = w0 * 4u;
  let k_end = min(P.K, (w0 + CHUNK) * 4u);
  var c = k_start / kk;
  var ky = (k_start % kk) / P.KW;
  var kx = k_start % P.KW;
  var word = vec4u(0u);
  var at = w0 * P.ldx4 + m0 / 4u;
  for (var k = k_start; k < k_end; k++) {
    let iy = iy0 + i32(ky * P.dil);
    let ix = ix0 + i32(kx * P.dil);
    let inside = live & (iy >= vec4i(0)) & (iy < vec4i(i32(P.H))) & (ix >= vec4i(0)) & (ix < vec4i(i32(P.W)));
    let off = base + (c * P.H) * P.W + bitcast<vec4u>(iy * i32(P.W) + ix);
    let o = select(vec4u(0u), off, inside);
    let xv = vec4f(XF[o.x], XF[o.y], XF[o.z], XF[o.w]);
    let nan = inside & ((bitcast<vec4u>(xv) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u));
    if (any(nan)) { report_nan(nan, img); }
    let qi = vec4i(clamp(round(xv * P.inv_sx), vec4f(-127.0), vec4f(127.0)));
    let q = select(vec4u(0u), bitcast<vec4u>(qi) & vec4u(0xffu), inside & !nan);
    let sh = 8u * (k % 4u);
    word |= q << vec4u(sh);
    if (sh == 24u) {
      XT[at] = word;
      word = vec4u(0u);
      at += P.ldx4;
    }
    kx++;
    if (kx == P.KW) {
      kx = 0u;
      ky++;
      if (ky == P.KH) {
        ky = 0u;
        c++;
      }
    }
  }
  if (k_end % 4u != 0u) { XT[at] = word; }
}

@compute @workgroup_size({{WG}})
fn transpose(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let w = t / P.ldx4;
  let m0 = (t % P.ldx4) * 4u;
  var v = vec4u(0u);
  for (var r = 0u; r < 4u; r++) {
    if (m0 + r < P.M) { v[r] = XR[(m0 + r) * P.K4 + w]; }
  }
  XT[w * P.ldx4 + m0 / 4u] = v;
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
  var ix = m0 / 4u;
  var iw = n0 / 4u;
  for (var w = 0u; w < P.K4; w++) {
{{K_STEP}}
    ix += P.ldx4;
    iw += P.ldw4;
  }
{{STORE}}
}
