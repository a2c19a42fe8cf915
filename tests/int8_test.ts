/** int8 kernels against an integer CPU reference: bit for bit on the accumulators, on both dot-product paths. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { rng } from "./cpu_ref.ts";

function randInt8(n: number, r: () => number): Int8Array {
  return Int8Array.from({ length: n }, () => Math.floor(r() * 255) - 127);
}

/** Σ_k x[m, k]·w[n, k] in exact integers. */
function intMatmul(x: Int8Array, w: Int8Array, M: number, N: number, K: number): Int32Array {
  const out = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      out[m * N + n] = s;
    }
  }
  return out;
}

Deno.test("packInt8: byte 0 holds the lowest column, rows pad with zeros to whole words", () => {
  assert.deepEqual(Array.from(gb.packInt8(Int8Array.from([1, -1, 2, -128, 5, 6, 7]), 1, 7)), [
    (0x80 << 24) | (0x02 << 16) | (0xff << 8) | 0x01,
    (0x07 << 16) | (0x06 << 8) | 0x05,
  ]);
  assert.deepEqual(Array.from(gb.packInt8(Int8Array.from([1, 2, 3, 4, 5, 6]), 2, 3)), [0x030201, 0x060504]);
});

Deno.test("int8 matmul: i32 accumulators equal the integer CPU reference exactly, on the dot4I8Packed and the unpacking path", async () => {
  const r = rng(11);
  // off every grid: K not a multiple of 4, M·N not a multiple of the workgroup (64)
  for (const [M, N, K] of [[5, 7, 13], [70, 67, 37], [3, 2, 1], [2, 3, 1024]]) {
    const x = randInt8(M * K, r), w = randInt8(N * K, r);
    // the extremes too: −127·−127 and 127·−127 sums, and −128 (outside the narrow range) still multiplies exactly
    x[0] = -127;
    w[0] = -127;
    x[M * K - 1] = -128;
    const want = intMatmul(x, w, M, N, K);
    const K4 = Math.ceil(K / 4);
    const xq = gb.tensor(gb.packInt8(x, M, K), [M, K4], { dtype: "int32" });
    const wq = gb.tensor(gb.packInt8(w, N, K), [N, K4], { dtype: "int32" });
    const scales = gb.tensor(Float32Array.from({ length: N }, (_, n) => 0.01 * (n + 1)), [N]);
    const bias = gb.tensor(Float32Array.from({ length: N }, (_, n) => n - 1), [N]);
    const paths: gb.Int8DotPath[] = gb.hasPackedIntegerDot() ? ["builtin", "unpack"] : ["unpack"];
    for (const path of paths) {
      const { acc, y } = gb.int8Matmul(xq, wq, scales, bias, K, { inputScale: 0.5, path });
      const got = (await acc.toArray()) as Int32Array;
      assert.deepEqual(Array.from(got), Array.from(want), `${path} path, ${M}×${K} · ${K}×${N}`);
      const ys = await y.toArray();
      for (let i = 0; i < M * N; i++) {
        const n = i % N,
          expect = Math.fround(Math.fround(Math.fround(want[i]) * 0.5) * Math.fround(0.01 * (n + 1))) +
            (n - 1);
        assert.ok(
          Math.abs(ys[i] - expect) <= 1e-6 * Math.max(1, Math.abs(expect)),
          `${path}: y[${i}] ${ys[i]} vs ${expect}`,
        );
      }
      acc.dispose();
      y.dispose();
    }
    [xq, wq, scales, bias].forEach((t) => t.dispose());
  }
  assert.throws(
    () =>
      gb.int8Matmul(
        gb.zeros([2, 3], { dtype: "int32" } as never),
        gb.zeros([2, 2], { dtype: "int32" } as never),
        gb.ones([2]),
        null,
        12,
        { inputScale: 1 },
      ),
    /packed widths 3 and 2 do not hold K = 12/,
  );
});

Deno.test("quantizing inputs on the GPU equals the CPU rule bit for bit: halves round to even, the range clamps at ±127", async () => {
  const s = 0.1;
  const inv = Math.fround(1 / s);
  // exact halfway points of x·inv in float32, big values that clamp, and random ones
  const special = [0.5, 1.5, 2.5, -0.5, -1.5, 126.5, -126.5, 1e6, -1e6, 0].map((v) => Math.fround(v / inv));
  const r = rng(12);
  const values = Float32Array.from([...special, ...Array.from({ length: 53 }, () => (r() * 2 - 1) * 15)]);
  const M = 7, K = values.length / M;
  const packed = (await gb.quantizeInput(gb.tensor(values, [M, K]), s).toArray()) as Int32Array;
  const want = gb.packInt8(gb.quantizeValues(values, s), M, K);
  assert.deepEqual(Array.from(packed), Array.from(want));
  assert.deepEqual(Array.from(gb.quantizeValues([0.25, 0.75, 1.25], 0.5)), [0, 2, 2], "halves to even");
  assert.equal(gb.roundHalfEven(-2.5), -2);
});

