/**
 * The engine's public surface for features: ops defined from WGSL expressions (`defineUnary`,
 * `defineBinary`), custom gradients (`customGradient`), `detach`, `copy_` and `settle`. Forward
 * values are checked against float64 references, gradients against central finite differences
 * of those references (in float64) or closed forms.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { device } from "../src/gpu/device.ts";

/** Reproducible values in [lo, hi). */
function values(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return lo + (hi - lo) * (s / 2147483648);
  });
}

/** Central difference of a float64 function. */
const fd = (f: (v: number) => number, v: number, h = 1e-5) => (f(v + h) - f(v - h)) / (2 * h);

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(
      err <= tol * (1 + Math.abs(want[i])),
      `${what}[${i}]: got ${got[i]}, want ${want[i]} (error ${err})`,
    );
  }
}

// f(x; a, b) = a·x² + b·sin(x), f′ = 2a·x + b·cos(x)
const quadSin = gb.defineUnary({
  name: "quadSin",
  forward: "a * x * x + b * sin(x)",
  derivative: "2.0 * a * x + b * cos(x)",
});
const quadSinRef = (a: number, b: number) => (v: number) => a * v * v + b * Math.sin(v);

Deno.test("defineUnary: forward matches a float64 reference, backward matches finite differences (f32 and vec4 paths)", async () => {
  const a = 0.75, b = -1.5;
  for (const shape of [[7], [2, 6]]) { // 7: one element per invocation; 12: the vec4 path
    const n = shape.reduce((p, d) => p * d, 1);
    const xs = values(n, n);
    await gb.scope(async () => {
      const x = gb.tensor(xs, shape).requiresGrad_(true);
      const w = values(n, 99); // the upstream gradient: d(Σ w·y)/dx = w·f′(x)
      const y = quadSin(x, a, b);
      assert.equal(y.requiresGrad, true);
      await gb.mul(y, gb.tensor(w, shape)).sum().backward();
      const f = quadSinRef(a, b);
      close(await y.toArray(), Array.from(xs, f), 1e-6, `quadSin ${shape}`);
      close(await x.grad!.toArray(), Array.from(xs, (v, i) => w[i] * fd(f, v)), 1e-5, `quadSin' ${shape}`);
    });
  }
});

Deno.test("defineUnary: the backward refuses an input modified in place after the forward pass (its derivative reads x)", async () => {
  await gb.scope(async () => {
    const x = gb.tensor([1, 2, 3]).requiresGrad_(true);
    const y = quadSin(x, 1, 1);
    gb.noGrad(() => x.copy_(gb.tensor([4, 5, 6])));
    await assert.rejects(() => y.sum().backward(), /backward through quadSin: .* was modified in place/);
  });
});

Deno.test("defineUnary and defineBinary without a derivative: the values are computed, a backward pass through them names the op", async () => {
  const round = gb.defineUnary({ name: "roundToEven", forward: "round(x)" });
  const safeDiv = gb.defineBinary({ name: "safeDiv", forward: "select(0.0, a / b, abs(b) >= 1e-6)" });
  await gb.scope(async () => {
    const x = gb.tensor([0.5, 1.5, 2.5, -0.5, 2.4]).requiresGrad_(true);
    const r = round(x);
    assert.deepEqual(Array.from(await r.toArray()), [0, 2, 2, -0, 2]); // halves to even, as WGSL
    await assert.rejects(() => r.sum().backward(), /roundToEven has no gradient/);
    const q = safeDiv(x, gb.tensor([2, 0, 4, 1, 0]));
    assert.deepEqual(Array.from(await q.toArray()), [0.25, 0, 0.625, -0.5, 0]);
    await assert.rejects(() => q.sum().backward(), /safeDiv has no gradient/);
    assert.equal(gb.noGrad(() => round(x)).requiresGrad, false);
  });
});

