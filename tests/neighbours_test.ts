import assert from "node:assert/strict";
import * as gb from "../mod.ts";

/** float64 brute force: each query's k nearest rows (ties to the lower index) and distances. */
function bruteForce(
  bank: Float32Array,
  queries: Float32Array,
  dim: number,
  k: number,
  metric: "cosine" | "euclidean",
  allowed?: (row: number, q: number) => boolean,
): { idx: number[][]; dist: number[][] } {
  const n = bank.length / dim, Q = queries.length / dim;
  const idx: number[][] = [], dist: number[][] = [];
  for (let q = 0; q < Q; q++) {
    const d: [number, number][] = [];
    for (let r = 0; r < n; r++) {
      if (allowed && !allowed(r, q)) continue;
      let dot = 0, qq = 0, bb = 0, sq = 0;
      for (let j = 0; j < dim; j++) {
        const a = queries[q * dim + j], b = bank[r * dim + j];
        dot += a * b;
        qq += a * a;
        bb += b * b;
        sq += (a - b) ** 2;
      }
      d.push([metric === "cosine" ? 1 - dot / Math.sqrt(qq * bb) : Math.sqrt(sq), r]);
    }
    d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    idx.push(d.slice(0, k).map((e) => e[1]));
    dist.push(d.slice(0, k).map((e) => e[0]));
  }
  return { idx, dist };
}

function data(n: number, dim: number, seed: number): Float32Array {
  // spread norms (0.5..3) so that cosine and euclidean rank differently
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const out = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const scale = 0.5 + 2.5 * rnd();
    for (let j = 0; j < dim; j++) out[r * dim + j] = (rnd() * 2 - 1) * scale;
  }
  return out;
}

Deno.test("nearest neighbours equal a float64 brute force (cosine and euclidean, bank in uneven chunks)", async () => {
  const dim = 12, n = 2500, Q = 17, k = 7;
  const bank = data(n, dim, 1), queries = data(Q, dim, 2);
  const found: Record<string, number[][]> = {};
  for (const metric of ["euclidean", "cosine"] as const) {
    using index = new gb.NeighbourIndex(bank, dim, { metric, chunkRows: 900 }); // 900, 900, 700
    const got = await index.search(queries, { k });
    const ref = bruteForce(bank, queries, dim, k, metric);
    for (let q = 0; q < Q; q++) {
      assert.deepEqual(
        Array.from(got.indices.subarray(q * k, (q + 1) * k)),
        ref.idx[q],
        `${metric} query ${q}`,
      );
      for (let j = 0; j < k; j++) {
        const a = got.distances[q * k + j], b = ref.dist[q][j];
        assert.ok(Math.abs(a - b) < 1e-4 * Math.max(1, b), `${metric} distance ${a} vs ${b}`);
      }
    }
    found[metric] = ref.idx;
  }
  const differ = found.cosine.filter((row, q) => row.join() !== found.euclidean[q].join()).length;
  assert.ok(differ > Q / 2, `cosine and euclidean disagree on most queries (${differ} of ${Q})`);
  // a planted case: the parallel far point is cosine's nearest, the near oblique one euclidean's
  const small = Float32Array.from([10, 0, 1, 1]);
  const e = await gb.nearestNeighbours(small, Float32Array.from([1, 0]), { dim: 2, k: 1 });
  const c = await gb.nearestNeighbours(small, Float32Array.from([1, 0]), { dim: 2, k: 1, metric: "cosine" });
  assert.deepEqual([e.indices[0], c.indices[0]], [1, 0]);
  assert.ok(Math.abs(e.distances[0] - 1) < 1e-6, "euclidean distance, not squared");
  assert.ok(Math.abs(c.distances[0]) < 1e-6, "cosine distance of a parallel vector is 0");
});

Deno.test("nearest neighbours: ties go to the lower index; per-query classes search only that class", async () => {
  const dim = 4;
  const row = [1, 2, 3, 4];
  const bank = Float32Array.from([...[9, 9, 9, 9], ...row, ...[5, 5, 5, 5], ...row, ...row]);
  const r = await gb.nearestNeighbours(bank, Float32Array.from(row), { dim, k: 3, chunkRows: 2 });
  assert.deepEqual(Array.from(r.indices), [1, 3, 4], "three equal rows, in index order across chunks");

  const n = 900, Q = 6, k = 5;
  const big = data(n, dim, 5), queries = data(Q, dim, 6);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 3);
  const classes = [0, 1, 2, 2, 1, 0];
  using index = new gb.NeighbourIndex(big, dim, { labels, chunkRows: 256 });
  const got = await index.search(queries, { k, classes });
  const ref = bruteForce(big, queries, dim, k, "euclidean", (row, q) => labels[row] === classes[q]);
  for (let q = 0; q < Q; q++) {
    assert.deepEqual(Array.from(got.indices.subarray(q * k, (q + 1) * k)), ref.idx[q], `class ${classes[q]}`);
    for (let j = 0; j < k; j++) assert.ok(Math.abs(got.distances[q * k + j] - ref.dist[q][j]) < 1e-4);
  }
  const one = await index.search(queries.subarray(0, dim), { k: 1, classes: 2 });
  assert.equal(labels[one.indices[0]], 2);
});

Deno.test("nearest neighbours: bad k and classes are errors naming them; GPU memory stays flat over many searches", async () => {
  const dim = 8, n = 100;
  const bank = data(n, dim, 3);
  using index = new gb.NeighbourIndex(bank, dim, { labels: Int32Array.from({ length: n }, (_, i) => i % 2) });
  const q = data(1, dim, 4);
  await assert.rejects(() => index.search(q, { k: 129 }), /k = 129 is more than 128/);
  await assert.rejects(() => index.search(q, { k: 101 }), /k = 101 is more than the 100 bank rows/);
  await assert.rejects(
    () => index.search(q, { k: 51, classes: 1 }),
    /k = 51 is more than the 50 bank rows of class 1/,
  );
  await assert.rejects(() => index.search(q, { k: 1, classes: 3 }), /no bank row has class 3/);
  await assert.rejects(() => index.search(q.subarray(1), { k: 1 }), /Q × 8/);
  assert.throws(() => new gb.NeighbourIndex(bank, dim, { metric: "manhattan" as "cosine" }), /metric/);
  await index.search(q, { k: 5, classes: 0 }); // builds class 0's bank
  const before = gb.poolStats();
  for (let i = 0; i < 40; i++) {
    await index.search(data(33, dim, 10 + i), { k: 5 });
    await index.search(q, { k: 5, classes: 0 });
  }
  const after = gb.poolStats();
  assert.equal(after.liveBuffers, before.liveBuffers, "live buffers flat");
  assert.equal(after.liveBytes, before.liveBytes, "live bytes flat");
  const live = after.liveBuffers;
  index.dispose();
  assert.ok(gb.poolStats().liveBuffers < live, "dispose frees the bank");
});
