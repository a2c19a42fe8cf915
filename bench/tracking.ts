/**
 * The cost of gradient tracking: the seed CNN's training step at batch 64 with and without
 * `trackGradients(model)` recording every step (parameters, activations and output gradients;
 * statistics read back every 100 steps, as `deno task train` does). Plain and tracked steps
 * alternate in blocks so that machine noise falls on both.
 */
import * as gb from "../mod.ts";
import { seedCnn } from "../examples/train_mnist.ts";

export async function benchTracking(
  blocks = 4,
  stepsPerBlock = 25,
): Promise<{ plain: number; tracked: number; overhead: number }> {
  gb.manualSeed(0);
  const model = seedCnn();
  const opt = new gb.Adam(model.parameters(), { lr: 1e-3 });
  const xs = new Float32Array(64 * 784).map((_, i) => Math.sin(i) * 0.5);
  const ys = Int32Array.from({ length: 64 }, (_, i) => i % 10);
  const step = () =>
    gb.scope(async () => {
      const x = gb.tensor(xs, [64, 1, 28, 28]);
      const y = gb.tensor(ys, [64], { dtype: "int32" });
      opt.zeroGrad();
      const l = gb.crossEntropy(model.forward(x), y);
      await l.backward();
      opt.step();
      return await l.item();
    });
  const plain: number[] = [], tracked: number[] = [];
  for (let i = 0; i < 3; i++) await step(); // compile everything
  let tracker: gb.GradientTracker | null = gb.trackGradients(model);
  for (let i = 0; i < 3; i++) await step();
  await tracker.flush();
  tracker.remove();
  for (let b = 0; b < blocks; b++) {
    for (const mode of ["plain", "tracked"] as const) {
      tracker = mode === "tracked" ? gb.trackGradients(model) : null;
      const t0 = performance.now();
      for (let s = 0; s < stepsPerBlock; s++) {
        await step();
        if (tracker && (s + 1) % 100 === 0) await tracker.flush();
      }
      if (tracker) {
        await tracker.flush(); // the amortised readback, counted
        tracker.remove();
      }
      (mode === "plain" ? plain : tracked).push((performance.now() - t0) / stepsPerBlock);
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const p = med(plain), t = med(tracked);
  return { plain: p, tracked: t, overhead: t / p - 1 };
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  const r = await benchTracking();
  console.log(
    `seed CNN step, batch 64: plain ${r.plain.toFixed(1)} ms, tracked every step ${
      r.tracked.toFixed(1)
    } ms: overhead ${(100 * r.overhead).toFixed(1)}%`,
  );
}
