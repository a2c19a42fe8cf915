/**
 * conv2dFused (conv + bias → activation → 2×2 max pool as one op) and the Sequential fusion rule:
 * against float64 CPU references (forward, and every gradient by finite differences), against the
 * unfused composition, with the fusion switch off, and with a hook that must make fusion step aside.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

type Act = "relu" | "leakyRelu" | "none";

/**
 * Runs `fn` with the implicit-GEMM kernel forced for every shape (configureGpu({ specialise:
 * "always" })): under "auto" these small shapes take the generic im2col kernels, which
 * tests/conv_test.ts covers.
 */
async function specialised<T>(fn: () => Promise<T>): Promise<T> {
  const before = gb.gpuSettings().specialise;
  gb.configureGpu({ specialise: "always" });
  try {
    return await fn();
  } finally {
    gb.configureGpu({ specialise: before });
  }
}
const SLOPE = 0.1;

function refFused(x: ref.Arr, w: ref.Arr, b: ref.Arr | null, s: number, p: number, act: Act, pool: boolean) {
  let z = ref.conv2d(x, w, b, s, p, 1);
  if (act === "relu") z = ref.unary(z, (v) => Math.max(v, 0));
  if (act === "leakyRelu") z = ref.unary(z, (v) => (v > 0 ? v : SLOPE * v));
  return pool ? ref.pool2d(z, 2, 2, 0, "max") : z;
}

// x shape, w shape, stride, padding, activation, pool: odd sizes, padding, stride, C = 1, batch 1
const CASES: [number[], number[], number, number, Act, boolean][] = [
  [[2, 3, 9, 8], [5, 3, 3, 3], 1, 0, "relu", true], // odd conv output 7×6: the last row is dropped
  [[1, 1, 12, 12], [8, 1, 3, 3], 1, 1, "relu", true], // C = 1, batch 1, padding
  [[3, 4, 11, 10], [6, 4, 3, 3], 2, 1, "leakyRelu", true], // stride 2, Cout not a multiple of 4
  [[2, 2, 7, 7], [4, 2, 2, 2], 1, 0, "none", true],
  [[2, 3, 6, 7], [17, 3, 3, 3], 1, 1, "relu", false], // Cout = 17: a partial channel tile
  [[1, 2, 8, 5], [3, 2, 5, 3], 1, 2, "leakyRelu", false],
];

Deno.test("conv2dFused forward and gradients (x, weight, bias) vs float64 references and finite differences", () =>
  specialised(async () => {
    for (const [xs, ws, stride, padding, activation, pool] of CASES) {
      const name = `conv2dFused x${xs} w${ws} s${stride} p${padding} ${activation} pool ${pool}`;
      const opts = { stride, padding, activation, pool, slope: SLOPE };
      // autograd path (conv2d node + epilogue node): forward and every gradient
      await checkOp({
        name,
        shapes: [xs, ws, [ws[0]]],
        gpu: (x, w, b) => gb.conv2dFused(x, w, b, opts),
        cpu: (x, w, b) => refFused(x, w, b, stride, padding, activation, pool),
        rtol: 1e-4,
        atol: 1e-4,
        sample: 24,
      });
      // inference path (one kernel) and the unfused composition, on the same inputs
      const r = ref.rng(7);
      const [x, w, b] = [xs, ws, [ws[0]]].map((s) => ref.randArr(s, r));
      const [tx, tw, tb] = [x, w, b].map((a) => gb.tensor(Float32Array.from(a.data), a.shape));
      const want = refFused(x, w, b, stride, padding, activation, pool).data;
      const fused = await gb.noGrad(() => gb.conv2dFused(tx, tw, tb, opts)).toArray();
      ref.assertClose(fused, want, { rtol: 1e-4, atol: 1e-4, msg: `${name} inference` });
      gb.configureGpu({ fusion: false });
      try {
        const plain = await gb.noGrad(() => gb.conv2dFused(tx, tw, tb, opts)).toArray();
        ref.assertClose(plain, fused, { rtol: 1e-5, atol: 1e-5, msg: `${name} fusion off` });
      } finally {
        gb.configureGpu({ fusion: true });
      }
      // the generic side (what "auto" runs at these sizes): the composition on im2col + matmul
      gb.configureGpu({ specialise: "never" });
      try {
        const generic = await gb.noGrad(() => gb.conv2dFused(tx, tw, tb, opts)).toArray();
        ref.assertClose(generic, want, { rtol: 1e-4, atol: 1e-4, msg: `${name} specialise never` });
      } finally {
        gb.configureGpu({ specialise: "always" });
      }
      [tx, tw, tb].forEach((t) => t.dispose());
    }
  }));

