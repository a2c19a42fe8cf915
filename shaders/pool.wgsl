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
//            search over covering windows, no per-input division, about one read per output.
//   avg_fwd: Y = mean over the window (padding counts as zeros, as PyTorch's count_include_pad).
//   avg_bwd: DX[iy][ix] = sum of DY / (KH·KW) over the windows that contain (iy, ix).
// Stride and padding are per axis (SH, SW, PH, PW).
// Bindings: 0 SRC (read: X forward, DY backward), 1 IDX (i32; read-write), 2 DST (write),
//           3 uniform P.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OH: u32, OW: u32,
  SH: u32, SW: u32, PH: u32, PW: u32, total: u32,
}

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

// The input positions [lo, hi) inside the window of output position o along one axis of n_in
// inputs (the window clipped to the image; padding contributes nothing here).
fn window(o: u32, k: u32, n_in: u32, stride: u32, pad: u32) -> vec2u {
  let start = i32(o * stride) - i32(pad);
  return vec2u(u32(max(start, 0)), u32(clamp(start + i32(k), 0, i32(n_in))));
}

@compute @workgroup_size({{WG}})
fn max_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % P.OW;
  let oy = (i / P.OW) % P.OH;
  let plane = i / (P.OW * P.OH);
  let base = plane * P.H * P.W;
  var best = -3.4028234e38;
  var arg = -1;
  let wy = window(oy, P.KH, P.H, P.SH, P.PH);
  let wx = window(ox, P.KW, P.W, P.SW, P.PW);
  for (var iy = wy.x; iy < wy.y; iy++) {
    for (var ix = wx.x; ix < wx.y; ix++) {
      let pos = iy * P.W + ix;
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
  let ix = i % P.W;
  let iy = (i / P.W) % P.H;
  let plane = i / (P.W * P.H);
  let pos = i32(iy * P.W + ix);
  let ry = covering(iy, P.KH, P.OH, P.SH, P.PH);
  let rx = covering(ix, P.KW, P.OW, P.SW, P.PW);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    for (var ox = rx.x; ox < rx.y; ox++) {
      let o = (plane * P.OH + oy) * P.OW + ox;
      if (IDX[o] == pos) { acc += SRC[o]; }
    }
  }
  DST[i] = acc;
}

// The rows (or columns) [lo, hi) of input that output o's stride cell owns along one axis: the
// cell clipped to the image, the last one stretched to its edge (n_out outputs, n_in inputs).
fn cell(o: u32, stride: u32, pad: u32, n_out: u32, n_in: u32) -> vec2u {
  let start = i32(o * stride) - i32(pad);
  var end = start + i32(stride);
  if (o + 1u == n_out) { end = i32(n_in); }
  return vec2u(u32(max(start, 0)), u32(clamp(end, 0, i32(n_in))));
}

@compute @workgroup_size({{WG}})
fn max_bwd_cells(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % P.OW;
  let t = i / P.OW;
  let oy = t % P.OH;
  let base = (t / P.OH) * P.H * P.W;
  let g = SRC[i];
  let arg = u32(IDX[i]);
  let cy = cell(oy, P.SH, P.PH, P.OH, P.H);
  let cx = cell(ox, P.SW, P.PW, P.OW, P.W);
  for (var iy = cy.x; iy < cy.y; iy++) {
    for (var ix = cx.x; ix < cx.y; ix++) {
      let pos = iy * P.W + ix;
      DST[base + pos] = select(0.0, g, pos == arg);
    }
  }
}

@compute @workgroup_size({{WG}})
fn avg_bwd_cells(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % P.OW;
  let t = i / P.OW;
  let oy = t % P.OH;
  let base = (t / P.OH) * P.H * P.W;
  let g = SRC[i] / f32(P.KH * P.KW);
  let cy = cell(oy, P.SH, P.PH, P.OH, P.H);
  let cx = cell(ox, P.SW, P.PW, P.OW, P.W);
  let wy = window(oy, P.KH, P.H, P.SH, P.PH);
  let wx = window(ox, P.KW, P.W, P.SW, P.PW);
  for (var iy = cy.x; iy < cy.y; iy++) {
    let row_in = iy >= wy.x && iy < wy.y;
    for (var ix = cx.x; ix < cx.y; ix++) {
      DST[base + iy * P.W + ix] = select(0.0, g, row_in && ix >= wx.x && ix < wx.y);
    }
  }
  _ = IDX[0];
}

@compute @workgroup_size({{WG}})
fn avg_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % P.OW;
  let oy = (i / P.OW) % P.OH;
  let plane = i / (P.OW * P.OH);
  var acc = 0.0;
  let wy = window(oy, P.KH, P.H, P.SH, P.PH);
  let wx = window(ox, P.KW, P.W, P.SW, P.PW);
  for (var iy = wy.x; iy < wy.y; iy++) {
    for (var ix = wx.x; ix < wx.y; ix++) {
      acc += SRC[plane * P.H * P.W + iy * P.W + ix];
    }
  }
  DST[i] = acc / f32(P.KH * P.KW);
  _ = IDX[0];
}

@compute @workgroup_size({{WG}})
fn avg_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ix = i % P.W;
  let iy = (i / P.W) % P.H;
  let plane = i / (P.W * P.H);
  let ry = covering(iy, P.KH, P.OH, P.SH, P.PH);
  let rx = covering(ix, P.KW, P.OW, P.SW, P.PW);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    for (var ox = rx.x; ox < rx.y; ox++) {
      acc += SRC[(plane * P.OH + oy) * P.OW + ox];
    }
  }
  DST[i] = acc / f32(P.KH * P.KW);
  _ = IDX[0];
}
