/**
 * Training for compression: the fit loop, the gradual pruning schedule and its masks,
 * distillation from a teacher whose function is known, and quantization-aware training whose
 * twin the int8 model reproduces.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { randArr, rng } from "./cpu_ref.ts";

/** Points labelled by the sign pattern of a planted linear map. */
function planted(n: number, r: () => number, w: number[][]): gb.Dataset {
  const x = Float32Array.from(randArr([n * 4], r).data);
  const y = Int32Array.from({ length: n }, (_, i) => {
    const s = w.map((row) => row.reduce((a, v, k) => a + v * x[i * 4 + k], 0));
    return s.indexOf(Math.max(...s));
  });
  return { x, y, sampleShape: [4] };
}
const W = [[1, -1, 0.5, 0], [-0.5, 1, 1, -1], [0, 0.3, -1, 1]];

Deno.test("fit: learns a planted linear rule to ≥ 97% and reports every step's loss", async () => {
  gb.manualSeed(1);
  const r = rng(2);
  const train = planted(600, r, W), test = planted(300, r, W);
  const model = new gb.Linear(4, 3);
  const seen: number[] = [];
  const { losses } = await gb.fit(model, train, {
    optimizer: new gb.Adam(model.parameters(), { lr: 0.1 }),
    epochs: 16,
    batchSize: 50,
    onStep: (s) => seen.push(s),
  });
  assert.equal(losses.length, 16 * 12);
  assert.deepEqual(seen, Array.from({ length: 192 }, (_, i) => i + 1));
  assert.ok(losses.at(-1)! < losses[0] / 3, `loss ${losses[0]} → ${losses.at(-1)}`);
  const acc = (await gb.evaluate(model, test)).accuracy;
  assert.ok(acc >= 0.97, `accuracy ${acc}`);
  const few = await gb.fit(model, train, {
    optimizer: new gb.SGD(model.parameters(), { lr: 0.01 }),
    steps: 5,
  });
  assert.equal(few.losses.length, 5);
  await assert.rejects(
    () =>
      gb.fit(model, { x: new Float32Array(0), y: new Int32Array(0), sampleShape: [4] }, {
        optimizer: new gb.SGD(model.parameters(), { lr: 0.1 }),
      }),
    /no samples/,
  );
});

Deno.test("iterativePrune: each stage reaches its scheduled sparsity exactly, keeps earlier zeros, and fine-tuning keeps them", async () => {
  assert.deepEqual(gb.sparsitySchedule(0.8, 4).map((v) => +v.toFixed(12)), [0.4625, 0.7, 0.7875, 0.8]);
  assert.deepEqual(gb.sparsitySchedule(0.9, 2, 0.5).map((v) => +v.toFixed(12)), [0.85, 0.9]);
  assert.throws(() => gb.sparsitySchedule(1, 3), /initial/);
  gb.manualSeed(3);
  const r = rng(4);
  const data = planted(256, r, W);
  const model = new gb.Sequential(new gb.Linear(4, 32), new gb.ReLU(), new gb.Linear(32, 3));
  const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
  const zeros = async () =>
    await Promise.all(
      ["0.weight", "2.weight"].map(async (n) =>
        Array.from(await model.namedParameters().find(([m]) => m === n)![1].toArray(), (v) => v === 0)
      ),
    );
  const stages: number[] = [];
  let before: boolean[][] | null = null;
  await gb.iterativePrune(model, {
    sparsity: 0.8,
    stages: 3,
    fineTune: async (p, stage, amount) => {
      stages.push(amount);
      const z = await zeros();
      if (before) {
        z.forEach((layer, l) => layer.forEach((v, i) => assert.ok(v || !before![l][i], `stage ${stage}`)));
      }
      await gb.fit(model, data, { optimizer: opt, epochs: 2, afterStep: () => p.enforce() });
      const after = await zeros();
      after.forEach((layer, l) => {
        assert.deepEqual(layer, z[l], `fine-tuning moved a pruned weight (stage ${stage}, layer ${l})`);
        assert.equal(layer.filter(Boolean).length, Math.floor(amount * layer.length));
      });
      before = after;
    },
  });
  assert.deepEqual(stages, gb.sparsitySchedule(0.8, 3));
  const { rows } = await gb.sparsityTable(model);
  assert.equal(rows.find((x) => x.name === "0.weight")!.zeros, Math.floor(0.8 * 128));
  assert.equal(rows.find((x) => x.name === "2.weight")!.zeros, Math.floor(0.8 * 96));
});

Deno.test("distill: with labels that carry nothing (all 0), a student learns the teacher's decisions from its soft outputs alone", async () => {
  gb.manualSeed(5);
  const r = rng(6);
  const teacher = new gb.Linear(4, 3);
  teacher.loadStateDict(new Map([["weight", gb.tensor(W.flat().map((v) => 3 * v), [3, 4])]]), false);
  const train = planted(800, r, W), test = planted(400, r, W);
  train.y.fill(0);
  const student = new gb.Linear(4, 3);
  await gb.distill(student, teacher, train, {
    optimizer: new gb.Adam(student.parameters(), { lr: 0.05 }),
    epochs: 6,
    temperature: 2,
    alpha: 1,
  });
  const agree = (await gb.evaluate(student, test)).accuracy;
  assert.ok(agree >= 0.95, `student agrees with the teacher on ${agree}`);
  // the same student from the labels alone learns only "always 0"
  const alone = new gb.Linear(4, 3);
  await gb.fit(alone, train, { optimizer: new gb.Adam(alone.parameters(), { lr: 0.05 }), epochs: 6 });
  assert.ok((await gb.evaluate(alone, test)).accuracy < 0.5);
});

Deno.test("quantization-aware training: the trained twin's int8 model computes what the twin computes, and the source model is untouched", async () => {
  gb.manualSeed(7);
  const r = rng(8);
  const data = planted(400, r, W);
  const source = new gb.Sequential(new gb.Linear(4, 16), new gb.ReLU(), new gb.Linear(16, 3));
  const before = await source.get("0").namedParameters()[0][1].toArray();
  const scales = gb.inputScales(await gb.calibrate(source, data));
  const { model, float } = gb.fakeQuantModel(source, scales);
  assert.equal(model.get("0").typeName, "FakeQuantized(Linear)");
  assert.deepEqual(model.namedParameters().map(([n]) => n), source.namedParameters().map(([n]) => n));
  const { losses } = await gb.fit(model, data, {
    optimizer: new gb.Adam(model.parameters(), { lr: 0.02 }),
    epochs: 4,
  });
  assert.ok(losses.at(-1)! < losses[0] / 2);
  assert.deepEqual(await source.get("0").namedParameters()[0][1].toArray(), before);
  const q = await gb.quantizeModel(float, data, { inputScales: scales });
  const x = gb.tensor(data.x.subarray(0, 400), [100, 4]);
  const twin = await gb.noGrad(() => model.eval().forward(x)).toArray(), int8 = await q.forward(x).toArray();
  assert.ok(gb.sqnr(int8, twin) > 80, `int8 against its QAT twin: ${gb.sqnr(int8, twin)} dB`);
  assert.throws(() => gb.fakeQuantModel(source, new Map([["1", 0.1]])), /layer "1" is a ReLU/);
  q.dispose();
});
