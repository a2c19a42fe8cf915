// reduce_backward.wgsl: gradient of max over the middle axis of [O, R, I].
//
// The gradient goes to the element that won (the argmax recorded by the forward pass; the
// first one on ties), zero elsewhere: GX[o, r, i] = (IDX[o, i] == r) ? G[o, i] : 0.
// Bindings: 0 G (read, O*I), 1 IDX (read, i32, O*I), 2 GX (write, O*R*I), 3 uniform P { O, R, I }.

struct Params { O: u32, R: u32, I: u32 }

@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<i32>;
@group(0) @binding(2) var<storage, read_write> GX: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let e = gid.x + gid.y * nw.x * {{WG}}u;
  if (e >= P.O * P.R * P.I) { return; }
  let i = e % P.I;
  let r = (e / P.I) % P.R;
  let o = e / (P.I * P.R);
  let j = o * P.I + i;
  GX[e] = select(0.0, G[j], IDX[j] == i32(r));
}
