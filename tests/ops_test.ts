import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const unaryCases: [string, (t: gb.Tensor) => gb.Tensor, (x: number) => number, [number, number]?][] = [
  ["neg", gb.neg, (x) => -x],
  ["exp", gb.exp, Math.exp],
  ["log", gb.log, Math.log, [0.2, 3]],
  ["sqrt", gb.sqrt, Math.sqrt, [0.2, 3]],
  ["abs", gb.abs, Math.abs],
  ["relu", gb.relu, (x) => Math.max(x, 0)],
  ["sigmoid", gb.sigmoid, sigmoid, [-6, 6]],
  ["tanh", gb.tanh, Math.tanh, [-3, 3]],
  ["gelu", gb.gelu, (x) => 0.5 * x * (1 + ref.erf(x / Math.SQRT2)), [-3, 3]],
  ["leakyRelu", (t) => gb.leakyRelu(t, 0.1), (x) => (x > 0 ? x : 0.1 * x)],
  ["add scalar", (t) => gb.add(t, 2.5), (x) => x + 2.5],
  ["mul scalar", (t) => gb.mul(t, -3), (x) => -3 * x],
  ["div scalar", (t) => gb.div(t, 4), (x) => x / 4],
  ["scalar div", (t) => gb.div(2, t), (x) => 2 / x, [0.5, 2]],
  ["pow 3", (t) => gb.pow(t, 3), (x) => x ** 3],
  ["pow 0.5", (t) => gb.pow(t, 0.5), (x) => x ** 0.5, [0.3, 2]],
];

for (const [name, g, f, range] of unaryCases) {
  Deno.test(`unary ${name} matches the CPU reference and finite differences`, async () => {
    for (const shape of [[7], [3, 5], [1, 1], [2, 3, 37], [4, 6]]) { // [4, 6]: the vec4 path
      await checkOp({ name, shapes: [shape], gpu: g, cpu: (a) => ref.unary(a, f), range });
    }
  });
}

const binaryCases: [
  string,
  (a: gb.Tensor, b: gb.Tensor) => gb.Tensor,
  (x: number, y: number) => number,
  [number, number]?,
][] = [
  ["add", gb.add, (x, y) => x + y],
  ["sub", gb.sub, (x, y) => x - y],
  ["mul", gb.mul, (x, y) => x * y],
  ["div", gb.div, (x, y) => x / y, [0.5, 2]],
  ["pow", gb.pow, (x, y) => x ** y, [0.5, 2]],
];
const broadcastShapes = [
  [[3, 5], [3, 5]],
  [[4, 6], [4, 6]], // same shape, a multiple of 4: the vec4 path
  [[3, 5], [5]],
  [[3, 1], [1, 5]],
  [[2, 3, 4], [3, 1]],
  [[1], [4, 3]],
  [[5, 1, 7], [1, 3, 1]],
];
for (const [name, g, f, range] of binaryCases) {
  Deno.test(`binary ${name} broadcasts and matches the CPU reference and finite differences`, async () => {
    for (const shapes of broadcastShapes) {
      await checkOp({
        name: `${name} ${JSON.stringify(shapes)}`,
        shapes,
        gpu: g,
        cpu: (a, b) => ref.binary(a, b, f),
        range,
      });
    }
  });
}

Deno.test("sum and mean over axes, all, keepdim", async () => {
  const cases: [number[], number[] | undefined, boolean][] = [
    [[3, 4], undefined, false],
    [[3, 4], [0], false],
    [[3, 4], [1], true],
    [[2, 3, 5], [0, 2], false],
    [[2, 3, 5], [1, 2], false],
    [[4, 1, 3], [1], false],
    [[1000], undefined, false],
    [[3, 700], [1], false],
  ];
  for (const [shape, axes, keep] of cases) {
    await checkOp({
      name: `sum ${shape} ${axes}`,
      shapes: [shape],
      gpu: (x) => gb.sum(x, axes, keep),
      cpu: (a) => ref.sumAxes(a, axes, keep),
    });
    const n = axes ? axes.reduce((p, ax) => p * shape[ax], 1) : ref.size(shape);
    await checkOp({
      name: `mean ${shape} ${axes}`,
      shapes: [shape],
      gpu: (x) => gb.mean(x, axes, keep),
      cpu: (a) => ref.unary(ref.sumAxes(a, axes, keep), (v) => v / n),
    });
  }
});