Deno.test("conv2dFused at the seed CNN's shapes, batch 64: inference, and gradients against the unfused composition on the im2col kernels", async () => {
  gb.manualSeed(3);
  for (const [c, h, co] of [[1, 28, 32], [32, 13, 64]]) {
    await gb.scope(async () => {
      const x = gb.randn([64, c, h, h], { requiresGrad: true });
      const w = gb.randn([co, c, 3, 3], { requiresGrad: true }).mul(0.2).detach().requiresGrad_(true);
      const b = gb.randn([co], { requiresGrad: true });
      // the unfused composition on the other kernel family (im2col + matmul): independent of conv_gemm.wgsl
      const kernels = gb.gpuSettings().kernels;
      gb.configureGpu({ kernels: "gpu" });
      let unfused: gb.Tensor;
      try {
        unfused = gb.maxPool2d(gb.relu(gb.conv2d(x, w, b)), 2);
      } finally {
        gb.configureGpu({ kernels });
      }
      const inf = gb.noGrad(() => gb.conv2dFused(x, w, b, { pool: true }));
      const want = await unfused.toArray();
      ref.assertClose(await inf.toArray(), want, { rtol: 1e-5, atol: 1e-5, msg: `inference ${c}→${co}` });
      const fused = gb.conv2dFused(x, w, b, { pool: true });
      ref.assertClose(await fused.toArray(), want, {
        rtol: 1e-5,
        atol: 1e-5,
        msg: `autograd path ${c}→${co}`,
      });
      const gy = gb.randn(fused.shape);
      const g1 = gb.grad(fused, [x, w, b], gy), g2 = gb.grad(unfused, [x, w, b], gy);
      for (const [i, what] of ["x", "weight", "bias"].entries()) {
        ref.assertClose(await g1[i].toArray(), await g2[i].toArray(), {
          rtol: 1e-4,
          atol: 1e-4,
          msg: `d${what} ${c}→${co}`,
        });
      }
    });
  }
});

/** The kernels a seed CNN forward pass launches, by "shader:entry", with counts. */
async function kernelsOf(
  model: gb.Module,
  x: gb.Tensor,
): Promise<{ counts: Map<string, number>; out: Float32Array }> {
  const p = await gb.profile(() => gb.noGrad(() => model.forward(x)).toArray());
  const counts = new Map<string, number>();
  for (const e of p.events) {
    counts.set(`${e.shader}:${e.entry}`, (counts.get(`${e.shader}:${e.entry}`) ?? 0) + 1);
  }
  return { counts, out: p.result as Float32Array };
}

