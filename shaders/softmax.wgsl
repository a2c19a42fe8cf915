// softmax.wgsl: softmax and log-softmax over the middle axis of [O, R, I], and their gradients.
//
// Loop budget (src/gpu/loops.ts): an invocation walks its row three times, so rows past about
// 21,800 are composed from reductions on the host instead (llvmpipe's 65,535 steps).
//
// Numerically stable: the row maximum is subtracted before exp, so inputs of 1e4 do not overflow.
// Entry points (one invocation per row (o, i), looping over R):
//   softmax:      Y = exp(x - max) / sum(exp(x - max))
//   log_softmax:  Y = (x - max) - log(sum(exp(x - max)))
//   softmax_bwd:  GX = Y * (G - sum(G * Y))          (Y is the softmax output)
//   log_softmax_bwd: GX = G - exp(Y) * sum(G)         (Y is the log-softmax output)
// Bindings: 0 X (read; Y for the backward entries), 1 G (read; unused forward, bind anything),
//           2 OUT (write), 3 uniform P { O, R, I }.

struct Params { O: u32, R: u32, I: u32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

fn row_base(gid: vec3u, nw: vec3u, valid: ptr<function, bool>) -> u32 {
  let j = gid.x + gid.y * nw.x * {{WG}}u;
  *valid = j < P.O * P.I;
  let o = j / P.I;
  let i = j % P.I;
  return o * P.R * P.I + i;
}

fn row_max(base: u32) -> f32 {
  var m = X[base];
  for (var r = 1u; r < P.R; r++) { m = max(m, X[base + r * P.I]); }
  return m;
}

@compute @workgroup_size({{WG}})
fn softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  var ok: bool;
  let base = row_base(gid, nw, &ok);
  if (!ok) { return; }
  let m = row_max(base);
  var s = 0.0;
  for (var r = 0u; r < P.R; r++) { s += exp(X[base + r * P.I] - m); }
  let inv = 1.0 / s;
  for (var r = 0u; r < P.R; r++) {
    let k = base + r * P.I;
    OUT[k] = exp(X[k] - m) * inv;
  }
  _ = G[0];
}

@compute @workgroup_size({{WG}})
fn log_softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  var ok: bool;
  let base = row_base(gid, nw, &ok);
  if (!ok) { return; }
  let m = row_max(base);
  var s = 0.0;
  for (var r = 0u; r < P.R; r++) { s += exp(X[base + r * P.I] - m); }
  let ls = log(s);
  for (var r = 0u; r < P.R; r++) {
    let k = base + r * P.I;
    OUT[k] = (X[k] - m) - ls; // not X - (m + ls): that rounds away small differences at large m
  }
  _ = G[0];
}

@compute @workgroup_size({{WG}})
fn softmax_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  var ok: bool;
  let base = row_base(gid, nw, &ok);
  if (!ok) { return; }
  var dot = 0.0;
  for (var r = 0u; r < P.R; r++) {
    let k = base + r * P.I;
    dot += G[k] * X[k];
  }
  for (var r = 0u; r < P.R; r++) {
    let k = base + r * P.I;
    OUT[k] = X[k] * (G[k] - dot);
  }
}

@compute @workgroup_size({{WG}})
fn log_softmax_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  var ok: bool;
  let base = row_base(gid, nw, &ok);
  if (!ok) { return; }
  var s = 0.0;
  for (var r = 0u; r < P.R; r++) { s += G[base + r * P.I]; }
  for (var r = 0u; r < P.R; r++) {
    let k = base + r * P.I;
    OUT[k] = G[k] - exp(X[k]) * s;
  }
}
