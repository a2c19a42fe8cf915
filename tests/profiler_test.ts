/**
 * The profiler: profiling mode computes the same numbers; a planted workload gives exactly its
 * launches per kernel with flops = 2·M·N·K; times are positive and launches on the one GPU
 * track do not overlap; the Chrome trace is read by an external reader.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
// Chrome DevTools' performance panel's trace parser (TraceModel), published from DevTools' source
// deno-lint-ignore no-import-prefix
import { TraceModel } from "npm:@paulirish/trace_engine@0.0.65";

gb.manualSeed(21);

/** A small pipeline touching matmul, elementwise, reductions and softmax. */
async function work(a: gb.Tensor, b: gb.Tensor): Promise<Float32Array[]> {
  const h = gb.relu(gb.matmul(a, b));
  const s = gb.softmax(gb.exp(gb.neg(h)), 1);
  const out = [await h.toArray(), await s.toArray(), await gb.sum(s).toArray()] as Float32Array[];
  for (const t of [h, s]) t.dispose();
  return out;
}

Deno.test("profiling mode gives bit-identical results, with either clock", async () => {
  const a = gb.randn([37, 24]), b = gb.randn([24, 19]);
  const plain = await work(a, b);
  for (const clock of ["timestamp-query", "submit-wait"] as const) {
    const p = await gb.profile(() => work(a, b), { clock });
    assert.equal(p.clock, clock);
    assert.ok(p.events.length > 0);
    plain.forEach((x, i) => assert.deepEqual(p.result[i], x, `output ${i} under ${clock}`));
  }
  // and the engine is back to normal afterwards
  assert.deepEqual(await work(a, b), plain);
  a.dispose();
  b.dispose();
});

/** A convolution, pooling and cross-entropy step with its gradients (what training runs). */
async function convStep(x: gb.Tensor, w: gb.Tensor): Promise<Float32Array[]> {
  return await gb.scope(async () => {
    const wv = w.detach();
    wv.requiresGrad = true;
    const xv = x.detach();
    xv.requiresGrad = true;
    const h = gb.maxPool2d(gb.relu(gb.conv2d(xv, wv, null, { padding: 1 })), 2);
    const loss = gb.crossEntropy(h.reshape([2, -1]), gb.tensor([3, 7], [2], { dtype: "int32" }));
    await loss.backward();
    return [await loss.toArray(), await wv.grad!.toArray(), await xv.grad!.toArray()] as Float32Array[];
  });
}

Deno.test("profiling mode: a convolution step's loss and gradients are bit-identical", async () => {
  const x = gb.randn([2, 3, 8, 8]), w = gb.randn([4, 3, 3, 3]);
  // profiled first: nothing left on the GPU by a plain run can stand in for what profiling mode uploads
  const p = await gb.profile(() => convStep(x, w));
  const plain = await convStep(x, w);
  plain.forEach((v, i) => assert.deepEqual(p.result[i], v, `output ${i}`));
  assert.ok(p.events.some((e) => e.shader === "conv" && e.entry === "col2im"));
  x.dispose();
  w.dispose();
});

const SHAPES: [number, number, number][] = [[40, 24, 16], [8, 64, 32], [33, 20, 12]]; // M, K, N

