/** Filter pruning that really shrinks: the smaller model computes what the original does with those filters zeroed. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

Deno.test("removing half the filters of the seed CNN's second conv: fewer parameters, the same function as zeroing them, a smaller checkpoint that reloads", async () => {
  gb.manualSeed(51);
  const model = gb.createModel("seed-cnn") as gb.Sequential;
  const r = await gb.pruneFilters(model, "3", { amount: 0.5 });
  assert.equal(r.kept.length, 32);
  assert.equal(r.removed.length, 32);
  const conv = r.model.layers[3] as gb.Conv2d, dense = r.model.layers[7] as gb.Linear;
  assert.deepEqual([conv.weight.shape, dense.weight.shape], [[32, 32, 3, 3], [128, 800]]);
  // conv 3: 64·32·9 + 64 → 32·32·9 + 32; dense 7: 1600·128 → 800·128
  assert.equal(r.params.before - r.params.after, 32 * 32 * 9 + 32 + 800 * 128);
  // the removed filters had the smallest L1 norms
  const w = await (model.layers[3] as gb.Conv2d).weight.toArray();
  const l1 = (o: number) =>
    Array.from(w.subarray(o * 288, (o + 1) * 288)).reduce((s, v) => s + Math.abs(v), 0);
  assert.ok(Math.max(...r.removed.map(l1)) <= Math.min(...r.kept.map(l1)));
  // the independent truth: the original with those filters (and biases) zeroed is the same function
  const zeroed = gb.createModel("seed-cnn") as gb.Sequential;
  zeroed.loadStateDict(model.stateDict());
  const mask = Float32Array.from({ length: 64 }, (_, o) => (r.kept.includes(o) ? 1 : 0));
  const c3 = zeroed.layers[3] as gb.Conv2d;
  gb.noGrad(() =>
    zeroed.loadStateDict({
      "3.weight": gb.mul(c3.weight, gb.tensor(mask, [64, 1, 1, 1])),
      "3.bias": gb.mul(c3.bias!, gb.tensor(mask, [64])),
    }, false)
  );
  const x = gb.randn([4, 1, 28, 28]);
  const want = await gb.noGrad(() => zeroed.forward(x)).toArray();
  const got = await gb.noGrad(() => r.model.forward(x)).toArray();
  assertClose(got, want, { rtol: 1e-4, atol: 1e-5, msg: "pruned model = original with the filters zeroed" });
  // saves and reloads from the file alone, smaller
  const dir = await Deno.makeTempDir();
  await gb.saveModel(model, `${dir}/full.safetensors`);
  await gb.saveModel(r.model, `${dir}/pruned.safetensors`);
  const [full, pruned] = await Promise.all(
    [`${dir}/full.safetensors`, `${dir}/pruned.safetensors`].map(async (p) => (await Deno.stat(p)).size),
  );
  assert.ok(pruned < 0.55 * full, `checkpoint ${pruned} B against ${full} B`);
  const { model: back } = await gb.loadModel(`${dir}/pruned.safetensors`);
  assertClose(await gb.noGrad(() => back.forward(x)).toArray(), got, { atol: 0, msg: "reloaded" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("filter pruning follows BatchNorm and a following conv, and refuses what it cannot shrink", async () => {
  gb.manualSeed(52);
  const model = gb.sequentialModel([
    { type: "Conv2d", in: 2, out: 6, kernel: 3, padding: 1, bias: true },
    { type: "BatchNorm2d", features: 6, eps: 1e-5, momentum: 0.1 },
    { type: "ReLU" },
    { type: "Conv2d", in: 6, out: 4, kernel: 3, bias: false },
    { type: "AdaptiveAvgPool2d" },
    { type: "Flatten", start: 1, end: -1 },
    { type: "Linear", in: 4, out: 3, bias: true },
  ]);
  model.eval();
  const r = await gb.pruneFilters(model, "0", { amount: 0.5, norm: "l2" });
  r.model.eval();
  assert.deepEqual((r.model.layers[3] as gb.Conv2d).weight.shape, [4, 3, 3, 3]);
  assert.deepEqual((r.model.layers[1] as gb.BatchNorm2d).weight.shape, [3]);
  // zeroing the removed filters in the original: conv output 0 → BatchNorm (eval: running mean 0, var 1, bias 0) → 0
  const zeroed = gb.sequentialModel(gb.describeSequential(model));
  zeroed.loadStateDict(model.stateDict());
  zeroed.eval();
  const keep = Float32Array.from({ length: 6 }, (_, o) => (r.kept.includes(o) ? 1 : 0));
  const c0 = zeroed.layers[0] as gb.Conv2d;
  gb.noGrad(() =>
    zeroed.loadStateDict({
      "0.weight": gb.mul(c0.weight, gb.tensor(keep, [6, 1, 1, 1])),
      "0.bias": gb.mul(c0.bias!, gb.tensor(keep, [6])),
    }, false)
  );
  const x = gb.randn([2, 2, 6, 6]);
  assertClose(
    await gb.noGrad(() => r.model.forward(x)).toArray(),
    await gb.noGrad(() => zeroed.forward(x)).toArray(),
    {
      rtol: 1e-4,
      atol: 1e-5,
      msg: "through BatchNorm and a conv",
    },
  );
  await assert.rejects(
    () => gb.pruneFilters(model, "2", { amount: 0.5 }),
    /layer "2" is a ReLU, not a Conv2d/,
  );
  await assert.rejects(() => gb.pruneFilters(model, "0", { amount: 1 }), /amount must be in \[0, 1\)/);
});
