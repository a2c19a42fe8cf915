/**
 * Elementwise fusion (src/tensor/fusion.ts): chains of elementwise ops run as one generated kernel.
 * Every chain here is computed with fusion on and off (configureGpu({ fusion })) and checked
 * against a float64 reference; dispatch counts show the kernels fused.
 */
import * as assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { queueStats } from "../src/gpu/queue.ts";
import { fusionStats } from "../src/tensor/fusion.ts";
import { assertGradClose } from "./check.ts";
import * as ref from "./cpu_ref.ts";

type Arrays = (Float32Array | Int32Array)[];

/** Runs `f` with fusion on or off; returns its tensors' values and the launches it made. */
async function run(
  fusion: boolean,
  f: () => gb.Tensor[],
): Promise<{ out: Arrays; dispatches: number; fused: number }> {
  const before = gb.gpuSettings().fusion;
  gb.configureGpu({ fusion });
  try {
    await gb.sync();
    const d0 = queueStats.dispatches, k0 = fusionStats.fusedKernels;
    const ts = f();
    gb.flush();
    const dispatches = queueStats.dispatches - d0, fused = fusionStats.fusedKernels - k0;
    const out = await Promise.all(ts.map((t) => t.toArray()));
    ts.forEach((t) => t.dispose());
    return { out, dispatches, fused };
  } finally {
    gb.configureGpu({ fusion: before });
  }
}

/** Fused and unfused results agree (float32 rounding) and both match the float64 reference. */
async function agree(f: () => gb.Tensor[], want: ArrayLike<number>[], msg: string, tol = 1e-5) {
  const on = await run(true, f), off = await run(false, f);
  on.out.forEach((a, i) => {
    ref.assertClose(a, off.out[i], { rtol: 2e-6, atol: 2e-6, msg: `${msg} #${i}: fused vs unfused` });
    ref.assertClose(a, want[i], { rtol: tol, atol: tol, msg: `${msg} #${i}: fused vs float64` });
  });
  return { on, off };
}

