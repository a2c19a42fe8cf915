/**
 * The autoencoder and the VAE: the VAE's loss and KL against float64 closed forms, the
 * reparameterisation's gradient against its closed form, attributions of any scalar output of
 * any module (a latent unit, a [N] error, one pixel of a decoded image) against completeness
 * and finite differences, and what `deno task autoencoder --quick` leaves end to end (a checkpoint
 * that reloads to the same reconstruction errors, anomalies, traversals: checkVaeQuickRun, run by
 * terminal_test.ts on the quick run it makes in a terminal).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

/** Deterministic pseudo-random numbers in [-1, 1) (float64). */
function numbers(n: number, seed: number): number[] {
  const g = new gb.Generator(seed);
  return Array.from({ length: n }, () => 2 * g.random() - 1);
}

Deno.test("VAE loss and KL equal their float64 closed forms, per example", async () => {
  const N = 3, L = 4, P = 16; // images [1, 4, 4]
  const mu = numbers(N * L, 1).map((v) => 1.5 * v), logvar = numbers(N * L, 2).map((v) => 2 * v);
  const logits = numbers(N * P, 3).map((v) => 4 * v), x = numbers(N * P, 4).map((v) => (v + 1) / 2);
  // float64: KL = −½ Σ (1 + logvar − μ² − e^logvar); BCE = Σ −[x log p + (1 − x) log(1 − p)]
  const kl64 = Array.from({ length: N }, (_, n) => {
    let s = 0;
    for (let j = 0; j < L; j++) {
      const m = mu[n * L + j], lv = logvar[n * L + j];
      s += 1 + lv - m * m - Math.exp(lv);
    }
    return -0.5 * s;
  });
  const bce64 = Array.from({ length: N }, (_, n) => {
    let s = 0;
    for (let i = 0; i < P; i++) {
      const p = 1 / (1 + Math.exp(-logits[n * P + i])), t = x[n * P + i];
      s -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
    }
    return s;
  });
  const beta = 0.7;
  const r = gb.vaeLoss(
    gb.tensor(logits, [N, 1, 4, 4]),
    gb.tensor(x, [N, 1, 4, 4]),
    gb.tensor(mu, [N, L]),
    gb.tensor(logvar, [N, L]),
    { beta },
  );
  const kl = await r.kl.toArray(), rec = await r.reconstruction.toArray(), loss = await r.loss.item();
  for (let n = 0; n < N; n++) {
    close(kl[n], kl64[n], 1e-5 * Math.max(1, kl64[n]), `KL of example ${n}`);
    close(rec[n], bce64[n], 1e-5 * bce64[n], `BCE of example ${n}`);
  }
  const loss64 = kl64.reduce((a, k, n) => a + bce64[n] + beta * k, 0) / N;
  close(loss, loss64, 1e-5 * loss64, "loss = mean(reconstruction + β KL)");
  // KL of the prior itself is 0, and KL ≥ 0
  const zero = await gb.klDivergence(gb.tensor([[0, 0]]), gb.tensor([[0, 0]])).toArray();
  assert.equal(zero[0], 0);
  assert.ok(kl.every((v) => v >= 0));
});

Deno.test("VAE.loss decodes z = μ + σ ε drawn from the generator it is given, not μ", async () => {
  gb.manualSeed(3);
  const vae = new gb.VAE({ latent: 3, height: 8, width: 8, filters: 2 });
  vae.eval(); // loss samples whatever the mode, as training does
  const N = 2, x = gb.tensor(numbers(N * 64, 9).map((v) => (v + 1) / 2), [N, 1, 8, 8]);
  const got = await vae.loss(x, new gb.Generator(11)).loss.item();
  // the same draw by hand: ε from a fresh Generator(11), z = μ + e^(½ logvar) ε
  const { mu, logvar } = vae.encode(x);
  const m = await mu.toArray(), lv = await logvar.toArray();
  const g = new gb.Generator(11);
  const z = Float32Array.from(m, (v, i) => v + Math.exp(0.5 * lv[i]) * g.normal());
  const want = gb.vaeLoss(vae.decoderLogits(gb.tensor(z, [N, 3])), x, mu, logvar);
  const atMu = gb.vaeLoss(vae.decoderLogits(mu), x, mu, logvar);
  const w = await want.loss.item(), wMu = await atMu.loss.item();
  close(got, w, 1e-5 * w, "loss with the sampled z");
  assert.ok(Math.abs(wMu - w) > 10 * 1e-5 * w, `decoding μ (${wMu}) must differ from the sample (${w})`);
});

