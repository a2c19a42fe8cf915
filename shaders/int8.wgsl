// int8.wgsl: int8 matrix products for quantized dense (and, after im2col, conv) layers.
//
// Loop budget (src/gpu/loops.ts): the dot loops K/4 times; refused past K = 262,076 on llvmpipe.
//
// Values are int8, four to a u32 (byte 0 = the lowest element index), rows padded with zeros to
// a multiple of 4 (K4 = ceil(K / 4) words per row).
//   quantize: XF [M, K] f32 → packed X [M, K4] (written to ACC as bits):
//             q = clamp(round(x · inv_sx), −127, 127) (round half to even; symmetric, narrow range);
//             a NaN x gives 0 and is reported (below)
//   linear:   (a 4×4 block of outputs per invocation) ACC[m, n] = Σ_k X[m, k]·W[n, k] in i32 (exact), and
//             Y[m, n] = f32(ACC)·sx·WS[n] + BIAS[n] (requantized to float: one scale for the
//             input, one per output channel for the weights).
// DOT is the 4-way dot product: WGSL's dot4I8Packed where the adapter has the
// packed_4x8_integer_dot_product feature, otherwise `dot4_unpack` (sign-extending shifts); both
// give the same i32.
// A NaN input has no int8 value (WGSL leaves the conversion of NaN undefined): quantize writes 0
// for it and reports it through FLAGS (lib/flags.wgsl, code 4: the sample, row / per_sample, and
// the layer's label id), which the host reads with its next readback and turns into an error.
// Bindings: 0 X (read, packed u32), 1 W (read, packed u32), 2 WS (read, f32 [N]), 3 BIAS (read,
//           f32 [N]; bind anything when has_bias = 0), 4 XF (read, f32; bind anything for
//           linear), 5 ACC (read_write, i32), 6 Y (read_write, f32; bind anything for quantize),
//           7 FLAGS (read_write, the error flags),
//           8 uniform P { M, N, K, K4, has_bias, sx, inv_sx, label, per_sample }.

struct Params {
  M: u32, N: u32, K: u32, K4: u32, has_bias: u32, sx: f32, inv_sx: f32, label: u32, per_sample: u32,
}

@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> WS: array<f32>;
@group(0) @binding(3) var<storage, read> BIAS: array<f32>;
@group(0) @binding(4) var<storage, read> XF: array<f32>;
@group(0) @binding(5) var<storage, read_write> ACC: array<i32>;
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;
@group(0) @binding(7) var<storage, read_write> FLAGS: array<atomic<u32>, 4>;
@group(0) @binding(8) var<uniform> P: Params;

// #include "lib/math.wgsl"

// #include "lib/flags.wgsl"

// Every entry names every binding once, so one bind group layout serves both.
fn bind_all() {
  if (P.M == 0xffffffffu) {
    Y[0] = f32(X[0] + W[0]) + WS[0] + BIAS[0] + XF[0] + f32(ACC[0]) + f32(atomicLoad(&FLAGS[0]));
  }
}

// byte i of a as a signed value
fn sbyte(a: u32, i: u32) -> i32 {
  return bitcast<i32>(a << (24u - 8u * i)) >> 24u;
}

fn dot4_unpack(a: u32, b: u32) -> i32 {
  return sbyte(a, 0u) * sbyte(b, 0u) + sbyte(a, 1u) * sbyte(b, 1u) + sbyte(a, 2u) * sbyte(b, 2u) +
    sbyte(a, 3u) * sbyte(b, 3u);
}

fn dot4(a: u32, b: u32) -> i32 {
  return {{DOT}}(a, b);
}

@compute @workgroup_size({{WG}})
fn quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.M * P.K4) { return; }
  let m = t / P.K4;
  let k0 = (t % P.K4) * 4u;
  var word = 0u;
  for (var i = 0u; i < 4u; i++) {
    var q = 0;
    if (k0 + i < P.K) {
      let x = XF[m * P.K + k0 + i];
      if (is_nan(x)) {
        report_index(4u, i32(m / P.per_sample), P.label);
      } else {
        q = i32(clamp(round(x * P.inv_sx), -127.0, 127.0));
      }
    }
    word |= (bitcast<u32>(q) & 0xffu) << (8u * i);
  }
  ACC[t] = bitcast<i32>(word);
}

// Each invocation computes a 4×4 block of outputs: per packed word of K it loads 4 words of X
// and 4 of W and does 16 four-way dot products (each load serves 4 of them).
@compute @workgroup_size({{WG}})
fn linear(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  let bn = (P.N + 3u) / 4u;
  if (t >= ((P.M + 3u) / 4u) * bn) { return; }
  let m0 = (t / bn) * 4u;
  let n0 = (t % bn) * 4u;
  // rows past the edge read row M−1 (or N−1) and are never stored
  let mr = vec4u(min(m0, P.M - 1u), min(m0 + 1u, P.M - 1u), min(m0 + 2u, P.M - 1u), min(m0 + 3u, P.M - 1u)) * P.K4;
  let nr = vec4u(min(n0, P.N - 1u), min(n0 + 1u, P.N - 1u), min(n0 + 2u, P.N - 1u), min(n0 + 3u, P.N - 1u)) * P.K4;
  var a0 = vec4i(0);
  var a1 = vec4i(0);
  var a2 = vec4i(0);
  var a3 = vec4i(0);
  for (var w = 0u; w < P.K4; w++) {
    let x = vec4u(X[mr.x + w], X[mr.y + w], X[mr.z + w], X[mr.w + w]);
    let y = vec4u(W[nr.x + w], W[nr.y + w], W[nr.z + w], W[nr.w + w]);
    a0 += vec4i(dot4(x.x, y.x), dot4(x.x, y.y), dot4(x.x, y.z), dot4(x.x, y.w));
    a1 += vec4i(dot4(x.y, y.x), dot4(x.y, y.y), dot4(x.y, y.z), dot4(x.y, y.w));
    a2 += vec4i(dot4(x.z, y.x), dot4(x.z, y.y), dot4(x.z, y.z), dot4(x.z, y.w));
    a3 += vec4i(dot4(x.w, y.x), dot4(x.w, y.y), dot4(x.w, y.z), dot4(x.w, y.w));
  }
  store(m0, n0, a0);
  store(m0 + 1u, n0, a1);
  store(m0 + 2u, n0, a2);
  store(m0 + 3u, n0, a3);
}

// one row of a 4×4 block: the accumulators and the requantized outputs that are inside [M, N]
fn store(m: u32, n0: u32, acc: vec4i) {
  if (m >= P.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n >= P.N) { return; }
    let at = m * P.N + n;
    ACC[at] = acc[j];
    var y = f32(acc[j]) * P.sx * WS[n];
    if (P.has_bias != 0u) { y += BIAS[n]; }
    Y[at] = y;
  }
}
