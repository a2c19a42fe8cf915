// int8_gemm.wgsl: the register-tiled int8 matrix product behind QuantizedLinear and
// QuantizedConv2d (src/tensor/ops/int8.ts), with the input quantization and the patch gather
// (im2col) done in int8.
//
// Loop budget (src/gpu/loops.ts): gemm loops LA·LB·(LC + 1) + LA times per invocation; the host
// refuses more than llvmpipe's 65,535 steps.
//
// Operands are int8, four to a u32 (byte 0 = the lowest index). The product is an implicit GEMM
// over a convolution's patches (a Linear is C = K, H = W = KH = KW = 1, no padding), packed one
// of two ways (`slide`; the host picks the one with fewer words per patch):
//   channels (slide = 0): K ordered (ky, kx, c), channels padded to C4 words;
//     XQ [N][Hp][Wp][C4] = the quantized input, channels packed, zero borders of `pad` pixels
//     (Hp = H + 2·pad, Wp = W + 2·pad)
//   columns (slide = 1, e.g. 1 channel, 3×3: 3 words per patch instead of 9): K ordered
//     (c, ky, kx), filter columns padded to whole words; XQ [N][C][Hp][Wp] word x packs padded
//     pixels x, x + dil, x + 2·dil, x + 3·dil of its row (a sliding window; 0 past the border)
//   rows (slide = 2, a Linear): XQ [C4][N] K-major, so the 8 rows of a block are adjacent words
// Each way the gemm walks words w = (la·LB + lb)·LC + lc of a patch and row m = (img, oy, ox)
// reads XQ[row_base(m) + la·SA + lb·SB + lc·SC] (row_base = img·s_img + oy·s_oy + ox·s_ox): no
// bounds checks, the borders are zeros.
//   WT [K'][ldw] = the filters reordered the same way, K-major: WT[w · ldw + n] (K' = LA·LB·LC
//     words; ldw a multiple of TN ≥ N, zero past N and past the real K), so one vec4u load
//     brings 4 output channels
// Entries:
//   quantize:  XF (f32 [N, C, H, W]) → XQ: q = clamp(round(x · inv_sx), −127, 127) (round half
//              to even); a NaN x gives 0 and is reported through FLAGS (lib/flags.wgsl, code 4:
//              the image, the layer's label id)
//   weights:   packed row-major filters [M = out channels, K4] in (c, ky, kx) order (bound as XR)
//              → WT (written to XQ)
//   gemm:      each invocation a TM×TN block: ACC = Σ_w dot4(A[m, w], WT[w, n]) in i32 (exact;
//              the zero padding adds 0); Y = f32(ACC)·sx·WS[n] + BIAS[n], stored at
//              (m / pos)·N·pos + n·pos + m % pos (pos = 1: row-major [M, N]; pos = OH·OW: a
//              conv's NCHW output); ACC [M, N] row-major only when write_acc = 1.
//              The epilogue, on the registers: relu = 1 takes max(Y, 0) (as ReLU after the layer);
//              a pooling block (the host's POOL code) reads its TM rows as TM/4 2×2 windows
//              of a 2×2 stride-2 max pool (row m: pooled pixel m / 4 = (img, py, px), window
//              position m % 4 = 2·dy + dx at conv pixel (2py + dy, 2px + dx); M = 4·N·PH·PW,
//              PH = ⌊OH/2⌋, PW = ⌊OW/2⌋: conv pixels no window reads are never computed) and
//              stores max over the window of relu(Y) (the same floats as ReLU then MaxPool2d:
//              max is exact) as [N][N_out][PH][PW] (pos = PH·PW), or, with out_q = 1, quantized
//              for the next conv (as `quantize` with its inv_sx and label: round half to even,
//              clamp ±127) straight into its channels-packed XQ [N][q_Hp][q_Wp][q_C4] at pixel
//              (py + q_pad, px + q_pad), written through the ACC binding (its border words are
//              the host's zeros). No float activation is written.
// The block is unrolled by the host (llvmpipe keeps indexed arrays in memory): ACC_DECL declares
// the row bases b<row> and the vec4i accumulators c_<row>_<col4>, K_STEP loads TM words of XQ
// (as TM/4 vec4u) and TN/4 vec4u of WT and
// accumulates (the unpacking path sign-extends each byte once per load and adds a word's 4 byte
// products, multiplied as vec4i, to each accumulator in one update; the builtin path calls
// dot4I8Packed per output), STORE writes through store4(). TM is 16 (4 pooled pixels) when the
// epilogue pools, else 8; TN is 16.
// Bindings: 0 XF (read, f32), 1 XR (read, u32), 2 WT (read, vec4u), 3 WS (read, f32 [N]),
//           4 BIAS (read, f32 [N]; bind anything when has_bias = 0), 5 XQ (read_write, u32:
//           written by quantize/weights, read by gemm), 6 ACC (read_write, i32: accumulators, or
//           the next layer's packed input when out_q = 1), 7 Y (read_write, f32), 8 FLAGS
//           (read_write, the error flags), 9 uniform P.

