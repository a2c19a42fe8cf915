// attention.wgsl: fused scaled dot-product attention, O = softmax(Q·Kᵀ·scale, masked)·V, and its
// gradients, without ever storing the [L, S] score matrix.
//
// Shapes (row-major, contiguous): Q [N, L, D], K [N, S, D], V [N, S, DV], O and dO [N, L, DV],
// N the flattened leading dims (batch × heads). Query i may attend to key j when
//   (causal == 0 || j <= i) && (mask_rows == 0 || MASK[(n·mask_rows + (mask_rows == 1 ? 0 : i))·S + j] != 0)
// mask_rows is 0 (no mask), 1 (one row of S per n, e.g. key padding) or L (a full [L, S] per n).
//
// Entry points (one invocation per query row (n, i), or per key row (n, j) for bwd_kv):
//   forward: a single pass over the keys with a running maximum (online softmax): the scores
//            of 1e4 do not overflow. Writes O to OUT1 and the row's log-sum-exp to STATS[r].
//            A row whose every key is masked gets NaN (as PyTorch).
//   weights: the attention weights P[n, i, j] = exp(s − lse) (exactly 0 where masked) into OUT1,
//            only when a caller asks for them.
//   bwd_q:   delta_i = dO_i·O_i into STATS[N·L + r] (O read from OUT2), and
//            dQ_i = scale · Σ_j P_ij (dO_i·V_j − delta_i) K_j into OUT1.
//   bwd_kv:  dV_j = Σ_i P_ij dO_i and dK_j = scale · Σ_i P_ij (dO_i·V_j − delta_i) Q_i into OUT1
//            (dK) and OUT2 (dV); runs after bwd_q (it reads delta). No atomics: each invocation
//            owns its key row and loops over the queries.
// Every probability is recomputed from Q, K and the saved log-sum-exp (as FlashAttention does).
// Constants: WG, D (query/key head size), DV (value head size).
// Bindings: 0 Q, 1 K, 2 V, 3 MASK (f32; bind anything when mask_rows = 0), 4 DO (read; bind
//           anything for forward/weights), 5 STATS (read_write, [2·N·L]: lse, then delta),
//           6 OUT1 (read_write), 7 OUT2 (read_write), 8 uniform P { N, L, S, causal, mask_rows, scale }.

struct Params { N: u32, L: u32, S: u32, causal: u32, mask_rows: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read> MASK: array<f32>;
@group(0) @binding(4) var<storage, read> DO: array<f32>;
@group(0) @binding(5) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(6) var<storage, read_write> OUT1: array<f32>;
@group(0) @binding(7) var<storage, read_write> OUT2: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

// #include "lib/math.wgsl"

// Every entry names every binding once, so one bind group layout serves all four.
fn bind_all() {
  if (P.N == 0xffffffffu) {
    OUT2[0] = Q[0] + K[0] + V[0] + MASK[0] + DO[0] + STATS[0] + OUT1[0];
  }
}

fn index(gid: vec3u, nw: vec3u) -> u32 {
  return gid.x + gid.y * nw.x * {{WG}}u;
}

fn allowed(n: u32, i: u32, j: u32) -> bool {
  if (P.causal != 0u && j > i) { return false; }
  if (P.mask_rows == 0u) { return true; }
  let row = select(i, 0u, P.mask_rows == 1u);
  return MASK[(n * P.mask_rows + row) * P.S + j] != 0.0;
}

// the keys a query row may look at: [0, S), or [0, min(S, i + 1)) when causal
fn key_end(i: u32) -> u32 {
  return select(P.S, min(P.S, i + 1u), P.causal != 0u);
}

@compute @workgroup_size({{WG}})
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.L) { return; }
  let n = r / P.L;
  let i = r % P.L;
  var q: array<f32, {{D}}>;
  for (var c = 0u; c < {{D}}u; c++) { q[c] = Q[r * {{D}}u + c] * P.scale; }
  var acc: array<f32, {{DV}}>;
  for (var c = 0u; c < {{DV}}u; c++) { acc[c] = 0.0; }
  var m = 0.0;
  var l = 0.0;
  var seen = false;
  for (var j = 0u; j < key_end(i); j++) {
    if (!allowed(n, i, j)) { continue; }
    let kb = (n * P.S + j) * {{D}}u;
    var s = 0.0;
    for (var c = 0u; c < {{D}}u; c++) { s += q[c] * K[kb + c]; }
    if (!seen) {
      m = s;
      seen = true;
    } else if (s > m) {
      let shrink = exp(m - s);
      l *= shrink;
      for (var c = 0u; c < {{DV}}u; c++) { acc[c] *= shrink; }
      m = s;
    }
    let p = exp(s - m);
    l += p;
    let vb = (n * P.S + j) * {{DV}}u;
    for (var c = 0u; c < {{DV}}u; c++) { acc[c] += p * V[vb + c]; }
  }
  let ob = r * {{DV}}u;
  if (!seen) {
    for (var c = 0u; c < {{DV}}u; c++) { OUT1[ob + c] = nan_f32(); }
    STATS[r] = nan_f32();
    return;
  }
  let inv = 1.0 / l;
  for (var c = 0u; c < {{DV}}u; c++) { OUT1[ob + c] = acc[c] * inv; }
  STATS[r] = m + log(l);
}

