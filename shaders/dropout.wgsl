// dropout.wgsl: the dropout mask, M[i] = 0 with probability p, else 1 / (1 - p).
//
// Random bits come from a counter-based hash (PCG) of (seed, i), so a mask is reproducible
// from its seed and needs no state on the GPU.
// Bindings: 0 M (write), 1 uniform P { n, seed, p, scale }.

struct Params { n: u32, seed: u32, p: f32, scale: f32 }

@group(0) @binding(0) var<storage, read_write> M: array<f32>;
@group(0) @binding(1) var<uniform> P: Params;

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  let r = f32(pcg(pcg(i) ^ P.seed) >> 8u) / 16777216.0;
  M[i] = select(P.scale, 0.0, r < P.p);
}
