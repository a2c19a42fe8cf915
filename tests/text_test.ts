/**
 * The text classifier's pieces: the fortune format, the fixed held-out split and the training-only
 * vocabulary, TransformerEncoder against its layers run in turn, token integrated gradients
 * against F(x) − F(baseline) computed separately, occlusion against really removing the token,
 * the bag-of-words baseline against finite differences, and `deno task text --quick` end to end.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { bagOfWordsFeatures, bagOfWordsObjective } from "../src/apps/bag_of_words.ts";
import { runScript } from "./run_script.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";

const int32 = { dtype: "int32" } as const;

Deno.test("parseFortunes: % lines separate quotations, multi-line ones stay whole, attributions go", () => {
  const text = [
    "First line,",
    "  second line 100% sure.",
    '\t\t-- Someone, "Somewhere",',
    "\t\t   stardate 1234.5",
    "%",
    "%",
    "-- a quotation may start with dashes",
    "and go on.",
    "%\r",
    "Last, no trailing separator.",
  ].join("\n");
  assert.deepEqual(gb.parseFortunes(text), [
    "First line,\n  second line 100% sure.",
    "-- a quotation may start with dashes\nand go on.",
    "Last, no trailing separator.",
  ]);
  const kept = gb.parseFortunes(text, { stripAttribution: false });
  assert.equal(kept.length, 3);
  assert.ok(kept[0].endsWith("stardate 1234.5"), kept[0]);
  assert.deepEqual(gb.tokenizeText("It's 9 o'clock -- TIME'S up!"), ["it's", "9", "o'clock", "time's", "up"]);
});

/** Collections whose words are known: class k says its own word, plus shared and rare ones. */
function toyCollections(): gb.TextCollection[] {
  const names = ["alpha", "beta", "gamma"];
  return names.map((name, k) => ({
    name,
    texts: Array.from(
      { length: 60 },
      (_, i) => `${name} says ${["one", "two", "three"][i % 3]} number ${i} of ${k}`,
    )
      .concat([`The same text in ${name}`, `the same TEXT in ${name}!`, "shared by all"]),
  }));
}

Deno.test("makeTextDataset: the split is fixed by each text's hash, disjoint, and the vocabulary comes from training texts only", () => {
  const cols = toyCollections();
  const a = gb.makeTextDataset(cols, { heldOut: 0.25, minCount: 2, maxLen: 6, seed: 3 });
  // the same split when the texts come in another order
  const reversed = cols.map((c) => ({ name: c.name, texts: [...c.texts].reverse() }));
  const b = gb.makeTextDataset(reversed, { heldOut: 0.25, minCount: 2, maxLen: 6, seed: 3 });
  const key = (s: gb.TextSplit) => s.words.map((w, i) => `${s.labels[i]}:${w.join(" ")}`).sort();
  assert.deepEqual(key(b.test), key(a.test));
  assert.deepEqual(key(b.train), key(a.train));
  // every held-out text is exactly one whose hash falls under the cut, and no text is in both
  const words = (s: gb.TextSplit) => s.words.map((w) => w.join(" "));
  for (const w of words(a.test)) assert.ok(gb.hashText(w, 3) < 0.25 * 2 ** 32, w);
  for (const w of words(a.train)) assert.ok(gb.hashText(w, 3) >= 0.25 * 2 ** 32, w);
  const train = new Set(words(a.train));
  assert.ok(words(a.test).every((w) => !train.has(w)));
  assert.ok(a.test.count > 20 && a.train.count > 100, `${a.train.count} / ${a.test.count}`);
  // duplicates: the same words twice in a class keep one; "shared by all" is in three classes: dropped
  assert.equal(a.dropped.duplicates, 3);
  assert.equal(a.dropped.conflicting, 1);
  assert.equal(a.train.count + a.test.count, 3 * 61);
  // the vocabulary: training words seen at least twice, counted by hand
  const counts = new Map<string, number>();
  for (const ws of a.train.words) for (const w of ws) counts.set(w, (counts.get(w) ?? 0) + 1);
  const expected = [...counts].filter(([, n]) => n >= 2).map(([w]) => w).sort();
  assert.deepEqual(a.vocabulary.slice(2).sort(), expected);
  assert.deepEqual(a.vocabulary.slice(0, 2), ["<pad>", "<unk>"]);
  // a held-out text's word that no training text has is <unk>; rows are padded with <pad> = 0
  const r = a.test.words.findIndex((ws) => ws.some((w) => !counts.has(w)));
  assert.ok(r >= 0, "the toy set has a held-out-only number");
  const j = a.test.words[r].findIndex((w) => !counts.has(w));
  if (j < 6) assert.equal(a.test.tokens[r * 6 + j], 1);
  for (let i = 0; i < a.test.count; i++) {
    for (let t = a.test.lengths[i]; t < 6; t++) assert.equal(a.test.tokens[i * 6 + t], 0);
  }
  // another seed moves the split
  const c = gb.makeTextDataset(cols, { heldOut: 0.25, minCount: 2, maxLen: 6, seed: 4 });
  assert.notDeepEqual(key(c.test), key(a.test));
  assert.throws(() => gb.makeTextDataset(cols, { heldOut: 1 }), /heldOut must be in \(0, 1\), got 1/);
});

