/**
 * The conv chain (src/nn/sequential.ts → conv2dFusedChain → convGemmChain): a Sequential whose
 * fused Conv2d → act (→ MaxPool2d) run is followed by another has the first write the second's
 * packed input directly (the intermediate is never a tensor). Checked against a float64 reference
 * for the variants the chain takes (odd sizes, padding and stride of the second conv, overlapping
 * column blocks, vec4 and scalar stores, a partial channel tile) and the fusion-off composition;
 * and that it steps aside where it must (gradients, a hook, fusion off), with the same numbers.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { convGemmChain } from "../src/tensor/ops/conv_gemm.ts";
import * as ref from "./cpu_ref.ts";

/** Runs `fn` on the "cpu" kernel path with the implicit-GEMM kernel forced for these small shapes. */
async function chainable<T>(fn: () => Promise<T>): Promise<T> {
  const before = gb.gpuSettings();
  gb.configureGpu({ specialise: "always", kernels: "cpu", fusion: true });
  try {
    return await fn();
  } finally {
    gb.configureGpu({ specialise: before.specialise, kernels: before.kernels, fusion: before.fusion });
  }
}

type Act = "relu" | "leakyRelu";
/** One Conv2d → act (→ MaxPool2d(2)) run: Cin, Cout, kernel, stride, padding, act, pool. */
type Run = [number, number, number, number, number, Act, boolean];
const SLOPE = 0.1;

function layers([cin, cout, k, stride, padding, act, pool]: Run): gb.Module[] {
  const m: gb.Module[] = [new gb.Conv2d(cin, cout, k, { stride, padding })];
  m.push(act === "relu" ? new gb.ReLU() : new gb.LeakyReLU(SLOPE));
  if (pool) m.push(new gb.MaxPool2d(2));
  return m;
}

async function refRun(
  x: ref.Arr,
  conv: gb.Conv2d,
  [, , , stride, padding, act, pool]: Run,
): Promise<ref.Arr> {
  const w = ref.arr(await conv.weight.toArray(), [...conv.weight.shape]);
  const b = ref.arr(await conv.bias!.toArray(), [...conv.bias!.shape]);
  let z = ref.conv2d(x, w, b, stride, padding, 1);
  z = ref.unary(z, act === "relu" ? (v) => Math.max(v, 0) : (v) => (v > 0 ? v : SLOPE * v));
  return pool ? ref.pool2d(z, 2, 2, 0, "max") : z;
}

const r = ref.rng(2121);

/**
 * Leaves a released buffer of 7s in every pool size class up to 1 MB, so a buffer the chain takes
 * from the pool is not zeros by luck (its padding must be zeroed on purpose).
 */
function soil() {
  for (let bytes = 16; bytes <= 1 << 20; bytes = Math.ceil(bytes * 1.25 / 16) * 16) {
    gb.full([bytes / 4], 7).dispose();
  }
}

// input shape, first run, second run
const CASES: [number[], Run, Run, string][] = [
  [
    [3, 1, 14, 13],
    [1, 8, 3, 1, 0, "relu", true],
    [8, 12, 3, 1, 0, "relu", true],
    "seed-like, odd batch: vec4 rows",
  ],
  [
    [2, 1, 28, 28],
    [1, 8, 3, 1, 0, "relu", true],
    [8, 16, 3, 1, 0, "relu", true],
    "seed shape: conv1 reads its input unpacked",
  ],
  [
    [2, 2, 11, 12],
    [2, 8, 3, 1, 0, "relu", true],
    [8, 4, 3, 1, 0, "relu", false],
    "odd conv rows: conv1 packs (fewer rows than its input)",
  ],
  [
    [2, 1, 16, 15],
    [1, 6, 3, 1, 0, "relu", true],
    [6, 5, 3, 1, 0, "leakyRelu", true],
    "partial channel tiles",
  ],
  [[2, 2, 13, 12], [2, 8, 3, 1, 1, "leakyRelu", true], [8, 4, 3, 1, 1, "relu", true], "second conv padded"],
  [[2, 3, 11, 12], [3, 8, 3, 1, 0, "relu", false], [8, 8, 3, 2, 1, "relu", true], "no pool first, stride 2"],
  [
    [2, 1, 9, 42],
    [1, 4, 3, 1, 1, "relu", false],
    [4, 8, 3, 1, 0, "relu", false],
    "overlapping column blocks",
  ],
  [
    [2, 1, 12, 80],
    [1, 4, 3, 1, 0, "relu", true],
    [4, 8, 3, 1, 0, "relu", true],
    "wide pooled: 3 blocks each",
  ],
];