const r = ref.rng(21);
const data = (n: number, lo = -1, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
const sig = (x: number) => 1 / (1 + Math.exp(-x));
/** f(t), then t disposed (as ops dispose their temporaries): a result nobody keeps need not be written. */
const then = (t: gb.Tensor, f: (t: gb.Tensor) => gb.Tensor) => {
  const r = f(t);
  t.dispose();
  return r;
};

Deno.test("GLASSBOX_PRINT_SHADERS shows the generated kernel, whose first line names the ops it fused", async () => {
  const printed: string[] = [];
  const orig = console.error;
  const before = gb.gpuSettings();
  console.error = (...a: unknown[]) => printed.push(a.join(" "));
  try {
    gb.configureGpu({ printShaders: true, fusion: true });
    const a = gb.tensor(data(12)), b = gb.tensor(data(12));
    const c = gb.relu(gb.mul(gb.add(a, b), a));
    await c.toArray();
    for (const t of [a, b, c]) t.dispose();
  } finally {
    console.error = orig;
    gb.configureGpu({ printShaders: before.printShaders, fusion: before.fusion });
  }
  const text = printed.join("\n");
  assert.match(text, /\n\/\/ fused: add -> mul -> relu \(3 ops, 4 elements per invocation/);
  assert.match(text, /fn op2\(x: f32, a: f32, b: f32\) -> f32 \{ return max\(x, 0\.0\); \} \/\/ relu/);
});

Deno.test("a chain with broadcast operands (row, column, scalar tensor, number), vec4 and odd sizes", async () => {
  // [4, 6], [8, 5], [12, 2]: vec4 chains whose rows are not whole vec4s (broadcasts gathered per lane)
  for (const [B, H] of [[6, 8], [5, 7], [1, 3], [64, 36], [4, 6], [8, 5], [12, 2]]) {
    const m = data(B * H), bias = data(H), col = data(B, 0.5, 2), s = data(1);
    const want: number[][] = [[], []];
    for (let i = 0; i < B; i++) {
      for (let j = 0; j < H; j++) {
        const t = sig((m[i * H + j] + bias[j]) * col[i]) - s[0];
        const u = Math.max(t * 3 + 1, 0);
        want[0].push(t);
        want[1].push(Math.exp(Math.tanh(u)) / col[i]);
      }
    }
    const f = () => {
      const tm = gb.tensor(m, [B, H]), tb = gb.tensor(bias, [H]), tc = gb.tensor(col, [B, 1]);
      const ts = gb.tensor(s, [1]);
      const t = then(then(then(gb.add(tm, tb), (x) => gb.mul(x, tc)), gb.sigmoid), (x) => gb.sub(x, ts));
      const u = then(then(gb.mul(t, 3), (x) => gb.add(x, 1)), gb.relu);
      const v = then(then(gb.tanh(u), gb.exp), (x) => gb.div(x, tc));
      for (const x of [tm, tb, tc, ts, u]) x.dispose();
      return [t, v];
    };
    const { on, off } = await agree(f, want, `[${B}, ${H}]`);
    assert.equal(off.dispatches, 10, `[${B}, ${H}] unfused`);
    assert.equal(on.dispatches, 1, `[${B}, ${H}]: one kernel for the chain`);
    assert.equal(on.fused, 1);
  }
});

Deno.test("int32 inputs: where with an int32 condition (flat and broadcast) inside a chain", async () => {
  for (const [B, H] of [[4, 8], [3, 5]]) {
    const cond = Int32Array.from({ length: B * H }, (_, i) => (i * 7) % 3 === 0 ? 0 : i - 5);
    const rowCond = Int32Array.from({ length: B }, (_, i) => i % 2);
    const a = data(B * H), b = data(B * H);
    const want: number[][] = [[], []];
    for (let i = 0; i < B * H; i++) {
      const w = cond[i] !== 0 ? Math.exp(a[i]) : -b[i];
      want[0].push(w * 2 + a[i]);
      want[1].push(rowCond[Math.floor(i / H)] !== 0 ? w : a[i] * b[i]);
    }
    const f = () => {
      const ta = gb.tensor(a, [B, H]), tb = gb.tensor(b, [B, H]);
      const tc = gb.tensor(cond, [B, H]), tr = gb.tensor(rowCond, [B, 1]);
      assert.equal(tc.dtype, "int32");
      const e = gb.exp(ta), nb = gb.neg(tb);
      const w = gb.where(tc, e, nb);
      const y0 = then(gb.mul(w, 2), (x) => gb.add(x, ta));
      const y1 = then(gb.mul(ta, tb), (x) => gb.where(tr, w, x));
      e.dispose();
      nb.dispose();
      for (const x of [ta, tb, tc, tr, w]) x.dispose();
      return [y0, y1];
    };
    const { on } = await agree(f, want, `where [${B}, ${H}]`);
    assert.equal(on.dispatches, 1);
  }
});

Deno.test("a disposed intermediate is not written; a disposed input's reused buffer is not clobbered", async () => {
  const n = 1000;
  const a = data(n), b = data(n);
  const want = [
    Array.from(a, (x, i) => Math.exp((x + b[i]) * x)),
    Array.from(a, (x) => x * 2 + 1),
    [1.5, 2.5, 3.5].map(Math.exp),
  ];
  const dead0 = fusionStats.deadOutputsSkipped;
  const f = () => {
    const ta = gb.tensor(a), tb = gb.tensor(b);
    const t = gb.add(ta, tb);
    const u = gb.mul(t, ta);
    t.dispose(); // never observed: stays in registers
    const v = gb.exp(u);
    u.dispose();
    const tmp = gb.tensor(a);
    const w = gb.mul(tmp, 2);
    tmp.dispose(); // its buffer is free again: the next output may be given it
    const y = gb.add(w, 1);
    w.dispose();
    ta.dispose();
    tb.dispose();
    // a broadcast input freed mid-chain: its buffer (16-byte size class) may come back as an output
    const x3 = gb.tensor([1, 2, 3]), s1 = gb.tensor([0.5]);
    const p = gb.add(x3, s1);
    s1.dispose();
    const q = then(p, gb.exp);
    x3.dispose();
    return [v, y, q];
  };
  await agree(f, want, "disposed");
  assert.ok(fusionStats.deadOutputsSkipped - dead0 >= 2, "dead outputs were skipped");
});

Deno.test("intermediates read later by a matmul, a reduction, a reshape view and a readback", async () => {
  const B = 6, H = 8, K = 5;
  const m = data(B * H), bias = data(H), w = data(H * K);
  const t = Array.from(m, (x, i) => Math.max(x + bias[i % H], 0));
  const u = t.map((x) => x * x);
  const mm = ref.matmul(ref.arr(t, [B, H]), ref.arr(w, [H, K])).data;
  const s = [u.reduce((p, x) => p + x, 0)];
  const v = t.map((x, i) => x * u[i] + 1);
  const f = () => {
    const tm = gb.tensor(m, [B, H]), tb = gb.tensor(bias, [H]), tw = gb.tensor(w, [H, K]);
    const tt = gb.relu(gb.add(tm, tb));
    const tu = gb.mul(tt, tt);
    const view = gb.reshape(tu, [B * H]); // a view of a pending result, read flat by the next op
    const tv = gb.add(gb.mul(gb.reshape(tt, [B * H]), view), 1);
    const mmT = gb.matmul(tt, tw);
    const sT = gb.sum(tu);
    for (const x of [tm, tb, tw, view]) x.dispose();
    return [tt, tu, mmT, sT, tv];
  };
  await agree(f, [t, u, mm, s, v], "observed intermediates", 1e-4);
});

Deno.test("a pending result copied by a buffer copy (tensorStats, the tracker's) is computed first", async () => {
  const n = 4096;
  const a = data(n), b = data(n);
  const want = Array.from(a, (x, i) => Math.exp(x + b[i]));
  const mean = want.reduce((p, x) => p + x, 0) / n, max = Math.max(...want);
  const ta = gb.tensor(a), tb = gb.tensor(b);
  await gb.sync();
  const k0 = fusionStats.fusedKernels;
  const t = gb.exp(gb.add(ta, tb)); // a pending chain of two: copied before any other command runs
  const [st] = await gb.tensorStats({ t });
  assert.equal(fusionStats.fusedKernels - k0, 1, "the chain ran fused");
  assert.ok(Math.abs(st.mean - mean) < 1e-5 * mean, `mean ${st.mean} vs ${mean}`);
  assert.ok(Math.abs(st.max - max) < 1e-5 * max, `max ${st.max} vs ${max}`);
  for (const x of [ta, tb, t]) x.dispose();
});

Deno.test("long chains and many inputs are split at the node and binding limits", async () => {
  const n = 64, k = 12;
  const xs = Array.from({ length: k }, () => data(n));
  const want = [Array.from({ length: n }, (_, i) => {
    let acc = 0;
    for (let j = 0; j < k; j++) acc = acc * 0.5 + xs[j][i];
    for (let j = 0; j < 40; j++) acc = Math.tanh(acc) + 0.1;
    return acc;
  })];
  const { on, off } = await agree(
    () => {
      const ts = xs.map((x) => gb.tensor(x));
      let acc = gb.mul(ts[0], 1);
      for (let j = 1; j < k; j++) acc = then(then(acc, (x) => gb.mul(x, 0.5)), (x) => gb.add(x, ts[j]));
      for (let j = 0; j < 40; j++) acc = then(then(acc, gb.tanh), (x) => gb.add(x, 0.1));
      ts.forEach((t) => t.dispose());
      return [acc];
    },
    want,
    "long chain",
  );
  // 103 launches: 12 inputs exceed the 10 storage bindings, 103 nodes the 32 per kernel
  assert.equal(off.dispatches, 103);
  assert.ok(on.dispatches >= 4 && on.dispatches <= 6, `${on.dispatches} kernels`);
});

/** The chain under test for gradients: y = sum(tanh(x·w + 1)·sigmoid(x) + exp(x) / w2 - (x·w)^2). */
function chainLoss(x: gb.Tensor, w: gb.Tensor, w2: gb.Tensor): gb.Tensor {
  const xw = gb.mul(x, w);
  const a = gb.mul(gb.tanh(gb.add(xw, 1)), gb.sigmoid(x));
  const b = gb.div(gb.exp(x), w2);
  return gb.sum(gb.sub(gb.add(a, b), gb.pow(xw, 2)));
}
function chainLoss64(x: Float64Array, w: Float64Array, w2: Float64Array, B: number, H: number): number {
  let s = 0;
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < H; j++) {
      const v = x[i * H + j], xw = v * w[j];
      s += Math.tanh(xw + 1) * sig(v) + Math.exp(v) / w2[i] - xw * xw;
    }
  }
  return s;
}

