// gather.wgsl: picking elements along one axis by int32 indices (PyTorch's gather), and its
// gradient; what selects the target class's logit for attribution.
//
// Loop budget (src/gpu/loops.ts): backward loops over J, so past 65,535 the host runs it on
// blocks of 32,768 indices and adds the blocks' gradients.
//
// The input is viewed as [O, D, I] (D the gathered axis), the index and output as [O, J, I]:
//   gather:   Y[o, j, i] = X[o, IDX[o, j, i], i]
//   backward: DX[o, d, i] = sum_j G[o, j, i] · (IDX[o, j, i] == d)   (a gather, no float atomics)
// An index outside [0, D) sets error code 2 in FLAGS (reported at the next readback) and the
// output element becomes NaN.
// Bindings: 0 SRC (read: X forward, G backward), 1 IDX (read, i32), 2 DST (write),
//           3 FLAGS (atomic u32 x4), 4 uniform P { O, D, J, I }.

struct Params { O: u32, D: u32, J: u32, I: u32 }

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<i32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;
@group(0) @binding(3) var<storage, read_write> FLAGS: array<atomic<u32>, 4>;
@group(0) @binding(4) var<uniform> P: Params;

// #include "lib/math.wgsl"

// #include "lib/flags.wgsl"

@compute @workgroup_size({{WG}})
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = gid.x + gid.y * nw.x * {{WG}}u;
  if (n >= P.O * P.J * P.I) { return; }
  let i = n % P.I;
  let o = n / (P.J * P.I);
  let k = IDX[n];
  if (k < 0 || k >= i32(P.D)) {
    report_index(2u, k, P.D);
    DST[n] = nan_f32();
    return;
  }
  DST[n] = SRC[(o * P.D + u32(k)) * P.I + i];
}

@compute @workgroup_size({{WG}})
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = gid.x + gid.y * nw.x * {{WG}}u;
  if (P.O == 0xffffffffu) { atomicAdd(&FLAGS[0], 0u); } // never runs: binds FLAGS for the auto layout
  if (n >= P.O * P.D * P.I) { return; }
  let i = n % P.I;
  let d = i32((n / P.I) % P.D);
  let o = n / (P.D * P.I);
  var acc = 0.0;
  for (var j = 0u; j < P.J; j++) {
    let m = (o * P.J + j) * P.I + i;
    if (IDX[m] == d) { acc += SRC[m]; }
  }
  DST[n] = acc;
}
