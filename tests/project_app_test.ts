/**
 * `deno task project` and its library code: the default representation is the vector the last
 * Linear reads (checked against a float64 forward), word embeddings are the embedding matrix's
 * rows coloured by the class of the word alone, and the CLI writes pictures, table and
 * TensorBoard files (or one line, exit 2, for a mistake).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

/** The caption under a scatter plot, its lines joined (English lines with a space). */
const notes = (svg: string) =>
  [...svg.matchAll(/<text class="note"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).reduce(
    (a, l) => a && /[\u4e00-\u9fff，。；）]$/.test(a) ? a + l : a ? `${a} ${l}` : l,
    "",
  );

Deno.test("projectApp projects the vector the last Linear reads (float64 forward) and measures it", async () => {
  gb.manualSeed(3);
  const model = new gb.Sequential(new gb.Linear(4, 8), new gb.ReLU(), new gb.Linear(8, 3));
  const profile = { modality: "tabular" as const, inputShape: [4], classes: ["a", "b", "c"] };
  const n = 45, y = Int32Array.from({ length: n }, (_, i) => i % 3);
  const x = Float32Array.from({ length: n * 4 }, (_, k) => {
    const i = Math.floor(k / 4), f = k % 4;
    return (f === y[i] ? 6 : 0) + 0.2 * Math.sin(7 * k);
  });
  const r = await gb.projectApp({ model, profile, x, y }, { methods: ["pca", "tsne"], n });
  // the reference: ReLU(W₁x + b₁) in float64 from the model's own weights
  const W = await (model.get("0") as gb.Linear).weight.toArray(),
    b = await (model.get("0") as gb.Linear).bias!.toArray();
  const want = new Float64Array(n * 8);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < 8; h++) {
      let s = b[h];
      for (let f = 0; f < 4; f++) s += W[h * 4 + f] * x[i * 4 + f];
      want[i * 8 + h] = Math.max(0, s);
    }
  }
  const got = r.embeddings[0].vectors;
  assert.equal(r.source.dim, 8);
  assert.equal(got.length, want.length);
  got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) < 1e-5, `value ${k}: ${v} vs ${want[k]}`));
  // separated clusters: every measure says so
  assert.equal(r.rows[0].knnFull, 1);
  assert.ok(
    r.rows.every((row) => row.knnProjected === 1 && row.trustworthiness > 0.9),
    JSON.stringify(r.rows),
  );
  assert.deepEqual(r.files.map((f) => f.name), [
    "pca_en.svg",
    "pca_zh.svg",
    "tsne_en.svg",
    "tsne_zh.svg",
    "separation.json",
    "separation.md",
  ]);
  assert.deepEqual(r.embeddings.map((e) => [e.name, e.dim]), [
    ["examples entering layer 2 (Linear)", 8],
    ["examples entering layer 2 (Linear) PCA (glassbox)", 2],
    ["examples entering layer 2 (Linear) t-SNE (glassbox)", 2],
  ]);
  assert.deepEqual(r.embeddings[0].metadata!.columns, ["label", "prediction"]);
  // coloured and labelled by the true label (the untrained model's predictions differ from it)
  const out = await model.forward(gb.tensor(x, [n, 4])).toArray();
  const pred = Array.from({ length: n }, (_, i) => {
    const row = Array.from(out.subarray(i * 3, i * 3 + 3));
    return row.indexOf(Math.max(...row));
  });
  assert.ok(pred.some((p, i) => p !== y[i]), "the test needs predictions that differ from the labels");
  assert.deepEqual(
    r.embeddings[0].metadata!.rows,
    Array.from({ length: n }, (_, i) => [profile.classes[y[i]], profile.classes[pred[i]]]),
  );
  const dotFills = [...(r.files[0].data as string).matchAll(/<circle [^>]*r="([\d.]+)" fill="([^"]+)"/g)]
    .filter((m) => m[1] !== "4.5").map((m) => m[2]);
  assert.deepEqual(dotFills, Array.from(y, (k) => gb.SERIES[k]));
  assert.ok(
    (r.files[0].data as string).includes("PCA of the examples entering layer 2 (Linear) (8 numbers each)"),
    "the English title says which layer's input is drawn",
  );
  const svg = r.files[1].data as string;
  assert.ok(
    svg.includes("按其真实标签着色") && svg.includes("第 2 层（Linear）输入处"),
    "the Chinese caption says what is drawn",
  );
});

Deno.test("projectApp --words: the embedding matrix's rows (not <pad>, <unk>), coloured by the class of the word alone", async () => {
  gb.manualSeed(5);
  const vocab = ["<pad>", "<unk>", ...Array.from({ length: 14 }, (_, i) => `w${i}`)];
  const model = new gb.TextClassifier({ vocab: vocab.length, classes: 2, dModel: 8 });
  const profile = model.profile(6, ["yes", "no"], vocab);
  const r = await gb.projectApp({ model, profile, x: new Int32Array(0) }, {
    what: "words",
    methods: ["pca"],
  });
  const weight = await model.embed.weight.toArray();
  assert.deepEqual(Array.from(r.embeddings[0].vectors), Array.from(weight.subarray(2 * 8)));
  // the class of each word alone, from the model directly
  const alone = new Int32Array(14 * 6);
  for (let k = 0; k < 14; k++) alone[k * 6] = k + 2;
  const logits = await model.eval().forward(gb.tensor(alone, [14, 6], { dtype: "int32" })).toArray();
  const rows = r.embeddings[0].metadata!.rows;
  for (let k = 0; k < 14; k++) {
    assert.equal(rows[k][0], vocab[k + 2]);
    assert.equal(rows[k][1], logits[k * 2] >= logits[k * 2 + 1] ? "yes" : "no");
  }
  assert.ok(
    notes(r.files[0].data as string).includes("coloured by the class the model predicts for the word alone"),
  );
});