Deno.test("gradients of fused chains: fusion on = fusion off = float64 central differences", async () => {
  for (const [B, H] of [[4, 8], [3, 5]]) {
    const x = data(B * H), w = data(H), w2 = data(B, 0.5, 2);
    const grads = async (fusion: boolean) => {
      const before = gb.gpuSettings().fusion;
      gb.configureGpu({ fusion });
      try {
        const k0 = fusionStats.fusedKernels;
        const tx = gb.tensor(x, [B, H], { requiresGrad: true }),
          tw = gb.tensor(w, [H], { requiresGrad: true });
        const t2 = gb.tensor(w2, [B, 1], { requiresGrad: true });
        const loss = chainLoss(tx, tw, t2);
        const kf = fusionStats.fusedKernels;
        gb.flush();
        const forwardFused = fusionStats.fusedKernels - kf;
        const gs = gb.grad(loss, [tx, tw, t2]);
        gb.flush();
        const out = await Promise.all(gs.map((g) => g.toArray()));
        for (const t of [tx, tw, t2, loss, ...gs]) t.dispose();
        return { out, fusedKernels: fusionStats.fusedKernels - k0, forwardFused };
      } finally {
        gb.configureGpu({ fusion: before });
      }
    };
    const on = await grads(true), off = await grads(false);
    assert.equal(off.fusedKernels, 0);
    assert.ok(on.fusedKernels - on.forwardFused >= 1, `backward made fused kernels (${on.fusedKernels})`);
    const x64 = Float64Array.from(x), w64 = Float64Array.from(w), w264 = Float64Array.from(w2);
    const want = [
      ref.numericGrad((v) => chainLoss64(v, w64, w264, B, H), x64),
      ref.numericGrad((v) => chainLoss64(x64, v, w264, B, H), w64),
      ref.numericGrad((v) => chainLoss64(x64, w64, v, B, H), w264),
    ];
    ["x", "w", "w2"].forEach((name, i) => {
      ref.assertClose(on.out[i], off.out[i], { rtol: 1e-5, atol: 1e-5, msg: `d${name} fused vs unfused` });
      assertGradClose(on.out[i], want[i], 2e-3, `d${name} [${B}, ${H}] vs float64`);
    });
  }
});

