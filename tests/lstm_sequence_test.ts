/**
 * The fused LSTM (shaders/lstm_sequence.wgsl and its backward: the whole recurrence in one kernel
 * per chunk of steps) against a float64 reference (outputs, final states, central differences of
 * the loss) and against the per-step composed path that `configureGpu({ fusion: false })` runs
 * (every gradient). The shapes reach each tiling (4, 8 and 16 batch elements per invocation, a
 * partly filled last workgroup, hidden sizes not a multiple of 4, 64 invocations of one unit
 * tile each at H = 256) and the hand-over between dispatches (chunks of a few steps).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { setRecurrentChunkSteps } from "../src/tensor/ops/recurrent.ts";
import * as ref from "./cpu_ref.ts";

interface Case {
  B: number;
  T: number;
  I: number;
  H: number;
  state: boolean;
  bias: boolean;
  chunk: number | null;
}

interface Data {
  x: Float64Array;
  wIh: Float64Array;
  wHh: Float64Array;
  bIh: Float64Array;
  bHh: Float64Array;
  h0: Float64Array;
  c0: Float64Array;
  /** loss weights for the output, h_T and c_T */
  R: Float64Array;
  Rh: Float64Array;
  Rc: Float64Array;
}

function makeData(c: Case, seed: number): Data {
  const r = ref.rng(seed);
  const u = (n: number, s = 1) => Float64Array.from({ length: n }, () => (r() * 2 - 1) * s);
  const k = 1 / Math.sqrt(c.H);
  return {
    x: u(c.B * c.T * c.I),
    wIh: u(4 * c.H * c.I, 2 * k),
    wHh: u(4 * c.H * c.H, 2 * k),
    bIh: c.bias ? u(4 * c.H, k) : new Float64Array(4 * c.H),
    bHh: c.bias ? u(4 * c.H, k) : new Float64Array(4 * c.H),
    h0: c.state ? u(c.B * c.H) : new Float64Array(c.B * c.H),
    c0: c.state ? u(c.B * c.H) : new Float64Array(c.B * c.H),
    R: u(c.B * c.T * c.H),
    Rh: u(c.B * c.H),
    Rc: u(c.B * c.H),
  };
}

/** PyTorch's LSTM in float64, batch-first: every h, and the final h and c. */
function lstmRef(c: Case, d: Data): { out: Float64Array; hT: Float64Array; cT: Float64Array } {
  const { B, T, I, H } = c;
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(B * T * H), hT = new Float64Array(B * H), cT = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    let h = Array.from(d.h0.subarray(b * H, (b + 1) * H)), cs = Array.from(d.c0.subarray(b * H, (b + 1) * H));
    for (let t = 0; t < T; t++) {
      const z = Array.from({ length: 4 * H }, (_, r) => {
        let s = d.bIh[r] + d.bHh[r];
        for (let i = 0; i < I; i++) s += d.wIh[r * I + i] * d.x[(b * T + t) * I + i];
        for (let j = 0; j < H; j++) s += d.wHh[r * H + j] * h[j];
        return s;
      });
      cs = cs.map((cj, j) => sig(z[H + j]) * cj + sig(z[j]) * Math.tanh(z[2 * H + j]));
      h = cs.map((cj, j) => sig(z[3 * H + j]) * Math.tanh(cj));
      out.set(h, (b * T + t) * H);
    }
    hT.set(h, b * H);
    cT.set(cs, b * H);
  }
  return { out, hT, cT };
}

function lossRef(c: Case, d: Data): number {
  const { out, hT, cT } = lstmRef(c, d);
  let l = 0;
  out.forEach((v, i) => l += v * d.R[i]);
  hT.forEach((v, i) => l += v * d.Rh[i]);
  cT.forEach((v, i) => l += v * d.Rc[i]);
  return l;
}

const NAMES = ["x", "wIh", "wHh", "bIh", "bHh", "h0", "c0"] as const;