Deno.test("deno task project writes pictures, the table and TensorBoard's files; a mistake is one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    gb.manualSeed(1);
    const model = gb.createModel("small-cam-cnn", { classes: 3, channels: 1 });
    const profile = {
      modality: "image" as const,
      inputShape: [1, 8, 8],
      classes: ["x", "y", "z"],
      mean: [0.5],
      std: [0.5],
    };
    await gb.saveModel(model, `${dir}/model.safetensors`, {}, { profile });
    const n = 30, x = Float32Array.from({ length: n * 64 }, (_, k) => Math.sin(k * 0.37) * ((k >> 6) % 3));
    const y = Int32Array.from({ length: n }, (_, i) => i % 3);
    await Deno.writeFile(
      `${dir}/data.safetensors`,
      gb.encodeSafetensors([["x", { dtype: "F32", shape: [n, 1, 8, 8], data: x }], ["y", {
        dtype: "I32",
        shape: [n],
        data: y,
      }]]),
    );
    const ok = await runScript("examples/project.ts", [
      "--checkpoint",
      `${dir}/model.safetensors`,
      "--data",
      `${dir}/data.safetensors`,
      "--method",
      "pca",
    ]);
    assert.equal(ok.code, 0, ok.err);
    const names = [...Deno.readDirSync(`${dir}/projector`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["pca_en.svg", "pca_zh.svg", "separation.json", "separation.md", "tensorboard"]);
    const config = await Deno.readTextFile(`${dir}/projector/tensorboard/projector_config.pbtxt`);
    assert.ok(config.includes("single_image_dim: 8"), config);
    const meta =
      (await Deno.readTextFile(`${dir}/projector/tensorboard/examples_entering_layer_7_Linear_metadata.tsv`))
        .trimEnd().split("\n");
    assert.equal(meta.length, n + 1);
    assert.equal(meta[0], "label\tprediction");

    const bad = await runScript("examples/project.ts", [
      "--checkpoint",
      `${dir}/model.safetensors`,
      "--method",
      "lda",
    ]);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
    assert.match(bad.err, /--method takes pca, tsne, umap, got "lda"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("projectApp's thumbnails (pictures and sprite) are each point's own image", async () => {
  gb.manualSeed(4);
  const model = new gb.Sequential(new gb.Flatten(), new gb.Linear(16, 4), new gb.ReLU(), new gb.Linear(4, 2));
  const profile = { modality: "image" as const, inputShape: [1, 4, 4], classes: ["a", "b"] };
  const n = 12;
  // example i: every pixel i/20 plus a ramp, so each image differs (values in [0, 1])
  const x = Float32Array.from({ length: n * 16 }, (_, k) => Math.floor(k / 16) / 20 + (k % 16) / 100);
  const r = await gb.projectApp({ model, profile, x }, { methods: ["pca"], n });
  const images = r.embeddings[0].images!;
  assert.equal(images.length, n);
  images.forEach((img, i) => {
    const grey = Array.from({ length: 16 }, (_, p) => img.data[4 * p]);
    assert.deepEqual(
      grey,
      Array.from({ length: 16 }, (_, p) => Math.round(255 * x[i * 16 + p])),
      `image ${i}`,
    );
  });
});

Deno.test("projectApp uses the documented defaults from 91 points up: t-SNE perplexity 30, UMAP 15 neighbours", async () => {
  gb.manualSeed(6);
  const model = new gb.Sequential(new gb.Linear(4, 8), new gb.ReLU(), new gb.Linear(8, 2));
  const profile = { modality: "tabular" as const, inputShape: [4], classes: ["a", "b"] };
  const n = 100;
  const x = Float32Array.from({ length: n * 4 }, (_, k) => Math.sin(3 * k) + (Math.floor(k / 4) % 2) * 2);
  const r = await gb.projectApp({ model, profile, x }, { methods: ["tsne", "umap"], n });
  const v = r.embeddings[0].vectors;
  const tsne = await gb.project(v, 8, { method: "tsne", dims: 2, perplexity: 30 });
  const umap = await gb.project(v, 8, { method: "umap", dims: 2, nNeighbors: 15 });
  assert.deepEqual(Array.from(r.embeddings[1].vectors), Array.from(tsne.coords), "t-SNE, perplexity 30");
  assert.deepEqual(Array.from(r.embeddings[2].vectors), Array.from(umap.coords), "UMAP, 15 neighbours");
  assert.equal(r.rows[0].kl, tsne.info.kl);
});

Deno.test("projectApp on an autoencoder: points named by their labels' numbers, not the latent units its profile names; no prediction", async () => {
  gb.manualSeed(7);
  const model = new gb.ConvAutoencoder({ latent: 3, height: 8, width: 8, filters: 2 });
  const profile = gb.autoencoderProfile(model);
  const n = 20, y = Int32Array.from({ length: n }, (_, i) => i % 5);
  const x = Float32Array.from({ length: n * 64 }, (_, k) => ((k * 37) % 101) / 100);
  const r = await gb.projectApp({ model, profile, x, y }, { methods: ["pca"], n });
  const svg = r.files[0].data as string;
  for (let k = 0; k < 5; k++) assert.ok(svg.includes(`>${k}</text>`), `legend entry ${k}`);
  assert.ok(!svg.includes("latent 0"), "the legend does not call digit 0 'latent 0'");
  assert.deepEqual(r.embeddings[0].metadata, { columns: ["label"], rows: Array.from(y, (k) => [String(k)]) });
  await assert.rejects(
    () => gb.projectApp({ model, profile, x }, { methods: ["pca"], n }),
    /give the examples' labels \(y\)/,
  );
});
