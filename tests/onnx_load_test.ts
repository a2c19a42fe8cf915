/**
 * loadOnnx against PyTorch 1.13's own numbers: three models exported by torch.onnx.export
 * (tests/fixtures/onnx/*.onnx, made by make_fixtures.py there) — a residual CNN with BatchNorm, an MLP
 * (LayerNorm exported as ReduceMean/Pow/Sqrt, GELU as Erf) and a two-layer transformer classifier over
 * token ids with a dynamic batch axis (Gather, Shape arithmetic, Expand, Where, LayerNormalization) —
 * with the outputs and the input gradients PyTorch computed; a CAM on a convolution named by its ONNX
 * node name; errors that name the node and the op.
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import onnxproto from "npm:onnx-proto@8.0.1";
import * as gb from "../mod.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";

interface Arr {
  shape: number[];
  data: Float32Array | Int32Array;
}
interface Fixture {
  input: Arr;
  output: Arr;
  weights: Arr;
  grad: Arr;
  /** The loss's gradient for some initializers, by ONNX name. */
  gradParams: Record<string, Arr>;
}

const dir = new URL("./fixtures/onnx/", import.meta.url);
async function fixture(name: string): Promise<Fixture> {
  const file = decodeSafetensors(await Deno.readFile(new URL(`${name}.safetensors`, dir)), name);
  const get = (k: string): Arr => {
    const h = file.tensors.get(k);
    if (!h) throw new Error(`${name}.safetensors has no "${k}"`);
    return { shape: h.shape, data: h.data as Float32Array | Int32Array };
  };
  const gradParams = Object.fromEntries(
    [...file.tensors.keys()].filter((k) => k.startsWith("grad.")).map((k) => [k.slice(5), get(k)]),
  );
  return {
    input: get("input"),
    output: get("output"),
    weights: get("weights"),
    grad: get("grad"),
    gradParams,
  };
}
const load = (name: string) => gb.loadOnnx(new URL(`${name}.onnx`, dir).pathname);

