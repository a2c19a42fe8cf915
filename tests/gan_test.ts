/**
 * The GAN (issue 19): its loss against float64, training lowering D's loss, the GAN alarms
 * planted both ways, channel ablation against a linear layer's known answer, and the quick task's
 * checkpoint drawing its own fixed-noise grid again. Toy data: 8×8 images of one bar.
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import { decode } from "npm:fast-png@8.0.0";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

const S = 8, P = S * S, SHAPE = [1, S, S];

/** n images of one horizontal or vertical bar (+1) on −1, from a seed. */
function bars(n: number, seed: number): Float32Array {
  const g = new gb.Generator(seed), x = new Float32Array(n * P).fill(-1);
  for (let i = 0; i < n; i++) {
    const k = g.int(S), horiz = g.random() < 0.5;
    for (let j = 0; j < S; j++) x[i * P + (horiz ? k * S + j : j * S + k)] = 1;
  }
  return x;
}

const sigmoid64 = (v: number) => 1 / (1 + Math.exp(-v));

Deno.test("binaryCrossEntropyWithLogits: loss and gradient against float64, finite for large logits", async () => {
  const x = [-30, -7.5, -1, -0.2, 0, 0.3, 2, 9, 30, 80, -80, 80];
  const t = [0.3, 1, 0, 0.5, 1, 0.9, 0, 0.25, 1, 0, 1, 1];
  // float64 directly from the definition −t·log σ(x) − (1−t)·log(1−σ(x)) where float64 can (|x| ≤ 30);
  // at ±80, where 1 − σ(80) is 0 in float64, the limits: 80 for the wrong label, e^−80 for the right one
  const want = x.map((v, i) =>
    Math.abs(v) <= 30
      ? -t[i] * Math.log(sigmoid64(v)) - (1 - t[i]) * Math.log(1 - sigmoid64(v))
      : (v > 0) === (t[i] === 1)
      ? Math.exp(-80)
      : 80
  );
  const xt = gb.tensor(x, [x.length], { requiresGrad: true });
  const per = await gb.binaryCrossEntropyWithLogits(xt, gb.tensor(t), { reduction: "none" }).toArray();
  per.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]) <= 1e-5 * Math.max(1, want[i]), `x=${x[i]}: ${v} vs ${want[i]}`)
  );
  const l = gb.binaryCrossEntropyWithLogits(xt, gb.tensor(t));
  await l.backward();
  const g = await xt.grad!.toArray();
  // d mean / dx = (σ(x) − t) / N
  x.forEach((v, i) => {
    const w = (sigmoid64(v) - t[i]) / x.length;
    assert.ok(Math.abs(g[i] - w) <= 1e-7, `grad at x=${v}: ${g[i]} vs ${w}`);
  });
  const mean = want.reduce((a, b) => a + b, 0) / want.length;
  assert.ok(Math.abs((await l.item()) - mean) <= 1e-5 * mean, "mean reduction");
});

/** D's loss, BCE(D(x), 1) + BCE(D(G(z)), 0) over the batch, in float64 from D's logits read back. */
async function dLoss(
  G: gb.GanGenerator,
  D: gb.GanDiscriminator,
  real: Float32Array,
  z: Float32Array,
): Promise<number> {
  const fake = await gb.generate(G, z);
  const n = real.length / P;
  const logits = await gb.noGrad(() =>
    D.forward(gb.tensor(Float32Array.from([...real, ...fake]), [2 * n, ...SHAPE]))
  )
    .toArray();
  let s = 0;
  for (let i = 0; i < 2 * n; i++) s -= Math.log(i < n ? sigmoid64(logits[i]) : 1 - sigmoid64(logits[i]));
  return s / n;
}