Deno.test("a planted workload: 3 matmuls and 2 unary ops are launched once each, flops = 2·M·N·K", async () => {
  const ins = SHAPES.map(([M, K, N]) => [gb.randn([M, K]), gb.randn([K, N])]);
  const x = gb.randn([1000]);
  await gb.sync();
  // the unfused launches are counted here (fusion would run neg and exp as one kernel: tests/fusion_test.ts)
  const fusion = gb.gpuSettings().fusion;
  gb.configureGpu({ fusion: false });
  const p = await gb.profile(async () => {
    const cs = ins.map(([a, b]) => gb.matmul(a, b));
    const y = gb.exp(gb.neg(x));
    await gb.sync();
    return [...cs, y];
  }).finally(() => gb.configureGpu({ fusion }));
  const mm = p.events.filter((e) => e.shader === "matmul");
  assert.equal(mm.length, 3);
  assert.deepEqual(mm.map((e) => e.flops), SHAPES.map(([M, K, N]) => 2 * M * N * K));
  const mmRows = p.rows.filter((r) => r.kernel.startsWith("matmul:"));
  assert.equal(mmRows.reduce((s, r) => s + r.dispatches, 0), 3);
  const unary = p.rows.filter((r) => r.kernel.startsWith("unary:main"));
  assert.deepEqual(unary.map((r) => r.dispatches), [1, 1]);
  assert.ok(unary.some((r) => r.kernel.includes("OP=exp(x)")), unary.map((r) => r.kernel).join("; "));
  // what else ran: at most the kernel that packs matmul operands (here none: each A is read in place)
  const ran = new Set(p.events.map((e) => e.shader));
  ran.delete("matmul_pack");
  assert.deepEqual([...ran].sort(), ["matmul", "unary"]);
  // unary: 1000 floats read, 1000 written (the launcher's count); access read from the WGSL
  const ex = p.events.find((e) => e.shader === "unary")!;
  assert.deepEqual(ex.buffers.map((b) => b.access), ["read", "read_write"]);
  assert.equal(ex.bytesFrom, "launcher");
  assert.equal(ex.bytes, 8 * 1000);
  // rows sorted by time, sums consistent
  for (let i = 1; i < p.rows.length; i++) assert.ok(p.rows[i - 1].totalMs >= p.rows[i].totalMs);
  for (const r of p.rows) {
    assert.ok(Math.abs(r.gbPerS - r.bytes / (r.totalMs / 1e3) / 1e9) < 1e-9 * Math.max(1, r.gbPerS));
  }
  assert.match(gb.formatProfile(p), /clock: GPU timestamp queries/);
  for (const t of [...ins.flat(), x, ...p.result]) t.dispose();
});

Deno.test("timings are positive and launches on the GPU track do not overlap", async () => {
  const a = gb.randn([64, 48]), b = gb.randn([48, 32]);
  for (const clock of ["timestamp-query", "submit-wait"] as const) {
    const p = await gb.profile(() => work(a, b), { clock });
    const ev = [...p.events].sort((x, y) => x.startMs - y.startMs);
    for (const e of ev) assert.ok(e.durationMs > 0, `${clock}: ${e.shader} took ${e.durationMs} ms`);
    for (let i = 1; i < ev.length; i++) {
      assert.ok(
        ev[i].startMs >= ev[i - 1].startMs + ev[i - 1].durationMs - 1e-6,
        `${clock}: launch ${i} starts before ${i - 1} ends`,
      );
    }
    const trace = gb.chromeTrace(p);
    const xs = trace.traceEvents.filter((e) => e.ph === "X");
    assert.equal(xs.length, p.events.length);
    assert.ok(xs.every((e) => e.dur! > 0 && e.ts! >= 0));
  }
  a.dispose();
  b.dispose();
});

Deno.test("the Chrome trace is read by Chrome DevTools' own trace engine: one track, every launch, its times", async () => {
  const a = gb.randn([64, 48]), b = gb.randn([48, 32]);
  const p = await gb.profile(() => work(a, b));
  // through JSON text, as a file would be read
  const trace = JSON.parse(JSON.stringify(gb.chromeTrace(p)));
  assert.equal(trace.displayTimeUnit, "ms");
  const model = TraceModel.Model.createWithAllHandlers();
  await model.parse(trace.traceEvents);
  const data = model.parsedTrace(0)!.data;
  const processes = [...data.Renderer.processes.values()];
  assert.equal(processes.length, 1);
  const threads = [...processes[0].threads.values()];
  assert.equal(threads.length, 1);
  assert.equal(threads[0].name, `GPU queue (${p.clock})`);
  const entries = threads[0].entries;
  assert.deepEqual(entries.map((e) => e.name), p.events.map((e) => `${e.shader}:${e.entry}`));
  entries.forEach((e, i) => {
    assert.ok(Math.abs(e.ts - p.events[i].startMs * 1e3) < 0.01, `entry ${i} starts at ${e.ts} µs`);
    assert.ok(Math.abs((e.dur ?? 0) - p.events[i].durationMs * 1e3) < 0.01, `entry ${i} lasts ${e.dur} µs`);
  });
  // launches that do not overlap are all roots of the call tree (none nested in another)
  assert.equal(threads[0].tree?.roots.size, entries.length);
  const bounds = data.Meta.traceBounds;
  const first = p.events[0].startMs * 1e3, last = p.events.at(-1)!;
  assert.ok(
    Math.abs(bounds.min - first) < 0.01 &&
      Math.abs(bounds.max - (last.startMs + last.durationMs) * 1e3) < 0.01,
  );
  a.dispose();
  b.dispose();
});

