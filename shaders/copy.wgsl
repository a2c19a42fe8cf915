// copy.wgsl: strided copy, the one kernel behind permute, transpose, expand (broadcast), slice,
// concat and the padded packing that feeds matmul.
//
// For each index (i0..i{rank-1}) of the copy's shape:
//   DST[dst_off + sum(i_d * dst_stride_d)] = SRC[src_off + sum(i_d * src_stride_d)]
// Constants: T, the element type (f32 or i32); RANK, the number of dimensions (1..8), a
// constant so the index loop unrolls.
// Bindings: 0 SRC (read), 1 DST (write),
//           2 uniform P { n, rank, src_off, dst_off, shape[8], src strides[8], dst strides[8] }.

struct Params {
  n: u32, rank: u32, src_off: u32, dst_off: u32,
  shape: array<vec4u, 2>,
  ss: array<vec4u, 2>,
  ds: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> SRC: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> DST: array<{{T}}>;
@group(0) @binding(2) var<uniform> P: Params;

// #include "lib/strided.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  var s = P.src_off;
  var t = P.dst_off;
  var rem = i;
  for (var d = {{RANK}} - 1; d >= 0; d--) {
    let n = dim(P.shape, u32(d));
    let idx = rem % n;
    rem = rem / n;
    s += idx * dim(P.ss, u32(d));
    t += idx * dim(P.ds, u32(d));
  }
  DST[t] = SRC[s];
}
