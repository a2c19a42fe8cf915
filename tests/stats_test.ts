import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { StatsBatch } from "../src/inspect/gpu_stats.ts";
import { assertClose, rng } from "./cpu_ref.ts";

function cpuStats(x: Float32Array, bins: number, sat?: { center: number; threshold: number }) {
  const f = Array.from(x).filter((v) => Number.isFinite(v));
  const n = f.length;
  const mean = f.reduce((a, v) => a + v, 0) / n;
  const std = Math.sqrt(f.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
  const min = f.reduce((a, v) => Math.min(a, v), Infinity),
    max = f.reduce((a, v) => Math.max(a, v), -Infinity);
  // bins by the documented float32 edges: bin k holds edge_k <= v < edge_k+1, the last also max
  const edges = gb.histogramEdges(min, max, bins);
  const hist = new Array(bins).fill(0);
  for (const v of f) {
    let k = bins - 1;
    while (k > 0 && v < edges[k]) k--;
    hist[max > min ? k : 0]++;
  }
  return {
    count: n,
    mean,
    std,
    norm: Math.sqrt(f.reduce((a, v) => a + v * v, 0)),
    min,
    max,
    maxAbs: f.reduce((a, v) => Math.max(a, Math.abs(v)), 0),
    meanAbs: f.reduce((a, v) => a + Math.abs(v), 0) / n,
    nonFinite: x.length - n,
    zeroFraction: Array.from(x).filter((v) => v === 0).length / x.length,
    saturatedFraction: sat ? f.filter((v) => Math.abs(v - sat.center) >= sat.threshold).length / x.length : 0,
    hist,
  };
}

/** Random data that stays clear of histogram bin edges, so binning cannot differ by rounding. */
function data(n: number, seed: number, bins: number): Float32Array {
  const r = rng(seed);
  const lo = -2, hi = 3;
  const out = new Float32Array(n);
  out[0] = lo;
  out[1] = hi;
  for (let i = 2; i < n; i++) {
    let v: number;
    do {
      v = Math.fround(lo + (hi - lo) * r());
    } while (Math.abs(((v - lo) / (hi - lo)) * bins - Math.round(((v - lo) / (hi - lo)) * bins)) < 1e-3);
    out[i] = i % 17 === 0 ? 0 : v;
  }
  return out;
}

Deno.test("GPU statistics agree with a CPU computation; histograms sum to the element count", async () => {
  const batch = new StatsBatch(30);
  const inputs = [data(5, 1, 30), data(1000, 2, 30), data(70000, 3, 30), data(300001, 4, 30)];
  inputs[1][10] = NaN;
  inputs[1][20] = Infinity;
  const sat = { center: 0.5, threshold: 1.5 };
  for (let step = 0; step < 3; step++) {
    batch.begin(step);
    inputs.forEach((x, i) => batch.add(`t${i}`, gb.tensor(x), i === 2 ? sat : undefined));
    batch.end();
  }
  const recs = await batch.read();
  assert.deepEqual(recs.map((r) => r.tag), [0, 1, 2]);
  for (const rec of recs) {
    rec.stats.forEach((s, i) => {
      const want = cpuStats(inputs[i], 30, i === 2 ? sat : undefined);
      const msg = `tensor ${i} (${inputs[i].length} elements)`;
      assert.equal(s.count, want.count, msg);
      assert.equal(s.nonFinite, want.nonFinite, msg);
      assertClose([s.mean, s.std, s.norm, s.meanAbs], [want.mean, want.std, want.norm, want.meanAbs], {
        rtol: 1e-4,
        atol: 1e-5,
        msg,
      });
      assert.deepEqual([s.min, s.max, s.maxAbs], [want.min, want.max, want.maxAbs], msg);
      assertClose([s.zeroFraction, s.saturatedFraction], [want.zeroFraction, want.saturatedFraction], {
        rtol: 0,
        atol: 1e-9,
        msg,
      });
      assert.equal(
        s.histogram.reduce((a, b) => a + b, 0),
        want.count,
        `${msg}: histogram counts sum to the finite element count`,
      );
      assert.deepEqual(s.histogram, want.hist, msg);
    });
  }
  // the ring is reset: a new record reads back alone
  batch.begin(9);
  batch.add("x", gb.tensor([1, 2, 3, 4]));
  const again = await batch.read();
  assert.equal(again.length, 1);
  assert.equal(again[0].stats[0].mean, 2.5);
  assert.deepEqual(again[0].stats[0].histogram.reduce((a, b) => a + b, 0), 4);
  batch.dispose();
});

Deno.test("standard deviation stays right when |mean| >> std, counts are exact integers, values on bin edges bin exactly", async () => {
  const r = rng(9);
  // sigmoid-like outputs near 1 and a running variance near 1e4: E[x²] - E[x]² in float32 loses all of these
  const near1 = Float32Array.from({ length: 50000 }, () => Math.fround(0.999 + 1e-4 * (r() - 0.5)));
  const big = Float32Array.from({ length: 70001 }, () => Math.fround(1e4 + 0.05 * (r() - 0.5)));
  // values exactly on the float32 edges of 30 bins between 0 and 3 (0.1 is not exact in float32)
  const edges = gb.histogramEdges(0, 3, 30);
  const onEdges = Float32Array.from([...edges, ...edges.slice(0, 30)]);
  const [a, b, c] = await gb.tensorStats({
    near1: gb.tensor(near1),
    big: gb.tensor(big),
    onEdges: gb.tensor(onEdges),
  });
  for (const [s, x] of [[a, near1], [b, big]] as const) {
    const want = cpuStats(x, 30);
    assert.equal(s.count, x.length);
    assertClose([s.mean], [want.mean], { rtol: 1e-6, msg: `${s.key} mean` });
    assertClose([s.std], [want.std], { rtol: 1e-3, msg: `${s.key} std (want ${want.std})` });
    assert.deepEqual(s.histogram, want.hist, `${s.key} histogram`);
  }
  // 0 and every inner edge twice, 3 once: bin k holds exactly its left edge, twice; the last also 3
  assert.deepEqual(c.histogram, [...new Array(29).fill(2), 3], "values on edges go to the bin they start");
  assert.equal(c.count, 61);
});
