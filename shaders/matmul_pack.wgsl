// matmul_pack.wgsl: packs a strided [batch][K][X] view into matmul's layout "x"
// ([batch][K][ld], x contiguous, ld = 4·xq >= X, zeros past X), for shaders/matmul.wgsl; with
// PANEL4 > 0, into panels of 4·PANEL4 along x instead ([batch][xq / PANEL4][K][4·PANEL4], xq a
// multiple of PANEL4), the layout of matmul.wgsl's A_PANEL / B_PANEL.
//
// One invocation writes one vec4 of the output (4 consecutive x of one k) from 4 reads of
//   SRC[b*sb + k*sk + x*sx].
// KFAST = 1 numbers the invocations k fastest: for a view contiguous along k (a transposed
// operand, sk = 1) neighbouring invocations then read neighbouring words; KFAST = 0 numbers them
// x fastest (a view contiguous along x whose rows need re-pitching). The generic strided copy
// (copy.wgsl) did the same work one element per invocation with its index arithmetic, at
// 0.1-0.5 GB/s on llvmpipe for these shapes.
// VEC4 = 1 (a view contiguous along k with K, sb and sx multiples of 4: x of a dense layer,
// row-major [X][K]) transposes 4×4 blocks instead: one invocation reads 4 vec4 along k (4 x)
// through SRC4, the same buffer as SRC, and writes 4 vec4 along x (4 k), numbered k fastest; the
// 16 per-lane scalar loads of the path above become 4 vec4 loads (on llvmpipe every per-lane
// load is a gather, whatever its width).
// Constants: WG, KFAST, PANEL4 (0: rows of ld), VEC4.
// Bindings: 0 SRC (read), 1 DST (write, vec4), 2 SRC4 (read, vec4: SRC again),
//           3 uniform P { K, X, xq, sb, sk, sx, total } (with VEC4, total counts 4×4 blocks).

struct Params {
  K: u32, X: u32, xq: u32, sb: u32,
  sk: u32, sx: u32, total: u32,
}

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read_write> DST: array<vec4f>;
@group(0) @binding(2) var<storage, read> SRC4: array<vec4f>;
@group(0) @binding(3) var<uniform> P: Params;

const PANEL4: u32 = {{PANEL4}}u;
// the panels' divisor, never 0: Tint (Chromium) refuses `q / 0u` even in the branch PANEL4 = 0 skips
const PANEL_DIV: u32 = max(PANEL4, 1u);

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  if ({{VEC4}}u == 1u) {
    block4(i);
    return;
  }
  var k: u32;
  var q: u32;
  var b: u32;
  if ({{KFAST}}u == 1u) {
    k = i % P.K;
    let r = i / P.K;
    q = r % P.xq;
    b = r / P.xq;
  } else {
    q = i % P.xq;
    let r = i / P.xq;
    k = r % P.K;
    b = r / P.K;
  }
  let base = b * P.sb + k * P.sk;
  let x0 = q * 4u;
  var v = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (x0 + c < P.X) { v[c] = SRC[base + (x0 + c) * P.sx]; }
  }
  store(b, k, q, v);
}

fn store(b: u32, k: u32, q: u32, v: vec4f) {
  if (PANEL4 == 0u) {
    DST[(b * P.K + k) * P.xq + q] = v;
  } else {
    // panels of PANEL4 vec4 along x: [batch][xq / PANEL4][K][PANEL4]
    DST[((b * (P.xq / PANEL_DIV) + q / PANEL_DIV) * P.K + k) * PANEL_DIV + q % PANEL_DIV] = v;
  }
}

// VEC4: the 4×4 block of k 4·k4 .. 4·k4 + 3 and x 4·q .. 4·q + 3 (sk = 1).
fn block4(i: u32) {
  let K4 = P.K / 4u;
  let k4 = i % K4;
  let r = i / K4;
  let q = r % P.xq;
  let b = r / P.xq;
  let base = (b * P.sb) / 4u + k4;
  let x0 = q * 4u;
  var col: array<vec4f, 4>;
  for (var c = 0u; c < 4u; c++) {
    col[c] = vec4f(0.0);
    if (x0 + c < P.X) { col[c] = SRC4[base + (x0 + c) * (P.sx / 4u)]; }
  }
  for (var kk = 0u; kk < 4u; kk++) {
    store(b, k4 * 4u + kk, q, vec4f(col[0][kk], col[1][kk], col[2][kk], col[3][kk]));
  }
}
