/**
 * workBound, the arithmetic of the bench's "What bounds each row": on a planted profile the lower
 * bound is exactly readbacks × floor + Σ per launch max(bytes ÷ copy ceiling, flops ÷ matmul
 * ceiling), the dominant term is the largest of the four, and a real profile counts its readbacks.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

// 4 GB/s = 4e6 bytes per ms; 10 GFLOP/s = 1e7 flops per ms
const CEIL = { gbPerS: 4, gflopPerS: 10 };
const EVENTS = [
  { bytes: 8e6, flops: 1e6, bytesFrom: "launcher" as const }, // memory 2 ms (compute 0.1 ms)
  { bytes: 1e6, flops: 1e9, bytesFrom: "launcher" as const }, // compute 100 ms (memory 0.25 ms)
  { bytes: 4e6, bytesFrom: "launcher" as const }, // no flops: memory 1 ms
];

Deno.test("workBound: a planted profile's bound in closed form, compute dominant", () => {
  const b = gb.workBound({ events: EVENTS, kernelMs: 150, readbacks: 3 }, CEIL, 0.5, 209);
  assert.equal(b.launches, 3);
  assert.equal(b.bytes, 13e6);
  assert.equal(b.flops, 1e9 + 1e6);
  assert.equal(b.floorMs, 1.5); // 3 readbacks × 0.5 ms
  assert.equal(b.memoryMs, 3); // 2 + 1
  assert.equal(b.computeMs, 100);
  assert.equal(b.boundMs, 104.5);
  assert.equal(b.overheadMs, 57.5); // 209 − 150 − 1.5
  assert.equal(b.dominant, "compute");
  assert.equal(b.ratio, 2);
  assert.equal(b.kernelRatio, 150 / 103); // kernel ms ÷ (memory 3 + compute 100)
  assert.equal(b.bytesFromBuffers, false);
});

Deno.test("workBound: dispatch overhead and readback floor dominate where they are largest", () => {
  const slow = gb.workBound({ events: EVENTS, kernelMs: 150, readbacks: 3 }, CEIL, 0.5, 400);
  assert.equal(slow.overheadMs, 248.5);
  assert.equal(slow.dominant, "dispatch overhead");
  assert.equal(slow.boundMs, 104.5); // the bound does not depend on the measured time
  const tiny = gb.workBound({ events: [], kernelMs: 0, readbacks: 2 }, CEIL, 0.75, 1.75);
  assert.equal(tiny.boundMs, 1.5);
  assert.equal(tiny.overheadMs, 0.25);
  assert.equal(tiny.dominant, "readback floor");
  // kernels timed longer than the wall (profiling adds time): overhead is 0, not negative
  const over = gb.workBound({ events: EVENTS, kernelMs: 150, readbacks: 3 }, CEIL, 0.5, 120);
  assert.equal(over.overheadMs, 0);
  // a launch counted at its buffers' sizes is flagged, and its wall defaults to the profile's
  const buf = gb.workBound(
    { events: [{ bytes: 4e6, bytesFrom: "buffers" }], kernelMs: 1, readbacks: 0, wallMs: 3 },
    CEIL,
    0.5,
  );
  assert.equal(buf.bytesFromBuffers, true);
  assert.equal(buf.ratio, 3);
});

Deno.test("workBound: readbacks made together count one wait each for the floor", () => {
  const b = gb.workBound({ events: EVENTS, kernelMs: 150, readbacks: 3, readbackWaits: 1 }, CEIL, 0.5, 209);
  assert.equal(b.readbacks, 3);
  assert.equal(b.readbackWaits, 1);
  assert.equal(b.floorMs, 0.5);
  assert.equal(b.boundMs, 103.5);
  assert.equal(b.overheadMs, 58.5); // 209 − 150 − 0.5
});

Deno.test("workBound: bad ceilings, floor or wall are errors that name them", () => {
  const p = { events: EVENTS, kernelMs: 1, readbacks: 1 };
  assert.throws(() => gb.workBound(p, { gbPerS: 0, gflopPerS: 10 }, 0.5, 1), /ceilings must be positive/);
  assert.throws(() => gb.workBound(p, CEIL, -1, 1), /readbackFloorMs/);
  assert.throws(() => gb.workBound(p, CEIL, 0.5), /wallMs/);
});

Deno.test("profile counts readbacks and their waits, and workBound of a real profile matches its events", async () => {
  const a = gb.randn([64, 48]), b = gb.randn([48, 32]);
  const p = await gb.profile(async () => {
    const c = gb.matmul(a, b);
    await c.toArray(); // one wait
    await gb.sum(c).toArray(); // another
    const [d, e] = [gb.relu(c), gb.neg(c)];
    await Promise.all([d.toArray(), e.toArray()]); // two readbacks, one wait
    [c, d, e].forEach((t) => t.dispose());
  });
  assert.equal(p.readbacks, 4);
  assert.equal(p.readbackWaits, 3);
  const floor = 0.25;
  const bound = gb.workBound(p, CEIL, floor, 10);
  let expected = 3 * floor;
  for (const e of p.events) expected += Math.max(e.bytes / 4e6, (e.flops ?? 0) / 1e7);
  assert.ok(Math.abs(bound.boundMs - expected) < 1e-12, `${bound.boundMs} vs ${expected}`);
  const mm = p.events.find((e) => e.shader === "matmul")!;
  assert.equal(mm.flops, 2 * 64 * 32 * 48);
  assert.equal(bound.launches, p.events.length);
  a.dispose();
  b.dispose();
});

Deno.test("bench harness: --repeat interleaves glassbox and its peers, --only skips rows on both sides", async () => {
  // the harness loads TensorFlow.js: imported here only, so the tests above do not pay for it
  const h = await import("../bench/harness.ts");
  // deno-lint-ignore no-import-prefix
  const tf = await import("npm:@tensorflow/tfjs@4.22.0");
  h.benchOptions.repeat = 3;
  h.benchOptions.only = "b";
  try {
    const runs: Record<string, number> = { a: 0, b1: 0, b2: 0 };
    const log: string[] = [];
    // planted times per pass for b1: glassbox 10, 20, 40 ms (median 20); tfjs-webgpu 20, 60, 40 (median
    // 40: ratios 2, 3, 1); tfjs-wasm 30, 60, 120 (median 60: ratio 3 every pass)
    const planted: Record<string, number[]> = {
      ours: [10, 20, 40],
      webgpu: [20, 60, 40],
      wasm: [30, 60, 120],
    };
    const passes: Record<string, number> = { ours: 0, webgpu: 0, wasm: 0 };
    const ours = async () => {
      log.push("ours");
      const k = passes.ours++;
      const rows = [];
      for (const name of ["a", "b1", "b2"]) {
        // reps 1, no warm-up: each pass runs a wanted row once, and the last pass twice more to profile it
        const t = await h.timeRow(name, () => Promise.resolve(runs[name]++), 1, 0);
        rows.push({ name, ms: Number.isNaN(t.ms) ? NaN : name === "b1" ? planted.ours[k] : 5 });
      }
      return rows;
    };
    const peer = async () => {
      const side = tf.getBackend();
      log.push(side);
      const k = passes[side]++;
      const out: number[] = [];
      for (const name of ["a", "b1", "b2"]) {
        const t = await h.time(() => Promise.resolve(runs[name]++), 1, 0);
        out.push(Number.isNaN(t) ? NaN : name === "b1" ? planted[side][k] : 5);
      }
      return out;
    };
    const rows = await h.withTfPeers(ours, peer);
    assert.deepEqual(log, ["ours", "webgpu", "wasm", "wasm", "webgpu", "ours", "ours", "webgpu", "wasm"]);
    assert.equal(runs.a, 0, "a row --only leaves out runs on neither side");
    // b1: 3 glassbox runs + 2 to profile it on the last pass + 6 peer runs
    assert.equal(runs.b1, 3 + 2 + 6);
    assert.deepEqual(rows.map((r) => r.name), ["b1", "b2"]);
    assert.deepEqual([rows[0].ours, rows[0].webgpu, rows[0].wasm], [20, 40, 60]);
    assert.deepEqual(rows[0].samples, planted);
    const printed: string[] = [];
    const log0 = console.log;
    console.log = (...a: unknown[]) => printed.push(a.join(" "));
    try {
      h.printTable2("planted", rows);
    } finally {
      console.log = log0;
    }
    const b1 = printed.find((l) => l.startsWith("| b1 "))!;
    assert.match(b1, /2\.00× \(1\.00–3\.00\) \|\s+3\.00× \(3\.00–3\.00\) \|$/);
    // a peer whose time() calls do not match the glassbox rows is an error that says so
    h.benchOptions.repeat = 1;
    await assert.rejects(
      h.withTfPeers(ours, async () => [await h.time(() => Promise.resolve(), 1, 0), NaN, NaN]),
      /made 1 time\(\) calls and returned 3 times for 3 glassbox rows/,
    );
  } finally {
    h.benchOptions.repeat = 1;
    h.benchOptions.only = null;
  }
});

Deno.test("bench harness: --repeat 2 prints the mean of the two passes as the median (not the slower one)", async () => {
  const h = await import("../bench/harness.ts");
  h.benchOptions.repeat = 2;
  try {
    // planted: glassbox 10 then 30 ms (median 20), tfjs-webgpu 40 and 80 (60), tfjs-wasm 20 and 20 (20)
    const planted: Record<string, number[]> = { ours: [10, 30], webgpu: [40, 80], wasm: [20, 20] };
    const passes: Record<string, number> = { ours: 0, webgpu: 0, wasm: 0 };
    // deno-lint-ignore no-import-prefix
    const tf = await import("npm:@tensorflow/tfjs@4.22.0");
    const rows = await h.withTfPeers(
      async () => {
        await h.timeRow("r", () => Promise.resolve(), 1, 0, { bound: false });
        return [{ name: "r", ms: planted.ours[passes.ours++] }];
      },
      async () => {
        const side = tf.getBackend();
        await h.time(() => Promise.resolve(), 1, 0);
        return [planted[side][passes[side]++]];
      },
    );
    assert.deepEqual([rows[0].ours, rows[0].webgpu, rows[0].wasm], [20, 60, 20]);
  } finally {
    h.benchOptions.repeat = 1;
  }
});
