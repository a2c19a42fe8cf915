/**
 * The int8 product's fused epilogue (shaders/int8_gemm.wgsl): ReLU and a 2×2 stride-2 max pool
 * on the registers, and the pooled output quantized straight into the next conv's packed input.
 * Checked bit for bit against an integer CPU simulation on values that land on rounding ties,
 * and the fused int8 model against the same model run layer by layer (fusion off).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { pooledSize } from "../src/tensor/ops/int8.ts";
import { rng } from "./cpu_ref.ts";

const paths: gb.Int8DotPath[] = gb.hasPackedIntegerDot() ? ["builtin", "unpack"] : ["unpack"];
const randInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/**
 * A conv whose int8 arithmetic is exact in float32: weights k·2⁻⁶ with a ±127·2⁻⁶ in every
 * filter (so its scale is 2⁻⁶), biases k·2⁻¹⁰.
 */
function dyadicConv(r: () => number, C: number, O: number, k: number, pad: number): gb.Conv2d {
  const conv = new gb.Conv2d(C, O, k, { padding: pad });
  const K = C * k * k, w = new Float32Array(O * K), b = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < K; i++) w[o * K + i] = randInt(r, -3, 3) / 64;
    w[o * K + randInt(r, 0, K - 1)] = (r() < 0.5 ? -127 : 127) / 64;
    b[o] = randInt(r, -8, 8) / 1024;
  }
  conv.loadStateDict(new Map([["weight", gb.tensor(w, [O, C, k, k])], ["bias", gb.tensor(b, [O])]]), false);
  return conv;
}

/** relu(acc·sx·ws + b), max-pooled 2×2, quantized with s2: the int8 words the next conv reads, in CPU integers. */
function cpuPooledInt8(
  xq: Int8Array,
  wq: Int8Array,
  ws: Float32Array,
  b: Float32Array,
  sx: number,
  s2: number,
  g: { N: number; C: number; H: number; W: number; O: number; k: number; pad: number },
): Int8Array {
  const { N, C, H, W, O, k, pad } = g, K = C * k * k;
  const OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1, PH = OH >> 1, PW = OW >> 1;
  const y = (n: number, o: number, oy: number, ox: number) => {
    let a = 0;
    for (let c = 0; c < C; c++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const iy = oy + ky - pad, ix = ox + kx - pad;
          if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
            a += xq[((n * C + c) * H + iy) * W + ix] * wq[o * K + (c * k + ky) * k + kx];
          }
        }
      }
    }
    return Math.max(0, Math.fround(Math.fround(Math.fround(a) * Math.fround(sx)) * ws[o]) + b[o]);
  };
  const pooled = new Float32Array(N * O * PH * PW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let py = 0; py < PH; py++) {
        for (let px = 0; px < PW; px++) {
          pooled[((n * O + o) * PH + py) * PW + px] = Math.max(
            y(n, o, 2 * py, 2 * px),
            y(n, o, 2 * py, 2 * px + 1),
            y(n, o, 2 * py + 1, 2 * px),
            y(n, o, 2 * py + 1, 2 * px + 1),
          );
        }
      }
    }
  }
  return gb.quantizeValues(pooled, s2);
}

