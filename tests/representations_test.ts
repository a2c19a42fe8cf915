import assert from "node:assert/strict";
import * as gb from "../mod.ts";

/** float64 forward of Linear → ReLU up to the ReLU, from the model's own weights. */
async function hiddenF64(model: gb.Sequential, x: Float32Array, n: number, d: number): Promise<Float64Array> {
  const lin = model.get("0") as gb.Linear;
  const w = await lin.weight.toArray(), b = await lin.bias!.toArray();
  const h = w.length / d;
  const out = new Float64Array(n * h);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < h; o++) {
      let s = b[o];
      for (let k = 0; k < d; k++) s += w[o * d + k] * x[i * d + k];
      out[i * h + o] = Math.max(0, s);
    }
  }
  return out;
}

Deno.test("representations equal a float64 forward at the layer, in uneven batches, mode and hooks restored", async () => {
  gb.manualSeed(3);
  const n = 37, d = 5;
  const model = new gb.Sequential(
    new gb.Linear(d, 7),
    new gb.ReLU(),
    new gb.Dropout(0.5),
    new gb.Linear(7, 3),
  );
  const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7) * 2);
  const ref = await hiddenF64(model, x, n, d);
  const seen: number[] = [];
  const r = await gb.representations(model, { data: x, shape: [n, d] }, {
    layer: "2", // the Dropout after the ReLU: eval mode makes it the identity
    batchSize: 8,
    onProgress: (done) => seen.push(done),
  });
  assert.equal(r.n, n);
  assert.equal(r.dim, 7);
  for (let i = 0; i < r.vectors.length; i++) {
    assert.ok(
      Math.abs(r.vectors[i] - ref[i]) < 1e-5,
      `row ${Math.floor(i / 7)}: ${r.vectors[i]} vs ${ref[i]}`,
    );
  }
  assert.deepEqual(seen, [8, 16, 24, 32, 37], "one progress call per batch, the last partial");
  assert.equal(model.training, true, "training mode is restored");
  assert.ok(model.namedModules().every(([, m]) => m.hookCounts().forward === 0), "no hook left behind");

  // default layer: the model's output, equal to forward on the whole batch
  const all = await gb.scope(async () => {
    model.eval();
    const out = await model.forward(gb.tensor(x, [n, d])).toArray();
    model.train();
    return out;
  });
  const o = await gb.representations(model, gb.tensor(x, [n, d]), { batchSize: 10 });
  assert.equal(o.dim, 3);
  for (let i = 0; i < all.length; i++) assert.ok(Math.abs(o.vectors[i] - all[i]) < 1e-5);
});

Deno.test("representations flatten a conv layer's [C, H, W] and take int32 token ids", async () => {
  gb.manualSeed(4);
  const conv = new gb.Sequential(
    new gb.Conv2d(1, 2, 3),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(2 * 4 * 4, 3),
  );
  const x = gb.randn([6, 1, 6, 6]);
  const r = await gb.representations(conv, x, { layer: "1", batchSize: 4 });
  const direct = await gb.scope(async () => {
    const restore = conv.enterEval();
    const v = await conv.get("1").forward(conv.get("0").forward(x)).toArray();
    restore();
    return v;
  });
  assert.equal(r.dim, 32);
  assert.deepEqual(Array.from(r.vectors), Array.from(direct), "row-major [C, H, W] per input");
  x.dispose();

  const emb = new gb.Sequential(new gb.Embedding(10, 4));
  const ids = Int32Array.from([1, 2, 3, 9, 0, 0]);
  const t = await gb.representations(emb, { data: ids, shape: [3, 2] });
  const table = await (emb.get("0") as gb.Embedding).weight.toArray();
  assert.equal(t.dim, 8);
  assert.deepEqual(Array.from(t.vectors.subarray(8, 12)), Array.from(table.subarray(3 * 4, 4 * 4)), "id 3");
});

Deno.test("representations: an unknown layer names itself and valid paths; hooks go even when forward throws", async () => {
  const model = new gb.Sequential(new gb.Linear(4, 3), new gb.ReLU(), new gb.Linear(3, 2));
  await assert.rejects(
    () => gb.representations(model, { data: new Float32Array(8), shape: [2, 4] }, { layer: "7" }),
    /no layer "7".*"0", "1", "2"/,
  );
  await assert.rejects(
    () => gb.representations(model, { data: new Float32Array(10), shape: [2, 5] }, { layer: "1" }),
  );
  assert.equal(model.get("1").hookCounts().forward, 0, "the hook is removed after a throwing forward");
  assert.equal(model.training, true);
  await assert.rejects(
    () => gb.representations(model, { data: new Float32Array(7), shape: [2, 4] }),
    /7 values do not fill shape \[2, 4\]/,
  );
  await assert.rejects(
    () => gb.representations(model, { data: new Float32Array(8), shape: [2, 4] }, { batchSize: 0 }),
    /batchSize/,
  );
});

Deno.test("representations keep GPU memory flat across batches", async () => {
  gb.manualSeed(5);
  const model = new gb.Sequential(new gb.Linear(16, 32), new gb.ReLU(), new gb.Linear(32, 4));
  const n = 400;
  const x = Float32Array.from({ length: n * 16 }, (_, i) => Math.cos(i));
  const live: number[] = [], bytes: number[] = [];
  await gb.representations(model, { data: x, shape: [n, 16] }, {
    layer: "1",
    batchSize: 16,
    onProgress: () => {
      const s = gb.poolStats();
      live.push(s.liveBuffers);
      bytes.push(s.liveBytes);
    },
  });
  assert.equal(live.length, 25);
  assert.ok(live.every((v) => v === live[0]), `live buffers flat: ${live.join(",")}`);
  assert.ok(bytes.every((v) => v === bytes[0]), "live bytes flat");
  const before = gb.poolStats().liveBuffers;
  await gb.representations(model, { data: x, shape: [n, 16] }, { layer: "1", batchSize: 16 });
  assert.equal(gb.poolStats().liveBuffers, before, "nothing outlives the call");
});
