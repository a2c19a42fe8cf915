// lstm_sequence.wgsl: a whole LSTM layer's recurrence in one dispatch per chunk of time steps
// (PyTorch's equations and gate order i, f, g, o); this file is the forward pass, the backward
// is shaders/lstm_sequence_bwd.wgsl. What it fused: per
// step, h·W_hhᵀ (a matmul), the gate activations and the cell update; per backward step, the
// gate derivatives, the cell-state gradient and dh_{t-1} = dZ_t·W_hh. The input projection
// x·W_ihᵀ + b_ih + b_hh (all steps at once) and the weight gradients (all steps at once:
// dW_hh = Σ_t dZ_tᵀ·h_{t-1}) run on the matmul kernel, outside this file.
//
// One workgroup per batch element b; its invocations own hidden units j = lane + u·WG
// (u < U = ceil(H / WG)). The state crosses time steps in workgroup memory (h for forward, the
// four gate gradients for backward), double-buffered, so one workgroupBarrier per step orders
// the writes of step t before the reads of step t + 1 (workgroups are independent batch
// elements: no cross-workgroup synchronisation is needed). The host runs steps [t0, t1) per
// dispatch, few enough that one invocation stays under llvmpipe's loop budget; a dispatch picks
// up the state where the previous one left it (Y and C forward, CARRY backward).
//
// forward:  Z = XP[b, t] + h_{t-1}·W_hhᵀ; i, f, o = σ(Z_i), σ(Z_f), σ(Z_o), g = tanh(Z_g);
//           c_t = f·c_{t-1} + i·g; h_t = o·tanh(c_t).
//   0 XP [B, T, 4H] (read)   x·W_ihᵀ + biases, gate-major rows [i | f | g | o]
//   1 WF [H(k), H(j)] vec4 (read)   (W_hh[j, k], W_hh[H + j, k], W_hh[2H + j, k], W_hh[3H + j, k])
//   2 S0 [B, 2H] (read)      h_0 | c_0 when flags & 1, else zeros are used (bind anything)
//   3 Y [B, T, H]            h_t (the layer's output)
//   4 C [B, T, H]            c_t
//   5 GT [B, T, H] vec4      (i, f, g, o) after activation, for backward (flags & 2)
//   6 HP [B, T, H]           h_{t-1} (h_0 at t = 0), for dW_hh (flags & 2)
//   7 ST [B, 2H]             h_T | c_T (written at the last step)
// (Backward: shaders/lstm_sequence_bwd.wgsl.)
// Binding 8: uniform P { B, T, t0, t1, flags }. Constants: H, U, H2 = 2·U·WG.

struct Params { B: u32, T: u32, t0: u32, t1: u32, flags: u32 }

const H = {{H}}u;
const U = {{U}}u;
const WGN = {{WG}}u;

// #include "lib/math.wgsl"

@group(0) @binding(0) var<storage, read> XP: array<f32>;
@group(0) @binding(1) var<storage, read> WF: array<vec4f>;
@group(0) @binding(2) var<storage, read> S0: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
@group(0) @binding(5) var<storage, read_write> GT: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> HP: array<f32>;
@group(0) @binding(7) var<storage, read_write> ST: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

// h_{t-1} in one half, h_t in the other (they swap every step)
var<workgroup> hs: array<f32, {{H2}}>;

@compute @workgroup_size({{WG}})
fn forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let b = wid.x + wid.y * nw.x;
  if (b >= P.B) { return; }
  let save = (P.flags & 2u) != 0u;
  let half = U * WGN;
  var c: array<f32, U>;
  for (var u = 0u; u < U; u++) {
    let j = lane + u * WGN;
    if (j < H) {
      var h = 0.0;
      var cc = 0.0;
      if (P.t0 == 0u) {
        if ((P.flags & 1u) != 0u) {
          h = S0[b * 2u * H + j];
          cc = S0[b * 2u * H + H + j];
        }
        if (save) { HP[b * P.T * H + j] = h; }
      } else {
        let r = (b * P.T + P.t0 - 1u) * H + j;
        h = Y[r];
        cc = C[r];
      }
      hs[j] = h;
      c[u] = cc;
    }
  }
  workgroupBarrier();
  for (var t = P.t0; t < P.t1; t++) {
    let cur = ((t - P.t0) & 1u) * half;
    let nxt = half - cur;
    let row = b * P.T + t;
    for (var u = 0u; u < U; u++) {
      let j = lane + u * WGN;
      if (j < H) {
        let xo = row * 4u * H + j;
        var z = vec4f(XP[xo], XP[xo + H], XP[xo + 2u * H], XP[xo + 3u * H]);
        for (var k = 0u; k < H; k++) {
          z = fma(vec4f(hs[cur + k]), WF[k * H + j], z);
        }
        let a = vec4f(sigmoid1(z.x), sigmoid1(z.y), tanh1(z.z), sigmoid1(z.w));
        let cn = a.y * c[u] + a.x * a.z;
        let hn = a.w * tanh1(cn);
        c[u] = cn;
        Y[row * H + j] = hn;
        C[row * H + j] = cn;
        if (save) {
          GT[row * H + j] = a;
          if (t + 1u < P.T) { HP[(row + 1u) * H + j] = hn; }
        }
        if (t + 1u == P.T) {
          ST[b * 2u * H + j] = hn;
          ST[b * 2u * H + H + j] = cn;
        }
        hs[nxt + j] = hn;
      }
    }
    workgroupBarrier();
  }
}
