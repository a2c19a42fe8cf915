// embedding.wgsl: the rows of a table [V, E] picked by int32 indices (PyTorch's F.embedding),
// and its gradient, a scatter-add of the output gradient into the rows that were picked.
//
//   lookup:  Y[n, e] = W[IDX[n], e]                      (one invocation per output element)
//   scatter: DW[IDX[n], e] += G[n, e]                    (one invocation per gradient element)
// WGSL has no float atomics: scatter adds with a compare-exchange loop on the value's bits, so
// repeated indices accumulate whatever the order (float addition order may differ run to run).
// DW must be zero-filled first. An index outside [0, V) sets error code 3 in FLAGS (reported
// at the next readback); its output is NaN and its gradient is dropped.
// Bindings: 0 SRC (read: W for lookup, G for scatter), 1 IDX (read, i32), 2 DST (read_write:
//           Y, or DW as atomic u32 bits), 3 FLAGS (atomic u32 x4), 4 uniform P { N, V, E }.

struct Params { N: u32, V: u32, E: u32 }

@group(0) @binding(0) var<storage, read> SRC: array<f32>;
@group(0) @binding(1) var<storage, read> IDX: array<i32>;
@group(0) @binding(2) var<storage, read_write> DST: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> FLAGS: array<atomic<u32>, 4>;
@group(0) @binding(4) var<uniform> P: Params;

// #include "lib/math.wgsl"

// #include "lib/flags.wgsl"

// the row index of element i, or -1 (flagged) when out of range
fn row_of(i: u32) -> i32 {
  let k = IDX[i / P.E];
  if (k < 0 || k >= i32(P.V)) {
    report_index(3u, k, P.V);
    return -1;
  }
  return k;
}

@compute @workgroup_size({{WG}})
fn lookup(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.N * P.E) { return; }
  let k = row_of(i);
  if (k < 0) {
    atomicStore(&DST[i], bitcast<u32>(nan_f32()));
    return;
  }
  atomicStore(&DST[i], bitcast<u32>(SRC[u32(k) * P.E + i % P.E]));
}

@compute @workgroup_size({{WG}})
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.N * P.E) { return; }
  let k = row_of(i);
  if (k < 0) { return; }
  let at = u32(k) * P.E + i % P.E;
  let g = SRC[i];
  var old = atomicLoad(&DST[at]);
  loop {
    let r = atomicCompareExchangeWeak(&DST[at], old, bitcast<u32>(bitcast<f32>(old) + g));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
