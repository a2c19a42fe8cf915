/**
 * ConvTranspose2d and Upsample against the float64 CPU reference (tests/cpu_ref.ts) and finite
 * differences: forward values and the gradients of input, weight and bias.
 */
import * as gb from "../mod.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";
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
    // non-integer factors: PyTorch samples by 1/factor, not by in/out (5·1.5 → 7: 0.667, not 0.714)
    [[1, 2, 5, 5], { scaleFactor: 1.5, mode: "bilinear" }],
    [[1, 2, 5, 3], { scaleFactor: [1.7, 2.5] }],
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

Deno.test("convTranspose2d, ConvTranspose2d and Upsample refuse bad arguments with an error naming the problem", () => {
  const x = gb.zeros([1, 2, 3, 3]), w = gb.zeros([2, 3, 3, 3]);
  const cases: [() => unknown, RegExp][] = [
    [
      () => gb.convTranspose2d(x, w, null, { stride: 2, outputPadding: 2 }),
      /convTranspose2d: outputPadding 2 must be smaller than either stride 2 or dilation 1/,
    ],
    [
      () => gb.convTranspose2d(x, w, null, { outputPadding: 1 }),
      /outputPadding 1 must be smaller than either stride 1 or dilation 1/,
    ],
    // the weight of a conv ([out, in, k, k]) is not a transposed conv's ([in, out, k, k])
    [
      () => gb.convTranspose2d(x, gb.zeros([3, 2, 3, 3])),
      /weight \[Cin, Cout, KH, KW\] with matching Cin, got \[1, 2, 3, 3\] and \[3, 2, 3, 3\]/,
    ],
    [() => gb.convTranspose2d(x, gb.zeros([2, 3, 3])), /expected input \[N, Cin, H, W\] and weight/],
    [() => gb.convTranspose2d(x, w, gb.zeros([2])), /bias \[2\] does not match 3 output channels/],
    [
      () => gb.convTranspose2d(x, w, null, { stride: 0 }),
      /convTranspose2d: stride must be a positive integer/,
    ],
    [() => gb.convTranspose2d(x, w, null, { padding: 3 }), /the output would be -1×-1 for input 3×3/],
    [() => new gb.ConvTranspose2d(2, 0, 3), /ConvTranspose2d: outChannels must be a positive integer, got 0/],
    [() => new gb.Upsample({}), /Upsample: give size or scaleFactor \(exactly one of them\), got neither/],
    [() => new gb.Upsample({ size: [4, 4], scaleFactor: 2 }), /got both/],
    [() => new gb.Upsample({ scaleFactor: 0 }), /scaleFactor must be a positive number/],
    [() => new gb.Upsample({ size: [4, 2.5] }), /size must be \[height, width\] of positive integers/],
    [() => new gb.Upsample({ scaleFactor: 2, mode: "bicubic" as "nearest" }), /unknown mode "bicubic"/],
    [
      () => new gb.Upsample({ scaleFactor: 2, alignCorners: true }),
      /alignCorners applies to mode "bilinear" only/,
    ],
    [() => new gb.Upsample({ scaleFactor: 0.2 }).forward(x), /scaleFactor 0.2 makes a 3×3 input 0×0/],
    [
      () => gb.interpolate(x, { size: [2, 2], scaleFactor: 2 }),
      /interpolate: give size or scaleFactor .*got both/,
    ],
  ];
  for (const [f, re] of cases) {
    let msg = "(nothing thrown)";
    try {
      f();
    } catch (e) {
      msg = (e as Error).message;
    }
    if (!re.test(msg)) throw new Error(`expected ${re}, got "${msg}"`);
  }
});

Deno.test("ConvTranspose2d's default init is PyTorch's: weight and bias U(±1/√(out·k·k)) (kaiming_uniform with a = √5 and fan_in read from dim 1)", async () => {
  gb.manualSeed(3);
  const m = new gb.ConvTranspose2d(4, 40, 3);
  const bound = 1 / Math.sqrt(40 * 9); // gain √(2/6) · √(3/fan_in) = 1/√fan_in ≈ 0.053
  const w = await m.weight.toArray(), b = await m.bias!.toArray();
  const max = (a: ArrayLike<number>) => Array.from(a).reduce((p, v) => Math.max(p, Math.abs(v)), 0);
  // 1440 and 40 uniform draws come near the bound; a fan_in of in·k·k (36) would allow up to 0.167
  if (!(max(w) <= bound && max(w) > 0.99 * bound)) throw new Error(`weight max ${max(w)}, bound ${bound}`);
  if (!(max(b) <= bound && max(b) > 0.8 * bound)) throw new Error(`bias max ${max(b)}, bound ${bound}`);
  if (m.weight.shape.join() !== "4,40,3,3") throw new Error(`weight shape ${m.weight.shape}`);
});