Deno.test("defineBinary: broadcasting forward against float64, both gradients (summed over broadcast dims) against finite differences", async () => {
  // f(a, b) = a · exp(−b) + b²
  const op = gb.defineBinary({
    name: "scaledDecay",
    forward: "a * exp(-b) + b * b",
    derivatives: ["exp(-b)", "-a * exp(-b) + 2.0 * b"],
  });
  const f = (u: number, v: number) => u * Math.exp(-v) + v * v;
  const av = values(12, 3), bv = values(4, 5, -1, 1), w = values(12, 8);
  await gb.scope(async () => {
    const a = gb.tensor(av, [3, 4]).requiresGrad_(true);
    const b = gb.tensor(bv, [4]).requiresGrad_(true); // broadcast over the 3 rows
    const z = op(a, b);
    assert.deepEqual(z.shape, [3, 4]);
    await gb.mul(z, gb.tensor(w, [3, 4])).sum().backward();
    close(await z.toArray(), Array.from(av, (u, i) => f(u, bv[i % 4])), 1e-6, "forward");
    close(
      await a.grad!.toArray(),
      Array.from(av, (u, i) => w[i] * fd((s) => f(s, bv[i % 4]), u)),
      1e-5,
      "∂/∂a",
    );
    const gb64 = Array.from(bv, (v, j) => {
      let s = 0;
      for (let r = 0; r < 3; r++) s += w[r * 4 + j] * fd((t) => f(av[r * 4 + j], t), v);
      return s;
    });
    close(await b.grad!.toArray(), gb64, 1e-5, "∂/∂b summed over the broadcast rows");
  });
});

Deno.test("defineUnary/defineBinary refuse bad definitions and inputs with a message naming the problem", () => {
  assert.throws(() => gb.defineUnary({ name: "", forward: "x" }), /defineUnary: an op needs a name/);
  assert.throws(
    () => gb.defineUnary({ name: "bad", forward: "" }),
    /bad: the forward must be a WGSL expression/,
  );
  assert.throws(
    () => gb.defineUnary({ name: "bad", forward: "x; return 0.0" }),
    /bad: the forward must be one WGSL expression/,
  );
  assert.throws(
    () => gb.defineBinary({ name: "bad", forward: "a", derivatives: ["1.0"] as unknown as [string, string] }),
    /bad: derivatives must be \[∂f\/∂a, ∂f\/∂b\]/,
  );
  const ints = gb.tensor([1, 2], undefined, { dtype: "int32" });
  assert.throws(() => quadSin(ints), /quadSin needs a float32 tensor/);
  assert.throws(() => quadSin(gb.tensor([1]), NaN), /quadSin: parameter a must be a number/);
  ints.dispose();
});

Deno.test("customGradient: the values of the output, the gradient of the rule; ctx.original is the output's own backward", async () => {
  await gb.scope(async () => {
    const xs = [-1.5, -0.25, 0.5, 2];
    // straight through: relu forward, identity backward
    const x = gb.tensor(xs).requiresGrad_(true);
    const st = gb.customGradient(x.relu(), [x], (g) => [gb.mul(g, 1)], { name: "straightThrough" });
    assert.deepEqual(Array.from(await st.toArray()), [0, 0, 0.5, 2]);
    await gb.mul(st, gb.tensor([1, 2, 3, 4])).sum().backward();
    assert.deepEqual(Array.from(await x.grad!.toArray()), [1, 2, 3, 4]);
    // three times the output's own rule: 3 · relu′(x) · g
    const x2 = gb.tensor(xs).requiresGrad_(true);
    const r = x2.relu();
    const tripled = gb.customGradient(r, [x2], (g, ctx) => [gb.mul(ctx.original(g)[0]!, 3)]);
    await gb.mul(tripled, gb.tensor([1, 2, 3, 4])).sum().backward();
    assert.deepEqual(Array.from(await x2.grad!.toArray()), [0, 0, 9, 12]);
    // a leaf has no own backward
    const leaf = gb.tensor(xs).requiresGrad_(true);
    const bad = gb.customGradient(leaf, [leaf], (g, ctx) => ctx.original(g), { name: "noOwn" });
    await assert.rejects(() => bad.sum().backward(), /noOwn: the output was not made by a recorded op/);
    assert.throws(
      () => gb.customGradient(r, [x2, 3 as unknown as gb.Tensor], (g) => [g, null]),
      /customGradient: expected a Tensor, got number/,
    );
    const wrong = gb.customGradient(r, [x2], () => [], { name: "short" });
    await assert.rejects(() => wrong.sum().backward(), /short: backward returned 0 gradients for 1 inputs/);
  });
});

