/**
 * `deno task report [DIR]`: one self-contained HTML page about a run of `deno task train`
 * (default out/mnist): the model and its graph, training curves, gradient flow and alarms,
 * weight and activation distributions, the confusion matrix and per-class accuracy,
 * calibration before and after temperature scaling, the most confident mistakes with their
 * attributions and explanations in words, a gallery comparing attribution methods, and, where
 * those runs exist, attention maps (out/reverse) and the compression table (out/compress).
 */
import * as gb from "../mod.ts";
import type { VariantSummary } from "./compress_mnist.ts";

const HELP = `deno task report [DIR] [options]
  DIR               the output directory of deno task train (default out/mnist)
  --out FILE        where the page goes (default DIR/report.html)
  --lang en|zh      language of the explanations in words (default en)
  --mistakes N      confident mistakes shown (default 6)
  --gallery N       test images in the attribution gallery (default 4)
  --compress DIR    a deno task compress output to include (default out/compress, if it exists)
  --attention DIR   a deno task reverse output to include (default out/reverse, if it exists)
  --help            this text`;

const FLAGS = {
  out: { type: "string" },
  lang: { type: "choice", choices: ["en", "zh"], default: "en" },
  mistakes: { type: "int", min: 1, default: 6 },
  gallery: { type: "int", min: 1, default: 4 },
  compress: { type: "string", default: "out/compress" },
  attention: { type: "string", default: "out/reverse" },
  help: { type: "boolean" },
} as const;

