/** Targets are validated as given: no value is coerced to another class before the check. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("a target that is not an integer class index is an error naming the value, never another class", async () => {
  const model = new gb.Linear(4, 3);
  const x = gb.randn([2, 4]);
  const sal = new gb.Saliency(model);
  const cases: [gb.Target, RegExp][] = [
    [1.7, /target 1\.7 is not an integer class index/], // Int32Array.from would explain class 1
    [NaN, /target NaN is not an integer class index/], // … class 0
    [2 ** 32 + 2, /target 4294967298 is out of range for a model with 3 outputs/], // … class 2
    [-1, /target -1 is out of range for a model with 3 outputs/],
    [3, /target 3 is out of range for a model with 3 outputs/],
    [Infinity, /target Infinity is not an integer class index/],
    [[0, 0.5], /target 0\.5 is not an integer class index/],
    [[[0, 1], [2, NaN]], /target NaN is not an integer class index/],
    [["1", 0] as unknown as number[], /target "1" is not an integer class index/],
  ];
  for (const [target, message] of cases) {
    await assert.rejects(() => sal.attribute(x, { target }), message, `target ${String(target)}`);
  }
  // the same check guards the metrics, which resolve targets on their own
  await assert.rejects(
    () => gb.deletionCurve(model, x, gb.randn([2, 4]), { target: 1.7 }),
    /deletionCurve: target 1\.7 is not an integer/,
  );
  await assert.rejects(
    () => gb.infidelity(model, x, gb.randn([2, 4]), { target: NaN }),
    /infidelity: target NaN/,
  );
  // valid targets still work, and the chosen class is the one explained (the rows of W)
  const w = [[1, 2, 3, 4], [-1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]];
  model.loadStateDict({ weight: gb.tensor(w), bias: gb.tensor([0, 0, 0]) });
  const got = await (await sal.attribute(x, { target: [2, 1], abs: false })).toArray();
  assert.deepEqual(Array.from(got), [...w[2], ...w[1]]);
});

Deno.test("an int32 tensor target is checked like an array: out of range is an error naming the value", async () => {
  const model = new gb.Linear(4, 3);
  const sal = new gb.Saliency(model);
  const x = gb.randn([2, 4]);
  const cases: [number[], number[], RegExp][] = [
    [[0, 3], [2], /target 3 is out of range for a model with 3 outputs/],
    [[-1, 1], [2], /target -1 is out of range for a model with 3 outputs/],
    [[0, 1, 2, 7], [2, 2], /target 7 is out of range for a model with 3 outputs/],
  ];
  for (const [values, shape, message] of cases) {
    const target = gb.tensor(Int32Array.from(values), shape, { dtype: "int32" });
    await assert.rejects(() => sal.attribute(x, { target }), message, `tensor target [${values}]`);
  }
  // an in-range tensor target explains the rows of W it names
  const w = [[1, 2, 3, 4], [-1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]];
  model.loadStateDict({ weight: gb.tensor(w), bias: gb.tensor([0, 0, 0]) });
  const target = gb.tensor(Int32Array.from([2, 1]), [2], { dtype: "int32" });
  const got = await (await sal.attribute(x, { target, abs: false })).toArray();
  assert.deepEqual(Array.from(got), [...w[2], ...w[1]]);
});
