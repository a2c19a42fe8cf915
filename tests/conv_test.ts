import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

Deno.test("conv2d forward and backward (input, filter, bias) vs the CPU reference and finite differences", async () => {
  const cases: [number[], number[], number, number, number][] = [
    // x shape, w shape, stride, padding, dilation
    [[2, 3, 7, 6], [4, 3, 3, 3], 1, 0, 1],
    [[1, 2, 9, 9], [3, 2, 3, 3], 2, 1, 1],
    [[2, 1, 8, 7], [2, 1, 3, 3], 1, 2, 2],
    [[1, 1, 5, 5], [1, 1, 1, 1], 1, 0, 1],
    [[3, 2, 6, 5], [5, 2, 2, 3], 2, 0, 1],
  ];
  for (const [xs, ws, stride, padding, dilation] of cases) {
    await checkOp({
      name: `conv2d x${JSON.stringify(xs)} w${JSON.stringify(ws)} s${stride} p${padding} d${dilation}`,
      shapes: [xs, ws, [ws[0]]],
      gpu: (x, w, b) => gb.conv2d(x, w, b, { stride, padding, dilation }),
      cpu: (x, w, b) => ref.conv2d(x, w, b, stride, padding, dilation),
      rtol: 1e-4,
      atol: 1e-4,
    });
  }
});

Deno.test("conv2d with many channels (the matmul's 16×16 tiles) matches the CPU reference", async () => {
  const r = ref.rng(3);
  const x = ref.randArr([4, 32, 12, 12], r), w = ref.randArr([64, 32, 3, 3], r), b = ref.randArr([64], r);
  for (const a of [x, w, b]) a.data = a.data.map(Math.fround);
  const t = (a: ref.Arr) => gb.tensor(Float32Array.from(a.data), a.shape);
  const got = await gb.conv2d(t(x), t(w), t(b)).toArray();
  ref.assertClose(got, ref.conv2d(x, w, b, 1, 0, 1).data, {
    rtol: 1e-4,
    atol: 1e-4,
    msg: "conv 4x32x12x12 -> 64",
  });
});

Deno.test("max and average pooling forward and backward, odd sizes, stride and padding", async () => {
  type P = number | [number, number];
  const cases: [number[], P, P | undefined, P][] = [
    [[2, 3, 8, 8], 2, 2, 0],
    [[1, 2, 7, 5], 3, 2, 1],
    [[1, 1, 5, 5], 2, 1, 0],
    [[1, 2, 8, 9], [2, 3], undefined, 0], // rectangular kernel: default stride [2, 3], as PyTorch
    [[1, 1, 9, 8], [3, 2], [2, 1], [1, 1]],
  ];
  for (const [xs, k, s, p] of cases) {
    await checkOp({
      name: `maxPool2d ${xs} k${k} s${s} p${p}`,
      shapes: [xs],
      gpu: (x) => gb.maxPool2d(x, k, { stride: s, padding: p }),
      cpu: (x) => ref.pool2d(x, k, s ?? k, p, "max"),
    });
    await checkOp({
      name: `avgPool2d ${xs} k${k} s${s} p${p}`,
      shapes: [xs],
      gpu: (x) => gb.avgPool2d(x, k, { stride: s, padding: p }),
      cpu: (x) => ref.pool2d(x, k, s ?? k, p, "avg"),
    });
  }
});

Deno.test("max pooling propagates NaN (the window's first NaN wins) and breaks ties to the first maximum", async () => {
  const x = gb.tensor([1, NaN, 3, 4, 5, 6, 7, 8, 2, 2, 0, 0, 2, 2, 0, 0], [1, 1, 4, 4], {
    requiresGrad: true,
  });
  const y = gb.maxPool2d(x, 2);
  const got = Array.from(await y.toArray());
  ref.assertClose(got.map((v) => (Number.isNaN(v) ? -1 : v)), [-1, 8, 2, 0], { atol: 0, msg: "max pool" });
  // ties: the gradient goes to the first maximal element of each window only (row-major)
  const [dx] = gb.grad(y.sum(), [x]);
  ref.assertClose(await dx.toArray(), [0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0], {
    atol: 0,
    msg: "max pool gradient with ties",
  });
});

Deno.test("AdaptiveAvgPool2d is the mean over each plane, forward and backward", async () => {
  const pool = new gb.AdaptiveAvgPool2d(1);
  await checkOp({
    name: "AdaptiveAvgPool2d",
    shapes: [[2, 3, 5, 4]],
    gpu: (x) => pool.forward(x),
    cpu: (x) => {
      const s = ref.sumAxes(x, [2, 3], true);
      return ref.unary(s, (v) => v / 20);
    },
  });
});