Deno.test("reparameterise: z = μ + e^(½ logvar) ε, ∂z/∂μ = 1 and ∂z/∂logvar = ½ σ ε (closed form)", async () => {
  const N = 2, L = 3;
  const muV = numbers(N * L, 5), lvV = numbers(N * L, 6);
  const c = numbers(N * L, 7); // the upstream gradient: loss = Σ c ⊙ z
  const mu = gb.tensor(muV, [N, L], { requiresGrad: true });
  const logvar = gb.tensor(lvV, [N, L], { requiresGrad: true });
  const { z, eps } = gb.reparameterise(mu, logvar, new gb.Generator(11));
  const loss = gb.sum(gb.mul(z, gb.tensor(c, [N, L])));
  const [gMu, gLv] = gb.grad(loss, [mu, logvar]);
  const e = await eps.toArray(), zv = await z.toArray(), gm = await gMu.toArray(), gl = await gLv.toArray();
  // ε is the generator's own stream of normals
  const g = new gb.Generator(11);
  for (let i = 0; i < N * L; i++) close(e[i], g.normal(), 1e-6, `ε ${i}`);
  for (let i = 0; i < N * L; i++) {
    const sigma = Math.exp(0.5 * lvV[i]);
    close(zv[i], muV[i] + sigma * e[i], 1e-5, `z ${i}`);
    close(gm[i], c[i], 1e-6, `∂/∂μ ${i}`);
    close(gl[i], 0.5 * c[i] * sigma * e[i], 1e-5, `∂/∂logvar ${i}`);
  }
});

/** A [N] output: the squared reconstruction error of a smooth (tanh) autoencoder, summed over each row. */
class SquaredError extends gb.Module {
  net = this.addModule(
    "net",
    new gb.Sequential(new gb.Linear(6, 3), new gb.Tanh(), new gb.Linear(3, 6), new gb.Tanh()),
  );
  forward(x: gb.Tensor): gb.Tensor {
    const d = gb.sub(this.net.forward(x), x);
    return gb.sum(gb.mul(d, d), 1);
  }
}

