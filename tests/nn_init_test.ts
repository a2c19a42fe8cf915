/** Dropout and the init functions, against their definitions. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

function moments(a: ArrayLike<number>): { mean: number; variance: number; min: number; max: number } {
  let s = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    min = Math.min(min, a[i]);
    max = Math.max(max, a[i]);
  }
  const mean = s / a.length;
  for (let i = 0; i < a.length; i++) s2 += (a[i] - mean) ** 2;
  return { mean, variance: s2 / a.length, min, max };
}

Deno.test("Dropout: drop rate p, survivors scaled by 1/(1-p), identity in eval mode, gradient through the same mask", async () => {
  const p = 0.3, n = 200000;
  const drop = new gb.Dropout(p, new gb.Generator(7));
  const x = gb.ones([n], { requiresGrad: true });
  const y = drop.forward(x);
  const v = await y.toArray();
  const zeros = v.filter((e) => e === 0).length;
  // binomial: the drop fraction is within 5 standard deviations of p
  const sd = Math.sqrt((p * (1 - p)) / n);
  assert.ok(Math.abs(zeros / n - p) < 5 * sd, `drop fraction ${zeros / n}`);
  const kept = v.filter((e) => e !== 0);
  assert.ok(kept.every((e) => Math.abs(e - 1 / (1 - p)) < 1e-6), "survivors are scaled by 1/(1-p)");
  assertClose([moments(v).mean], [1], { atol: 5 * sd / (1 - p), msg: "the expectation is kept" });
  // the gradient is the same mask: d(sum y)/dx = y for x = 1
  const [g] = gb.grad(y.sum(), [x]);
  assertClose(await g.toArray(), v, { atol: 0, msg: "gradient through the mask" });
  drop.eval();
  const z = gb.randn([100]);
  assert.equal(drop.forward(z), z, "eval mode returns the input itself");
  assert.throws(() => new gb.Dropout(1), /Dropout: p must be in \[0, 1\)/);
});

Deno.test("init functions: moments and bounds against their formulas (PyTorch's fan conventions)", async () => {
  gb.manualSeed(3);
  const shape = [256, 64, 3, 3]; // fanIn = 64·9 = 576, fanOut = 256·9 = 2304
  const fanIn = 576, fanOut = 2304, n = 256 * 64 * 9;
  assert.deepEqual(gb.init.fans(shape), [fanIn, fanOut]);
  const check = async (name: string, t: gb.Tensor, variance: number, bound?: number) => {
    const m = moments(await t.toArray());
    // sample mean and variance of n draws: 6 standard errors (kurtosis of a uniform or normal <= 3)
    assertClose([m.mean], [0], { atol: 6 * Math.sqrt(variance / n), msg: `${name} mean` });
    assertClose([m.variance], [variance], { rtol: 6 * Math.sqrt(2 / n), msg: `${name} variance` });
    if (bound !== undefined) assert.ok(m.min >= -bound && m.max <= bound, `${name} within ±${bound}`);
  };
  await check("kaimingNormal", gb.init.kaimingNormal(shape), 2 / fanIn);
  const kb = Math.sqrt(2 / (1 + 5)) * Math.sqrt(3 / fanIn); // a = √5, PyTorch's Conv/Linear default
  await check("kaimingUniform(a=√5)", gb.init.kaimingUniform(shape, Math.sqrt(5)), kb * kb / 3, kb);
  const xb = Math.sqrt(6 / (fanIn + fanOut));
  await check("xavierUniform", gb.init.xavierUniform(shape), xb * xb / 3, xb);
  await check("xavierNormal(gain 2)", gb.init.xavierNormal(shape, 2), 4 * 2 / (fanIn + fanOut));
  await check("uniform(-0.5, 0.5)", gb.init.uniform(shape, -0.5, 0.5), 1 / 12, 0.5);
});
