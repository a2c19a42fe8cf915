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

// A quiet NaN made at run time (a NaN constant expression is a shader-creation error in WGSL).
fn nan_f32() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// +Inf made at run time (for the same reason).
fn inf_f32() -> f32 {
  var bits = 0x7f800000u;
  return bitcast<f32>(bits);
}

// NaN test on the bits (WGSL lets a compiler assume x == x, so `x != x` is not a safe test).
fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// x^a with PyTorch's semantics: a negative base gives a real result only for an integer
// exponent (its sign from the exponent's parity) and NaN otherwise; x^0 = 1 for every x
// and 0^a is 0 for a > 0 and +Inf for a < 0 (WGSL's pow(x, a) is undefined for x < 0, and for
// x = 0 with a <= 0).
fn powf(x: f32, a: f32) -> f32 {
  if (a == 0.0) { return 1.0; }
  if (x == 0.0) { return select(inf_f32(), 0.0, a > 0.0); }
  if (x < 0.0) {
    if (fract(a) != 0.0) { return nan_f32(); }
    let m = pow(-x, a);
    return select(m, -m, (i32(a) % 2) != 0);
  }
  return pow(x, a);
}

// d/dx x^a = a * x^(a-1), and 0 where a = 0 (as PyTorch: x^0 is constant, even at x = 0).
fn powf_deriv(x: f32, a: f32) -> f32 {
  if (a == 0.0) { return 0.0; }
  return a * powf(x, a - 1.0);
}
