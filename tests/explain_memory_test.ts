/** Attribution runs in bounded memory: the pool stays flat across runs and does not grow with the number of inputs. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("Integrated Gradients over 4× more images with the same internal batch needs no more GPU memory, and repeated runs leave the pool flat", async () => {
  gb.manualSeed(0);
  const model = gb.seedCnn();
  const ig = new gb.IntegratedGradients(model);
  const run = (n: number) =>
    gb.scope(async () => {
      const x = gb.randn([n, 1, 28, 28]);
      const a = await ig.attribute(x, { target: 3, nSteps: 16, internalBatchSize: 64 });
      return (await a.sum().item()) !== 0;
    });
  await run(8);
  await gb.sync();
  const small = gb.poolStats();
  await run(32); // 512 model inputs, in 8 internal batches of 64
  await gb.sync();
  const big = gb.poolStats();
  const held = (s: gb.PoolStats) => s.liveBytes + s.freeBytes; // what the device holds for glassbox
  assert.ok(
    held(big) <= held(small) * 1.25 + (1 << 20),
    `GPU memory ${held(small)} → ${held(big)} bytes for 4× the images`,
  );
  for (let i = 0; i < 3; i++) await run(8);
  await gb.sync();
  const after = gb.poolStats();
  assert.equal(after.liveBuffers, small.liveBuffers, "no buffer outlives a run");
  assert.equal(after.liveBytes, small.liveBytes);
  // and the model is as it was: no hooks left, training mode restored
  for (const [, m] of model.namedModules()) {
    assert.deepEqual(m.hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
  }
  assert.equal(model.training, true);
});

Deno.test("Integrated Gradients outside any scope leaves only its attributions (and delta) live", async () => {
  gb.manualSeed(1);
  const model = gb.seedCnn();
  const ig = new gb.IntegratedGradients(model);
  const x = gb.randn([2, 1, 28, 28]);
  const b = gb.randn([1, 1, 28, 28]); // a user tensor baseline: broadcast, never disposed by IG
  // warm-up: caches (staging buffers, weights laid out for kernels) are made on the first call
  (await ig.attribute(x, { target: [1, 2], nSteps: 8 })).dispose();
  await gb.sync();
  const before = gb.poolStats().liveBuffers;
  for (
    const options of [{ target: [1, 2], nSteps: 8 }, { target: [[1, 2], [3, 4]], nSteps: 8, baselines: b }]
  ) {
    const a = await ig.attribute(x, options);
    await gb.sync();
    assert.equal(
      gb.poolStats().liveBuffers,
      before + 1,
      `only the attributions are live (${JSON.stringify(options.target)})`,
    );
    a.dispose();
    const r = await ig.attributeWithDelta(x, options);
    await gb.sync();
    assert.equal(gb.poolStats().liveBuffers, before + 2, "only the attributions and the delta are live");
    r.attributions.dispose();
    r.delta.dispose();
  }
  assert.equal((await b.toArray()).length, 784, "the user's baseline is still readable");
  x.dispose();
  b.dispose();
});

Deno.test("every registered attribution method, on images, tables and tokens, outside any scope, leaves only its maps live", async () => {
  gb.manualSeed(2);
  // small models (quick) on which every method of their modality applies; the CNN has a spatial
  // layer for the CAMs, the token model an embedding for the layer methods
  const cases: [gb.Module, gb.ExplanationProfile, gb.Tensor][] = [
    [
      new gb.Sequential(
        new gb.Conv2d(1, 4, 3),
        new gb.ReLU(),
        new gb.Flatten(),
        new gb.Linear(4 * 10 * 10, 3),
      ),
      { modality: "image", inputShape: [1, 12, 12], classes: ["a", "b", "c"], baseline: 0, camLayer: "1" },
      gb.randn([2, 1, 12, 12]),
    ],
    [
      new gb.Sequential(new gb.Linear(5, 8), new gb.ReLU(), new gb.Linear(8, 3)),
      { modality: "tabular", inputShape: [5], classes: ["a", "b", "c"], baseline: 0, camLayer: "1" },
      gb.randn([2, 5]),
    ],
    [
      new gb.Sequential(new gb.Embedding(7, 4), new gb.Flatten(), new gb.Linear(4 * 6, 3)),
      { modality: "tokens", inputShape: [6], classes: ["a", "b", "c"], baseline: 0, camLayer: "0" },
      gb.tensor([1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1], [2, 6], { dtype: "int32" }),
    ],
  ];
  const options = { steps: 4, samples: 12, window: 4, stride: 4 };
  const leaks: string[] = [];
  let ran = 0;
  for (const [model, profile, x] of cases) {
    for (const m of gb.attributionMethods(profile.modality)) {
      // the first call makes the caches a method keeps (staging buffers, kernels' weight layouts)
      (await m.run(model, x, [0, 2], profile, options)).dispose();
      await gb.sync();
      const before = gb.poolStats().liveBuffers;
      const maps = await m.run(model, x, [0, 2], profile, options);
      await gb.sync();
      const live = gb.poolStats().liveBuffers - before;
      if (live !== 1) {
        leaks.push(`${profile.modality} ${m.name}: ${live} buffers live, expected only the maps`);
      }
      maps.dispose();
      await gb.sync();
      const after = gb.poolStats().liveBuffers - before;
      if (after !== 0) {
        leaks.push(`${profile.modality} ${m.name}: ${after} buffers live after the maps are freed`);
      }
      ran++;
    }
    x.dispose();
  }
  assert.deepEqual(leaks, []);
  assert.ok(ran >= 25, `${ran} methods ran`);
});

Deno.test("attributeWithDelta of DeepLift, Integrated Gradients and Layer Integrated Gradients, outside any scope, leaves only the attributions and the delta live", async () => {
  gb.manualSeed(3);
  const model = new gb.Sequential(
    new gb.Conv2d(1, 4, 3),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(4 * 10 * 10, 3),
  );
  const x = gb.randn([2, 1, 12, 12]);
  const methods: [string, () => Promise<{ attributions: gb.Tensor; delta: gb.Tensor }>][] = [
    ["DeepLift", () => new gb.DeepLift(model).attributeWithDelta(x, { target: [0, 2] })],
    [
      "IntegratedGradients",
      () => new gb.IntegratedGradients(model).attributeWithDelta(x, { target: [0, 2], nSteps: 4 }),
    ],
    [
      "LayerIntegratedGradients",
      () =>
        new gb.LayerIntegratedGradients(model, model.layers[1]).attributeWithDelta(x, {
          target: [0, 2],
          nSteps: 4,
        }),
    ],
  ];
  for (const [name, run] of methods) {
    const warm = await run(); // the caches a method keeps are made on the first call
    warm.attributions.dispose();
    warm.delta.dispose();
    await gb.sync();
    const before = gb.poolStats().liveBuffers;
    const r = await run();
    await gb.sync();
    assert.equal(
      gb.poolStats().liveBuffers - before,
      2,
      `${name}: only the attributions and the delta are live`,
    );
    assert.ok(r.attributions.isLeaf && r.delta.isLeaf, `${name}: both detached from the graph`);
    r.attributions.dispose();
    r.delta.dispose();
    await gb.sync();
    assert.equal(gb.poolStats().liveBuffers, before, `${name}: nothing live once both are freed`);
  }
  model.parameters().forEach((p) => p.dispose());
  x.dispose();
});
