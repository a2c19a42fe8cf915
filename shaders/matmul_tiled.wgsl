// matmul_tiled.wgsl: batched C = A·B (+ bias) for a real GPU: the "gpu" kernel path of mm()
// (src/tensor/ops/matmul.ts; kernelPath() in src/gpu/device.ts picks it). shaders/matmul.wgsl is
// the "cpu" path (large register tiles, no workgroup memory) for software adapters.
//
// Classic workgroup-memory tiling: a workgroup of 16×16 invocations computes a 64×64 tile of C,
// each invocation 4×4 outputs (rows ty + 16·i, columns tx + 16·j, so neighbouring invocations
// read neighbouring words of workgroup memory and write neighbouring words of C). K advances in
// steps of 16: the workgroup stages a 16×64 slice of A and of B in workgroup memory (4 elements
// per invocation each, zero past M, N or K), waits at a barrier, does 16 rank-1 updates, and
// waits again before the next slice overwrites the staged one.
//
// Operands are read where they lie, through strides (no packing copy): for batch b,
//   A[m, k] = A[b*sab + k*sak + m*sam],  B[k, n] = B[b*sbb + k*sbk + n*sbn]
// (a batch stride of 0 broadcasts). A_KFAST / B_KFAST (0 or 1) say which index the staging loads
// walk fastest across invocations: k when the operand is contiguous along k (e.g. a row-major A),
// else m or n, so that neighbouring invocations load neighbouring words of global memory.
// C is [batch][M][N] row-major, plus bias per column (BIAS = 1) or per row (BIAS = 2).
// Loop budget (src/gpu/loops.ts): K/16 steps per invocation; the inner loops have constant
// counts (unrolled).
// Grid: workgroups (tiles_n, tiles_m, batch).
// Constants: WG (= 256), BIAS, A_KFAST, B_KFAST.
// Bindings: 0 A (read), 1 B (read), 2 BIAS (read; bind anything when BIAS = 0), 3 C (write),
//           4 uniform P { M, N, K, sab, sak, sam, sbb, sbk, sbn }.

struct Params {
  M: u32, N: u32, K: u32, sab: u32,
  sak: u32, sam: u32, sbb: u32, sbk: u32,
  sbn: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read> BIAS: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

const HAS_BIAS: u32 = {{BIAS}}u;
const A_KFAST: u32 = {{A_KFAST}}u;
const B_KFAST: u32 = {{B_KFAST}}u;
const TILE: u32 = 64u; // outputs per workgroup along M and along N
const BK: u32 = 16u; // K per staged slice
const LOADS: u32 = TILE * BK / {{WG}}u; // elements each invocation stages per operand (4)

var<workgroup> As: array<f32, 1024>; // [BK][TILE]: As[k * TILE + m]
var<workgroup> Bs: array<f32, 1024>; // [BK][TILE]: Bs[k * TILE + n]

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % 16u;
  let ty = lid / 16u;
  let b = wid.z;
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let abase = b * P.sab;
  let bbase = b * P.sbb;

  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; }
  }

  for (var k0 = 0u; k0 < P.K; k0 += BK) {
    for (var r = 0u; r < LOADS; r++) {
      let e = lid + r * {{WG}}u;
      // A slice: (kk, mm) with kk in [0, 16), mm in [0, 64)
      var kk = e / TILE;
      var mm = e % TILE;
      if (A_KFAST == 1u) {
        kk = e % BK;
        mm = e / BK;
      }
      let m = m0 + mm;
      let ka = k0 + kk;
      var av = 0.0;
      if (m < P.M && ka < P.K) { av = A[abase + ka * P.sak + m * P.sam]; }
      As[kk * TILE + mm] = av;
      // B slice: (kk, nn)
      var kb = e / TILE;
      var nn = e % TILE;
      if (B_KFAST == 1u) {
        kb = e % BK;
        nn = e / BK;
      }
      let n = n0 + nn;
      let kg = k0 + kb;
      var bv = 0.0;
      if (n < P.N && kg < P.K) { bv = B[bbase + kg * P.sbk + n * P.sbn]; }
      Bs[kb * TILE + nn] = bv;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var a: array<f32, 4>;
      var bb: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[k * TILE + ty + 16u * i]; }
      for (var j = 0u; j < 4u; j++) { bb[j] = Bs[k * TILE + tx + 16u * j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], bb[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }

  let cb = b * P.M * P.N;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    if (m < P.M) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + tx + 16u * j;
        if (n < P.N) {
          var out = acc[i][j];
          if (HAS_BIAS == 1u) { out += BIAS[n]; }
          if (HAS_BIAS == 2u) { out += BIAS[m]; }
          C[cb + m * P.N + n] = out;
        }
      }
    }
  }
}