Deno.test("profile: an error in fn is reported and profiling ends; calls do not nest", async () => {
  await assert.rejects(gb.profile(() => Promise.reject(new Error("boom"))), /boom/);
  await assert.rejects(gb.profile(() => gb.profile(() => 1)), /profiling is already on/);
  const p = await gb.profile(() => 7);
  assert.equal(p.result, 7);
  assert.equal(p.events.length, 0);
});

Deno.test("profileWorkload train-step: the matmuls' flops are the seed CNN's training step, counted by hand", async () => {
  const B = 4;
  const run = await gb.profileWorkload("train-step", { batch: B });
  // forward flops per layer (2 per multiply-add): conv1 1→32 3×3 on 28² (26² outputs), conv2 32→64 3×3
  // on 13² (11² outputs), dense 1600→128, dense 128→10
  const conv1 = 2 * 26 * 26 * 32 * 9,
    conv2 = 2 * 11 * 11 * 64 * 32 * 9,
    fc1 = 2 * 1600 * 128,
    fc2 = 2 * 128 * 10;
  // backward: a weight gradient per layer and an input gradient for all but the first (the image needs none);
  // a conv's bias gradient rides along in its weight-gradient GEMM as one more column (of ones): 2 flops
  // per output element
  const convBias = 2 * 26 * 26 * 32 + 2 * 11 * 11 * 64;
  const expected = B * (3 * (conv1 + conv2 + fc1 + fc2) - conv1 + convBias);
  // the convolutions' forward products run as implicit GEMMs (conv_gemm) on the cpu kernel family
  // (conv_gemm's "pack" entry copies the input into padded patch rows: no arithmetic)
  const mm = run.profile.events.filter((e) =>
    e.shader === "matmul" || (e.shader === "conv_gemm" && e.entry !== "pack")
  );
  assert.equal(mm.reduce((s, e) => s + e.flops!, 0), expected);
  assert.equal(mm.length, 4 + 4 + 3);
  assert.match(run.table, /^\d+ kernel launches/);
  assert.equal(run.files[0].name, "train-step.trace.json");
  const trace = JSON.parse(run.files[0].data as string) as gb.ChromeTrace;
  assert.equal(trace.traceEvents.filter((e) => e.ph === "X").length, run.profile.events.length);
  await assert.rejects(
    gb.profileWorkload("nope"),
    /unknown workload "nope"; the known ones are train-step, inference, ig, occlusion/,
  );
});

Deno.test("profileWorkload inference: the products' flops are the seed CNN's forward pass, counted by hand", async () => {
  const B = 3;
  // the kernels counted below are the fused "cpu" family's, whatever GLASSBOX_FUSION and GLASSBOX_KERNELS say
  const was = gb.gpuSettings();
  gb.configureGpu({ fusion: true, kernels: "cpu" });
  let run: Awaited<ReturnType<typeof gb.profileWorkload>>;
  try {
    run = await gb.profileWorkload("inference", { batch: B });
  } finally {
    gb.configureGpu({ fusion: was.fusion, kernels: was.kernels });
  }
  // conv2 runs fused with its ReLU and 2×2 pool (eval mode, no hooks), which reads only 10×10 of its
  // 11×11 outputs (5×5 windows), so only those are computed
  const conv1 = 2 * 26 * 26 * 32 * 9,
    conv2 = 2 * 10 * 10 * 64 * 32 * 9,
    fc1 = 2 * 1600 * 128,
    fc2 = 2 * 128 * 10;
  const mm = run.profile.events.filter((e) =>
    e.shader === "matmul" || (e.shader === "conv_gemm" && e.entry !== "pack") || e.shader === "conv"
  );
  assert.equal(mm.reduce((s, e) => s + (e.flops ?? 0), 0), B * (conv1 + conv2 + fc1 + fc2));
  assert.match(run.description, /batch 3$/);
  assert.equal(run.files[0].name, "inference.trace.json");
  // conv1 on three images is below the specialisation line (im2col + matmul), conv2 above it
  assert.deepEqual(
    run.profile.events.filter((e) => e.flops).map((e) => e.shader),
    ["matmul", "conv_gemm", "matmul", "matmul"],
  );
});

