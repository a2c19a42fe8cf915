// matmul.wgsl: batched C = A·B (+ bias), the kernel behind Linear, Conv2d and every matmul.
//
// Loop budget (src/gpu/loops.ts): the K loop runs K steps per invocation, so the host sums
// K blocks of 32,768 when K > 64,511 (llvmpipe stops an invocation after 65,535 loop steps).
//
// Both operands are read with vec4 loads, each in one of two layouts chosen by the host:
//   "x" (A_ROWS / B_ROWS = 0), K-major, vec4 along M or N:
//     A as [batch][K][lda] holding A[m, k] at k*lda + m   (lda is a multiple of 4, >= M)
//     B as [batch][K][ldb] holding B[k, n] at k*ldb + n   (ldb is a multiple of 4, >= N)
//   "k" (A_ROWS / B_ROWS = 1), rows of K, vec4 along K:
//     A as [batch][M][lda] holding A[m, k] at m*lda + k   (lda is a multiple of 4, >= K)
//     B as [batch][N][ldb] holding B[k, n] at n*ldb + k   (ldb is a multiple of 4, >= K)
//   "x" in panels (A_PANEL / B_PANEL = 1, with A_ROWS / B_ROWS = 0): layout "x" cut along M (or N)
//     into panels as wide as the tile, each one contiguous stream, lda = TM (ldb = TN):
//     A as [batch][ceil(M / TM)][K][TM] holding A[m, k] at ((m / TM)·K + k)·TM + m % TM
//     B as [batch][ceil(N / TN)][K][TN] holding B[k, n] at ((n / TN)·K + k)·TN + n % TN
//     (the host packs large products so; rows of a 1024-wide matrix are a page apart, and the
//     hardware prefetchers do not follow a stream across pages)
//   C as [batch][M][N] row-major, plus bias per column (BIAS = 1) or per row (BIAS = 2).
// A row-major A (x·Wᵀ's x, a square matmul's A) and Wᵀ are thus read where they lie, not copied.
// With both in "x" one loop step is one k (KS = 1); otherwise a step is 4 k (KS = 4) and the
// last K mod 4 run one at a time (K_TAIL): components past K are never used.
// Columns past M or N inside the padding are computed from whatever is there and never stored.
// A batch stride of 0 broadcasts an operand over the batch.
//
// Each invocation computes a TM×TN block of C with TM*TN/4 vec4 accumulators in registers: on
// a software adapter (llvmpipe) invocations are SIMD lanes, so many FMAs per load and no
// workgroup memory is what is fast (see shared/reference/webgpu-on-llvmpipe.md); on a GPU this
// is a plain register-blocked kernel.
// Constants: WG (workgroup size), TM, TN (multiples of 4), BIAS (0 none, 1 per column n, 2 per row m),
// KS, A_ROWS, B_ROWS, A_PANEL, B_PANEL (above) and the unrolled ACC_DECL, K_STEP, K_TAIL, STORE
// described below.
// Bindings: 0 A (read, vec4), 1 B (read, vec4), 2 BIAS (read; bind anything when BIAS = 0),
//           3 C (write), 4 uniform P { M, N, K, lda4, ldb4, a_batch4, b_batch4, tiles_m, tiles_n, batch }.

struct Params {
  M: u32, N: u32, K: u32, lda4: u32,
  ldb4: u32, a_batch4: u32, b_batch4: u32, tiles_m: u32,
  tiles_n: u32, batch: u32,
}

@group(0) @binding(0) var<storage, read> A: array<vec4f>;
@group(0) @binding(1) var<storage, read> B: array<vec4f>;
@group(0) @binding(2) var<storage, read> BIAS: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const HAS_BIAS: u32 = {{BIAS}}u;
const KS: u32 = {{KS}}u;
const A_ROWS: u32 = {{A_ROWS}}u;
const B_ROWS: u32 = {{B_ROWS}}u;
const A_PANEL: u32 = {{A_PANEL}}u;
const B_PANEL: u32 = {{B_PANEL}}u;

// The TM×TN block is unrolled by the TypeScript side (src/tensor/ops/matmul.ts fills the three
// placeholders below with straight-line code: one vec4 register per accumulator, ACC named
// c_<row>_<col4>), because llvmpipe keeps an indexed array in memory, not in registers.
//   ACC_DECL  declares the accumulators, zeroed
//   K_STEP    loads KS k of A and of B at ia, ib (layout "x": TM/4 and TN/4 vec4 per k; layout
//             "k": TM or TN vec4 rows ar0.., br0.. per step) and does the FMAs
//   K_TAIL    the same for one k, kt = 0 .. K mod 4 - 1, within the rows of the last partial step
//   STORE     writes each accumulator row through store4(), which adds the bias and bounds-checks

fn store4(cb: u32, m: u32, n0: u32, v: vec4f) {
  if (m >= P.M) { return; }
  for (var c = 0u; c < 4u; c++) {
    let n = n0 + c;
    if (n < P.N) {
      var out = v[c];
      if (HAS_BIAS == 1u) { out += BIAS[n]; }
      if (HAS_BIAS == 2u) { out += BIAS[m]; }
      C[cb + m * P.N + n] = out;
    }
  }
}

// Two entry points, the same work: main (64 invocations per workgroup) and small (8), for
// products with few tiles: llvmpipe runs each workgroup on one thread, so a product of up to 64
// tiles (e.g. a dense layer on a batch of 64: 4 × 8 tiles) would otherwise use one CPU core.
@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  tile(gid.x + gid.y * nw.x * {{WG}}u);
}

@compute @workgroup_size({{WG}})
fn small(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  tile(gid.x + gid.y * nw.x * {{WG}}u);
}

// The TM×TN block of C numbered t (batch-major, then rows of tiles).
fn tile(t: u32) {
  let per_batch = P.tiles_m * P.tiles_n;
  if (t >= per_batch * P.batch) { return; }
  let b = t / per_batch;
  let r = t % per_batch;
  let m0 = (r / P.tiles_n) * TM;
  let n0 = (r % P.tiles_n) * TN;

{{ACC_DECL}}
  // the tile's first vec4: in a panel, m0 / TM panels of K·TM floats each lie before it
  var ia = b * P.a_batch4 + select(select(m0 / 4u, (m0 / 4u) * P.K, A_PANEL == 1u), m0 * P.lda4, A_ROWS == 1u);
  var ib = b * P.b_batch4 + select(select(n0 / 4u, (n0 / 4u) * P.K, B_PANEL == 1u), n0 * P.ldb4, B_ROWS == 1u);
  // per step: layout "x" moves KS rows of K, layout "k" one vec4 along K
  let da = select(KS * P.lda4, 1u, A_ROWS == 1u);
  let db = select(KS * P.ldb4, 1u, B_ROWS == 1u);
  let steps = P.K / KS;
  for (var s = 0u; s < steps; s++) {
{{K_STEP}}
    ia += da;
    ib += db;
  }
  if (KS > 1u) {
    for (var kt = 0u; kt < P.K - steps * KS; kt++) {
{{K_TAIL}}
    }
  }

  let cb = b * P.M * P.N;
{{STORE}}
}
