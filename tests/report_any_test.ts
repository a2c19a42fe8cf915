/**
 * The report of models that are not MNIST's (issue 18): an RGB image CNN with four named
 * classes, a tabular MLP with named features and a text classifier with a tiny vocabulary, each
 * trained a few steps. Every page names the profile's classes (and features, and tokens),
 * carries no MNIST words, states the accuracy and per-class accuracy that the model's own
 * outputs give (argmax computed here, in float64), and for the tabular model a global importance
 * (mean |feature ablation|) equal to one recomputed here from forward passes. Each page opens in
 * headless Chromium with every image loaded and no console error; the Chinese tabular page keeps
 * no English heading. The CLI makes the tabular report from a checkpoint and a --data file.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { DEV_LOCK, runScript } from "./run_script.ts";
// deno-lint-ignore no-import-prefix
import { decode } from "npm:fast-png@8.0.0";

const unescape = (s: string) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(
    /&amp;/g,
    "&",
  );

/** The text of every embedded SVG picture. */
function svgs(html: string): string[] {
  return [...html.matchAll(/data:image\/svg\+xml;base64,([^"]+)"/g)].map((m) =>
    new TextDecoder().decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)))
  );
}

/** Accuracy and per-class accuracy from the model's outputs, argmax taken here. */
async function truth(
  model: gb.Module,
  profile: gb.ExplanationProfile,
  x: Float32Array | Int32Array,
  y: Int32Array,
) {
  const per = profile.inputShape.reduce((a, b) => a * b, 1), N = y.length, K = profile.classes.length;
  const out = await gb.scope(async () =>
    await gb.noGrad(() =>
      model.forward(
        profile.modality === "tokens"
          ? gb.tensor(x as Int32Array, [N, ...profile.inputShape], { dtype: "int32" })
          : gb.tensor(x as Float32Array, [N, ...profile.inputShape]),
      )
    ).toArray()
  );
  assert.equal(out.length, N * K);
  const right = new Float64Array(K), seen = new Float64Array(K);
  let all = 0;
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let c = 1; c < K; c++) if (out[n * K + c] > out[n * K + best]) best = c;
    seen[y[n]]++;
    if (best === y[n]) (right[y[n]]++, all++);
  }
  assert.ok(per > 0);
  return {
    accuracy: all / N,
    perClass: Array.from(right, (r, c) => ({ count: seen[c], accuracy: r / seen[c] })),
  };
}

/** The page's accuracy line and per-class table, and the truth they must equal. */
function checkNumbers(html: string, classes: string[], t: Awaited<ReturnType<typeof truth>>) {
  const line = /Test accuracy ([\d.]+)% on (\d+) examples\./.exec(html);
  assert.ok(line, "the accuracy line");
  assert.equal(line[1], (100 * t.accuracy).toFixed(2), "page accuracy = argmax of the model's outputs");
  const table = html.split("Accuracy per class</h3>")[1].split("</table>")[0];
  const rows = [
    ...table.matchAll(/<tr><td>([^<]*)<\/td><td class="num">(\d+)<\/td><td>([\d.]+)%<\/td><\/tr>/g),
  ];
  assert.deepEqual(rows.map((r) => unescape(r[1])), classes, "per-class rows named by the profile, in order");
  rows.forEach((r, c) => {
    assert.equal(Number(r[2]), t.perClass[c].count, `${classes[c]}: count`);
    assert.equal(r[3], (100 * t.perClass[c].accuracy).toFixed(2), `${classes[c]}: accuracy`);
  });
}

/** No MNIST words on a page about another model. */
function noMnist(html: string) {
  const text = unescape(html) + svgs(html).join("\n");
  for (const w of [/digit/i, /MNIST/, /28×28/, /数字/]) assert.doesNotMatch(text, w);
}

/** The English table's sentences and phrases (strings with a space and letters). */
function englishSentences(): string[] {
  const english: string[] = [];
  const walk = (a: unknown) => {
    if (typeof a === "string") (/[A-Za-z]{2}/.test(a) && a.includes(" ")) && english.push(a);
    else if (Array.isArray(a)) a.forEach(walk);
    else if (a && typeof a === "object") Object.values(a).forEach(walk);
  };
  walk(gb.reportStrings("en"));
  return english;
}

