/** The ops attribution builds on: gather (target selection), where, bilinear resize, slicing on any axis. */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

function gatherRef(x: ref.Arr, dim: number, idx: number[], idxShape: number[]): ref.Arr {
  const O = x.shape.slice(0, dim).reduce((a, b) => a * b, 1),
    I = x.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const D = x.shape[dim], J = idxShape[dim];
  const out = new Float64Array(O * J * I);
  for (let o = 0; o < O; o++) {
    for (let j = 0; j < J; j++) {
      for (let i = 0; i < I; i++) {
        out[(o * J + j) * I + i] = x.data[(o * D + idx[(o * J + j) * I + i]) * I + i];
      }
    }
  }
  return { data: out, shape: idxShape };
}

Deno.test("gather picks one element per row (target selection), along any axis, with repeated indices", async () => {
  const cases: [number[], number, number[], number[]][] = [
    [[4, 5], 1, [1, 4, 0, 2], [4, 1]], // one target per row
    [[3, 6], 1, [5, 5, 0, 1, 2, 2], [3, 2]], // several targets, one repeated: gradients add
    [[4, 3], 0, [3, 0, 2], [1, 3]],
    [[2, 3, 4], 1, [0, 2, 2, 1, 1, 1, 0, 0], [2, 1, 4]],
  ];
  for (const [shape, dim, idx, idxShape] of cases) {
    await checkOp({
      name: `gather ${shape} dim ${dim} index ${idx}`,
      shapes: [shape],
      gpu: (x) => gb.gather(x, dim, gb.tensor(idx, idxShape, { dtype: "int32" })),
      cpu: (x) => gatherRef(x, dim, idx, idxShape),
    });
  }
  const bad = gb.gather(gb.zeros([2, 3]), 1, gb.tensor([[0], [3]], undefined, { dtype: "int32" }));
  await assert.rejects(() => bad.toArray(), /gather: index 3 is out of range \[0, 3\)/);
  assert.throws(
    () => gb.gather(gb.zeros([2, 3]), 1, gb.tensor([[0, 1, 2]], undefined, { dtype: "int32" })),
    /gather: index \[1, 3\] must match input \[2, 3\] in every dimension but 1/,
  );
});

Deno.test("where chooses elementwise with broadcasting; gradients go to the chosen side; the other side's NaN does not leak", async () => {
  const cond = [1, 0, 0, 1, 1, 0];
  await checkOp({
    name: "where [2,3] cond, [2,3] a, [3] b",
    shapes: [[2, 3], [3]],
    gpu: (a, b) => gb.where(gb.tensor(cond, [2, 3]), a, b),
    cpu: (a, b) => ({
      data: Float64Array.from(cond, (c, i) => (c ? a.data[i] : b.data[i % 3])),
      shape: [2, 3],
    }),
  });
  await checkOp({
    name: "where int32 [3,1] cond, [3,4] a, number b",
    shapes: [[3, 4]],
    gpu: (a) => gb.where(gb.tensor([1, 0, 1], [3, 1], { dtype: "int32" }), a, -2),
    cpu: (a) => ({ data: a.data.map((v, i) => ([1, 0, 1][Math.floor(i / 4)] ? v : -2)), shape: [3, 4] }),
  });
  const x = gb.tensor([4, -1, 9], undefined, { requiresGrad: true });
  const safe = gb.where(x.relu(), x.sqrt(), 0); // sqrt(-1) = NaN is computed but not chosen
  const v = Array.from(await safe.toArray());
  assert.deepEqual(v, [2, 0, 3]);
});

/** Bilinear resize straight from PyTorch's definition, one output pixel at a time (float64). */
function bilinearRef(x: ref.Arr, OH: number, OW: number, align: boolean): ref.Arr {
  const [N, C, H, W] = x.shape;
  const src = (d: number, n: number, o: number) =>
    align ? (o > 1 ? (d * (n - 1)) / (o - 1) : 0) : Math.max(0, ((d + 0.5) * n) / o - 0.5);
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const sy = Math.min(src(oy, H, OH), H - 1), sx = Math.min(src(ox, W, OW), W - 1);
        const y0 = Math.floor(sy),
          x0 = Math.floor(sx),
          y1 = Math.min(y0 + 1, H - 1),
          x1 = Math.min(x0 + 1, W - 1);
        const ly = sy - y0, lx = sx - x0;
        const at = (yy: number, xx: number) => x.data[(p * H + yy) * W + xx];
        out[(p * OH + oy) * OW + ox] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
          ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
      }
    }
  }
  return { data: out, shape: [N, C, OH, OW] };
}

