// attention.wgsl: fused scaled dot-product attention, O = softmax(Q·Kᵀ·scale, masked)·V, and its
// gradients, without ever storing the [L, S] score matrix.
//
// Loop budget (src/gpu/loops.ts): an invocation loops over the keys (twice for weights) or the
// queries, so on llvmpipe the host composes attention from matmul and softmax instead past
// 32,759 keys or 65,519 queries (and refuses kernel: "fused" there).
//
// Shapes (row-major, contiguous): Q [N, L, D], K [N, S, D], V [N, S, DV], O and dO [N, L, DV],
// N the flattened leading dims (batch × heads). MASK is additive, as PyTorch's float attn_mask: the score
// of query i and key j is Q_i·K_j·scale + M_ij with M_ij = MASK[(n·mask_rows + (mask_rows == 1 ? 0 : i))·S + j]
// (0 without a mask); query i may attend to key j when (causal == 0 || j <= i) and M_ij is not −∞ (tested
// on its bits, so no fast-math assumption can drop it). Boolean masks arrive as 0 / −∞.
// mask_rows is 0 (no mask), 1 (one row of S per n, e.g. key padding) or L (a full [L, S] per n).
//
// Entry points (one invocation per query row (n, i), or per key row (n, j) for bwd_kv):
//   forward: a single pass over the keys with a running maximum (online softmax): the scores
//            of 1e4 do not overflow. Writes O to OUT1 and the row's log-sum-exp to STATS[r].
//            A row whose every key is masked gets NaN (as PyTorch).
//   weights: the attention weights P[n, i, j] = exp(s − lse) (exactly 0 where masked; NaN in a row
//            whose every key is masked) into WEIGHTS, only when a caller asks for them.
//   bwd_q:   delta_i = dO_i·O_i into STATS[N·L + r] (O read from OUT2), and
//            dQ_i = scale · Σ_j P_ij (dO_i·V_j − delta_i) K_j into OUT1.
//   bwd_kv:  dV_j = Σ_i P_ij dO_i and dK_j = scale · Σ_i P_ij (dO_i·V_j − delta_i) Q_i into OUT1
//            (dK) and OUT2 (dV); runs after bwd_q (it reads delta). No atomics: each invocation
//            owns its key row and loops over the queries.
// Every probability is recomputed from Q, K and the saved log-sum-exp (as FlashAttention does).
// Rows are read and written as vec4s (head sizes are multiples of 4); the per-row vectors live
// in registers as arrays of D/4 vec4s.
// Constants: WG, D4 (query/key head size / 4), DV4 (value head size / 4).
// Bindings: 0 Q, 1 K, 2 V (vec4), 3 MASK (f32, additive; bind anything when mask_rows = 0), 4 DO (vec4;
//           bind anything for forward/weights), 5 STATS (read_write, [2·N·L]: lse, then delta),
//           6 OUT1, 7 OUT2 (read_write, vec4), 8 WEIGHTS (read_write, f32),
//           9 uniform P { N, L, S, causal, mask_rows, scale }.

