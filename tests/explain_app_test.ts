/**
 * The method registry drives `deno task explain`, and the explain program (src/apps/explain.ts)
 * runs on a model that is not MNIST's: a 3×8×8 RGB CNN with four named classes and its own
 * profile, saved with the model. Its attributions equal the methods called directly with the
 * profile's settings written out by hand, through the library and through the CLI.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

const explain = (...args: string[]) => runScript("examples/explain_mnist.ts", args);
const names = () => gb.attributionMethods().map((m) => m.name);

Deno.test("deno task explain: --methods accepts every registry name, --help lists them, an unknown one is one line and exit 2", async () => {
  const all = await explain("--methods", names().join(","), "--checkpoint", "/nonexistent/c.safetensors");
  // every name got past flag parsing: the run stops only at the missing checkpoint
  assert.equal(all.code, 1, all.err);
  assert.match(all.err, /^error: no checkpoint at \/nonexistent/);
  const help = await explain("--help");
  assert.equal(help.code, 0);
  for (const n of names()) assert.match(help.out, new RegExp(`[ ,]${n}(,|\\n)`), n);
  const bad = await explain("--methods", "ig,magic");
  assert.equal(bad.code, 2);
  assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
  assert.ok(bad.err.startsWith(`error: unknown method magic; choose from ${names().join(", ")} (`), bad.err);
});

Deno.test("the registry: each method declared once with a cost class, modalities and a layer flag that match how it runs", () => {
  assert.deepEqual(new Set(names()).size, names().length);
  for (const m of gb.attributionMethods()) {
    assert.ok(["fast", "steps", "perturbation"].includes(m.cost), m.name);
    assert.ok(m.modalities.length > 0, m.name);
    assert.equal(m.needsLayer, /cam|^lig$/.test(m.name), m.name);
  }
  assert.deepEqual(gb.attributionMethods("tokens").map((m) => m.name), ["ablation", "lig"]);
  assert.throws(() => gb.attributionMethod("gradcam ").name, /unknown method gradcam ; choose from saliency/);
});

/** A 3×8×8 RGB CNN with four classes; its CAM layer is the first ReLU ("1"), not the seed CNN's "4". */
const RGB_PROFILE: gb.ExplanationProfile = {
  modality: "image",
  inputShape: [3, 8, 8],
  classes: ["red square", "green bar", "blue dot", "nothing"],
  mean: [0.5, 0.4, 0.3],
  std: [0.25, 0.2, 0.3],
  baseline: -1.5,
  camLayer: "1",
  methods: ["saliency", "ig", "gradcam", "occlusion"],
};

/** The raw values (in [0, 1]) of rgbImages(), before normalisation. */
const RAW = new Float32Array(4 * 192);

/** Four 3×8×8 images with a little structure (a bright square in one channel each), normalised. */
function rgbImages(): Float32Array {
  const x = new Float32Array(4 * 192);
  gb.manualSeed(11);
  const noise = new gb.Generator(5);
  for (let n = 0; n < 4; n++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 64; i++) {
        const inSquare = c === n % 3 && Math.floor(i / 8) >= 2 + n && Math.floor(i / 8) < 5 + n % 2 &&
          i % 8 >= 2 && i % 8 < 6;
        const raw = (inSquare ? 0.9 : 0.1) + 0.05 * noise.random();
        RAW[n * 192 + c * 64 + i] = raw;
        x[n * 192 + c * 64 + i] = (raw - RGB_PROFILE.mean![c]) / RGB_PROFILE.std![c];
      }
    }
  }
  return x;
}

const DIRECT = [
  "saliency",
  "inputxgradient",
  "ig",
  "deeplift",
  "guidedbackprop",
  "gradcam",
  "layercam",
  "occlusion",
  "kernelshap",
];

