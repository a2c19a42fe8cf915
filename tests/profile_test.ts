/**
 * The explanation profile travels with the model: set in code, written by saveModel (and the
 * int8 save) under glassbox.profile, given back and attached by loadModel; a file without one
 * (including one saved before profiles existed) loads with none; a malformed one is an error
 * that names the field.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

const image: gb.ExplanationProfile = {
  modality: "image",
  inputShape: [3, 8, 8],
  classes: ["cat", "dog", "bird"],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  baseline: -1.5,
  camLayer: "4",
  methods: ["ig", "gradcam"],
};
const tabular: gb.ExplanationProfile = {
  modality: "tabular",
  inputShape: [3],
  classes: ["default risk"],
  featureNames: ["age", "income", "debt"],
  baseline: 0.25,
  methods: ["saliency"],
};
const tokens: gb.ExplanationProfile = {
  modality: "tokens",
  inputShape: [6],
  classes: Array.from({ length: 5 }, (_, i) => `tag${i}`),
  vocabulary: ["<pad>", "the", "cat", "sat", "on"],
  camLayer: "layers.0",
  methods: ["layer-ig", "occlusion"],
};

/** The profile entry exactly as the file holds it (read with the safetensors decoder, not loadModel). */
async function fileProfile(path: string): Promise<unknown> {
  const text = gb.decodeSafetensors(await Deno.readFile(path), path).metadata[gb.PROFILE_KEY];
  return text === undefined ? undefined : JSON.parse(text);
}

