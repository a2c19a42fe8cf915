import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { tabularMlp } from "../examples/tabular_mlp.ts";

Deno.test("2,000 training steps of the tabular MLP leave live buffers and bytes flat", async () => {
  gb.manualSeed(1);
  const data = gb.makeClassification({ nSamples: 256, nFeatures: 100, nInformative: 5, seed: 1 });
  const y = Float32Array.from(data.y);
  const model = tabularMlp();
  const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
  const xs: gb.Tensor[] = [], ys: gb.Tensor[] = [];
  for (const b of gb.batches(data.x, y, 100, { batchSize: 32, seed: 0 })) {
    xs.push(b.x);
    ys.push(b.y);
  }
  let after100: gb.PoolStats | null = null;
  let firstLoss = 0, lastLoss = 0;
  for (let step = 1; step <= 2000; step++) {
    const i = step % xs.length;
    const loss = await gb.scope(async () => {
      opt.zeroGrad();
      const l = gb.binaryCrossEntropyWithLogits(model.forward(xs[i]), ys[i]);
      await l.backward();
      opt.step();
      return step % 100 === 0 || step === 1 ? await l.item() : NaN;
    });
    if (step === 1) firstLoss = loss;
    if (step % 100 === 0) lastLoss = loss;
    gb.flush();
    if (step === 100) after100 = gb.poolStats();
  }
  const end = gb.poolStats();
  assert.equal(end.liveBuffers, after100!.liveBuffers, "live buffer count is flat");
  assert.equal(end.liveBytes, after100!.liveBytes, "live bytes are flat");
  assert.ok(
    end.freeBytes <= after100!.freeBytes * 1.01 + 1024,
    `the pool does not grow (${after100!.freeBytes} → ${end.freeBytes})`,
  );
  assert.ok(end.hits > 100 * end.misses, `buffers are reused (hits ${end.hits}, misses ${end.misses})`);
  assert.ok(lastLoss < firstLoss, `it trained (${firstLoss} → ${lastLoss})`);
});

Deno.test("dispose, scope and using free storage; views keep shared storage alive", async () => {
  const before = gb.poolStats().liveBuffers;
  const a = gb.tensor([1, 2, 3, 4]);
  const v = a.reshape([2, 2]);
  a.dispose();
  assert.deepEqual(Array.from(await v.toArray()), [1, 2, 3, 4], "a view outlives its source");
  v.dispose();
  assert.equal(gb.poolStats().liveBuffers, before);
  const kept = await gb.scope(async () => {
    const x = gb.tensor([1, 2]);
    const y = x.mul(3);
    gb.keep(gb.tensor([9]));
    return { y, n: await y.sum().item() };
  });
  assert.equal(kept.n, 9);
  assert.deepEqual(Array.from(await kept.y.toArray()), [3, 6]);
  kept.y.dispose();
  assert.equal(gb.poolStats().liveBuffers, before + 1, "only the keep()'d tensor remains");
});
