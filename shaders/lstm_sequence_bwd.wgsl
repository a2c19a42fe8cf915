// lstm_sequence_bwd.wgsl: the backward pass of shaders/lstm_sequence.wgsl (read its header for
// the layout: one workgroup per batch element, double-buffered workgroup state, chunks of steps).
//
// backward (t from t1 − 1 down to t0), with dh_t = DY[b, t] + (dZ_{t+1}·W_hh)[b] and the
// cell-state gradient dc carried from step t + 1 (dc_T from DST):
//           dc = dc + dh·o·(1 − tanh²c_t); dZ = (dc·g·i(1 − i), dc·c_{t-1}·f(1 − f),
//           dc·i·(1 − g²), dh·tanh(c_t)·o(1 − o)); the carried dc becomes dc·f.
//   0 DY [B, T, H] (read)    gradient of the output
//   1 WB [H(j), H(k)] vec4 (read)   (W_hh[j, k], W_hh[H + j, k], W_hh[2H + j, k], W_hh[3H + j, k])
//   2 GT, 3 C (read)         saved by forward
//   4 S0 [B, 2H] (read)      c_0 when flags & 1
//   5 DST [B, 2H] (read)     dh_T | dc_T when flags & 2
//   6 DZ [B, T, 4H]          the gate pre-activation gradients, gate-major rows
//   7 CARRY [B, 2H]          in: the state from the chunk after this one (t1 < T); out: the
//                            recurrent dh_{t0-1} | dc_{t0-1} (at t0 = 0 the gradient of S0)
// Binding 8: uniform P { B, T, t0, t1, flags }. Constants: H, U, H2 = 2·U·WG.

struct Params { B: u32, T: u32, t0: u32, t1: u32, flags: u32 }

const H = {{H}}u;
const U = {{U}}u;
const WGN = {{WG}}u;

// #include "lib/math.wgsl"

@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> WB: array<vec4f>;
@group(0) @binding(2) var<storage, read> GT: array<vec4f>;
@group(0) @binding(3) var<storage, read> C: array<f32>;
@group(0) @binding(4) var<storage, read> S0: array<f32>;
@group(0) @binding(5) var<storage, read> DST: array<f32>;
@group(0) @binding(6) var<storage, read_write> DZ: array<f32>;
@group(0) @binding(7) var<storage, read_write> CARRY: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

// dZ_t of every unit (as vec4 i, f, g, o) in one half, dZ_{t-1} in the other
var<workgroup> dzs: array<vec4f, {{H2}}>;

@compute @workgroup_size({{WG}})
fn backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let b = wid.x + wid.y * nw.x;
  if (b >= P.B) { return; }
  let half = U * WGN;
  var dhr: array<f32, U>; // the recurrent part of dh_t: (dZ_{t+1}·W_hh)[b, j]
  var dc: array<f32, U>; // the cell-state gradient carried from step t + 1
  for (var u = 0u; u < U; u++) {
    let j = lane + u * WGN;
    if (j < H) {
      let s = b * 2u * H + j;
      if (P.t1 < P.T) {
        dhr[u] = CARRY[s];
        dc[u] = CARRY[s + H];
      } else if ((P.flags & 2u) != 0u) {
        dhr[u] = DST[s];
        dc[u] = DST[s + H];
      } else {
        dhr[u] = 0.0;
        dc[u] = 0.0;
      }
    }
  }
  for (var s = P.t1; s > P.t0; s--) {
    let t = s - 1u;
    let cur = ((P.t1 - s) & 1u) * half;
    let row = b * P.T + t;
    for (var u = 0u; u < U; u++) {
      let j = lane + u * WGN;
      if (j < H) {
        let a = GT[row * H + j];
        let ct = C[row * H + j];
        var cp = 0.0;
        if (t > 0u) {
          cp = C[(row - 1u) * H + j];
        } else if ((P.flags & 1u) != 0u) {
          cp = S0[b * 2u * H + H + j];
        }
        let dh = DY[row * H + j] + dhr[u];
        let tc = tanh1(ct);
        let d = dc[u] + dh * a.w * (1.0 - tc * tc);
        let dz = vec4f(
          d * a.z * a.x * (1.0 - a.x),
          d * cp * a.y * (1.0 - a.y),
          d * a.x * (1.0 - a.z * a.z),
          dh * tc * a.w * (1.0 - a.w),
        );
        dc[u] = d * a.y;
        let zo = row * 4u * H + j;
        DZ[zo] = dz.x;
        DZ[zo + H] = dz.y;
        DZ[zo + 2u * H] = dz.z;
        DZ[zo + 3u * H] = dz.w;
        dzs[cur + j] = dz;
      }
    }
    workgroupBarrier();
    // dh_{t-1}'s recurrent part for the units this invocation owns: Σ_j dZ_t[j] · W_hh[., k]
    for (var u = 0u; u < U; u++) {
      let k = lane + u * WGN;
      if (k < H) {
        var acc = 0.0;
        for (var j = 0u; j < H; j++) {
          acc += dot(dzs[cur + j], WB[j * H + k]);
        }
        dhr[u] = acc;
      }
    }
  }
  for (var u = 0u; u < U; u++) {
    let j = lane + u * WGN;
    if (j < H) {
      CARRY[b * 2u * H + j] = dhr[u];
      CARRY[b * 2u * H + H + j] = dc[u];
    }
  }
}