Deno.test("TransformerEncoder: copies of its layer, run in turn with the same masks, then the norm", async () => {
  gb.manualSeed(7);
  const layer = new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 12, dropout: 0 });
  const norm = new gb.LayerNorm([8]);
  const enc = new gb.TransformerEncoder(layer, 3, { norm });
  assert.deepEqual(enc.namedParameters().map(([n]) => n).filter((n) => n.endsWith("linear1.weight")), [
    "layers.0.linear1.weight",
    "layers.1.linear1.weight",
    "layers.2.linear1.weight",
  ]);
  assert.notEqual(enc.layers[0].linear1.weight, layer.linear1.weight);
  const x = gb.randn([2, 5, 8]);
  const masks = {
    keyPaddingMask: gb.tensor([[0, 0, 0, 1, 1], [0, 0, 0, 0, 1]], undefined, int32),
    attnMask: gb.generateSquareSubsequentMask(5),
  };
  // PyTorch deep-copies the layer: at first every layer is the given one, so the stack is it three times
  const close = async (a: gb.Tensor, b: gb.Tensor) => {
    const [u, v] = [await a.toArray(), await b.toArray()];
    u.forEach((val, i) => assert.ok(Math.abs(val - v[i]) < 1e-5, `${i}: ${val} vs ${v[i]}`));
  };
  await close(
    enc.forward(x, masks),
    norm.forward(layer.forward(layer.forward(layer.forward(x, masks), masks), masks)),
  );
  // each copy trains on its own: change the middle one, and the stack is its layers in turn
  gb.noGrad(() => enc.layers[1].loadStateDict({ "linear2.bias": gb.randn([8]) }, false));
  const [l0, l1, l2] = enc.layers;
  await close(
    enc.forward(x, masks),
    norm.forward(l2.forward(l1.forward(l0.forward(x, masks), masks), masks)),
  );
  await close(
    new gb.TransformerEncoder(layer, 2).forward(x, { isCausal: true }),
    layer.forward(layer.forward(x, { isCausal: true }), { isCausal: true }),
  );
  assert.throws(() => new gb.TransformerEncoder(layer, 0), /numLayers must be a positive integer, got 0/);
});

Deno.test("TransformerEncoder equals PyTorch's nn.TransformerEncoder (2 layers, norm, padding and causal masks): state dict names, output, input gradient", async () => {
  // tests/fixtures/torch/encoder.safetensors, made by make_encoder_fixture.py there with torch 1.13
  const file = decodeSafetensors(
    await Deno.readFile(new URL("./fixtures/torch/encoder.safetensors", import.meta.url)),
    "encoder.safetensors",
  );
  const t = (name: string, requiresGrad = false) => {
    const h = file.tensors.get(name)!;
    return gb.tensor(h.data as Float32Array | Int32Array, h.shape, {
      dtype: h.dtype === "I32" ? "int32" : "float32",
      requiresGrad,
    });
  };
  const enc = new gb.TransformerEncoder(
    new gb.TransformerEncoderLayer(8, 2, { dimFeedforward: 12, dropout: 0 }),
    2,
    { norm: new gb.LayerNorm([8]) },
  );
  const state = Object.fromEntries(
    [...file.tensors.keys()].filter((n) => n.startsWith("state.")).map((n) => [n.slice(6), t(n)]),
  );
  gb.noGrad(() => enc.loadStateDict(state)); // strict: every PyTorch name is one of ours and back
  const x = t("x", true);
  const y = enc.forward(x, { keyPaddingMask: t("key_padding_mask"), attnMask: t("attn_mask") });
  const [gx] = gb.grad(gb.sum(gb.mul(y, t("R"))), [x]);
  const near = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
    const scale = Math.max(...Array.from(want, Math.abs));
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * scale, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
    }
  };
  near(await y.toArray(), file.tensors.get("output")!.data, "output");
  near(await gx.toArray(), file.tensors.get("grad.x")!.data, "d/dx");
});