Deno.test("QuantizedLinear: per-channel int8 weights and a calibrated input scale keep the output within 30 dB SQNR of the float layer", async () => {
  gb.manualSeed(13);
  const lin = new gb.Linear(100, 10);
  const x = gb.randn([64, 100]);
  const xs = await x.toArray();
  const q = await gb.QuantizedLinear.fromLinear(lin, gb.symmetricScale(xs));
  const want = await gb.noGrad(() => lin.forward(x)).toArray();
  const got = await q.forward(x).toArray();
  let sig = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    sig += want[i] ** 2;
    err += (want[i] - got[i]) ** 2;
  }
  const sqnr = 10 * Math.log10(sig / err);
  assert.ok(sqnr > 30, `SQNR ${sqnr.toFixed(1)} dB`);
  const { q: w, scales } = gb.quantizePerChannel(Float32Array.from([0.5, -1, 0.25, 2, 0, 0]), 3, 2);
  assert.deepEqual(Array.from(w), [64, -127, 16, 127, 0, 0]);
  assert.deepEqual(Array.from(scales), [Math.fround(1 / 127), Math.fround(2 / 127), 1]);
  assert.throws(() => gb.quantizePerChannel(Float32Array.from([NaN, 1]), 1, 2), /row 0 has a NaN/);
  q.dispose();
});

Deno.test("QuantizedConv2d: accumulators equal an integer CPU convolution exactly (stride 2, padding 1, 3 channels: K = 27), on both paths; output within 30 dB SQNR of conv2d", async () => {
  gb.manualSeed(14);
  const [N, C, H, W, O, k] = [2, 3, 9, 7, 5, 3];
  const conv = new gb.Conv2d(C, O, k, { stride: 2, padding: 1 });
  const x = gb.randn([N, C, H, W]);
  const xs = await x.toArray(), ws = (await conv.weight.toArray()) as Float32Array;
  const scale = gb.symmetricScale(xs);
  // CPU: the patches (zeros over the padding), quantized by the kernel's rule, times the int8 filters
  const OH = Math.floor((H + 2 - k) / 2) + 1, OW = Math.floor((W + 2 - k) / 2) + 1, K = C * k * k;
  const patches = new Float32Array(N * OH * OW * K);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          for (let kh = 0; kh < k; kh++) {
            for (let kw = 0; kw < k; kw++) {
              const ih = oh * 2 - 1 + kh, iw = ow * 2 - 1 + kw;
              const v = ih >= 0 && ih < H && iw >= 0 && iw < W ? xs[((n * C + c) * H + ih) * W + iw] : 0;
              patches[((n * OH + oh) * OW + ow) * K + (c * k + kh) * k + kw] = v;
            }
          }
        }
      }
    }
  }
  const want = intMatmul(
    gb.quantizeValues(patches, scale),
    gb.quantizePerChannel(ws, O, K).q,
    N * OH * OW,
    O,
    K,
  );
  const q = await gb.QuantizedConv2d.fromConv2d(conv, scale);
  const paths: gb.Int8DotPath[] = gb.hasPackedIntegerDot() ? ["builtin", "unpack"] : ["unpack"];
  for (const path of paths) {
    const { acc, y } = q.forwardWithAccumulators(x, path);
    assert.deepEqual(Array.from((await acc.toArray()) as Int32Array), Array.from(want), `${path} path`);
    assert.deepEqual(y.shape, [N, O, OH, OW]);
    const got = await y.toArray(), ref = await gb.noGrad(() => conv.forward(x)).toArray();
    let sig = 0, err = 0;
    for (let i = 0; i < ref.length; i++) {
      sig += ref[i] ** 2;
      err += (ref[i] - got[i]) ** 2;
    }
    assert.ok(10 * Math.log10(sig / err) > 30, `${path}: SQNR ${(10 * Math.log10(sig / err)).toFixed(1)} dB`);
  }
  q.dispose();
});

/** sqrt of its input: NaN where the input is negative (a float layer between int8 ones). */
class Sqrt extends gb.Module {
  forward(x: gb.Tensor): gb.Tensor {
    return gb.sqrt(x);
  }
}

