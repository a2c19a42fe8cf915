// unary.wgsl: elementwise y = f(x) over a float32 tensor.
//
// Constants: OP, a WGSL expression in x and the parameters a, b (e.g. `exp(x)`, `x * a + b`).
// Bindings: 0 X (read), 1 Y (write), 2 uniform P { n, a, b }.
// One invocation per element; the grid may be 2-D when n needs more than 65535 workgroups.

struct Params { n: u32, a: f32, b: f32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

// erf with max abs error 1.5e-7 (Abramowitz and Stegun 7.1.26).
fn erf1(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}

fn sigmoid1(x: f32) -> f32 {
  // stable for large |x|
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

fn tanh1(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, x >= 0.0);
}

fn gelu1(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf1(x * 0.7071067811865476));
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
  let a = P.a;
  let b = P.b;
  Y[i] = {{OP}};
}
