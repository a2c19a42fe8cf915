/**
 * ONNX out, checked by a real external client: the saved file runs in ONNX Runtime (its
 * WebAssembly build from npm, onnxruntime-web; the native onnxruntime-node addon needs
 * --allow-ffi, which the test task does not grant) and gives glassbox's outputs.
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import onnxproto from "npm:onnx-proto@8.0.1";
// deno-lint-ignore no-import-prefix
import * as ort from "npm:onnxruntime-web@1.23.0";
import * as gb from "../mod.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** Runs `model` in glassbox (eval mode) and, saved as ONNX, in ONNX Runtime on the same input. */
async function both(model: gb.Module, inputShape: number[], batch = 3, vocab = 0) {
  model.eval();
  const dir = await Deno.makeTempDir({ prefix: "glassbox-onnx-" });
  const path = `${dir}/model.onnx`;
  await gb.saveOnnx(model, path, { inputShape, inputDtype: vocab ? "int32" : "float32" });
  const size = batch * inputShape.reduce((a, b) => a * b, 1);
  const x = vocab
    ? gb.tensor(Int32Array.from({ length: size }, (_, i) => (i * 7 + 3) % vocab), [batch, ...inputShape], {
      dtype: "int32",
    })
    : gb.randn([batch, ...inputShape]);
  const want = await gb.scope(() => gb.noGrad(() => model.forward(x)).toArray());
  const session = await ort.InferenceSession.create(await Deno.readFile(path));
  const data = await x.toArray();
  const fed = data instanceof Int32Array
    ? new ort.Tensor("int32", data, [batch, ...inputShape])
    : new ort.Tensor("float32", data, [batch, ...inputShape]);
  const result = await session.run({ input: fed });
  await session.release();
  x.dispose();
  await Deno.remove(dir, { recursive: true });
  return { got: result.output.data as Float32Array, gotShape: [...result.output.dims], want };
}

/** Each element within 1e-4 of the output's scale (its larger of |want_i| and mean |want|). */
function assertClose(got: Float32Array, want: Float32Array | Int32Array, what: string) {
  const ref = Float64Array.from(want);
  assert.equal(got.length, want.length, `${what}: ${got.length} outputs, glassbox has ${want.length}`);
  const meanAbs = ref.reduce((s, v) => s + Math.abs(v), 0) / ref.length;
  assert.ok(meanAbs > 1e-6, `${what}: a degenerate (all-zero) output proves nothing`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), meanAbs));
  }
  assert.ok(worst <= 1e-4, `${what}: ONNX Runtime differs from glassbox by ${worst} relative`);
}

Deno.test("saveOnnx: the seed CNN runs in ONNX Runtime with glassbox's outputs", async () => {
  gb.manualSeed(1);
  const { got, gotShape, want } = await both(gb.seedCnn(), [1, 28, 28]);
  assert.deepEqual(gotShape, [3, 10]);
  assertClose(got, want, "seedCnn");
});

Deno.test("saveOnnx: the tabular MLP runs in ONNX Runtime with glassbox's outputs", async () => {
  gb.manualSeed(2);
  const { got, gotShape, want } = await both(gb.tabularMlp({ features: 12, hidden: 16 }), [12], 5);
  assert.deepEqual(gotShape, [5, 1]);
  assertClose(got, want, "tabularMlp");
});

Deno.test("saveOnnx: smallCamCnn (RGB, global average pooling) runs in ONNX Runtime with glassbox's outputs", async () => {
  gb.manualSeed(3);
  const { got, gotShape, want } = await both(gb.smallCamCnn({ classes: 3, channels: 3 }), [3, 20, 20]);
  assert.deepEqual(gotShape, [3, 3]);
  assertClose(got, want, "smallCamCnn");
});

Deno.test("saveOnnx: a two-layer TokenTransformer (int32 tokens, Gather, learned positions, attention) matches in ONNX Runtime", async () => {
  gb.manualSeed(6);
  const model = new gb.TokenTransformer({
    vocab: 11,
    outputs: 3,
    dModel: 16,
    nhead: 4,
    layers: 2,
    maxLen: 12,
  });
  // PyTorch starts the attention biases at zero; random ones show a wrongly wired bias
  gb.noGrad(() => {
    for (const i of ["0", "1"]) {
      model.get(`layers.${i}.self_attn`).loadStateDict({ in_proj_bias: gb.randn([48]) }, false);
    }
  });
  const { got, gotShape, want } = await both(model, [7], 2, 11);
  assert.deepEqual(gotShape, [2, 7, 3]);
  assertClose(got, want, "TokenTransformer");
});