Deno.test("int8 epilogue: conv → ReLU → 2×2 max pool quantized into the next conv's packed input equals the integer CPU simulation bit for bit, halves to even (odd sizes, 6 and 19 channels, padded next conv), both paths", async () => {
  const r = rng(11);
  const g = { N: 2, C: 3, H: 11, W: 9, O: 6, k: 3, pad: 1 };
  const conv1 = dyadicConv(r, g.C, g.O, g.k, g.pad), conv2 = dyadicConv(r, g.O, 19, 3, 1);
  const sx = 1 / 16, s2 = 1 / 512; // exact: v·512 = acc/2 + b·512, a tie whenever that is odd
  const xs = Float32Array.from({ length: g.N * g.C * g.H * g.W }, () => randInt(r, -3, 3) / 16);
  const x = gb.tensor(xs, [g.N, g.C, g.H, g.W]);
  const q1 = await gb.QuantizedConv2d.fromConv2d(conv1, sx),
    q2 = await gb.QuantizedConv2d.fromConv2d(conv2, s2);
  const wq = gb.quantizePerChannel((await conv1.weight.toArray()) as Float32Array, g.O, g.C * 9);
  assert.deepEqual(Array.from(wq.scales), new Array(g.O).fill(1 / 64));
  const want = cpuPooledInt8(
    gb.quantizeValues(xs, sx),
    wq.q,
    wq.scales,
    (await conv1.bias!.toArray()) as Float32Array,
    sx,
    s2,
    g,
  );
  const [PH, PW] = [5, 4], C4 = 2, Hp = PH + 2, Wp = PW + 2; // the next conv pads by 1
  let ties = 0, clamped = 0;
  for (const v of want) clamped += Math.abs(v) === 127 ? 1 : 0;
  for (const path of paths) {
    const packed = q1.intoNext(x, path, true, q2)!;
    assert.deepEqual(pooledSize(q1.geometry(x.shape)), [PH, PW]);
    const words = (await packed.t.toArray()) as Int32Array;
    assert.equal(words.length, g.N * Hp * Wp * C4);
    for (let n = 0; n < g.N; n++) {
      for (let y = 0; y < Hp; y++) {
        for (let xx = 0; xx < Wp; xx++) {
          for (let c = 0; c < 4 * C4; c++) {
            const got = (words[((n * Hp + y) * Wp + xx) * C4 + (c >> 2)] << (24 - 8 * (c & 3))) >> 24;
            const inside = y >= 1 && y <= PH && xx >= 1 && xx <= PW && c < g.O;
            const e = inside ? want[((n * g.O + c) * PH + y - 1) * PW + xx - 1] : 0;
            assert.equal(got, e, `${path}: image ${n}, padded pixel (${y}, ${xx}), channel ${c}`);
          }
        }
      }
    }
    // the next conv on it equals the next conv on the float pooled output, bit for bit
    const pooledF = gb.maxPool2d(gb.relu(q1.forward(x, path)), 2);
    const fromPacked = await q2.forwardFused(packed, path, {}).toArray();
    assert.deepEqual(Array.from(fromPacked), Array.from(await q2.forward(pooledF, path).toArray()), path);
    // and the float epilogue (ReLU + pool, no quantization) equals ReLU then MaxPool2d
    const fused = await q1.forwardFused(x, path, { relu: true, pool: true }).toArray();
    assert.deepEqual(Array.from(fused), Array.from(await pooledF.toArray()), path);
    packed.t.dispose();
  }
  // the planted values do exercise the rounding and the clamp
  const pooled = gb.maxPool2d(gb.relu(q1.forward(x, "unpack")), 2);
  for (const v of (await pooled.toArray()) as Float32Array) ties += Math.abs(v * 512 % 1) === 0.5 ? 1 : 0;
  assert.ok(ties > 20 && clamped > 5, `${ties} ties, ${clamped} clamped values`);
  q1.dispose();
  q2.dispose();
});

Deno.test("int8 epilogue: 16-row pooled blocks (4 pooled pixels) with a partial last block and a partial column block equal the integer CPU simulation bit for bit, 1-channel (columns packing) and 8-channel convs, both paths", async () => {
  const r = rng(21);
  // 3 images of 3×3 pooled pixels: 27, not a multiple of the 4 per block; 21 output channels
  const cases = [
    { N: 3, C: 1, H: 9, W: 9, O: 21, k: 3, pad: 0 },
    { N: 3, C: 8, H: 7, W: 7, O: 21, k: 3, pad: 1 },
  ];
  for (const g of cases) {
    const conv1 = dyadicConv(r, g.C, g.O, g.k, g.pad), conv2 = dyadicConv(r, g.O, 5, 3, 1);
    const sx = 1 / 16, s2 = 1 / 512;
    const xs = Float32Array.from({ length: g.N * g.C * g.H * g.W }, () => randInt(r, -3, 3) / 16);
    const x = gb.tensor(xs, [g.N, g.C, g.H, g.W]);
    const q1 = await gb.QuantizedConv2d.fromConv2d(conv1, sx),
      q2 = await gb.QuantizedConv2d.fromConv2d(conv2, s2);
    const wq = gb.quantizePerChannel((await conv1.weight.toArray()) as Float32Array, g.O, g.C * 9);
    const bias = (await conv1.bias!.toArray()) as Float32Array;
    const want = cpuPooledInt8(gb.quantizeValues(xs, sx), wq.q, wq.scales, bias, sx, s2, g);
    const [PH, PW] = pooledSize(q1.geometry(x.shape)), C4 = 6, Hp = PH + 2, Wp = PW + 2;
    assert.deepEqual([PH, PW], [3, 3]);
    let ties = 0;
    for (const path of paths) {
      const packed = q1.intoNext(x, path, true, q2)!;
      const words = (await packed.t.toArray()) as Int32Array;
      assert.equal(words.length, g.N * Hp * Wp * C4);
      for (let n = 0; n < g.N; n++) {
        for (let y = 1; y <= PH; y++) {
          for (let xx = 1; xx <= PW; xx++) {
            for (let c = 0; c < g.O; c++) {
              const got = (words[((n * Hp + y) * Wp + xx) * C4 + (c >> 2)] << (24 - 8 * (c & 3))) >> 24;
              const e = want[((n * g.O + c) * PH + y - 1) * PW + xx - 1];
              assert.equal(
                got,
                e,
                `C = ${g.C}, ${path}: image ${n}, pooled pixel (${y - 1}, ${xx - 1}), channel ${c}`,
              );
            }
          }
        }
      }
      packed.t.dispose();
    }
    const pooled = gb.maxPool2d(gb.relu(q1.forward(x, "unpack")), 2);
    for (const v of (await pooled.toArray()) as Float32Array) ties += Math.abs(v * 512 % 1) === 0.5 ? 1 : 0;
    assert.ok(ties > 20, `C = ${g.C}: ${ties} ties`);
    q1.dispose();
    q2.dispose();
  }
});

