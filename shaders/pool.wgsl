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
