/**
 * The cost of gradient tracking on the seed CNN's training step (batch 64): blocks of steps
 * with a tracker recording every step (and its readback at the end of the block, so the
 * readback is amortised over 10 steps rather than the 100 of `deno task train`: pessimistic)
 * alternate with blocks without one. The overhead is the median over adjacent block pairs of
 * their time ratio, so that this machine's slow drifts cancel.
 */
import * as gb from "../mod.ts";
import { seedCnnStep } from "./harness.ts";

const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

export async function benchTracking(
  pairs = 12,
  stepsPerBlock = 10,
  options: gb.TrackOptions = {},
): Promise<{ plain: number; tracked: number; overhead: number }> {
  const { model, step } = seedCnnStep();
  const block = async (track: boolean) => {
    const tracker = track ? gb.trackGradients(model, options) : null;
    const t0 = performance.now();
    for (let s = 0; s < stepsPerBlock; s++) await step();
    if (tracker) {
      await tracker.flush();
      tracker.remove();
    }
    return (performance.now() - t0) / stepsPerBlock;
  };
  await block(false);
  await block(true); // compile everything
  const plain: number[] = [], tracked: number[] = [], ratios: number[] = [];
  for (let p = 0; p < pairs; p++) {
    const order = p % 2 === 0 ? [false, true] : [true, false];
    const t: Record<string, number> = {};
    for (const track of order) t[String(track)] = await block(track);
    plain.push(t["false"]);
    tracked.push(t["true"]);
    ratios.push(t["true"] / t["false"]);
  }
  return { plain: med(plain), tracked: med(tracked), overhead: med(ratios) - 1 };
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  const r = await benchTracking();
  console.log(
    `seed CNN step, batch 64: untracked ${r.plain.toFixed(1)} ms, tracked every step ${
      r.tracked.toFixed(1)
    } ms: overhead ${(100 * r.overhead).toFixed(1)}%`,
  );
}