/** max |got − want| ≤ rel · max |want|; returns the measured ratio. */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, msg: string): number {
  assert.equal(got.length, want.length, `${msg}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    const e = Math.abs(got[i] - want[i]);
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
  }
  assert.ok(scale > 0, `${msg}: PyTorch's values are all zero`);
  assert.ok(err <= rel * scale, `${msg}: max error ${err.toExponential(2)} > ${rel} × ${scale.toFixed(4)}`);
  return err / scale;
}

const measured: Record<string, number> = {};

/**
 * Output within 1e-4 and d(sum(output · weights))/d(input) within 1e-3 (relative to the largest
 * value), and the same loss's gradient for some initializers (parameters under their ONNX names).
 */
async function checkPlain(name: string): Promise<void> {
  const f = await fixture(name);
  const { model } = await load(name);
  await gb.scope(async () => {
    const x = gb.tensor(f.input.data, f.input.shape, { requiresGrad: true });
    const y = model.forward(x);
    assert.deepEqual(y.shape, f.output.shape);
    measured[`${name} output`] = close(await y.toArray(), f.output.data, 1e-4, `${name} output`);
    const loss = gb.sum(gb.mul(y, gb.tensor(f.weights.data, f.weights.shape)));
    model.zeroGrad();
    await loss.backward();
    measured[`${name} input grad`] = close(
      await x.grad!.toArray(),
      f.grad.data,
      1e-3,
      `${name} input gradient`,
    );
    const params = model.stateDict();
    for (const [p, want] of Object.entries(f.gradParams)) {
      const t = params.get(p);
      assert.ok(t, `${name}: no parameter "${p}"`);
      measured[`${name} ${p} grad`] = close(
        await t.grad!.toArray(),
        want.data,
        1e-3,
        `${name} ${p} gradient`,
      );
    }
  });
  model.zeroGrad();
}

Deno.test("loadOnnx: a residual CNN with BatchNorm exported by PyTorch gives its outputs and input gradients", async () => {
  await checkPlain("cnn");
});

Deno.test("loadOnnx: an MLP (Sub/Div, LayerNorm as ReduceMean/Pow/Sqrt, Tanh, Sigmoid, Erf) matches PyTorch", async () => {
  await checkPlain("mlp");
});

Deno.test("loadOnnx: the rest (opset 11: grouped Conv with per-axis padding, Pad, Softmax on a middle axis, Where, Slice, Gather, Squeeze, Gemm alpha/beta) matches PyTorch", async () => {
  await checkPlain("ops");
});

Deno.test("loadOnnx: a transformer classifier over token ids matches PyTorch, gradient at the embedding output", async () => {
  const f = await fixture("transformer");
  const { model } = await load("transformer");
  // the Gather node of the embedding is a module: a forward hook swaps in a leaf for its output
  const embed = model.get("/embed/Gather");
  assert.equal(embed.typeName, "Gather");
  await gb.scope(async () => {
    let leaf: gb.Tensor | null = null;
    const h = embed.registerForwardHook((_m, _i, out) => {
      leaf = gb.tensor(new Float32Array(out.size), out.shape).requiresGrad_(true);
      return gb.add(leaf, out);
    });
    const ids = gb.tensor(f.input.data, f.input.shape, { dtype: "int32" });
    const y = model.forward(ids);
    h.remove();
    measured["transformer output"] = close(await y.toArray(), f.output.data, 1e-4, "transformer output");
    await gb.sum(gb.mul(y, gb.tensor(f.weights.data, f.weights.shape))).backward();
    measured["transformer embedding-output grad"] = close(
      await leaf!.grad!.toArray(),
      f.grad.data,
      1e-3,
      "gradient at the embedding output",
    );
    const params = model.stateDict();
    for (const [p, want] of Object.entries(f.gradParams)) {
      measured[`transformer ${p} grad`] = close(await params.get(p)!.grad!.toArray(), want.data, 1e-3, p);
    }
    // the batch axis is dynamic: the shape arithmetic is recomputed for another batch size
    const one = model.forward(gb.slice(ids, 1, 2));
    close(await one.toArray(), f.output.data.slice(4, 8), 1e-4, "transformer, batch of one");
  });
  model.zeroGrad();
  console.log("measured max error / max |PyTorch|:", measured);
});

Deno.test("loadOnnx: parameters and stateDict keys are the ONNX initializer names; BN statistics are buffers", async () => {
  const { model } = await load("cnn");
  const names = model.namedParameters().map(([n]) => n);
  assert.ok(names.includes("stem.weight") && names.includes("head.bias"), names.join());
  assert.ok(!names.includes("bn.running_mean"));
  assert.ok(model.stateDict().has("bn.running_var"));
  assert.equal(model.get("/stem/Conv").typeName, "Conv");
  // the node that reads an initializer lists it too (summaries count parameters per layer)
  assert.deepEqual(model.get("/stem/Conv").namedParameters().map(([n]) => n), ["stem.weight", "stem.bias"]);
  assert.equal(model.parameters().length, names.length);
  const table = (await gb.summary(model, [1, 3, 16, 16])).table;
  assert.match(table, /\/stem\/Conv\s+Conv\s+\[1, 8, 16, 16\]\s+224\s/);
  assert.throws(() => model.get("/nope"), /no module "\/nope"/);
});

Deno.test("loadOnnx: LayerActivation and GradCAM on a convolution named by its ONNX node name", async () => {
  const f = await fixture("cnn");
  const { model } = await load("cnn");
  model.eval();
  await gb.scope(async () => {
    const x = gb.tensor(f.input.data, f.input.shape);
    const conv = model.get("/block2/conv2/Conv");
    const act = await new gb.LayerActivation(model, conv).attribute(x);
    assert.deepEqual(act.shape, [2, 8, 8, 8]);
    // the activation is the conv's output: run the model with a hook and compare
    let seen: gb.Tensor | null = null;
    const h = conv.registerForwardHook((_m, _i, out) => void (seen = out));
    model.forward(x);
    h.remove();
    assert.deepEqual(await act.toArray(), await seen!.toArray());
    const cam = await new gb.GradCAM(model, conv).attribute(x, { target: 1 });
    assert.deepEqual(cam.shape, [2, 1, 16, 16]);
    const v = await cam.toArray();
    assert.ok(v.every((c) => c >= 0 && Number.isFinite(c)) && v.some((c) => c > 0));
  });
  assert.deepEqual(model.get("/block2/conv2/Conv").hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
});

/** A fixture (the MLP by default) re-encoded after `edit` changes its decoded protobuf. */
async function edited(edit: (m: onnxproto.onnx.ModelProto) => void, name = "mlp"): Promise<Uint8Array> {
  const m = onnxproto.onnx.ModelProto.decode(await Deno.readFile(new URL(`${name}.onnx`, dir)));
  edit(m);
  return onnxproto.onnx.ModelProto.encode(m).finish();
}

Deno.test("loadOnnx: an unsupported operator or attribute is an error naming the node, the op and what is missing", async () => {
  const op = await edited((m) => (m.graph!.node![2].opType = "Einsum"));
  await assert.rejects(
    gb.loadOnnx(op),
    /onnx node "\/fc1\/Gemm" \(Einsum\): operator Einsum is not supported/,
  );
  const attr = await edited((m) => {
    const a = onnxproto.onnx.AttributeProto.create({ name: "frobnicate", type: 2, i: 1 });
    m.graph!.node![2].attribute!.push(a);
  });
  await assert.rejects(
    gb.loadOnnx(attr),
    /onnx node "\/fc1\/Gemm" \(Gemm\): attribute "frobnicate" is not supported/,
  );
  // attribute values glassbox does not implement are found at load time, before any input
  const node = (m: onnxproto.onnx.ModelProto, name: string) => m.graph!.node!.find((n) => n.name === name)!;
  const attrOf = (m: onnxproto.onnx.ModelProto, n: string, a: string) =>
    node(m, n).attribute!.find((x) => x.name === a)!;
  const ceil = await edited((m) => (attrOf(m, "/pool1/MaxPool", "ceil_mode").i = 1), "cnn");
  await assert.rejects(
    gb.loadOnnx(ceil),
    /onnx node "\/pool1\/MaxPool" \(MaxPool\): attribute ceil_mode=1 is not supported \(only ceil_mode=0\)/,
  );
  const strides = await edited((m) => (attrOf(m, "/stem/Conv", "strides").ints = [2, 1]), "cnn");
  await assert.rejects(
    gb.loadOnnx(strides),
    /onnx node "\/stem\/Conv" \(Conv\): attribute strides=\[2,1\] is not supported \(only the same stride on both axes\)/,
  );
  // a second output (MaxPool's indices) is fine while nothing reads it, an error when something does
  const pool = (m: onnxproto.onnx.ModelProto) => node(m, "/pool1/MaxPool").output!.push("indices");
  await gb.loadOnnx(await edited(pool, "cnn"));
  const asked = await edited((m) => {
    pool(m);
    m.graph!.output!.push(onnxproto.onnx.ValueInfoProto.create({ name: "indices" }));
  }, "cnn");
  await assert.rejects(
    gb.loadOnnx(asked),
    /onnx node "\/pool1\/MaxPool" \(MaxPool\): its output 1 \("indices"\) is not supported \(only its first\)/,
  );
  await assert.rejects(gb.loadOnnx(new Uint8Array([7, 7, 7])), /not a readable ONNX model/);
});

Deno.test("loadOnnx: the explanation profile in metadata_props comes back", async () => {
  const profile: gb.ExplanationProfile = {
    modality: "tabular",
    inputShape: [10],
    classes: ["a", "b", "c"],
    featureNames: Array.from({ length: 10 }, (_, i) => `f${i}`),
  };
  const bytes = await edited((m) => {
    m.metadataProps = [
      onnxproto.onnx.StringStringEntryProto.create({ key: gb.PROFILE_KEY, value: JSON.stringify(profile) }),
    ];
  });
  const got = await gb.loadOnnx(bytes);
  assert.deepEqual(got.profile, gb.validateProfile(profile));
  const bad = await edited((m) => {
    m.metadataProps = [onnxproto.onnx.StringStringEntryProto.create({ key: gb.PROFILE_KEY, value: "{" })];
  });
  await assert.rejects(gb.loadOnnx(bad), /glassbox\.profile/);
});

Deno.test("loadOnnx: forward and backward in a scope leave no GPU buffer behind, call after call", async () => {
  const f = await fixture("transformer");
  const { model } = await load("transformer");
  const step = () =>
    gb.scope(async () => {
      const ids = gb.tensor(f.input.data, f.input.shape, { dtype: "int32" });
      await gb.sum(model.forward(ids)).backward();
      model.zeroGrad();
    });
  await step(); // the first call may fill the pool
  const before = gb.poolStats().liveBuffers;
  for (let i = 0; i < 5; i++) await step();
  assert.equal(gb.poolStats().liveBuffers, before);
});

Deno.test("loadOnnx: LayerIntegratedGradients at the transformer's embedding Gather sums to F(x) − F(x′)", async () => {
  const f = await fixture("transformer");
  const { model } = await load("transformer");
  await gb.scope(async () => {
    const ids = gb.tensor(f.input.data, f.input.shape, { dtype: "int32" });
    const base = gb.tensor(new Int32Array(f.input.data.length), f.input.shape, { dtype: "int32" });
    const target = [0, 3, 2];
    const out = await model.forward(ids).toArray(), out0 = await model.forward(base).toArray();
    const gap = target.map((t, n) => out[n * 4 + t] - out0[n * 4 + t]);
    const lig = await new gb.LayerIntegratedGradients(model, model.get("/embed/Gather")).attributeWithDelta(
      ids,
      {
        target,
        baselines: base,
        nSteps: 64,
      },
    );
    assert.deepEqual(lig.attributions.shape, [3, 7, 16]);
    const sums = await gb.sum(lig.attributions, [1, 2]).toArray();
    const scale = Math.max(...gap.map(Math.abs));
    sums.forEach((s, n) =>
      assert.ok(Math.abs(s - gap[n]) < 0.01 * scale, `row ${n}: Σ ${s} vs gap ${gap[n]}`)
    );
  });
});

Deno.test("loadOnnx: a hook that runs the model again does not disturb the call it sits in", async () => {
  const f = await fixture("mlp");
  const { model } = await load("mlp");
  await gb.scope(async () => {
    let inner = false;
    const h = model.get("/fc2/Gemm").registerForwardPreHook(() => {
      if (inner) return;
      inner = true;
      model.forward(gb.zeros(f.input.shape));
      inner = false;
    });
    const y = model.forward(gb.tensor(f.input.data, f.input.shape));
    h.remove();
    close(await y.toArray(), f.output.data, 1e-4, "mlp output with a re-entrant hook");
  });
});

/** erf in float64 by its Maclaurin series (accurate to ~1e-15 for |x| ≤ 3). */
function erf64(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

Deno.test("erf (ONNX's Erf) matches a float64 series, and its gradient is 2/√π·e^(−x²)", async () => {
  const xs = [-3, -1.7, -0.5, -1e-3, 0, 0.25, 0.9, 1.3, 2.2, 3];
  await gb.scope(async () => {
    const x = gb.tensor(xs, [xs.length], { requiresGrad: true });
    const y = gb.erf(x);
    const got = await y.toArray();
    xs.forEach((v, i) =>
      assert.ok(Math.abs(got[i] - erf64(v)) < 5e-7, `erf(${v}) = ${got[i]}, want ${erf64(v)}`)
    );
    await gb.sum(y).backward();
    const g = await x.grad!.toArray();
    xs.forEach((v, i) => {
      const want = (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v);
      assert.ok(Math.abs(g[i] - want) < 1e-6, `erf'(${v}) = ${g[i]}, want ${want}`);
    });
  });
});

Deno.test("cloneModel copies an ONNX model: same outputs, its own parameters", async () => {
  const f = await fixture("mlp");
  const { model } = await load("mlp");
  const copy = gb.cloneModel(model);
  await gb.scope(async () => {
    const x = gb.tensor(f.input.data, f.input.shape);
    assert.deepEqual(await copy.forward(x).toArray(), await model.forward(x).toArray());
    const w = copy.stateDict().get("out.bias")!;
    assert.notEqual(w, model.stateDict().get("out.bias"));
    gb.noGrad(() =>
      copy.loadStateDict({ ...Object.fromEntries(copy.stateDict()), "out.bias": gb.zeros([3]) })
    );
    close(await model.forward(x).toArray(), f.output.data, 1e-4, "the original is left alone");
  });
});
