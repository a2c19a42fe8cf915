/**
 * LayerActivation and LayerGradientXActivation against float64 answers computed here: the
 * layer's output from the weights, and A ⊙ ∂F/∂A with ∂F/∂A by central differences of the part
 * of the model above the layer.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose, conv2d, numericGrad } from "./cpu_ref.ts";

/** Linear(4,5) → Tanh → Linear(5,4) → Tanh → Linear(4,3), with its weights read back. */
async function mlp() {
  gb.manualSeed(21);
  const model = new gb.Sequential(
    new gb.Linear(4, 5),
    new gb.Tanh(),
    new gb.Linear(5, 4),
    new gb.Tanh(),
    new gb.Linear(4, 3),
  );
  const p = new Map(
    await Promise.all(
      model.namedParameters().map(async ([n, t]) => [n, Array.from(await t.toArray())] as const),
    ),
  );
  const dense = (x: ArrayLike<number>, w: number[], b: number[], o: number) =>
    Array.from(
      { length: o },
      (_, j) => b[j] + Array.from(x).reduce((s, v, i) => s + v * w[j * x.length + i], 0),
    );
  /** The layer "1" output (tanh of the first dense layer) of one input. */
  const hidden = (x: ArrayLike<number>) => dense(x, p.get("0.weight")!, p.get("0.bias")!, 5).map(Math.tanh);
  /** The logits from the layer "1" output. */
  const head = (h: ArrayLike<number>) =>
    dense(
      dense(h, p.get("2.weight")!, p.get("2.bias")!, 4).map(Math.tanh),
      p.get("4.weight")!,
      p.get("4.bias")!,
      3,
    );
  return { model, hidden, head };
}

Deno.test("LayerActivation: the layer's output (a Tanh in an MLP, a Conv2d) computed from the weights in float64", async () => {
  const { model, hidden } = await mlp();
  const x = gb.randn([3, 4]);
  const xs = Array.from(await x.toArray());
  const act = await new gb.LayerActivation(model, model.get("1")).attribute(x);
  assert.deepEqual(act.shape, [3, 5]);
  const want = [0, 1, 2].flatMap((n) => hidden(xs.slice(4 * n, 4 * n + 4)));
  assertClose(await act.toArray(), want, { rtol: 1e-5, atol: 1e-6, msg: "Tanh output" });
  // the output of "1", not its input (the first dense layer) nor the next layer's
  const pre = await new gb.LayerActivation(model, model.get("0")).attribute(x);
  assertClose(await pre.toArray(), want.map(Math.atanh), { rtol: 1e-4, atol: 1e-5, msg: "Linear output" });

  // a convolution's output, shaped [N, C, H, W], in batches of 2
  const conv = new gb.Conv2d(2, 3, 3, { padding: 1, stride: 2 });
  const cnn = new gb.Sequential(conv, new gb.ReLU(), new gb.Flatten(), new gb.Linear(3 * 3 * 3, 2));
  const xi = gb.randn([3, 2, 5, 5]);
  const a = await new gb.LayerActivation(cnn, conv).attribute(xi, { internalBatchSize: 2 });
  assert.deepEqual(a.shape, [3, 3, 3, 3]);
  const ref = conv2d(
    { data: Float64Array.from(await xi.toArray()), shape: [3, 2, 5, 5] },
    { data: Float64Array.from(await conv.weight.toArray()), shape: [3, 2, 3, 3] },
    { data: Float64Array.from(await conv.bias!.toArray()), shape: [3] },
    2,
    1,
    1,
  );
  assertClose(await a.toArray(), ref.data, { rtol: 1e-5, atol: 1e-5, msg: "Conv2d output" });
});

Deno.test("LayerGradientXActivation: A ⊙ ∂F/∂A with the gradient by central differences of the layers above, for one target and for several", async () => {
  const { model, hidden, head } = await mlp();
  const x = gb.randn([2, 4]);
  const xs = Array.from(await x.toArray());
  const gxa = (n: number, t: number) => {
    const h = hidden(xs.slice(4 * n, 4 * n + 4));
    const g = numericGrad((hv) => head(hv)[t], Float64Array.from(h), 1e-6);
    return h.map((v, i) => v * g[i]);
  };
  const method = new gb.LayerGradientXActivation(model, model.get("1"));
  const one = await method.attribute(x, { target: [2, 0] });
  assert.deepEqual(one.shape, [2, 5]);
  const want = [...gxa(0, 2), ...gxa(1, 0)];
  assertClose(await one.toArray(), want, { rtol: 1e-4, atol: 1e-6, msg: "targets [2, 0]" });
  // the gradient differs by target, so the wrong target's answer is far off
  const other = [...gxa(0, 1), ...gxa(1, 1)];
  assert.ok(Math.max(...want.map((v, i) => Math.abs(v - other[i]))) > 1e-2, "targets give different answers");
  // several targets per example: [N, T, 5]
  const multi = await method.attribute(x, { target: [[2, 1], [0, 1]] });
  assert.deepEqual(multi.shape, [2, 2, 5]);
  assertClose(await multi.toArray(), [...gxa(0, 2), ...gxa(0, 1), ...gxa(1, 0), ...gxa(1, 1)], {
    rtol: 1e-4,
    atol: 1e-6,
    msg: "targets [[2, 1], [0, 1]]",
  });
});