Deno.test("every field of an image, tabular and token profile survives save → load, on the model and in the file", async () => {
  const dir = await Deno.makeTempDir();
  const cases: [gb.ExplanationProfile, gb.Module][] = [
    [image, gb.createModel("small-cam-cnn", { channels: 3, classes: 3 })],
    [tabular, gb.createModel("tabular-mlp", { features: 3, hidden: 4 })],
    [tokens, gb.createModel("token-transformer", { vocab: 5, dModel: 8, nhead: 2, layers: 1 })],
  ];
  for (const [profile, model] of cases) {
    const path = `${dir}/${profile.modality}.safetensors`;
    assert.deepEqual(gb.setProfile(model, profile), profile);
    await gb.saveModel(model, path, { epoch: "3" });
    assert.deepEqual(await fileProfile(path), profile, `${profile.modality}: the file's glassbox.profile`);
    const { model: back, metadata, profile: loaded } = await gb.loadModel(path);
    assert.deepEqual(loaded, profile, `${profile.modality}: loadModel's profile`);
    assert.deepEqual(gb.modelProfile(back), profile, `${profile.modality}: attached to the loaded model`);
    assert.equal(metadata.epoch, "3", "the caller's metadata is kept beside the profile");
    // the bytes route is the same: decodeModel of the file gives the same profile
    assert.deepEqual(gb.decodeModel(await Deno.readFile(path), path).profile, profile);
  }
  // options.profile wins over the one the model carries, and is not attached by saving
  const model = gb.createModel("tabular-mlp", { features: 3, hidden: 4 });
  gb.setProfile(model, tabular);
  const other = { ...tabular, classes: ["approved"], featureNames: ["a", "b", "c"] };
  await gb.saveModel(model, `${dir}/override.safetensors`, {}, { profile: other });
  assert.deepEqual((await gb.loadModel(`${dir}/override.safetensors`)).profile, other);
  assert.deepEqual(gb.modelProfile(model), tabular);
  // a clone carries its original's profile
  assert.deepEqual(gb.modelProfile(gb.cloneModel(model)), tabular);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint without a profile loads with profile undefined, and the model carries none", async () => {
  const dir = await Deno.makeTempDir();
  await gb.saveModel(gb.createModel("tabular-mlp", { features: 3 }), `${dir}/plain.safetensors`);
  assert.equal(await fileProfile(`${dir}/plain.safetensors`), undefined, "no glassbox.profile key at all");
  const { model, profile } = await gb.loadModel(`${dir}/plain.safetensors`);
  assert.equal(profile, undefined);
  assert.equal(gb.modelProfile(model), undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a checkpoint saved before profiles existed (commit d921746) loads: same outputs, no profile", async () => {
  const dir = new URL("./fixtures/persist/", import.meta.url).pathname;
  const want = JSON.parse(await Deno.readTextFile(`${dir}/old_tabular_mlp.json`));
  const { model, metadata, profile } = await gb.loadModel(`${dir}/old_tabular_mlp.safetensors`);
  assert.equal(profile, undefined);
  assert.equal(metadata.note, "saved before profiles");
  assert.equal(metadata["glassbox.architecture"], "tabular-mlp");
  const got = await model.forward(gb.tensor(want.rows)).toArray();
  assert.deepEqual(Array.from(got), want.outputs, "the same float32 outputs, bit for bit");
});

Deno.test("a malformed profile is an error naming the field, on load, on set and on save (no file written)", async () => {
  const dir = await Deno.makeTempDir();
  const arch = { "glassbox.architecture": "tabular-mlp", "glassbox.config": JSON.stringify({ features: 3 }) };
  const bad: [string, unknown, RegExp][] = [
    ["classes", { ...tabular, classes: "yes" }, /classes must be a list of strings, got "yes"/],
    ["featureNames", { ...tabular, featureNames: ["age"] }, /featureNames has 1 entries, the input needs 3/],
    ["inputShape", { ...tabular, inputShape: [3, 0] }, /inputShape must be a non-empty list of positive/],
    [
      "modality",
      { ...tabular, modality: "audio" },
      /modality must be one of image, tabular, tokens, got "audio"/,
    ],
    ["baseline", { ...tabular, baseline: "0" }, /baseline must be a finite number, got "0"/],
    ["unknown", { ...tabular, colour: "red" }, /unknown field "colour"/],
  ];
  for (const [what, profile, message] of bad) {
    const path = `${dir}/${what}.safetensors`;
    await gb.saveCheckpoint(gb.createModel("tabular-mlp", { features: 3 }), path, {
      ...arch,
      [gb.PROFILE_KEY]: JSON.stringify(profile),
    });
    await assert.rejects(() => gb.loadModel(path), (e: Error) => {
      assert.match(e.message, message, what);
      assert.ok(e.message.includes(path) && e.message.includes(gb.PROFILE_KEY), e.message);
      return true;
    });
    assert.throws(
      () => gb.setProfile(gb.createModel("tabular-mlp"), profile as gb.ExplanationProfile),
      message,
    );
    await assert.rejects(
      () =>
        gb.saveModel(gb.createModel("tabular-mlp", { features: 3 }), `${dir}/s-${what}.safetensors`, {}, {
          profile: profile as gb.ExplanationProfile,
        }),
      message,
    );
    assert.equal(await gb.fileExists(`${dir}/s-${what}.safetensors`), false, `${what}: nothing written`);
  }
  const notJson = `${dir}/notjson.safetensors`;
  await gb.saveCheckpoint(gb.createModel("tabular-mlp", { features: 3 }), notJson, {
    ...arch,
    [gb.PROFILE_KEY]: "{modality: image",
  });
  await assert.rejects(() => gb.loadModel(notJson), /glassbox\.profile in the metadata is not JSON/);
  // a malformed profile passed in the metadata itself is refused too, not written
  await assert.rejects(
    () =>
      gb.saveModel(gb.createModel("tabular-mlp", { features: 3 }), `${dir}/m.safetensors`, {
        [gb.PROFILE_KEY]: JSON.stringify({ ...tabular, classes: [] }),
      }),
    /classes must name at least one output/,
  );
  assert.equal(await gb.fileExists(`${dir}/m.safetensors`), false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an int8 save keeps the profile: saveQuantizedModel of a model, and of a QuantizedModel", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(3);
  const model = gb.createModel("tabular-mlp", { features: 3, hidden: 4 });
  gb.setProfile(model, tabular);
  await gb.saveQuantizedModel(model, `${dir}/int8.safetensors`);
  assert.equal(
    gb.decodeSafetensors(await Deno.readFile(`${dir}/int8.safetensors`)).tensors.get("0.weight")?.dtype,
    "I8",
    "the weights really are int8",
  );
  assert.deepEqual(await fileProfile(`${dir}/int8.safetensors`), tabular);
  const { model: back, profile } = await gb.loadModel(`${dir}/int8.safetensors`);
  assert.deepEqual(profile, tabular);
  assert.deepEqual(gb.modelProfile(back), tabular);
  // options.profile, through a QuantizedModel (its float source is what is saved)
  const data = {
    x: Float32Array.from({ length: 8 * 3 }, (_, i) => Math.sin(i)),
    y: new Int32Array(8),
    sampleShape: [3],
  };
  const q = await gb.quantizeModel(model, data);
  const other = { ...tabular, classes: ["fraud"] };
  await gb.saveQuantizedModel(q, `${dir}/q.safetensors`, {}, { profile: other });
  assert.deepEqual((await gb.loadModel(`${dir}/q.safetensors`)).profile, other);
  assert.deepEqual(gb.modelProfile((await gb.loadQuantizedModel(`${dir}/q.safetensors`)).source), other);
  // a profile set on the QuantizedModel itself is the one saved
  const third = { ...tabular, classes: ["churn"] };
  gb.setProfile(q, third);
  await gb.saveQuantizedModel(q, `${dir}/q2.safetensors`);
  assert.deepEqual((await gb.loadModel(`${dir}/q2.safetensors`)).profile, third);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the MNIST profile: the normalisation mnistDataset applies, black pixel as baseline, ten digit classes", () => {
  const p = gb.validateProfile(gb.mnistProfile());
  // a black pixel (0) and a white one (1) through mnistDataset, against the profile's mean/std/baseline
  const split = {
    images: Float32Array.from([0, 1, 0, 0]),
    labels: Int32Array.from([0]),
    count: 1,
    rows: 2,
    cols: 2,
  };
  const x = gb.mnistDataset(split).x;
  assert.equal(p.baseline, x[0], "baseline = the normalised black pixel");
  assert.equal(Math.fround((1 - p.mean![0]) / p.std![0]), x[1], "mean/std are the ones mnistDataset uses");
  assert.deepEqual(p.classes, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  assert.deepEqual(p.inputShape, [1, 28, 28]);
  assert.equal(p.modality, "image");
  // layer "4" of the seed CNN is where a CAM looks: the last conv's ReLU
  assert.equal(gb.createModel("seed-cnn").get(p.camLayer!).typeName, "ReLU");
});
