// unary_backward.wgsl: gradient of an elementwise op, gx = g * f'(x) (or f' written with y = f(x)).
//
// Constants: DERIV, a WGSL expression in x, y, a, b giving f' at this element.
// Bindings: 0 X = input (read), 1 Y = forward output (read), 2 G = upstream gradient (read),
//           3 GX (write), 4 uniform P { n, a, b }.

struct Params { n: u32, a: f32, b: f32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> GX: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

fn erf1(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}

// d/dx of x * Phi(x) = Phi(x) + x * phi(x)
fn gelu_deriv(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf1(x * 0.7071067811865476));
  let pdf = 0.3989422804014327 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}

// x^a that is defined for negative x when a is an integer (WGSL's pow is not).
fn powf(x: f32, a: f32) -> f32 {
  if (a == 0.0) { return 1.0; }
  let m = pow(abs(x), a);
  if (x < 0.0 && fract(a) == 0.0) {
    return select(m, -m, (i32(a) % 2) != 0);
  }
  return select(m, pow(x, a), x >= 0.0);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * 256u;
  if (i >= P.n) { return; }
  let x = X[i];
  let y = Y[i];
  let a = P.a;
  let b = P.b;
  GX[i] = G[i] * ({{DERIV}});
}
