// pool.wgsl: 2-D max and average pooling over NCHW, forward and backward.
//
// Loop budget (src/gpu/loops.ts): an invocation walks a window (KH·(KW + 1) steps) or the outputs
// covering it; past llvmpipe's 65,535 steps the host reduces a global window with max/mean
// and refuses any other.
//
//   max_fwd: Y[n][c][oy][ox] = max over the window; IDX records the winner's flat position
//            iy·W + ix in its plane (the first on ties), for the backward pass. A NaN in the
//            window wins (the first NaN), as in PyTorch.
//   max_bwd: DX[n][c][iy][ix] = sum of DY over the windows whose winner is (iy, ix) (a gather).
//   max_bwd_cells, avg_bwd_cells: the same for windows that do not overlap (stride >= kernel on both
//            axes, the common 2×2 stride 2), one invocation per OUTPUT: it writes every input
//            position of its stride cell [oy·SH - PH, oy·SH - PH + SH) × (likewise x), clipped to the
//            image, the last row and column of cells stretched to the image's edge, so each input
//            is written exactly once (DY where it is the winner / inside the window, else 0): no
//            search over covering windows, about one read per output.
//   avg_fwd: Y = mean over the window (padding counts as zeros, as PyTorch's count_include_pad).
//   avg_bwd: DX[iy][ix] = sum of DY / (KH·KW) over the windows that contain (iy, ix).
// Stride and padding are per axis (SH, SW, PH, PW).
// The geometry is also compiled in as constants (src/tensor/ops/conv.ts fills them; one pipeline
// per geometry): index divisions become multiplies and the window and cell loops have constant
// trip counts, which llvmpipe unrolls (a division by a runtime value runs lane by lane there).
// CH, CW: the most rows (columns) a cell spans, the last one stretched.
// Bindings: 0 SRC (read: X forward, DY backward), 1 IDX (i32; read-write), 2 DST (write),
//           3 uniform P.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OH: u32, OW: u32,
  SH: u32, SW: u32, PH: u32, PW: u32, total: u32,
}

const H: u32 = {{H}}u;
const W: u32 = {{W}}u;
const KH: u32 = {{KH}}u;
const KW: u32 = {{KW}}u;
const OH: u32 = {{OH}}u;
const OW: u32 = {{OW}}u;
const SH: u32 = {{SH}}u;
const SW: u32 = {{SW}}u;
const PH: u32 = {{PH}}u;
const PW: u32 = {{PW}}u;
const CH: u32 = {{CH}}u;
const CW: u32 = {{CW}}u;

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read_write> IDX: array<i32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

// #include "lib/math.wgsl"

// The output positions [lo, hi) whose window (size k, this stride and padding) covers input
// position i along one axis of n_out outputs: o·stride - pad <= i < o·stride - pad + k.
fn covering(i: u32, k: u32, n_out: u32, stride: u32, pad: u32) -> vec2u {
  let t = i32(i + pad);
  let s = i32(stride);
  let lo = max(0, (t - i32(k) + s) / s); // ceil((t - k + 1) / stride), t - k + 1 > -stride
  let hi = min(i32(n_out), t / s + 1);
  return vec2u(u32(lo), u32(max(lo, hi)));
}

@compute @workgroup_size({{WG}})
fn max_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % OW;
  let t = i / OW;
  let oy = t % OH;
  let base = (t / OH) * H * W;
  var best = -3.4028234e38;
  var arg = -1;
  // the window row-major, rows and columns outside the image skipped (padding is never a max)
  for (var ky = 0u; ky < KH; ky++) {
    let iy = i32(oy * SH + ky) - i32(PH);
    if (iy < 0 || iy >= i32(H)) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let ix = i32(ox * SW + kx) - i32(PW);
      if (ix < 0 || ix >= i32(W)) { continue; }
      let pos = u32(iy) * W + u32(ix);
      let v = SRC[base + pos];
      if (arg < 0 || (!is_nan(best) && (v > best || is_nan(v)))) { best = v; arg = i32(pos); }
    }
  }
  DST[i] = best;
  IDX[i] = arg;
}