struct Params {
  M: u32, N: u32, K: u32, K4: u32,
  ldw4: u32, tiles_n: u32, has_bias: u32,
  write_acc: u32, pos: u32, sx: f32, inv_sx: f32,
  label: u32, C: u32, H: u32, W: u32,
  KH: u32, KW: u32, OW: u32, stride: u32,
  pad: u32, dil: u32, total: u32, Hp: u32,
  Wp: u32, C4: u32, slide: u32, LA: u32,
  LB: u32, LC: u32, SA: u32, SB: u32,
  SC: u32, s_img: u32, s_oy: u32, s_ox: u32,
  relu: u32, PH: u32, PW: u32, out_q: u32,
  q_Hp: u32, q_Wp: u32, q_pad: u32, q_C4: u32,
}

@group(0) @binding(0) var<storage, read> XF: array<f32>;
@group(0) @binding(1) var<storage, read> XR: array<u32>;
@group(0) @binding(2) var<storage, read> WT: array<vec4u>;
@group(0) @binding(3) var<storage, read> WS: array<f32>;
@group(0) @binding(4) var<storage, read> BIAS: array<f32>;
@group(0) @binding(5) var<storage, read_write> XQ: array<u32>;
@group(0) @binding(6) var<storage, read_write> ACC: array<i32>;
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;
@group(0) @binding(8) var<storage, read_write> FLAGS: array<atomic<u32>, 4>;
@group(0) @binding(9) var<uniform> P: Params;

// #include "lib/math.wgsl"

// #include "lib/flags.wgsl"

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;

// Every entry names every binding once, so one bind group layout serves all.
fn bind_all() {
  if (P.M == 0xffffffffu) {
    Y[0] = XF[0] + f32(XR[0] + WT[0].x + XQ[0]) + WS[0] + BIAS[0] + f32(ACC[0]) +
      f32(atomicLoad(&FLAGS[0]));
  }
}

// the sign-extended byte b of each lane
fn bytes(v: vec4u, b: u32) -> vec4i {
  return bitcast<vec4i>(v << vec4u(24u - 8u * b)) >> vec4u(24u);
}

// the int8 values of 4 floats packed in a word (a NaN is 0 and reported for image img; lanes
// where `inside` is false are 0)
fn pack4(xv: vec4f, inside: vec4<bool>, img: u32) -> u32 {
  let nan = inside & ((bitcast<vec4u>(xv) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u));
  if (any(nan)) { report_index(4u, i32(img), P.label); }
  let qi = vec4i(clamp(round(xv * P.inv_sx), vec4f(-127.0), vec4f(127.0)));
  let q = select(vec4u(0u), bitcast<vec4u>(qi) & vec4u(0xffu), inside & !nan);
  return q.x | (q.y << 8u) | (q.z << 16u) | (q.w << 24u);
}

