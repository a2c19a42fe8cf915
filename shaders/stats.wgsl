// stats.wgsl: summary statistics and histograms of many tensors at once, on the GPU.
//
// The tensors of one record are copied end to end into DATA; SEG describes each segment.
// Three passes, all recorded in the same batch as the training step:
//   partial:   one workgroup per slice of a segment reduces its slice to a partial record in PART
//   finalize:  one invocation per segment combines the partials into OUT[out_base + s*12 ..]
//   histogram: one workgroup per slice counts values into B equal bins between the segment's
//              min and max (read from OUT), workgroup atomics first, then HIST[hist_base + s*B ..]
// A record (12 floats): count, sum, sum of squares, min, max, max |x|, non-finite count,
//   zero count, sum |x|, saturated count (|x - center| >= thr), 0, 0.
// Non-finite values (NaN, ±Inf) are counted and left out of every other statistic.
// Bindings: 0 DATA (read), 1 SEG (read; per segment two vec4u: (offset, length, first group,
//           group count), (center bits, thr bits, 0, 0)), 2 PART (read-write), 3 OUT (read-write),
//           4 HIST (read-write atomic u32), 5 uniform P { nseg, ngroups, bins, out_base, hist_base }.

struct Params { nseg: u32, ngroups: u32, bins: u32, out_base: u32, hist_base: u32 }

@group(0) @binding(0) var<storage, read> DATA: array<f32>;
@group(0) @binding(1) var<storage, read> SEG: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> PART: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<storage, read_write> HIST: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> P: Params;

const REC: u32 = 12u;
const WG: u32 = 256u;

fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// the segment that workgroup w works on
fn segment_of(w: u32) -> u32 {
  var s = 0u;
  for (var i = 0u; i < P.nseg; i++) {
    let g = SEG[2u * i];
    if (w >= g.z && w < g.z + g.w) { s = i; }
  }
  return s;
}

fn slice_of(s: u32, w: u32) -> vec2u {
  let g = SEG[2u * s];
  let chunk = (g.y + g.w - 1u) / g.w;
  let begin = min(g.y, (w - g.z) * chunk);
  let end = min(g.y, begin + chunk);
  return vec2u(g.x + begin, g.x + end);
}

// With "auto" layouts every entry point must use every binding, so each calls this (it never
// runs: nseg is never 0xffffffff).
fn bind_all() {
  if (P.nseg == 0xffffffffu) {
    PART[0] = DATA[0] + OUT[0] + f32(SEG[0].x);
    atomicAdd(&HIST[0], 0u);
  }
}

var<workgroup> red: array<array<f32, 10>, WG>;

@compute @workgroup_size(256)
fn partial(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  bind_all();
  let w = wid.x;
  if (w >= P.ngroups) { return; }
  let s = segment_of(w);
  let r = slice_of(s, w);
  let sat = SEG[2u * s + 1u];
  let center = bitcast<f32>(sat.x);
  let thr = bitcast<f32>(sat.y);
  var a = array<f32, 10>(0.0, 0.0, 0.0, 3.4e38, -3.4e38, 0.0, 0.0, 0.0, 0.0, 0.0);
  for (var i = r.x + lid.x; i < r.y; i += WG) {
    let x = DATA[i];
    if (!finite(x)) { a[6] += 1.0; continue; }
    a[0] += 1.0;
    a[1] += x;
    a[2] += x * x;
    a[3] = min(a[3], x);
    a[4] = max(a[4], x);
    a[5] = max(a[5], abs(x));
    if (x == 0.0) { a[7] += 1.0; }
    a[8] += abs(x);
    if (abs(x - center) >= thr) { a[9] += 1.0; }
  }
  red[lid.x] = a;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k >> 1u) {
    if (lid.x < k) {
      var m = red[lid.x];
      let o = red[lid.x + k];
      m[0] += o[0]; m[1] += o[1]; m[2] += o[2];
      m[3] = min(m[3], o[3]); m[4] = max(m[4], o[4]); m[5] = max(m[5], o[5]);
      m[6] += o[6]; m[7] += o[7]; m[8] += o[8]; m[9] += o[9];
      red[lid.x] = m;
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    for (var j = 0u; j < 10u; j++) { PART[w * REC + j] = red[0][j]; }
  }
}

@compute @workgroup_size(64)
fn finalize(@builtin(global_invocation_id) gid: vec3u) {
  bind_all();
  let s = gid.x;
  if (s >= P.nseg) { return; }
  let g = SEG[2u * s];
  var m = array<f32, 10>(0.0, 0.0, 0.0, 3.4e38, -3.4e38, 0.0, 0.0, 0.0, 0.0, 0.0);
  for (var w = g.z; w < g.z + g.w; w++) {
    let b = w * REC;
    m[0] += PART[b]; m[1] += PART[b + 1u]; m[2] += PART[b + 2u];
    m[3] = min(m[3], PART[b + 3u]); m[4] = max(m[4], PART[b + 4u]); m[5] = max(m[5], PART[b + 5u]);
    m[6] += PART[b + 6u]; m[7] += PART[b + 7u]; m[8] += PART[b + 8u]; m[9] += PART[b + 9u];
  }
  let o = P.out_base + s * REC;
  for (var j = 0u; j < 10u; j++) { OUT[o + j] = m[j]; }
  OUT[o + 10u] = 0.0;
  OUT[o + 11u] = 0.0;
}

var<workgroup> bins: array<atomic<u32>, 64>;

@compute @workgroup_size(256)
fn histogram(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  bind_all();
  let w = wid.x;
  if (w >= P.ngroups) { return; }
  if (lid.x < 64u) { atomicStore(&bins[lid.x], 0u); }
  workgroupBarrier();
  let s = segment_of(w);
  let r = slice_of(s, w);
  let o = P.out_base + s * REC;
  let lo = OUT[o + 3u];
  let hi = OUT[o + 4u];
  let nb = P.bins;
  let scale = select(f32(nb) / (hi - lo), 0.0, hi <= lo);
  for (var i = r.x + lid.x; i < r.y; i += WG) {
    let x = DATA[i];
    if (!finite(x)) { continue; }
    let b = min(u32(max((x - lo) * scale, 0.0)), nb - 1u);
    atomicAdd(&bins[b], 1u);
  }
  workgroupBarrier();
  if (lid.x < nb) {
    let c = atomicLoad(&bins[lid.x]);
    if (c > 0u) { atomicAdd(&HIST[P.hist_base + s * nb + lid.x], c); }
  }
}