const BLACK = -gb.MNIST_MEAN / gb.MNIST_STD;
const t0 = performance.now();
const log = (m: string) =>
  console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${m}`);

/** The run's pictures that exist, embedded (SVG as text, PNG as bytes). */
async function pictures(dir: string, names: [string, string][]): Promise<string> {
  const out: string[] = [];
  for (const [file, alt] of names) {
    const path = `${dir}/${file}`;
    if (!(await gb.fileExists(path))) continue;
    out.push(
      file.endsWith(".svg")
        ? gb.embedImage(await Deno.readTextFile(path), alt)
        : gb.embedImage(await Deno.readFile(path), alt),
    );
  }
  return out.length
    ? `<div class="row">${out.join("")}</div>`
    : `<p class="note">(no pictures in ${gb.escapeHtml(dir)})</p>`;
}

const p = (text: string) => `<p>${gb.escapeHtml(text)}</p>`;
const pre = (text: string) => `<pre>${gb.escapeHtml(text)}</pre>`;

async function main(): Promise<void> {
  const { flags, positionals } = gb.parseFlags(Deno.args, FLAGS, { positionals: [0, 1] });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const dir = positionals[0] ?? "out/mnist";
  const ckpt = `${dir}/checkpoint.safetensors`;
  if (!(await gb.fileExists(ckpt))) {
    throw new Error(
      `no checkpoint at ${ckpt}: run \`deno task train\` first (or give the directory it wrote)`,
    );
  }
  const lang = flags.lang as gb.Language;
  const outFile = flags.out ?? `${dir}/report.html`;
  const { model, metadata } = await gb.loadModel(ckpt);
  model.eval();
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const train = gb.mnistDataset(await gb.loadMnist("train"));
  const sections: gb.ReportSection[] = [];
  const pics = `${dir}/pictures`;

  // the model
  log("model summary and graph");
  const summaryText = (await gb.fileExists(`${pics}/summary.txt`))
    ? await Deno.readTextFile(`${pics}/summary.txt`)
    : (await gb.summary(model, [1, 1, 28, 28])).table;
  sections.push({
    id: "model",
    title: "Model",
    html:
      p(`Checkpoint ${ckpt} (${metadata["glassbox.architecture"] ?? "?"}, epoch ${metadata.epoch ?? "?"}).`) +
      pre(summaryText) + await pictures(pics, [["model_graph.svg", "the model's layers, input to output"]]),
  });
  sections.push({
    id: "training",
    title: "Training",
    html: await pictures(pics, [["loss.svg", "training and test loss"], [
      "accuracy.svg",
      "training and test accuracy",
    ]]),
  });
  const alarms = (await gb.fileExists(`${dir}/alarms.jsonl`))
    ? (await Deno.readTextFile(`${dir}/alarms.jsonl`)).split("\n").filter(Boolean).map((l) =>
      JSON.parse(l) as gb.Alarm
    )
    : [];
  sections.push({
    id: "gradients",
    title: "Gradient flow and alarms",
    html: await pictures(pics, [
      ["gradient_flow.svg", "mean |gradient| per layer over training"],
      ["gradient_norms.svg", "gradient norms"],
      ["update_ratios.svg", "update-to-weight ratios"],
      ["gradient_histograms.svg", "gradient histograms"],
    ]) + (alarms.length
      ? pre(
        alarms.map((a) => `step ${a.step}: ${a.kind} in ${a.layer} (${a.value} against ${a.threshold})`).join(
          "\n",
        ),
      )
      : p("Gradient tracking raised no alarm.")),
  });
  sections.push({
    id: "distributions",
    title: "Weights and activations",
    html: await pictures(pics, [
      ["weight_distributions.svg", "weight percentiles over training"],
      ["weight_histograms.svg", "weight histograms"],
      ["activation_histograms.svg", "activation histograms"],
      ["filters_0.png", "first-layer filters"],
      ["feature_maps_0_Conv2d.png", "feature maps of the first conv on the first test image"],
      ["feature_maps_4_ReLU.png", "feature maps of the second conv's ReLU"],
    ]),
  });

  // errors
  log("predictions on the 10,000 test images");
  const preds = await gb.collectPredictions(model, test);
  const confusion = gb.confusionMatrix(preds);
  const pairs = gb.confusedPairs(confusion, 8);
  const stats = gb.imageStatistics(test, (0.5 - gb.MNIST_MEAN) / gb.MNIST_STD);
  const rel = gb.reliability(preds);
  const slices = [
    ...gb.sliceByClass(preds),
    ...gb.sliceByValue(preds, stats.ink, "ink"),
    ...gb.sliceByValue(preds, stats.thickness, "stroke width"),
    ...rel.bins.map((b) => ({
      name: `confidence ${b.lo.toFixed(2)}–${b.hi.toFixed(2)}`,
      by: "confidence",
      lo: b.lo,
      hi: b.hi,
      count: b.count,
      accuracy: b.accuracy,
    })),
  ];
  const weak = gb.weakestSlices(slices, 6, 50);
  sections.push({
    id: "errors",
    title: "Errors",
    html: p(`Test accuracy ${(100 * rel.accuracy).toFixed(2)}% on ${preds.count} images.`) +
      `<div class="row">${
        gb.embedImage(
          gb.confusionMatrixChart(confusion, { title: "Confusion matrix, MNIST test set" }),
          "confusion matrix",
        )
      }<div>` +
      "<h3>Accuracy per class</h3>" +
      gb.htmlTable(
        ["class", "images", "accuracy"],
        gb.sliceByClass(preds).map((s) => [s.lo, s.count, `${(100 * s.accuracy).toFixed(2)}%`]),
      ) +
      "<h3>Most confused pairs</h3>" +
      gb.htmlTable(
        ["true", "predicted as", "images", "share of the class"],
        pairs.map((c) => [c.actual, c.predicted, c.count, `${(100 * c.rate).toFixed(2)}%`]),
      ) +
      "</div></div><h3>Where the model is weakest</h3>" +
      p("Slices by class, by ink (share of pixels above half intensity), by stroke width (2 × ink area / ink perimeter, in pixels) and by confidence; only slices of 50 images or more.") +
      gb.htmlTable(
        ["slice", "images", "accuracy"],
        weak.map((s) => [s.name, s.count, `${(100 * s.accuracy).toFixed(2)}%`]),
      ),
  });

  // calibration: temperature scaling cross-fitted on the two halves of the test set, so every
  // image is judged with a temperature fitted on the other half, and all 10,000 are judged
  const half = Math.floor(preds.count / 2);
  const part = (a: number, b: number) =>
    gb.predictionsFromLogits(preds.logits.slice(a * 10, b * 10), preds.labels.slice(a, b), 10);
  const { scaled, temperatures } = gb.crossFitTemperature(preds, 2);
  const before = gb.reliability(preds), after = gb.reliability(scaled);
  const fold = (k: number) => {
    const [a, b] = k === 0 ? [0, half] : [half, preds.count];
    const judged = part(a, b);
    return `images ${a}–${b - 1} with T = ${temperatures[k].toFixed(3)} (fitted on the other half): ECE ${
      gb.reliability(judged).ece.toFixed(4)
    } → ${gb.reliability(gb.applyTemperature(judged, temperatures[k])).ece.toFixed(4)}`;
  };
  const fitAll = gb.fitTemperature(preds);
  sections.push({
    id: "calibration",
    title: "Calibration",
    html:
      p(`Temperature scaling (Guo et al. 2017), cross-fitted: each half of the test set is scaled by the temperature that minimises the negative log-likelihood on the other half, so every image is judged by a temperature that never saw it. Expected calibration error over all ${preds.count} images (15 equal-width bins): ${
        before.ece.toFixed(4)
      } before, ${after.ece.toFixed(4)} after. Per half: ${fold(0)}; ${fold(1)}. ${
        after.ece < before.ece
          ? "Temperature scaling lowered it."
          : "Here it did not lower the ECE: the model was already this close to calibrated."
      } (Fitted on all images, T = ${fitAll.temperature.toFixed(3)}, NLL ${fitAll.nllBefore.toFixed(4)} → ${
        fitAll.nllAfter.toFixed(4)
      }.)`) +
      `<div class="row">${
        gb.embedImage(
          gb.reliabilityDiagram(before.bins, { title: "Before temperature scaling", ece: before.ece }),
          "reliability diagram before temperature scaling",
        )
      }${
        gb.embedImage(
          gb.reliabilityDiagram(after.bins, {
            title: `After (T = ${temperatures.map((t) => t.toFixed(2)).join(" and ")}, cross-fitted)`,
            ece: after.ece,
          }),
          "reliability diagram after temperature scaling",
        )
      }</div>`,
  });

  // confident mistakes, each beside the best example of its true and its predicted class
  log("the most confident mistakes, explained");
  const novelty = gb.fitNovelty(train, { limit: 10000 });
  const image = (i: number) => test.x.subarray(i * 784, (i + 1) * 784);
  const cards: string[] = [];
  for (const m of gb.confidentMistakes(preds, flags.mistakes!)) {
    const idx = [m.index, gb.bestExample(preds, m.actual), gb.bestExample(preds, m.predicted)];
    const xs = new Float32Array(3 * 784);
    idx.forEach((k, r) => xs.set(image(k), r * 784));
    const x = gb.tensor(xs, [3, 1, 28, 28]);
    const target = idx.map((k) => preds.predicted[k]);
    const ig = await new gb.IntegratedGradients(model).attribute(x, { target, baselines: BLACK, nSteps: 32 });
    const cam = await new gb.GradCAM(model, model.get("4")).attribute(x, { target });
    const rows = idx.map((k, r) => ({
      image: image(k),
      caption: `${
        r === 0 ? "mistake" : r === 1 ? "true class, right" : "predicted class, right"
      }: test ${k}, label ${test.y[k]}, predicted ${preds.predicted[k]} (${
        (100 * preds.confidence[k]).toFixed(1)
      }%)`,
    }));
    const igA = (await ig.toArray()) as Float32Array, camA = (await cam.toArray()) as Float32Array;
    const grid = gb.attributionGrid(
      rows,
      [
        {
          name: "Integrated Gradients",
          maps: [0, 1, 2].map((r) => igA.subarray(r * 784, (r + 1) * 784)),
          signed: true,
        },
        {
          name: "Grad-CAM",
          maps: [0, 1, 2].map((r) => camA.subarray(r * 784, (r + 1) * 784)),
          signed: false,
        },
      ],
      28,
      28,
      `Test ${m.index}: a ${m.actual} taken for a ${m.predicted}, each map for the row's predicted class`,
    );
    const facts = await gb.predictionFacts(model, gb.tensor(image(m.index), [1, 1, 28, 28]), {
      label: m.actual,
      baseline: BLACK,
      knownConfusions: pairs,
      novelty,
    });
    [x, ig, cam].forEach((t) => t.dispose());
    cards.push(
      `<div class="card">${gb.embedImage(grid, `attributions of test image ${m.index}`)}${
        pre(gb.describePrediction(facts, lang))
      }</div>`,
    );
  }
  sections.push({
    id: "mistakes",
    title: "Most confident mistakes",
    html:
      p("Each mistake (top row) beside the most confidently right example of its true class and of the class it was taken for. The text is generated from the computed numbers only.") +
      cards.join(""),
  });

  // the gallery of attribution methods
  log("the attribution gallery");
  const n = flags.gallery!;
  const gx = gb.tensor(test.x.subarray(0, n * 784), [n, 1, 28, 28]);
  const gt = Array.from(preds.predicted.subarray(0, n));
  const columns: gb.MethodColumn[] = [];
  for (const m of Object.values(gb.attributionPresets(BLACK, "4"))) {
    const a = (await (await m.run(model, gx, gt)).toArray()) as Float32Array;
    columns.push({
      name: m.label,
      signed: m.signed,
      maps: Array.from({ length: n }, (_, i) => a.subarray(i * 784, (i + 1) * 784)),
    });
  }
  const galleryRows = Array.from({ length: n }, (_, i) => ({
    image: image(i),
    caption: `test ${i}: label ${test.y[i]}, predicted ${preds.predicted[i]} (${
      (100 * preds.confidence[i]).toFixed(1)
    }%)`,
  }));
  sections.push({
    id: "gallery",
    title: "Attribution methods compared",
    html: gb.embedImage(
      gb.attributionGrid(
        galleryRows,
        columns,
        28,
        28,
        "Why the predicted class? Six methods on the same images",
      ),
      "attribution methods side by side",
    ),
  });

  // the model in words, with the last gradient-tracking record
  let lastRecord: gb.StepRecord | null = null;
  if (await gb.fileExists(`${dir}/tracker.jsonl`)) {
    const lines = (await Deno.readTextFile(`${dir}/tracker.jsonl`)).trimEnd().split("\n");
    if (lines.length && lines.at(-1)) lastRecord = JSON.parse(lines.at(-1)!) as gb.StepRecord;
  }
  sections.push({
    id: "words",
    title: lang === "zh" ? "模型概述" : "The model in words",
    html: pre(gb.describeModel({
      accuracy: rel.accuracy,
      count: preds.count,
      ece: before.ece,
      eceAfter: after.ece,
      temperature: fitAll.temperature,
      confusions: pairs.slice(0, 3),
      weakSlices: weak.slice(0, 3),
      alarms: alarms.map((a) => ({ kind: a.kind, layer: a.layer, step: a.step })),
      gradients: lastRecord
        ? {
          step: lastRecord.step,
          params: lastRecord.params.filter((q) => q.name.endsWith("weight") && q.grad).map((q) => ({
            name: q.name,
            meanAbs: q.grad!.meanAbs,
          })),
        }
        : undefined,
    }, lang)),
  });

  // attention and compression, where those runs exist
  if (await gb.fileExists(`${flags.attention}/attention.svg`)) {
    sections.push({
      id: "attention",
      title: "Attention (deno task reverse)",
      html: await pictures(flags.attention!, [["attention.svg", "attention of every layer and head"], [
        "head_view.svg",
        "head view",
      ], ["rollout.svg", "attention rollout"]]),
    });
  }
  if (await gb.fileExists(`${flags.compress}/summary.json`)) {
    const s = JSON.parse(await Deno.readTextFile(`${flags.compress}/summary.json`));
    sections.push({
      id: "compression",
      title: "Compression (deno task compress)",
      html: gb.htmlTable(
        ["variant", "parameters", "non-zero", "file KiB", "test accuracy", "ms / 256", "IG ρ", "Grad-CAM ρ"],
        (s.variants as VariantSummary[]).map((
          v,
        ) => [
          v.name,
          v.params,
          v.nonzero,
          Math.round(v.bytes / 1024),
          `${(100 * v.accuracy).toFixed(2)}%`,
          +v.msPerBatch.toFixed(1),
          +v.igDrift.toFixed(3),
          +v.camDrift.toFixed(3),
        ]),
      ) + await pictures(flags.compress!, [
        ["accuracy_vs_sparsity.svg", "test error against sparsity"],
        ["drift_integrated_gradients.svg", "Integrated Gradients of every variant"],
        ["drift_gradcam.svg", "Grad-CAM of every variant"],
        ["weight_histograms.svg", "weights before and after pruning"],
      ]),
    });
  }

  const html = gb.htmlPage(
    "glassbox report",
    sections,
    `Run ${dir}; written ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
  );
  await gb.writeTextAtomic(outFile, html);
  log(`wrote ${outFile} (${(html.length / 1024 / 1024).toFixed(1)} MiB, ${sections.length} sections)`);
}

if (import.meta.main) await gb.runMain("report", main);
