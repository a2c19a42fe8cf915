// The packed-weight cache of src/tensor/ops/matmul.ts: a parameter's packed (or panel) form is
// kept on its storage, packed again after every in-place write (its storage version), and freed
// with the storage. Truth: float64 products of the values read back from the GPU.
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

/** y[m][n] = Σ_k x[m][k]·w[n][k] + b[n], in float64. */
function reference(x: Float32Array, w: Float32Array, b: Float32Array, M: number, K: number, N: number) {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b[n];
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}

async function assertForward(layer: gb.Linear, x: gb.Tensor, what: string): Promise<void> {
  const [M, K] = x.shape, N = layer.weight.shape[0];
  const got = await gb.scope(async () => await gb.noGrad(() => layer.forward(x)).toArray()) as Float32Array;
  const want = reference(
    await x.toArray() as Float32Array,
    await layer.weight.toArray() as Float32Array,
    await layer.bias!.toArray() as Float32Array,
    M,
    K,
    N,
  );
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  }
  assert.ok(err < 1e-4, `${what}: max relative error ${err}`);
}

/** Runs a test on the "cpu" kernel path (the one that packs), whatever GLASSBOX_KERNELS says. */
function onCpuPath(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    const before = gb.gpuSettings().kernels;
    gb.configureGpu({ kernels: "cpu" });
    try {
      await fn();
    } finally {
      gb.configureGpu({ kernels: before });
    }
  };
}

/** How many matmul_pack dispatches one forward pass makes. */
async function packsPerForward(layer: gb.Linear, x: gb.Tensor): Promise<number> {
  const p = await gb.profile(async () =>
    await gb.scope(async () => await gb.noGrad(() => layer.forward(x)).toArray())
  );
  return p.rows.filter((r) => r.kernel.startsWith("matmul_pack")).reduce((s, r) => s + r.dispatches, 0);
}

// [80, 40]·[24, 40]ᵀ packs W into layout "x" (x is 80 rows: too many to read Wᵀ along K in place);
// [256, 1600]·[128, 1600]ᵀ (the seed CNN's dense layer on 256 images) packs both into panels,
// and so does [169, 1600]·[100, 1600]ᵀ, with partial panels along M and N; [72, 1002]·[64, 1002]ᵀ
// has a K that is not a multiple of 4 (packed one k at a time, not in 4×4 blocks).
for (const [M, K, N] of [[80, 40, 24], [256, 1600, 128], [169, 1600, 100], [72, 1002, 64]]) {
  Deno.test(
    `matmul cache [${M}, ${K}]·[${N}, ${K}]ᵀ: the next forward sees every in-place write of the weight`,
    onCpuPath(async () => {
      gb.manualSeed(3);
      const layer = new gb.Linear(K, N);
      const x = gb.randn([M, K]);
      const first = await packsPerForward(layer, x);
      const second = await packsPerForward(layer, x);
      // the weight's pack is kept: the second forward packs one operand fewer than the first
      assert.equal(second, first - 1, `pack dispatches per forward: ${first} then ${second}`);
      await assertForward(layer, x, "a forward with the kept pack");

      // copy_ (inside noGrad)
      gb.noGrad(() => layer.weight.copy_(gb.randn([N, K])));
      await assertForward(layer, x, "after copy_");

      // an optimizer step
      const opt = new gb.SGD(layer.parameters(), { lr: 0.5 });
      await gb.scope(async () => {
        const loss = layer.forward(x).mul(layer.forward(x)).mean();
        await loss.backward();
        opt.step();
      });
      opt.zeroGrad();
      await assertForward(layer, x, "after an SGD step");

      // loadStateDict from another layer
      const other = new gb.Linear(K, N);
      layer.loadStateDict(other.stateDict());
      await assertForward(layer, x, "after loadStateDict");
      other.parameters().forEach((p) => p.dispose());

      assert.equal(await packsPerForward(layer, x), second, "packed again only once after a write");
      layer.parameters().forEach((p) => p.dispose());
      x.dispose();
    }),
  );
}

