/**
 * Whole-model int8: calibration against ranges planted in the data, the int8 model against an
 * integer CPU reference of the same arithmetic, SQNR against its formula, the float twin, and
 * the layers int8 cannot do.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { arr, assertClose, conv2d, pool2d, randArr, rng } from "./cpu_ref.ts";

function setWeights(model: gb.Module, r: () => number): void {
  const state = new Map(
    model.namedParameters().map((
      [n, p],
    ) => [n, gb.tensor(Float32Array.from(randArr([...p.shape], r, -0.5, 0.5).data), [...p.shape])]),
  );
  model.loadStateDict(state, false);
}

function dataset(n: number, shape: number[], r: () => number, lo = -1, hi = 1): gb.Dataset {
  const per = shape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from(randArr([n * per], r, lo, hi).data),
    y: new Int32Array(n),
    sampleShape: shape,
  };
}

Deno.test("calibrate: min-max finds a planted outlier, the percentile skips it, and the next layer's range is its input's", async () => {
  const r = rng(3);
  const model = new gb.Sequential(new gb.Linear(3, 4), new gb.ReLU(), new gb.Linear(4, 2));
  setWeights(model, r);
  const data = dataset(40, [3], r, -2, 2);
  data.x[17] = 50; // one outlier among 120 values
  const mm = await gb.calibrate(model, data, { method: "minmax", batchSize: 16 });
  assert.equal(mm.get("0")!.max, 50);
  assert.equal(mm.get("0")!.scale, Math.fround(50 / 127));
  assert.equal(mm.get("0")!.values, 120);
  const pc = await gb.calibrate(model, data, { method: "percentile", percentile: 95 });
  const sorted = Array.from(data.x, Math.abs).sort((a, b) => a - b);
  assert.equal(pc.get("0")!.range, sorted[Math.ceil(0.95 * 120) - 1]);
  assert.ok(pc.get("0")!.range < 2);
  // layer "2" sees relu(x·W1ᵀ + b1): its largest value, in float64
  const p = new Map(
    await Promise.all(model.namedParameters().map(async ([n, t]) => [n, await t.toArray()] as const)),
  );
  let want = 0;
  for (let s = 0; s < 40; s++) {
    for (let o = 0; o < 4; o++) {
      let v = p.get("0.bias")![o];
      for (let k = 0; k < 3; k++) v += data.x[s * 3 + k] * p.get("0.weight")![o * 3 + k];
      want = Math.max(want, v);
    }
  }
  assertClose([mm.get("2")!.max], [want], { rtol: 1e-5 });
  await assert.rejects(
    () => gb.calibrate(model, data, { method: "kl" as "minmax" }),
    /method must be "minmax" or "percentile"/,
  );
});

Deno.test("quantizeModel: a conv → ReLU → pool → flatten → dense model equals the integer CPU reference of int8 inference, on both paths", async () => {
  const r = rng(5);
  const model = new gb.Sequential(
    new gb.Conv2d(2, 3, 3, { padding: 1 }),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Flatten(),
    new gb.Linear(27, 5),
  );
  setWeights(model, r);
  const data = dataset(6, [2, 6, 6], r);
  const paths: gb.Int8DotPath[] = gb.hasPackedIntegerDot() ? ["builtin", "unpack"] : ["unpack"];
  const outs: Float32Array[] = [];
  for (const path of paths) {
    const q = await gb.quantizeModel(model, data, { path });
    const s0 = q.inputScales.get("0")!, s4 = q.inputScales.get("4")!;
    // the CPU reference: integer products of the quantized values, then the float rescale
    const w0 = await model.get("0").namedParameters()[0][1].toArray();
    const b0 = await (model.get("0") as gb.Conv2d).bias!.toArray();
    const w4 = await (model.get("4") as gb.Linear).weight.toArray();
    const b4 = await (model.get("4") as gb.Linear).bias!.toArray();
    const q0 = gb.quantizePerChannel(w0 as Float32Array, 3, 18),
      q4 = gb.quantizePerChannel(w4 as Float32Array, 5, 27);
    const acc0 = conv2d(
      arr(gb.quantizeValues(data.x, s0), [6, 2, 6, 6]),
      arr(q0.q, [3, 2, 3, 3]),
      null,
      1,
      1,
      1,
    );
    const y0 = acc0.data.map((a, i) => {
      const o = Math.floor(i / 36) % 3;
      return Math.max(0, a * s0 * q0.scales[o] + b0[o]);
    });
    const pooled = pool2d(arr(y0, [6, 3, 6, 6]), 2, 2, 0, "max").data;
    const x4 = gb.quantizeValues(pooled, s4);
    const want = new Float64Array(30);
    for (let n = 0; n < 6; n++) {
      for (let o = 0; o < 5; o++) {
        let a = 0;
        for (let k = 0; k < 27; k++) a += x4[n * 27 + k] * q4.q[o * 27 + k];
        want[n * 5 + o] = a * s4 * q4.scales[o] + b4[o];
      }
    }
    const got = (await q.forward(gb.tensor(data.x, [6, 2, 6, 6])).toArray()) as Float32Array;
    assertClose(got, want, { rtol: 1e-5, atol: 1e-5, msg: `${path} path` });
    outs.push(got);
    q.dispose();
  }
  if (outs.length === 2) assert.deepEqual(Array.from(outs[0]), Array.from(outs[1]));
});

Deno.test("quantizeModel: the reported SQNRs are 10·log10(Σa²/Σ(a−b)²) of the weights and outputs, and the float twin computes the int8 function", async () => {
  const r = rng(8);
  const model = new gb.Sequential(new gb.Linear(10, 8), new gb.ReLU(), new gb.Linear(8, 4));
  setWeights(model, r);
  const data = dataset(32, [10], r);
  const q = await gb.quantizeModel(model, data, { sqnrSamples: 20 });
  const db = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0, e = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i] ** 2;
      e += (a[i] - b[i]) ** 2;
    }
    return 10 * Math.log10(s / e);
  };
  assert.ok(Math.abs(gb.sqnr([1, 1], [1, 0]) - 10 * Math.log10(2)) < 1e-12);
  assert.equal(gb.sqnr([1, 2], [1, 2]), Infinity);
  const w = (await (model.get("0") as gb.Linear).weight.toArray()) as Float32Array;
  const dq = new Float64Array(80);
  for (let o = 0; o < 8; o++) {
    const s = Math.max(...Array.from(w.subarray(o * 10, o * 10 + 10), Math.abs)) / 127;
    for (let k = 0; k < 10; k++) dq[o * 10 + k] = Math.round(w[o * 10 + k] / s) * s;
  }
  assertClose([q.layers[0].weightSqnr], [db(w, dq)], { rtol: 1e-3 });
  const x = gb.tensor(data.x.subarray(0, 200), [20, 10]);
  const ref = await gb.noGrad(() => model.forward(x)).toArray(), int8 = await q.forward(x).toArray();
  assertClose([q.outputSqnr], [db(ref, int8)], { rtol: 1e-6 });
  assert.ok(q.outputSqnr > 25 && q.outputSqnr < 60, `output SQNR ${q.outputSqnr}`);
  assert.match(q.table(), /model output SQNR/);
  // the twin: within float rounding of the int8 model, far closer than int8 is to float
  const twin = await gb.noGrad(() => q.simulate().forward(x)).toArray();
  assert.ok(gb.sqnr(int8, twin) > q.outputSqnr + 40, `twin ${gb.sqnr(int8, twin)} dB`);
  q.dispose();
});

Deno.test("fakeQuantizeWeight: each row on its own int8 grid (as quantizePerChannel), with the identity as gradient", async () => {
  const r = rng(9);
  const w = gb.tensor(Float32Array.from(randArr([6, 7], r).data), [6, 7], { requiresGrad: true });
  const c = gb.tensor(Float32Array.from(randArr([6, 7], r).data), [6, 7]);
  const fq = gb.fakeQuantizeWeight(w);
  const { q, scales } = gb.quantizePerChannel((await w.toArray()) as Float32Array, 6, 7);
  assertClose(await fq.toArray(), Array.from(q, (v, i) => v * scales[Math.floor(i / 7)]), {
    rtol: 1e-6,
    atol: 1e-7,
  });
  await gb.sum(gb.mul(fq, c)).backward();
  assert.deepEqual(Array.from(await w.grad!.toArray()), Array.from(await c.toArray()));
});

Deno.test("quantizeModel: a layer with no int8 kernel is named and kept float32, or stops the quantization", async () => {
  const r = rng(12);
  const model = new gb.Sequential(
    new gb.Conv2d(1, 2, 3),
    new gb.BatchNorm2d(2),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(32, 3),
  );
  setWeights(model, r);
  model.eval();
  const data = dataset(8, [1, 6, 6], r);
  const q = await gb.quantizeModel(model, data);
  assert.deepEqual(q.fallbacks.map((f) => [f.layer, f.type]), [["1", "BatchNorm2d"]]);
  assert.deepEqual(q.layers.map((l) => l.layer), ["0", "4"]);
  assert.ok(q.outputSqnr > 25, `output SQNR ${q.outputSqnr}`);
  q.dispose();
  await assert.rejects(
    () => gb.quantizeModel(model, data, { unsupported: "error" }),
    /layer "1" \(BatchNorm2d\) has weights but no int8 kernel/,
  );
  await assert.rejects(() => gb.quantizeModel(new gb.Linear(2, 2), data), /expected a Sequential/);
  await assert.rejects(
    () => gb.quantizeModel(model, data, { inputScales: new Map([["0", 0.1]]) }),
    /no valid input scale for layer "4" \(Linear\)/,
  );
});

Deno.test("QuantizedModel: in eval mode whatever mode the source is in; quantizing and running it never change the source", async () => {
  const r = rng(14);
  const build = () => {
    const m = new gb.Sequential(
      new gb.Conv2d(2, 3, 3, { padding: 1 }),
      new gb.BatchNorm2d(3),
      new gb.ReLU(),
      new gb.Dropout(0.5),
      new gb.Flatten(),
      new gb.Linear(3 * 5 * 5, 4),
    );
    setWeights(m, r);
    // running statistics far from any batch's, so batch statistics would give other numbers
    m.loadStateDict(
      new Map([["1.running_mean", gb.tensor([0.4, -0.3, 0.2])], ["1.running_var", gb.tensor([2, 0.5, 1.5])]]),
      false,
    );
    return m;
  };
  const model = build();
  const data = dataset(16, [2, 5, 5], r);
  const x = gb.tensor(data.x.subarray(0, 8 * 50), [8, 2, 5, 5]);
  const state = async () => [
    ...(await (model.get("1") as gb.BatchNorm2d).runningMean.toArray()),
    ...(await (model.get("1") as gb.BatchNorm2d).runningVar.toArray()),
  ];
  const before = await state();
  model.eval();
  const ref = await gb.noGrad(() => model.forward(x)).toArray(); // the float model, as evaluated
  const qEval = await gb.quantizeModel(model, data);
  const fromEval = await qEval.forward(x).toArray();
  // the source left in training mode
  model.train();
  const q = await gb.quantizeModel(model, data);
  assert.equal(q.training, false);
  const got = await q.forward(x).toArray();
  await q.forward(x).toArray();
  assert.deepEqual(await state(), before, "the source's running statistics");
  assert.ok(model.namedModules().every(([, m]) => m.training), "the source is still in training mode");
  assert.deepEqual(Array.from(got), Array.from(fromEval), "the same int8 model as from an eval-mode source");
  const db = gb.sqnr(ref, got);
  assert.ok(db > 25, `output SQNR ${db} dB`);
  assertClose([db], [gb.sqnr(ref, fromEval)], { rtol: 1e-12 });
  assert.throws(() => q.train(), /QuantizedModel: int8 inference has no training mode/);
  q.eval();
  assert.equal(q.training, false);
  q.dispose();
  qEval.dispose();
});

Deno.test("quantizeModel: a subclass of ReLU or MaxPool2d with its own forward is run, not taken into the int8 epilogue", async () => {
  class Doubled extends gb.ReLU {
    override forward(x: gb.Tensor): gb.Tensor {
      return super.forward(x).mul(2);
    }
  }
  class Halved extends gb.MaxPool2d {
    override forward(x: gb.Tensor): gb.Tensor {
      return super.forward(x).mul(0.5);
    }
  }
  for (
    const [name, act, pool] of [
      ["ReLU subclass", new Doubled(), new gb.MaxPool2d(2)],
      ["MaxPool2d subclass", new gb.ReLU(), new Halved(2)],
    ] as const
  ) {
    const r = rng(15);
    const model = new gb.Sequential(
      new gb.Conv2d(1, 4, 3),
      act,
      pool,
      new gb.Flatten(),
      new gb.Linear(4 * 9, 3),
    );
    setWeights(model, r);
    model.eval();
    const data = dataset(8, [1, 8, 8], r);
    const q = await gb.quantizeModel(model, data);
    // the int8 model computes the float one's function (the subclass's factor of 2 or 1/2 included)
    assert.ok(q.outputSqnr > 25, `${name}: output SQNR ${q.outputSqnr}`);
    q.dispose();
    model.parameters().forEach((p) => p.dispose());
  }
});
