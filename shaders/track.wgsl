// track.wgsl: small kernels the gradient tracker runs beside the statistics.
//
//   delta:  DST[dst_off + i] -= SRC[src_off + i] for i < n (turns a copy of the new weights into the
//           update w_new - w_old, given the old weights in SRC)
//   mark_active: for a ReLU output viewed as [N, U, S] (U units, S positions per unit), marks
//           ACT[unit_off + u] = 1 when any element of unit u is > 0 (units never marked over a
//           window are dead); SRC starts at src_off, so the launcher can pass a long batch in
//           blocks of rows (llvmpipe stops an invocation's loops after 65,535 steps, src/gpu/loops.ts)
// Bindings: 0 SRC (read), 1 DST (read-write f32; unused by active), 2 ACT (read-write atomic u32;
//           unused by delta), 3 uniform P { n, dst_off, src_off, N, U, S, unit_off }.

struct Params { n: u32, dst_off: u32, src_off: u32, N: u32, U: u32, S: u32, unit_off: u32 }

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read_write> DST: array<f32>;
@group(0) @binding(2) var<storage, read_write> ACT: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> P: Params;

// every entry point must use every binding under an "auto" layout; this never runs
fn bind_all() {
  if (P.n == 0xffffffffu) {
    DST[0] = SRC[0];
    atomicAdd(&ACT[0], 0u);
  }
}

@compute @workgroup_size({{WG}})
fn delta(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  DST[P.dst_off + i] -= SRC[P.src_off + i];
}

@compute @workgroup_size({{WG}})
fn mark_active(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let j = gid.x + gid.y * nw.x * {{WG}}u;
  if (j >= P.U * P.S) { return; }
  let u = j / P.S;
  let s = j % P.S;
  for (var n = 0u; n < P.N; n++) {
    if (SRC[P.src_off + (n * P.U + u) * P.S + s] > 0.0) {
      atomicMax(&ACT[P.unit_off + u], 1u);
      return;
    }
  }
}
