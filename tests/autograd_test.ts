import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

Deno.test("a tensor used twice accumulates its gradient (x*x + x → 2x + 1)", async () => {
  const x = gb.tensor([1, -2, 3], undefined, { requiresGrad: true });
  await gb.add(gb.mul(x, x), x).sum().backward();
  assertClose(await x.grad!.toArray(), [3, -3, 7]);
  // a second backward accumulates into .grad
  await gb.mul(x, 2).sum().backward();
  assertClose(await x.grad!.toArray(), [5, -1, 9]);
});

Deno.test("noGrad records nothing; grad() returns input gradients without touching .grad", async () => {
  const w = gb.tensor([1, 2], undefined, { requiresGrad: true });
  const y = gb.noGrad(() => gb.mul(w, 3));
  assert.equal(y.requiresGrad, false);
  const x = gb.tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
  const [dx] = gb.grad(gb.matmul(x, gb.reshape(w, [2, 1])).sum(), [x]);
  assertClose(await dx.toArray(), [1, 2, 1, 2]);
  assert.equal(w.grad, null);
  assert.equal(x.grad, null);
});

Deno.test("tensor hooks see the gradient and can replace it", async () => {
  const x = gb.tensor([1, 2, 3], undefined, { requiresGrad: true });
  const h = gb.mul(x, 2);
  let seen: gb.Tensor | null = null;
  const handle = h.registerHook((g) => {
    seen = gb.keep(gb.mul(g, 1));
    return gb.mul(g, 10);
  });
  await gb.mul(h, h).sum().backward(); // d/dh = 2h, replaced by 20h, then *2
  assertClose(await seen!.toArray(), [4, 8, 12]);
  assertClose(await x.grad!.toArray(), [80, 160, 240]);
  handle.remove();
  x.grad!.dispose();
  x.grad = null;
  const h2 = gb.mul(x, 2);
  await gb.mul(h2, h2).sum().backward();
  assertClose(await x.grad!.toArray(), [8, 16, 24]);
});

function mlp() {
  gb.manualSeed(3);
  return new gb.Sequential(new gb.Linear(4, 5), new gb.ReLU(), new gb.Linear(5, 3));
}

Deno.test("forward hooks see each layer's output; backward hooks see the gradient arriving at a layer", async () => {
  const model = mlp();
  const x = gb.randn([2, 4]);
  const outs = new Map<string, gb.Tensor>();
  const gradOut = new Map<string, gb.Tensor>();
  for (const [name, m] of model.namedModules()) {
    if (!name) continue;
    m.registerForwardHook((_m, _in, out) => void outs.set(name, gb.keep(out)));
    m.registerFullBackwardHook((_m, _gi, go) => void gradOut.set(name, gb.keep(gb.mul(go[0], 1))));
  }
  const y = model.forward(x);
  // layer "0" output is x·W0ᵀ + b0; layer "2" output is the model output
  const expected0 = gb.linear(x, (model.layers[0] as gb.Linear).weight, (model.layers[0] as gb.Linear).bias);
  assertClose(await outs.get("0")!.toArray(), await expected0.toArray());
  assertClose(await outs.get("2")!.toArray(), await y.toArray());
  assertClose(
    await outs.get("1")!.toArray(),
    Array.from(await expected0.toArray()).map((v) => Math.max(v, 0)),
  );
  const w = gb.randn([2, 3]);
  await gb.mul(y, w).sum().backward();
  // the gradient arriving at the last layer is w; at the ReLU it is w·W2
  assertClose(await gradOut.get("2")!.toArray(), await w.toArray());
  const w2 = (model.layers[2] as gb.Linear).weight;
  assertClose(await gradOut.get("1")!.toArray(), await gb.matmul(w, w2).toArray(), { atol: 1e-5 });
});

Deno.test("a backward hook that replaces the input gradient changes what reaches earlier layers", async () => {
  const model = mlp();
  const x = gb.randn([2, 4]);
  model.layers[1].registerFullBackwardHook((_m, gi) => [gb.mul(gi[0]!, 0)]);
  await model.forward(x).sum().backward();
  const g0 = await (model.layers[0] as gb.Linear).weight.grad!.toArray();
  assert.ok(g0.every((v) => v === 0), "first layer gets zero gradient");
  const g2 = await (model.layers[2] as gb.Linear).weight.grad!.toArray();
  assert.ok(g2.some((v) => v !== 0), "last layer is unaffected");
});

Deno.test("a module called twice fires its hooks twice, with the right tensors", async () => {
  gb.manualSeed(5);
  const shared = new gb.Linear(3, 3);
  const x = gb.randn([2, 3], { requiresGrad: true });
  const seenIn: Float32Array[] = [];
  const seenOut: Float32Array[] = [];
  const gradOuts: gb.Tensor[] = [];
  const pending: Promise<unknown>[] = [];
  shared.registerForwardHook((_m, inputs, out) => {
    // stored by call, not by when each readback settles (concurrent readbacks may settle in any order)
    const call = seenIn.length;
    seenIn.push(new Float32Array());
    pending.push(inputs[0].toArray().then((a) => (seenIn[call] = a as Float32Array)));
    pending.push(out.toArray().then((a) => (seenOut[call] = a as Float32Array)));
  });
  shared.registerFullBackwardHook((_m, _gi, go) => void gradOuts.push(gb.keep(gb.mul(go[0], 1))));
  const h = shared.forward(x);
  const r = gb.tanh(h);
  const y = shared.forward(r);
  await Promise.all(pending);
  assert.equal(seenIn.length, 2);
  assertClose(seenIn[0], await x.toArray());
  assertClose(seenIn[1], await r.toArray());
  assertClose(seenOut[1], await y.toArray());
  const w = gb.randn([2, 3]);
  await gb.mul(y, w).sum().backward();
  assert.equal(gradOuts.length, 2);
  // first fired for the second call (its output gradient is w), then for the first call
  assertClose(await gradOuts[0].toArray(), await w.toArray());
  const gH = gb.mul(gb.matmul(w, shared.weight), gb.sub(1, gb.mul(r, r)));
  assertClose(await gradOuts[1].toArray(), await gH.toArray(), { atol: 1e-5 });
});