@compute @workgroup_size({{WG}})
fn max_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ix = i % W;
  let iy = (i / W) % H;
  let plane = i / (W * H);
  let pos = i32(iy * W + ix);
  let ry = covering(iy, KH, OH, SH, PH);
  let rx = covering(ix, KW, OW, SW, PW);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    for (var ox = rx.x; ox < rx.y; ox++) {
      let o = (plane * OH + oy) * OW + ox;
      if (IDX[o] == pos) { acc += SRC[o]; }
    }
  }
  DST[i] = acc;
}

// Whether input row (column) `start + d` belongs to the cell of output o along one axis: inside
// the image, and within the stride unless o is the last output (whose cell reaches the edge).
fn in_cell(start: i32, d: u32, stride: u32, o: u32, n_out: u32, n_in: u32) -> bool {
  let v = start + i32(d);
  return v >= 0 && v < i32(n_in) && (d < stride || o + 1u == n_out);
}

@compute @workgroup_size({{WG}})
fn max_bwd_cells(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % OW;
  let t = i / OW;
  let oy = t % OH;
  let base = (t / OH) * H * W;
  let g = SRC[i];
  let arg = IDX[i];
  let y0 = i32(oy * SH) - i32(PH);
  let x0 = i32(ox * SW) - i32(PW);
  for (var dy = 0u; dy < CH; dy++) {
    let row_ok = in_cell(y0, dy, SH, oy, OH, H);
    for (var dx = 0u; dx < CW; dx++) {
      if (row_ok && in_cell(x0, dx, SW, ox, OW, W)) {
        let pos = (y0 + i32(dy)) * i32(W) + x0 + i32(dx);
        DST[base + u32(pos)] = select(0.0, g, pos == arg);
      }
    }
  }
}

@compute @workgroup_size({{WG}})
fn avg_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % OW;
  let t = i / OW;
  let oy = t % OH;
  let base = (t / OH) * H * W;
  var acc = 0.0;
  for (var ky = 0u; ky < KH; ky++) {
    let iy = i32(oy * SH + ky) - i32(PH);
    if (iy < 0 || iy >= i32(H)) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let ix = i32(ox * SW + kx) - i32(PW);
      if (ix < 0 || ix >= i32(W)) { continue; }
      acc += SRC[base + u32(iy) * W + u32(ix)];
    }
  }
  DST[i] = acc / f32(KH * KW);
  _ = IDX[0];
}

@compute @workgroup_size({{WG}})
fn avg_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ix = i % W;
  let iy = (i / W) % H;
  let plane = i / (W * H);
  let ry = covering(iy, KH, OH, SH, PH);
  let rx = covering(ix, KW, OW, SW, PW);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    for (var ox = rx.x; ox < rx.y; ox++) {
      acc += SRC[(plane * OH + oy) * OW + ox];
    }
  }
  DST[i] = acc / f32(KH * KW);
  _ = IDX[0];
}

@compute @workgroup_size({{WG}})
fn avg_bwd_cells(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % OW;
  let t = i / OW;
  let oy = t % OH;
  let base = (t / OH) * H * W;
  let g = SRC[i] / f32(KH * KW);
  let y0 = i32(oy * SH) - i32(PH);
  let x0 = i32(ox * SW) - i32(PW);
  for (var dy = 0u; dy < CH; dy++) {
    let row_ok = in_cell(y0, dy, SH, oy, OH, H);
    for (var dx = 0u; dx < CW; dx++) {
      if (row_ok && in_cell(x0, dx, SW, ox, OW, W)) {
        // inside the window: the first KH rows and KW columns of the cell
        DST[base + u32((y0 + i32(dy)) * i32(W) + x0 + i32(dx))] = select(0.0, g, dy < KH && dx < KW);
      }
    }
  }
  _ = IDX[0];
}