/** The methods called directly, each setting of RGB_PROFILE written out (no registry, no profile). */
function direct(model: gb.Module, x: gb.Tensor, target: number[], steps: number) {
  const b = -1.5;
  return {
    saliency: () => new gb.Saliency(model).attribute(x, { target }),
    inputxgradient: () => new gb.InputXGradient(model).attribute(x, { target }),
    ig: () => new gb.IntegratedGradients(model).attribute(x, { target, baselines: b, nSteps: steps }),
    deeplift: () => new gb.DeepLift(model).attribute(x, { target, baselines: b }),
    guidedbackprop: () => new gb.GuidedBackprop(model).attribute(x, { target }),
    gradcam: () => new gb.GradCAM(model, model.get("1")).attribute(x, { target }),
    layercam: () => new gb.LayerCAM(model, model.get("1")).attribute(x, { target }),
    occlusion: () =>
      new gb.Occlusion(model).attribute(x, {
        target,
        slidingWindowShapes: [3, 4, 4],
        strides: [3, 2, 2],
        baselines: b,
      }),
    kernelshap: () => {
      // 4×4 patches of the 8×8 image, the same patch in every channel: 4 groups
      const mask = Int32Array.from({ length: 192 }, (_, i) => {
        const h = Math.floor((i % 64) / 8), w = i % 8;
        return Math.floor(h / 4) * 2 + Math.floor(w / 4);
      });
      return new gb.KernelShap(model).attribute(x, {
        target,
        featureMask: mask,
        nSamples: 400,
        baselines: b,
      });
    },
  } as Record<string, () => Promise<gb.Tensor>>;
}

Deno.test("explain on a 3×8×8 RGB model with four named classes and its own profile: saved, loaded, explained through src/apps/explain.ts and the CLI, each map equal to the method called directly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    gb.manualSeed(2);
    const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
    await gb.saveModel(model, `${dir}/rgb.safetensors`, gb.profileMetadata(RGB_PROFILE));
    const { model: loaded, metadata } = await gb.loadModel(`${dir}/rgb.safetensors`);
    const profile = gb.profileFromMetadata(metadata)!;
    assert.deepEqual(profile, RGB_PROFILE);
    const xs = rgbImages();
    const methods = DIRECT;
    const run = await gb.explainInputs(loaded, profile, { x: xs, ids: [0, 1, 2, 3], labels: [0, 1, 2, 3] }, {
      methods,
      method: { steps: 8 },
      sanity: false,
    });
    const x = gb.tensor(xs, [4, 3, 8, 8]);
    const logits = await gb.noGrad(() => loaded.forward(x)).toArray();
    const pred = [0, 1, 2, 3].map((n) => {
      const row = Array.from(logits.subarray(n * 4, n * 4 + 4));
      return row.indexOf(Math.max(...row));
    });
    assert.deepEqual(run.predictions, pred);
    const calls = direct(loaded, x, pred, 8);
    for (const name of methods) {
      const want = await (await calls[name]()).toArray();
      const got = run.attributions[name];
      assert.deepEqual(got.shape, name.includes("cam") ? [4, 1, 8, 8] : [4, 3, 8, 8], name);
      assert.deepEqual(
        Array.from(got.data),
        Array.from(want),
        `${name}: the app's map differs from a direct call`,
      );
    }
    // the summary and the pictures speak of this model's classes, not digits
    const summary = run.summary as {
      predictions: number[];
      methods: Record<string, { deletionAuc: number }>;
    };
    assert.deepEqual(summary.predictions, pred);
    for (const name of [...methods, "random"]) {
      const auc = summary.methods[name].deletionAuc;
      assert.ok(auc >= 0 && auc <= 1, name);
    }
    const grid = run.files.find((f) => f.name === "comparison.svg")!.data as string;
    assert.ok(grid.includes(`predicted ${RGB_PROFILE.classes[pred[0]]}`), "captions name the classes");
    assert.ok(grid.includes("label red square"));
    // the inputs are drawn in colour, the profile's normalisation undone (8 pixels in a 56 px cell: 7 px each)
    for (let n = 0; n < 4; n++) {
      const png = gb.encodePng(gb.rgbImage(RAW.subarray(n * 192, (n + 1) * 192), 8, 8, 7));
      const uri = `data:image/png;base64,${btoa(String.fromCharCode(...png))}`;
      assert.ok(grid.includes(uri), `row ${n} is not the raw image in colour`);
    }

    // the same through the CLI (--data holds x and y): the same attributions, byte for byte
    await gb.writeAtomic(
      `${dir}/data.safetensors`,
      gb.encodeSafetensors([
        ["x", { dtype: "F32", shape: [4, 3, 8, 8], data: xs }],
        ["y", { dtype: "I32", shape: [4], data: Int32Array.from([0, 1, 2, 3]) }],
      ]),
    );
    const cli = await explain(
      "--checkpoint",
      `${dir}/rgb.safetensors`,
      "--data",
      `${dir}/data.safetensors`,
      "--images",
      "0-3",
      "--methods",
      "ig,gradcam,occlusion",
      "--steps",
      "8",
      "--out",
      `${dir}/out`,
    );
    assert.equal(cli.code, 0, cli.err);
    const file = gb.decodeSafetensors(await Deno.readFile(`${dir}/out/attributions.safetensors`));
    for (const name of ["ig", "gradcam", "occlusion"]) {
      assert.deepEqual(
        Array.from(file.tensors.get(name)!.data),
        Array.from(run.attributions[name].data),
        name,
      );
    }
    // a method that does not suit the model is a command-line mistake
    const wrong = await explain(
      "--checkpoint",
      `${dir}/rgb.safetensors`,
      "--data",
      `${dir}/data.safetensors`,
      "--methods",
      "lig",
    );
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /^error: --methods: lig does not suit this image model/);
    // a model that is not MNIST's without --data: one plain line naming the flag, exit 2 (as report and compress)
    const noData = await explain("--checkpoint", `${dir}/rgb.safetensors`, "--methods", "ig");
    assert.equal(noData.code, 2, noData.err);
    assert.equal(noData.err.trim().split("\n").length, 1, noData.err);
    assert.match(noData.err, /^error: the model takes \[3, 8, 8\] inputs .*; give --data/);
    x.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Tokens → embedding → mean over the positions → linear: linear in the embeddings. */
