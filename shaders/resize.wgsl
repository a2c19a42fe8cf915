// resize.wgsl: resizing NCHW images (nearest and bilinear, PyTorch's interpolate/Upsample),
// forward and backward, both as gathers (no atomics).
//
// Loop budget (src/gpu/loops.ts): backward walks every output its input pixel feeds; the host
// refuses enlargements past llvmpipe's 65,535 steps per invocation.
//
// Resizing is separable. The host (src/tensor/ops/resize.ts) computes, with PyTorch's sampling
// positions, a table TAB of f32 (indices are exact below 2^24):
//   TAB[4·oy .. 4·oy + 3]             = i0, i1, w0, w1 for output row oy (0 ≤ oy < OH)
//   TAB[col_t + 4·ox .. col_t + 4·ox + 3] the same for output column ox
//   TAB[row_r + 2·iy], TAB[row_r + 2·iy + 1] = [start, end) of the output rows that read input row iy
//   TAB[col_r + 2·ix], ...            the same for input column ix
// Nearest has i1 = i0, w0 = 1, w1 = 0; `linear` is 0 for nearest (only (i0, j0) is read, so an
// infinity stays one) and 1 for bilinear.
//   forward:  Y[p][oy][ox] = Σ_{a,b ∈ {0,1}} wa(oy)·wb(ox)·X[p][ia(oy)][jb(ox)]  (p = n·C + c)
//   backward: DX[p][iy][ix] = Σ over oy in iy's rows, ox in ix's columns of
//             r(oy, iy)·c(ox, ix)·DY[p][oy][ox], where r(oy, iy) = Σ_a [ia(oy) = iy]·wa(oy)
//             (and c likewise): each input cell gathers the output cells that read it.
// Bindings: 0 SRC (read: X forward, DY backward), 1 TAB (read), 2 DST (write), 3 uniform P.
// `total` is the number of DST elements (planes·OH·OW forward, planes·H·W backward).

struct Params {
  H: u32, W: u32, OH: u32, OW: u32,
  total: u32, col_t: u32, row_r: u32, col_r: u32, linear: u32,
}

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read> TAB: array<f32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size({{WG}})
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % P.OW;
  let oy = (i / P.OW) % P.OH;
  let plane = i / (P.OW * P.OH);
  let base = plane * P.H * P.W;
  let r = 4u * oy;
  let c = P.col_t + 4u * ox;
  let i0 = u32(TAB[r]);
  let j0 = u32(TAB[c]);
  if (P.linear == 0u) {
    DST[i] = SRC[base + i0 * P.W + j0];
    return;
  }
  let i1 = u32(TAB[r + 1u]);
  let j1 = u32(TAB[c + 1u]);
  let cw0 = TAB[c + 2u];
  let cw1 = TAB[c + 3u];
  let top = cw0 * SRC[base + i0 * P.W + j0] + cw1 * SRC[base + i0 * P.W + j1];
  let bottom = cw0 * SRC[base + i1 * P.W + j0] + cw1 * SRC[base + i1 * P.W + j1];
  DST[i] = TAB[r + 2u] * top + TAB[r + 3u] * bottom;
}

// The weight with which output position (row or column) at table offset t reads input index k.
fn weight_of(t: u32, k: u32) -> f32 {
  var w = 0.0;
  if (u32(TAB[t]) == k) { w += TAB[t + 2u]; }
  if (u32(TAB[t + 1u]) == k) { w += TAB[t + 3u]; }
  return w;
}

@compute @workgroup_size({{WG}})
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ix = i % P.W;
  let iy = (i / P.W) % P.H;
  let plane = i / (P.W * P.H);
  let base = plane * P.OH * P.OW;
  let rs = u32(TAB[P.row_r + 2u * iy]);
  let re = u32(TAB[P.row_r + 2u * iy + 1u]);
  let cs = u32(TAB[P.col_r + 2u * ix]);
  let ce = u32(TAB[P.col_r + 2u * ix + 1u]);
  var acc = 0.0;
  for (var oy = rs; oy < re; oy++) {
    let wr = weight_of(4u * oy, iy);
    if (wr == 0.0) { continue; }
    var row = 0.0;
    for (var ox = cs; ox < ce; ox++) {
      row += weight_of(P.col_t + 4u * ox, ix) * SRC[base + oy * P.OW + ox];
    }
    acc += wr * row;
  }
  DST[i] = acc;
}
