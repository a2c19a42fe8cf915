import assert from "node:assert/strict";
import * as gb from "../mod.ts";

/** CPU reference: indices of each row's k best, ties to the lower index, NaN above every number. */
function refTopk(x: Float32Array, R: number, C: number, k: number, largest: boolean): number[][] {
  const rank = (v: number) => Number.isNaN(v) ? (largest ? Infinity : Infinity) : v;
  return Array.from({ length: R }, (_, r) => {
    const idx = Array.from({ length: C }, (_, c) => c);
    idx.sort((a, b) => {
      const va = x[r * C + a], vb = x[r * C + b];
      const na = Number.isNaN(va), nb = Number.isNaN(vb);
      if (na !== nb) return largest ? (na ? -1 : 1) : (na ? 1 : -1);
      const d = largest ? rank(vb) - rank(va) : rank(va) - rank(vb);
      return d !== 0 && !Number.isNaN(d) ? d : a - b;
    });
    return idx.slice(0, k);
  });
}

async function check(x: Float32Array, shape: number[], k: number, largest: boolean, what: string) {
  const C = shape[shape.length - 1], R = x.length / C;
  const t = gb.tensor(x, shape);
  const [v, i] = gb.topk(t, k, { largest });
  assert.deepEqual(v.shape, [...shape.slice(0, -1), k]);
  const idx = await i.toArray(), val = await v.toArray();
  const ref = refTopk(x, R, C, k, largest);
  for (let r = 0; r < R; r++) {
    assert.deepEqual(Array.from(idx.subarray(r * k, (r + 1) * k)), ref[r], `${what}: row ${r}`);
    for (let j = 0; j < k; j++) assert.ok(Object.is(val[r * k + j], x[r * C + ref[r][j]]), `${what}: value`);
  }
  t.dispose();
  v.dispose();
  i.dispose();
}

Deno.test("topk equals a sorted CPU reference over many chunks and merge levels, largest and smallest", async () => {
  const g = new gb.Generator(7);
  const R = 3, C = 9001; // not a multiple of any chunk length: the last chunk is short
  const x = await gb.randn([R, C], { generator: g }).toArray() as Float32Array;
  // the best of row 1 sits in the very last column, the worst of row 2 too
  x[1 * C + C - 1] = 100;
  x[2 * C + C - 1] = -100;
  for (const k of [1, 5, 64, 128]) {
    await check(x, [R, C], k, true, `largest k=${k}`);
    await check(x, [R, C], k, false, `smallest k=${k}`);
  }
  const [, last] = gb.topk(gb.tensor(x, [R, C]), 1);
  assert.deepEqual(Array.from(await last.toArray()), [
    refTopk(x, 1, C, 1, true)[0][0],
    C - 1,
    refTopk(x.subarray(2 * C), 1, C, 1, true)[0][0],
  ]);
});

Deno.test("topk breaks ties by the lower index across chunks, ranks NaN highest, and works on [B, T, C]", async () => {
  // values 0..3 repeated: every top-k decision is a tie decided by index
  const C = 2000;
  const x = Float32Array.from({ length: 2 * C }, (_, i) => (i * 7) % 4);
  await check(x, [2, C], 50, true, "ties, largest");
  await check(x, [2, C], 50, false, "ties, smallest");
  const n = Float32Array.from([1, NaN, 3, -2, NaN, 0]);
  await check(n, [6], 3, true, "NaN first when largest");
  await check(n, [6], 5, false, "NaN last when smallest");
  const y = Float32Array.from({ length: 2 * 3 * 7 }, (_, i) => Math.sin(i * 3.1));
  await check(y, [2, 3, 7], 7, false, "3-d, k = C");
});

Deno.test("topk: k out of range is an error naming it; values carry gradients to the picked entries", async () => {
  const x = gb.tensor([1, 2, 3]);
  assert.throws(() => gb.topk(x, 4), /k = 4 is more than the 3 entries/);
  assert.throws(() => gb.topk(x, 0), /k must be a positive integer, got 0/);
  assert.throws(() => gb.topk(gb.tensor([1], undefined, { dtype: "int32" }), 1), /float32/);
  const w = gb.tensor([[5, 1, 4], [0, 9, 2]], undefined, { requiresGrad: true });
  const [v] = gb.topk(w, 2);
  await v.mul(gb.tensor([[1, 10], [100, 1000]])).sum().backward();
  assert.deepEqual(Array.from(await w.grad!.toArray()), [1, 0, 10, 0, 100, 1000]);
});

Deno.test("topk on ascending 60,000 values (every candidate inserts): the work per invocation stays bounded", async () => {
  const C = 60000;
  const x = Float32Array.from({ length: C }, (_, i) => i);
  for (const k of [8, 128]) {
    const [v, i] = gb.topk(gb.tensor(x, [1, C]), k);
    const want = Array.from({ length: k }, (_, j) => C - 1 - j);
    assert.deepEqual(Array.from(await i.toArray()), want, `k=${k}`);
    assert.deepEqual(Array.from(await v.toArray()), want);
  }
  assert.throws(() => gb.topk(gb.tensor(x, [1, C]), 129), /limit of 128/);
});