// invocation t: word (img, y, x, c4) of XQ [N][Hp][Wp][C4]: channels 4·c4 .. 4·c4+3 of
// input pixel (y − pad, x − pad), 0 outside the image and past C
@compute @workgroup_size({{WG}})
fn quantize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  if (P.slide == 2u) {
    // XQ [C4][N] of a Linear's [N, C] input: word c4 of row img at c4·N + img (invocations
    // walk the input in order: contiguous reads, scattered writes measured faster)
    let img = t / P.C4;
    let c0 = (t % P.C4) * 4u;
    let c = vec4u(c0, c0 + 1u, c0 + 2u, c0 + 3u);
    let inside = c < vec4u(P.C);
    let at = select(vec4u(0u), img * P.C + c, inside);
    XQ[(c0 / 4u) * P.SC + img] = pack4(vec4f(XF[at.x], XF[at.y], XF[at.z], XF[at.w]), inside, img);
    return;
  }
  if (P.slide == 1u) {
    // XQ [N][C][Hp][Wp]: word x packs pixels (y − pad, x − pad + i·dil) for i = 0..3 of channel
    // c; invocation t writes words x0 .. x0+3 of one padded row (the index divisions, scalarised
    // on llvmpipe, once per 4 words)
    let wq = (P.Wp + 3u) / 4u;
    let x0 = (t % wq) * 4u;
    let row = t / wq;
    let y = i32(row % P.Hp) - i32(P.pad);
    let c = (row / P.Hp) % P.C;
    let img = row / (P.Hp * P.C);
    let src = ((img * P.C + c) * P.H + u32(y)) * P.W;
    let rowin = y >= 0 && y < i32(P.H);
    if (P.dil == 1u) {
      // dil = 1: the 4 words pack pixels x0 − pad .. x0 + 6 − pad, each loaded once (7 loads,
      // not 16)
      let xb = i32(x0) - i32(P.pad);
      let xs = vec4i(xb) + vec4i(0, 1, 2, 3);
      let ys = xs + vec4i(4);
      let in_a = vec4<bool>(rowin) & (xs >= vec4i(0)) & (xs < vec4i(i32(P.W)));
      let in_b = vec4<bool>(rowin) & (ys >= vec4i(0)) & (ys < vec4i(i32(P.W)));
      let at_a = select(vec4u(0u), src + bitcast<vec4u>(xs), in_a);
      let at_b = select(vec4u(0u), src + bitcast<vec4u>(ys), in_b);
      let a = vec4f(XF[at_a.x], XF[at_a.y], XF[at_a.z], XF[at_a.w]);
      let b = vec4f(XF[at_b.x], XF[at_b.y], XF[at_b.z], 0.0);
      let o = row * P.Wp + x0;
      XQ[o] = pack4(a, in_a, img);
      if (x0 + 1u < P.Wp) {
        XQ[o + 1u] = pack4(vec4f(a.yzw, b.x), vec4<bool>(in_a.yzw, in_b.x), img);
      }
      if (x0 + 2u < P.Wp) {
        XQ[o + 2u] = pack4(vec4f(a.zw, b.xy), vec4<bool>(in_a.zw, in_b.xy), img);
      }
      if (x0 + 3u < P.Wp) {
        XQ[o + 3u] = pack4(vec4f(a.w, b.xyz), vec4<bool>(in_a.w, in_b.xyz), img);
      }
      return;
    }
    for (var x = x0; x < min(x0 + 4u, P.Wp); x++) {
      let xs = vec4i(vec4u(x) + vec4u(0u, 1u, 2u, 3u) * P.dil) - i32(P.pad);
      let inside = vec4<bool>(rowin) & (xs >= vec4i(0)) & (xs < vec4i(i32(P.W)));
      let at = select(vec4u(0u), src + bitcast<vec4u>(xs), inside);
      XQ[row * P.Wp + x] = pack4(vec4f(XF[at.x], XF[at.y], XF[at.z], XF[at.w]), inside, img);
    }
    return;
  }
  // channels packed: invocation t is padded pixel (img, y, x), all its C4 words (the index
  // divisions, scalarised on llvmpipe, once per pixel)
  let x = i32(t % P.Wp) - i32(P.pad);
  let y = i32((t / P.Wp) % P.Hp) - i32(P.pad);
  let img = t / (P.Wp * P.Hp);
  let pixel = x >= 0 && x < i32(P.W) && y >= 0 && y < i32(P.H);
  let plane = P.H * P.W;
  let src = img * P.C * plane + u32(y) * P.W + u32(x);
  for (var c4 = 0u; c4 < P.C4; c4++) {
    let c = vec4u(c4 * 4u) + vec4u(0u, 1u, 2u, 3u);
    let inside = vec4<bool>(pixel) & (c < vec4u(P.C));
    let at = select(vec4u(0u), src + c * plane, inside);
    XQ[t * P.C4 + c4] = pack4(vec4f(XF[at.x], XF[at.y], XF[at.z], XF[at.w]), inside, img);
  }
}