const UNARY: [string, (t: gb.Tensor) => gb.Tensor, [number, number]?][] = [
  ["neg", gb.neg],
  ["exp", gb.exp],
  ["log", gb.log, [0.2, 3]],
  ["sqrt", gb.sqrt, [0.2, 3]],
  ["abs", gb.abs],
  ["relu", gb.relu],
  ["sigmoid", gb.sigmoid],
  ["tanh", gb.tanh],
  ["gelu", gb.gelu],
  ["leakyRelu", (t) => gb.leakyRelu(t, 0.1)],
  ["erf", gb.erf],
  ["pow 3", (t) => gb.pow(t, 3)],
  ["pow -0.5", (t) => gb.pow(t, -0.5), [0.2, 3]],
  ["scalar div", (t) => gb.div(2, t), [0.5, 2]],
];
const BINARY: [string, (a: gb.Tensor, b: gb.Tensor) => gb.Tensor, [number, number]?][] = [
  ["add", gb.add],
  ["sub", gb.sub],
  ["mul", gb.mul],
  ["div", gb.div, [0.5, 2]],
  ["pow", gb.pow, [0.5, 2]],
];

Deno.test("every elementwise op inside a fused chain, forward and backward, agrees with fusion off", async () => {
  const B = 3, H = 8;
  const cases: [string, (x: gb.Tensor, y: gb.Tensor) => gb.Tensor, [number, number]][] = [
    ...UNARY.map(([n, f, range]) => [n, (x: gb.Tensor) => f(x), range ?? [-1, 1]] as const),
    ...BINARY.map(([n, f, range]) => [n, f, range ?? [-1, 1]] as const),
  ].map((
    [n, f, range],
  ) => [n, f as (x: gb.Tensor, y: gb.Tensor) => gb.Tensor, [...range] as [number, number]]);
  for (const [name, f, [lo, hi]] of cases) {
    const x = data(B * H, lo, hi), y = data(B * H, lo, hi), row = data(H, lo, hi);
    const results: Arrays[] = [];
    for (const fusion of [true, false]) {
      const before = gb.gpuSettings().fusion;
      gb.configureGpu({ fusion });
      try {
        const tx = gb.tensor(x, [B, H], { requiresGrad: true }),
          ty = gb.tensor(y, [B, H], { requiresGrad: true });
        const tr = gb.tensor(row, [H], { requiresGrad: true });
        // the op between an elementwise producer (x·1 + 0: identity, a node of the chain) and consumers
        const inner = gb.add(gb.mul(tx, 1), 0);
        const z = f(inner, ty);
        const zb = f(gb.mul(ty, 1), tr); // a broadcast operand too
        const loss = gb.sum(gb.add(gb.mul(z, gb.sigmoid(ty)), zb));
        const gs = gb.grad(loss, [tx, ty, tr]);
        const out = await Promise.all([z, zb, ...gs].map((t) => t.toArray()));
        for (const t of [tx, ty, tr, inner, z, zb, loss, ...gs]) t.dispose();
        results.push(out);
      } finally {
        gb.configureGpu({ fusion: before });
      }
    }
    results[0].forEach((a, i) => {
      ref.assertClose(a, results[1][i], { rtol: 1e-5, atol: 1e-6, msg: `${name} #${i} fused vs unfused` });
    });
  }
});

