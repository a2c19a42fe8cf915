// binary.wgsl: elementwise z = f(a, b) with NumPy broadcasting, up to 8 dimensions.
//
// Constants: OP, a WGSL expression in a and b (e.g. `a + b`, `pow(a, b)`);
//            BCAST, 0 when a and b have the output's shape (flat indexing), 1 for strided broadcast;
//            RANK, the number of (coalesced) dimensions, a constant so the index loop unrolls;
//            T, f32, or vec4f for flat indexing over a length that is a multiple of 4 (four
//            elements per invocation); APPLY, `op(a, b)` per component (filled in by kernels.ts).
// Bindings: 0 A (read), 1 B (read), 2 Z (write),
//           3 uniform P { n (in units of T), rank, out shape[8], a strides[8], b strides[8] }
//           (stride 0 = broadcast).
// `defineBinary` (src/tensor/define.ts) passes its forward expression as OP (and each partial
// derivative as the OP of a second launch, multiplied by the upstream gradient in a third).

struct Params {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  shape: array<vec4u, 2>,
  sa: array<vec4u, 2>,
  sb: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> A: array<{{T}}>;
@group(0) @binding(1) var<storage, read> B: array<{{T}}>;
@group(0) @binding(2) var<storage, read_write> Z: array<{{T}}>;
@group(0) @binding(3) var<uniform> P: Params;

// #include "lib/strided.wgsl"

// #include "lib/math.wgsl"

fn op(a: f32, b: f32) -> f32 {
  return {{OP}};
}

fn apply(a: {{T}}, b: {{T}}) -> {{T}} {
  return {{APPLY}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  var ia = i;
  var ib = i;
  if ({{BCAST}} == 1) {
    ia = 0u;
    ib = 0u;
    var rem = i;
    for (var d = {{RANK}} - 1; d >= 0; d--) {
      let s = dim(P.shape, u32(d));
      let idx = rem % s;
      rem = rem / s;
      ia += idx * dim(P.sa, u32(d));
      ib += idx * dim(P.sb, u32(d));
    }
  }
  Z[i] = apply(A[ia], B[ib]);
}
