/** int8 checkpoints: I8 weights with per-channel scales, ≥ 3.5× smaller, loading back dequantized; bad scales are named. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("a seed CNN saved with int8 weights is at least 3.5× smaller, reloads by loadModel within half a scale step, and predicts alike", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(31);
  const model = gb.createModel("seed-cnn");
  await gb.saveModel(model, `${dir}/float.safetensors`);
  const r = await gb.saveQuantizedModel(model, `${dir}/int8.safetensors`);
  assert.deepEqual(r.quantized, ["0.weight", "3.weight", "7.weight", "9.weight"]);
  const floatBytes = (await Deno.stat(`${dir}/float.safetensors`)).size;
  assert.equal(r.bytes, (await Deno.stat(`${dir}/int8.safetensors`)).size);
  assert.ok(
    floatBytes / r.bytes >= 3.5,
    `float ${floatBytes} B, int8 ${r.bytes} B: ${(floatBytes / r.bytes).toFixed(2)}×`,
  );
  // the file as any safetensors reader sees it: I8 weights, F32 scales one per output channel
  const file = gb.decodeSafetensors(await Deno.readFile(`${dir}/int8.safetensors`));
  assert.equal(file.tensors.get("7.weight")!.dtype, "I8");
  assert.deepEqual(file.tensors.get("7.weight_scale")!.shape, [128]);
  assert.equal(file.tensors.get("7.bias")!.dtype, "F32");
  const { model: back } = await gb.loadModel(`${dir}/int8.safetensors`);
  for (const name of r.quantized) {
    const w = await model.stateDict().get(name)!.toArray(), v = await back.stateDict().get(name)!.toArray();
    const scales = file.tensors.get(`${name}_scale`)!.data, per = w.length / scales.length;
    for (let i = 0; i < w.length; i++) {
      const half = scales[Math.floor(i / per)] / 2;
      assert.ok(
        Math.abs(w[i] - v[i]) <= half * (1 + 1e-5),
        `${name}[${i}]: ${w[i]} vs ${v[i]} (half step ${half})`,
      );
    }
  }
  const x = gb.randn([16, 1, 28, 28]);
  const a = await gb.noGrad(() => model.forward(x)).argmax(-1).toArray();
  const b = await gb.noGrad(() => back.forward(x)).argmax(-1).toArray();
  assert.ok(
    Array.from(a).filter((p, i) => p === b[i]).length >= 15,
    "the dequantized model predicts like the original",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("loading a quantized file whose scale is missing or mis-shaped says which tensor and what it needs", async () => {
  const dir = await Deno.makeTempDir();
  const lin = new gb.Linear(3, 2);
  const q: gb.HostTensor = { dtype: "I8", shape: [2, 3], data: Int8Array.from([1, 2, 3, 4, 5, 6]) };
  const bias: gb.HostTensor = { dtype: "F32", shape: [2], data: new Float32Array(2) };
  await Deno.writeFile(`${dir}/missing.safetensors`, gb.encodeSafetensors([["weight", q], ["bias", bias]]));
  await assert.rejects(
    () => gb.loadCheckpoint(lin, `${dir}/missing.safetensors`),
    /"weight" is I8 but the file has no "weight_scale"/,
  );
  const bad: gb.HostTensor = { dtype: "F32", shape: [3], data: new Float32Array(3) };
  await Deno.writeFile(
    `${dir}/bad.safetensors`,
    gb.encodeSafetensors([["weight", q], ["weight_scale", bad], ["bias", bias]]),
  );
  await assert.rejects(
    () => gb.loadCheckpoint(lin, `${dir}/bad.safetensors`),
    /"weight_scale" must be F32 \[2\] \(one scale per output channel of "weight" \[2,3\]\), got F32 \[3\]/,
  );
  const good: gb.HostTensor = { dtype: "F32", shape: [2], data: Float32Array.from([0.5, 0.25]) };
  await Deno.writeFile(
    `${dir}/good.safetensors`,
    gb.encodeSafetensors([["weight", q], ["weight_scale", good], ["bias", bias]]),
  );
  await gb.loadCheckpoint(lin, `${dir}/good.safetensors`);
  assert.deepEqual(Array.from(await lin.weight.toArray()), [0.5, 1, 1.5, 1, 1.25, 1.5]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an int8 model saved with its input scales reloads as the same int8 model; a file without them says so", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(32);
  const model = gb.createModel("seed-cnn");
  const x = Float32Array.from({ length: 16 * 784 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const data = { x, y: new Int32Array(16), sampleShape: [1, 28, 28] };
  const q = await gb.quantizeModel(model, data, { calibration: { method: "percentile" } });
  await gb.saveQuantizedModel(q, `${dir}/q.safetensors`);
  const back = await gb.loadQuantizedModel(`${dir}/q.safetensors`);
  assert.deepEqual([...back.inputScales], [...q.inputScales]);
  const input = gb.tensor(x, [16, 1, 28, 28]);
  const a = await q.forward(input).toArray(), b = await back.forward(input).toArray();
  // the same int8 weights (re-quantizing q × scale gives q back); scales may differ in the last bit
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (Math.abs(a[i]) + 1e-3));
  assert.ok(worst < 1e-5, `relative difference ${worst}`);
  await gb.saveQuantizedModel(model, `${dir}/weights-only.safetensors`);
  await assert.rejects(
    () => gb.loadQuantizedModel(`${dir}/weights-only.safetensors`),
    /no glassbox.input_scales/,
  );
  q.dispose();
  back.dispose();
});
