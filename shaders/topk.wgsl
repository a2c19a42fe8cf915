// topk.wgsl: the k best entries of each row of a matrix [R, C], with their column indices.
//
// One pass: each invocation takes one chunk of L candidates of one row and keeps its k best in
// a sorted private list (insertion, early rejection against the current k-th), writing k
// (value, index) pairs. The launcher repeats the pass on those pairs (R rows of nchunks * k
// candidates) until one chunk remains per row, so only R * k numbers are ever read back.
// Order: LARGEST picks the largest values first, otherwise the smallest. Ties go to the lower
// index. NaN ranks above every number (first when LARGEST, last otherwise), as in PyTorch.
// An invocation scans at most 256 candidates (lavapipe silently stops an invocation after about
// 65,536 loop steps), so k <= 128 bounds its work.
// A chunk with fewer than k candidates pads with index 0xffffffff, which loses to everything.
// Constants: KMAX, the private list's length (k rounded up; k <= KMAX); LARGEST, true or false.
// Bindings: 0 XV (read, candidate values, R * C), 1 XI (read, their indices; ignored unless
//           has_idx, when the index is the column), 2 OV (write, R * nchunks * k),
//           3 OI (write, i32, the same), 4 uniform P { R, C, L, nchunks, k, has_idx }.

struct Params { R: u32, C: u32, L: u32, nchunks: u32, k: u32, has_idx: u32 }

@group(0) @binding(0) var<storage, read> XV: array<f32>;
@group(0) @binding(1) var<storage, read> XI: array<u32>;
@group(0) @binding(2) var<storage, read_write> OV: array<f32>;
@group(0) @binding(3) var<storage, read_write> OI: array<u32>;
@group(0) @binding(4) var<uniform> P: Params;

const KMAX: u32 = {{KMAX}}u;
const LARGEST: bool = {{LARGEST}};
const NONE: u32 = 0xffffffffu;

// #include "lib/math.wgsl"

// whether (va, ia) ranks before (vb, ib)
fn better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  if (ib == NONE) { return ia != NONE; }
  if (ia == NONE) { return false; }
  let na = is_nan(va);
  let nb = is_nan(vb);
  if (na || nb) {
    if (na && nb) { return ia < ib; }
    return select(nb, na, LARGEST);
  }
  if (va == vb) { return ia < ib; }
  return select((va < vb), (va > vb), LARGEST);
}

@compute @workgroup_size({{WG}})
fn partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let j = gid.x + gid.y * nw.x * {{WG}}u;
  if (j >= P.R * P.nchunks) { return; }
  let r = j / P.nchunks;
  let c = j % P.nchunks;
  var bv: array<f32, KMAX>;
  var bi: array<u32, KMAX>;
  let k = P.k;
  var count = 0u;
  let start = c * P.L;
  let end = min(start + P.L, P.C);
  for (var col = start; col < end; col++) {
    let v = XV[r * P.C + col];
    var i = col;
    if (P.has_idx != 0u) { i = XI[r * P.C + col]; }
    if (i == NONE) { continue; }
    if (count == k && !better(v, i, bv[k - 1u], bi[k - 1u])) { continue; }
    // insert, shifting worse entries down (the last one drops off when full)
    var p = min(count, k - 1u);
    while (p > 0u && better(v, i, bv[p - 1u], bi[p - 1u])) {
      bv[p] = bv[p - 1u];
      bi[p] = bi[p - 1u];
      p--;
    }
    bv[p] = v;
    bi[p] = i;
    count = min(count + 1u, k);
  }
  let out = j * k;
  for (var t = 0u; t < k; t++) {
    if (t < count) {
      OV[out + t] = bv[t];
      OI[out + t] = bi[t];
    } else {
      OV[out + t] = 0.0;
      OI[out + t] = NONE;
    }
  }
}