Deno.test("a NaN input to int8 is reported at the next readback, naming the layer and the sample (it used to become an undefined int8 value)", async () => {
  // quantizeInput: row 2 of 4 has a NaN
  const xs = Float32Array.from({ length: 4 * 6 }, (_, i) => (i % 7) / 7 - 0.4);
  xs[2 * 6 + 3] = NaN;
  const bad = gb.quantizeInput(gb.tensor(xs, [4, 6]), 1 / 127, { label: "probe" });
  await assert.rejects(() => bad.toArray(), /probe: sample 2 has a NaN input; int8 has no NaN/);
  // the report is cleared: the next clean quantization reads back, equal to the CPU rule
  xs[2 * 6 + 3] = 0.25;
  const good = await gb.quantizeInput(gb.tensor(xs, [4, 6]), 1 / 127).toArray();
  assert.deepEqual(Array.from(good), Array.from(gb.packInt8(gb.quantizeValues(xs, 1 / 127), 4, 6)));

  // a convolution's rows are patches: the sample is row / (OH·OW)
  gb.manualSeed(2);
  const conv = await gb.QuantizedConv2d.fromConv2d(new gb.Conv2d(1, 2, 3), 4 / 127);
  const img = Float32Array.from(await gb.randn([3, 1, 5, 5]).toArray());
  img[25 + 12] = NaN; // sample 1
  await assert.rejects(
    () => conv.forward(gb.tensor(img, [3, 1, 5, 5])).toArray(),
    /QuantizedConv2d: sample 1 has a NaN input/,
  );
  conv.dispose();

  // a quantized model names the layer: a NaN in its input reaches layer "0"; a NaN made by a
  // float layer (sqrt of a negative value) reaches layer "2"
  const lin0 = new gb.Linear(2, 2);
  lin0.loadStateDict({ weight: gb.tensor([[1, 0], [0, 1]]), bias: gb.zeros([2]) });
  const model = new gb.Sequential(lin0, new Sqrt(), new gb.Linear(2, 3));
  const data = { x: new Float32Array(8).fill(0.5), y: new Int32Array(4), sampleShape: [2] };
  const q = await gb.quantizeModel(model, data, {
    inputScales: new Map([["0", 2 / 127], ["2", 2 / 127]]),
    sqnrSamples: 0,
  });
  const input = (v: number[]) => gb.tensor(v, [4, 2]);
  await assert.rejects(
    () => q.forward(input([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, NaN, 0.5])).toArray(),
    /layer "0" \(Linear\): sample 3 has a NaN input/,
  );
  await assert.rejects(
    () => q.forward(input([0.5, 0.5, -0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).toArray(),
    /layer "2" \(Linear\): sample 1 has a NaN input/,
  );
  const ok = await q.forward(input([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])).toArray();
  assert.ok(ok.every(Number.isFinite));
  q.dispose();
});

Deno.test("int8DotPath: the packed built-in only on a GPU whose WGSL has the feature; unpacking on software adapters and without the feature", () => {
  const gpu = (description: string, vendor: string, architecture = "", isFallbackAdapter = false) => ({
    description,
    vendor,
    architecture,
    isFallbackAdapter,
  });
  const cases: [boolean, ReturnType<typeof gpu>, gb.Int8DotPath][] = [
    [true, gpu("NVIDIA GeForce RTX 3060", "nvidia", "ampere"), "builtin"],
    [true, gpu("AMD Radeon RX 6800", "amd", "rdna-2"), "builtin"],
    [false, gpu("NVIDIA GeForce RTX 3060", "nvidia", "ampere"), "unpack"], // no feature
    [true, gpu("llvmpipe (LLVM 15.0.6, 256 bits)", "mesa"), "unpack"], // lavapipe
    [true, gpu("SwiftShader Device (Subzero)", "google", "swiftshader"), "unpack"],
    [true, gpu("Microsoft Basic Render Driver", "microsoft", "", true), "unpack"], // a fallback adapter
  ];
  for (const [packedIntegerDot, adapter, want] of cases) {
    assert.equal(
      gb.int8DotPath({ packedIntegerDot, adapter }),
      want,
      `${adapter.description}, feature ${packedIntegerDot}`,
    );
  }
  // with no argument: this adapter
  const here = gb.adapterInfo();
  assert.equal(
    gb.int8DotPath(),
    gb.int8DotPath({ packedIntegerDot: gb.hasPackedIntegerDot(), adapter: here }),
  );
  if (/llvmpipe|lavapipe/i.test(here.description)) assert.equal(gb.int8DotPath(), "unpack");
});
