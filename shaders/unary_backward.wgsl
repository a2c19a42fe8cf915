// unary_backward.wgsl: gradient of an elementwise op, gx = g * f'(x) (or f' written with y = f(x)).
//
// Constants: DERIV, a WGSL expression in x, y, a, b giving f' at this element;
//            T (f32 or vec4f) and APPLY as in unary.wgsl.
// Bindings: 0 X = input (read), 1 Y = forward output (read), 2 G = upstream gradient (read),
//           3 GX (write), 4 uniform P { n (in units of T), a, b }.
// `defineUnary` (src/tensor/define.ts) passes its derivative expression as DERIV.

struct Params { n: u32, a: f32, b: f32 }

@group(0) @binding(0) var<storage, read> X: array<{{T}}>;
@group(0) @binding(1) var<storage, read> Y: array<{{T}}>;
@group(0) @binding(2) var<storage, read> G: array<{{T}}>;
@group(0) @binding(3) var<storage, read_write> GX: array<{{T}}>;
@group(0) @binding(4) var<uniform> P: Params;

// #include "lib/math.wgsl"

fn deriv(x: f32, y: f32, a: f32, b: f32) -> f32 {
  return {{DERIV}};
}

fn apply(x: {{T}}, y: {{T}}, a: f32, b: f32) -> {{T}} {
  return {{APPLY}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  GX[i] = G[i] * apply(X[i], Y[i], P.a, P.b);
}