/** The page in Chromium (tests/browser_check.ts): every image loads, no console error, every link lands. */
async function browse(html: string, name: string) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/${name}.html`, html);
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      DEV_LOCK,
      "-A",
      "tests/browser_check.ts",
      `file://${dir}/${name}.html`,
      `${dir}/${name}.png`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const seen = JSON.parse(new TextDecoder().decode(r.stdout));
  assert.deepEqual(seen.errors, [], "no console errors");
  assert.deepEqual(seen.images.filter((i: { ok: boolean }) => !i.ok), [], "every image loads");
  assert.deepEqual(seen.missingSections, [], "every navigation link has its section");
  if (Deno.env.get("KEEP_REPORTS")) console.log(`kept ${dir}/${name}.html and .png`);
  else await Deno.remove(dir, { recursive: true });
  return seen as { headings: string[]; text: string; images: unknown[] };
}

Deno.test("report of an RGB image CNN with four named classes: names, colour pictures, numbers from its outputs, no MNIST words", async () => {
  gb.manualSeed(1);
  const opts = { size: 8, patternSize: 3, emptyClass: false, noise: 0.05 };
  const train = gb.makeRgbPatternImages({ ...opts, nSamples: 256, seed: 1 });
  const test = gb.makeRgbPatternImages({ ...opts, nSamples: 120, seed: 2, mean: train.mean, std: train.std });
  const model = gb.smallCamCnn({ channels: 3, classes: 4 });
  const profile = gb.rgbPatternProfile(train, { camLayer: "4" });
  assert.equal(profile.classes.length, 4);
  await gb.fit(model, { x: train.x, y: train.y, sampleShape: profile.inputShape }, {
    optimizer: new gb.Adam(model.parameters(), { lr: 0.01 }),
    epochs: 3,
    batchSize: 32,
  });
  const r = await gb.buildReport(
    { model, profile, test: { x: test.x, y: test.y }, train: { x: train.x, y: train.y } },
    { mistakes: 2, gallery: 2 },
  );
  const t = await truth(model, profile, test.x, test.y);
  console.log(`RGB: accuracy ${r.accuracy} (${t.accuracy} here), sections ${r.sections.join(", ")}`);
  assert.equal(r.accuracy, t.accuracy);
  checkNumbers(r.html, profile.classes, t);
  assert.deepEqual(r.sections, [
    "model",
    "distributions",
    "errors",
    "calibration",
    "mistakes",
    "gallery",
    "words",
  ]);
  noMnist(r.html);
  // no run, so no gradient tracking: the words must not claim it raised no alarm
  assert.doesNotMatch(r.html, /Gradient tracking raised no alarm/);
  // nor does any sentence promise tracking or a run, and no epoch is invented
  assert.doesNotMatch(r.html, /gradient tracking|gradient-flow chart|epoch \?|Run ;/i);
  // the class names in the confusion matrix and in the mistakes' and gallery's captions
  const pictures = svgs(r.html).join("\n");
  for (const c of profile.classes) assert.ok(pictures.includes(c), `"${c}" in the pictures`);
  assert.match(r.html, /The model predicts (red square|green diamond|blue cross|yellow ring|[a-z ]+) with/);
  // the gallery's first input drawn in colour, its normalisation undone: the data set's raw pixels
  const grid = svgs(r.html).find((s) => s.includes("Why the predicted class?"))!;
  const png = /data:image\/png;base64,([^"]+)"/.exec(grid)![1];
  const drawn = decode(Uint8Array.from(atob(png), (c) => c.charCodeAt(0)));
  const want = gb.rgbImage(test.raw.subarray(0, 3 * 64), 8, 8, drawn.width / 8);
  assert.equal(drawn.width, want.width);
  const worst = want.data.reduce((m, v, i) => Math.max(m, Math.abs(v - drawn.data[i])), 0);
  assert.ok(worst <= 1, `the first input's colours differ from its raw pixels by up to ${worst}/255`);
  assert.deepEqual(r.methods, ["saliency", "ig", "smoothgrad", "guidedbackprop", "gradcam", "occlusion"]);
  // each mistake card shows Grad-CAM at the profile's layer beside the methods its words cite
  const cards = svgs(r.html).filter((s) => /Test \d+: a .* taken for a /.test(s));
  assert.equal(cards.length, 2, "two mistake cards");
  for (const c of cards) assert.ok(c.includes(">Grad-CAM<"), "a mistake card without its Grad-CAM column");
  await checkNeighbours(r.html, model, profile, test, train);
  await browse(r.html, "rgb");
});

/**
 * Under each mistake card, two rows of nearest training examples: of the true class, then of the
 * predicted class, in the profile's (penultimate) layer. Their labels and Euclidean distances
 * equal a float64 brute force over the layer's representations (`representations`, tested
 * against a float64 forward), and the nearest one is drawn from the training set's raw pixels.
 */
async function checkNeighbours(
  html: string,
  model: gb.Module,
  profile: gb.ExplanationProfile,
  test: { x: Float32Array; y: Int32Array },
  train: { x: Float32Array; y: Int32Array; raw: Float32Array },
) {
  const layer = gb.representationLayerOf(model, profile);
  const per = profile.inputShape.reduce((a, b) => a * b, 1);
  const tr = await gb.representations(model, {
    data: train.x,
    shape: [train.y.length, ...profile.inputShape],
  }, {
    layer,
  });
  assert.match(html, /explanation by example \(Deep k-NN/, "the section says what the rows show");
  const cards = html.split('<div class="card">').slice(1);
  assert.equal(cards.length, 2);
  for (const card of cards) {
    const pics = svgs(card);
    const m = /Test (\d+): a (.*?) taken for a (.*?),/.exec(pics[0])!;
    const [i, actual, predicted] = [
      Number(m[1]),
      profile.classes.indexOf(m[2]),
      profile.classes.indexOf(m[3]),
    ];
    const q = await gb.representations(model, {
      data: test.x.slice(i * per, (i + 1) * per),
      shape: [1, ...profile.inputShape],
    }, {
      layer,
    });
    const strips = pics.filter((p) => p.includes("Nearest training examples"));
    assert.equal(strips.length, 2, "a row for the true class and one for the predicted class");
    for (
      const [s, which, cls] of [[strips[0], "true class", actual], [
        strips[1],
        "predicted class",
        predicted,
      ]] as const
    ) {
      assert.ok(
        s.includes(`of the ${which} ${profile.classes[cls]} (layer ${layer})`),
        `${which} row's title`,
      );
      const ref: [number, number][] = [];
      for (let r = 0; r < tr.n; r++) {
        if (train.y[r] !== cls) continue;
        let d = 0;
        for (let j = 0; j < tr.dim; j++) d += (q.vectors[j] - tr.vectors[r * tr.dim + j]) ** 2;
        ref.push([Math.sqrt(d), r]);
      }
      ref.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const labels = [...s.matchAll(/>([^<>]*) · d ([0-9.e+-]+)</g)].map((x) =>
        [x[1], Number(x[2])] as const
      );
      assert.equal(labels.length, 5, "five neighbours");
      labels.forEach(([name, d], j) => {
        assert.equal(
          name,
          profile.classes[cls],
          `${which} row: every neighbour is of class ${profile.classes[cls]}`,
        );
        assert.ok(
          Math.abs(d - ref[j][0]) <= 5e-3 * Math.max(1, ref[j][0]),
          `${which} distance ${d} vs ${ref[j][0]}`,
        );
      });
      const png = /data:image\/png;base64,([^"]+)"/.exec(s)![1];
      const drawn = decode(Uint8Array.from(atob(png), (c) => c.charCodeAt(0)));
      const H = profile.inputShape[1], W = profile.inputShape[2];
      const want = gb.rgbImage(
        train.raw.subarray(ref[0][1] * per, (ref[0][1] + 1) * per),
        H,
        W,
        drawn.width / W,
      );
      const worst = want.data.reduce((a, v, k) => Math.max(a, Math.abs(v - drawn.data[k])), 0);
      assert.ok(
        worst <= 1,
        `the nearest ${which} example is training image ${ref[0][1]} (off by ${worst}/255)`,
      );
    }
  }
}

const FEATURES = ["age", "income", "debt", "tenure", "visits", "score"];
const TAB_CLASSES = ["low", "mid", "high"];

async function tabularModel() {
  gb.manualSeed(2);
  const d = gb.makeClassification({ nSamples: 360, nFeatures: 6, nInformative: 3, nClasses: 3, seed: 3 });
  const F = FEATURES.length, N = 240;
  const model = gb.sequentialModel([
    { type: "Linear", in: F, out: 16, bias: true },
    { type: "ReLU" },
    { type: "Linear", in: 16, out: 3, bias: true },
  ]);
  await gb.fit(model, { x: d.x.subarray(0, N * F), y: d.y.subarray(0, N), sampleShape: [F] }, {
    optimizer: new gb.Adam(model.parameters(), { lr: 0.02 }),
    epochs: 5,
    batchSize: 32,
  });
  const profile: gb.ExplanationProfile = {
    modality: "tabular",
    inputShape: [F],
    classes: TAB_CLASSES,
    featureNames: FEATURES,
    baseline: 0,
  };
  gb.setProfile(model, profile);
  return { model, profile, test: { x: d.x.slice(N * F), y: d.y.slice(N) } };
}

Deno.test("report of a tabular MLP with named features: per-row bars, global importance = mean |feature ablation| recomputed here, numbers from its outputs, English and Chinese", async () => {
  const { model, profile, test } = await tabularModel();
  const R = 40;
  const r = await gb.buildReport({ model, profile, test }, { mistakes: 2, gallery: 2, importanceRows: R });
  const t = await truth(model, profile, test.x, test.y);
  console.log(`tabular: accuracy ${r.accuracy}, sections ${r.sections.join(", ")}, methods ${r.methods}`);
  checkNumbers(r.html, TAB_CLASSES, t);
  assert.deepEqual(r.sections, [
    "model",
    "errors",
    "calibration",
    "mistakes",
    "gallery",
    "importance",
    "words",
  ]);
  noMnist(r.html);
  assert.doesNotMatch(r.html, /filters|feature maps/i, "no image sections for a tabular model");
  // the global importance of feature ablation, recomputed: per row, the predicted class's output
  // minus its output with the feature set to the baseline (0), averaged as magnitudes
  const F = FEATURES.length;
  const rows = test.x.subarray(0, R * F);
  const withOut = new Float32Array((F + 1) * R * F);
  for (let k = 0; k <= F; k++) {
    withOut.set(rows, k * R * F);
    if (k > 0) { for (let n = 0; n < R; n++) withOut[k * R * F + n * F + k - 1] = 0; }
  }
  const out = await gb.scope(async () =>
    await gb.noGrad(() => model.forward(gb.tensor(withOut, [(F + 1) * R, F]))).toArray()
  );
  const K = TAB_CLASSES.length, want = new Float64Array(F);
  for (let n = 0; n < R; n++) {
    let pred = 0;
    for (let c = 1; c < K; c++) if (out[n * K + c] > out[n * K + pred]) pred = c;
    for (let f = 0; f < F; f++) {
      want[f] += Math.abs(out[n * K + pred] - out[((f + 1) * R + n) * K + pred]) / R;
    }
  }
  const j = r.importance!.methods.indexOf("ablation");
  assert.ok(j >= 0, `feature ablation among ${r.importance!.methods}`);
  assert.deepEqual(r.importance!.features, FEATURES);
  const table = r.html.split('<section id="importance">')[1].split("</table>")[0];
  const header = [...table.split("</thead>")[0].matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]);
  const col = header.indexOf("Feature ablation");
  assert.ok(col > 0, `a Feature ablation column in ${header}`);
  const cells = new Map(
    [...table.matchAll(/<tr><td>([^<]*)<\/td>((?:<td class="num">[^<]*<\/td>)+)<\/tr>/g)].map((m) => [
      m[1],
      [...m[2].matchAll(/<td class="num">([^<]*)<\/td>/g)].map((v) => Number(v[1])),
    ]),
  );
  FEATURES.forEach((f, i) => {
    const got = r.importance!.values[j][i], shown = cells.get(f)?.[col - 1];
    assert.ok(Math.abs(got - want[i]) <= 1e-4 * Math.max(1, want[i]), `${f}: report ${got}, here ${want[i]}`);
    assert.ok(
      shown !== undefined && Math.abs(shown - want[i]) <= 1e-3 * Math.max(1, want[i]),
      `${f}: page ${shown}, here ${want[i]}`,
    );
  });
  // every feature named in the per-row bars
  const bars = svgs(r.html).filter((s) => s.includes("Test row")).join("\n");
  for (const f of FEATURES) assert.ok(bars.includes(`>${f}<`), `feature ${f} in the bars`);
  assert.match(unescape(r.html), /The score of class (low|mid|high) is/);
  await browse(r.html, "tabular");

  // Chinese: the same numbers, no English heading or sentence of the report's table left
  const zh = await gb.buildReport({ model, profile, test }, {
    lang: "zh",
    mistakes: 1,
    gallery: 1,
    importanceRows: R,
  });
  assert.match(zh.html, /<html lang="zh">/);
  assert.match(
    zh.html,
    new RegExp(`在 ${test.y.length} 个测试样本上的准确率为 ${(100 * t.accuracy).toFixed(2)}%`),
  );
  assert.match(zh.html, /全局特征重要性/);
  const seen = await browse(zh.html, "tabular-zh");
  assert.deepEqual(
    englishSentences().filter((e) => seen.text.includes(e)),
    [],
    "no English sentence in the Chinese page",
  );
  const svgText = svgs(zh.html).join("\n");
  assert.doesNotMatch(svgText, /Test row|attribution to the predicted class|mean \|attribution\|/);
});

Deno.test("report of a text classifier: tokens coloured by Layer Integrated Gradients at the embedding, class names, numbers from its outputs", async () => {
  gb.manualSeed(3);
  const vocab = [
    "<pad>",
    "<unk>",
    "rocket",
    "orbit",
    "launch",
    "goal",
    "match",
    "coach",
    "vote",
    "law",
    "court",
    "the",
  ];
  const classes = ["space", "sport", "politics"], T = 6;
  const g = new gb.Generator(4);
  const make = (n: number) => {
    const x = new Int32Array(n * T), y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = g.int(3), len = 3 + g.int(3);
      y[i] = c;
      for (let k = 0; k < len; k++) x[i * T + k] = g.random() < 0.6 ? 2 + 3 * c + g.int(3) : 11;
    }
    return { x, y };
  };
  const train = make(192), test = make(60);
  const model = new gb.TextClassifier({
    vocab: vocab.length,
    classes: 3,
    dModel: 16,
    nhead: 2,
    layers: 1,
    maxLen: T,
    dropout: 0,
  });
  const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
  for (let step = 0; step < 30; step++) {
    const s = (step % 6) * 32;
    await gb.scope(async () => {
      opt.zeroGrad();
      const l = gb.crossEntropy(
        model.forward(gb.tensor(train.x.subarray(s * T, (s + 32) * T), [32, T], { dtype: "int32" })),
        gb.tensor(train.y.subarray(s, s + 32), [32], { dtype: "int32" }),
      );
      await l.backward();
      opt.step();
    });
  }
  const profile = model.profile(T, classes, vocab);
  const r = await gb.buildReport({ model, profile, test }, { mistakes: 2, gallery: 3 });
  const t = await truth(model, profile, test.x, test.y);
  console.log(`tokens: accuracy ${r.accuracy}, sections ${r.sections.join(", ")}, methods ${r.methods}`);
  checkNumbers(r.html, classes, t);
  assert.deepEqual(r.methods, ["lig", "ablation"]);
  assert.deepEqual(r.sections, ["model", "errors", "calibration", "mistakes", "gallery", "words"]);
  noMnist(r.html);
  const pictures = svgs(r.html);
  const lig = pictures.filter((s) => s.includes("Layer Integrated Gradients: each token"));
  assert.ok(lig.length >= 1, "a token picture of Layer Integrated Gradients");
  // the gallery's first text, token by token, without its padding
  const first = Array.from(test.x.subarray(0, T)).filter((id) => id !== 0).map((id) => vocab[id]);
  const gallery = lig.at(-1)!;
  const drawn = [...gallery.matchAll(/font-size="13"(?: fill="white")?>([^<]+)<\/text>/g)].map((m) => m[1]);
  assert.deepEqual(drawn.slice(0, first.length), first, "the first text's tokens, in order");
  assert.ok(!drawn.includes("&lt;pad&gt;"), "no padding drawn");
  for (const c of classes) assert.ok(pictures.join("\n").includes(c), `class ${c} in the pictures`);
  await browse(r.html, "tokens");

  // Chinese: the token pictures' titles and colour key too
  const zh = await gb.buildReport({ model, profile, test }, { lang: "zh", mistakes: 1, gallery: 1 });
  const zhPictures = svgs(zh.html).join("\n");
  assert.match(zhPictures, /层积分梯度：每个词元按其归因着色/);
  assert.match(zhPictures, /蓝色：不利于该类别/);
  assert.doesNotMatch(zhPictures, /each token coloured|against the class|Layer Integrated Gradients/);
  const seen = await browse(zh.html, "tokens-zh");
  assert.deepEqual(
    englishSentences().filter((e) => seen.text.includes(e)),
    [],
    "no English sentence in the Chinese page",
  );
});

Deno.test("deno task report --checkpoint --data: a tabular model's page from files; a model that is not MNIST's without --data is one plain line, exit 2", async () => {
  const { model, test } = await tabularModel();
  const dir = await Deno.makeTempDir();
  await gb.saveModel(model, `${dir}/model.safetensors`);
  await Deno.writeFile(
    `${dir}/test.safetensors`,
    gb.encodeSafetensors([
      ["x", { dtype: "F32", shape: [test.y.length, FEATURES.length], data: test.x }],
      ["y", { dtype: "I32", shape: [test.y.length], data: test.y }],
    ]),
  );
  const none = await runScript("examples/report.ts", ["--checkpoint", `${dir}/model.safetensors`]);
  assert.equal(none.code, 2, none.err);
  assert.equal(none.err.trim().split("\n").length, 1, none.err);
  assert.match(none.err, /^error: .*not an MNIST model .*give its test set with --data/);
  // a test set of another shape: one plain line naming the shape the model needs, exit 2
  await Deno.writeFile(
    `${dir}/wrong.safetensors`,
    gb.encodeSafetensors([
      ["x", { dtype: "F32", shape: [2, 5], data: new Float32Array(10) }],
      ["y", { dtype: "I32", shape: [2], data: new Int32Array(2) }],
    ]),
  );
  const wrong = await runScript("examples/report.ts", [
    ...["--checkpoint", `${dir}/model.safetensors`, "--data", `${dir}/wrong.safetensors`],
  ]);
  assert.equal(wrong.code, 2, wrong.err);
  assert.equal(wrong.err.trim().split("\n").length, 1, wrong.err);
  assert.match(
    wrong.err,
    /^error: --data .*wrong\.safetensors: needs an F32 or I32 tensor "x" \[N, 6\].*got F32 \[2, 5\]/,
  );
  // one output is no classifier the errors and calibration sections can judge: refused, saying why
  const single = gb.sequentialModel([{ type: "Linear", in: 2, out: 1, bias: true }]);
  await assert.rejects(
    () =>
      gb.buildReport({
        model: single,
        profile: { modality: "tabular", inputShape: [2], classes: ["yes"] },
        test: { x: new Float32Array(4), y: new Int32Array(2) },
      }),
    /names 1 class \(yes\).*at least two/,
  );
  const ok = await runScript("examples/report.ts", [
    ...["--checkpoint", `${dir}/model.safetensors`, "--data", `${dir}/test.safetensors`],
    ...["--mistakes", "1", "--gallery", "1"],
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /wrote .*report\.html/);
  const html = await Deno.readTextFile(`${dir}/report.html`);
  const t = await truth(model, gb.modelProfile(model)!, test.x, test.y);
  checkNumbers(html, TAB_CLASSES, t);
  assert.match(html, /<section id="importance">/);
  await Deno.remove(dir, { recursive: true });
});