Deno.test("attribution of any scalar output: IG completeness on a latent unit; Saliency of a [N] and a [N,C,H,W] output against finite differences", async () => {
  gb.manualSeed(3);
  const ae = new gb.ConvAutoencoder({ latent: 3, height: 8, width: 8, filters: 2 });
  const x = gb.tensor(numbers(2 * 64, 8).map((v) => (v + 1) / 2), [2, 1, 8, 8]);
  // IG on latent unit 1 of the encoder: Σ attributions = f(x) − f(0)
  const ig = new gb.IntegratedGradients(ae.encoder);
  const { attributions, delta } = await ig.attributeWithDelta(x, { target: 1, nSteps: 64 });
  assert.deepEqual(attributions.shape, [2, 1, 8, 8]);
  const z = await gb.noGrad(() => ae.encoder.forward(x)).toArray();
  const z0 = await gb.noGrad(() => ae.encoder.forward(gb.zeros([2, 1, 8, 8]))).toArray();
  const sums = await gb.sum(gb.reshape(attributions, [2, -1]), 1).toArray();
  const d = await delta.toArray();
  for (let n = 0; n < 2; n++) {
    const change = z[n * 3 + 1] - z0[n * 3 + 1];
    close(sums[n], change, 0.02 * Math.abs(change) + 1e-4, `completeness of example ${n}`);
    close(d[n], sums[n] - change, 1e-4, "delta reports the completeness error");
  }

  // a module with one number per example ([N]): no target; Saliency = the gradient
  gb.manualSeed(4);
  const err = new SquaredError();
  const xv = numbers(2 * 6, 9);
  const sal = await new gb.Saliency(err).attribute(gb.tensor(xv, [2, 6]), { abs: false });
  const s = await sal.toArray();
  const f = async (v: number[]) => await gb.noGrad(() => err.forward(gb.tensor(v, [2, 6]))).toArray();
  const h = 1e-2;
  for (let i = 0; i < 12; i++) {
    const up = [...xv], dn = [...xv];
    up[i] += h;
    dn[i] -= h;
    const n = Math.floor(i / 6), fd = ((await f(up))[n] - (await f(dn))[n]) / (2 * h);
    close(s[i], fd, 2e-3 + 2e-2 * Math.abs(fd), `∂ error / ∂x[${i}]`);
  }

  // an image output [N, 1, 8, 8]: the target is a flat index; pixel (0, 3, 5) of the decoder's image
  const dec = ae.decoder;
  const k = gb.outputIndex([1, 8, 8], [0, 3, 5]);
  const zv = numbers(3, 10);
  const g = await (await new gb.Saliency(dec).attribute(gb.tensor(zv, [1, 3]), { target: k, abs: false }))
    .toArray();
  const pixel = async (v: number[]) =>
    (await gb.noGrad(() => dec.forward(gb.tensor(v, [1, 3]))).toArray())[3 * 8 + 5];
  for (let j = 0; j < 3; j++) {
    const up = [...zv], dn = [...zv];
    up[j] += h;
    dn[j] -= h;
    const fd = ((await pixel(up)) - (await pixel(dn))) / (2 * h);
    close(g[j], fd, 1e-3 + 2e-2 * Math.abs(fd), `∂ pixel (3, 5) / ∂z[${j}]`);
  }

  // wrong targets are errors that say what the output is
  await assert.rejects(
    () => new gb.Saliency(dec).attribute(gb.tensor(zv, [1, 3])),
    /has 64 outputs; say which with \{ target \} \(one example's output is \[1, 8, 8\]; a target is a flat row-major index/,
  );
  await assert.rejects(
    () => new gb.Saliency(dec).attribute(gb.tensor(zv, [1, 3]), { target: 64 }),
    /target 64 is out of range for a model with 64 outputs \[0, 64\) \(one example's output is \[1, 8, 8\]/,
  );
  await assert.rejects(
    () => new gb.Saliency(dec).attribute(gb.tensor(zv, [1, 3]), { target: [0, 3, 5] }),
    /3 targets given for 1 examples/,
  );
  assert.throws(() => gb.outputIndex([1, 8, 8], [3, 5]), /takes 3 coordinates, got \[3, 5\]/);
  assert.throws(() => gb.outputIndex([1, 8, 8], [0, 8, 5]), /coordinate 1 is 8, outside \[0, 8\)/);
});

Deno.test("traversal codes move one unit and hold the others at their mean", () => {
  const mean = [0.5, -1, 2], std = [1, 0.5, 2], sigmas = [-3, 0, 3];
  const z = gb.traversalCodes(mean, std, sigmas, [0, 2]);
  assert.equal(z.length, 2 * 3 * 3);
  [0, 2].forEach((j, u) =>
    sigmas.forEach((s, k) => {
      const row = z.subarray((u * 3 + k) * 3, (u * 3 + k + 1) * 3);
      for (let i = 0; i < 3; i++) {
        close(row[i], i === j ? mean[j] + s * std[j] : mean[i], 1e-6, `unit ${j}, ${s}σ, coordinate ${i}`);
      }
    })
  );
});

Deno.test("profile: an autoencoder's outputs are its encoder's latent units; a bad outputModule is an error", () => {
  const p = gb.validateProfile(gb.autoencoderProfile(new gb.VAE({ latent: 2 })));
  assert.deepEqual(p.classes, ["latent 0", "latent 1"]);
  assert.equal(p.outputModule, "encoder");
  assert.throws(() => gb.validateProfile({ ...p, outputModule: "" }), /outputModule must be a module path/);
  assert.throws(
    () => new gb.ConvAutoencoder({ height: 30 }),
    /height must be a positive multiple of 4, got 30/,
  );
});

Deno.test("deno task autoencoder: a mistake on the command line is one line, exit 2", async () => {
  for (
    const [args, message] of [[["--kind", "gan"], /--kind must be one of ae, vae; got "gan"/], [[
      "--beta",
      "-1",
    ], /--beta must be at least 0, got -1/]] as const
  ) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-env", "examples/autoencoder_mnist.ts", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr).trim();
    assert.equal(r.code, 2, err);
    assert.equal(err.split("\n").length, 1, err);
    assert.match(err, message);
  }
});

Deno.test("explainInputs refuses an autoencoder (its classes name the encoder's outputs), saying where to look", async () => {
  const ae = new gb.ConvAutoencoder({ latent: 2, height: 8, width: 8, filters: 2 });
  await assert.rejects(
    () => gb.explainInputs(ae, gb.autoencoderProfile(ae), { x: new Float32Array(64), ids: [0] }),
    /classes name the outputs of the module "encoder".*model\.get\("encoder"\)/,
  );
});

Deno.test("autoencoderPictures: the latent space's axes give each principal component its own share", async () => {
  gb.manualSeed(8);
  const model = new gb.ConvAutoencoder({ latent: 3, height: 8, width: 8, filters: 2 });
  model.eval();
  const profile = gb.autoencoderProfile(model);
  const n = 24, y = Int32Array.from({ length: n }, (_, i) => i % 4);
  const x = Float32Array.from({ length: n * 64 }, (_, k) => ((k * 37 + Math.floor(k / 64) * 11) % 101) / 100);
  const test = { x, y, sampleShape: [1, 8, 8] };
  const pics = await gb.autoencoderPictures(model, profile, test, { interpolationSteps: 3 });
  const svg = pics.files.find((f) => f.name === "latent_space.svg")!.data as string;
  const codes = await gb.latentCodes(model, test, n);
  const p = await gb.project(Float32Array.from(codes), 3, { method: "pca", dims: 2 });
  const [r1, r2] = p.info.explainedVarianceRatio!;
  assert.ok(Math.abs(r1 - r2) > 0.02, `the shares must differ to tell the axes apart: ${r1}, ${r2}`);
  for (const [k, r] of [[1, r1], [2, r2]] as const) {
    assert.ok(
      svg.includes(`principal component ${k} (${(100 * r).toFixed(0)}% of the variance)`),
      `axis ${k}: ${(100 * r).toFixed(0)}%`,
    );
  }
});
