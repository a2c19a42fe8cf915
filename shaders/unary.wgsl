// unary.wgsl: elementwise y = f(x) over a float32 tensor.
//
// Constants: OP, a WGSL expression in x and the parameters a, b (e.g. `exp(x)`, `x * a + b`);
// it may call the functions of lib/math.wgsl (sigmoid1, tanh1, gelu1, erf1, powf).
// Bindings: 0 X (read), 1 Y (write), 2 uniform P { n, a, b }.
// One invocation per element; the grid may be 2-D when n needs more than 65535 workgroups.

struct Params { n: u32, a: f32, b: f32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

// #include "lib/math.wgsl"

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= P.n) { return; }
  let x = X[i];
  let a = P.a;
  let b = P.b;
  Y[i] = {{OP}};
}