Deno.test("a Sequential of two fused conv runs chains them: vs float64 and vs fusion off", () =>
  chainable(async () => {
    for (const [xs, a, b, what] of CASES) {
      const net = new gb.Sequential(...layers(a), ...layers(b));
      net.eval();
      const xa = ref.randArr(xs, r);
      const x = gb.tensor(Float32Array.from(xa.data), xs);
      soil();
      const y = gb.noGrad(() => net.forward(x));
      assert.match(y._op, /\(chained\)/, `${what}: the chain was not taken`);
      const convs = net.layers.filter((m) => m instanceof gb.Conv2d) as gb.Conv2d[];
      const want = await refRun(await refRun(xa, convs[0], a), convs[1], b);
      assert.deepEqual([...y.shape], want.shape, what);
      const got = await y.toArray();
      ref.assertClose(got, want.data, { rtol: 1e-4, atol: 1e-4, msg: `${what}: chained vs float64` });
      gb.configureGpu({ fusion: false });
      const off = await gb.noGrad(() => net.forward(x)).toArray();
      gb.configureGpu({ fusion: true });
      ref.assertClose(got, off, { rtol: 2e-6, atol: 2e-6, msg: `${what}: chained vs fusion off` });
      // a second forward reuses the kept transposed weights; a weight update must be seen
      ref.assertClose(await gb.noGrad(() => net.forward(x)).toArray(), got, { rtol: 0, atol: 0, msg: what });
      const w2 = convs[1].weight;
      gb.noGrad(() => w2.copy_(gb.mul(w2, 2)));
      const scaled = await refRun(await refRun(xa, convs[0], a), convs[1], b);
      const y2 = gb.noGrad(() => net.forward(x));
      ref.assertClose(await y2.toArray(), scaled.data, {
        rtol: 1e-4,
        atol: 1e-4,
        msg: `${what}: after mul_`,
      });
    }
  }));

Deno.test("the conv chain steps aside for gradients, hooks and fusion off, and leaves bad input to the op", () =>
  chainable(async () => {
    const a: Run = [1, 8, 3, 1, 0, "relu", true], b: Run = [8, 4, 3, 1, 0, "relu", true];
    const net = new gb.Sequential(...layers(a), ...layers(b));
    const xa = ref.randArr([2, 1, 12, 12], r);
    const x = gb.tensor(Float32Array.from(xa.data), [2, 1, 12, 12]);
    const convs = net.layers.filter((m) => m instanceof gb.Conv2d) as gb.Conv2d[];
    const want = await refRun(await refRun(xa, convs[0], a), convs[1], b);
    const check = async (y: gb.Tensor, what: string) => {
      assert.doesNotMatch(y._op, /\(chained\)/, `${what}: the chain must step aside`);
      ref.assertClose(await y.toArray(), want.data, { rtol: 1e-4, atol: 1e-4, msg: what });
    };
    // a gradient will be needed (training, parameters require grad)
    await check(net.forward(x), "with gradients");
    net.eval();
    // a hook on the second conv must see its own input
    let seen: number[] = [];
    const h = convs[1].registerForwardPreHook((_m, inputs) => {
      seen = [...inputs[0].shape];
    });
    await check(gb.noGrad(() => net.forward(x)), "with a hook");
    assert.deepEqual(seen, [2, 8, 5, 5]);
    h.remove();
    gb.configureGpu({ fusion: false });
    await check(gb.noGrad(() => net.forward(x)), "fusion off");
    gb.configureGpu({ fusion: true });
    // mismatched channels: the unchained op reports it
    const bad = new gb.Sequential(
      ...layers([1, 8, 3, 1, 0, "relu", true]),
      ...layers([6, 4, 3, 1, 0, "relu", true]),
    );
    bad.eval();
    assert.throws(() => gb.noGrad(() => bad.forward(x)), /matching C/);
  }));

Deno.test("convGemmChain's vec4 rows with two images per tile (an odd batch's lone last image) vs float64", () =>
  chainable(async () => {
    const t = (a: ref.Arr) => gb.tensor(Float32Array.from(a.data), a.shape);
    const xa = ref.randArr([3, 1, 14, 13], r), w1 = ref.randArr([8, 1, 3, 3], r), b1 = ref.randArr([8], r);
    const w2 = ref.randArr([12, 8, 3, 3], r), b2 = ref.randArr([12], r);
    const g1 = { N: 3, C: 1, H: 14, W: 13, Cout: 8, KH: 3, KW: 3, OH: 12, OW: 11, stride: 1, pad: 0, dil: 1 };
    const g2 = { N: 3, C: 8, H: 6, W: 5, Cout: 12, KH: 3, KW: 3, OH: 4, OW: 3, stride: 1, pad: 0, dil: 1 };
    const epi = { activation: "relu" as const, slope: 0, pool: true };
    const relu = (v: number) => Math.max(v, 0);
    const h = ref.pool2d(ref.unary(ref.conv2d(xa, w1, b1, 1, 0, 1), relu), 2, 2, 0, "max");
    const want = ref.pool2d(ref.unary(ref.conv2d(h, w2, b2, 1, 0, 1), relu), 2, 2, 0, "max");
    // TW = 10: one tile is the whole pooled row of 5 (the vec4 store); 8 and 4 channels per tile
    for (const tile of [{ TR: 2, TW: 10, TC: 8, TN: 2 }, { TR: 2, TW: 10, TC: 4, TN: 2 }]) {
      const y = convGemmChain(
        t(xa),
        { weight: t(w1), bias: t(b1), g: g1, epi },
        { weight: t(w2), bias: t(b2), g: g2, epi },
        tile,
      );
      assert.ok(y, "the chain applies");
      assert.deepEqual([...y.shape], want.shape);
      ref.assertClose(await y.toArray(), want.data, {
        rtol: 1e-4,
        atol: 1e-4,
        msg: `tile ${JSON.stringify(tile)}`,
      });
    }
  }));