class BagOfEmbeddings extends gb.Module {
  embed: gb.Embedding;
  head: gb.Linear;
  constructor() {
    super();
    this.embed = this.addModule("embed", new gb.Embedding(6, 4));
    this.head = this.addModule("head", new gb.Linear(4, 3));
  }
  forward(x: gb.Tensor): gb.Tensor {
    return this.head.forward(gb.mean(this.embed.forward(x), 1));
  }
}

Deno.test("tokens: on a model linear in its embeddings, Layer IG at the embedding and token ablation agree exactly (both are F(x) − F(x with the token at the baseline)); tabular IG equals the direct call", async () => {
  gb.manualSeed(0);
  const model = new BagOfEmbeddings();
  const profile = gb.validateProfile({
    modality: "tokens",
    inputShape: [5],
    classes: ["a", "b", "c"],
    vocabulary: ["<pad>", "w1", "w2", "w3", "w4", "w5"],
    baseline: 0,
    camLayer: "embed",
  });
  const run = await gb.explainInputs(model, profile, {
    x: Float32Array.from([1, 2, 3, 4, 5, 5, 4, 0, 0, 3]),
    ids: [0, 1],
  }, { method: { steps: 8 } });
  assert.deepEqual(Object.keys(run.attributions), ["lig", "ablation"]);
  const lig = run.attributions.lig.data, abl = run.attributions.ablation.data;
  assert.deepEqual(run.attributions.lig.shape, [2, 5]);
  for (let i = 0; i < 10; i++) {
    assert.ok(Math.abs(lig[i] - abl[i]) < 1e-5, `token ${i}: ${lig[i]} vs ${abl[i]}`);
  }
  assert.equal(abl[7], 0, "a pad token replaced by the pad token changes nothing");
  assert.ok(Math.max(...Array.from(abl, Math.abs)) > 1e-3, "not all zero");
  const words = run.files.find((f) => f.name === "tokens.svg")!.data as string;
  for (const w of ["w1", "w5", "&lt;pad&gt;", "Layer Integrated Gradients"]) {
    assert.ok(words.includes(`>${w}<`), w);
  }

  const mlp = new gb.Sequential(new gb.Linear(3, 8), new gb.ReLU(), new gb.Linear(8, 2));
  const tab: gb.ExplanationProfile = {
    modality: "tabular",
    inputShape: [3],
    classes: ["no", "yes"],
    featureNames: ["age", "income", "debt"],
    baseline: 0.25,
  };
  const x = Float32Array.from([1, -2, 0.5, 0.3, 0.1, -1]);
  const t = await gb.explainInputs(mlp, tab, { x, ids: [0, 1] }, { methods: ["ig"], method: { steps: 8 } });
  const want = await new gb.IntegratedGradients(mlp).attribute(gb.tensor(x, [2, 3]), {
    target: t.predictions,
    baselines: 0.25,
    nSteps: 8,
  });
  assert.deepEqual(Array.from(t.attributions.ig.data), Array.from(await want.toArray()));
  const bars = t.files.find((f) => f.name === "importance.svg")!.data as string;
  for (const name of tab.featureNames!) assert.ok(bars.includes(`>${name}<`), name);

  // one output (a binary logit, as README's tabular example): the probability is its sigmoid, not a softmax over one value (always 1)
  const one = new gb.Linear(3, 1);
  one.loadStateDict(new Map([["weight", gb.tensor([[1, 2, -1]])], ["bias", gb.tensor([0.5])]]));
  const bin = { ...tab, classes: ["default"] };
  const b = await gb.explainInputs(one, bin, { x, ids: [0, 1] }, { methods: ["saliency"] });
  // logits: 1 − 4 − 0.5 + 0.5 = −3 and 0.3 + 0.2 + 1 + 0.5 = 2
  [-3, 2].forEach((logit, n) =>
    assert.ok(
      Math.abs(b.probabilities[n] - 1 / (1 + Math.exp(-logit))) < 1e-6,
      `example ${n}: ${b.probabilities[n]}`,
    )
  );
  const auc = (b.summary.methods as Record<string, { deletionAuc: number }>).saliency.deletionAuc;
  assert.ok(auc > 0 && auc < 1, `the deletion curve follows a probability: AUC ${auc}`);
});

