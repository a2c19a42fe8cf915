// lstm_sequence_bwd.wgsl: the backward pass of shaders/lstm_sequence.wgsl (its header has the
// layout: a workgroup takes 4·NBT batch elements, an invocation a tile of 4 batch elements × 4
// hidden units, chunks of steps per dispatch). What it fused, per step: the gate derivatives,
// the cell-state gradient and dh_{t-1} = dZ_t·W_hh (a matmul). Steps run from t1 − 1 down to
// t0, with dh_t = DY[b, t] + (dZ_{t+1}·W_hh)[b] and the cell-state gradient dc carried from step
// t + 1 (dh_T, dc_T from DST):
//   dc = dc + dh·o·(1 − tanh²c_t); dZ = (dc·g·i(1 − i), dc·c_{t-1}·f(1 − f), dc·i·(1 − g²),
//   dh·tanh(c_t)·o(1 − o)); the carried dc becomes dc·f.
// dZ_t of the workgroup's batch elements goes to workgroup memory (dzs[r·NQ + q] = dZ[batch
// quad q][r] as a vec4 over 4 batch elements, r = g·4·NUT + unit), then after a barrier each
// invocation forms its tile of dZ_t·W_hh (TB batch elements × 4 columns: per r, one vec4 of
// W_hh and TQ of dZ for TB vec4 multiply-adds), and a second barrier lets the next step
// overwrite dzs. The host writes the unrolled code for the tile (placeholders STATE, CELLS,
// R_STEP, ZERO, CARRY: src/tensor/ops/recurrent.ts, backwardUnroll).
//
//   0 DY [B, T, H] (read)    gradient of the output
//   1 WB (read)              W_hh padded to [4·HP, HP] (HP = 4·NUT; row g·HP + j = W_hh[g·H + j],
//                            0 past H): WB[r·NUT + u] = row r at columns 4u .. 4u + 3
//   2 GT, 3 C (read)         saved by forward (padded vec4 layouts, see there)
//   4 S0 [B, 2H] (read)      c_0 when flags & 1
//   5 DST [B, 2H] (read)     dh_T | dc_T when flags & 2
//   6 DZ [B, T, 4H]          the gate pre-activation gradients, gate-major rows
//   7 CARRY [B, 2H]          in: the state from the chunk after this one (t1 < T); out: the
//                            recurrent dh_{t0-1} | dc_{t0-1} (at t0 = 0 the gradient of S0)
//   8 uniform P { B, T, t0, t1, flags }. Constants: H, NUT, NBT, TQ, DS = 4·HP·NQ.

struct Params { B: u32, T: u32, t0: u32, t1: u32, flags: u32 }

const H = {{H}}u;
const NUT = {{NUT}}u;
const NBT = {{NBT}}u;
const TQ = {{TQ}}u; // batch quads per invocation
const TB = TQ * 4u; // batch elements per invocation
const BW = NBT * TB; // batch elements per workgroup
const NQ = NBT * TQ; // batch quads per workgroup
const HP = NUT * 4u;

@group(0) @binding(0) var<storage, read> DY: array<f32>;
@group(0) @binding(1) var<storage, read> WB: array<vec4f>;
@group(0) @binding(2) var<storage, read> GT: array<vec4f>;
@group(0) @binding(3) var<storage, read> C: array<vec4f>;
@group(0) @binding(4) var<storage, read> S0: array<f32>;
@group(0) @binding(5) var<storage, read> DST: array<f32>;
@group(0) @binding(6) var<storage, read_write> DZ: array<f32>;
@group(0) @binding(7) var<storage, read_write> CARRY: array<f32>;
@group(0) @binding(8) var<uniform> P: Params;

// #include "lib/math.wgsl"

var<workgroup> dzs: array<vec4f, {{DS}}>;

fn tanh4(x: vec4f) -> vec4f {
  return vec4f(tanh1(x.x), tanh1(x.y), tanh1(x.z), tanh1(x.w));
}

