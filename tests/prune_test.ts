/** Magnitude pruning: exact sparsity, the smallest weights go, masks hold through fine-tuning. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

async function weights(model: gb.Module, names: string[]): Promise<Float32Array[]> {
  const p = new Map(model.namedParameters());
  return await Promise.all(names.map(async (n) => (await p.get(n)!.toArray()) as Float32Array));
}

Deno.test("per-layer pruning removes exactly floor(amount·n) of each weight, the smallest in magnitude; biases stay", async () => {
  gb.manualSeed(41);
  const model = gb.createModel("tabular-mlp", { features: 30, hidden: 12 });
  const names = gb.prunableWeights(model);
  assert.deepEqual(names, ["0.weight", "2.weight", "4.weight"]);
  const before = await weights(model, names);
  const biasBefore = await model.namedParameters().find(([n]) => n === "0.bias")![1].toArray();
  const pruning = await gb.magnitudePrune(model, { amount: 0.8 });
  const after = await weights(model, names);
  after.forEach((w, p) => {
    const zeros = w.filter((v) => v === 0).length;
    assert.equal(zeros, Math.floor(0.8 * w.length), `${names[p]}: ${zeros} zeros of ${w.length}`);
    let maxPruned = 0, minKept = Infinity;
    w.forEach((v, i) => {
      if (v === 0) maxPruned = Math.max(maxPruned, Math.abs(before[p][i]));
      else {
        minKept = Math.min(minKept, Math.abs(v));
        assert.equal(v, before[p][i], "kept weights are unchanged");
      }
    });
    assert.ok(maxPruned <= minKept, `${names[p]}: pruned up to ${maxPruned}, kept from ${minKept}`);
  });
  assert.deepEqual(await model.namedParameters().find(([n]) => n === "0.bias")![1].toArray(), biasBefore);
  const { rows, total, table } = await gb.sparsityTable(model);
  assert.equal(rows.find((r) => r.name === "0.weight")!.zeros, Math.floor(0.8 * 360));
  assert.equal(total.params, rows.reduce((s, r) => s + r.params, 0));
  assert.match(table, /0\.weight\s+360\s+288\s+80\.0%/);
  pruning.remove();
});

Deno.test("global pruning uses one threshold across layers and hits the total exactly", async () => {
  gb.manualSeed(42);
  const model = gb.createModel("tabular-mlp", { features: 30, hidden: 12 });
  const names = gb.prunableWeights(model);
  const before = await weights(model, names);
  const pruning = await gb.magnitudePrune(model, { amount: 0.6, scope: "global" });
  const after = await weights(model, names);
  const n = after.reduce((s, w) => s + w.length, 0);
  assert.equal(after.reduce((s, w) => s + w.filter((v) => v === 0).length, 0), Math.floor(0.6 * n));
  let maxPruned = 0, minKept = Infinity;
  after.forEach((w, p) =>
    w.forEach((v, i) => {
      if (v === 0) maxPruned = Math.max(maxPruned, Math.abs(before[p][i]));
      else minKept = Math.min(minKept, Math.abs(v));
    })
  );
  assert.ok(maxPruned <= minKept, `one threshold: pruned up to ${maxPruned}, kept from ${minKept}`);
  await assert.rejects(() => gb.magnitudePrune(model, { amount: 1 }), /amount must be in \[0, 1\)/);
  await assert.rejects(
    () => gb.magnitudePrune(model, { amount: 0.5, parameters: ["9.weight"] }),
    /no parameter "9.weight"/,
  );
  pruning.remove();
});

Deno.test("pruned weights stay exactly zero through 30 Adam steps of fine-tuning (with weight decay), and the loss still falls", async () => {
  gb.manualSeed(43);
  const data = gb.makeClassification({ nSamples: 128, nFeatures: 20, nInformative: 4, nClasses: 2, seed: 3 });
  const model = gb.createModel("tabular-mlp", { features: 20, hidden: 16 });
  const x = gb.tensor(data.x, [128, 20]), y = gb.tensor(Float32Array.from(data.y), [128, 1]);
  const opt = new gb.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.01 });
  // momentum first, so the optimizer would move pruned weights if nothing stopped it
  const step = () =>
    gb.scope(async () => {
      opt.zeroGrad();
      const loss = gb.binaryCrossEntropyWithLogits(model.forward(x), y);
      await loss.backward();
      opt.step();
      return await loss.item();
    });
  for (let i = 0; i < 5; i++) await step();
  const pruning = await gb.magnitudePrune(model, { amount: 0.7, scope: "global" });
  const names = gb.prunableWeights(model);
  const zerosAt = (ws: Float32Array[]) => ws.map((w) => Array.from(w.keys()).filter((i) => w[i] === 0));
  const pruned = zerosAt(await weights(model, names));
  const first = await step();
  pruning.enforce();
  let last = first;
  for (let i = 0; i < 29; i++) {
    last = await step();
    pruning.enforce();
  }
  const after = await weights(model, names);
  pruned.forEach((idx, p) =>
    // === 0: a pruned weight may be −0, which strict equality with 0 would reject
    idx.forEach((i) => assert.ok(after[p][i] === 0, `${names[p]}[${i}] stayed pruned: ${after[p][i]}`))
  );
  assert.ok(last < first, `loss ${first} -> ${last}`);
  pruning.remove();
});
