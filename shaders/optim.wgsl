// optim.wgsl: in-place parameter updates, one invocation per element.
//
// sgd (PyTorch semantics):  g += wd·p;  buf = momentum·buf + (1 - dampening)·g (buf = g on the
//   first step);  g = nesterov ? g + momentum·buf : buf (when momentum > 0);  p -= lr·g
// adam:  g += wd·p (Adam) or p -= lr·wd·p first (AdamW, decoupled = 1);
//   m = b1·m + (1 - b1)·g;  v = b2·v + (1 - b2)·g²;  p -= lr · (m / bc1) / (sqrt(v / bc2) + eps)
//   with bc1 = 1 - b1^t, bc2 = 1 - b2^t. 1 - b1 and 1 - b2 come precomputed in double precision
//   (in f32, 1 - 0.999 loses 1.3e-5 of its value to cancellation).
// Bindings: 0 PARAM (read-write), 1 GRAD (read), 2 S1 (momentum buffer / m), 3 S2 (v; sgd: unused),
//           4 uniform P { n, lr, wd, a, b, c, d, e, flags, f, g }
//   sgd:  a = momentum, b = dampening, flags bit0 = nesterov, bit1 = first step
//   adam: a = b1, b = b2, c = eps, d = bc1, e = bc2, f = 1 - b1, g = 1 - b2,
//         flags bit0 = decoupled (AdamW)

struct Params { n: u32, lr: f32, wd: f32, a: f32, b: f32, c: f32, d: f32, e: f32, flags: u32, f: f32, g: f32 }

@group(0) @binding(0) var<storage, read_write> PARAM: array<f32>;
@group(0) @binding(1) var<storage, read> GRAD: array<f32>;
@group(0) @binding(2) var<storage, read_write> S1: array<f32>;
@group(0) @binding(3) var<storage, read_write> S2: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

@compute @workgroup_size({{WG}})
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  let p = PARAM[i];
  var g = GRAD[i] + P.wd * p;
  if (P.a != 0.0) {
    var buf = g;
    if ((P.flags & 2u) == 0u) { buf = P.a * S1[i] + (1.0 - P.b) * g; }
    S1[i] = buf;
    if ((P.flags & 1u) != 0u) { g = g + P.a * buf; } else { g = buf; }
  }
  PARAM[i] = p - P.lr * g;
  _ = S2[0];
}

@compute @workgroup_size({{WG}})
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * {{WG}}u;
  if (i >= P.n) { return; }
  var p = PARAM[i];
  var g = GRAD[i];
  if ((P.flags & 1u) != 0u) { p = p - P.lr * P.wd * p; } else { g = g + P.wd * p; }
  let m = P.a * S1[i] + P.f * g;
  let v = P.b * S2[i] + P.g * g * g;
  S1[i] = m;
  S2[i] = v;
  PARAM[i] = p - P.lr * (m / P.d) / (sqrt(v / P.e) + P.c);
}
