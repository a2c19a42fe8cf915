/**
 * A model loaded from ONNX names its node modules by ONNX operator ("Relu", "MaxPool"). The
 * methods that rewrite gradients at particular modules (DeepLift's Rescale and max-pool rules,
 * Guided Backpropagation, Deconvolution) must find those nodes as they find glassbox's ReLU and
 * MaxPool2d modules: the same model through saveOnnx → loadOnnx gives the same attributions, and
 * DeepLift's attributions still sum to F(x) − F(x′).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

async function both(model: gb.Module, inputShape: number[]) {
  const bytes = await gb.exportOnnx(model, { inputShape });
  const { model: onnx } = await gb.loadOnnx(bytes);
  return onnx;
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let scale = 0, err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  return err / scale;
}

function cnn(): gb.Module {
  gb.manualSeed(3);
  return new gb.Sequential(
    new gb.Conv2d(2, 4, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Conv2d(4, 3, 1),
    new gb.Tanh(),
    new gb.Flatten(),
    new gb.Linear(27, 5),
    new gb.LeakyReLU(0.1),
    new gb.Linear(5, 3),
    new gb.Sigmoid(),
  );
}

Deno.test("DeepLift on an ONNX model applies the rules at its Relu, MaxPool, Tanh, LeakyRelu and Sigmoid nodes", async () => {
  const model = cnn().eval(), shape = [2, 8, 8];
  const onnx = await both(model, shape);
  gb.manualSeed(4);
  const x = gb.randn([3, ...shape]), base = gb.randn([1, ...shape]);
  const want = await new gb.DeepLift(model).attributeWithDelta(x, { target: 1, baselines: base });
  const got = await new gb.DeepLift(onnx).attributeWithDelta(x, { target: 1, baselines: base });
  const [w, g] = [await want.attributions.toArray(), await got.attributions.toArray()];
  assert.ok(
    maxRel(g as Float32Array, w as Float32Array) < 1e-4,
    `ONNX vs glassbox: ${maxRel(g as Float32Array, w as Float32Array)}`,
  );
  // completeness on the ONNX model itself (the plain gradient misses it by far)
  const delta = Array.from(await got.delta.toArray(), Math.abs);
  const scores = await onnx.forward(x).toArray(), ref = await onnx.forward(base).toArray();
  for (let i = 0; i < 3; i++) {
    const diff = Math.abs(scores[i * 3 + 1] - ref[1]);
    assert.ok(
      delta[i] < 1e-4 * Math.max(1, diff),
      `example ${i}: completeness error ${delta[i]} for a difference ${diff}`,
    );
  }
});

Deno.test("Guided Backpropagation and Deconvolution on an ONNX model rewrite its Relu nodes", async () => {
  const model = cnn().eval(), shape = [2, 8, 8];
  const onnx = await both(model, shape);
  gb.manualSeed(5);
  const x = gb.randn([2, ...shape]);
  for (const Method of [gb.GuidedBackprop, gb.Deconvolution]) {
    const w = await (await new Method(model).attribute(x, { target: 2 })).toArray();
    const g = await (await new Method(onnx).attribute(x, { target: 2 })).toArray();
    const plain = await (await new gb.Saliency(onnx).attribute(x, { target: 2, abs: false })).toArray();
    assert.ok(
      maxRel(g as Float32Array, w as Float32Array) < 1e-4,
      `${Method.name}: ${maxRel(g as Float32Array, w as Float32Array)}`,
    );
    assert.ok(
      maxRel(plain as Float32Array, w as Float32Array) > 1e-2,
      `${Method.name} must differ from the plain gradient here`,
    );
  }
});

Deno.test("DeepLift refuses an ONNX model's Softmax node and an overlapping MaxPool node, as it refuses the modules", async () => {
  gb.manualSeed(6);
  const soft = new gb.Sequential(new gb.Linear(4, 3), new gb.Softmax(1)).eval();
  const pool = new gb.Sequential(
    new gb.Conv2d(1, 2, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(3, 2),
    new gb.Flatten(),
  )
    .eval();
  const a = await both(soft, [4]), b = await both(pool, [1, 9, 9]);
  await assert.rejects(
    new gb.DeepLift(a).attribute(gb.randn([1, 4]), { target: 0 }),
    /is a Softmax; Captum's DeepLift/,
  );
  await assert.rejects(
    new gb.DeepLift(b).attribute(gb.randn([1, 1, 9, 9]), { target: 0 }),
    /is a MaxPool with overlapping windows \(kernel 3×3, stride 2×2\)/,
  );
});

Deno.test("loadOnnx reads LeakyRelu (its alpha) and LogSoftmax, which saveOnnx writes", async () => {
  gb.manualSeed(7);
  const model = new gb.Sequential(
    new gb.Linear(6, 5),
    new gb.LeakyReLU(0.2),
    new gb.Linear(5, 4),
    new gb.LogSoftmax(1),
  )
    .eval();
  const onnx = await both(model, [6]);
  const x = gb.randn([3, 6]);
  const [w, g] = [await model.forward(x).toArray(), await onnx.forward(x).toArray()];
  assert.ok(
    maxRel(g as Float32Array, w as Float32Array) < 1e-6,
    `${maxRel(g as Float32Array, w as Float32Array)}`,
  );
});