Deno.test("trainGan: a few steps lower D's loss on a fixed batch (real bars, fixed noise), MLP and DCGAN pairs", async () => {
  for (const kind of ["mlp", "dcgan"] as const) {
    gb.manualSeed(3);
    const G = new gb.GanGenerator({ kind, latent: 8, hidden: [32], channels: 4, imageShape: SHAPE });
    const D = new gb.GanDiscriminator({ kind, imageShape: SHAPE, hidden: [32], channels: 4 });
    const data = bars(128, 1), real = data.subarray(0, 16 * P), z = gb.fixedNoise(16, 8, 99);
    const before = await dLoss(G, D, real, z);
    const r = await gb.trainGan(G, D, { x: data, sampleShape: SHAPE }, {
      epochs: 1,
      batchSize: 16,
      lr: 2e-3,
      trackEvery: 0,
      fixedSamples: 8,
    });
    const after = await dLoss(G, D, real, z);
    assert.equal(r.history.steps.lossD.length, 8);
    assert.ok(after < before - 0.1, `${kind}: D's loss on the fixed batch went from ${before} to ${after}`);
    // the reported first-step loss is that batch's BCE sum over both halves: near ln 4 for an untrained D
    const first = r.history.steps.lossD[0];
    assert.ok(Math.abs(first - Math.log(4)) < 0.15, `${kind}: first D loss ${first}`);
    // the checkpoint rebuilds the same generator (its kind and configuration round-trip)
    const { model } = gb.decodeModel(
      r.files.find((f) => f.name === gb.GAN_FILES.generator)!.data as Uint8Array,
    );
    assert.ok(model instanceof gb.GanGenerator && model.kind === kind, `${kind} did not round-trip`);
    const [a, b] = await Promise.all([gb.generate(G, z), gb.generate(model, z)]);
    assert.deepEqual(Array.from(b), Array.from(a), `${kind}: the reloaded generator draws other images`);
  }
});

/**
 * A discriminator that is perfect and saturated: logit = 20·tanh(1000·(−0.3 − mean pixel)). Bars
 * (mean −2/3) get +20, an untrained generator's grey images (mean near 0) −20, and the tanh is
 * flat at both: no gradient reaches G (or D).
 */
class PerfectD extends gb.Sequential {
  readonly imageShape = SHAPE;
  constructor() {
    const a = new gb.Linear(P, 1), b = new gb.Linear(1, 1);
    super(new gb.Flatten(), a, new gb.Tanh(), b);
    gb.noGrad(() => {
      a.weight.copy_(gb.full([1, P], -1000 / P));
      a.bias!.copy_(gb.full([1], -300));
      b.weight.copy_(gb.full([1, 1], 20));
      b.bias!.copy_(gb.full([1], 0));
    });
  }
}

/** As sure as `PerfectD` but not saturated: logit = 1000·(−0.3 − mean pixel); the gradient still flows. */
class ConfidentD extends gb.Sequential {
  readonly imageShape = SHAPE;
  constructor() {
    const a = new gb.Linear(P, 1);
    super(new gb.Flatten(), a);
    gb.noGrad(() => {
      a.weight.copy_(gb.full([1, P], -1000 / P));
      a.bias!.copy_(gb.full([1], -300));
    });
  }
}

/** A generator whose output ignores z (z is multiplied by 0 first). */
class ConstantG extends gb.GanGenerator {
  override forward(z: gb.Tensor): gb.Tensor {
    return super.forward(gb.mul(z, 0));
  }
}

// the planted networks are registered, so trainGan's checkpoints of them can name their architecture
gb.registerArchitecture(
  "test-confident-discriminator",
  () => new ConfidentD(),
  "a sure, unsaturated D (gan_test)",
);
gb.registerArchitecture(
  "test-perfect-discriminator",
  () => new PerfectD(),
  "a saturated, perfect D (gan_test)",
);
gb.registerArchitecture(
  "test-constant-generator",
  (c) => new ConstantG(c as gb.GanGeneratorConfig),
  "a generator that ignores z (gan_test)",
);

