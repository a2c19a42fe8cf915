// stats.wgsl: summary statistics and histograms of many tensors at once, on the GPU.
//
// The tensors of one record are copied into DATA, each starting at a multiple of 4 floats, and
// read as vec4 (four elements per load: what is fast on a software adapter); SEG describes each
// segment (offset and length in floats).
// Three passes, all recorded in the same batch as the training step:
//   partial:   each invocation of the workgroup for one slice of a segment reduces its strided
//              share of the slice to a partial record in PART (no workgroup barriers: they are
//              what costs most on a software adapter)
//   finalize:  one invocation per segment combines its partials into OUT[out_base + s*12 ..]
//   histogram: each invocation counts its share into B equal bins between the segment's min and
//              max (read from OUT) in a private histogram, then adds it to HIST[hist_base + s*B ..]
// A record (12 floats): count, sum, sum of squares, min, max, max |x|, non-finite count,
//   zero count, sum |x|, saturated count (|x - center| >= thr), 0, 0.
// Non-finite values (NaN, ±Inf) are counted and left out of every other statistic.
// Bindings: 0 DATA (read), 1 SEG (read; per segment two vec4u: (offset, length, first group,
//           group count), (center bits, thr bits, 0, 0)), 2 PART (read-write), 3 OUT (read-write),
//           4 HIST (read-write atomic u32), 5 uniform P { nseg, ngroups, bins, out_base, hist_base }.

struct Params { nseg: u32, ngroups: u32, bins: u32, out_base: u32, hist_base: u32 }

@group(0) @binding(0) var<storage, read> DATA: array<vec4f>;
@group(0) @binding(1) var<storage, read> SEG: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> PART: array<f32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(4) var<storage, read_write> HIST: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> P: Params;

const REC: u32 = 12u;
const WG: u32 = 64u;

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

// the vec4 range [begin, end) of segment s that workgroup w reduces
fn slice_of(s: u32, w: u32) -> vec2u {
  let g = SEG[2u * s];
  let n4 = (g.y + 3u) / 4u;
  let chunk = (n4 + g.w - 1u) / g.w;
  let begin = min(n4, (w - g.z) * chunk);
  let end = min(n4, begin + chunk);
  return vec2u(g.x / 4u + begin, g.x / 4u + end);
}

// which lanes of the vec4 at index i lie inside a segment ending at float index end, and are finite
fn lanes(i: u32, end: u32) -> vec4<bool> {
  let b = i * 4u;
  return vec4<bool>(b < end, b + 1u < end, b + 2u < end, b + 3u < end);
}

fn finite4(v: vec4f) -> vec4<bool> {
  return (bitcast<vec4u>(v) & vec4u(0x7f800000u)) != vec4u(0x7f800000u);
}

// With "auto" layouts every entry point must use every binding, so each calls this (it never
// runs: nseg is never 0xffffffff).
fn bind_all() {
  if (P.nseg == 0xffffffffu) {
    PART[0] = DATA[0].x + OUT[0] + f32(SEG[0].x);
    atomicAdd(&HIST[0], 0u);
  }
}



@compute @workgroup_size(64)
fn partial(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  bind_all();
  let w = wid.x;
  if (w >= P.ngroups) { return; }
  let s = segment_of(w);
  let r = slice_of(s, w);
  let sat = SEG[2u * s + 1u];
  let center = bitcast<f32>(sat.x);
  let thr = bitcast<f32>(sat.y);
  let end = SEG[2u * s].x + SEG[2u * s].y;
  let z = vec4f(0.0);
  let o = vec4f(1.0);
  var cnt = z; var s1 = z; var s2 = z; var mn = vec4f(3.4e38); var mx = vec4f(-3.4e38);
  var ma = z; var nf = z; var nz = z; var sa = z; var st = z;
  for (var i = r.x + lid.x; i < r.y; i += WG) {
    let v = DATA[i];
    let inside = lanes(i, end);
    let ok = inside & finite4(v);
    let x = select(z, v, ok);
    cnt += select(z, o, ok);
    s1 += x;
    s2 += x * x;
    mn = select(mn, min(mn, v), ok);
    mx = select(mx, max(mx, v), ok);
    ma = max(ma, abs(x));
    nf += select(z, o, inside & !ok);
    nz += select(z, o, ok & (v == z));
    sa += abs(x);
    st += select(z, o, ok & (abs(v - vec4f(center)) >= vec4f(thr)));
  }
  var a = array<f32, 10>(
    dot(cnt, o), dot(s1, o), dot(s2, o), min(min(mn.x, mn.y), min(mn.z, mn.w)), max(max(mx.x, mx.y), max(mx.z, mx.w)),
    max(max(ma.x, ma.y), max(ma.z, ma.w)), dot(nf, o), dot(nz, o), dot(sa, o), dot(st, o),
  );
  let p = (w * WG + lid.x) * REC;
  for (var j = 0u; j < 10u; j++) { PART[p + j] = a[j]; }
}

@compute @workgroup_size(64)
fn finalize(@builtin(global_invocation_id) gid: vec3u) {
  bind_all();
  let s = gid.x;
  if (s >= P.nseg) { return; }
  let g = SEG[2u * s];
  var m = array<f32, 10>(0.0, 0.0, 0.0, 3.4e38, -3.4e38, 0.0, 0.0, 0.0, 0.0, 0.0);
  for (var q = g.z * WG; q < (g.z + g.w) * WG; q++) {
    let b = q * REC;
    m[0] += PART[b]; m[1] += PART[b + 1u]; m[2] += PART[b + 2u];
    m[3] = min(m[3], PART[b + 3u]); m[4] = max(m[4], PART[b + 4u]); m[5] = max(m[5], PART[b + 5u]);
    m[6] += PART[b + 6u]; m[7] += PART[b + 7u]; m[8] += PART[b + 8u]; m[9] += PART[b + 9u];
  }
  let o = P.out_base + s * REC;
  for (var j = 0u; j < 10u; j++) { OUT[o + j] = m[j]; }
  OUT[o + 10u] = 0.0;
  OUT[o + 11u] = 0.0;
}

@compute @workgroup_size(64)
fn histogram(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  bind_all();
  let w = wid.x;
  if (w >= P.ngroups) { return; }
  var bins: array<u32, 64>;
  let s = segment_of(w);
  let r = slice_of(s, w);
  let o = P.out_base + s * REC;
  let lo = OUT[o + 3u];
  let hi = OUT[o + 4u];
  let nb = P.bins;
  let scale = select(f32(nb) / (hi - lo), 0.0, hi <= lo);
  let end = SEG[2u * s].x + SEG[2u * s].y;
  for (var i = r.x + lid.x; i < r.y; i += WG) {
    let v = DATA[i];
    let ok = lanes(i, end) & finite4(v);
    let b = min(vec4u(max((v - vec4f(lo)) * scale, vec4f(0.0))), vec4u(nb - 1u));
    if (ok.x) { bins[b.x] += 1u; }
    if (ok.y) { bins[b.y] += 1u; }
    if (ok.z) { bins[b.z] += 1u; }
    if (ok.w) { bins[b.w] += 1u; }
  }
  for (var k = 0u; k < nb; k++) {
    if (bins[k] > 0u) { atomicAdd(&HIST[P.hist_base + s * nb + k], bins[k]); }
  }
}