fn dy4(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(DY[o + j0], DY[o + j0 + 1u], DY[o + j0 + 2u], DY[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = DY[o + j0 + i]; }
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

fn dst4(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(DST[o + j0], DST[o + j0 + 1u], DST[o + j0 + 2u], DST[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = DST[o + j0 + i]; }
  }
  return v;
}

fn carry4(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(CARRY[o + j0], CARRY[o + j0 + 1u], CARRY[o + j0 + 2u], CARRY[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = CARRY[o + j0 + i]; }
  }
  return v;
}

fn put_carry(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    CARRY[o + j0] = v.x;
    CARRY[o + j0 + 1u] = v.y;
    CARRY[o + j0 + 2u] = v.z;
    CARRY[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { CARRY[o + j0 + i] = v[i]; }
  }
}

fn put_dz(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    DZ[o + j0] = v.x;
    DZ[o + j0 + 1u] = v.y;
    DZ[o + j0 + 2u] = v.z;
    DZ[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { DZ[o + j0 + i] = v[i]; }
  }
}

// the state entering the chunk for batch element b (row 0: dh, row 1: dc) at units 4u ..
fn start(b: u32, u: u32, part: u32) -> vec4f {
  if (b >= P.B) { return vec4f(0.0); }
  let o = b * 2u * H + part * H;
  if (P.t1 < P.T) { return carry4(o, u * 4u); }
  if ((P.flags & 2u) != 0u) { return dst4(o, u * 4u); }
  return vec4f(0.0);
}

// the state leaving the chunk for batch element b (see CARRY)
fn finish(b: u32, u: u32, dh: vec4f, dc: vec4f) {
  if (b >= P.B) { return; }
  put_carry(b * 2u * H, u * 4u, dh);
  put_carry(b * 2u * H + H, u * 4u, dc);
}

// one step of one batch element's 4 units: writes dZ to DZ; returns dZ (i, f, g, o) as the
// columns of a matrix and updates the carried dc
fn cell(b: u32, t: u32, u: u32, dhr: vec4f, dc: ptr<function, vec4f>) -> mat4x4f {
  if (b >= P.B) { return mat4x4f(); }
  let row = b * P.T + t;
  let j0 = u * 4u;
  let i = GT[row * 4u * NUT + u];
  let f = GT[(row * 4u + 1u) * NUT + u];
  let g = GT[(row * 4u + 2u) * NUT + u];
  let o = GT[(row * 4u + 3u) * NUT + u];
  let c = C[row * NUT + u];
  var cp = vec4f(0.0);
  if (t > 0u) {
    cp = C[(row - 1u) * NUT + u];
  } else if ((P.flags & 1u) != 0u) {
    cp = s04(b * 2u * H + H, j0);
  }
  let dh = dy4(row * H, j0) + dhr;
  let tc = tanh4(c);
  let d = *dc + dh * o * (1.0 - tc * tc);
  let dz = mat4x4f(
    d * g * i * (1.0 - i),
    d * cp * f * (1.0 - f),
    d * i * (1.0 - g * g),
    dh * tc * o * (1.0 - o),
  );
  *dc = d * f;
  let zo = row * 4u * H;
  put_dz(zo, j0, dz[0]);
  put_dz(zo + H, j0, dz[1]);
  put_dz(zo + 2u * H, j0, dz[2]);
  put_dz(zo + 3u * H, j0, dz[3]);
  return dz;
}

// writes gate rows r .. r + 3 (4 units) of 4 batch elements' dZ into dzs as vec4s over batch
fn share_gate(r: u32, q: u32, z0: vec4f, z1: vec4f, z2: vec4f, z3: vec4f) {
  dzs[r * NQ + q] = vec4f(z0.x, z1.x, z2.x, z3.x);
  dzs[(r + 1u) * NQ + q] = vec4f(z0.y, z1.y, z2.y, z3.y);
  dzs[(r + 2u) * NQ + q] = vec4f(z0.z, z1.z, z2.z, z3.z);
  dzs[(r + 3u) * NQ + q] = vec4f(z0.w, z1.w, z2.w, z3.w);
}

// batch quad q's dZ (4 batch elements; columns i, f, g, o of each matrix, vec4s over units) into dzs
fn share(q: u32, u: u32, z0: mat4x4f, z1: mat4x4f, z2: mat4x4f, z3: mat4x4f) {
  share_gate(u * 4u, q, z0[0], z1[0], z2[0], z3[0]);
  share_gate(HP + u * 4u, q, z0[1], z1[1], z2[1], z3[1]);
  share_gate(2u * HP + u * 4u, q, z0[2], z1[2], z2[2], z3[2]);
  share_gate(3u * HP + u * 4u, q, z0[3], z1[3], z2[3], z3[3]);
}

@compute @workgroup_size({{WG}})
fn backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u,
  @builtin(local_invocation_index) lane: u32,
) {
  let w = wid.x + wid.y * nw.x;
  if (w * BW >= P.B) { return; }
  let live = lane < NUT * NBT;
  let bt = lane / NUT;
  let u = lane % NUT;
  let b0 = w * BW + bt * TB; // the tile's first batch element
  let q0 = bt * TQ; // and its first batch quad in dzs
  // dh{i}: the recurrent part of dh (dZ_{t+1}·W_hh), dc{i}: the carried cell-state gradient,
  // of batch element b0 + i (vec4s over the tile's 4 units)
{{STATE}}
  for (var s = P.t1; s > P.t0; s--) {
    let t = s - 1u;
    if (live) {
{{CELLS}}
    }
    workgroupBarrier();
    if (live) {
      // this tile of dZ_t·W_hh: TB batch elements × columns 4u .. 4u + 3
{{ZERO}}
      for (var r = 0u; r < 4u * HP; r++) {
        let wv = WB[r * NUT + u];
        let db = r * NQ + q0;
{{R_STEP}}
      }
    }
    workgroupBarrier();
  }
  if (live) {
{{CARRY}}
  }
}