Deno.test("Sequential fuses conv → relu → maxPool runs; fusion off runs every op alone; a hook makes fusion step aside", () =>
  specialised(async () => {
    gb.manualSeed(5);
    const model = gb.seedCnn().eval();
    const x = gb.randn([8, 1, 28, 28]);
    const on = await kernelsOf(model, x);
    // both conv → relu → pool runs are one kernel each: no pool or relu kernel besides the dense layer's relu
    assert.equal(on.counts.get("conv_gemm:forward"), 2);
    assert.equal(on.counts.get("pool:max_fwd"), undefined);
    assert.equal(on.counts.get("unary:main"), 1);
    gb.configureGpu({ fusion: false });
    let off;
    try {
      off = await kernelsOf(model, x);
    } finally {
      gb.configureGpu({ fusion: true });
    }
    assert.equal(off.counts.get("pool:max_fwd"), 2);
    assert.equal(off.counts.get("unary:main"), 3);
    ref.assertClose(on.out, off.out, { rtol: 1e-5, atol: 1e-5, msg: "fused vs unfused logits" });

    // a hook on the second conv: it must see that layer's own output (not fused); the first run still fuses
    let seen: number[] | null = null;
    const h = model.get("3").registerForwardHook((_m, _i, out) => void (seen = [...out.shape]));
    try {
      const hooked = await kernelsOf(model, x);
      assert.deepEqual(seen, [8, 64, 11, 11]);
      assert.equal(hooked.counts.get("pool:max_fwd"), 1);
      ref.assertClose(hooked.out, off.out, { rtol: 1e-5, atol: 1e-5, msg: "hooked vs unfused logits" });
    } finally {
      h.remove();
    }
    assert.deepEqual(model.get("3").hookCounts(), { forwardPre: 0, forward: 0, backward: 0 });
    x.dispose();
  }));

Deno.test("a fused Sequential trains like the unfused one: same loss and parameter gradients; intermediates freed", async () => {
  const grads = async (fusion: boolean) => {
    gb.manualSeed(9);
    const model = gb.seedCnn();
    const x = gb.randn([4, 1, 28, 28]);
    const y = gb.tensor([1, 2, 3, 4], [4], { dtype: "int32" });
    gb.configureGpu({ fusion });
    try {
      const out: Float32Array[] = [];
      await gb.scope(async () => {
        const loss = gb.crossEntropy(model.forward(x), y);
        await loss.backward();
        out.push(await loss.toArray() as Float32Array);
      });
      for (const p of model.parameters()) out.push(await p.grad!.toArray() as Float32Array);
      return out;
    } finally {
      gb.configureGpu({ fusion: true });
      model.parameters().forEach((p) => p.dispose());
      x.dispose();
      y.dispose();
    }
  };
  const before = gb.poolStats();
  const fused = await specialised(() => grads(true)), plain = await grads(false);
  fused.forEach((g, i) => ref.assertClose(g, plain[i], { rtol: 1e-4, atol: 1e-5, msg: `tensor ${i}` }));
  await gb.settle();
  const after = gb.poolStats();
  assert.equal(after.liveBuffers, before.liveBuffers, "every buffer of the two training steps was returned");
});

Deno.test("a Sequential fuses only the exact Conv2d, ReLU and MaxPool2d classes: a subclass's own forward runs", async () => {
  class DoubledReLU extends gb.ReLU {
    override forward(x: gb.Tensor): gb.Tensor {
      return super.forward(x).mul(2);
    }
  }
  class MeanPool extends gb.MaxPool2d {
    override forward(x: gb.Tensor): gb.Tensor {
      return gb.avgPool2d(x, 2);
    }
  }
  gb.manualSeed(5);
  const x = gb.randn([2, 3, 8, 8]);
  for (const layers of [[new DoubledReLU(), new gb.MaxPool2d(2)], [new gb.ReLU(), new MeanPool(2)]]) {
    const model = new gb.Sequential(new gb.Conv2d(3, 4, 3), ...layers).eval();
    const whole = await gb.noGrad(() => model.forward(x)).toArray();
    // the layers one at a time (no container, so no fusion): what the model must compute
    let y = x;
    for (const m of model.layers) y = gb.noGrad(() => m.forward(y));
    const byLayer = await y.toArray();
    assert.equal(whole.length, byLayer.length);
    for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(whole[i] - byLayer[i]) < 1e-5, `${i}`);
  }
});
