// reduce.wgsl: sum or max over the middle axis of a tensor viewed as [O, R, I].
//
// Loop budget (src/gpu/loops.ts): main's loop over R would pass llvmpipe's 65,535 steps per
// invocation, so the host sends R > 65,535 to rows (moving R last first when I > 1).
//
// Any reduction over one axis (or a run of adjacent axes) is this shape: O = product of the
// dimensions before, R = the reduced extent, I = the product of those after.
// Constants: IS_MAX, true for max (and argmax), false for sum; WG, the workgroup size (a power
// of two for rows' tree).
// Entry points:
//   main: one invocation per output (o, i), looping over R (good when O*I is large).
//   rows: one workgroup (of WG invocations) per output row, for I == 1 and long rows (a full sum, a row max);
//         strided partial reductions then a tree in workgroup memory.
// Max propagates NaN (a NaN anywhere in a row wins, the first one on ties), as PyTorch does.
// Bindings: 0 X (read), 1 Y (write, O*I values), 2 IDX (write, i32 argmax; written for max only),
//           3 uniform P { O, R, I, scale } (the result is multiplied by scale: 1/R gives a mean).

struct Params { O: u32, R: u32, I: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> IDX: array<i32>;
@group(0) @binding(3) var<uniform> P: Params;

const IS_MAX: bool = {{IS_MAX}};

// #include "lib/math.wgsl"

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let j = gid.x + gid.y * nw.x * {{WG}}u;
  if (j >= P.O * P.I) { return; }
  let o = j / P.I;
  let i = j % P.I;
  let base = o * P.R * P.I + i;
  if (IS_MAX) {
    var best = X[base];
    var arg = 0u;
    for (var r = 1u; r < P.R; r++) {
      let v = X[base + r * P.I];
      if (v > best || (is_nan(v) && !is_nan(best))) { best = v; arg = r; }
    }
    Y[j] = best * P.scale;
    IDX[j] = i32(arg);
  } else {
    var acc = 0.0;
    for (var r = 0u; r < P.R; r++) {
      acc += X[base + r * P.I];
    }
    Y[j] = acc * P.scale;
  }
}

var<workgroup> wval: array<f32, {{WG}}>;
var<workgroup> widx: array<u32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nw: vec3u) {
  let o = wid.x + wid.y * nw.x;
  if (o >= P.O) { return; }
  let t = lid.x;
  let base = o * P.R;
  var acc = 0.0;
  var arg = 0u;
  if (IS_MAX) {
    acc = -3.4028234e38;
    arg = 0xffffffffu;
  }
  for (var r = t; r < P.R; r += {{WG}}u) {
    let v = X[base + r];
    if (IS_MAX) {
      if (arg == 0xffffffffu || v > acc || (is_nan(v) && !is_nan(acc))) { acc = v; arg = r; }
    } else {
      acc += v;
    }
  }
  wval[t] = acc;
  widx[t] = arg;
  workgroupBarrier();
  for (var s = {{WG}}u / 2u; s > 0u; s = s >> 1u) {
    if (t < s) {
      if (IS_MAX) {
        let v = wval[t + s];
        let k = widx[t + s];
        let take = k != 0xffffffffu && (widx[t] == 0xffffffffu || v > wval[t] ||
          (v == wval[t] && k < widx[t]) || (is_nan(v) && !is_nan(wval[t])));
        if (take) { wval[t] = v; widx[t] = k; }
      } else {
        wval[t] += wval[t + s];
      }
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    Y[o] = wval[0] * P.scale;
    if (IS_MAX) { IDX[o] = i32(widx[0]); }
  }
}
