// fill.wgsl: sets every element of a buffer to one value.
//
// Constants: T, the element type (f32 or i32).
// Bindings: 0 Y (write), 1 uniform P { n, value } (value's bits are reinterpreted as T).

struct Params { n: u32, value: u32 }

@group(0) @binding(0) var<storage, read_write> Y: array<{{T}}>;
@group(0) @binding(1) var<uniform> P: Params;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  Y[i] = bitcast<{{T}}>(P.value);
}
