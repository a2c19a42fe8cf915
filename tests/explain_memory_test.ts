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
