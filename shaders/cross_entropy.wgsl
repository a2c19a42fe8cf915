// cross_entropy.wgsl: per-row cross-entropy from logits and int32 class targets, and its gradient.
//
// Loop budget (src/gpu/loops.ts): an invocation walks its row three times, so more than about
// 21,800 classes are composed from logSoftmax and gather on the host instead.
//
// With label smoothing e over C classes the target distribution is q = (1 - e)·onehot(t) + e/C, and
//   loss[n] = logsumexp(x[n]) - sum_c q[c]·x[n, c]
//   dx[n, c] = g[n] · (softmax(x[n])[c] - q[c])
// Both are computed relative to the row max m, loss = log sum exp(x - m) - sum_c q[c]·(x[c] - m)
// (q sums to 1), so logits of 1e4 neither overflow nor lose their low digits to m.
// A target outside [0, C) sets error code 1 in FLAGS (reported at the next readback) and the
// row's loss becomes NaN rather than a plausible number.
// Entry points: forward (OUT = loss per row), backward (OUT = dx, G = upstream gradient per row).
// Bindings: 0 X [N, C] (read), 1 T [N] i32 (read), 2 G [N] (read; unused in forward),
//           3 OUT (write), 4 FLAGS (atomic u32 x4), 5 uniform P { N, C, smoothing }.

struct Params { N: u32, C: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> T: array<i32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<storage, read_write> FLAGS: array<atomic<u32>, 4>;
@group(0) @binding(5) var<uniform> P: Params;

// #include "lib/flags.wgsl"
// #include "lib/math.wgsl"

// the row max and log sum exp(x - max)
fn max_lse(base: u32) -> vec2f {
  var m = X[base];
  for (var c = 1u; c < P.C; c++) { m = max(m, X[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < P.C; c++) { s += exp(X[base + c] - m); }
  return vec2f(m, log(s));
}

fn target_of(n: u32) -> i32 {
  let t = T[n];
  if (t < 0 || t >= i32(P.C)) {
    report_index(1u, t, P.C);
    return -1;
  }
  return t;
}

@compute @workgroup_size({{WG}})
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = gid.x + gid.y * nw.x * {{WG}}u;
  if (n >= P.N) { return; }
  let base = n * P.C;
  let t = target_of(n);
  if (t < 0) {
    OUT[n] = nan_f32(); // made at run time: a NaN constant fails to compile in Chromium (Tint)
    return;
  }
  let ml = max_lse(base);
  var sx = 0.0;
  for (var c = 0u; c < P.C; c++) { sx += X[base + c] - ml.x; }
  OUT[n] = ml.y - (1.0 - P.eps) * (X[base + u32(t)] - ml.x) - P.eps / f32(P.C) * sx;
  _ = G[0];
}

@compute @workgroup_size({{WG}})
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let n = gid.x + gid.y * nw.x * {{WG}}u;
  if (n >= P.N) { return; }
  let base = n * P.C;
  let t = target_of(n);
  let ml = max_lse(base);
  let g = G[n];
  for (var c = 0u; c < P.C; c++) {
    var q = P.eps / f32(P.C);
    if (i32(c) == t) { q += 1.0 - P.eps; }
    OUT[base + c] = g * (exp(X[base + c] - ml.x - ml.y) - q);
  }
}