/** The GPU LSTM on `d` with the loss Σ out·R + Σ h_T·Rh + Σ c_T·Rc (each term optional): values and every gradient. */
async function runGpu(
  c: Case,
  d: Data,
  fusion: boolean,
  terms = { out: true, h: true, c: true },
): Promise<{ out: Float32Array; hT: Float32Array; cT: Float32Array; grads: Record<string, Float32Array> }> {
  const before = gb.gpuSettings().fusion, spec = gb.gpuSettings().specialise;
  // fusion on runs the fused sequence kernels at every size here ("auto" would compose these small
  // layers: the per-step path that fusion off runs)
  gb.configureGpu({ fusion, specialise: "always" });
  setRecurrentChunkSteps(c.chunk);
  try {
    return await gb.scope(async () => {
      const t = (a: Float64Array, shape: number[]) =>
        gb.tensor(Float32Array.from(a), shape, { requiresGrad: true });
      const { B, T, I, H } = c;
      const x = t(d.x, [B, T, I]), wIh = t(d.wIh, [4 * H, I]), wHh = t(d.wHh, [4 * H, H]);
      const bIh = t(d.bIh, [4 * H]), bHh = t(d.bHh, [4 * H]);
      const h0 = t(d.h0, [B, H]), c0 = t(d.c0, [B, H]);
      const r = gb.lstm(
        x,
        { wIh, wHh, bIh: c.bias ? bIh : null, bHh: c.bias ? bHh : null },
        c.state ? { h: h0, c: c0 } : undefined,
      );
      const parts: gb.Tensor[] = [];
      if (terms.out) parts.push(gb.sum(gb.mul(r.output, gb.tensor(Float32Array.from(d.R), [B, T, H]))));
      if (terms.h) parts.push(gb.sum(gb.mul(r.h, gb.tensor(Float32Array.from(d.Rh), [B, H]))));
      if (terms.c) parts.push(gb.sum(gb.mul(r.c, gb.tensor(Float32Array.from(d.Rc), [B, H]))));
      const loss = parts.reduce((a, b) => gb.add(a, b));
      const wrt = [x, wIh, wHh, ...(c.bias ? [bIh, bHh] : []), ...(c.state ? [h0, c0] : [])];
      const names = ["x", "wIh", "wHh", ...(c.bias ? ["bIh", "bHh"] : []), ...(c.state ? ["h0", "c0"] : [])];
      const gs = gb.grad(loss, wrt);
      const grads: Record<string, Float32Array> = {};
      for (const [i, n] of names.entries()) grads[n] = await gs[i].toArray() as Float32Array;
      return {
        out: await r.output.toArray() as Float32Array,
        hT: await r.h.toArray() as Float32Array,
        cT: await r.c.toArray() as Float32Array,
        grads,
      };
    });
  } finally {
    gb.configureGpu({ fusion: before, specialise: spec });
    setRecurrentChunkSteps(null);
  }
}

