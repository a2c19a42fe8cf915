// recurrent.wgsl: the elementwise part of one LSTM or GRU time step, fused, and its gradient
// (PyTorch's equations and gate order). The matrix products (x·W_ihᵀ for every step at once,
// h·W_hhᵀ per step) run on the matmul kernel; this kernel does the rest in one pass.
//
// LSTM, state S = [h | c] as [B, 2H], gates Z = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh as [B, 4H]
// (order i, f, g, o):
//   lstm_fwd: i, f, o = σ(Z_i), σ(Z_f), σ(Z_o), g = tanh(Z_g); c' = f·c + i·g; h' = o·tanh(c')
//             IN0 = Z, IN1 = S_prev → OUT0 = S'.
//   lstm_bwd: from G = dS' = [dh' | dc']: dc = dc' + dh'·o·(1 − tanh²c'), dZ_i = dc·g·i(1 − i),
//             dZ_f = dc·c·f(1 − f), dZ_g = dc·i·(1 − g²), dZ_o = dh'·tanh(c')·o(1 − o);
//             OUT0 = dZ, OUT1 = dS_prev = [0 | dc·f] (h_prev's gradient flows through W_hh).
// GRU, A = x·W_ihᵀ + b_ih and Bh = h·W_hhᵀ + b_hh as [B, 3H] (order r, z, n):
//   gru_fwd:  r = σ(A_r + Bh_r), z = σ(A_z + Bh_z), n = tanh(A_n + r·Bh_n), h' = (1 − z)·n + z·h
//             IN0 = A, IN1 = Bh, IN2 = h_prev → OUT0 = h'.
//   gru_bwd:  G = dh' → OUT0 = dA, OUT1 = dBh, OUT2 = dh_prev (the direct part z·dh').
// One invocation per (b, j), j < H. Bindings: 0 IN0, 1 IN1, 2 IN2, 3 G (read; bind anything
// when unused), 4 OUT0, 5 OUT1, 6 OUT2 (read_write), 7 uniform P { B, H }.

struct Params { B: u32, H: u32 }

@group(0) @binding(0) var<storage, read> IN0: array<f32>;
@group(0) @binding(1) var<storage, read> IN1: array<f32>;
@group(0) @binding(2) var<storage, read> IN2: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> OUT0: array<f32>;
@group(0) @binding(5) var<storage, read_write> OUT1: array<f32>;
@group(0) @binding(6) var<storage, read_write> OUT2: array<f32>;
@group(0) @binding(7) var<uniform> P: Params;

// #include "lib/math.wgsl"

// Every entry names every binding once, so one bind group layout serves all four.
fn bind_all() {
  if (P.B == 0xffffffffu) {
    OUT2[0] = IN0[0] + IN1[0] + IN2[0] + G[0] + OUT0[0] + OUT1[0];
  }
}

// the LSTM's gate activations (i, f, g, o) at offset z of Z
fn lstm_gates(z: u32) -> vec4f {
  return vec4f(sigmoid1(IN0[z]), sigmoid1(IN0[z + P.H]), tanh1(IN0[z + 2u * P.H]), sigmoid1(IN0[z + 3u * P.H]));
}

// the GRU's gates (r, z, n) at offset k of A and Bh
fn gru_gates(k: u32) -> vec3f {
  let r = sigmoid1(IN0[k] + IN1[k]);
  let z = sigmoid1(IN0[k + P.H] + IN1[k + P.H]);
  return vec3f(r, z, tanh1(IN0[k + 2u * P.H] + r * IN1[k + 2u * P.H]));
}

@compute @workgroup_size({{WG}})
fn lstm_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.B * P.H) { return; }
  let b = t / P.H;
  let j = t % P.H;
  let a = lstm_gates(b * 4u * P.H + j);
  let c = a.y * IN1[b * 2u * P.H + P.H + j] + a.x * a.z;
  OUT0[b * 2u * P.H + j] = a.w * tanh1(c);
  OUT0[b * 2u * P.H + P.H + j] = c;
}

@compute @workgroup_size({{WG}})
fn lstm_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.B * P.H) { return; }
  let b = t / P.H;
  let j = t % P.H;
  let z = b * 4u * P.H + j;
  let s = b * 2u * P.H + j;
  let a = lstm_gates(z);
  let i = a.x;
  let f = a.y;
  let g = a.z;
  let o = a.w;
  let cp = IN1[s + P.H];
  let tc = tanh1(f * cp + i * g);
  let dh = G[s];
  let dc = G[s + P.H] + dh * o * (1.0 - tc * tc);
  OUT0[z] = dc * g * i * (1.0 - i);
  OUT0[z + P.H] = dc * cp * f * (1.0 - f);
  OUT0[z + 2u * P.H] = dc * i * (1.0 - g * g);
  OUT0[z + 3u * P.H] = dh * tc * o * (1.0 - o);
  OUT1[s] = 0.0;
  OUT1[s + P.H] = dc * f;
}

@compute @workgroup_size({{WG}})
fn gru_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.B * P.H) { return; }
  let b = t / P.H;
  let j = t % P.H;
  let a = gru_gates(b * 3u * P.H + j);
  OUT0[t] = (1.0 - a.y) * a.z + a.y * IN2[t];
}

@compute @workgroup_size({{WG}})
fn gru_bwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.B * P.H) { return; }
  let b = t / P.H;
  let j = t % P.H;
  let k = b * 3u * P.H + j;
  let bn = IN1[k + 2u * P.H];
  let a = gru_gates(k);
  let r = a.x;
  let z = a.y;
  let n = a.z;
  let hp = IN2[t];
  let dh = G[t];
  let dn = dh * (1.0 - z) * (1.0 - n * n); // through tanh
  let dz = dh * (hp - n) * z * (1.0 - z);
  let dr = dn * bn * r * (1.0 - r);
  OUT0[k] = dr;
  OUT0[k + P.H] = dz;
  OUT0[k + 2u * P.H] = dn;
  OUT1[k] = dr;
  OUT1[k + P.H] = dz;
  OUT1[k + 2u * P.H] = dn * r;
  OUT2[t] = dh * z;
}
