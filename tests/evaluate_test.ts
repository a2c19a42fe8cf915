import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("evaluate: accuracy, per-class accuracy and confusion matrix from a planted classifier", async () => {
  // a linear model that predicts class = argmax of the input exactly
  const m = new gb.Linear(3, 3);
  m.loadStateDict({ weight: gb.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), bias: gb.tensor([0, 0, 0]) });
  const x = new Float32Array([5, 0, 0, 0, 5, 0, 0, 0, 5, 5, 0, 0, 0, 5, 0]);
  const y = new Int32Array([0, 1, 2, 1, 1]); // sample 3 is predicted 0 but labelled 1
  const r = await gb.evaluate(m, { x, y, sampleShape: [3] }, { batchSize: 2 });
  assert.equal(r.accuracy, 4 / 5);
  assert.deepEqual(r.confusion, [[1, 0, 0], [1, 2, 0], [0, 0, 1]]);
  assert.deepEqual(r.perClassAccuracy, [1, 2 / 3, 1]);
  const p = await gb.predict(m, gb.tensor(x.subarray(0, 3), [1, 3])).toArray();
  const e = Math.exp(5);
  assert.ok(Math.abs(p[0] - e / (e + 2)) < 1e-6 && Math.abs(p[0] + p[1] + p[2] - 1) < 1e-6);
});