Deno.test("bilinear interpolate matches PyTorch's values and its definition, forward and backward", async () => {
  // torch.nn.functional.interpolate(tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear")
  const small = gb.tensor([[[[1, 2], [3, 4]]]]);
  ref.assertClose(
    await gb.interpolate(small, { size: [4, 4] }).toArray(),
    [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4],
    { atol: 1e-6, msg: "align_corners=False" },
  );
  const t = 1 / 3;
  ref.assertClose(
    await gb.interpolate(small, { size: [4, 4], alignCorners: true }).toArray(),
    [1, 1 + t, 2 - t, 2, 1 + 2 * t, 2, 2 + t, 3 - t, 2 + t, 3 - t, 3, 3 + t, 3, 3 + t, 4 - t, 4],
    { atol: 1e-6, msg: "align_corners=True" },
  );
  for (
    const [shape, OH, OW, align] of [[[2, 3, 5, 4], 12, 9, false], [[1, 2, 7, 7], 28, 28, false], [
      [1, 1, 6, 5],
      4,
      3,
      true,
    ]] as [number[], number, number, boolean][]
  ) {
    await checkOp({
      name: `interpolate ${shape} -> ${OH}x${OW} align ${align}`,
      shapes: [shape],
      gpu: (x) => gb.interpolate(x, { size: [OH, OW], alignCorners: align }),
      cpu: (x) => bilinearRef(x, OH, OW, align),
    });
  }
  ref.assertClose(
    await gb.interpolate(gb.tensor([[[[1, 2], [3, 4]]]]), { scaleFactor: 2, mode: "nearest" }).toArray(),
    [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4],
    { atol: 0, msg: "nearest" },
  );
  assert.throws(() => gb.interpolate(gb.zeros([1, 1, 2, 2]), {}), /interpolate: give size/);
});

Deno.test("slicing on any axis and narrow, forward and backward", async () => {
  const sl = (a: ref.Arr, s: number, e: number, axis: number): ref.Arr => {
    const shape = [...a.shape];
    shape[axis] = e - s;
    const out: number[] = [];
    const st = ref.strides(a.shape);
    for (let k = 0; k < ref.size(shape); k++) {
      let rem = k, off = 0;
      for (let d = shape.length - 1; d >= 0; d--) {
        const i = rem % shape[d];
        rem = Math.floor(rem / shape[d]);
        off += (d === axis ? i + s : i) * st[d];
      }
      out.push(a.data[off]);
    }
    return { data: Float64Array.from(out), shape };
  };
  for (
    const [shape, s, e, axis] of [[[4, 5], 1, 3, 1], [[2, 3, 6], -4, -1, 2], [[3, 4, 2], 0, 2, 1], [
      [5, 2],
      2,
      5,
      0,
    ]] as [number[], number, number, number][]
  ) {
    const n = shape[axis];
    await checkOp({
      name: `slice ${shape} [${s}, ${e}) axis ${axis}`,
      shapes: [shape],
      gpu: (x) => gb.slice(x, s, e, axis),
      cpu: (x) => sl(x, s < 0 ? s + n : s, e < 0 ? e + n : e, axis),
    });
  }
  assert.deepEqual(gb.narrow(gb.zeros([2, 10]), 1, 3, 4).shape, [2, 4]);
  assert.deepEqual(Array.from(await gb.arange(6).reshape([2, 3]).narrow(1, 1, 2).toArray()), [1, 2, 4, 5]);
  assert.throws(
    () => gb.narrow(gb.zeros([2, 10]), 1, 8, 4),
    /narrow: \[8, 8 \+ 4\) is outside dimension 1 of size 10/,
  );
});