// invocation t: XQ[w · ldw + n] for 4 output channels n = n0 .. n0+3 (0 past M rows): word
// w = (ky·KW + kx)·C4 + c4 of the filters reordered, from the packed row-major [M, K4] filters
// in (c, ky, kx) order bound as XR
@compute @workgroup_size({{WG}})
fn weights(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let w = t / P.ldw4;
  let n0 = (t % P.ldw4) * 4u;
  let la = w / (P.LB * P.LC);
  let lb = (w / P.LC) % P.LB;
  let lc = w % P.LC;
  for (var r = 0u; r < 4u; r++) {
    var word = 0u;
    let n = n0 + r;
    for (var i = 0u; i < 4u; i++) {
      // channel packing: (la, lb, lc) = (ky, kx, c4), byte i is channel 4·c4 + i;
      // sliding packing: (la, lb, lc) = (c, ky, kx4), byte i is column 4·kx4 + i
      var c = lc * 4u + i;
      var ky = la;
      var kx = lb;
      if (P.slide == 1u) {
        c = la;
        ky = lb;
        kx = lc * 4u + i;
      }
      if (n < P.M && c < P.C && kx < P.KW) {
        let k = (c * P.KH + ky) * P.KW + kx;
        word |= ((XR[n * P.K4 + k / 4u] >> (8u * (k % 4u))) & 0xffu) << (8u * i);
      }
    }
    XQ[w * P.ldw4 * 4u + n] = word;
  }
}

// Row m = (img, p = oy·OW + ox) of the patch matrix as vec4u(img, p, oy, ox). The block's rows
// are consecutive, so the host's unrolled code divides once (row_at) and then steps (next_row):
// integer division is scalarised on llvmpipe.
fn row_at(m: u32) -> vec4u {
  let r = min(m, P.M - 1u);
  let p = r % P.pos;
  return vec4u(r / P.pos, p, p / P.OW, p % P.OW);
}

// the row after `at` (m is its index): `at` itself past the last row (never stored)
fn next_row(at: vec4u, m: u32) -> vec4u {
  if (m >= P.M) { return at; }
  var n = at + vec4u(0u, 1u, 0u, 1u);
  if (n.w == P.OW) { n = vec4u(n.x, n.y, n.z + 1u, 0u); }
  if (n.y == P.pos) { n = vec4u(n.x + 1u, 0u, 0u, 0u); }
  return n;
}

// where a row's patch starts in XQ: output pixel (oy, ox) of image img reads from padded pixel
// (oy·stride, ox·stride)
fn row_base(at: vec4u) -> u32 {
  return at.x * P.s_img + at.z * P.s_oy + at.w * P.s_ox;
}

