// gru_sequence_bwd.wgsl: the backward pass of shaders/gru_sequence.wgsl (same layout of the
// work as shaders/lstm_sequence_bwd.wgsl, read its header; host-unrolled tile code, placeholders
// STATE, CELLS, ZERO, R_STEP, CARRY: src/tensor/ops/recurrent.ts, backwardUnroll). What it fused,
// per step: the gate derivatives and dh_{t-1} = dBh_t·W_hh + dh_t·z_t (a matmul and the direct
// path). Steps run from t1 − 1 down to t0 with dh_t = DY[b, t] + dh{i} + dc{i}, where dh{i} is
// the recurrent part (dBh_{t+1}·W_hh) and dc{i} the direct part (dh_{t+1}·z_{t+1}):
//   dn = dh·(1 − z)·(1 − n²), dz = dh·(h_{t-1} − n)·z(1 − z), dr = dn·Bh_n·r(1 − r);
//   dA = (dr, dz, dn) (the gradient of x·W_ihᵀ + b_ih), dBh = (dr, dz, dn·r) (of h·W_hhᵀ + b_hh).
//
//   0 DY [B, T, H] (read)    gradient of the output
//   1 WB (read)              W_hh padded to [3·HP, HP] (HP = 4·NUT; row g·HP + j = W_hh[g·H + j],
//                            0 past H): WB[r·NUT + u] = row r at columns 4u .. 4u + 3
//   2 GT (read)              r, z, n, Bh_n saved by forward
//   3 HPREV [B, T, H] (read) h_{t-1} saved by forward
//   4 DA [B, T, 3H]          dA, gate-major rows
//   5 DBH [B, T, 3H]         dBh, gate-major rows
//   6 CARRY [B, 2H]          in: the state from the chunk after this one (t1 < T); out: dh{i} | dc{i}
//   7 DH0 [B, H]             dh_0 = the recurrent and direct parts at t0 = 0
//   8 uniform P { B, T, t0, t1, flags }. Constants: H, NUT, NBT, TQ, DS = 3·HP·NQ.

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
@group(0) @binding(3) var<storage, read> HPREV: array<f32>;
@group(0) @binding(4) var<storage, read_write> DA: array<f32>;
@group(0) @binding(5) var<storage, read_write> DBH: array<f32>;
@group(0) @binding(6) var<storage, read_write> CARRY: array<f32>;
@group(0) @binding(7) var<storage, read_write> DH0: array<f32>;
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

fn put_dbh(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    DBH[o + j0] = v.x;
    DBH[o + j0 + 1u] = v.y;
    DBH[o + j0 + 2u] = v.z;
    DBH[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { DBH[o + j0 + i] = v[i]; }
  }
}

fn hp4(o: u32, j0: u32) -> vec4f {
  if (H % 4u == 0u) { return vec4f(HPREV[o + j0], HPREV[o + j0 + 1u], HPREV[o + j0 + 2u], HPREV[o + j0 + 3u]); }
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { v[i] = HPREV[o + j0 + i]; }
  }
  return v;
}

fn put_da(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    DA[o + j0] = v.x;
    DA[o + j0 + 1u] = v.y;
    DA[o + j0 + 2u] = v.z;
    DA[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { DA[o + j0 + i] = v[i]; }
  }
}

fn put_dh0(o: u32, j0: u32, v: vec4f) {
  if (H % 4u == 0u) {
    DH0[o + j0] = v.x;
    DH0[o + j0 + 1u] = v.y;
    DH0[o + j0 + 2u] = v.z;
    DH0[o + j0 + 3u] = v.w;
    return;
  }
  for (var i = 0u; i < 4u; i++) {
    if (j0 + i < H) { DH0[o + j0 + i] = v[i]; }
  }
}

// the state entering the chunk for batch element b (part 0: recurrent dh, 1: direct dh) at units 4u ..
fn start(b: u32, u: u32, part: u32) -> vec4f {
  if (b >= P.B || P.t1 >= P.T) { return vec4f(0.0); }
  return carry4(b * 2u * H + part * H, u * 4u);
}

// the state leaving the chunk for batch element b (see CARRY, DH0)
fn finish(b: u32, u: u32, dh: vec4f, dc: vec4f) {
  if (b >= P.B) { return; }
  put_carry(b * 2u * H, u * 4u, dh);
  put_carry(b * 2u * H + H, u * 4u, dc);
  if (P.t0 == 0u) { put_dh0(b * H, u * 4u, dh + dc); }
}

// one step of one batch element's 4 units: writes dA and dBh; returns dBh (r, z, n) as the
// first three columns of a matrix and updates the carried direct part dc
fn cell(b: u32, t: u32, u: u32, dhr: vec4f, dc: ptr<function, vec4f>) -> mat4x4f {
  if (b >= P.B) { return mat4x4f(); }
  let row = b * P.T + t;
  let j0 = u * 4u;
  let r = GT[row * 4u * NUT + u];
  let z = GT[(row * 4u + 1u) * NUT + u];
  let n = GT[(row * 4u + 2u) * NUT + u];
  let bn = GT[(row * 4u + 3u) * NUT + u];
  let dh = dy4(row * H, j0) + dhr + *dc;
  let dn = dh * (1.0 - z) * (1.0 - n * n);
  let dz = dh * (hp4(row * H, j0) - n) * z * (1.0 - z);
  let dr = dn * bn * r * (1.0 - r);
  *dc = dh * z;
  let zo = row * 3u * H;
  put_da(zo, j0, dr);
  put_da(zo + H, j0, dz);
  put_da(zo + 2u * H, j0, dn);
  put_dbh(zo, j0, dr);
  put_dbh(zo + H, j0, dz);
  put_dbh(zo + 2u * H, j0, dn * r);
  return mat4x4f(dr, dz, dn * r, vec4f(0.0));
}

// writes gate rows r .. r + 3 (4 units) of 4 batch elements' dBh into dzs as vec4s over batch
fn share_gate(r: u32, q: u32, z0: vec4f, z1: vec4f, z2: vec4f, z3: vec4f) {
  dzs[r * NQ + q] = vec4f(z0.x, z1.x, z2.x, z3.x);
  dzs[(r + 1u) * NQ + q] = vec4f(z0.y, z1.y, z2.y, z3.y);
  dzs[(r + 2u) * NQ + q] = vec4f(z0.z, z1.z, z2.z, z3.z);
  dzs[(r + 3u) * NQ + q] = vec4f(z0.w, z1.w, z2.w, z3.w);
}

// batch quad q's dBh (columns r, z, n of each matrix, vec4s over units) into dzs
fn share(q: u32, u: u32, z0: mat4x4f, z1: mat4x4f, z2: mat4x4f, z3: mat4x4f) {
  share_gate(u * 4u, q, z0[0], z1[0], z2[0], z3[0]);
  share_gate(HP + u * 4u, q, z0[1], z1[1], z2[1], z3[1]);
  share_gate(2u * HP + u * 4u, q, z0[2], z1[2], z2[2], z3[2]);
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
  // dh{i}: the recurrent part of dh (dBh_{t+1}·W_hh), dc{i}: the direct part (dh_{t+1}·z_{t+1}),
  // of batch element b0 + i (vec4s over the tile's 4 units)
{{STATE}}
  for (var s = P.t1; s > P.t0; s--) {
    let t = s - 1u;
    if (live) {
{{CELLS}}
    }
    workgroupBarrier();
    if (live) {
      // this tile of dBh_t·W_hh: TB batch elements × columns 4u .. 4u + 3
{{ZERO}}
      for (var r = 0u; r < 3u * HP; r++) {
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
