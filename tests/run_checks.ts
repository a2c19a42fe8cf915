/**
 * Checks shared by test files, in a module with no tests of its own (a test file that imported another
 * test file would run that file's tests again): the safetensors rules (checkpoint_test, train_test) and
 * what the train and VAE quick runs leave, which terminal_test checks on the quick runs it makes in a
 * terminal so that the suite trains each of them once.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

/** The header rules: valid JSON, dtype/shape/data_offsets per tensor, offsets tile the data exactly. */
export function checkSafetensorsRules(
  bytes: Uint8Array,
): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const entries = Object.entries(header).filter(([k]) => k !== "__metadata__") as [
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] },
  ][];
  const spans = entries.map(([k, e]) => {
    assert.ok(
      typeof e.dtype === "string" && Array.isArray(e.shape) && Array.isArray(e.data_offsets),
      `entry ${k} has dtype, shape, data_offsets`,
    );
    assert.equal(
      e.data_offsets[1] - e.data_offsets[0],
      e.shape.reduce((a, b) => a * b, 1) * 4,
      `entry ${k} size matches its shape`,
    );
    return e.data_offsets;
  }).sort((a, b) => a[0] - b[0]);
  let pos = 0;
  for (const [b, e] of spans) {
    assert.equal(b, pos, "no holes or overlaps");
    pos = e;
  }
  assert.equal(pos, bytes.length - 8 - n, "offsets tile the data section exactly");
  return Object.fromEntries(entries);
}

/**
 * What a `deno task train --quick --out <out>` run must leave (history, metrics, and a checkpoint
 * that reproduces the test accuracy exactly). terminal_test.ts calls it on the quick run it makes in
 * a terminal, so the suite trains the quick run once.
 */
export async function checkQuickTrainRun(out: string): Promise<void> {
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
  assert.equal(history.steps.length, 32, "one loss per step (2,000 images / 64)");
  assert.ok(history.steps[31] < history.steps[0], "the loss went down");
  assert.ok(
    metrics.testAccuracy > 0.5,
    `a quick run learns something (test accuracy ${metrics.testAccuracy})`,
  );
  const total = metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0);
  assert.equal(total, 1000, "the confusion matrix counts every test image");
  checkSafetensorsRules(await Deno.readFile(`${out}/checkpoint.safetensors`));
  // the checkpoint carries the MNIST explanation profile
  const { profile } = await gb.loadModel(`${out}/checkpoint.safetensors`);
  assert.deepEqual(profile, gb.mnistProfile());
  // reload into a fresh model: the same test accuracy, exactly
  gb.manualSeed(123);
  const model = gb.seedCnn();
  const meta = await gb.loadCheckpoint(model, `${out}/checkpoint.safetensors`);
  assert.equal(meta.epoch, "1");
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const ev = await gb.evaluate(model, test, { limit: 1000 });
  assert.equal(ev.accuracy, metrics.testAccuracy);
}

/**
 * What `deno task autoencoder --kind vae --quick --latent 2 --out <out>` must leave, given the run's
 * terminal output `text`: a checkpoint that reloads to the same reconstruction errors; an inverted
 * image is the worst; error maps are of their own image. terminal_test.ts calls it on the quick run
 * it makes in a terminal, so the suite trains that run once.
 */
export async function checkVaeQuickRun(out: string, text: string): Promise<void> {
  assert.match(text, /drawing the pictures: codes and reconstruction errors of 256 test images/);
  for (
    const f of [
      "reconstructions.svg",
      "traversals.svg",
      "latent_space.svg",
      "interpolation.svg",
      "latent_attributions.svg",
      "anomalies.svg",
      "gradient_flow.svg",
      "loss.svg",
    ]
  ) {
    assert.ok((await Deno.stat(`${out}/pictures/${f}`)).size > 500, f);
  }
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
  assert.equal(metrics.kind, "vae");
  assert.ok(metrics.testKl > 0 && metrics.testReconstruction > 0);
  close(
    metrics.testLoss,
    metrics.testReconstruction + metrics.testKl,
    1e-3,
    "test loss = reconstruction + KL",
  );
  assert.ok(history.steps.at(-1) < history.steps[0], "the loss went down");
  assert.ok((await Deno.readTextFile(`${out}/tracker.jsonl`)).length > 0, "gradients were tracked");
  // reload: the same model (a VAE with its profile) gives the run's reconstruction errors
  const { model, profile } = await gb.loadModel(`${out}/checkpoint.safetensors`);
  assert.ok(model instanceof gb.VAE);
  assert.equal(profile?.outputModule, "encoder");
  const anomalies: { index: number; error: number }[] = JSON.parse(
    await Deno.readTextFile(`${out}/pictures/anomalies.json`),
  );
  const split = await gb.loadMnist("test");
  const P = split.rows * split.cols, n = 40;
  const test = {
    x: split.images.subarray(0, 256 * P),
    y: split.labels.subarray(0, 256),
    sampleShape: [1, 28, 28],
  };
  const again = await gb.evaluateAutoencoder(model, test);
  for (const a of anomalies) close(again.errors[a.index], a.error, 1e-6, `error of test image ${a.index}`);
  assert.ok(
    again.errors[anomalies[0].index] >= Math.max(...again.errors) - 1e-7,
    "anomalies are the worst first",
  );
  // the traversals' σ is the standard deviation (not the variance) of each unit's μ on the test images
  const mu = await gb.noGrad(() => (model as gb.VAE).encode(gb.tensor(test.x, [256, 1, 28, 28])).mu)
    .toArray();
  const svg = await Deno.readTextFile(`${out}/pictures/traversals.svg`);
  for (let j = 0; j < 2; j++) {
    let m = 0, v = 0;
    for (let i = 0; i < 256; i++) m += mu[i * 2 + j] / 256;
    for (let i = 0; i < 256; i++) v += (mu[i * 2 + j] - m) ** 2 / 256;
    const shown = new RegExp(`latent ${j} \\(σ ([\\d.e+-]+)\\)`).exec(svg);
    assert.ok(shown, `traversal row of latent ${j}`);
    close(Number(shown[1]), Math.sqrt(v), 0.051 * Math.sqrt(v), `σ of latent ${j} (2 significant digits)`);
  }
  // a planted anomaly: test image 0 inverted, among the first n
  const x = new Float32Array((n + 1) * P);
  x.set(split.images.subarray(0, n * P));
  for (let i = 0; i < P; i++) x[n * P + i] = 1 - split.images[i];
  const planted = { x, y: new Int32Array(n + 1), sampleShape: [1, 28, 28] };
  const ev = await gb.evaluateAutoencoder(model, planted);
  const worst = ev.errors.indexOf(Math.max(...ev.errors));
  assert.equal(worst, n, `the inverted image ranks first (errors ${Array.from(ev.errors.slice(-3))})`);
  // error maps are reconstruction − input of their own image
  const rows = await gb.reconstructionRows(model, planted, [3, n]);
  for (const [i, k] of [3, n].entries()) {
    const xi = gb.tensor(x.slice(k * P, (k + 1) * P), [1, 1, 28, 28]);
    const own = await gb.noGrad(() => model.forward(xi)).toArray();
    for (const p of [0, 200, 406, 783]) {
      close(rows.errorMaps[i][p], own[p] - x[k * P + p], 1e-5, `error map of image ${k} at pixel ${p}`);
    }
    close(rows.errors[i], ev.errors[k], 1e-6, `MSE of image ${k}`);
  }
}