Deno.test("a training step's backward runs fused kernels (seen by the profiler) and fewer launches", async () => {
  const r2 = ref.rng(5);
  const mk = (shape: number[], scale: number) =>
    gb.tensor(
      Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => scale * (r2() - 0.5)),
      shape,
    );
  const x = mk([16, 12], 2), target = mk([16, 4], 2);
  const w1 = mk([12, 8], 0.5).requiresGrad_(), b1 = mk([8], 0.1).requiresGrad_();
  const w2 = mk([8, 4], 0.5).requiresGrad_();
  const step = async (fusion: boolean) => {
    const before = gb.gpuSettings().fusion;
    gb.configureGpu({ fusion });
    try {
      const p = await gb.profile(async () => {
        const h = gb.gelu(gb.add(gb.matmul(x, w1), b1));
        const d = gb.sub(gb.matmul(h, w2), target);
        const loss = gb.mean(gb.mul(gb.tanh(d), d)); // a composed robust loss
        const gs = gb.grad(loss, [w1, b1, w2]);
        await gb.sync();
        return [h, d, loss, ...gs];
      });
      const out = await Promise.all(p.result.slice(3).map((t) => t.toArray()));
      p.result.forEach((t) => t.dispose());
      return { out, events: p.events };
    } finally {
      gb.configureGpu({ fusion: before });
    }
  };
  const on = await step(true), off = await step(false);
  const fused = on.events.filter((e) => e.shader === "fused");
  assert.ok(fused.length >= 2, `fused kernels: ${fused.map((e) => e.constants).join("; ")}`);
  assert.ok(on.events.length < off.events.length, `${on.events.length} launches vs ${off.events.length}`);
  assert.equal(off.events.filter((e) => e.shader === "fused").length, 0);
  on.out.forEach((g, i) => ref.assertClose(g, off.out[i], { rtol: 1e-5, atol: 1e-6, msg: `grad ${i}` }));
  for (const t of [x, target, w1, b1, w2]) t.dispose();
});