/** PyTorch 1.13's numbers (tests/fixtures/torch/upsample.safetensors, made by make_upsample_fixtures.py). */
async function torchFixture() {
  const name = "upsample.safetensors";
  const file = decodeSafetensors(
    await Deno.readFile(new URL(`./fixtures/torch/${name}`, import.meta.url)),
    name,
  );
  const host = (n: string) => {
    const h = file.tensors.get(n);
    if (!h) throw new Error(`fixture has no "${n}"`);
    return h;
  };
  return {
    file,
    data: (n: string) => host(n).data as Float32Array,
    tensor: (n: string, requiresGrad = false) =>
      gb.tensor(host(n).data as Float32Array, host(n).shape, { requiresGrad }),
  };
}

/** max |got − want| ≤ rel · max |want|. */
function closeToTorch(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, msg: string): number {
  if (got.length !== want.length) throw new Error(`${msg}: length ${got.length}, PyTorch ${want.length}`);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  if (!(scale > 0 && err <= rel * scale)) throw new Error(`${msg}: max error ${err} > ${rel} × ${scale}`);
  return err / scale;
}

Deno.test("PyTorch 1.13: a Sequential of ConvTranspose2d (outputPadding, dilation), Tanh and Upsample loads its state_dict and gives PyTorch's output and input/weight/bias gradients", async () => {
  const f = await torchFixture();
  const model = gb.sequentialModel([
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
    { type: "Tanh" },
    { type: "Upsample", scaleFactor: 2, mode: "bilinear" },
    {
      type: "ConvTranspose2d",
      in: 4,
      out: 2,
      kernel: 3,
      stride: 2,
      padding: 2,
      outputPadding: 1,
      dilation: 2,
      bias: false,
    },
    { type: "Upsample", scaleFactor: 1.5, mode: "nearest" },
  ]);
  const state = Object.fromEntries(
    [...f.file.tensors.keys()].filter((n) => n.startsWith("seq/state/")).map((
      n,
    ) => [n.slice(10), f.tensor(n)]),
  );
  model.loadStateDict(state);
  await gb.scope(async () => {
    const x = f.tensor("seq/x", true);
    const y = model.forward(x);
    const params = model.namedParameters();
    const grads = gb.grad(gb.sum(gb.mul(y, f.tensor("seq/R"))), [x, ...params.map(([, p]) => p)]);
    closeToTorch(await y.toArray(), f.data("seq/output"), 1e-5, "output");
    closeToTorch(await grads[0].toArray(), f.data("seq/grad.x"), 1e-5, "∂/∂x");
    for (const [i, [n]] of params.entries()) {
      closeToTorch(await grads[i + 1].toArray(), f.data(`seq/grad.${n}`), 1e-5, `∂/∂${n}`);
    }
  });
});

Deno.test("PyTorch 1.13: nn.Upsample nearest and bilinear, by size and by (non-integer, per-axis) scale factor, align_corners both: outputs and input gradients", async () => {
  const f = await torchFixture();
  const cases = JSON.parse(f.file.metadata?.cases ?? "{}") as Record<string, gb.UpsampleOptions>;
  if (Object.keys(cases).length < 11) throw new Error(`fixture lists ${Object.keys(cases).length} cases`);
  for (const [name, o] of Object.entries(cases)) {
    await gb.scope(async () => {
      const x = f.tensor(`up/${name}/x`, true);
      const y = new gb.Upsample(o).forward(x);
      const [gx] = gb.grad(gb.sum(gb.mul(y, f.tensor(`up/${name}/R`))), [x]);
      closeToTorch(await y.toArray(), f.data(`up/${name}/output`), 1e-6, `${name} output`);
      closeToTorch(await gx.toArray(), f.data(`up/${name}/grad.x`), 1e-6, `${name} ∂/∂x`);
    });
  }
});

