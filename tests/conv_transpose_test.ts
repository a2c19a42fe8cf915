/**
 * ConvTranspose2d and Upsample against the float64 CPU reference (tests/cpu_ref.ts) and finite
 * differences: forward values and the gradients of input, weight and bias.
 */
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

Deno.test("convTranspose2d forward and backward (input, weight, bias) vs the float64 scatter reference and finite differences", async () => {
  const cases: [number[], number[], number, number, number, number][] = [
    // x shape, w shape [Cin, Cout, KH, KW], stride, padding, outputPadding, dilation
    [[2, 3, 4, 5], [3, 2, 3, 3], 1, 0, 0, 1],
    [[1, 2, 3, 4], [2, 3, 4, 4], 2, 1, 0, 1],
    [[2, 2, 3, 3], [2, 2, 3, 3], 2, 1, 1, 1],
    [[1, 3, 5, 4], [3, 2, 3, 3], 3, 2, 2, 1],
    [[2, 1, 4, 3], [1, 2, 3, 2], 1, 1, 0, 2],
    [[1, 2, 3, 5], [2, 1, 3, 3], 2, 0, 1, 2],
    [[1, 2, 4, 4], [2, 2, 2, 3], 1, 0, 1, 2], // outputPadding ≥ stride, allowed below dilation
  ];
  for (const [xs, ws, stride, padding, outputPadding, dilation] of cases) {
    await checkOp({
      name: `convTranspose2d x${JSON.stringify(xs)} w${
        JSON.stringify(ws)
      } s${stride} p${padding} op${outputPadding} d${dilation}`,
      shapes: [xs, ws, [ws[1]]],
      gpu: (x, w, b) => gb.convTranspose2d(x, w, b, { stride, padding, outputPadding, dilation }),
      cpu: (x, w, b) => ref.convTranspose2d(x, w, b, stride, padding, outputPadding, dilation),
      rtol: 1e-4,
      atol: 1e-4,
    });
  }
});

Deno.test("Upsample and interpolate, nearest and bilinear (alignCorners both), by size and by scale factor: forward and backward vs the float64 reference", async () => {
  const cases: [number[], gb.UpsampleOptions][] = [
    [[2, 3, 4, 5], { scaleFactor: 2 }],
    [[1, 2, 3, 4], { scaleFactor: [3, 2] }],
    [[1, 2, 6, 5], { size: [4, 3] }], // nearest downsampling
    [[1, 2, 5, 4], { size: [7, 9] }],
    [[2, 2, 4, 5], { scaleFactor: 2, mode: "bilinear" }],
    [[1, 2, 3, 4], { scaleFactor: [2, 3], mode: "bilinear", alignCorners: true }],
    [[1, 2, 5, 4], { size: [7, 9], mode: "bilinear" }],
    [[1, 2, 5, 4], { size: [7, 9], mode: "bilinear", alignCorners: true }],
    [[1, 1, 6, 7], { size: [4, 3], mode: "bilinear" }], // bilinear downsampling
    [[1, 1, 6, 7], { size: [1, 3], mode: "bilinear", alignCorners: true }],
  ];
  for (const [xs, o] of cases) {
    const m = new gb.Upsample(o);
    const [H, W] = xs.slice(2);
    const f = typeof o.scaleFactor === "number" ? [o.scaleFactor, o.scaleFactor] : o.scaleFactor;
    const size = typeof o.size === "number"
      ? [o.size, o.size]
      : o.size ?? [Math.floor(H * f![0]), Math.floor(W * f![1])];
    await checkOp({
      name: `Upsample ${JSON.stringify(xs)} ${JSON.stringify(o)}`,
      shapes: [xs],
      gpu: (x) => m.forward(x),
      cpu: (x) =>
        ref.resize2d(x, size[0], size[1], o.mode ?? "nearest", o.alignCorners, f as [number, number]),
    });
  }
});

Deno.test("a Sequential with ConvTranspose2d and Upsample is saved and loaded from the file alone: same layers, same outputs", async () => {
  gb.manualSeed(19);
  const layers: gb.LayerSpec[] = [
    {
      type: "ConvTranspose2d",
      in: 3,
      out: 4,
      kernel: 3,
      stride: 2,
      padding: 1,
      outputPadding: 1,
      bias: true,
    },
    { type: "ReLU" },
    { type: "Upsample", scaleFactor: 2, mode: "bilinear", alignCorners: false },
    { type: "ConvTranspose2d", in: 4, out: 2, kernel: 2, dilation: 2, bias: false },
    { type: "Upsample", size: [5, 7], mode: "nearest" },
  ];
  const model = gb.sequentialModel(layers);
  const x = gb.randn([2, 3, 3, 4]);
  const want = await gb.noGrad(() => model.forward(x)).toArray();
  const dir = await Deno.makeTempDir();
  try {
    await gb.saveModel(model, `${dir}/m.safetensors`);
    const { model: back } = await gb.loadModel(`${dir}/m.safetensors`);
    const described = gb.describeSequential(back as gb.Sequential);
    if (JSON.stringify(described) !== JSON.stringify(gb.describeSequential(model))) {
      throw new Error(`layers differ: ${JSON.stringify(described)}`);
    }
    ref.assertClose(await gb.noGrad(() => back.forward(x)).toArray(), want, { atol: 0, msg: "reloaded" });
    if (want.length !== 2 * 2 * 5 * 7) throw new Error(`output size ${want.length}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