Deno.test("int8 epilogue: a fused int8 CNN (conv → ReLU → pool → conv → ReLU → pool → dense → ReLU → dense) equals the same model layer by layer with fusion off, bit for bit, in fewer launches, both paths", async () => {
  gb.manualSeed(12);
  const model = new gb.Sequential(
    new gb.Conv2d(1, 6, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Conv2d(6, 19, 3, { padding: 1 }),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Flatten(),
    new gb.Linear(19 * 3 * 3, 9),
    new gb.ReLU(),
    new gb.Linear(9, 4),
  );
  model.eval();
  const n = 5, xs = Float32Array.from({ length: n * 15 * 15 }, (_, i) => Math.sin(i * 0.37));
  const data = { x: xs, y: new Int32Array(n), sampleShape: [1, 15, 15] };
  const x = gb.tensor(xs, [n, 1, 15, 15]);
  for (const path of paths) {
    const q = await gb.quantizeModel(model, data, { path });
    const fused = await gb.profile(() => q.forward(x).toArray());
    gb.configureGpu({ fusion: false });
    let plain;
    try {
      plain = await gb.profile(() => q.forward(x).toArray());
    } finally {
      gb.configureGpu({ fusion: true });
    }
    assert.deepEqual(Array.from(fused.result), Array.from(plain.result), path);
    const kernels = (p: typeof fused) => p.events.map((e) => `${e.shader}:${e.entry}`);
    // one quantization pass for the first conv and one for the last dense: conv 2's input comes
    // packed from conv 1's epilogue (into zeros for its padding border), and the first dense's
    // from conv 2's (read as a conv over the whole 19×3×3 image); no ReLU or pooling pass
    assert.deepEqual(kernels(fused).filter((k) => !k.endsWith(":weights")), [
      "int8_gemm:quantize",
      "fill:main",
      "int8_gemm:gemm",
      "int8_gemm:gemm",
      "int8_gemm:gemm",
      "int8_gemm:quantize",
      "int8_gemm:gemm",
    ], path);
    assert.ok(kernels(plain).filter((k) => k.startsWith("pool:")).length === 2, path);
    q.dispose();
  }
});

Deno.test("int8 epilogue: what it cannot take (a LeakyReLU, a stride-1 or padded pool) runs as its own layer, bit for bit the layers one by one", async () => {
  gb.manualSeed(13);
  // each model has negative conv outputs (LeakyReLU keeps them scaled) and pools the epilogue must not
  // mistake for MaxPool2d(2) at stride 2
  const heads = [
    [new gb.LeakyReLU(0.2), new gb.MaxPool2d(2)],
    [new gb.ReLU(), new gb.MaxPool2d(2, 1)],
    [new gb.ReLU(), new gb.MaxPool2d(2, 2, 1)],
  ] as const;
  const n = 3, xs = Float32Array.from({ length: n * 12 * 12 }, (_, i) => Math.sin(i * 0.53));
  const x = gb.tensor(xs, [n, 1, 12, 12]);
  for (const [h, [act, pool]] of heads.entries()) {
    const size = pool.stride === 1 ? 9 : pool.padding === 1 ? 6 : 5; // 10×10 conv output pooled
    const model = new gb.Sequential(
      new gb.Conv2d(1, 6, 3),
      act,
      pool,
      new gb.Conv2d(6, 5, 3, { padding: 1 }),
      new gb.ReLU(),
      new gb.Flatten(),
      new gb.Linear(5 * size * size, 4),
    );
    model.eval();
    const want = await model.forward(x).toArray();
    const q = await gb.quantizeModel(model, { x: xs, y: new Int32Array(n), sampleShape: [1, 12, 12] });
    const fused = await q.forward(x).toArray();
    gb.configureGpu({ fusion: false });
    let plain;
    try {
      plain = await q.forward(x).toArray();
    } finally {
      gb.configureGpu({ fusion: true });
    }
    assert.deepEqual(Array.from(fused), Array.from(plain), `model ${h}: fused against layer by layer`);
    // and near the float model (the int8 grids' error, not another function)
    const err = Math.max(...Array.from(want, (v, i) => Math.abs(v - fused[i])));
    const scale = Math.max(...Array.from(want, Math.abs));
    assert.ok(err < 0.05 * scale, `model ${h}: int8 ${err} from float32 (max ${scale})`);
    q.dispose();
  }
});
