// layer_norm.wgsl: layer normalisation over the last C elements of each of R rows, and its
// gradients (PyTorch's F.layer_norm: biased variance, eps inside the square root).
//
// Loop budget (src/gpu/loops.ts): forward and bwd_x walk a row three times and bwd_wb walks R
// rows, so past llvmpipe's 65,535 steps the host composes layer norm from reductions instead.
//
//   forward: mean and rstd = 1/sqrt(var + eps) per row (two passes over the row: the mean, from
//            sums shifted by the row's first element, then the squared deviations, so a large
//            mean does not cancel the variance);
//            Y = (X − mean)·rstd·W + B into OUT1; (x0, mean − x0, rstd) into STATS[3r..3r + 2].
//   bwd_x:   per row, with x̂ = (X − mean)·rstd and h = G·W:
//            dX = rstd·(h − mean(h) − x̂·mean(h·x̂)) into OUT1.
//   bwd_wb:  per column c: dW[c] = Σ_r G·x̂ into OUT1, dB[c] = Σ_r G into OUT2.
// One invocation per row (per column for bwd_wb), no workgroup memory or barriers.
// flags: bit 0 W is given, bit 1 B is given (otherwise 1 and 0).
// Bindings: 0 X, 1 W, 2 B, 3 G (read; bind anything when unused), 4 STATS (read_write, [3R]),
//           5 OUT1 (read_write), 6 OUT2 (read_write), 7 uniform P { R, C, flags, eps }.

struct Params { R: u32, C: u32, flags: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(5) var<storage, read_write> OUT1: array<f32>;
@group(0) @binding(6) var<storage, read_write> OUT2: array<f32>;
@group(0) @binding(7) var<uniform> P: Params;

// Every entry names every binding once, so one bind group layout serves all three.
fn bind_all() {
  if (P.R == 0xffffffffu) {
    OUT2[0] = X[0] + W[0] + B[0] + G[0] + STATS[0] + OUT1[0];
  }
}

fn weight(c: u32) -> f32 {
  return select(1.0, W[c], (P.flags & 1u) != 0u);
}

fn bias(c: u32) -> f32 {
  return select(0.0, B[c], (P.flags & 2u) != 0u);
}

fn index(gid: vec3u, nw: vec3u) -> u32 {
  return gid.x + gid.y * nw.x * {{WG}}u;
}

@compute @workgroup_size({{WG}})
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.R) { return; }
  let base = r * P.C;
  // shifted by the row's first element x0: x − mean = (x − x0) − m with m = mean(x − x0), and
  // both terms are small, so a mean of 1e4 (which float32 rounds to 1e-3) loses no digits
  let x0 = X[base];
  var s = 0.0;
  for (var c = 0u; c < P.C; c++) { s += X[base + c] - x0; }
  let m = s / f32(P.C);
  var v = 0.0;
  for (var c = 0u; c < P.C; c++) {
    let d = (X[base + c] - x0) - m;
    v += d * d;
  }
  let rstd = 1.0 / sqrt(v / f32(P.C) + P.eps);
  for (var c = 0u; c < P.C; c++) {
    OUT1[base + c] = ((X[base + c] - x0) - m) * rstd * weight(c) + bias(c);
  }
  STATS[3u * r] = x0;
  STATS[3u * r + 1u] = m;
  STATS[3u * r + 2u] = rstd;
}

// x̂ of element c of row r, from the saved shift, shifted mean and rstd
fn xhat(r: u32, c: u32) -> f32 {
  return ((X[r * P.C + c] - STATS[3u * r]) - STATS[3u * r + 1u]) * STATS[3u * r + 2u];
}

@compute @workgroup_size({{WG}})
fn bwd_x(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.R) { return; }
  let base = r * P.C;
  let rstd = STATS[3u * r + 2u];
  var sh = 0.0;
  var shx = 0.0;
  for (var c = 0u; c < P.C; c++) {
    let h = G[base + c] * weight(c);
    sh += h;
    shx += h * xhat(r, c);
  }
  let mh = sh / f32(P.C);
  let mhx = shx / f32(P.C);
  for (var c = 0u; c < P.C; c++) {
    OUT1[base + c] = rstd * (G[base + c] * weight(c) - mh - xhat(r, c) * mhx);
  }
}

@compute @workgroup_size({{WG}})
fn bwd_wb(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let c = index(gid, nw);
  if (c >= P.C) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var r = 0u; r < P.R; r++) {
    let g = G[r * P.C + c];
    dw += g * xhat(r, c);
    db += g;
  }
  OUT1[c] = dw;
  OUT2[c] = db;
}
