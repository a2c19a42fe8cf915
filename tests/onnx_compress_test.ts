/**
 * Compression on a model loaded from ONNX: magnitude pruning finds the weights of its Conv and
 * Gemm nodes (the exported Conv2d and Linear weights, not biases or BatchNorm parameters) and
 * prunes them as it prunes the glassbox model the file came from.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

function cnn(): gb.Module {
  gb.manualSeed(11);
  return new gb.Sequential(
    new gb.Conv2d(2, 4, 3),
    new gb.BatchNorm2d(4),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Flatten(),
    new gb.Linear(36, 5),
    new gb.ReLU(),
    new gb.Linear(5, 3),
  ).eval();
}

Deno.test("magnitudePrune on an ONNX model prunes its Conv and Gemm weights as on the model it was exported from", async () => {
  const model = cnn();
  const { model: onnx } = await gb.loadOnnx(await gb.exportOnnx(model, { inputShape: [2, 8, 8] }));
  const names = gb.prunableWeights(onnx);
  // exactly the three weights (4·2·3·3 + 5·36 + 3·5 = 267 values), none of the biases or BN parameters
  const sizes = new Map(onnx.namedParameters().map(([n, t]) => [n, t.size]));
  assert.deepEqual(names.map((n) => sizes.get(n)).sort((a, b) => a! - b!), [15, 72, 180]);
  await gb.magnitudePrune(model, { amount: 0.6, scope: "global" });
  await gb.magnitudePrune(onnx, { amount: 0.6, scope: "global" });
  const zeros = async (m: gb.Module, ns: string[]) => {
    const p = new Map(m.namedParameters());
    let z = 0;
    for (const n of ns) z += Array.from(await p.get(n)!.toArray()).filter((v) => v === 0).length;
    return z;
  };
  assert.equal(await zeros(onnx, names), Math.floor(0.6 * 267));
  assert.equal(await zeros(model, gb.prunableWeights(model)), Math.floor(0.6 * 267));
  gb.manualSeed(12);
  const x = gb.randn([4, 2, 8, 8]);
  const [want, got] = [await model.forward(x).toArray(), await onnx.forward(x).toArray()];
  let err = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(want[i] - got[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(err / scale < 1e-5, `pruned ONNX model vs pruned glassbox model: ${err / scale}`);
});

Deno.test("prunableWeights of an ONNX graph: a MatMul's initializer operand is a weight, a graph input multiplied is not", () => {
  const model = gb.buildOnnxModel({
    opset: 17,
    producer: "hand",
    metadata: {},
    inputs: [{ name: "x", type: "float", shape: [1, 3] }, { name: "z", type: "float", shape: [2, 2] }],
    outputs: [{ name: "y", type: "float", shape: [1, 2] }],
    initializers: [
      { name: "W", dims: [3, 2], type: "float", data: new Float32Array(6).fill(1) },
      { name: "c", dims: [2], type: "float", data: new Float32Array(2) },
    ],
    nodes: [
      { name: "mm", opType: "MatMul", domain: "", inputs: ["x", "W"], outputs: ["h"], attributes: {} },
      { name: "add", opType: "Add", domain: "", inputs: ["h", "c"], outputs: ["h2"], attributes: {} },
      { name: "mm2", opType: "MatMul", domain: "", inputs: ["h2", "z"], outputs: ["y"], attributes: {} },
    ],
  });
  assert.deepEqual(gb.prunableWeights(model), ["W"]);
});
