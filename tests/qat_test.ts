/** Fake quantization (QAT) and the distillation loss against exact references. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import type { Arr } from "./cpu_ref.ts";
import { rng } from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

Deno.test("fakeQuantize: the forward pass is the int8 grid bit for bit; the straight-through gradient is 1 inside the range and 0 where clamped", async () => {
  const s = 0.05, r = rng(61);
  const xs = Float32Array.from([
    ...Array.from({ length: 61 }, () => (r() * 2 - 1) * 8),
    0.025,
    -0.075,
    6.35,
    6.36,
    -7,
    100,
  ]);
  const x = gb.tensor(xs, [xs.length], { requiresGrad: true });
  const y = gb.fakeQuantize(x, s);
  const q = gb.quantizeValues(xs, s);
  assert.deepEqual(Array.from(await y.toArray()), Array.from(q, (v) => Math.fround(v * Math.fround(s))));
  const w = gb.tensor(Float32Array.from({ length: xs.length }, (_, i) => i + 1));
  const [g] = gb.grad(gb.sum(gb.mul(y, w)), [x]);
  const inv = Math.fround(1 / s);
  const want = Array.from(xs, (v, i) => (Math.abs(Math.fround(v * inv)) <= 127.5 ? i + 1 : 0));
  assert.deepEqual(Array.from(await g.toArray()), want);
  assert.ok(want.includes(0), "some values were clamped");
  assert.throws(() => gb.fakeQuantize(x, 0), /scale must be positive/);
});

Deno.test("distillationLoss matches a float64 reference (T² · KL + hard cross-entropy) and its gradient, finite differences; the teacher gets none", async () => {
  const targets = [2, 0, 1, 1];
  const T = 3, alpha = 0.7;
  const ref = (s: Arr, t: Arr): Arr => {
    const [N, C] = s.shape;
    let kl = 0, ce = 0;
    for (let n = 0; n < N; n++) {
      const row = (a: Arr, scale: number) => Array.from({ length: C }, (_, c) => a.data[n * C + c] / scale);
      const lsm = (v: number[]) => {
        const m = Math.max(...v), z = Math.log(v.reduce((acc, u) => acc + Math.exp(u - m), 0)) + m;
        return v.map((u) => u - z);
      };
      const lt = lsm(row(t, T)), ls = lsm(row(s, T)), l1 = lsm(row(s, 1));
      for (let c = 0; c < C; c++) kl += Math.exp(lt[c]) * (lt[c] - ls[c]);
      ce -= l1[targets[n]];
    }
    return { data: Float64Array.of(alpha * T * T * kl / N + (1 - alpha) * ce / N), shape: [] };
  };
  await checkOp({
    name: "distillation loss",
    shapes: [[4, 5], [4, 5]],
    gpu: (s, t) =>
      gb.distillationLoss(s, t, gb.tensor(targets, [4], { dtype: "int32" }), { temperature: T, alpha }),
    cpu: ref,
    range: [-3, 3],
    noGrad: [1],
  });
  const s = gb.randn([4, 5], { requiresGrad: true }), t = gb.randn([4, 5], { requiresGrad: true });
  const l = gb.distillationLoss(s, t, gb.tensor(targets, [4], { dtype: "int32" }));
  const [, gt] = gb.grad(l, [s, t]);
  assert.ok((await gt.toArray()).every((v) => v === 0), "no gradient reaches the teacher");
  assert.throws(
    () => gb.distillationLoss(s, gb.randn([4, 6]), gb.tensor(targets, [4], { dtype: "int32" })),
    /must both be \[N, C\]/,
  );
});
