/**
 * The dashboard serves any model that carries an explanation profile, not only MNIST's: an RGB
 * 3×8×8 CNN with four named classes and its own normalisation, a tabular MLP with named features,
 * and a text classifier with a tiny vocabulary — each saved with its profile and loaded back.
 * /api/explain answers equal the attribution methods called directly (their settings written out
 * by hand, the input normalised or tokenised by hand) to 1e-6, /api/info names the model's
 * classes, features and methods, an examples file is offered as the request's input units, and a
 * wrong input is a 400 naming the field, the expected size and what came.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";
// deno-lint-ignore no-import-prefix
import { decode } from "npm:fast-png@8.0.0";

const post = (body: unknown) =>
  new Request("http://127.0.0.1/api/explain", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });

async function result(r: Response): Promise<gb.ExplainResult> {
  assert.equal(r.status, 200, r.status === 200 ? "" : await r.clone().text());
  const lines = (await r.text()).trim().split("\n").map((l) => JSON.parse(l));
  const last = lines.at(-1)!;
  assert.ok("result" in last, JSON.stringify(last));
  return last.result as gb.ExplainResult;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-6): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
      `${what}[${i}]: ${got[i]} ≠ ${want[i]}`,
    );
  }
}

/** Softmax in float64. */
function softmax64(logits: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(logits)), e = Array.from(logits, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function handlerFor(model: gb.Module, examples?: gb.Dataset) {
  const explainer = new gb.Explainer(model); // the profile the loaded model carries
  return gb.createHandler(explainer, { readStatic: () => Promise.resolve(null), examples });
}

async function saveAndLoad(model: gb.Module, profile: gb.ExplanationProfile) {
  const dir = await Deno.makeTempDir();
  try {
    await gb.saveModel(model, `${dir}/m.safetensors`, gb.profileMetadata(profile));
    const loaded = await gb.loadModel(`${dir}/m.safetensors`);
    assert.deepEqual(loaded.profile, profile);
    return loaded.model;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function badRequests(handle: (r: Request) => Promise<Response>, cases: [unknown, RegExp][]) {
  for (const [body, reason] of cases) {
    const r = await handle(post(body));
    assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
    assert.match((await r.json()).error, reason);
  }
}

const RGB: gb.ExplanationProfile = {
  modality: "image",
  inputShape: [3, 8, 8],
  classes: ["red square", "green bar", "blue dot", "nothing"],
  mean: [0.5, 0.4, 0.3],
  std: [0.25, 0.2, 0.3],
  baseline: -1.5,
  camLayer: "1",
  methods: ["saliency", "ig", "gradcam", "occlusion"],
};

/** A raw 3×8×8 image in [0, 1]: a bright square in the green channel on a noisy background. */
function rawRgb(seed: number): number[] {
  const g = new gb.Generator(seed);
  return Array.from({ length: 192 }, (_, i) => {
    const c = Math.floor(i / 64), h = Math.floor((i % 64) / 8), w = i % 8;
    const v = (c === 1 && h >= 2 && h < 6 && w >= 3 && w < 7 ? 0.85 : 0.1) + 0.1 * g.random();
    return Math.round(v * 1e4) / 1e4;
  });
}

Deno.test("dashboard, RGB 3×8×8 CNN with named classes: /api/explain equals the methods called directly on the input normalised by hand; /api/info and examples follow the profile", async () => {
  gb.manualSeed(21);
  const model = await saveAndLoad(gb.createModel("small-cam-cnn", { channels: 3, classes: 4 }), RGB);
  const raw = rawRgb(3);
  // examples as `deno task explain --data` takes them: normalised, with labels
  const xs = new Float32Array(2 * 192);
  [rawRgb(3), rawRgb(4)].forEach((r, n) =>
    r.forEach((
      v,
      i,
    ) => (xs[n * 192 + i] = (v - RGB.mean![Math.floor(i / 64)]) / RGB.std![Math.floor(i / 64)]))
  );
  const file = gb.encodeSafetensors([
    ["x", { dtype: "F32", shape: [2, 3, 8, 8], data: xs }],
    ["y", { dtype: "I32", shape: [2], data: Int32Array.from([1, 3]) }],
  ]);
  const handle = handlerFor(model, gb.dashboardExamples(file, "rgb.safetensors", RGB));

  const info = await (await handle(new Request("http://127.0.0.1/api/info"))).json();
  assert.equal(info.modality, "image");
  assert.deepEqual(info.inputShape, [3, 8, 8]);
  assert.deepEqual(info.classes, RGB.classes);
  assert.equal(info.examples, 2);
  const names = info.methods.map((m: gb.OfferedMethod) => m.name);
  assert.deepEqual(names.slice(0, 4), RGB.methods, "the profile's methods first");
  assert.ok(!names.includes("ablation") && !names.includes("lig") && names.includes("layercam"));
  assert.deepEqual(
    info.methods.filter((m: gb.OfferedMethod) => m.preselected).map((m: gb.OfferedMethod) => m.name),
    ["saliency", "ig", "gradcam"],
  );
  const ex = await (await handle(new Request("http://127.0.0.1/api/test/1"))).json();
  assert.equal(ex.label, 3);
  assert.equal(ex.labelName, "nothing");
  close(ex.input, rawRgb(4), "example 1 back in raw pixels", 1e-4);

  const res = await result(await handle(post({ input: raw, methods: RGB.methods })));
  // the truth: normalised by hand, the methods called directly with the profile's settings written out
  const x = gb.tensor(
    Float32Array.from(raw, (v, i) => (v - RGB.mean![Math.floor(i / 64)]) / RGB.std![Math.floor(i / 64)]),
    [
      1,
      3,
      8,
      8,
    ],
  );
  const probs = softmax64(await gb.noGrad(() => model.forward(x)).toArray());
  close(res.probabilities, probs, "probabilities");
  const target = probs.indexOf(Math.max(...probs));
  assert.equal(res.predicted, target);
  assert.deepEqual(res.classes, RGB.classes);
  const want: Record<string, () => Promise<gb.Tensor>> = {
    saliency: () => new gb.Saliency(model).attribute(x, { target }),
    ig: () => new gb.IntegratedGradients(model).attribute(x, { target, baselines: -1.5, nSteps: 32 }),
    gradcam: () => new gb.GradCAM(model, model.get("1")).attribute(x, { target }),
    occlusion: () =>
      new gb.Occlusion(model).attribute(x, {
        target,
        slidingWindowShapes: [3, 4, 4],
        strides: [3, 2, 2],
        baselines: -1.5,
      }),
  };
  assert.deepEqual(res.heatmaps.map((h) => h.method), RGB.methods);
  for (const h of res.heatmaps) {
    const a = await want[h.method]();
    assert.deepEqual(h.shape, a.shape.slice(1), h.method);
    close(h.values, await a.toArray(), h.method);
    assert.ok(h.png?.startsWith("data:image/png;base64,"), h.method);
  }
  assert.equal(res.explanation.length > 0, true, "an image model gets the explanation in words");
  assert.match(res.explanation, /red square|green bar|blue dot|nothing/, "in the profile's class names");

  await badRequests(handle, [
    [{ input: raw.slice(0, 64) }, /^input must be an array of 192 numbers \(3×8×8\), got 64/],
    [{ pixels: [...raw, 0] }, /^pixels must be an array of 192 numbers \(3×8×8\), got 193/],
    [
      { input: raw.map((v, i) => (i === 70 ? 1.5 : v)) },
      /^input\[70\] is 1\.5; every pixel must be a number in \[0, 1\]/,
    ],
    [{ methods: ["saliency"] }, /^input is missing: this model takes an array of 192 numbers \(3×8×8\)/],
    [{ input: raw, pixels: raw }, /input or as pixels, not both/],
    [
      { input: raw, methods: ["ablation"] },
      /unknown method ablation; choose from saliency, ig, gradcam, occlusion/,
    ],
  ]);
});

Deno.test("dashboard: a request body may hold a larger image than 64 KiB allows (3×64×64 pixels to 4 decimals), and the bound still holds past it", async () => {
  gb.manualSeed(6);
  const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 2 });
  const profile: gb.ExplanationProfile = { modality: "image", inputShape: [3, 64, 64], classes: ["a", "b"] };
  const handle = gb.createHandler(new gb.Explainer(model, profile), {
    readStatic: () => Promise.resolve(null),
  });
  const input = Array.from({ length: 3 * 64 * 64 }, (_, i) => +((i % 97) / 97 + 0.00001).toFixed(4));
  const body = JSON.stringify({ input, methods: [] });
  assert.ok(body.length > 65536, `${body.length} bytes`);
  const res = await result(await handle(post({ input, methods: [] })));
  assert.equal(res.probabilities.length, 2);
  const big = await handle(post({ input, methods: [], pad: "x".repeat(16 * 3 * 64 * 64) }));
  assert.equal(big.status, 413);
});

const TABULAR: gb.ExplanationProfile = {
  modality: "tabular",
  inputShape: [5],
  classes: ["default"],
  featureNames: ["age", "income", "debt", "years employed", "children"],
  baseline: 0,
  methods: ["saliency", "ig", "deeplift", "ablation"],
};

Deno.test("dashboard, tabular MLP with named features: an input keyed by name (any order) or as a list equals the methods called directly in the profile's feature order; one output is a sigmoid probability", async () => {
  gb.manualSeed(8);
  const model = await saveAndLoad(gb.createModel("tabular-mlp", { features: 5, hidden: 8 }), TABULAR);
  const handle = handlerFor(model);
  const info = await (await handle(new Request("http://127.0.0.1/api/info"))).json();
  assert.equal(info.modality, "tabular");
  assert.deepEqual(info.featureNames, TABULAR.featureNames);
  assert.deepEqual(info.classes, ["default"]);
  assert.equal(info.examples, 0);
  assert.equal(info.words, false);
  const names = info.methods.map((m: gb.OfferedMethod) => m.name);
  assert.ok(names.includes("kernelshap") && !names.includes("gradcam") && !names.includes("occlusion"));

  const row = [1.25, -0.5, 2, 0.75, -1.5];
  const keyed = { children: -1.5, debt: 2, age: 1.25, "years employed": 0.75, income: -0.5 };
  const byName = await result(await handle(post({ input: keyed, methods: TABULAR.methods })));
  const byList = await result(await handle(post({ input: row, methods: TABULAR.methods })));
  const x = gb.tensor(Float32Array.from(row), [1, 5]);
  const logit = (await gb.noGrad(() => model.forward(x)).toArray())[0];
  const target = 0;
  const want: Record<string, () => Promise<gb.Tensor>> = {
    saliency: () => new gb.Saliency(model).attribute(x, { target }),
    ig: () => new gb.IntegratedGradients(model).attribute(x, { target, baselines: 0, nSteps: 32 }),
    deeplift: () => new gb.DeepLift(model).attribute(x, { target, baselines: 0 }),
    ablation: () => new gb.FeatureAblation(model).attribute(x, { target, baselines: 0 }),
  };
  for (const res of [byName, byList]) {
    close(res.probabilities, [1 / (1 + Math.exp(-logit))], "sigmoid probability");
    assert.equal(res.predicted, 0);
    for (const h of res.heatmaps) {
      assert.deepEqual(h.shape, [5]);
      assert.equal(h.png, undefined);
      close(h.values, await (await want[h.method]()).toArray(), h.method);
    }
  }
  await badRequests(handle, [
    [
      { input: row.slice(0, 4) },
      /^input must be an array of 5 numbers \(one per feature: age, income, debt, years employed, children\) or an object with those keys, got 4/,
    ],
    [{ input: { ...keyed, height: 3 } }, /^input has no feature "height"; the features are age, income/],
    [{ input: { age: 1 } }, /^input is missing features income, debt, years employed, children/],
    [{ input: [1, 2, "x", 4, 5] }, /^input\[2\] \(debt\) is "x"; every feature must be a finite number/],
    [{ pixels: row }, /^pixels is for image models; this tabular model takes input: an array of 5 numbers/],
    [{ input: row, layer: "0" }, /^unknown layer "0"; this model shows no feature maps/],
  ]);
});

const NET = ["--allow-read", "--allow-write", "--allow-env", "--allow-net=127.0.0.1"];

const VOCAB = ["<pad>", "<unk>", "good", "bad", "day", "the", "very", "not"];

Deno.test("dashboard, text classifier with a tiny vocabulary: a text is tokenised as the fortunes data are (lower-cased words, <unk>, <pad> to the length) and its maps equal LayerIntegratedGradients and token ablation called directly", async () => {
  gb.manualSeed(5);
  const built = gb.createModel("text-classifier", {
    vocab: VOCAB.length,
    classes: 2,
    dModel: 8,
    nhead: 2,
    layers: 1,
    maxLen: 6,
  }) as gb.TextClassifier;
  const profile = built.profile(6, ["gloomy", "cheerful"], VOCAB);
  const model = await saveAndLoad(built, profile);
  const handle = handlerFor(model);
  const info = await (await handle(new Request("http://127.0.0.1/api/info"))).json();
  assert.equal(info.modality, "tokens");
  assert.deepEqual(info.classes, ["gloomy", "cheerful"]);
  assert.equal(info.acceptsText, true);
  assert.deepEqual(info.methods.map((m: gb.OfferedMethod) => m.name), ["lig", "ablation"]);

  // by hand: the, very, good, day → 5, 6, 2, 4; "indeed" is not in the vocabulary → <unk> = 1; <pad> = 0
  const ids = [5, 6, 2, 4, 1, 0];
  const fromText = await result(
    await handle(post({ input: "The VERY good Day, indeed!", methods: ["lig", "ablation"] })),
  );
  const fromIds = await result(await handle(post({ input: ids, methods: ["lig", "ablation"] })));
  assert.deepEqual(fromText.tokens, ["the", "very", "good", "day", "<unk>", "<pad>"]);
  const x = gb.tensor(Int32Array.from(ids), [1, 6], { dtype: "int32" });
  const probs = softmax64(await gb.noGrad(() => model.forward(x)).toArray());
  const target = probs.indexOf(Math.max(...probs));
  // LIG at the embedding, baseline <pad> everywhere, summed over the embedding's width
  const lig = await new gb.LayerIntegratedGradients(model, model.get("embed")).attribute(x, {
    target,
    baselines: gb.zeros([1, 6], { dtype: "int32" }),
    nSteps: 32,
  });
  const ligPerToken = await gb.sum(lig, -1).toArray();
  // token ablation by hand: the target's logit minus that with each position set to <pad>
  const logit = async (row: number[]) =>
    (await gb.noGrad(() => model.forward(gb.tensor(Int32Array.from(row), [1, 6], { dtype: "int32" })))
      .toArray())[target];
  const base = await logit(ids);
  const ablation: number[] = [];
  for (let t = 0; t < 6; t++) ablation.push(base - await logit(ids.map((v, i) => (i === t ? 0 : v))));
  for (const res of [fromText, fromIds]) {
    close(res.probabilities, probs, "probabilities");
    assert.equal(res.predicted, target);
    close(res.heatmaps[0].values, ligPerToken, "lig");
    close(res.heatmaps[1].values, ablation, "ablation", 1e-5);
    assert.equal(res.explanation, "", "the words are written for images only");
  }
  assert.equal(fromText.truncated, 0);
  assert.equal(fromIds.truncated, undefined);
  // a text longer than the input: the first 6 words are read, and the answer says how many were not
  const long = await result(
    await handle(post({ input: "not a good day, not a bad day, the end", methods: [] })),
  );
  assert.deepEqual(long.tokens, ["not", "<unk>", "good", "day", "not", "<unk>"]);
  assert.equal(long.truncated, 4);
  await badRequests(handle, [
    [{ input: [5, 6, 2] }, /^input must be a text or an array of 6 token ids \(integers 0 to 7\), got 3/],
    [{ input: [5, 6, 2, 4, 8, 0] }, /^input\[4\] is 8; a token id is an integer from 0 to 7/],
    [{ input: 42 }, /^input must be a text or an array of 6 token ids .*, got number/],
  ]);
});

Deno.test("deno task serve --examples: a tabular checkpoint with its profile is served with its examples; a file that does not fit is one error naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    gb.manualSeed(9);
    await gb.saveModel(
      gb.createModel("tabular-mlp", { features: 5, hidden: 8 }),
      `${dir}/t.safetensors`,
      gb.profileMetadata(TABULAR),
    );
    await Deno.writeFile(
      `${dir}/wrong.safetensors`,
      gb.encodeSafetensors([["x", { dtype: "F32", shape: [2, 4], data: new Float32Array(8) }]]),
    );
    const bad = await runScript("examples/serve.ts", [
      "--checkpoint",
      `${dir}/t.safetensors`,
      "--examples",
      `${dir}/wrong.safetensors`,
      "--port",
      "0",
    ], NET);
    assert.equal(bad.code, 1, bad.err);
    assert.match(bad.err, /wrong\.safetensors: "x" is \[2, 4\]; the model takes \[N, 5\]/);
    assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
    const missing = await runScript("examples/serve.ts", [
      "--checkpoint",
      `${dir}/t.safetensors`,
      "--examples",
      `${dir}/no.safetensors`,
    ], NET);
    assert.equal(missing.code, 2, missing.err);
    assert.match(missing.err, /--examples: no file at/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts `deno task serve` on a free port for `checkpoint` (and examples), and stops it. */
async function startServer(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...NET, "examples/serve.ts", "--port", "0", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/on (http:\S+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server stopped: ${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    url: /on (http:\S+)/.exec(text)![1],
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel().catch(() => {});
    },
  };
}

Deno.test("the dashboard in headless Chromium for an RGB, a tabular and a text model: the page builds the input each needs and shows the profile's class names, a chart per method over the named features, and the text's tokens coloured with a key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    gb.manualSeed(21);
    await gb.saveModel(
      gb.createModel("small-cam-cnn", { channels: 3, classes: 4 }),
      `${dir}/rgb.safetensors`,
      gb.profileMetadata(RGB),
    );
    const xs = Float32Array.from({ length: 2 * 192 }, (_, i) => {
      const c = Math.floor((i % 192) / 64);
      return (rawRgb(3 + Math.floor(i / 192))[i % 192] - RGB.mean![c]) / RGB.std![c];
    });
    await Deno.writeFile(
      `${dir}/rgb_x.safetensors`,
      gb.encodeSafetensors([
        ["x", { dtype: "F32", shape: [2, 3, 8, 8], data: xs }],
        ["y", { dtype: "I32", shape: [2], data: Int32Array.from([1, 3]) }],
      ]),
    );
    // a 16×16 picture of one orange: resized to 8×8 it stays (1, 128/255, 0) in every pixel
    const px = new Uint8Array(16 * 16 * 4);
    for (let i = 0; i < 256; i++) px.set([255, 128, 0, 255], i * 4);
    await Deno.writeFile(`${dir}/orange.png`, gb.encodePng({ width: 16, height: 16, data: px }));
    await gb.saveModel(
      gb.createModel("tabular-mlp", { features: 5, hidden: 8 }),
      `${dir}/tab.safetensors`,
      gb.profileMetadata(TABULAR),
    );
    const text = gb.createModel("text-classifier", {
      vocab: VOCAB.length,
      classes: 2,
      dModel: 8,
      nhead: 2,
      layers: 1,
      maxLen: 12,
    }) as gb.TextClassifier;
    await gb.saveModel(
      text,
      `${dir}/text.safetensors`,
      gb.profileMetadata(text.profile(12, ["gloomy", "cheerful"], VOCAB)),
    );

    const runs: [string, string[], string[]][] = [
      ["rgb", ["--checkpoint", `${dir}/rgb.safetensors`, "--examples", `${dir}/rgb_x.safetensors`], [
        `${dir}/orange.png`,
      ]],
      ["tab", ["--checkpoint", `${dir}/tab.safetensors`], []],
      ["text", ["--checkpoint", `${dir}/text.safetensors`], []],
    ];
    // the three servers at once, and one browser for the three dashboards (a fresh context each)
    const seen: Record<string, Record<string, unknown>> = {};
    const started = await Promise.allSettled(runs.map(([, args]) => startServer(args)));
    const servers = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
    try {
      for (const s of started) if (s.status === "rejected") throw s.reason;
      const shot = Deno.env.get("GLASSBOX_SCREENSHOTS");
      const run = await runScript(
        "tests/browser_models.ts",
        runs.flatMap(([name, , extra], k) => [
          ...(k ? ["+"] : []),
          servers[k].url,
          shot ? `${shot}/dashboard_${name}.png` : "",
          ...extra,
        ]),
        ["-A"],
      );
      assert.equal(run.code, 0, run.err);
      const lines = run.out.trim().split("\n");
      assert.equal(lines.length, runs.length, run.out);
      for (const [k, [name]] of runs.entries()) {
        seen[name] = JSON.parse(lines[k]);
        assert.deepEqual(seen[name].errors, [], name);
      }
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
    const rgb = seen.rgb;
    assert.match(rgb.model as string, /RGB images of 8×8 pixels and gives 4 classes \(red square, green bar/);
    assert.match(rgb.note as string, /orange\.png, resized to 8×8 pixels/);
    // the note before anything is loaded reads as sentences: each starts with a capital, no double spaces
    for (const [name, v] of Object.entries(seen)) {
      const note = v.firstNote as string;
      assert.doesNotMatch(note, /\. [a-z]| {2}/, `${name}: "${note}"`);
    }
    close(
      rgb.input as number[],
      [...new Array(64).fill(1), ...new Array(64).fill(0.502), ...new Array(64).fill(0)],
      "uploaded picture",
      1e-3,
    );
    assert.match(
      rgb.prediction as string,
      /^Prediction: (red square|green bar|blue dot|nothing) \(\d+\.\d%\)$/,
    );
    assert.deepEqual(rgb.bars, RGB.classes);
    assert.deepEqual(rgb.maps, ["Saliency", "Integrated Gradients", "Grad-CAM"]);
    assert.match(rgb.explanation as string, /^模型预测为/);
    assert.equal(rgb.words, true);

    const tab = seen.tab;
    assert.match(
      tab.model as string,
      /5 numeric features and gives one output, the probability of "default"/,
    );
    assert.match(tab.prediction as string, /^Probability of default: \d+\.\d%$/);
    assert.deepEqual(tab.maps, ["Saliency", "Integrated Gradients", "DeepLift", "Feature ablation"]);
    assert.deepEqual(tab.features, TABULAR.featureNames);
    assert.equal(tab.words, false);

    const txt = seen.text;
    assert.match(txt.prediction as string, /^Prediction: (gloomy|cheerful) \(\d+\.\d%\)$/);
    assert.deepEqual(txt.bars, ["gloomy", "cheerful"]);
    assert.deepEqual(txt.maps, ["Layer Integrated Gradients", "Feature ablation"]);
    assert.deepEqual(
      txt.tokens,
      ["the", "very", "good", "day", "<unk>"],
      "the text's tokens, without the padding",
    );
    assert.equal(txt.keys, 2, "a colour key under each row");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dashboard examples of a token model: I32 token ids (as deno task explain --data takes them) are offered as they are; I32 for a tabular model is an error naming the dtype", () => {
  const profile = gb.validateProfile({
    modality: "tokens",
    inputShape: [4],
    classes: ["gloomy", "cheerful"],
    vocabulary: VOCAB,
  });
  const ids = Int32Array.from([5, 2, 4, 0, 3, 7, 1, 0]);
  const bytes = gb.encodeSafetensors([
    ["x", { dtype: "I32", shape: [2, 4], data: ids }],
    ["y", { dtype: "I32", shape: [2], data: Int32Array.from([1, 0]) }],
  ]);
  const d = gb.dashboardExamples(bytes, "ids.safetensors", profile);
  assert.deepEqual(Array.from(d.x), Array.from(ids));
  assert.deepEqual(Array.from(d.y), [1, 0]);
  const tab = gb.validateProfile({ modality: "tabular", inputShape: [4], classes: ["no", "yes"] });
  assert.throws(
    () => gb.dashboardExamples(bytes, "ids.safetensors", tab),
    /an F32 tensor "x" \[N, 4\], got I32/,
  );
});

Deno.test("dashboard /api/neighbours: the nearest training examples of the predicted and the true class equal a float64 brute force; built once, on first use; guarded as /api/explain is", async () => {
  gb.manualSeed(22);
  const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
  gb.setProfile(model, RGB);
  const n = 60,
    norm = (v: number, i: number) => (v - RGB.mean![Math.floor(i / 64)]) / RGB.std![Math.floor(i / 64)];
  const raws = Array.from({ length: n }, (_, k) => rawRgb(100 + k));
  const train = {
    x: Float32Array.from(raws.flat(), (v, i) => norm(v, i % 192)),
    y: Int32Array.from({ length: n }, (_, k) => k % 4),
  };
  let builds = 0;
  const handle = gb.createHandler(new gb.Explainer(model), {
    readStatic: () => Promise.resolve(null),
    neighbours: async () => {
      builds++;
      return { bank: await gb.TrainingBank.build(model, RGB, train), train };
    },
    neighbourCount: 4,
  });
  const info = await (await handle(new Request("http://127.0.0.1/api/info"))).json();
  assert.deepEqual(info.neighbours, { k: 4 });
  assert.equal(builds, 0, "nothing is built before the first request");

  const raw = rawRgb(7);
  const x = Float32Array.from(raw, norm);
  const logits = await gb.scope(async () => {
    model.eval();
    return Array.from(await model.forward(gb.tensor(x, [1, 3, 8, 8])).toArray());
  });
  const predicted = logits.indexOf(Math.max(...logits));
  const label = (predicted + 1) % 4; // a mistake: its true class is another
  const ask = (body: unknown, init: { host?: string; type?: string; method?: string } = {}) =>
    handle(
      new Request(`http://${init.host ?? "127.0.0.1"}/api/neighbours`, {
        method: init.method ?? "POST",
        body: init.method === "GET" ? undefined : JSON.stringify(body),
        headers: { "content-type": init.type ?? "application/json" },
      }),
    );
  const r = await ask({ input: raw, label });
  assert.equal(r.status, 200, await r.clone().text());
  const res = await r.json();
  const layer = gb.representationLayerOf(model, RGB);
  assert.equal(res.layer, layer);
  assert.equal(res.predicted, predicted);
  assert.deepEqual(res.rows.map((row: { which: string; class: number }) => [row.which, row.class]), [
    ["predicted", predicted],
    ["true", label],
  ]);
  const tr = await gb.representations(model, { data: train.x, shape: [n, 3, 8, 8] }, { layer });
  const q = await gb.representations(model, { data: x, shape: [1, 3, 8, 8] }, { layer });
  for (const row of res.rows) {
    const ref = Array.from({ length: n }, (_, i) => i).filter((i) => train.y[i] === row.class).map((i) => {
      let d = 0;
      for (let j = 0; j < tr.dim; j++) d += (q.vectors[j] - tr.vectors[i * tr.dim + j]) ** 2;
      return [Math.sqrt(d), i];
    }).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, 4);
    assert.deepEqual(
      row.neighbours.map((nb: { index: number }) => nb.index),
      ref.map((e) => e[1]),
      row.which,
    );
    row.neighbours.forEach(
      (nb: { index: number; label: number; labelName: string; distance: number; png: string }, j: number) => {
        assert.equal(nb.label, row.class);
        assert.equal(nb.labelName, RGB.classes[row.class]);
        assert.ok(
          Math.abs(nb.distance - ref[j][0]) < 1e-4 * Math.max(1, ref[j][0]),
          `${nb.distance} vs ${ref[j][0]}`,
        );
        const drawn = decode(Uint8Array.from(atob(nb.png.split(",")[1]), (c) => c.charCodeAt(0)));
        const want = gb.rgbImage(Float32Array.from(raws[nb.index]), 8, 8, drawn.width / 8);
        const worst = want.data.reduce((a, v, k) => Math.max(a, Math.abs(v - drawn.data[k])), 0);
        assert.ok(worst <= 1, `training image ${nb.index} drawn from its raw pixels (off by ${worst}/255)`);
      },
    );
  }
  // an input without a label: the predicted class's row only; the bank was built once
  const alone = await (await ask({ input: raw })).json();
  assert.deepEqual(alone.rows.map((row: { which: string }) => row.which), ["predicted"]);
  assert.equal(builds, 1);
  // guarded as /api/explain is
  assert.equal((await ask({ input: raw }, { host: "evil.example:80" })).status, 421);
  assert.equal((await ask({ input: raw }, { type: "text/plain" })).status, 415);
  assert.equal((await ask(null, { method: "GET" })).status, 405);
  const bad = await ask({ input: raw, label: 9 });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /label must be a class index 0 to 3, got 9/);
  assert.equal((await ask({ input: raw.slice(1) })).status, 400);
  const none = handlerFor(model);
  const absent = await none(
    new Request("http://127.0.0.1/api/neighbours", {
      method: "POST",
      body: JSON.stringify({ input: raw }),
      headers: { "content-type": "application/json" },
    }),
  );
  assert.equal(absent.status, 404);
  assert.match((await absent.json()).error, /no training examples/);
});
