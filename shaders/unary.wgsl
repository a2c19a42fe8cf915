// unary.wgsl: elementwise y = f(x) over a float32 tensor.
//
// Constants: OP, a WGSL expression in x and the parameters a, b (e.g. `exp(x)`, `x * a + b`);
// it may call the functions of lib/math.wgsl (sigmoid1, tanh1, gelu1, erf1, powf).
//            T, the element type: f32, or vec4f when the length is a multiple of 4 (four elements
//            per invocation, with vec4 loads and stores: much faster on a software adapter);
//            APPLY, `op(v, a, b)` for f32, or the same per component for vec4f (filled in by
//            src/tensor/kernels.ts).
// Bindings: 0 X (read), 1 Y (write), 2 uniform P { n (in units of T), a, b }.
// One invocation per T; the grid may be 2-D when n needs more than 65535 workgroups.
// Ops defined outside the engine run here too: `defineUnary` (src/tensor/define.ts) passes its
// forward expression as OP.

struct Params { n: u32, a: f32, b: f32 }

@group(0) @binding(0) var<storage, read> X: array<{{T}}>;
@group(0) @binding(1) var<storage, read_write> Y: array<{{T}}>;
@group(0) @binding(2) var<uniform> P: Params;

// #include "lib/math.wgsl"

fn op(x: f32, a: f32, b: f32) -> f32 {
  return {{OP}};
}

fn apply(v: {{T}}, a: f32, b: f32) -> {{T}} {
  return {{APPLY}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  Y[i] = apply(X[i], P.a, P.b);
}
