import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { encodeSafetensors } from "../src/io/safetensors.ts";

Deno.test("a model saved with saveModel is rebuilt by loadModel from the file alone, outputs identical", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(3);
  const model = gb.createModel("tabular-mlp", { features: 7, hidden: 5 });
  const x = gb.randn([3, 7]);
  const want = await model.forward(x).toArray();
  await gb.saveModel(model, `${dir}/m.safetensors`, { note: "hello" });
  const { model: back, metadata } = await gb.loadModel(`${dir}/m.safetensors`);
  assert.equal(metadata["glassbox.architecture"], "tabular-mlp");
  assert.deepEqual(JSON.parse(metadata["glassbox.config"]), { features: 7, hidden: 5 });
  assert.equal(metadata.note, "hello");
  assert.deepEqual(gb.modelSpec(back), { architecture: "tabular-mlp", config: { features: 7, hidden: 5 } });
  assert.deepEqual(Array.from(await back.forward(x).toArray()), Array.from(want));
  assert.ok(gb.architectures().some((a) => a.name === "seed-cnn"));
});

Deno.test("an unknown or missing architecture is a clear error that lists the known ones", async () => {
  const dir = await Deno.makeTempDir();
  assert.throws(
    () => gb.createModel("resnet-9000"),
    /unknown architecture "resnet-9000"; the known ones are seed-cnn, tabular-mlp, small-cam-cnn/,
  );
  const w = { dtype: "F32" as const, shape: [1], data: new Float32Array(1) };
  await Deno.writeFile(`${dir}/none.safetensors`, encodeSafetensors([["w", w]], { format: "pt" }));
  await assert.rejects(
    () => gb.loadModel(`${dir}/none.safetensors`),
    /does not say which architecture it holds.*known architectures: seed-cnn/,
  );
  await Deno.writeFile(
    `${dir}/odd.safetensors`,
    encodeSafetensors([["w", w]], { "glassbox.architecture": "vgg" }),
  );
  await assert.rejects(
    () => gb.loadModel(`${dir}/odd.safetensors`),
    /unknown architecture "vgg"; known architectures: seed-cnn, tabular-mlp/,
  );
  await assert.rejects(
    () => gb.saveModel(new gb.Linear(2, 2), `${dir}/x.safetensors`),
    /was not built by createModel/,
  );
});
