// conv_act_pool.wgsl: {{WHAT}}: the epilogue of conv_gemm.wgsl (activation, then a
// 2×2 stride-2 max pool) over a convolution output Z [N, C, OH, OW] that was written out, and its
// backward pass. The autograd path uses it: there the convolution stays a node of its own
// (conv2d, with its backward), and this op follows it; inference runs conv_gemm.wgsl alone.
//
//   act_pool:     Y[n][c][py][px] = act(max over the window (2py + dy, 2px + dx) of Z) for
//                 py < PH = ⌊OH/2⌋, px < PW = ⌊OW/2⌋; IDX = 2·dy + dx of the winner (the first on
//                 ties; a NaN wins, the first NaN, as pool.wgsl) + 4 when the winner is > 0.
//                 act is monotonic (ACT 0 none, 1 relu, 2 leaky relu with slope > 0), so
//                 max(act(z)) = act(max(z)). One invocation per pooled output.
//   act_pool_bwd: DZ[n][c][oy][ox] = DY[n][c][oy/2][ox/2] · act'(Z) where (oy, ox) is its window's
//                 recorded winner, else 0 (act' from IDX's bit 4, as relu's x > 0). One invocation
//                 per conv output (a gather: no atomics).
// Bindings: 0 SRC (read: Z forward, DY backward), 1 IDX (i32; write forward, read backward),
//           2 DST (write: Y forward, DZ backward), 3 uniform P.

struct Params {
  OH: u32, OW: u32, PH: u32, PW: u32,
  total: u32, slope: f32,
}

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read_write> IDX: array<i32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

const ACT: u32 = {{ACT}}u;

fn act(v: f32) -> f32 {
  if (ACT == 1u) { return max(v, 0.0); }
  if (ACT == 2u) { return select(v * P.slope, v, v > 0.0); }
  return v;
}

// The pooling rule of store_pool for one scalar: v replaces best.
fn take1(best: f32, v: f32) -> bool {
  return (v > best || v != v) && best == best;
}

@compute @workgroup_size({{WG}})
fn act_pool(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let px = i % P.PW;
  let py = (i / P.PW) % P.PH;
  let plane = i / (P.PW * P.PH);
  let base = plane * P.OH * P.OW + 2u * py * P.OW + 2u * px;
  var best = SRC[base];
  var arg = 0;
  let v1 = SRC[base + 1u];
  if (take1(best, v1)) { best = v1; arg = 1; }
  let v2 = SRC[base + P.OW];
  if (take1(best, v2)) { best = v2; arg = 2; }
  let v3 = SRC[base + P.OW + 1u];
  if (take1(best, v3)) { best = v3; arg = 3; }
  DST[i] = act(best);
  IDX[i] = arg + select(0, 4, best > 0.0);
}

@compute @workgroup_size({{WG}})
fn act_pool_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.total) { return; }
  let ox = i % P.OW;
  let oy = (i / P.OW) % P.OH;
  let plane = i / (P.OW * P.OH);
  let py = oy / 2u;
  let px = ox / 2u;
  var g = 0.0;
  if (py < P.PH && px < P.PW) {
    let j = (plane * P.PH + py) * P.PW + px;
    let w = IDX[j];
    if ((w & 3) == i32((oy % 2u) * 2u + ox % 2u)) {
      var d = 1.0;
      if (ACT == 1u) { d = select(0.0, 1.0, (w & 4) != 0); }
      if (ACT == 2u) { d = select(P.slope, 1.0, (w & 4) != 0); }
      g = SRC[j] * d;
    }
  }
  DST[i] = g;
}