Deno.test("roofline: a point on the roof is drawn on the roof line, in log-log coordinates", () => {
  const bw = 20, peak = 100, ridge = peak / bw;
  const svg = gb.rooflineSvg([
    { name: "at the ridge", intensity: ridge, gflopPerS: peak },
    { name: "memory-bound", intensity: ridge / 4, gflopPerS: bw * ridge / 4 },
    { name: "below", intensity: ridge * 3, gflopPerS: peak / 10 },
  ], { title: "t", gbPerS: bw, gflopPerS: peak });
  const roof = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)][0][1].split(" ").map((p) =>
    p.split(",").map(Number)
  );
  const dots = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="5" fill="[^"]+"><title>/g)].map((
    m,
  ) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  assert.equal(dots.length, 3);
  const near = (a: number, b: number) => Math.abs(a - b) < 0.15;
  // the ridge point is the roof's corner
  assert.ok(near(dots[0][0], roof[1][0]) && near(dots[0][1], roof[1][1]), `${dots[0]} vs ${roof[1]}`);
  // the memory-bound point lies on the slope (collinear with its ends)
  const [[x0, y0], [x1, y1]] = roof;
  const t = (dots[1][0] - x0) / (x1 - x0);
  assert.ok(t > 0 && t < 1 && near(dots[1][1], y0 + t * (y1 - y0)), `slope at ${dots[1]}`);
  // the point 10× below the peak sits one decade under the flat part
  // (a decade in pixels, from the memory-bound point 4× below the peak)
  const decadePx = (dots[1][1] - roof[1][1]) / Math.log10(4);
  assert.ok(
    near(dots[2][1] - roof[2][1], decadePx),
    `${dots[2][1] - roof[2][1]} px vs a decade of ${decadePx} px`,
  );
  assert.throws(
    () => gb.rooflineSvg([], { title: "t", gbPerS: 0, gflopPerS: 1 }),
    /ceilings must be positive/,
  );
});

Deno.test("rooflineOf: the matmul is the one point; a kernel above the roof is called out", async () => {
  const a = gb.randn([64, 32]), b = gb.randn([32, 16]);
  const p = await gb.profile(() => gb.matmul(a, b).toArray());
  const fast = { gbPerS: 1e6, gflopPerS: 1e6, how: "assumed" },
    slow = { gbPerS: 1e-6, gflopPerS: 1e6, how: "assumed" };
  const ok = gb.rooflineOf(p, fast, "t", "a test");
  assert.equal((ok.match(/<title>matmul:/g) ?? []).length, 1);
  assert.ok(ok.includes("Profiled: a test.") && !ok.includes("above the roof"));
  assert.match(gb.rooflineOf(p, slow), /1 kernel is above the roof/);
  a.dispose();
  b.dispose();
});

Deno.test("formatProfile: rows of one kernel that differ only past the column's width list their differences first", () => {
  const row = (kernel: string, totalMs: number): gb.KernelRow => ({
    kernel,
    dispatches: 1,
    totalMs,
    meanMs: totalMs,
    bytes: 1e6,
    bytesFrom: "launcher",
    gbPerS: 1,
  });
  const im2col = "conv:im2col [C=32, DIL=1, H=13, KH=3, KW=3, OH=11, OW=11";
  const rows = [
    row(`${im2col}, ONES=1, PAD=0]`, 3),
    row(`${im2col}, ONES=0, PAD=0]`, 2),
    row("unary:main [OP=max(x, 0.0), T=vec4f]", 1),
  ];
  const p = {
    result: null,
    clock: "timestamp-query",
    adapter: "x",
    wallMs: 9,
    kernelMs: 6,
    rows,
    events: [],
  };
  const lines = gb.formatProfile(p as gb.KernelProfile, { kernelWidth: 40 }).split("\n").slice(4);
  assert.match(lines[0], /^conv:im2col \[ONES=1, C=32, DIL=1, H=13,… /);
  assert.match(lines[1], /^conv:im2col \[ONES=0, C=32, /);
  assert.match(lines[2], /^unary:main \[OP=max\(x, 0\.0\), T=vec4f\] /, "one row: as it was");
  assert.equal(rows[0].kernel, `${im2col}, ONES=1, PAD=0]`, "the rows' keys are unchanged");
});
