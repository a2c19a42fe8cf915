import assert from "node:assert/strict";
import { runTabular } from "../examples/tabular_mlp.ts";

Deno.test("tabular example: accuracy well above chance; the 5 informative features rank top 5 by input gradient", async () => {
  const r = await runTabular({ epochs: 30, seed: 0 });
  assert.ok(r.testAccuracy >= 0.85, `test accuracy ${r.testAccuracy}`);
  assert.deepEqual([...r.ranking.slice(0, 5)].sort((a, b) => a - b), r.informative);
  // Saliency, Integrated Gradients, FeaturePermutation and KernelShap each rank them top 5 too
  for (const [name, m] of Object.entries(r.methods)) {
    assert.deepEqual([...m.ranking.slice(0, 5)].sort((a, b) => a - b), r.informative, name);
  }
  assert.deepEqual(Object.keys(r.methods), [
    "Saliency",
    "IntegratedGradients",
    "FeaturePermutation",
    "KernelShap",
  ]);
});
