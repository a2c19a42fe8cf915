// gru_sequence.wgsl: a whole GRU layer's recurrence in one dispatch per chunk of time steps
// (PyTorch's equations and gate order r, z, n); the backward is shaders/gru_sequence_bwd.wgsl.
// What it fused: per step, h·W_hhᵀ + b_hh (a matmul), the gates and the state update. The
// input projection x·W_ihᵀ + b_ih (all steps at once) and the weight gradients (all steps at
// once) run on the matmul kernel. Same layout of the work as shaders/lstm_sequence.wgsl (read
// its header): tiles of TB = 4·TQ batch elements × 4 units per invocation, h shared through
// double-buffered workgroup memory with one workgroupBarrier per step, chunks of steps per
// dispatch, host-unrolled tile code (placeholders ACC_DECL, K_STEP, CELLS:
// src/tensor/ops/recurrent.ts, forwardUnroll), units past H exactly 0.
//
// Bh = h_{t-1}·W_hhᵀ + b_hh, A = XP[b, t]; r = σ(A_r + Bh_r), z = σ(A_z + Bh_z),
// n = tanh(A_n + r·Bh_n), h_t = (1 − z)·n + z·h_{t-1}.
//
//   0 XP [B, T, 3H] (read)   x·W_ihᵀ + b_ih, gate-major rows [r | z | n]
//   1 WF (read)              WF[(k·NUT + u)·3 + g] = W_hh[g·H + 4u .. 4u + 3, k] (0 past H)
//   2 BHH [3H] (read)        b_hh when flags & 4
//   3 S0 [B, H] (read)       h_0 when flags & 1, else zeros
//   4 Y [B, T, H]            h_t (the layer's output)
//   5 GT [B, T, 4, NUT] vec4 r, z, n and Bh_n, for backward (flags & 2)
//   6 HP [B, T, H]           h_{t-1} (h_0 at t = 0), for backward and dW_hh (flags & 2)
//   7 uniform P { B, T, t0, t1, flags }. Constants: H, NUT, NBT, TQ, HS = 2·HALF.

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
@group(0) @binding(2) var<storage, read> BHH: array<f32>;
@group(0) @binding(3) var<storage, read> S0: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> GT: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> HP: array<f32>;
@group(0) @binding(7) var<uniform> P: Params;

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

fn bhh4(o: u32, j0: u32) -> vec4f {
  if ((P.flags & 4u) == 0u) { return vec4f(0.0); }
  if (H % 4u == 0u) { return vec4f(BHH[o + j0], BHH[o + j0 + 1u], BHH[o + j0 + 2u], BHH[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = BHH[o + j0 + i]; }
  }
  return v;
}

// h_{t-1} of batch element b at units 4u ..: S0 (or 0) at t = 0, else Y (this invocation wrote it)
fn h_prev(b: u32, t: u32, u: u32) -> vec4f {
  if (t == 0u) {
    if ((P.flags & 1u) != 0u) { return s04(b * H, u * 4u); }
    return vec4f(0.0);
  }
  return y4((b * P.T + t - 1u) * H, u * 4u);
}

fn h_start(b: u32, u: u32) -> vec4f {
  if (b >= P.B) { return vec4f(0.0); }
  let h = h_prev(b, P.t0, u);
  if (P.t0 == 0u && (P.flags & 2u) != 0u) { put_hp(b * P.T * H, u * 4u, h); }
  return h;
}

// one step of one batch element's 4 units from their recurrent sums h·W_hhᵀ; returns h_t
fn cell(b: u32, t: u32, u: u32, sr: vec4f, sz: vec4f, sn: vec4f) -> vec4f {
  if (b >= P.B) { return vec4f(0.0); }
  let row = b * P.T + t;
  let xo = row * 3u * H;
  let j0 = u * 4u;
  let bn = sn + bhh4(2u * H, j0);
  let r = sig4(xp4(xo, j0) + sr + bhh4(0u, j0));
  let z = sig4(xp4(xo + H, j0) + sz + bhh4(H, j0));
  let n = tanh4(xp4(xo + 2u * H, j0) + r * bn);
  let h = (1.0 - z) * n + z * h_prev(b, t, u);
  put_y(row * H, j0, h);
  if ((P.flags & 2u) != 0u) {
    GT[row * 4u * NUT + u] = r;
    GT[(row * 4u + 1u) * NUT + u] = z;
    GT[(row * 4u + 2u) * NUT + u] = n;
    GT[(row * 4u + 3u) * NUT + u] = bn;
    if (t + 1u < P.T) { put_hp((row + 1u) * H, j0, h); }
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
      // a{gate}{batch element}: the tile's recurrent sums h·W_hhᵀ, vec4s over 4 units
{{ACC_DECL}}
      for (var k = 0u; k < H; k++) {
        let at = (k * NUT + u) * 3u;
        let wr = WF[at];
        let wz = WF[at + 1u];
        let wn = WF[at + 2u];
        let hb = cur + k * NQ + q0;
{{K_STEP}}
      }
      let nxt = HALF - cur;
{{CELLS}}
    }
    workgroupBarrier();
  }
}
