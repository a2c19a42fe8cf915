// lstm_sequence.wgsl: a whole LSTM layer's recurrence in one dispatch per chunk of time steps
// (PyTorch's equations and gate order i, f, g, o); this file is the forward pass, the backward
// is shaders/lstm_sequence_bwd.wgsl. What it fused: per step, h·W_hhᵀ (a matmul), the gate
// activations and the cell update. The input projection x·W_ihᵀ + b_ih + b_hh (all steps at
// once) and the weight gradients (all steps at once: dW_hh = Σ_t dZ_tᵀ·h_{t-1}) run on the
// matmul kernel, outside this file.
//
// Z = XP[b, t] + h_{t-1}·W_hhᵀ; i, f, o = σ(Z_i), σ(Z_f), σ(Z_o), g = tanh(Z_g);
// c_t = f·c_{t-1} + i·g; h_t = o·tanh(c_t).
//
// Layout of the work: each invocation takes a tile of TB batch elements (TB = 4·TQ) × 4 hidden
// units (NUT = ceil(H / 4) unit tiles; lane = batch tile · NUT + unit tile), a workgroup NBT
// batch tiles (BW = NBT·TB batch elements). One pass over k loads 4 vec4 of W_hh and TQ vec4 of
// h and does 4·TB vec4 multiply-adds: llvmpipe runs lanes as SIMD and turns per-lane loads into
// gathers, so the W_hh loads are the cost (measured: the loop without them costs nothing) and a
// taller batch tile divides them (see shared/reference/webgpu-on-llvmpipe.md). The host writes
// the unrolled code for the tile (placeholders ACC_DECL, K_STEP, CELLS: src/tensor/ops/recurrent.ts,
// forwardUnroll). h crosses time steps in workgroup memory, double-buffered
// (hs[half + k·NQ + q] = h[batch quad q][k] as a vec4 over 4 batch elements, NQ = BW / 4
// quads), so one workgroupBarrier per step orders step t's writes before step t + 1's reads;
// workgroups hold independent batch elements and never wait for each other. The host runs steps [t0, t1) per
// dispatch, few enough for llvmpipe's per-invocation loop budget; a dispatch takes the state
// where the previous one left it (Y and C). Units past H (padding to 4) stay exactly 0.
//
//   0 XP [B, T, 4H] (read)   x·W_ihᵀ + biases, gate-major rows [i | f | g | o]
//   1 WF (read)              W_hh rearranged: WF[(k·NUT + u)·4 + g] = W_hh[g·H + 4u .. 4u + 3, k]
//                            (a vec4 over 4 units; 0 past H)
//   2 S0 [B, 2H] (read)      h_0 | c_0 when flags & 1, else zeros (bind anything)
//   3 Y [B, T, H]            h_t (the layer's output)
//   4 C [B, T, NUT] vec4     c_t (padded)
//   5 GT [B, T, 4, NUT] vec4 i, f, g, o after activation, for backward (flags & 2)
//   6 HP [B, T, H]           h_{t-1} (h_0 at t = 0), for dW_hh (flags & 2)
//   7 ST [B, 2H]             h_T | c_T (written at the last step)
//   8 uniform P { B, T, t0, t1, flags }. Constants: H, NUT, NBT, TQ, HS = 2·HALF.

struct Params { B: u32, T: u32, t0: u32, t1: u32, flags: u32 }

const H = {{H}}u;
const NUT = {{NUT}}u;
const NBT = {{NBT}}u;
const TQ = {{TQ}}u; // batch quads per invocation
const TB = TQ * 4u; // batch elements per invocation
const BW = NBT * TB; // batch elements per workgroup
const NQ = NBT * TQ; // batch quads per workgroup
const HALF = NUT * 4u * NQ; // one step's h in vec4s (4 batch elements each)

@group(0) @binding(0) var<storage, read> XP: array<f32>;
@group(0) @binding(1) var<storage, read> WF: array<vec4f>;
@group(0) @binding(2) var<storage, read> S0: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> GT: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> HP: array<f32>;
@group(0) @binding(7) var<storage, read_write> ST: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

// #include "lib/math.wgsl"

var<workgroup> hs: array<vec4f, {{HS}}>;

fn sig4(x: vec4f) -> vec4f {
  return vec4f(sigmoid1(x.x), sigmoid1(x.y), sigmoid1(x.z), sigmoid1(x.w));
}

fn tanh4(x: vec4f) -> vec4f {
  return vec4f(tanh1(x.x), tanh1(x.y), tanh1(x.z), tanh1(x.w));
}

// four consecutive units j0 .. j0 + 3 of a row at offset o (0 past H)
fn xp4(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(XP[o + j0], XP[o + j0 + 1u], XP[o + j0 + 2u], XP[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = XP[o + j0 + i]; }
  }
  return v;
}

fn s04(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(S0[o + j0], S0[o + j0 + 1u], S0[o + j0 + 2u], S0[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = S0[o + j0 + i]; }
  }
  return v;
}

fn y4(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(Y[o + j0], Y[o + j0 + 1u], Y[o + j0 + 2u], Y[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = Y[o + j0 + i]; }
  }
  return v;
}

