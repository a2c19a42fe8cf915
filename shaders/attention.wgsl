// attention.wgsl: fused scaled dot-product attention for GPUs (the "gpu" kernel family, see
// kernelPath() in src/gpu/device.ts), O = softmax(Q·Kᵀ·scale, masked)·V, and its gradients,
// without ever storing the [L, S] score matrix. One query row (or key row, in bwd_kv) per
// invocation; a workgroup owns WG consecutive rows of one head and stages TILE key/value rows
// (query/dO rows in bwd_kv) at a time in workgroup memory, so each row loaded from storage is
// read by all WG invocations. Software adapters (llvmpipe) run attention_rows.wgsl instead
// (several rows per invocation in registers, no workgroup memory, no barriers).
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
// Entry points (forward, bwd_q, bwd_kv: WG invocations per block of WG rows of one head,
// workgroup w = n·blocks + block; weights: one invocation per query row (n, i)):
//   forward: a single pass over the keys with a running maximum (online softmax): the scores
//            of 1e4 do not overflow. Writes O to OUT1 and the row's log-sum-exp to STATS[r].
//            A row whose every key is masked gets NaN (as PyTorch).
//   weights: the attention weights P[n, i, j] = exp(s − lse) (exactly 0 where masked; NaN in a row
//            whose every key is masked) into WEIGHTS, only when a caller asks for them (both
//            kernel families use this entry).
//   bwd_q:   delta_i = dO_i·O_i into STATS[N·L + r] (O read from OUT2), and
//            dQ_i = scale · Σ_j P_ij (dO_i·V_j − delta_i) K_j into OUT1.
//   bwd_kv:  dV_j = Σ_i P_ij dO_i and dK_j = scale · Σ_i P_ij (dO_i·V_j − delta_i) Q_i into OUT1
//            (dK) and OUT2 (dV); runs after bwd_q (it reads delta). No atomics: each invocation
//            owns its key row and loops over the queries.
// Every probability is recomputed from Q, K and the saved log-sum-exp (as FlashAttention does).
// Rows are read and written as vec4s (head sizes are multiples of 4); the per-row vectors live
// in registers as arrays of D/4 vec4s.
// Constants: WG, D4 (query/key head size / 4), DV4 (value head size / 4), TILE (rows per
//   workgroup-memory tile: TILE·(D4 + DV4) vec4s plus 2·TILE floats fit in 16 KiB).
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
const TILE = {{TILE}}u; // rows per workgroup-memory tile

// the staged tile: key and value rows (forward, bwd_q) or query and dO rows with their lse and
// delta (bwd_kv)
var<workgroup> T1: array<vec4f, TILE * D4>;
var<workgroup> T2: array<vec4f, TILE * DV4>;
var<workgroup> T3: array<f32, TILE>;
var<workgroup> T4: array<f32, TILE>;

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

// stages rows [t0, t0 + TILE) of A (D4 vec4s each) into T1 and of B (DV4 each) into T2: rows
// past `count` are left as they were (never read)
fn stage_rows(base1: u32, base2: u32, t0: u32, count: u32, lid: u32, from_q: bool) {
  for (var e = lid; e < TILE * D4; e += {{WG}}u) {
    let row = t0 + e / D4;
    if (row < count) {
      let at = (base1 + row) * D4 + e % D4;
      if (from_q) { T1[e] = Q[at]; } else { T1[e] = K[at]; }
    }
  }
  for (var e = lid; e < TILE * DV4; e += {{WG}}u) {
    let row = t0 + e / DV4;
    if (row < count) {
      let at = (base2 + row) * DV4 + e % DV4;
      if (from_q) { T2[e] = DO[at]; } else { T2[e] = V[at]; }
    }
  }
}