Deno.test("max over an axis, its gradient, and argmax", async () => {
  for (
    const [shape, axis] of [[[4, 6], 1], [[4, 6], 0], [[2, 3, 5], 1], [[3, 600], 1]] as [number[], number][]
  ) {
    await checkOp({
      name: `max ${shape} ${axis}`,
      shapes: [shape],
      gpu: (x) => gb.max(x, axis),
      cpu: (a) => ref.maxAxis(a, axis),
    });
  }
  const x = gb.tensor([[1, 9, 3], [7, 2, 7], [-5, -1, -3]]);
  assertEq(Array.from(await gb.argmax(x, 1).toArray()), [1, 0, 1]);
  assertEq(Array.from(await gb.argmax(x, 0).toArray()), [1, 0, 1]);
  assertEq(await gb.max(x).item(), 9);
  const big = new Float32Array(5000).map((_, i) => Math.sin(i));
  big[4321] = 3;
  assertEq(Array.from(await gb.argmax(gb.tensor(big)).toArray()), [4321]);
});

function assertEq(a: unknown, b: unknown) {
  if (JSON.stringify(a) !== JSON.stringify(b)) {
    throw new Error(`expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
  }
}

Deno.test("matmul: shapes off the tile grid, batches, broadcasting, vectors", async () => {
  const cases: number[][][] = [
    [[3, 5], [5, 7]],
    [[1, 1], [1, 1]],
    [[17, 33], [33, 9]],
    [[64, 100], [100, 10]],
    [[2, 5, 6], [2, 6, 3]],
    [[4, 3, 5], [5, 2]],
    [[3, 5], [2, 5, 4]],
    [[5], [5, 3]],
    [[3, 5], [5]],
    [[40, 24], [24, 50]],
  ];
  for (const shapes of cases) {
    await checkOp({
      name: `matmul ${JSON.stringify(shapes)}`,
      shapes,
      gpu: gb.matmul,
      cpu: (a, b) => {
        const a2 = a.shape.length === 1 ? { ...a, shape: [1, a.shape[0]] } : a;
        const b2 = b.shape.length === 1 ? { ...b, shape: [b.shape[0], 1] } : b;
        const r = ref.matmul(a2, b2);
        let shape = r.shape;
        if (a.shape.length === 1) shape = shape.filter((_, i) => i !== shape.length - 2);
        if (b.shape.length === 1) shape = shape.slice(0, -1);
        return { data: r.data, shape };
      },
      rtol: 1e-4,
      atol: 1e-4,
    });
  }
});

Deno.test("matmul: large shapes (16×16 register tiles, ragged edges) match the CPU reference", async () => {
  const r = ref.rng(7);
  for (const [m, k, n] of [[300, 70, 261], [257, 129, 255], [1, 300, 1000]]) {
    const a = ref.randArr([m, k], r), b = ref.randArr([k, n], r);
    a.data = a.data.map(Math.fround);
    b.data = b.data.map(Math.fround);
    const got = await gb.matmul(
      gb.tensor(Float32Array.from(a.data), [m, k]),
      gb.tensor(Float32Array.from(b.data), [k, n]),
    ).toArray();
    ref.assertClose(got, ref.matmul(a, b).data, { rtol: 1e-4, atol: 1e-4, msg: `matmul ${m}x${k}x${n}` });
  }
});

Deno.test("linear (x·Wᵀ + b) matches the CPU reference and finite differences", async () => {
  for (const [b, i, o] of [[4, 3, 2], [64, 100, 10], [5, 10, 1], [1, 7, 13]]) {
    await checkOp({
      name: `linear ${b}x${i}->${o}`,
      shapes: [[b, i], [o, i], [o]],
      gpu: (x, w, bias) => gb.linear(x, w, bias),
      cpu: (x, w, bias) => ref.binary(ref.matmul(x, ref.permute(w, [1, 0])), bias, (p, q) => p + q),
    });
  }
});

Deno.test("softmax and logSoftmax: reference, gradients, rows sum to 1, no overflow at 1e4", async () => {
  for (
    const [shape, axis] of [[[4, 7], 1], [[4, 7], 0], [[2, 3, 5], 1], [[1, 1], 1]] as [number[], number][]
  ) {
    await checkOp({
      name: `softmax ${shape}`,
      shapes: [shape],
      gpu: (x) => gb.softmax(x, axis),
      cpu: (a) => ref.softmax(a, axis),
    });
    await checkOp({
      name: `logSoftmax ${shape}`,
      shapes: [shape],
      gpu: (x) => gb.logSoftmax(x, axis),
      cpu: (a) => ref.softmax(a, axis, true),
    });
  }
  const big = gb.tensor([[1e4, 0, -1e4], [1e4, 1e4, 1e4]]);
  const p = await gb.softmax(big, 1).toArray();
  ref.assertClose(p, [1, 0, 0, 1 / 3, 1 / 3, 1 / 3], { msg: "softmax of 1e4" });
  const lp = await gb.logSoftmax(big, 1).toArray();
  ref.assertClose(lp, [0, -1e4, -2e4, -Math.log(3), -Math.log(3), -Math.log(3)], {
    msg: "logSoftmax of 1e4",
    rtol: 1e-6,
  });
  const rows = await gb.sum(gb.softmax(gb.randn([50, 31]), 1), 1).toArray();
  ref.assertClose(rows, new Array(50).fill(1), { msg: "softmax rows sum to 1" });
});

Deno.test("shape ops: reshape, permute, transpose, expand, slice, concat", async () => {
  await checkOp({
    name: "reshape",
    shapes: [[2, 6]],
    gpu: (x) => gb.reshape(x, [3, -1, 2]),
    cpu: (a) => ({ data: a.data, shape: [3, 2, 2] }),
  });
  await checkOp({
    name: "permute",
    shapes: [[2, 3, 4]],
    gpu: (x) => gb.permute(x, [2, 0, 1]),
    cpu: (a) => ref.permute(a, [2, 0, 1]),
  });
  await checkOp({
    name: "transpose",
    shapes: [[5, 3]],
    gpu: (x) => gb.transpose(x),
    cpu: (a) => ref.permute(a, [1, 0]),
  });
  await checkOp({
    name: "expand",
    shapes: [[3, 1]],
    gpu: (x) => gb.expand(x, [2, 3, 4]),
    cpu: (a) => ref.binary(a, { data: new Float64Array(24), shape: [2, 3, 4] }, (p) => p),
  });
  await checkOp({
    name: "slice",
    shapes: [[5, 3]],
    gpu: (x) => gb.slice(x, 1, 4),
    cpu: (a) => ({ data: a.data.slice(3, 12), shape: [3, 3] }),
  });
  await checkOp({
    name: "concat axis 1",
    shapes: [[2, 3], [2, 2]],
    gpu: (a, b) => gb.concat([a, b], 1),
    cpu: (a, b) => ({
      data: Float64Array.from([
        ...a.data.slice(0, 3),
        ...b.data.slice(0, 2),
        ...a.data.slice(3),
        ...b.data.slice(2),
      ]),
      shape: [2, 5],
    }),
  });
  await checkOp({
    name: "concat axis 0",
    shapes: [[1, 3], [2, 3]],
    gpu: (a, b) => gb.concat([a, b], 0),
    cpu: (a, b) => ({ data: Float64Array.from([...a.data, ...b.data]), shape: [3, 3] }),
  });
});

Deno.test("losses: crossEntropy (with label smoothing), mse, binaryCrossEntropyWithLogits", async () => {
  const targets = [2, 0, 4, 4, 1];
  for (const eps of [0, 0.1]) {
    await checkOp({
      name: `crossEntropy eps=${eps}`,
      shapes: [[5, 6]],
      range: [-3, 3],
      gpu: (x) =>
        gb.crossEntropy(x, gb.tensor(targets, undefined, { dtype: "int32" }), { labelSmoothing: eps }),
      cpu: (a) => ({ data: Float64Array.of(ref.crossEntropy(a, targets, eps)), shape: [] }),
    });
  }
  await checkOp({
    name: "mse",
    shapes: [[4, 3], [4, 3]],
    gpu: gb.mse,
    cpu: (a, b) => ({
      data: Float64Array.of(ref.binary(a, b, (p, q) => (p - q) ** 2).data.reduce((s, v) => s + v, 0) / 12),
      shape: [],
    }),
  });
  await checkOp({
    name: "bce with logits",
    shapes: [[6, 1], [6, 1]],
    range: [-4, 4],
    noGrad: [1],
    gpu: (x, y) => gb.binaryCrossEntropyWithLogits(x, gb.sigmoid(y)),
    cpu: (x, y) => {
      const t = ref.unary(y, (v) => 1 / (1 + Math.exp(-v)));
      const l = ref.binary(x, t, (a, b) => Math.max(a, 0) - a * b + Math.log(1 + Math.exp(-Math.abs(a))));
      return { data: Float64Array.of(l.data.reduce((s, v) => s + v, 0) / 6), shape: [] };
    },
  });
  // large logits stay finite
  const l = await gb.crossEntropy(gb.tensor([[1e4, 0, -1e4]]), gb.tensor([1], undefined, { dtype: "int32" }))
    .item();
  ref.assertClose([l], [1e4], { rtol: 1e-6, msg: "cross-entropy of large logits" });
});

Deno.test("matmul and linear at the 8×8 register tile: forward and backward, with and without bias and batch", async () => {
  // 88×80 output (and dA 88×96, dB 96×80) have 64..127 tiles of 8×8 and < 128 of 16×16: all on the 8×8 tile
  for (const shapes of [[[88, 96], [96, 80]], [[2, 64, 64], [2, 64, 64]]]) {
    await checkOp({
      name: `matmul ${JSON.stringify(shapes)}`,
      shapes,
      gpu: gb.matmul,
      cpu: (a, b) => ref.matmul(a, b),
      rtol: 1e-4,
      atol: 1e-4,
      sample: 12,
    });
  }
  await checkOp({
    name: "linear 88x96 -> 80 with bias",
    shapes: [[88, 96], [80, 96], [80]],
    gpu: (x, w, b) => gb.linear(x, w, b),
    cpu: (x, w, b) => ref.binary(ref.matmul(x, ref.permute(w, [1, 0])), b, (p, q) => p + q),
    rtol: 1e-4,
    atol: 1e-4,
    sample: 12,
  });
});

Deno.test("matmul and linear at the 16×16 register tile: forward and backward, with and without bias and batch", async () => {
  // every product here (forward, dA = G·Bᵀ, dB = Aᵀ·G) has >= 128 tiles of 16×16, so all run on that tile
  const mm = (a: ref.Arr, b: ref.Arr) => ref.matmul(a, b);
  for (const shapes of [[[192, 160], [160, 200]], [[2, 128, 144], [2, 144, 128]]]) {
    await checkOp({
      name: `matmul ${JSON.stringify(shapes)}`,
      shapes,
      gpu: gb.matmul,
      cpu: mm,
      rtol: 1e-4,
      atol: 1e-4,
      sample: 12,
    });
  }
  for (const bias of [true, false]) {
    await checkOp({
      name: `linear 176x208 -> 192, bias ${bias}`,
      shapes: bias ? [[176, 208], [192, 208], [192]] : [[176, 208], [192, 208]],
      gpu: (x, w, b) => gb.linear(x, w, b ?? null),
      cpu: (x, w, b) => {
        const y = ref.matmul(x, ref.permute(w, [1, 0]));
        return b ? ref.binary(y, b, (p, q) => p + q) : y;
      },
      rtol: 1e-4,
      atol: 1e-4,
      sample: 12,
    });
  }
});

Deno.test("pow follows PyTorch: NaN for a negative base with a fractional exponent, 0^a, x^0, a tensor exponent", async () => {
  const x = gb.tensor([-8, -2, 0, 2, 4], undefined, { requiresGrad: true });
  const got = Array.from(await gb.pow(x, 1 / 3).toArray());
  if (!Number.isNaN(got[0]) || !Number.isNaN(got[1])) throw new Error(`(-8)^(1/3) should be NaN, got ${got}`);
  ref.assertClose(got.slice(2), [0, 2 ** (1 / 3), 4 ** (1 / 3)], { rtol: 1e-6, msg: "pow 1/3" });
  const [g] = gb.grad(gb.pow(x, 0.5).sum(), [x]);
  const ga = Array.from(await g.toArray());
  if (!Number.isNaN(ga[0]) || !Number.isNaN(ga[1])) throw new Error(`gradient should be NaN, got ${ga}`);
  if (ga[2] !== Infinity) throw new Error(`d/dx x^0.5 at 0 should be +Inf, got ${ga[2]}`);
  ref.assertClose(ga.slice(3), [0.5 / Math.SQRT2, 0.25], { rtol: 1e-6, msg: "d/dx x^0.5" });
  const [g0] = gb.grad(gb.pow(x, 0).sum(), [x]);
  ref.assertClose(await g0.toArray(), [0, 0, 0, 0, 0], { atol: 0, msg: "d/dx x^0 is 0, also at 0" });
  ref.assertClose(await gb.pow(x, 3).toArray(), [-512, -8, 0, 8, 64], {
    rtol: 1e-6,
    msg: "odd integer power",
  });
  // a tensor exponent, with negative bases and integer exponents, and gradients for both
  await checkOp({
    name: "pow with a tensor exponent (integers, negative bases)",
    shapes: [[6], [6]],
    gpu: (a, b) => gb.pow(a, gb.tensor([2, 3, 1, 2, 3, 4])).add(b.mul(0)),
    cpu: (a, b) => ({ data: a.data.map((v, i) => v ** [2, 3, 1, 2, 3, 4][i] + 0 * b.data[i]), shape: [6] }),
    range: [-2, 2],
  });
  const fr = await gb.pow(gb.tensor([-2, 2]), gb.tensor([0.5, 0.5])).toArray();
  if (!Number.isNaN(fr[0]) || Math.abs(fr[1] - Math.SQRT2) > 1e-6) throw new Error(`tensor pow: ${fr}`);
});

Deno.test("crossEntropy keeps the low digits at logits near 1e4; sum and none reductions", async () => {
  // loss = log(1 + e^-1 + e^-3); in the m + log(s) - x_t form the 1e4 swallows ~5e-4 of it
  const want = Math.log(1 + Math.exp(-1) + Math.exp(-3));
  const logits = gb.tensor([[1e4, 1e4 - 1, 1e4 - 3]], undefined, { requiresGrad: true });
  const t = gb.tensor([0], undefined, { dtype: "int32" });
  const loss = gb.crossEntropy(logits, t);
  ref.assertClose([await loss.item()], [want], { rtol: 0, atol: 2e-6, msg: "cross-entropy near 1e4" });
  const [g] = gb.grad(loss, [logits]);
  const z = 1 + Math.exp(-1) + Math.exp(-3);
  ref.assertClose(await g.toArray(), [1 / z - 1, Math.exp(-1) / z, Math.exp(-3) / z], {
    atol: 1e-6,
    msg: "gradient near 1e4",
  });
  const targets = [2, 0, 4, 1];
  for (const reduction of ["sum", "none"] as const) {
    await checkOp({
      name: `crossEntropy reduction ${reduction}`,
      shapes: [[4, 5]],
      range: [-3, 3],
      gpu: (x) => gb.crossEntropy(x, gb.tensor(targets, undefined, { dtype: "int32" }), { reduction }),
      cpu: (a) => {
        const rows = targets.map((tg, n) =>
          ref.crossEntropy({ data: a.data.slice(n * 5, n * 5 + 5), shape: [1, 5] }, [tg])
        );
        return reduction === "sum"
          ? { data: Float64Array.of(rows.reduce((p, q) => p + q, 0)), shape: [] }
          : { data: Float64Array.from(rows), shape: [4] };
      },
    });
  }
});

Deno.test("max with ties: the value, and the gradient to the first maximal element only", async () => {
  const x = gb.tensor([[3, 1, 3], [2, 2, 2], [0, 5, 5]], undefined, { requiresGrad: true });
  const y = gb.max(x, 1);
  ref.assertClose(await y.toArray(), [3, 2, 5], { atol: 0, msg: "max with ties" });
  const [g] = gb.grad(y.sum(), [x]);
  ref.assertClose(await g.toArray(), [1, 0, 0, 1, 0, 0, 0, 1, 0], { atol: 0, msg: "max gradient with ties" });
  const nan = await gb.max(gb.tensor([1, NaN, 3])).item();
  if (!Number.isNaN(nan)) throw new Error(`max should propagate NaN, got ${nan}`);
});