Deno.test("GAN alarms: a perfect D raises the vanishing gradient, a G that ignores z mode collapse, a healthy pair neither", async () => {
  const data = bars(160, 2);
  const opts = { epochs: 1, batchSize: 16, lr: 2e-3, fixedSamples: 16, thresholds: { window: 8 } };
  const run = async (G: gb.GanGenerator, D: gb.DiscriminatorNet) => {
    const r = await gb.trainGan(G, D, { x: data, sampleShape: SHAPE }, opts);
    return { kinds: r.ganAlarms.map((a) => a.kind), r };
  };
  gb.manualSeed(5);
  const perfect = await run(
    new gb.GanGenerator({ latent: 8, hidden: [32], imageShape: SHAPE }),
    gb.createModel("test-perfect-discriminator") as PerfectD,
  );
  assert.ok(perfect.r.history.steps.dFake.every((v) => v < 1e-6), "the planted D is not perfect");
  assert.deepEqual(
    perfect.kinds,
    ["vanishing-discriminator-gradient"],
    perfect.r.ganAlarms.map((a) => a.message).join("\n"),
  );
  const a = perfect.r.ganAlarms[0];
  assert.equal(a.step, 8, "fires at the end of the first full window");
  assert.ok(a.value < 1e-6 && a.message.includes("D(G(z))"), a.message);

  // as sure, but the gradient is not lost (the non-saturating loss's point): no vanishing alarm
  gb.manualSeed(5);
  const confident = await run(
    new gb.GanGenerator({ latent: 8, hidden: [32], imageShape: SHAPE }),
    gb.createModel("test-confident-discriminator") as ConfidentD,
  );
  assert.ok(confident.r.history.steps.dFake.slice(0, 8).every((v) => v < 1e-6), "the planted D is not sure");
  assert.ok(!confident.kinds.includes("vanishing-discriminator-gradient"), confident.r.ganAlarms[0]?.message);

  gb.manualSeed(5);
  const collapsed = await run(
    gb.createModel("test-constant-generator", {
      latent: 8,
      hidden: "32",
      imageShape: SHAPE.join(),
    }) as ConstantG,
    new gb.GanDiscriminator({ imageShape: SHAPE, hidden: [32] }),
  );
  assert.deepEqual(
    collapsed.kinds,
    ["mode-collapse"],
    collapsed.r.ganAlarms.map((x) => x.message).join("\n"),
  );
  assert.ok(collapsed.r.ganAlarms[0].value < 1e-3, `diversity ${collapsed.r.ganAlarms[0].value}`);

  gb.manualSeed(5);
  const healthy = await run(
    new gb.GanGenerator({ latent: 8, hidden: [32], imageShape: SHAPE }),
    new gb.GanDiscriminator({ imageShape: SHAPE, hidden: [32] }),
  );
  assert.deepEqual(healthy.kinds, [], healthy.r.ganAlarms.map((x) => x.message).join("\n"));
  assert.ok(
    healthy.r.history.epochs[0].diversity > 0.1,
    `healthy diversity ${healthy.r.history.epochs[0].diversity}`,
  );
});

Deno.test("ablateChannels removes exactly a channel's contribution (linear generator: W2[:, c]·h_c)", async () => {
  gb.manualSeed(7);
  const L = 3, C = 5, Pout = 4;
  const model = new gb.Sequential(new gb.Linear(L, C), new gb.Linear(C, Pout));
  const z = [[0.5, -1, 2], [1.5, 0.25, -0.75]];
  const r = await gb.ablateChannels(model, "0", gb.tensor(z));
  const [W1, b1, W2] = await Promise.all(
    ["0.weight", "0.bias", "1.weight"].map((n) =>
      model.namedParameters().find(([k]) => k === n)![1].toArray()
    ),
  );
  assert.equal(r.channels, C);
  for (let n = 0; n < z.length; n++) {
    const h = Array.from({ length: C }, (_, c) => b1[c] + z[n].reduce((a, v, j) => a + W1[c * L + j] * v, 0));
    for (let c = 0; c < C; c++) {
      for (let k = 0; k < Pout; k++) {
        const removed = r.base[n * Pout + k] - r.ablated[(c * z.length + n) * Pout + k];
        const want = W2[k * C + c] * h[c];
        assert.ok(
          Math.abs(removed - want) < 1e-5,
          `sample ${n} channel ${c} output ${k}: ${removed} vs ${want}`,
        );
      }
    }
  }
  // change: the mean over samples of ‖W2[:, c]·h_c‖, and the order sorts by it
  for (let c = 0; c < C; c++) {
    const col = Math.hypot(...Array.from({ length: Pout }, (_, k) => W2[k * C + c]));
    const want = z.reduce((a, zn) => {
      const h = b1[c] + zn.reduce((s, v, j) => s + W1[c * L + j] * v, 0);
      return a + Math.abs(h) * col / z.length;
    }, 0);
    assert.ok(Math.abs(r.change[c] - want) < 1e-5, `change of channel ${c}: ${r.change[c]} vs ${want}`);
  }
  assert.deepEqual(r.order, [...r.order].sort((a, b) => r.change[b] - r.change[a]));
});