Deno.test("registry defaults are the single source: no option, or an option given as undefined, runs the declared default", async () => {
  gb.manualSeed(9);
  const model = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
  const x = gb.randn([2, 3, 8, 8]);
  const ig = gb.attributionMethod("ig"), sg = gb.attributionMethod("smoothgrad");
  assert.equal(ig.defaults.steps, 32);
  assert.deepEqual([sg.defaults.samples, sg.defaults.stdevs], [16, 0.5]);
  const want = await new gb.IntegratedGradients(model).attribute(x, {
    target: 1,
    baselines: -1.5,
    nSteps: 32,
  })
    .then((t) => t.toArray());
  for (const options of [undefined, { steps: undefined }]) {
    const got = await (await ig.run(model, x, 1, RGB_PROFILE, options)).toArray();
    assert.deepEqual(Array.from(got), Array.from(want), JSON.stringify(options));
  }
  const smooth = await new gb.NoiseTunnel(new gb.Saliency(model)).attribute(x, {
    target: 1,
    ntSamples: 16,
    stdevs: 0.5,
  });
  const smooth2 = await (await sg.run(model, x, 1, RGB_PROFILE, { samples: undefined })).toArray();
  assert.deepEqual(Array.from(smooth2), Array.from(await smooth.toArray()));
});