/** Largest |a − b| over max |b| (a relative error for a whole tensor). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return e / Math.max(m, 1e-30);
}

const CASES: Case[] = [
  // 16 batch elements per invocation, the last of 3 workgroups holds one
  { B: 33, T: 5, I: 5, H: 64, state: true, bias: true, chunk: null },
  // 8 per invocation, H not a multiple of 4, dispatches of 3 steps
  { B: 19, T: 7, I: 3, H: 13, state: true, bias: true, chunk: 3 },
  // 4 per invocation, no initial state, no biases, dispatches of 2 steps
  { B: 3, T: 9, I: 4, H: 8, state: false, bias: false, chunk: 2 },
  // 64 unit tiles (one per invocation), odd batch
  { B: 3, T: 3, I: 2, H: 256, state: true, bias: true, chunk: null },
];

Deno.test("fused LSTM: output, h_T, c_T equal float64; every gradient equals the per-step path (fusion off), over each tiling and chunked dispatches", async () => {
  for (const [n, c] of CASES.entries()) {
    const d = makeData(c, 10 + n);
    const want = lstmRef(c, d);
    const fused = await runGpu(c, d, true), composed = await runGpu(c, d, false);
    const tag = `B ${c.B} T ${c.T} I ${c.I} H ${c.H}${c.state ? " h0 c0" : ""}${
      c.chunk ? ` chunk ${c.chunk}` : ""
    }`;
    ref.assertClose(fused.out, want.out, { rtol: 1e-4, atol: 2e-6, msg: `${tag}: output` });
    ref.assertClose(fused.hT, want.hT, { rtol: 1e-4, atol: 2e-6, msg: `${tag}: h_T` });
    ref.assertClose(fused.cT, want.cT, { rtol: 1e-4, atol: 2e-6, msg: `${tag}: c_T` });
    assert.deepEqual(
      Array.from(fused.hT),
      Array.from(fused.out).filter((_, i) => Math.floor(i / c.H) % c.T === c.T - 1),
    );
    for (const name of Object.keys(composed.grads)) {
      const e = relErr(fused.grads[name], composed.grads[name]);
      assert.ok(
        e < 2e-5,
        `${tag}: ∂/∂${name} differs from the per-step path by ${e.toExponential(2)} (relative)`,
      );
    }
  }
});

Deno.test("fused LSTM gradients equal central differences of the float64 loss (sampled entries of x, both weights, both biases, h0, c0), in chunks of 2 steps", async () => {
  const c: Case = { B: 5, T: 6, I: 3, H: 5, state: true, bias: true, chunk: 2 };
  const d = makeData(c, 3);
  const got = await runGpu(c, d, true);
  const r = ref.rng(99);
  for (const name of NAMES) {
    const v = d[name];
    for (let s = 0; s < 5; s++) {
      const i = Math.floor(r() * v.length), keep = v[i], h = 1e-5;
      v[i] = keep + h;
      const up = lossRef(c, d);
      v[i] = keep - h;
      const down = lossRef(c, d);
      v[i] = keep;
      const fd = (up - down) / (2 * h);
      const g = got.grads[name][i];
      assert.ok(
        Math.abs(g - fd) <= 2e-4 + 1e-3 * Math.abs(fd),
        `∂loss/∂${name}[${i}]: ${g} vs ${fd} (central difference)`,
      );
    }
  }
});

Deno.test("fused LSTM: a loss through h_T alone or c_T alone still runs the whole backward (equal to the per-step path)", async () => {
  const c: Case = { B: 6, T: 5, I: 3, H: 7, state: true, bias: true, chunk: 2 };
  const d = makeData(c, 5);
  for (const terms of [{ out: false, h: true, c: false }, { out: false, h: false, c: true }]) {
    const fused = await runGpu(c, d, true, terms), composed = await runGpu(c, d, false, terms);
    for (const name of Object.keys(composed.grads)) {
      const e = relErr(fused.grads[name], composed.grads[name]);
      assert.ok(e < 2e-5, `${JSON.stringify(terms)}: ∂/∂${name} differs by ${e.toExponential(2)}`);
    }
  }
});

Deno.test("fused LSTM: a few dispatches per sequence whatever its length (per step with fusion off), and no GPU buffer left behind over repeated training steps", async () => {
  gb.manualSeed(0);
  const layer = new gb.LSTM(8, 16);
  const count = async (T: number, fusion: boolean) => {
    const before = gb.gpuSettings().fusion, spec = gb.gpuSettings().specialise;
    gb.configureGpu({ fusion, specialise: "always" });
    try {
      return await gb.scope(async () => {
        const x = gb.randn([4, T, 8], { requiresGrad: true });
        await gb.sync();
        const d0 = gb.queueStats.dispatches;
        const grads = gb.grad(gb.sum(layer.forward(x)), [x, ...layer.parameters()]);
        await Promise.all(grads.map((g) => g.toArray()));
        return gb.queueStats.dispatches - d0;
      });
    } finally {
      gb.configureGpu({ fusion: before, specialise: spec });
    }
  };
  const [f8, f32, c8, c32] = [
    await count(8, true),
    await count(32, true),
    await count(8, false),
    await count(32, false),
  ];
  // not one more per step (a matmul's packing or an elementwise chain may differ by a kernel with the length)
  assert.ok(Math.abs(f32 - f8) <= 2, `fused: ${f8} dispatches at 8 steps, ${f32} at 32`);
  assert.ok(f32 <= 30, `fused: ${f32} dispatches for 32 steps`);
  assert.ok(c32 - c8 >= 24 * 10, `fusion off runs per step: ${c8} dispatches at 8 steps, ${c32} at 32`);
  // memory: the same training step again and again leaves the pool where it was
  const opt = new gb.SGD(layer.parameters(), { lr: 0.01 });
  const step = () =>
    gb.scope(async () => {
      const x = gb.randn([4, 12, 8]);
      const out = layer.forwardWithState(x);
      const loss = gb.add(gb.sum(out.output), gb.sum(gb.mul(out.c, out.c)));
      await loss.backward();
      opt.step();
      opt.zeroGrad();
      await loss.item();
    });
  await step();
  const live = gb.poolStats().liveBuffers;
  for (let i = 0; i < 5; i++) await step();
  assert.equal(gb.poolStats().liveBuffers, live, "live GPU buffers after 5 more steps");
  layer.parameters().forEach((p) => p.dispose());
});

/** The GPU GRU on seeded data with the loss Σ out·R + Σ h_T·Rh: output and every gradient. */
async function runGru(
  c: Case,
  fusion: boolean,
): Promise<{ out: Float32Array; grads: Float32Array[] }> {
  const before = gb.gpuSettings().fusion, spec = gb.gpuSettings().specialise;
  // fusion on runs the fused sequence kernels at every size here ("auto" would compose these small
  // layers: the per-step path that fusion off runs)
  gb.configureGpu({ fusion, specialise: "always" });
  setRecurrentChunkSteps(c.chunk);
  try {
    return await gb.scope(async () => {
      gb.manualSeed(7);
      const p = (shape: number[], s: number) => {
        const t = gb.randn(shape).mul(s).detach();
        t.requiresGrad = true;
        return t;
      };
      const { B, T, I, H } = c;
      const x = p([B, T, I], 1), wIh = p([3 * H, I], 0.4), wHh = p([3 * H, H], 0.4);
      const bIh = p([3 * H], 0.5), bHh = p([3 * H], 0.5), h0 = p([B, H], 1);
      const R = gb.randn([B, T, H]), Rh = gb.randn([B, H]);
      const r = gb.gru(
        x,
        { wIh, wHh, bIh: c.bias ? bIh : null, bHh: c.bias ? bHh : null },
        c.state ? { h: h0 } : undefined,
      );
      const loss = gb.add(gb.sum(gb.mul(r.output, R)), gb.sum(gb.mul(r.h, Rh)));
      const wrt = [x, wIh, wHh, ...(c.bias ? [bIh, bHh] : []), ...(c.state ? [h0] : [])];
      const gs = gb.grad(loss, wrt);
      return {
        out: await r.output.toArray() as Float32Array,
        grads: await Promise.all(gs.map((g) => g.toArray())) as Float32Array[],
      };
    });
  } finally {
    gb.configureGpu({ fusion: before, specialise: spec });
    setRecurrentChunkSteps(null);
  }
}

Deno.test("fused GRU (shaders/gru_sequence.wgsl): output and every gradient equal the per-step path (fusion off), over each tiling and chunked dispatches", async () => {
  for (const c of CASES) {
    const fused = await runGru(c, true), composed = await runGru(c, false);
    const tag = `GRU B ${c.B} T ${c.T} I ${c.I} H ${c.H}${c.state ? " h0" : ""}${
      c.chunk ? ` chunk ${c.chunk}` : ""
    }`;
    assert.ok(relErr(fused.out, composed.out) < 2e-6, `${tag}: output`);
    fused.grads.forEach((g, i) => {
      const e = relErr(g, composed.grads[i]);
      assert.ok(e < 2e-5, `${tag}: gradient ${i} differs from the per-step path by ${e.toExponential(2)}`);
    });
  }
});
