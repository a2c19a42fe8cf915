// int8.wgsl: quantizing a float matrix to packed int8 rows (`quantizeInput`). The quantized
// layers and `int8Matmul` run on shaders/int8_gemm.wgsl (register-tiled, implicit conv GEMM).
//
// Values are int8, four to a u32 (byte 0 = the lowest element index), rows padded with zeros to
// a multiple of 4 (K4 = ceil(K / 4) words per row).
//   quantize: XF [M, K] f32 → packed X [M, K4] (written to ACC as bits):
//             q = clamp(round(x · inv_sx), −127, 127) (round half to even; symmetric, narrow range);
//             a NaN x gives 0 and is reported (below)
// A NaN input has no int8 value (WGSL leaves the conversion of NaN undefined): quantize writes 0
// for it and reports it through FLAGS (lib/flags.wgsl, code 4: the sample, row / per_sample, and
// the layer's label id), which the host reads with its next readback and turns into an error.
// Bindings (some unused since the matrix product moved to int8_gemm.wgsl): 0 X, 1 W (read,
//           packed u32), 2 WS, 3 BIAS (read, f32), 4 XF (read, f32: the input), 5 ACC (read_write:
//           the packed output), 6 Y (read_write, f32; bind anything),
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