fn put_y(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    Y[o + j0] = v.x;
    Y[o + j0 + 1u] = v.y;
    Y[o + j0 + 2u] = v.z;
    Y[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { Y[o + j0 + i] = v[i]; }
  }
}

fn put_hp(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    HP[o + j0] = v.x;
    HP[o + j0 + 1u] = v.y;
    HP[o + j0 + 2u] = v.z;
    HP[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { HP[o + j0 + i] = v[i]; }
  }
}

fn put_st(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    ST[o + j0] = v.x;
    ST[o + j0 + 1u] = v.y;
    ST[o + j0 + 2u] = v.z;
    ST[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { ST[o + j0 + i] = v[i]; }
  }
}

// h_{t0-1} of batch element b at units u·4 ..: from S0 (or 0) at t0 = 0, else from Y
fn h_start(b: u32, u: u32) -> vec4f {
  if (b >= P.B) { return vec4f(0.0); }
  if (P.t0 == 0u) {
    var h = vec4f(0.0);
    if ((P.flags & 1u) != 0u) { h = s04(b * 2u * H, u * 4u); }
    if ((P.flags & 2u) != 0u) { put_hp(b * P.T * H, u * 4u, h); }
    return h;
  }
  return y4((b * P.T + P.t0 - 1u) * H, u * 4u);
}

// one step of one batch element's 4 units from their recurrent pre-activations; returns h_t
fn cell(b: u32, t: u32, u: u32, ri: vec4f, rf: vec4f, rg: vec4f, ro: vec4f) -> vec4f {
  if (b >= P.B) { return vec4f(0.0); }
  let row = b * P.T + t;
  let xo = row * 4u * H;
  let j0 = u * 4u;
  let i = sig4(ri + xp4(xo, j0));
  let f = sig4(rf + xp4(xo + H, j0));
  let g = tanh4(rg + xp4(xo + 2u * H, j0));
  let o = sig4(ro + xp4(xo + 3u * H, j0));
  var cp = vec4f(0.0);
  if (t > 0u) {
    cp = C[(row - 1u) * NUT + u];
  } else if ((P.flags & 1u) != 0u) {
    cp = s04(b * 2u * H + H, j0);
  }
  let c = f * cp + i * g;
  let h = o * tanh4(c);
  C[row * NUT + u] = c;
  put_y(row * H, j0, h);
  if ((P.flags & 2u) != 0u) {
    GT[row * 4u * NUT + u] = i;
    GT[(row * 4u + 1u) * NUT + u] = f;
    GT[(row * 4u + 2u) * NUT + u] = g;
    GT[(row * 4u + 3u) * NUT + u] = o;
    if (t + 1u < P.T) { put_hp((row + 1u) * H, j0, h); }
  }
  if (t + 1u == P.T) {
    put_st(b * 2u * H, j0, h);
    put_st(b * 2u * H + H, j0, c);
  }
  return h;
}

// writes batch quad q's h (4 batch elements, one vec4 over units each) into hs at `base` as
// vec4s over batch
fn share(base: u32, q: u32, u: u32, h0: vec4f, h1: vec4f, h2: vec4f, h3: vec4f) {
  hs[base + (u * 4u) * NQ + q] = vec4f(h0.x, h1.x, h2.x, h3.x);
  hs[base + (u * 4u + 1u) * NQ + q] = vec4f(h0.y, h1.y, h2.y, h3.y);
  hs[base + (u * 4u + 2u) * NQ + q] = vec4f(h0.z, h1.z, h2.z, h3.z);
  hs[base + (u * 4u + 3u) * NQ + q] = vec4f(h0.w, h1.w, h2.w, h3.w);
}

@compute @workgroup_size({{WG}})
fn forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let w = wid.x + wid.y * nw.x;
  if (w * BW >= P.B) { return; }
  let live = lane < NUT * NBT;
  let bt = lane / NUT; // batch tile
  let u = lane % NUT; // unit tile
  let b0 = w * BW + bt * TB; // the tile's first batch element
  let q0 = bt * TQ; // and its first batch quad in hs
  if (live) {
    for (var qi = 0u; qi < TQ; qi++) {
      let b = b0 + qi * 4u;
      share(0u, q0 + qi, u, h_start(b, u), h_start(b + 1u, u), h_start(b + 2u, u), h_start(b + 3u, u));
    }
  }
  workgroupBarrier();
  for (var t = P.t0; t < P.t1; t++) {
    let cur = ((t - P.t0) & 1u) * HALF;
    if (live) {
      // a{gate}{batch element}: the tile's recurrent pre-activations, vec4s over 4 units
{{ACC_DECL}}
      for (var k = 0u; k < H; k++) {
        let at = (k * NUT + u) * 4u;
        let wi = WF[at];
        let wf = WF[at + 1u];
        let wg = WF[at + 2u];
        let wo = WF[at + 3u];
        let hb = cur + k * NQ + q0;
{{K_STEP}}
      }
      let nxt = HALF - cur;
{{CELLS}}
    }
    workgroupBarrier();
  }
}