Deno.test("DeepLift passes through ConvTranspose2d and Upsample as linear layers: attributions sum to F(x) − F(x′), and equal gradient × Δx where the model is linear", async () => {
  gb.manualSeed(7);
  const model = new gb.Sequential(
    new gb.ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    new gb.ReLU(),
    new gb.Upsample({ scaleFactor: 2, mode: "bilinear" }),
    new gb.Conv2d(3, 2, 3, { stride: 2 }),
    new gb.Tanh(),
    new gb.Flatten(),
    new gb.Linear(2 * 7 * 7, 3),
  );
  const x = gb.randn([2, 2, 4, 4]), base = gb.randn([1, 2, 4, 4]);
  const { attributions, delta } = await new gb.DeepLift(model).attributeWithDelta(x, {
    target: 1,
    baselines: base,
  });
  const worst = Math.max(...Array.from(await delta.toArray(), Math.abs));
  if (!(worst < 1e-4)) throw new Error(`completeness error ${worst}`);
  if (attributions.shape.join() !== "2,2,4,4") throw new Error(`shape ${attributions.shape}`);
  // a model of linear layers only: DeepLift is exactly (x − x′)·∇F
  const lin = new gb.Sequential(
    new gb.ConvTranspose2d(2, 2, 2, { stride: 2 }),
    new gb.Upsample({ size: [9, 9], mode: "bilinear", alignCorners: true }),
    new gb.Flatten(),
    new gb.Linear(2 * 81, 2),
  );
  const a = await new gb.DeepLift(lin).attribute(x, { target: 0, baselines: base });
  const xg = x.detach().requiresGrad_(true);
  const [g] = gb.grad(gb.sum(gb.slice(lin.forward(xg), 0, 2).narrow(1, 0, 1)), [xg]);
  ref.assertClose(await a.toArray(), await gb.mul(gb.sub(x, base), g).toArray(), {
    rtol: 1e-4,
    atol: 1e-5,
    msg: "linear model: DeepLift = Δx·gradient",
  });
});

Deno.test("summary counts a ConvTranspose2d's multiply-adds: input pixels × out channels × taps", async () => {
  const s = await gb.summary(new gb.Sequential(new gb.ConvTranspose2d(4, 3, 3, { stride: 2 })), [2, 4, 5, 6]);
  if (s.layers[0].macs !== 2 * 4 * 5 * 6 * 3 * 9) throw new Error(`macs ${s.layers[0].macs}`);
  if (s.layers[0].outputShape.join() !== "2,3,11,13") throw new Error(`shape ${s.layers[0].outputShape}`);
});

Deno.test("a tiny decoder (ConvTranspose2d → ReLU → Upsample → ConvTranspose2d) trains with Adam, and 30 steps leave live buffers and bytes flat", async () => {
  gb.manualSeed(11);
  const model = new gb.Sequential(
    new gb.ConvTranspose2d(4, 8, 4, { stride: 2, padding: 1 }),
    new gb.ReLU(),
    new gb.Upsample({ scaleFactor: 2, mode: "bilinear" }),
    new gb.ConvTranspose2d(8, 1, 3, { padding: 1 }),
  );
  const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
  const z = gb.randn([8, 4, 3, 3]), target = gb.randn([8, 1, 12, 12]);
  let after5: gb.PoolStats | null = null;
  let first = 0, last = 0;
  for (let step = 1; step <= 30; step++) {
    const loss = await gb.scope(async () => {
      opt.zeroGrad();
      const l = gb.mse(model.forward(z), target);
      await l.backward();
      opt.step();
      return await l.item();
    });
    if (step === 1) first = loss;
    last = loss;
    gb.flush();
    if (step === 5) after5 = gb.poolStats();
  }
  const end = gb.poolStats();
  if (end.liveBuffers !== after5!.liveBuffers || end.liveBytes !== after5!.liveBytes) {
    throw new Error(
      `live buffers ${after5!.liveBuffers} → ${end.liveBuffers}, bytes ${
        after5!.liveBytes
      } → ${end.liveBytes}`,
    );
  }
  if (!(last < 0.9 * first)) throw new Error(`it did not train: ${first} → ${last}`);
});

Deno.test("convTranspose2d of a batch whose products exceed the binding budget runs in chunks: the same values and gradients as image by image", async () => {
  // per image: K = 64·8·8 = 4096 rows of P = 32·32 columns ≈ 16 MiB of products: 2 images a chunk
  gb.manualSeed(4);
  const x = gb.randn([3, 1, 32, 32], { requiresGrad: true });
  const w = gb.randn([1, 64, 8, 8], { requiresGrad: true }), b = gb.randn([64], { requiresGrad: true });
  const y = gb.convTranspose2d(x, w, b);
  const gy = gb.randn(y.shape);
  const [gx, gw, gb_] = gb.grad(y, [x, w, b], gy);
  const parts = [0, 1, 2].map((s) => gb.convTranspose2d(x.slice(s, s + 1), w, b));
  const one = gb.concat(parts, 0);
  ref.assertClose(await y.toArray(), await one.toArray(), { atol: 1e-5, msg: "chunked forward" });
  const [gx2, gw2, gb2] = gb.grad(one, [x, w, b], gy);
  ref.assertClose(await gx.toArray(), await gx2.toArray(), { rtol: 1e-4, atol: 1e-3, msg: "input gradient" });
  ref.assertClose(await gw.toArray(), await gw2.toArray(), {
    rtol: 1e-4,
    atol: 1e-3,
    msg: "weight gradient",
  });
  ref.assertClose(await gb_.toArray(), await gb2.toArray(), { rtol: 1e-4, atol: 1e-3, msg: "bias gradient" });
});