/** A small classifier with enough width that its answers differ between texts. */
function tinyClassifier(): gb.TextClassifier {
  gb.manualSeed(11);
  return (gb.createModel("text-classifier", {
    vocab: 15,
    classes: 3,
    dModel: 8,
    layers: 2,
    dropout: 0,
  }) as gb.TextClassifier)
    .eval();
}

Deno.test("token integrated gradients sum to F(text) − F(<pad> embeddings), and occlusion is the text with the token masked", async () => {
  const model = tinyClassifier();
  const vocabulary = Array.from({ length: 15 }, (_, i) => `w${i}`);
  const ids = [3, 9, 4, 12, 7];
  const logits = async (rows: number[][], view: gb.Module = model) =>
    Array.from(
      await gb.noGrad(() => view.forward(gb.tensor(rows, undefined, int32))).toArray(),
    );
  for (const target of [0, 2]) {
    const e = await gb.explainTokens(model, ids, target, { vocabulary, nSteps: 64 });
    // F(x) from the classifier itself, F(x′) from <pad> ids read as tokens (the input's mask: none)
    const fx = (await logits([ids]))[target];
    const fb = (await logits([ids.map(() => 0)], new gb.ReadAllTokens(model)))[target];
    const total = e.integratedGradients.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(fx - fb) > 1e-3, `a gap to explain: ${fx - fb}`);
    assert.ok(
      Math.abs(total - (fx - fb)) < 2e-3 * Math.max(1, Math.abs(fx - fb)),
      `Σ IG ${total} vs ${fx - fb}`,
    );
    assert.ok(Math.abs(e.gap - (fx - fb)) < 1e-4, `gap ${e.gap} vs ${fx - fb}`);
    // occlusion: the logit drop with the token set to <pad> in place, one text at a time; for the
    // last token that is the text really without it (a shorter text: no position moves)
    for (let j = 0; j < ids.length; j++) {
      const drop = fx - (await logits([ids.map((id, k) => (k === j ? 0 : id))]))[target];
      assert.ok(Math.abs(e.occlusion[j] - drop) < 1e-4, `token ${j}: ${e.occlusion[j]} vs ${drop}`);
    }
    const unk = await gb.explainTokens(model, ids, target, { vocabulary, nSteps: 4, replaceWith: "unk" });
    for (let j = 0; j < ids.length; j++) {
      const drop = fx - (await logits([ids.map((id, k) => (k === j ? 1 : id))]))[target];
      assert.ok(Math.abs(unk.occlusion[j] - drop) < 1e-4, `<unk> at ${j}: ${unk.occlusion[j]} vs ${drop}`);
    }
    const shorter = fx - (await logits([ids.slice(0, -1)]))[target];
    assert.ok(
      Math.abs(e.occlusion.at(-1)! - shorter) < 1e-4,
      `last token: ${e.occlusion.at(-1)} vs ${shorter}`,
    );
    assert.deepEqual(e.tokens, ["w3", "w9", "w4", "w12", "w7"]);
  }
  // texts of one length explained together give each text's own numbers
  const other = [5, 5, 11, 2, 8];
  const batch = await gb.explainTokenBatch(model, [ids, other], [2, 1], { vocabulary });
  const alone = [
    await gb.explainTokens(model, ids, 2, { vocabulary }),
    await gb.explainTokens(model, other, 1, { vocabulary }),
  ];
  batch.forEach((e, g) => {
    assert.equal(e.target, alone[g].target);
    e.integratedGradients.forEach((v, j) =>
      assert.ok(Math.abs(v - alone[g].integratedGradients[j]) < 1e-4, `${g}.${j}`)
    );
    e.occlusion.forEach((v, j) => assert.ok(Math.abs(v - alone[g].occlusion[j]) < 1e-4, `${g}.${j}`));
  });
  await assert.rejects(() => gb.explainTokens(model, [3, 0], 0, { vocabulary }), /no <pad>/);
});