struct Params { N: u32, L: u32, S: u32, causal: u32, mask_rows: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;
@group(0) @binding(1) var<storage, read> K: array<vec4f>;
@group(0) @binding(2) var<storage, read> V: array<vec4f>;
@group(0) @binding(3) var<storage, read> MASK: array<f32>;
@group(0) @binding(4) var<storage, read> DO: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(6) var<storage, read_write> OUT1: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> OUT2: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> WEIGHTS: array<f32>;
@group(0) @binding(9) var<uniform> P: Params;

const D4 = {{D4}}u;   // D / 4: the head size in vec4s
const DV4 = {{DV4}}u; // DV / 4

// #include "lib/math.wgsl"

// Every entry names every binding once, so one bind group layout serves all four.
fn bind_all() {
  if (P.N == 0xffffffffu) {
    OUT2[0] = Q[0] + K[0] + V[0] + DO[0] + OUT1[0] + vec4f(MASK[0] + STATS[0] + WEIGHTS[0]);
  }
}

fn index(gid: vec3u, nw: vec3u) -> u32 {
  return gid.x + gid.y * nw.x * {{WG}}u;
}

// the additive mask M_ij (0 without a mask)
fn bias(n: u32, i: u32, j: u32) -> f32 {
  if (P.mask_rows == 0u) { return 0.0; }
  let row = select(i, 0u, P.mask_rows == 1u);
  return MASK[(n * P.mask_rows + row) * P.S + j];
}

// −∞ by its bits: the masked keys
fn masked(b: f32) -> bool {
  return bitcast<u32>(b) == 0xff800000u;
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
  var q: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { q[c] = Q[r * D4 + c] * P.scale; }
  var acc: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { acc[c] = vec4f(0.0); }
  var m = 0.0;
  var l = 0.0;
  var seen = false;
  for (var j = 0u; j < key_end(i); j++) {
    let b = bias(n, i, j);
    if (masked(b)) { continue; }
    let kb = (n * P.S + j) * D4;
    var s = b;
    for (var c = 0u; c < D4; c++) { s += dot(q[c], K[kb + c]); }
    if (!seen) {
      m = s;
      seen = true;
    } else if (s > m) {
      let shrink = exp(m - s);
      l *= shrink;
      for (var c = 0u; c < DV4; c++) { acc[c] *= shrink; }
      m = s;
    }
    let p = exp(s - m);
    l += p;
    let vb = (n * P.S + j) * DV4;
    for (var c = 0u; c < DV4; c++) { acc[c] += p * V[vb + c]; }
  }
  if (!seen) {
    for (var c = 0u; c < DV4; c++) { OUT1[r * DV4 + c] = vec4f(nan_f32()); }
    STATS[r] = nan_f32();
    return;
  }
  let inv = 1.0 / l;
  for (var c = 0u; c < DV4; c++) { OUT1[r * DV4 + c] = acc[c] * inv; }
  STATS[r] = m + log(l);
}

@compute @workgroup_size({{WG}})
fn weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.L) { return; }
  let n = r / P.L;
  let i = r % P.L;
  var q: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { q[c] = Q[r * D4 + c] * P.scale; }
  let lse = STATS[r];
  // a row with every key masked has lse NaN: its weights are NaN (as PyTorch's softmax of all −∞)
  let none = is_nan(lse);
  for (var j = 0u; j < P.S; j++) {
    var p = select(0.0, nan_f32(), none);
    let b = bias(n, i, j);
    if (j < key_end(i) && !masked(b)) {
      let kb = (n * P.S + j) * D4;
      var s = b;
      for (var c = 0u; c < D4; c++) { s += dot(q[c], K[kb + c]); }
      p = exp(s - lse);
    }
    WEIGHTS[r * P.S + j] = p;
  }
}

@compute @workgroup_size({{WG}})
fn bwd_q(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.L) { return; }
  let n = r / P.L;
  let i = r % P.L;
  var q: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { q[c] = Q[r * D4 + c] * P.scale; }
  var dout: array<vec4f, DV4>;
  var delta = 0.0;
  for (var c = 0u; c < DV4; c++) {
    dout[c] = DO[r * DV4 + c];
    delta += dot(dout[c], OUT2[r * DV4 + c]);
  }
  STATS[P.N * P.L + r] = delta;
  let lse = STATS[r];
  var dq: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { dq[c] = vec4f(0.0); }
  for (var j = 0u; j < key_end(i); j++) {
    let b = bias(n, i, j);
    if (masked(b)) { continue; }
    let kb = (n * P.S + j) * D4;
    let vb = (n * P.S + j) * DV4;
    var s = b;
    for (var c = 0u; c < D4; c++) { s += dot(q[c], K[kb + c]); }
    var dp = 0.0;
    for (var c = 0u; c < DV4; c++) { dp += dot(dout[c], V[vb + c]); }
    let ds = exp(s - lse) * (dp - delta);
    for (var c = 0u; c < D4; c++) { dq[c] += ds * K[kb + c]; }
  }
  for (var c = 0u; c < D4; c++) { OUT1[r * D4 + c] = dq[c] * P.scale; }
}

@compute @workgroup_size({{WG}})
fn bwd_kv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let r = index(gid, nw);
  if (r >= P.N * P.S) { return; }
  let n = r / P.S;
  let j = r % P.S;
  var k: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { k[c] = K[r * D4 + c]; }
  var v: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { v[c] = V[r * DV4 + c]; }
  var dk: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { dk[c] = vec4f(0.0); }
  var dv: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { dv[c] = vec4f(0.0); }
  // a causal key j is seen only by queries i >= j
  for (var i = select(0u, j, P.causal != 0u); i < P.L; i++) {
    let b = bias(n, i, j);
    if (masked(b)) { continue; }
    let qr = n * P.L + i;
    var s = b;
    for (var c = 0u; c < D4; c++) { s += dot(Q[qr * D4 + c] * P.scale, k[c]); }
    let p = exp(s - STATS[qr]);
    var dp = 0.0;
    for (var c = 0u; c < DV4; c++) {
      let g = DO[qr * DV4 + c];
      dv[c] += p * g;
      dp += dot(g, v[c]);
    }
    let ds = p * (dp - STATS[P.N * P.L + qr]);
    for (var c = 0u; c < D4; c++) { dk[c] += ds * Q[qr * D4 + c]; }
  }
  for (var c = 0u; c < D4; c++) { OUT1[r * D4 + c] = dk[c] * P.scale; }
  for (var c = 0u; c < DV4; c++) { OUT2[r * DV4 + c] = dv[c]; }
}
