// where.wgsl: Z = C != 0 ? A : B elementwise, with NumPy broadcasting of all three, up to 8
// dimensions (PyTorch's where; a NaN or Inf in the branch not taken does not leak).
//
// Constants: TC, the condition's element type (f32 or i32); RANK, the number of (coalesced)
// dimensions, a constant so the index loop unrolls.
// Bindings: 0 C (read), 1 A (read), 2 B (read), 3 Z (write),
//           4 uniform P { n, rank, out shape[8], c strides[8], a strides[8], b strides[8] }
//           (stride 0 = broadcast).

struct Params {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  shape: array<vec4u, 2>,
  sc: array<vec4u, 2>,
  sa: array<vec4u, 2>,
  sb: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> C: array<{{TC}}>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Z: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

// #include "lib/strided.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  var ic = 0u;
  var ia = 0u;
  var ib = 0u;
  var rem = i;
  for (var d = {{RANK}} - 1; d >= 0; d--) {
    let s = dim(P.shape, u32(d));
    let idx = rem % s;
    rem = rem / s;
    ic += idx * dim(P.sc, u32(d));
    ia += idx * dim(P.sa, u32(d));
    ib += idx * dim(P.sb, u32(d));
  }
  Z[i] = select(B[ib], A[ia], C[ic] != {{TC}}(0));
}
