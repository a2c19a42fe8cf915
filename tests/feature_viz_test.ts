import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

Deno.test("activation maximisation of a linear class score with an L2 penalty reaches its closed-form optimum w·D/(2λ)", async () => {
  const w = [0.5, -1, 0.25, 2, -0.75, 1, 0, -0.5];
  const lin = new gb.Linear(8, 2);
  lin.loadStateDict({ weight: gb.tensor([w.map((v) => -v), w]), bias: gb.zeros([2]) });
  // maximise w·x − λ·mean(x²): the gradient w − 2λx/D vanishes at x = w·D/(2λ)
  const lambda = 4;
  const { image, objective } = await gb.visualizeFeature(lin, {
    objective: { class: 1 },
    shape: [8],
    steps: 400,
    lr: 0.05,
    l2: lambda,
  });
  assertClose(await image.toArray(), w.map((v) => (v * 8) / (2 * lambda)), { atol: 0.02, msg: "optimum" });
  assert.ok(objective[objective.length - 1] > objective[0], "the objective rose");
  assert.deepEqual(lin.hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
});

Deno.test("a conv channel's activation rises under jitter and blur; the image has the input's shape", async () => {
  gb.manualSeed(3);
  const model = new gb.Sequential(
    new gb.Conv2d(1, 4, 3),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(4 * 10 * 10, 2),
  );
  const { image, objective } = await gb.visualizeFeature(model, {
    objective: { layer: model.get("1"), channel: 2 },
    shape: [1, 12, 12],
    steps: 64,
  });
  assert.deepEqual(image.shape, [1, 1, 12, 12]);
  const first = objective.slice(0, 8).reduce((a, b) => a + b, 0),
    last = objective.slice(-8).reduce((a, b) => a + b, 0);
  assert.ok(last > 2 * first + 1e-3, `objective ${first / 8} → ${last / 8}`);
  await assert.rejects(
    () => gb.visualizeFeature(model, { objective: { layer: new gb.ReLU(), channel: 0 }, shape: [1, 12, 12] }),
    /the objective's layer is not part of the model/,
  );
});