@compute @workgroup_size({{WG}})
fn forward(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
) {
  bind_all();
  let blocks = (P.L + {{WG}}u - 1u) / {{WG}}u;
  let w = wid.x + wid.y * nw.x;
  if (w >= P.N * blocks) { return; }
  let n = w / blocks;
  let i = (w % blocks) * {{WG}}u + lid;
  let valid = i < P.L;
  let r = n * P.L + min(i, P.L - 1u);
  var q: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { q[c] = Q[r * D4 + c] * P.scale; }
  var acc: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { acc[c] = vec4f(0.0); }
  var m = 0.0;
  var l = 0.0;
  var seen = false;
  let jend = key_end(min(i, P.L - 1u));
  // the keys any row of this block may see (uniform over the workgroup)
  let block_end = key_end(min((w % blocks) * {{WG}}u + {{WG}}u - 1u, P.L - 1u));
  for (var t0 = 0u; t0 < block_end; t0 += TILE) {
    workgroupBarrier();
    stage_rows(n * P.S, n * P.S, t0, P.S, lid, false);
    workgroupBarrier();
    for (var jj = 0u; jj < min(TILE, block_end - t0); jj++) {
      let j = t0 + jj;
      if (!valid || j >= jend) { continue; }
      let b = bias(n, i, j);
      if (masked(b)) { continue; }
      var s = b;
      for (var c = 0u; c < D4; c++) { s += dot(q[c], T1[jj * D4 + c]); }
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
      for (var c = 0u; c < DV4; c++) { acc[c] += p * T2[jj * DV4 + c]; }
    }
  }
  if (!valid) { return; }
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
fn bwd_q(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
) {
  bind_all();
  let blocks = (P.L + {{WG}}u - 1u) / {{WG}}u;
  let w = wid.x + wid.y * nw.x;
  if (w >= P.N * blocks) { return; }
  let n = w / blocks;
  let i = (w % blocks) * {{WG}}u + lid;
  let valid = i < P.L;
  let r = n * P.L + min(i, P.L - 1u);
  var q: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { q[c] = Q[r * D4 + c] * P.scale; }
  var dout: array<vec4f, DV4>;
  var delta = 0.0;
  for (var c = 0u; c < DV4; c++) {
    dout[c] = DO[r * DV4 + c];
    delta += dot(dout[c], OUT2[r * DV4 + c]);
  }
  if (valid) { STATS[P.N * P.L + r] = delta; }
  let lse = STATS[r];
  var dq: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { dq[c] = vec4f(0.0); }
  let jend = key_end(min(i, P.L - 1u));
  let block_end = key_end(min((w % blocks) * {{WG}}u + {{WG}}u - 1u, P.L - 1u));
  for (var t0 = 0u; t0 < block_end; t0 += TILE) {
    workgroupBarrier();
    stage_rows(n * P.S, n * P.S, t0, P.S, lid, false);
    workgroupBarrier();
    for (var jj = 0u; jj < min(TILE, block_end - t0); jj++) {
      let j = t0 + jj;
      if (!valid || j >= jend) { continue; }
      let b = bias(n, i, j);
      if (masked(b)) { continue; }
      var s = b;
      for (var c = 0u; c < D4; c++) { s += dot(q[c], T1[jj * D4 + c]); }
      var dp = 0.0;
      for (var c = 0u; c < DV4; c++) { dp += dot(dout[c], T2[jj * DV4 + c]); }
      let ds = exp(s - lse) * (dp - delta);
      for (var c = 0u; c < D4; c++) { dq[c] += ds * T1[jj * D4 + c]; }
    }
  }
  if (!valid) { return; }
  for (var c = 0u; c < D4; c++) { OUT1[r * D4 + c] = dq[c] * P.scale; }
}

@compute @workgroup_size({{WG}})
fn bwd_kv(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
) {
  bind_all();
  let blocks = (P.S + {{WG}}u - 1u) / {{WG}}u;
  let w = wid.x + wid.y * nw.x;
  if (w >= P.N * blocks) { return; }
  let n = w / blocks;
  let j0 = (w % blocks) * {{WG}}u;
  let j = j0 + lid;
  let valid = j < P.S;
  let r = n * P.S + min(j, P.S - 1u);
  var k: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { k[c] = K[r * D4 + c] * P.scale; }
  var v: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { v[c] = V[r * DV4 + c]; }
  var dk: array<vec4f, D4>;
  for (var c = 0u; c < D4; c++) { dk[c] = vec4f(0.0); }
  var dv: array<vec4f, DV4>;
  for (var c = 0u; c < DV4; c++) { dv[c] = vec4f(0.0); }
  // a causal key j is seen only by queries i >= j: the block starts at its first key
  let istart = select(0u, min(j0, P.L), P.causal != 0u);
  for (var t0 = istart; t0 < P.L; t0 += TILE) {
    workgroupBarrier();
    stage_rows(n * P.L, n * P.L, t0, P.L, lid, true);
    for (var e = lid; e < TILE; e += {{WG}}u) {
      if (t0 + e < P.L) {
        T3[e] = STATS[n * P.L + t0 + e];
        T4[e] = STATS[P.N * P.L + n * P.L + t0 + e];
      }
    }
    workgroupBarrier();
    for (var ii = 0u; ii < min(TILE, P.L - t0); ii++) {
      let i = t0 + ii;
      if (!valid || (P.causal != 0u && i < j)) { continue; }
      let b = bias(n, i, j);
      if (masked(b)) { continue; }
      var s = b;
      for (var c = 0u; c < D4; c++) { s += dot(T1[ii * D4 + c], k[c]); }
      let p = exp(s - T3[ii]);
      var dp = 0.0;
      for (var c = 0u; c < DV4; c++) {
        let g = T2[ii * DV4 + c];
        dv[c] += p * g;
        dp += dot(g, v[c]);
      }
      let ds = p * (dp - T4[ii]);
      for (var c = 0u; c < D4; c++) { dk[c] += ds * T1[ii * D4 + c]; }
    }
  }
  if (!valid) { return; }
  for (var c = 0u; c < D4; c++) { OUT1[r * D4 + c] = dk[c] * P.scale; }
  for (var c = 0u; c < DV4; c++) { OUT2[r * DV4 + c] = dv[c]; }
}