Deno.test("saveOnnx: a pre-norm GELU encoder layer with sinusoidal positions on float input matches in ONNX Runtime", async () => {
  gb.manualSeed(7);
  const model = new gb.Sequential(
    new gb.SinusoidalPositionalEncoding(16, 10),
    new gb.TransformerEncoderLayer(16, 2, {
      dimFeedforward: 24,
      activation: "gelu",
      normFirst: true,
      dropout: 0.3,
    }),
    new gb.LayerNorm([16]),
  );
  gb.noGrad(() => model.get("1.self_attn").loadStateDict({ in_proj_bias: gb.randn([48]) }, false));
  const { got, gotShape, want } = await both(model, [6, 16], 2);
  assert.deepEqual(gotShape, [2, 6, 16]);
  assertClose(got, want, "encoder layer");
});

for (const cell of ["lstm", "gru", "rnn"] as const) {
  Deno.test(`saveOnnx: a RecurrentTagger (${cell}) matches in ONNX Runtime`, async () => {
    gb.manualSeed(8);
    const model = new gb.RecurrentTagger({ cell, vocab: 9, outputs: 4, embedDim: 5, hidden: 6 });
    const { got, gotShape, want } = await both(model, [8], 2, 9);
    assert.deepEqual(gotShape, [2, 8, 4]);
    assertClose(got, want, `RecurrentTagger ${cell}`);
  });
}

Deno.test("saveOnnx: stacked LSTM and GRU layers and a bias-free ReLU RNN on float input match in ONNX Runtime", async () => {
  gb.manualSeed(9);
  const model = new gb.Sequential(
    new gb.LSTM(3, 5, { numLayers: 2 }),
    new gb.GRU(5, 4, { numLayers: 2 }),
    new gb.RNN(4, 6, { nonlinearity: "relu", bias: false }),
  );
  const { got, gotShape, want } = await both(model, [7, 3], 2);
  assert.deepEqual(gotShape, [2, 7, 6]);
  assertClose(got, want, "stacked recurrent layers");
});

/** Every translated module, with the settings a wrong translation would get wrong. */
function everyModule(): gb.Sequential {
  return new gb.Sequential(
    new gb.Conv2d(3, 6, 3, { stride: 2, padding: 1 }), // [6, 8, 7]
    new gb.BatchNorm2d(6, 0.05), // an eps large enough that dropping it shows
    new gb.LeakyReLU(0.1),
    new gb.AvgPool2d([3, 2], 1, [1, 0]), // padding differs per axis: [6, 8, 6]
    new gb.Conv2d(6, 5, 3, { dilation: 2, padding: 2, bias: false }), // [5, 8, 6]
    new gb.Sigmoid(),
    new gb.MaxPool2d(3, 2, 1), // [5, 4, 3]
    new gb.Tanh(),
    new gb.Flatten(2), // [5, 12]
    new gb.Linear(12, 12), // on a 3-D input: MatMul with the transposed weight
    new gb.GELU(),
    new gb.Softmax(-1),
    new gb.LayerNorm([12], 1e-4), // after the softmax, so its small differences are seen at full scale
    new gb.Flatten(), // [60]
    new gb.Dropout(0.5),
    new gb.Linear(60, 60), // square: a forgotten transpose would still run
    new gb.ReLU(),
    new gb.Linear(60, 4),
    new gb.LogSoftmax(1),
  );
}

Deno.test("saveOnnx: every translated module (BatchNorm, pools with per-axis padding, dilation, GELU, LayerNorm, softmaxes, 3-D Linear) matches in ONNX Runtime", async () => {
  gb.manualSeed(4);
  const model = everyModule();
  // running statistics and affine terms far from their initial 0/1, so a dropped term shows
  gb.noGrad(() =>
    model.get("1").loadStateDict({
      weight: gb.rand([6]).add(0.5),
      bias: gb.randn([6]),
      running_mean: gb.randn([6]),
      running_var: gb.rand([6]).add(0.2),
    })
  );
  gb.noGrad(() => model.get("12").loadStateDict({ weight: gb.rand([12]).add(0.5), bias: gb.randn([12]) }));
  const { got, gotShape, want } = await both(model, [3, 15, 13], 2);
  assert.deepEqual(gotShape, [2, 4]);
  assertClose(got, want, "every module");
});

