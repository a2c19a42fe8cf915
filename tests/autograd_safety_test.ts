import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

Deno.test("an optimizer step between forward and backward is an error that names the tensor", async () => {
  const model = new gb.Sequential(new gb.Linear(3, 4), new gb.ReLU(), new gb.Linear(4, 2));
  model.get("2").namedParameters()[0][1].name = "fc2.weight";
  const opt = new gb.SGD(model.parameters(), { lr: 0.1 });
  const x = gb.randn([5, 3]);
  // gradients exist from an earlier step, so the step really writes the weights
  await gb.crossEntropy(model.forward(x), gb.tensor([0, 1, 0, 1, 1], undefined, { dtype: "int32" }))
    .backward();
  const loss = gb.crossEntropy(model.forward(x), gb.tensor([0, 1, 0, 1, 1], undefined, { dtype: "int32" }));
  opt.step();
  await assert.rejects(
    () => loss.backward(),
    /backward through linear: fc2\.weight\[2, 4\] float32 was modified in place after the forward pass \(version 1, the forward pass saw version 0\)/,
  );
});

Deno.test("loadStateDict and BatchNorm's running statistics bump versions; ops that do not read their inputs do not care", async () => {
  const lin = new gb.Linear(2, 2);
  const x = gb.randn([3, 2]);
  const y = lin.forward(x).sum();
  lin.loadStateDict({ weight: gb.ones([2, 2]), bias: gb.zeros([2]) });
  await assert.rejects(() => y.backward(), /weight\[2, 2\] float32 was modified in place/);
  // add reads neither input: PyTorch allows this, and so does glassbox
  const w = gb.tensor([1, 2], undefined, { requiresGrad: true });
  const z = w.add(1).sum();
  w._markModified();
  await z.backward();
  assertClose(await w.grad!.toArray(), [1, 1], { atol: 0 });
  const bn = new gb.BatchNorm2d(2);
  const v0 = bn.runningMean.version;
  bn.forward(gb.randn([2, 2, 3, 3]));
  assert.equal(bn.runningMean.version, v0 + 1);
});

Deno.test("a second backward through the same graph fires module backward hooks again, with the same gradients", async () => {
  const relu = new gb.ReLU();
  const seen: gb.Tensor[] = [];
  relu.registerFullBackwardHook((_m, gi) => void seen.push(gb.keep(gi[0]!.mul(1))));
  const x = gb.tensor([-1, 2, 3], undefined, { requiresGrad: true });
  const out = relu.forward(x).mul(gb.tensor([1, 2, 3])).sum();
  const [g1] = gb.grad(out, [x]);
  const [g2] = gb.grad(out, [x]);
  assert.deepEqual(Array.from(await g1.toArray()), [0, 2, 3]);
  assert.deepEqual(Array.from(await g2.toArray()), [0, 2, 3]);
  assert.equal(seen.length, 2, "the hook fired in both passes");
  assert.deepEqual(Array.from(await seen[0].toArray()), [0, 2, 3]);
  assert.deepEqual(Array.from(await seen[1].toArray()), [0, 2, 3]);
});

Deno.test("modules by path, and forward pre-hooks that replace the input", async () => {
  const inner = new gb.Sequential(new gb.Linear(2, 2), new gb.ReLU());
  const model = new gb.Sequential(inner, new gb.Linear(2, 1));
  assert.equal(model.get("0.1"), inner.children()[1]);
  assert.equal(model.get(""), model);
  assert.throws(() => model.get("0.7"), /no module "0\.7": "0" has children "0", "1"/);
  assert.throws(() => model.get("x"), /no module "x": the model has children "0", "1"/);
  const lin = new gb.Linear(2, 1);
  lin.loadStateDict({ weight: gb.tensor([[1, 1]]), bias: gb.tensor([0]) });
  const h = lin.registerForwardPreHook((_m, [x]) => x.mul(10));
  assert.equal(await lin.forward(gb.tensor([[1, 2]])).item(), 30);
  h.remove();
  assert.equal(await lin.forward(gb.tensor([[1, 2]])).item(), 3);
});
