// attention_rows.wgsl: fused scaled dot-product attention for software adapters (llvmpipe), several
// rows per invocation: O = softmax(Q·Kᵀ·scale, masked)·V and its gradients, without ever storing the
// [L, S] score matrix. The same computation as attention.wgsl (the GPU family: one row per
// invocation, key tiles in workgroup memory); here each invocation owns R query rows (forward,
// bwd_q) or R key rows (bwd_kv) held in registers, so every K/V (or Q/dO) row it loads is used R
// times. On llvmpipe invocations are SIMD lanes and per-lane loads are gathers: FMAs per load is
// what is fast (shared/reference/webgpu-on-llvmpipe.md), as in matmul.wgsl's register tiles.
//
// Shapes (row-major, contiguous): Q [N, L, D], K [N, S, D], V [N, S, DV], O and dO [N, L, DV],
// N the flattened leading dims. MASK is additive (boolean masks arrive as 0 / −∞), laid out as
// [N, mask_rows, S]; MASK_MODE 0 = no mask, 1 = one row per n (key padding), 2 = a row per query.
// Query i may attend to key j when (CAUSAL == 0 || j <= i) and the bias is not −∞ (tested on its
// bits, so no fast-math assumption can drop it). Rows past L (or S) in the last block of a head are
// computed from a clamped row and never stored.
//
// Entry points:
//   forward: R query rows; online softmax over the keys, KT keys per step (one rescale of the
//            accumulators per step, branch-free: a masked key gets weight exactly 0). Writes O to
//            OUT1 and each row's log-sum-exp to STATS[r]; a row whose every key is masked gets NaN
//            (as PyTorch).
//   bwd_q:   R query rows: delta_i = dO_i·O_i into STATS[N·L + r] (O read from OUT2), and
//            dQ_i = scale · Σ_j P_ij (dO_i·V_j − delta_i) K_j into OUT1.
//   bwd_kv:  R key rows: dV_j = Σ_i P_ij dO_i into OUT2 and dK_j = scale · Σ_i P_ij (dO_i·V_j −
//            delta_i) Q_i into OUT1; runs after bwd_q (it reads delta).
// Every probability is recomputed as exp(s − lse) from the saved log-sum-exp (as FlashAttention).
//
// The per-row registers are unrolled by the TypeScript side (src/tensor/ops/attention.ts,
// attentionRowsCode), because llvmpipe keeps an indexed array in memory, not in registers. Names:
// q<r>_<c> (a query row, pre-scaled), k<t>_<c> / v<t>_<c> (loaded key/value rows), a<r>_<c>
// (output accumulators), m<r>, l<r> (running max and sum), g<r>_<c> (dO rows), dq/dk/dv<r>_<c>.
//   FWD_INIT / FWD_STEP / FWD_STORE   the forward's registers, one step of KT keys at j0, the stores
//   BQ_INIT / BQ_STEP / BQ_STORE      bwd_q's, one key j per step
//   KV_INIT / KV_STEP / KV_STORE      bwd_kv's, one query i per step
// Cost of the unrolling: with R = 8 and heads of 16, LLVM takes seconds to compile forward and
// (more) bwd_q and bwd_kv the first time (measured cold, Mesa's shader cache off, on the shared
// 2-core machine under load: ~3 s and ~9 s, against ~0.5 and ~1.5 s for attention.wgsl); Mesa's
// on-disk shader cache keeps them for later processes. R = 4 halves the backward's compile time
// but measured ~1.6x slower kernels.
// Constants: WG, R (rows per invocation), KT (keys per forward step), D4, DV4 (head sizes / 4),
//   CAUSAL (0/1), MASK_MODE (0/1/2), and the nine code blocks above.
// Bindings: 0 Q, 1 K, 2 V (vec4), 3 MASK (f32; bind anything when MASK_MODE = 0), 4 DO (vec4; bind
//           anything for forward), 5 STATS (read_write, [2·N·L]: lse, then delta), 6 OUT1, 7 OUT2
//           (read_write, vec4), 8 uniform P { N, L, S, mask_rows, scale }.

struct Params { N: u32, L: u32, S: u32, mask_rows: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> Q: array<vec4f>;
@group(0) @binding(1) var<storage, read> K: array<vec4f>;
@group(0) @binding(2) var<storage, read> V: array<vec4f>;
@group(0) @binding(3) var<storage, read> MASK: array<f32>;
@group(0) @binding(4) var<storage, read> DO: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> STATS: array<f32>;
@group(0) @binding(6) var<storage, read_write> OUT1: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> OUT2: array<vec4f>;
@group(0) @binding(8) var<uniform> P: Params;

const R = {{R}}u;     // rows per invocation
const KT = {{KT}}u;   // keys per forward step
const D4 = {{D4}}u;   // D / 4
const DV4 = {{DV4}}u; // DV / 4
const CAUSAL = {{CAUSAL}}u;
const MASK_MODE = {{MASK_MODE}}u;
const LOWEST = -3.4028234e38; // the most negative f32: the running max before any key

// #include "lib/math.wgsl"

// Every entry names every binding once, so one bind group layout serves all three.
fn bind_all() {
  if (P.N == 0xffffffffu) {
    OUT2[0] = Q[0] + K[0] + V[0] + DO[0] + OUT1[0] + vec4f(MASK[0] + STATS[0]);
  }
}

fn index(gid: vec3u, nw: vec3u) -> u32 {
  return gid.x + gid.y * nw.x * {{WG}}u;
}

// the additive mask of query row i (clamped into [0, L)) and key j
fn bias(n: u32, i: u32, j: u32) -> f32 {
  let row = select(min(i, P.L - 1u), 0u, MASK_MODE == 1u);
  return MASK[(n * P.mask_rows + row) * P.S + j];
}

// −∞ by its bits: the masked keys
fn masked(b: f32) -> bool {
  return bitcast<u32>(b) == 0xff800000u;
}

@compute @workgroup_size({{WG}})
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let blocks = (P.L + R - 1u) / R;
  let t = index(gid, nw);
  if (t >= P.N * blocks) { return; }
  let n = t / blocks;
  let ib = (t % blocks) * R;
  // a causal block of rows sees the keys before its last row
  let jend = select(P.S, min(P.S, ib + R), CAUSAL == 1u);
{{FWD_INIT}}
  for (var j0 = 0u; j0 < jend; j0 += KT) {
{{FWD_STEP}}
  }
{{FWD_STORE}}
}

@compute @workgroup_size({{WG}})
fn bwd_q(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let blocks = (P.L + R - 1u) / R;
  let t = index(gid, nw);
  if (t >= P.N * blocks) { return; }
  let n = t / blocks;
  let ib = (t % blocks) * R;
  let jend = select(P.S, min(P.S, ib + R), CAUSAL == 1u);
{{BQ_INIT}}
  for (var j = 0u; j < jend; j++) {
{{BQ_STEP}}
  }
{{BQ_STORE}}
}

@compute @workgroup_size({{WG}})
fn bwd_kv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let blocks = (P.S + R - 1u) / R;
  let t = index(gid, nw);
  if (t >= P.N * blocks) { return; }
  let n = t / blocks;
  let jb = (t % blocks) * R;
  // a causal block of keys is seen by the queries from its first key on
  let istart = select(0u, jb, CAUSAL == 1u);
{{KV_INIT}}
  for (var i = istart; i < P.L; i++) {
{{KV_STEP}}
  }
{{KV_STORE}}
}
