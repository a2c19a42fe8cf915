import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("2,000 training steps of the tabular MLP leave live buffers and bytes flat", async () => {
  gb.manualSeed(1);
  const data = gb.makeClassification({ nSamples: 256, nFeatures: 100, nInformative: 5, seed: 1 });
  const y = Float32Array.from(data.y);
  const model = gb.tabularMlp();
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

Deno.test("grad() results belong to the scope they were asked for in", async () => {
  const x = gb.tensor([1, 2, 3], undefined, { requiresGrad: true });
  const before = gb.poolStats().liveBuffers;
  const v = await gb.scope(async () => {
    const [dx] = gb.grad(x.mul(x).sum(), [x]);
    return Array.from(await dx.toArray());
  });
  assert.deepEqual(v, [2, 4, 6]);
  assert.equal(gb.poolStats().liveBuffers, before, "nothing outlives the scope");
  // returned from the scope, it survives it (and is the caller's to dispose)
  const dx = await gb.scope(() => gb.grad(x.mul(x).sum(), [x])[0]);
  assert.deepEqual(Array.from(await dx.toArray()), [2, 4, 6]);
  dx.dispose();
  assert.equal(gb.poolStats().liveBuffers, before);
});

Deno.test("max's and max pooling's winning indices live exactly as long as their output", async () => {
  const x = gb.randn([2, 3, 8, 8], { requiresGrad: true });
  const before = gb.poolStats().liveBuffers;
  // made in a scope and returned: the indices must survive the scope, or backward reads freed memory
  const [pooled, mx] = await gb.scope(() => [gb.maxPool2d(x, 2), gb.max(x, 3)]);
  await gb.scope(async () => {
    gb.randn([2, 3, 4, 4]).mul(5); // reuse freed buffers, as a training loop would
    const [dx] = gb.grad(pooled.sum().add(mx.sum()), [x]);
    const g = await dx.toArray();
    // every 2x2 window has one winner and every row of 8 one maximum: 96 + 48 units of gradient
    assert.equal(Array.from(g).reduce((a, b) => a + b, 0), 2 * 3 * 16 + 2 * 3 * 8);
  });
  pooled.dispose();
  mx.dispose();
  assert.equal(gb.poolStats().liveBuffers, before, "disposing the outputs frees their indices");
  // outside any scope: dispose alone frees them
  const y = gb.maxPool2d(x, 2);
  y.dispose();
  assert.equal(gb.poolStats().liveBuffers, before);
});

Deno.test("a bad shape is refused before any buffer is taken", () => {
  const before = gb.poolStats();
  assert.throws(() => gb.zeros([2, -1]), /full: invalid shape \[2,-1\]/);
  assert.throws(
    () => gb.randn([-1]),
    /randn: invalid shape \[-1\]: dimensions must be non-negative integers/,
  );
  assert.throws(() => gb.rand([1.5]), /rand: invalid shape/);
  assert.throws(() => gb.tensor([1, 2], [2, NaN]), /tensor\(\): invalid shape/);
  const after = gb.poolStats();
  assert.equal(after.liveBuffers, before.liveBuffers);
  assert.equal(after.misses + after.hits, before.misses + before.hits, "no buffer was requested");
});