// where a row's output for channel 0 goes in Y (channel n at + n·pos)
fn row_out(at: vec4u) -> u32 {
  return at.x * P.N * P.pos + at.y;
}

// one row of 4 outputs of a block: the accumulators and requantized outputs inside [M, N]
// the weight scales (and biases) of 4 output channels from n0, loaded once per block, not per
// output; y = (f32(acc)·sx)·WS[n] + BIAS[n] in that order (the order the tests' rule rounds in)
fn chan_scale(n0: u32) -> vec4f {
  let n = min(vec4u(n0) + vec4u(0u, 1u, 2u, 3u), vec4u(P.N - 1u));
  return vec4f(WS[n.x], WS[n.y], WS[n.z], WS[n.w]);
}

fn chan_bias(n0: u32) -> vec4f {
  if (P.has_bias == 0u) { return vec4f(0.0); }
  let n = min(vec4u(n0) + vec4u(0u, 1u, 2u, 3u), vec4u(P.N - 1u));
  return vec4f(BIAS[n.x], BIAS[n.y], BIAS[n.z], BIAS[n.w]);
}

// the float output of 4 accumulators: the requantization, then the ReLU when relu = 1
fn requant(acc: vec4i, ws: vec4f, bias: vec4f) -> vec4f {
  let y = vec4f(acc) * P.sx * ws + bias;
  if (P.relu != 0u) { return max(y, vec4f(0.0)); }
  return y;
}

fn store4(m: u32, yo: u32, n0: u32, acc: vec4i, ws: vec4f, bias: vec4f) {
  if (m >= P.M) { return; }
  let y = requant(acc, ws, bias);
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < P.N) {
      if (P.write_acc != 0u) { ACC[m * P.N + n] = acc[j]; }
      Y[yo + n * P.pos] = y[j];
    }
  }
}

// Pooled pixel mp = (img, p = py·PW + px) as vec4u(img, p, 2py, 2px): its window's top-left conv
// pixel, in row_at's form (past the last pooled pixel: the last, never stored).
fn pool_row(mp: u32) -> vec4u {
  let r = min(mp, P.M / 4u - 1u);
  let pp = P.PH * P.PW;
  let p = r % pp;
  return vec4u(r / pp, p, 2u * (p / P.PW), 2u * (p % P.PW));
}

// one pooled pixel's 4 channels from n0: v = max over its window of requant (relu included)
fn store_pool(mp: u32, at: vec4u, n0: u32, v: vec4f) {
  if (4u * mp >= P.M || n0 >= P.N) { return; }
  if (P.out_q != 0u) {
    let inside = (vec4u(n0) + vec4u(0u, 1u, 2u, 3u)) < vec4u(P.N);
    let word = pack4(v, inside, at.x);
    let px = ((at.x * P.q_Hp + at.z / 2u + P.q_pad) * P.q_Wp + at.w / 2u + P.q_pad) * P.q_C4;
    ACC[px + n0 / 4u] = bitcast<i32>(word);
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < P.N) { Y[at.x * P.N * P.pos + n * P.pos + at.y] = v[j]; }
  }
}

@compute @workgroup_size({{WG}})
fn gemm(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  bind_all();
  let t = gid.x + gid.y * nw.x * {{WG}}u;
  if (t >= P.total) { return; }
  let m0 = (t / P.tiles_n) * TM;
  let n0 = (t % P.tiles_n) * TN;
{{ACC_DECL}}
  var iw = n0 / 4u;
  for (var la = 0u; la < P.LA; la++) {
    for (var lb = 0u; lb < P.LB; lb++) {
      let ko = la * P.SA + lb * P.SB;
      for (var lc = 0u; lc < P.LC; lc++) {
        let o = ko + lc * P.SC;
{{K_STEP}}
        iw += P.ldw4;
      }
    }
  }
{{STORE}}
}