Deno.test("conv2d without bias, and with stride and dilation together", async () => {
  for (
    const [xs, ws, stride, padding, dilation, bias] of [
      [[2, 2, 9, 8], [3, 2, 3, 3], 1, 1, 1, false],
      [[1, 2, 11, 10], [2, 2, 3, 2], 2, 1, 2, true],
      [[2, 1, 12, 12], [2, 1, 2, 3], 3, 0, 2, false],
    ] as [number[], number[], number, number, number, boolean][]
  ) {
    await checkOp({
      name: `conv2d x${xs} w${ws} s${stride} p${padding} d${dilation} bias ${bias}`,
      shapes: bias ? [xs, ws, [ws[0]]] : [xs, ws],
      gpu: (x, w, b) => gb.conv2d(x, w, b ?? null, { stride, padding, dilation }),
      cpu: (x, w, b) => ref.conv2d(x, w, b ?? null, stride, padding, dilation),
      rtol: 1e-4,
      atol: 1e-4,
    });
    if (dilation === 1) continue;
    // the other side of the specialisation policy: these small shapes run im2col + matmul under
    // "auto"; forced, the implicit GEMM compiled for the shape (dilated, uneven window and stride)
    const r = ref.rng(xs[0] + 10 * stride);
    const [x, w] = [xs, ws].map((sh) => ref.randArr(sh, r));
    const spec = gb.gpuSettings().specialise;
    gb.configureGpu({ specialise: "always" });
    try {
      const y = gb.conv2d(
        gb.tensor(Float32Array.from(x.data), xs),
        gb.tensor(Float32Array.from(w.data), ws),
        null,
        {
          stride,
          padding,
          dilation,
        },
      );
      ref.assertClose(await y.toArray(), ref.conv2d(x, w, null, stride, padding, dilation).data, {
        rtol: 1e-4,
        atol: 1e-4,
        msg: `conv2d x${xs} w${ws} s${stride} p${padding} d${dilation}, specialised`,
      });
    } finally {
      gb.configureGpu({ specialise: spec });
    }
  }
});

Deno.test("conv2d at the matmul's 16×16 tile with the fused per-row bias (the seed CNN's first conv): forward and backward", async () => {
  // N=2, Cout=32, P=28·28: 2·2·49 = 196 tiles of 16×16, the tile the seed CNN's first layer runs on
  await checkOp({
    name: "conv2d 2x1x28x28 -> 32, bias, padding 1",
    shapes: [[2, 1, 28, 28], [32, 1, 3, 3], [32]],
    gpu: (x, w, b) => gb.conv2d(x, w, b, { padding: 1 }),
    cpu: (x, w, b) => ref.conv2d(x, w, b, 1, 1, 1),
    rtol: 1e-4,
    atol: 1e-4,
    sample: 300,
  });
});

Deno.test("conv2d and pooling reject bad geometry with the op's name", () => {
  const x = gb.zeros([1, 1, 6, 6]), w = gb.zeros([1, 1, 3, 3]);
  for (
    const [opts, re] of [
      [{ stride: 0 }, /conv2d: stride must be a positive integer/],
      [{ padding: -1 }, /conv2d: padding must be a non-negative integer/],
      [{ padding: 0.5 }, /conv2d: padding must be a non-negative integer/],
      [{ stride: 1.5 }, /conv2d: stride must be a positive integer/],
      [{ dilation: 0 }, /conv2d: dilation must be a positive integer/],
    ] as [gb.Conv2dOptions, RegExp][]
  ) {
    let err: unknown;
    try {
      gb.conv2d(x, w, null, opts);
    } catch (e) {
      err = e;
    }
    if (!(err instanceof Error) || !re.test(err.message)) throw new Error(`expected ${re}, got ${err}`);
  }
  for (const f of [() => gb.maxPool2d(x, 2, { stride: 0 }), () => gb.avgPool2d(x, [2, 0])]) {
    let msg = "";
    try {
      f();
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!/Pool2d: (stride|kernel size) must be a positive integer/.test(msg)) throw new Error(`got "${msg}"`);
  }
});

Deno.test("a batch whose patch matrix exceeds the binding budget is convolved in chunks: same values and gradients", async () => {
  // 160 images × (16·9) × 28·28 floats of patches ≈ 72 MB: more than the 32 MB budget
  gb.manualSeed(2);
  const x = gb.randn([160, 16, 28, 28], { requiresGrad: true });
  const w = gb.randn([4, 16, 3, 3], { requiresGrad: true });
  const y = gb.conv2d(x, w, null, { padding: 1 });
  const gy = gb.randn(y.shape);
  const [gx, gw] = gb.grad(y, [x, w], gy);
  // the same computed image by image in small batches
  const parts = [0, 40, 80, 120].map((s) => gb.conv2d(x.slice(s, s + 40), w, null, { padding: 1 }));
  ref.assertClose(await y.toArray(), await gb.concat(parts, 0).toArray(), {
    atol: 1e-5,
    msg: "chunked forward",
  });
  const [gx2, gw2] = gb.grad(gb.concat(parts, 0), [x, w], gy);
  ref.assertClose(await gx.toArray(), await gx2.toArray(), { atol: 1e-5, msg: "chunked input gradient" });
  ref.assertClose(await gw.toArray(), await gw2.toArray(), {
    rtol: 1e-4,
    atol: 1e-3,
    msg: "chunked filter gradient",
  });
});
