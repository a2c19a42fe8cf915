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
//   histogram: each invocation counts its share into B bins in a private histogram, then adds
//              it to HIST[hist_base + s*B ..]. Bin k holds edge_k <= x < edge_k+1 (the last bin
//              also x = max), edge_k = min + k·((max - min) / B) in f32, exactly: a value on an
//              edge goes to the bin that starts there.
// A record (12 words): count (u32), mean, M2 = sum (x - mean)^2, min, max, max |x|,
//   non-finite count (u32), zero count (u32), sum |x|, saturated count (u32; |x - center| >= thr),
//   sum x^2, 0. Floats are stored as their bits.
// The variance is stable when |mean| >> std (sigmoid outputs, running variances): each invocation
// sums x - K and (x - K)^2 around K, its first finite element, and partials are merged with
// Chan et al.'s pairwise update; E[x^2] - E[x]^2 in f32 would cancel to nothing. Counts are
// integers (exact past 2^24).
// Non-finite values (NaN, ±Inf) are counted and left out of every other statistic.
// Bindings: 0 DATA (read), 1 SEG (read; per segment two vec4u: (offset, length, first group,
//           group count), (center bits, thr bits, 0, 0)), 2 PART (read-write u32),
//           3 OUT (read-write u32), 4 HIST (read-write atomic u32),
//           5 uniform P { nseg, ngroups, bins, out_base, hist_base }.

struct Params { nseg: u32, ngroups: u32, bins: u32, out_base: u32, hist_base: u32 }

@group(0) @binding(0) var<storage, read> DATA: array<vec4f>;
@group(0) @binding(1) var<storage, read> SEG: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> PART: array<u32>;
@group(0) @binding(3) var<storage, read_write> OUT: array<u32>;
@group(0) @binding(4) var<storage, read_write> HIST: array<atomic<u32>>;
@group(0) @binding(5) var<uniform> P: Params;

const REC: u32 = 12u;
const WG: u32 = {{WG}}u;

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
    PART[0] = bitcast<u32>(DATA[0].x) + OUT[0] + SEG[0].x;
    atomicAdd(&HIST[0], 0u);
  }
}



// Count, mean and M2 of two disjoint sets, merged (Chan, Golub and LeVeque).
struct Moments { n: u32, mean: f32, m2: f32 }

fn merge(a: Moments, b: Moments) -> Moments {
  let n = a.n + b.n;
  if (b.n == 0u) { return a; }
  if (a.n == 0u) { return b; }
  let d = b.mean - a.mean;
  let fb = f32(b.n) / f32(n);
  return Moments(n, a.mean + d * fb, a.m2 + b.m2 + d * d * f32(a.n) * fb);
}

@compute @workgroup_size({{WG}})
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
  let zu = vec4u(0u);
  let ou = vec4u(1u);
  // the shift K: this invocation's first finite element (0 if it has none)
  var k = 0.0;
  let i0 = r.x + lid.x;
  if (i0 < r.y) {
    let v0 = DATA[i0];
    let ok0 = lanes(i0, end) & finite4(v0);
    k = select(select(select(select(0.0, v0.w, ok0.w), v0.z, ok0.z), v0.y, ok0.y), v0.x, ok0.x);
  }
  let kv = vec4f(k);
  var cnt = zu; var s1 = z; var s2 = z; var mn = vec4f(3.4e38); var mx = vec4f(-3.4e38);
  var ma = z; var nf = zu; var nz = zu; var sa = z; var st = zu; var sq = z;
  for (var i = i0; i < r.y; i += WG) {
    let v = DATA[i];
    let inside = lanes(i, end);
    let ok = inside & finite4(v);
    let x = select(z, v, ok);
    let d = select(z, v - kv, ok);
    cnt += select(zu, ou, ok);
    s1 += d;
    s2 += d * d;
    sq += x * x;
    mn = select(mn, min(mn, v), ok);
    mx = select(mx, max(mx, v), ok);
    ma = max(ma, abs(x));
    nf += select(zu, ou, inside & !ok);
    nz += select(zu, ou, ok & (v == z));
    sa += abs(x);
    st += select(zu, ou, ok & (abs(v - vec4f(center)) >= vec4f(thr)));
  }
  let n = cnt.x + cnt.y + cnt.z + cnt.w;
  let t1 = dot(s1, o);
  let mean = select(k + t1 / f32(max(n, 1u)), 0.0, n == 0u);
  let m2 = select(max(0.0, dot(s2, o) - t1 * t1 / f32(max(n, 1u))), 0.0, n == 0u);
  let p = (w * WG + lid.x) * REC;
  PART[p] = n;
  PART[p + 1u] = bitcast<u32>(mean);
  PART[p + 2u] = bitcast<u32>(m2);
  PART[p + 3u] = bitcast<u32>(min(min(mn.x, mn.y), min(mn.z, mn.w)));
  PART[p + 4u] = bitcast<u32>(max(max(mx.x, mx.y), max(mx.z, mx.w)));
  PART[p + 5u] = bitcast<u32>(max(max(ma.x, ma.y), max(ma.z, ma.w)));
  PART[p + 6u] = nf.x + nf.y + nf.z + nf.w;
  PART[p + 7u] = nz.x + nz.y + nz.z + nz.w;
  PART[p + 8u] = bitcast<u32>(dot(sa, o));
  PART[p + 9u] = st.x + st.y + st.z + st.w;
  PART[p + 10u] = bitcast<u32>(dot(sq, o));
}

