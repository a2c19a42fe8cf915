// lib/strided.wgsl: reading the packed shape and stride arrays of the strided kernels (binary,
// copy, where): up to 8 dimensions stored as array<vec4u, 2>.

fn dim(v: array<vec4u, 2>, d: u32) -> u32 {
  return v[d / 4u][d % 4u];
}