@compute @workgroup_size({{WG}})
fn weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.L) { return; }
  let n = r / P.L;
  let i = r % P.L;
  var q: array<f32, {{D}}>;
  for (var c = 0u; c < {{D}}u; c++) { q[c] = Q[r * {{D}}u + c] * P.scale; }
  let lse = STATS[r];
  for (var j = 0u; j < P.S; j++) {
    var p = 0.0;
    if (j < key_end(i) && allowed(n, i, j)) {
      let kb = (n * P.S + j) * {{D}}u;
      var s = 0.0;
      for (var c = 0u; c < {{D}}u; c++) { s += q[c] * K[kb + c]; }
      p = exp(s - lse);
    }
    OUT1[r * P.S + j] = p;
  }
}

@compute @workgroup_size({{WG}})
fn bwd_q(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.L) { return; }
  let n = r / P.L;
  let i = r % P.L;
  var q: array<f32, {{D}}>;
  for (var c = 0u; c < {{D}}u; c++) { q[c] = Q[r * {{D}}u + c] * P.scale; }
  var dout: array<f32, {{DV}}>;
  var delta = 0.0;
  for (var c = 0u; c < {{DV}}u; c++) {
    dout[c] = DO[r * {{DV}}u + c];
    delta += dout[c] * OUT2[r * {{DV}}u + c];
  }
  STATS[P.N * P.L + r] = delta;
  let lse = STATS[r];
  var dq: array<f32, {{D}}>;
  for (var c = 0u; c < {{D}}u; c++) { dq[c] = 0.0; }
  for (var j = 0u; j < key_end(i); j++) {
    if (!allowed(n, i, j)) { continue; }
    let kb = (n * P.S + j) * {{D}}u;
    let vb = (n * P.S + j) * {{DV}}u;
    var s = 0.0;
    for (var c = 0u; c < {{D}}u; c++) { s += q[c] * K[kb + c]; }
    var dp = 0.0;
    for (var c = 0u; c < {{DV}}u; c++) { dp += dout[c] * V[vb + c]; }
    let ds = exp(s - lse) * (dp - delta);
    for (var c = 0u; c < {{D}}u; c++) { dq[c] += ds * K[kb + c]; }
  }
  for (var c = 0u; c < {{D}}u; c++) { OUT1[r * {{D}}u + c] = dq[c] * P.scale; }
}

@compute @workgroup_size({{WG}})
fn bwd_kv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.S) { return; }
  let n = r / P.S;
  let j = r % P.S;
  var k: array<f32, {{D}}>;
  for (var c = 0u; c < {{D}}u; c++) { k[c] = K[r * {{D}}u + c]; }
  var v: array<f32, {{DV}}>;
  for (var c = 0u; c < {{DV}}u; c++) { v[c] = V[r * {{DV}}u + c]; }
  var dk: array<f32, {{D}}>;
  for (var c = 0u; c < {{D}}u; c++) { dk[c] = 0.0; }
  var dv: array<f32, {{DV}}>;
  for (var c = 0u; c < {{DV}}u; c++) { dv[c] = 0.0; }
  // a causal key j is seen only by queries i >= j
  for (var i = select(0u, j, P.causal != 0u); i < P.L; i++) {
    if (!allowed(n, i, j)) { continue; }
    let qr = n * P.L + i;
    var s = 0.0;
    for (var c = 0u; c < {{D}}u; c++) { s += Q[qr * {{D}}u + c] * P.scale * k[c]; }
    let p = exp(s - STATS[qr]);
    var dp = 0.0;
    for (var c = 0u; c < {{DV}}u; c++) {
      let g = DO[qr * {{DV}}u + c];
      dv[c] += p * g;
      dp += g * v[c];
    }
    let ds = p * (dp - STATS[P.N * P.L + qr]);
    for (var c = 0u; c < {{D}}u; c++) { dk[c] += ds * Q[qr * {{D}}u + c]; }
  }
  for (var c = 0u; c < {{D}}u; c++) { OUT1[r * {{D}}u + c] = dk[c] * P.scale; }
  for (var c = 0u; c < {{DV}}u; c++) { OUT2[r * {{DV}}u + c] = dv[c]; }
}