Deno.test("bag of words: the objective's gradient matches finite differences, and a planted word decides", () => {
  const docs = [[2, 3, 3], [4, 2], [5, 6, 2], [3, 6]].map((d) =>
    bagOfWordsFeatures(d, Float64Array.from({ length: 8 }, (_, i) => 1 + i / 10))
  );
  const labels = [0, 1, 2, 1], C = 3, l2 = 0.03;
  const W = Float64Array.from({ length: 8 * C }, (_, i) => Math.sin(i * 1.7) * 0.5);
  const b = Float64Array.from([0.1, -0.2, 0.05]);
  const { gW, gb: gB } = bagOfWordsObjective(docs, labels, W, b, C, l2);
  const f = () => bagOfWordsObjective(docs, labels, W, b, C, l2).loss;
  const h = 1e-6;
  for (const [p, g] of [[W, gW], [b, gB]] as const) {
    for (let i = 0; i < p.length; i++) {
      const old = p[i];
      p[i] = old + h;
      const up = f();
      p[i] = old - h;
      const down = f();
      p[i] = old;
      assert.ok(Math.abs((up - down) / (2 * h) - g[i]) < 1e-7, `${i}: ${(up - down) / (2 * h)} vs ${g[i]}`);
    }
  }
  // class = which of the words 2, 3, 4 a text has; word 5 is noise in every class
  const texts = Array.from({ length: 30 }, (_, i) => [2 + (i % 3), 5, 6 + (i % 2)]);
  const model = gb.trainBagOfWords(texts, texts.map((t) => t[0] - 2), 8, 3);
  const pred = gb.predictBagOfWords(model, [[4, 5], [2], [3, 6]]).probabilities.map((p) =>
    p.indexOf(Math.max(...p))
  );
  assert.deepEqual(pred, [2, 0, 1]);
  assert.ok(model.losses.at(-1)! < model.losses[0] / 3);
});

Deno.test("deno task text --quick: trains, evaluates both models and writes pictures, summary and the model with its profile", async () => {
  const out = await Deno.makeTempDir();
  try {
    const r = await runScript("examples/text_fortunes.ts", [
      "--quick",
      "--epochs",
      "1",
      "--explain",
      "6",
      "--collections",
      "startrek,love",
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /epoch 1\/1/);
    for (
      const f of [
        "tokens_ig.svg",
        "tokens_occlusion.svg",
        "words.svg",
        "baseline_words.svg",
        "attention.svg",
        "confusion.svg",
        "loss.svg",
        "summary.json",
        "README.md",
        "model.safetensors",
      ]
    ) {
      assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, f);
    }
    const s = JSON.parse(await Deno.readTextFile(`${out}/summary.json`)) as gb.TextSummary;
    assert.deepEqual(s.collections.map((c) => c.name), ["startrek", "love"]);
    assert.ok(s.accuracy.bagOfWords > s.accuracy.majorityClass, JSON.stringify(s.accuracy));
    assert.ok(s.explanations.worstRelativeDelta < 0.05, JSON.stringify(s.explanations));
    assert.ok(s.explanations.examples === 6);
    const svg = await Deno.readTextFile(`${out}/tokens_ig.svg`);
    assert.match(svg, /people's class: startrek/);
    const { model, metadata } = await gb.loadModel(`${out}/model.safetensors`);
    const profile = gb.profileFromMetadata(metadata)!;
    assert.equal(profile.modality, "tokens");
    assert.deepEqual(profile.classes, ["startrek", "love"]);
    assert.equal(profile.vocabulary!.length, s.data.vocabulary);
    assert.ok(model.get(profile.camLayer!) instanceof gb.Embedding);
    // a mistake on the command line: one line, exit 2
    const bad = await runScript("examples/text_fortunes.ts", ["--collections", "love"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
    assert.match(bad.err, /at least two collections/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