Deno.test("every image method of the registry runs on the 3×8×8 RGB model and every tabular one on an MLP: finite maps shaped like the input (a CAM: one plane)", async () => {
  gb.manualSeed(2);
  const cnn = gb.createModel("small-cam-cnn", { channels: 3, classes: 4 });
  const x = gb.randn([2, 3, 8, 8]);
  for (const m of gb.attributionMethods("image")) {
    const a = await m.run(cnn, x, [1, 2], RGB_PROFILE, { steps: 4 });
    assert.deepEqual(
      a.shape,
      m.needsLayer && !m.signed ? [2, 1, 8, 8] : [2, 3, 8, 8],
      m.name,
    );
    assert.ok((await a.toArray()).every(Number.isFinite), m.name);
  }
  const mlp = new gb.Sequential(new gb.Linear(3, 8), new gb.ReLU(), new gb.Linear(8, 2));
  const tab: gb.ExplanationProfile = {
    modality: "tabular",
    inputShape: [3],
    classes: ["no", "yes"],
    baseline: 0,
  };
  for (const m of gb.attributionMethods("tabular")) {
    const a = await m.run(mlp, gb.randn([4, 3]), 1, tab, { steps: 4, samples: 40 });
    assert.deepEqual(a.shape, [4, 3], m.name);
    assert.ok((await a.toArray()).every(Number.isFinite), m.name);
  }
  await assert.rejects(
    () => gb.attributionMethod("gradcam").run(mlp, gb.randn([4, 3]), 1, tab),
    /Grad-CAM does not suit tabular inputs/,
  );
  await assert.rejects(
    () => gb.attributionMethod("ig").run(cnn, gb.randn([1, 1, 8, 8]), 1, RGB_PROFILE),
    /the profile's inputs are \[N, 3, 8, 8\], got \[1, 1, 8, 8\]/,
  );
  await assert.rejects(
    () => gb.attributionMethod("gradcam").run(cnn, x, 1, { ...RGB_PROFILE, camLayer: undefined }),
    /Grad-CAM needs a layer: the model's profile names no camLayer/,
  );
});

Deno.test("deno task explain --data on a token model takes I32 token ids, its maps equal explainInputs' on the same ids; I32 data for an image model is one line, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    gb.manualSeed(7);
    const vocab = ["<pad>", "<unk>", "good", "bad", "day", "the"];
    const built = gb.createModel("text-classifier", {
      vocab: vocab.length,
      classes: 2,
      dModel: 8,
      nhead: 2,
      layers: 1,
      maxLen: 5,
    }) as gb.TextClassifier;
    const profile = built.profile(5, ["gloomy", "cheerful"], vocab);
    await gb.saveModel(built, `${dir}/txt.safetensors`, {}, { profile });
    const ids = Int32Array.from([5, 2, 4, 0, 0, 5, 3, 4, 1, 0]);
    await Deno.writeFile(
      `${dir}/ids.safetensors`,
      gb.encodeSafetensors([
        ["x", { dtype: "I32", shape: [2, 5], data: ids }],
        ["y", { dtype: "I32", shape: [2], data: Int32Array.from([1, 0]) }],
      ]),
    );
    const cli = await explain(
      ...["--checkpoint", `${dir}/txt.safetensors`, "--data", `${dir}/ids.safetensors`],
      ...["--images", "0,1", "--methods", "ablation", "--out", `${dir}/out`],
    );
    assert.equal(cli.code, 0, cli.err);
    const file = gb.decodeSafetensors(await Deno.readFile(`${dir}/out/attributions.safetensors`));
    const got = file.tensors.get("ablation")!;
    const { model } = await gb.loadModel(`${dir}/txt.safetensors`);
    const want = await gb.explainInputs(model, profile, { x: Float32Array.from(ids), ids: [0, 1] }, {
      methods: ["ablation"],
    });
    assert.deepEqual(Array.from(got.data), Array.from(want.attributions.ablation.data));
    assert.ok(Math.max(...Array.from(got.data as Float32Array, Math.abs)) > 0, "not all zero");

    // the same I32 file for an image model: a mistake, not a silent conversion
    await gb.saveModel(
      gb.createModel("small-cam-cnn", { channels: 3, classes: 4 }),
      `${dir}/rgb.safetensors`,
      {},
      {
        profile: RGB_PROFILE,
      },
    );
    const wrong = await explain("--checkpoint", `${dir}/rgb.safetensors`, "--data", `${dir}/ids.safetensors`);
    assert.equal(wrong.code, 2, wrong.err);
    assert.match(wrong.err, /^error: --data .*"x" is I32 \(token ids\) but the model's inputs are image/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
