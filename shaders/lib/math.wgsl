// lib/math.wgsl: scalar functions shared by the elementwise kernels (included with
// `// #include "lib/math.wgsl"`; the loader pastes this file in place of that line).

// erf with max abs error 1.5e-7 (Abramowitz and Stegun 7.1.26).
fn erf1(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}

// logistic sigmoid, stable for large |x|
fn sigmoid1(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// tanh without overflow for large |x|
fn tanh1(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, x >= 0.0);
}

// GELU, exact form: x * Phi(x)
fn gelu1(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf1(x * 0.7071067811865476));
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