Deno.test("saveOnnx: initializers are the state dict, nodes are named by module path, the profile is in the metadata", async () => {
  gb.manualSeed(5);
  const model = gb.smallCamCnn({ classes: 2 });
  const profile: gb.ExplanationProfile = {
    modality: "image",
    inputShape: [1, 12, 12],
    classes: ["left", "right"],
    camLayer: "4",
  };
  model.train();
  const bytes = await gb.exportOnnx(model, { profile });
  // the traced call leaves the model as found: training mode back, no hook left behind
  for (const [path, m] of model.namedModules()) {
    assert.ok(m.training, `module "${path}" is back in training mode`);
    assert.deepEqual(m.hookCounts(), { forwardPre: 0, forward: 0, backward: 0 }, `module "${path}" hooks`);
  }
  const m = onnxproto.onnx.ModelProto.decode(bytes);
  const g = m.graph as onnxproto.onnx.GraphProto;
  assert.equal(Number(m.opsetImport[0].version), 17);
  assert.deepEqual(
    g.initializer.map((t) => t.name).sort(),
    [...model.stateDict().keys()].sort(),
  );
  const w = g.initializer.find((t) => t.name === "7.weight")!;
  assert.deepEqual((w.dims as number[]).map(Number), [2, 32]);
  const stored = new Float32Array(Uint8Array.from(w.rawData as Uint8Array).buffer);
  const real = await (model.get("7") as gb.Linear).weight.toArray();
  assert.deepEqual([...stored], [...real]);
  assert.deepEqual(
    g.node.map((n) => `${n.name}:${n.opType}`),
    ["0:Conv", "1:Relu", "2:MaxPool", "3:Conv", "4:Relu", "5:GlobalAveragePool", "6:Flatten", "7:Gemm"],
  );
  const meta = m.metadataProps.find((p) => p.key === "glassbox.profile");
  assert.ok(meta, "the profile is kept in the metadata");
  assert.deepEqual(gb.profileFromMetadata({ "glassbox.profile": meta.value! }), profile);
  assert.equal(g.input[0].type?.tensorType?.shape?.dim?.[0].dimParam, "batch");
});

Deno.test("saveOnnx: an untranslatable module is an error naming its path and type, and no file is written", async () => {
  class Odd extends gb.Module {
    forward(x: gb.Tensor): gb.Tensor {
      return x;
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "glassbox-onnx-" });
  const model = new gb.Sequential(new gb.Linear(3, 3), new gb.Sequential(new gb.ReLU(), new Odd()));
  await assert.rejects(
    () => gb.saveOnnx(model, `${dir}/odd.onnx`, { inputShape: [3] }),
    /module "1\.1" \(Odd\) has no ONNX translation/,
  );
  assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written, not even a temporary file");
  await assert.rejects(() => gb.exportOnnx(model, {}), /give an inputShape/);
  await assert.rejects(
    () =>
      gb.exportOnnx(new gb.Linear(3, 2), {
        inputShape: [4],
        profile: { modality: "tabular", inputShape: [3], classes: ["a", "b"] },
      }),
    /inputShape \[4\] differs from the profile's \[3\]/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("exportOnnx: an encoder layer called with attention masks is an error naming the masks, not a silently unmasked graph", async () => {
  class Causal extends gb.Module {
    enc = this.addModule("enc", new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 8 }));
    forward(x: gb.Tensor): gb.Tensor {
      return this.enc.forward(x, { isCausal: true });
    }
  }
  gb.registerOnnxExporter(Causal, (ctx, _m, x) => ctx.child("enc", x));
  await assert.rejects(
    () => gb.exportOnnx(new Causal(), { inputShape: [4, 8] }),
    /module "enc" \(TransformerEncoderLayer\) was called with isCausal; attention masks are not exported/,
  );
});

Deno.test("saveOnnx: SmallResNet (BasicBlocks with identity and projection shortcuts, BatchNorm statistics) runs in ONNX Runtime, and loadOnnx reads it back with the same outputs and input gradients", async () => {
  gb.manualSeed(9);
  const model = gb.smallResNet({ channels: 3, width: 4, classes: 5 });
  // running statistics away from 0/1, so a BatchNorm exported with the wrong ones shows
  model.train();
  for (let i = 0; i < 3; i++) {
    gb.scope(() => gb.noGrad(() => model.forward(gb.randn([8, 3, 12, 12]).mul(2).add(1))));
  }
  const { got, gotShape, want } = await both(model, [3, 12, 12], 4);
  assert.deepEqual(gotShape, [4, 5]);
  assertClose(got, want, "SmallResNet");
  // and back in through glassbox's own importer: outputs and ∂(Σ logits·w)/∂x agree
  const bytes = await gb.exportOnnx(model, { inputShape: [3, 12, 12] });
  const { model: back } = await gb.loadOnnx(bytes);
  const x = gb.randn([2, 3, 12, 12]);
  const w = gb.randn([2, 5]);
  const grads = async (m: gb.Module) => {
    const leaf = x._view(x.shape).requiresGrad_(true);
    const y = m.forward(leaf);
    const [g] = gb.grad(gb.sum(gb.mul(y, w)), [leaf]);
    return { y: await y.toArray(), g: await g.toArray() };
  };
  const a = await grads(model), b = await grads(back);
  assertClose(Float32Array.from(b.y), a.y, "loadOnnx(saveOnnx(SmallResNet)) outputs");
  assertClose(Float32Array.from(b.g), a.g, "loadOnnx(saveOnnx(SmallResNet)) input gradients");
});