@compute @workgroup_size({{WG}})
fn finalize(@builtin(global_invocation_id) gid: vec3u) {
  bind_all();
  let s = gid.x;
  if (s >= P.nseg) { return; }
  let g = SEG[2u * s];
  var m = Moments(0u, 0.0, 0.0);
  var mn = 3.4e38; var mx = -3.4e38; var ma = 0.0; var sa = 0.0; var sq = 0.0;
  var nf = 0u; var nz = 0u; var st = 0u;
  for (var q = g.z * WG; q < (g.z + g.w) * WG; q++) {
    let b = q * REC;
    m = merge(m, Moments(PART[b], bitcast<f32>(PART[b + 1u]), bitcast<f32>(PART[b + 2u])));
    mn = min(mn, bitcast<f32>(PART[b + 3u]));
    mx = max(mx, bitcast<f32>(PART[b + 4u]));
    ma = max(ma, bitcast<f32>(PART[b + 5u]));
    nf += PART[b + 6u];
    nz += PART[b + 7u];
    sa += bitcast<f32>(PART[b + 8u]);
    st += PART[b + 9u];
    sq += bitcast<f32>(PART[b + 10u]);
  }
  let o = P.out_base + s * REC;
  OUT[o] = m.n;
  OUT[o + 1u] = bitcast<u32>(m.mean);
  OUT[o + 2u] = bitcast<u32>(m.m2);
  OUT[o + 3u] = bitcast<u32>(mn);
  OUT[o + 4u] = bitcast<u32>(mx);
  OUT[o + 5u] = bitcast<u32>(ma);
  OUT[o + 6u] = nf;
  OUT[o + 7u] = nz;
  OUT[o + 8u] = bitcast<u32>(sa);
  OUT[o + 9u] = st;
  OUT[o + 10u] = bitcast<u32>(sq);
  OUT[o + 11u] = 0u;
}

// the bin of x: the estimate floor((x - lo) / width), moved by one where it disagrees with the
// f32 edges lo + k·width (the estimate is off by at most one)
fn bin_of(x: f32, lo: f32, width: f32, nb: u32) -> u32 {
  if (width <= 0.0) { return 0u; }
  var b = min(u32(max(floor((x - lo) / width), 0.0)), nb - 1u);
  if (b > 0u && x < lo + f32(b) * width) {
    b -= 1u;
  } else if (b + 1u < nb && x >= lo + f32(b + 1u) * width) {
    b += 1u;
  }
  return b;
}

@compute @workgroup_size({{WG}})
fn histogram(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  bind_all();
  let w = wid.x;
  if (w >= P.ngroups) { return; }
  var bins: array<u32, 64>;
  let s = segment_of(w);
  let r = slice_of(s, w);
  let o = P.out_base + s * REC;
  let lo = bitcast<f32>(OUT[o + 3u]);
  let hi = bitcast<f32>(OUT[o + 4u]);
  let nb = P.bins;
  let width = select((hi - lo) / f32(nb), 0.0, hi <= lo);
  let end = SEG[2u * s].x + SEG[2u * s].y;
  for (var i = r.x + lid.x; i < r.y; i += WG) {
    let v = DATA[i];
    let ok = lanes(i, end) & finite4(v);
    if (ok.x) { bins[bin_of(v.x, lo, width, nb)] += 1u; }
    if (ok.y) { bins[bin_of(v.y, lo, width, nb)] += 1u; }
    if (ok.z) { bins[bin_of(v.z, lo, width, nb)] += 1u; }
    if (ok.w) { bins[bin_of(v.w, lo, width, nb)] += 1u; }
  }
  for (var k = 0u; k < nb; k++) {
    if (bins[k] > 0u) { atomicAdd(&HIST[P.hist_base + s * nb + k], bins[k]); }
  }
}