Deno.test("detach shares the storage and cuts the graph: no gradient flows through it, writes are seen both ways", async () => {
  await gb.scope(async () => {
    const x = gb.tensor([1, -2, 3]).requiresGrad_(true);
    const c = gb.mul(x, 2).detach(); // the constant 2x
    assert.equal(c.requiresGrad, false);
    assert.equal(c.isLeaf, true);
    // d/dx Σ (2x)·x with the first factor a constant is 2x (it would be 4x through the graph)
    await gb.mul(c, x).sum().backward();
    assert.deepEqual(Array.from(await x.grad!.toArray()), [2, -4, 6]);
    // same storage: a write through either is seen by the other
    const a = gb.tensor([1, 2, 3]);
    const d = a.detach();
    d.copy_(gb.tensor([7, 8, 9]));
    assert.deepEqual(Array.from(await a.toArray()), [7, 8, 9]);
    a.copy_(gb.tensor([4, 5, 6]));
    assert.deepEqual(Array.from(await d.toArray()), [4, 5, 6]);
    assert.equal(d.version, a.version, "one storage, one version counter");
    // each disposes on its own: the view outlives the original
    a.dispose();
    assert.deepEqual(Array.from(await d.toArray()), [4, 5, 6]);
  });
});

Deno.test("copy_ refuses another shape or dtype, and a tensor that requires grad outside noGrad", () => {
  gb.scope(() => {
    const a = gb.zeros([2, 2]);
    assert.throws(() => a.copy_(gb.zeros([4])), /copy_: cannot copy .*\[4\] float32 into .*\[2, 2\] float32/);
    assert.throws(
      () => a.copy_(gb.zeros([2, 2], { dtype: "int32" })),
      /copy_: cannot copy .* int32 into .* float32/,
    );
    const p = gb.zeros([2, 2]).requiresGrad_(true);
    assert.throws(
      () => p.copy_(a),
      /copy_: .* requires grad and copy_ is not recorded by autograd; run it inside noGrad/,
    );
    gb.noGrad(() => p.copy_(a)); // allowed there, as an optimizer step
  });
});

Deno.test("settle resolves once the GPU has finished the submitted work, without reading anything back", async () => {
  const dev = device();
  await gb.scope(async () => {
    // enough work that it is still running when a non-waiting settle would return
    let m = gb.randn([256, 256]);
    for (let i = 0; i < 12; i++) m = gb.tanh(gb.matmul(m, m));
    gb.flush();
    // a mapped copy of the result, ordered after that work on the queue
    const staging = dev.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = dev.createCommandEncoder();
    enc.copyBufferToBuffer(m.buffer, 0, staging, 0, 16);
    dev.queue.submit([enc.finish()]);
    let mapped = false;
    const mapping = staging.mapAsync(GPUMapMode.READ).then(() => (mapped = true));
    const readbacks = gb.queueStats.readbacks;
    await gb.settle();
    assert.equal(mapped, true, "the work submitted before settle() is done when it resolves");
    assert.equal(gb.queueStats.readbacks, readbacks, "settle read nothing back");
    await mapping;
    staging.unmap();
    staging.destroy();
  });
});

Deno.test("settle reports a GPU error of the work it waited for", async () => {
  const bad = gb.defineUnary({ name: "notWgsl", forward: "x +* 2.0" });
  gb.scope(() => bad(gb.tensor([1, 2, 3])));
  await assert.rejects(() => gb.settle(), /shader unary\.wgsl .* failed to compile/);
  await gb.settle().catch(() => {}); // the batch that ran it is invalid too: drain that report
  await gb.settle(); // and the runtime goes on
});