Deno.test(
  "matmul cache: a frozen parameter's pack is kept too, a plain tensor's is not",
  onCpuPath(async () => {
    gb.manualSeed(5);
    const layer = new gb.Linear(1600, 128);
    const x = gb.randn([256, 1600]);
    // explain methods freeze the weights (requiresGrad false) while they attribute
    layer.parameters().forEach((p) => (p.requiresGrad = false));
    const first = await packsPerForward(layer, x);
    assert.equal(await packsPerForward(layer, x), first - 1, "the frozen weight is packed once");
    await assertForward(layer, x, "frozen");
    // the same values in a tensor that is no module's parameter: packed on every call
    const w = gb.tensor(await layer.weight.toArray() as Float32Array, [128, 1600]);
    const packs = async () => {
      const p = await gb.profile(async () => await gb.scope(async () => await gb.linear(x, w).toArray()));
      return p.rows.filter((r) => r.kernel.startsWith("matmul_pack")).reduce((s, r) => s + r.dispatches, 0);
    };
    assert.equal(await packs(), first, "a plain tensor is packed on the first call");
    assert.equal(await packs(), first, "and on the next");
    layer.parameters().forEach((p) => p.dispose());
    w.dispose();
    x.dispose();
  }),
);

Deno.test(
  "matmul cache: live buffers flat over 100 forwards, and all freed with the layer",
  onCpuPath(async () => {
    gb.manualSeed(4);
    const x = gb.randn([256, 1600]);
    gb.flush();
    const before = gb.poolStats();
    const layer = new gb.Linear(1600, 128);
    const forward = async () => await gb.scope(async () => await gb.noGrad(() => layer.forward(x)).toArray());
    await forward();
    gb.flush();
    const after1 = gb.poolStats();
    // the weight, the bias and the weight's kept panels
    assert.equal(after1.liveBuffers, before.liveBuffers + 3, "one buffer kept for the weight's panels");
    for (let i = 0; i < 100; i++) await forward();
    gb.flush();
    const after100 = gb.poolStats();
    assert.equal(after100.liveBuffers, after1.liveBuffers, "live buffers flat over 100 forwards");
    assert.equal(after100.liveBytes, after1.liveBytes, "live bytes flat over 100 forwards");
    // a view of the weight keeps the storage (and its panels) alive until it too is disposed
    const view = layer.weight.detach();
    layer.parameters().forEach((p) => p.dispose());
    gb.flush();
    assert.equal(
      gb.poolStats().liveBuffers,
      before.liveBuffers + 2,
      "the view holds the weight and its panels",
    );
    view.dispose();
    gb.flush();
    const end = gb.poolStats();
    assert.equal(end.liveBuffers, before.liveBuffers, "disposing the layer frees the kept panels");
    assert.equal(end.liveBytes, before.liveBytes, "and their bytes");
    x.dispose();
  }),
);

Deno.test(
  "matmul cache: one weight packed two ways (panels for a large batch, layout x for a smaller one) keeps both apart",
  onCpuPath(async () => {
    gb.manualSeed(6);
    // Linear(512, 80): x [100, 512] packs W into layout "x" (100·80·512 < 2²²: the small tile),
    // x [256, 512] packs it into 16-wide panels (the dense tile); both have ld 64, K 512, and
    // the same strides, so only the key's panel width tells the two kept buffers apart
    const layer = new gb.Linear(512, 80);
    const small = gb.randn([100, 512]), large = gb.randn([256, 512]);
    await assertForward(layer, small, "x [100, 512] first");
    await assertForward(layer, large, "then x [256, 512]");
    await assertForward(layer, small, "then x [100, 512] again");
    layer.parameters().forEach((p) => p.dispose());
    small.dispose();
    large.dispose();
  }),
);

Deno.test(
  "matmul cache: Adam and AdamW steps, magnitude pruning and its enforce() after a step are each seen by the next forward",
  onCpuPath(async () => {
    gb.manualSeed(7);
    const layer = new gb.Linear(1600, 128);
    const x = gb.randn([256, 1600]);
    await assertForward(layer, x, "before");
    const stepWith = async (opt: gb.Adam) => {
      await gb.scope(async () => {
        const loss = layer.forward(x).mul(layer.forward(x)).mean();
        await loss.backward();
        opt.step();
      });
      opt.zeroGrad();
    };
    const adam = new gb.Adam(layer.parameters(), { lr: 0.1 });
    await stepWith(adam);
    await assertForward(layer, x, "after an Adam step");
    const adamw = new gb.AdamW(layer.parameters(), { lr: 0.1 });
    await stepWith(adamw);
    await assertForward(layer, x, "after an AdamW step");
    // pruning writes the zeros through loadStateDict, at once and after every step (enforce)
    const pruning = await gb.magnitudePrune(layer, { amount: 0.5 });
    await assertForward(layer, x, "after pruning half the weight");
    await stepWith(adam);
    pruning.enforce();
    await assertForward(layer, x, "after a step and enforce()");
    pruning.remove();
    adam.dispose();
    adamw.dispose();
    layer.parameters().forEach((p) => p.dispose());
    x.dispose();
  }),
);
