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
  const cases: [number[], number, number, number][] = [
    [[2, 3, 8, 8], 2, 2, 0],
    [[1, 2, 7, 5], 3, 2, 1],
    [[1, 1, 5, 5], 2, 1, 0],
  ];
  for (const [xs, k, s, p] of cases) {
    await checkOp({
      name: `maxPool2d ${xs} k${k} s${s} p${p}`,
      shapes: [xs],
      gpu: (x) => gb.maxPool2d(x, k, { stride: s, padding: p }),
      cpu: (x) => ref.pool2d(x, k, s, p, "max"),
    });
    await checkOp({
      name: `avgPool2d ${xs} k${k} s${s} p${p}`,
      shapes: [xs],
      gpu: (x) => gb.avgPool2d(x, k, { stride: s, padding: p }),
      cpu: (x) => ref.pool2d(x, k, s, p, "avg"),
    });
  }
});