Deno.test("deno task gan --quick writes loadable checkpoints whose generator draws the fixed-noise grid again", async () => {
  const out = await Deno.makeTempDir({ prefix: "gan_quick_" });
  try {
    const r = await runScript("examples/gan_mnist.ts", ["--quick", "--out", out, "--seed", "4"], [
      "--no-prompt",
      "--allow-read",
      "--allow-write",
      "--allow-env=GLASSBOX_DEBUG,GLASSBOX_PRINT_SHADERS,DENO_WEBGPU_BACKEND",
    ]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /final loss D [\d.]+, G [\d.]+/);
    assert.match(r.out, /sample diversity \d+% of real images\n/, "the epoch line ends cleanly");
    const { model, metadata, profile } = await gb.loadModel(`${out}/${gb.GAN_FILES.generator}`);
    assert.ok(model instanceof gb.GanGenerator, "the generator's architecture did not round-trip");
    assert.equal(profile?.modality, "tabular");
    assert.equal(profile?.inputShape[0], model.latent);
    const n = Number(metadata["gan.fixedSamples"]), seed = Number(metadata["gan.fixedNoiseSeed"]);
    assert.equal(seed, 4);
    const again = gb.samplesImage(
      await gb.generate(model, gb.fixedNoise(n, model.latent, seed)),
      model.imageShape,
    );
    const png = decode(await Deno.readFile(`${out}/pictures/samples_epoch_1.png`));
    assert.equal(png.width, again.width);
    assert.equal(png.height, again.height);
    let worst = 0;
    for (let i = 0; i < again.data.length; i++) {
      worst = Math.max(worst, Math.abs(again.data[i] - png.data[i]));
    }
    assert.ok(worst <= 1, `the reloaded generator's grid differs by ${worst} grey levels`);
    const d = await gb.loadModel(`${out}/${gb.GAN_FILES.discriminator}`);
    assert.ok(d.model instanceof gb.GanDiscriminator);
    assert.deepEqual(d.profile?.classes, ["real"]);
    for (
      const f of ["history.json", "metrics.json", "pictures/channel_ablation.svg", "generator/tracker.jsonl"]
    ) {
      assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, `${f} is empty`);
    }
    const bad = await runScript("examples/gan_mnist.ts", ["--beta1", "1.5"], ["--no-prompt", "--allow-read"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
    assert.match(bad.err, /--beta1 must be in \[0, 1\)/);
    const mlpChannels = await runScript("examples/gan_mnist.ts", ["--channels", "4"], [
      "--no-prompt",
      "--allow-read",
    ]);
    assert.equal(mlpChannels.code, 2);
    assert.match(mlpChannels.err, /--channels is for --arch dcgan/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("meanPairwiseDistance is the mean Euclidean distance over the n(n−1)/2 pairs (closed form)", () => {
  // (0,0), (3,4), (6,8): distances 5, 10, 5 → mean 20/3
  const d = gb.meanPairwiseDistance([0, 0, 3, 4, 6, 8], 2);
  assert.ok(Math.abs(d - 20 / 3) < 1e-12, `${d}`);
});
