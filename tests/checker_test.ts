/**
 * The gradient checker itself: a kernel broken on purpose must fail it. (A checker that only
 * ever passes proves nothing about the kernels it passes.)
 */
import * as gb from "../mod.ts";
import { record } from "../src/tensor/graph.ts";
import { assertGradClose, checkOp } from "./check.ts";
import * as ref from "./cpu_ref.ts";

/** mean over 1000 elements, with a backward that is wrong by `factor` (0: returns zeros). */
function brokenMean(factor: number) {
  return (x: gb.Tensor) => {
    const y = gb.noGrad(() => gb.mean(x));
    return record(y, "brokenMean", [x], (g) => [gb.noGrad(() => g.expand(x.shape).mul(factor / x.size))]);
  };
}

async function rejects(f: () => Promise<void>): Promise<string> {
  try {
    await f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("the checker accepted a broken gradient");
}

const meanCase = (factor: number) => ({
  name: `mean with backward x${factor}`,
  shapes: [[1000]],
  gpu: brokenMean(factor),
  cpu: (a: ref.Arr) => ({ data: Float64Array.of(a.data.reduce((p, q) => p + q, 0) / 1000), shape: [] }),
});

Deno.test("the gradient checker rejects a mean backward that returns zeros or is 1% off, and accepts the right one", async () => {
  await checkOp(meanCase(1)); // the correct backward passes
  const zeros = await rejects(() => checkOp(meanCase(0)));
  if (!zeros.includes("gradient of input 0")) throw new Error(zeros);
  await rejects(() => checkOp(meanCase(1.01)));
  // the old rule, |got - want| <= 2e-3 + 2e-3·|want|, would have let the zeros pass
  const want = new Float64Array(1000).fill(1e-3);
  ref.assertClose(new Float64Array(1000), want, { rtol: 2e-3, atol: 2e-3, msg: "old rule" });
  await rejects(() => Promise.resolve(assertGradClose(new Float64Array(1000), want, 2e-3, "new rule")));
});
