/**
 * `trainClassifier` (src/apps/train.ts) on a model that is not MNIST's: the zoo's small CAM CNN
 * on 3×8×8 RGB shapes with four named classes. The checkpoint it hands back reloads, with its
 * profile, to the test accuracy metrics.json states (recomputed here by a plain argmax loop);
 * the history has one loss per step; the tracker's records arrive; bad labels are refused.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("trainClassifier on a 3×8×8 RGB CNN with four named classes: per-epoch files, a checkpoint that reproduces metrics.json's accuracy, the tracker's records", async () => {
  const train = gb.makeRgbPatternImages({
    nSamples: 600,
    size: 8,
    patternSize: 3,
    emptyClass: false,
    seed: 1,
  });
  const test = gb.makeRgbPatternImages({
    nSamples: 150,
    size: 8,
    patternSize: 3,
    emptyClass: false,
    seed: 2,
    mean: train.mean,
    std: train.std,
  });
  const profile = gb.rgbPatternProfile(train, { camLayer: "4" });
  gb.manualSeed(3);
  const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
  const shape = [3, 8, 8];
  const epochs: gb.EpochResult[] = [];
  let records = 0, steps = 0;
  const r = await gb.trainClassifier(
    model,
    profile,
    {
      train: { x: train.x, y: train.y, sampleShape: shape },
      test: { x: test.x, y: test.y, sampleShape: shape },
    },
    { epochs: 2, batchSize: 64, lr: 5e-3, testExamples: 120, trackEvery: 1 },
    {
      onStep: (p) => (steps = p.globalStep),
      onEpoch: (e) => void epochs.push(e),
      onTrack: (rs) => void (records += rs.length),
    },
  );
  // 600 images in batches of 64: 10 steps an epoch
  assert.equal(r.history.steps.length, 20);
  assert.equal(steps, 20);
  assert.equal(records, 20, "one tracker record per step");
  assert.deepEqual(epochs.map((e) => e.epoch), [1, 2]);
  assert.deepEqual(epochs[1].files.map((f) => f.name), [
    "checkpoint.safetensors",
    "history.json",
    "metrics.json",
  ]);
  const metrics = JSON.parse(epochs[1].files[2].data as string);
  assert.equal(metrics.testImages, 120);
  assert.equal(metrics.stopped, false);
  assert.equal(JSON.parse(epochs[0].files[2].data as string).stopped, true);
  assert.equal(metrics.confusion.length, 4);
  assert.equal(metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0), 120);
  // the checkpoint: the profile travels, and the reloaded model scores what metrics.json says
  const loaded = gb.decodeModel(epochs[1].files[0].data as Uint8Array);
  assert.deepEqual(loaded.profile, profile);
  assert.equal(loaded.metadata.epoch, "2");
  const logits = await gb.scope(async () =>
    await gb.noGrad(() => loaded.model.forward(gb.tensor(test.x.subarray(0, 120 * 192), [120, ...shape])))
      .toArray()
  );
  let right = 0;
  for (let n = 0; n < 120; n++) {
    const row = Array.from(logits.subarray(4 * n, 4 * n + 4));
    if (row.indexOf(Math.max(...row)) === test.y[n]) right++;
  }
  assert.equal(right / 120, metrics.testAccuracy);
  assert.ok(metrics.testAccuracy > 0.4, `learned something: ${metrics.testAccuracy}`);
  assert.ok(r.history.steps[19] < r.history.steps[0], "the loss went down");
});

Deno.test("trainClassifier refuses labels outside the profile's classes and data of another shape, naming them", async () => {
  const model = gb.sequentialModel([{ type: "Linear", in: 2, out: 2, bias: true }]);
  const profile = { modality: "tabular" as const, inputShape: [2], classes: ["no", "yes"] };
  const data = { x: new Float32Array(8), y: Int32Array.from([0, 1, 0, 1]), sampleShape: [2] };
  await assert.rejects(
    () =>
      gb.trainClassifier(model, profile, {
        train: { ...data, y: Int32Array.from([0, 1, 2, 1]) },
        test: data,
      }),
    /training label 2 is 2, the profile names 2 classes/,
  );
  await assert.rejects(
    () => gb.trainClassifier(model, profile, { train: data, test: { ...data, sampleShape: [1, 2] } }),
    /the test examples are \[1, 2\], the profile's input is \[2\]/,
  );
});
