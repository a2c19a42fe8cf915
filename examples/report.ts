/**
 * `deno task report [DIR]`: one self-contained HTML page about a run of `deno task train`
 * (default out/mnist): the model and its graph, training curves, gradient flow and alarms,
 * weight and activation distributions, the confusion matrix and per-class accuracy,
 * calibration before and after temperature scaling, the most confident mistakes with their
 * attributions and explanations in words, a gallery comparing attribution methods, and, where
 * those runs exist, attention maps (out/reverse) and the compression table (out/compress).
 */
import * as gb from "../mod.ts";

const HELP = `deno task report [DIR] [options]
  DIR               the output directory of deno task train (default out/mnist)
  --out FILE        where the page goes (default DIR/report.html)
  --lang en|zh      language of the whole page: headings, charts, tables and words (default en)
  --mistakes N      confident mistakes shown (default 6)
  --gallery N       test images in the attribution gallery (default 4)
  --compress DIR    a deno task compress output to include (default out/compress, if it exists;
                    a DIR given here that holds no summary.json is an error)
  --attention DIR   a deno task reverse output to include (default out/reverse, if it exists;
                    a DIR given here that holds no attention.svg is an error)
Borrowed sections name their run and checkpoint; one made from another checkpoint says so.
  --help            this text`;

const FLAGS = {
  out: { type: "string" },
  lang: { type: "choice", choices: ["en", "zh"], default: "en" },
  mistakes: { type: "int", min: 1, default: 6 },
  gallery: { type: "int", min: 1, default: 4 },
  compress: { type: "string" },
  attention: { type: "string" },
  help: { type: "boolean" },
} as const;

/** The gallery's methods, by their names in the method registry. */
const GALLERY = ["saliency", "ig", "smoothgrad", "guidedbackprop", "gradcam", "occlusion"];
const t0 = performance.now();
const log = (m: string) =>
  console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${m}`);

/** The pictures of another run that exist, embedded (SVG as text, PNG as bytes). */
async function pictures(dir: string, names: [string, string][], none: string): Promise<string> {
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
  return out.length ? `<div class="row">${out.join("")}</div>` : `<p class="note">${gb.escapeHtml(none)}</p>`;
}

const p = (text: string) => `<p>${gb.escapeHtml(text)}</p>`;
/** The sentence under a heading that says what the section shows and how to read it. */
const intro = (text: string) => `<p class="intro">${gb.escapeHtml(text)}</p>`;
const warn = (text: string) => `<p class="warning">${gb.escapeHtml(text)}</p>`;
const pre = (text: string) => `<pre>${gb.escapeHtml(text)}</pre>`;
const row = (...items: string[]) => `<div class="row">${items.join("")}</div>`;
/** A picture with its caption (and colour key) under it. */
const figure = (img: string, caption: string, key = "") =>
  `<figure>${img}<figcaption>${gb.escapeHtml(caption)}</figcaption>${key}</figure>`;

function thin<T>(records: T[], max = 600): T[] {
  if (records.length <= max) return records;
  const k = Math.ceil(records.length / max);
  return records.filter((_, i) => i % k === 0 || i === records.length - 1);
}

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
  // a borrowed run named on the command line must be there; the defaults are used only if they are
  const compressDir = flags.compress ?? "out/compress", attentionDir = flags.attention ?? "out/reverse";
  if (flags.compress !== undefined && !(await gb.fileExists(`${compressDir}/summary.json`))) {
    throw new gb.UsageError(
      `--compress ${compressDir}: no summary.json there (not a deno task compress output)`,
    );
  }
  if (flags.attention !== undefined && !(await gb.fileExists(`${attentionDir}/attention.svg`))) {
    throw new gb.UsageError(
      `--attention ${attentionDir}: no attention.svg there (not a deno task reverse output)`,
    );
  }
  const lang = flags.lang as gb.Language;
  const t = gb.reportStrings(lang);
  const outFile = flags.out ?? `${dir}/report.html`;
  const ckptSha = await gb.sha256Hex(await Deno.readFile(ckpt));
  const { model, metadata } = await gb.loadModel(ckpt);
  // a checkpoint from before profiles travelled with the model is the MNIST model
  const profile = gb.profileFromMetadata(metadata) ?? gb.mnistProfile();
  model.eval();
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const train = gb.mnistDataset(await gb.loadMnist("train"));
  const sections: gb.ReportSection[] = [];
  const image = (i: number) => test.x.subarray(i * 784, (i + 1) * 784);
  const first = gb.tensor(image(0), [1, 1, 28, 28]);

  // the model
  log("model summary and graph");
  const sum = await gb.summary(model, [1, 1, 28, 28]);
  // graphToSvg names the input node "input" in English: the page's language names it here
  const graph = gb.graphToSvg(await gb.modelGraph(model, first), t.graphTitle)
    .replaceAll('font-weight="bold">input</text>', `font-weight="bold">${gb.escapeHtml(t.input)}</text>`);
  sections.push({
    id: "model",
    title: t.sections.model.title,
    html: intro(t.sections.model.intro) +
      p(t.checkpointLine(
        ckpt,
        String(metadata["glassbox.architecture"] ?? "?"),
        String(metadata.epoch ?? "?"),
        ckptSha,
      )) +
      gb.htmlTable(
        t.summaryHeaders,
        sum.layers.map((l) => [
          l.name,
          l.type,
          `[${l.outputShape.join(", ")}]`,
          l.params,
          l.macs,
          `${(l.activationBytes / 1024).toFixed(1)} KiB`,
        ]),
      ) + p(t.summaryTotals(sum.totalParams, sum.trainableParams, sum.totalMacs)) +
      figure(gb.embedImage(graph, t.graphTitle), t.graphCaption),
  });

  // training
  let history: gb.History | null = null;
  if (await gb.fileExists(`${dir}/history.json`)) {
    history = JSON.parse(await Deno.readTextFile(`${dir}/history.json`)) as gb.History;
  }
  const spe = history && history.epochs.length
    ? Math.round(history.steps.length / history.epochs.length)
    : history?.steps.length ?? 1;
  sections.push({
    id: "training",
    title: t.sections.training.title,
    html: intro(t.sections.training.intro) + (history
      ? row(
        gb.embedImage(gb.lossChart(history, spe, lang), t.sections.training.title),
        history.epochs.length ? gb.embedImage(gb.accuracyChart(history, lang), t.accuracyTitle) : "",
      )
      : p(t.noHistory(dir))),
  });

  // gradients, from the same records the words below read
  const { records, alarms } = await gb.readRunLog(dir);
  const flow = records.length ? gb.gradientFlow(records) : null;
  const thinned = thin(records);
  const withHist = records.filter((r) => r.params.some((q) => q.weight.histogram.length > 0));
  const lastHist = withHist.at(-1);
  sections.push({
    id: "gradients",
    title: t.sections.gradients.title,
    html: intro(t.sections.gradients.intro) + (records.length
      ? row(
        gb.embedImage(gb.gradientFlowChart(records, lang), t.meanAbsGrad),
        gb.embedImage(gb.gradNormChart(thinned, lang), t.gradNormTitle),
        thinned.some((r) => r.params.some((q) => q.updateRatio !== undefined))
          ? gb.embedImage(gb.updateRatioChart(thinned, lang), t.updateRatioTitle)
          : "",
        lastHist ? gb.embedImage(gb.histogramsChart(lastHist, "grad", lang), t.gradientValue) : "",
      )
      : p(t.noRecords(dir))) +
      (alarms.length
        ? pre(alarms.map((a) => t.alarmLine(a.step, a.kind, a.layer, a.value, a.threshold)).join("\n"))
        : p(t.noAlarm)),
  });

  // weights and activations: distributions, filters and feature maps with their keys
  log("filters and feature maps");
  const convs = model.namedModules().filter(([, m]) => m.typeName === "Conv2d");
  const figures: string[] = [];
  if (lastHist) {
    const names = lastHist.params.filter((q) => !q.name.endsWith("bias")).map((q) => q.name);
    figures.push(
      gb.embedImage(
        gb.gridOfCharts(names.map((n) => gb.distributionChart(withHist, n, "weight", lang)), 2),
        t.sections.distributions.title,
      ),
      gb.embedImage(gb.histogramsChart(lastHist, "weight", lang), t.weightValue),
    );
    if (lastHist.layers.some((l) => l.activation?.histogram.length)) {
      figures.push(gb.embedImage(gb.histogramsChart(lastHist, "activation", lang), t.activationValue));
    }
  }
  if (convs.length) {
    const [name, conv] = convs[0];
    const w = conv.namedParameters().find(([n]) => n === "weight")![1];
    const wa = (await w.toArray()) as Float32Array, [O, I, KH, KW] = w.shape;
    let amax = 0;
    for (let o = 0; o < O; o++) {
      for (let k = 0; k < KH * KW; k++) amax = Math.max(amax, Math.abs(wa[o * I * KH * KW + k]));
    }
    figures.push(figure(
      gb.embedImage(gb.encodePng(await gb.filterImage(w)), t.filtersCaption(name, O)),
      t.filtersCaption(name, O),
      gb.embedImage(
        gb.colorKey("diverging", [`−${amax.toPrecision(2)}`, `+${amax.toPrecision(2)}`], t.filtersKey),
        t.filtersKey,
      ),
    ));
    const acts = await gb.captureActivations(model, first);
    const fmKey = gb.embedImage(
      gb.colorKey("viridis", [t.tileMin, t.tileMax], t.featureMapsKey),
      t.featureMapsKey,
    );
    for (
      const a of acts.filter((a) =>
        a.output.ndim === 4 && (a.label === `${name} Conv2d` || a.label === "4 ReLU")
      )
    ) {
      figures.push(figure(
        gb.embedImage(
          gb.encodePng(await gb.featureMapImage(a.output)),
          t.featureMapsCaption(a.label, a.output.shape[1]),
        ),
        t.featureMapsCaption(a.label, a.output.shape[1]),
        fmKey,
      ));
    }
    gb.disposeActivations(acts);
  }
  sections.push({
    id: "distributions",
    title: t.sections.distributions.title,
    html: intro(t.sections.distributions.intro) + row(...figures),
  });

  // errors
  log("predictions on the 10,000 test images");
  const preds = await gb.collectPredictions(model, test);
  const confusion = gb.confusionMatrix(preds);
  const pairs = gb.confusedPairs(confusion, 8);
  const stats = gb.imageStatistics(test, (0.5 - gb.MNIST_MEAN) / gb.MNIST_STD);
  const rel = gb.reliability(preds);
  const byClass = gb.sliceByClass(preds).map((sl) => ({ ...sl, name: t.classSlice(sl.lo) }));
  const slices = [
    ...byClass,
    ...gb.sliceByValue(preds, stats.ink, t.inkSlice),
    ...gb.sliceByValue(preds, stats.thickness, t.strokeSlice),
    ...rel.bins.map((b) => ({
      name: t.confidenceSlice(b.lo.toFixed(2), b.hi.toFixed(2)),
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
    title: t.sections.errors.title,
    html: intro(t.sections.errors.intro) +
      p(t.testAccuracyLine(`${(100 * rel.accuracy).toFixed(2)}`, preds.count)) +
      `<div class="row">${
        gb.embedImage(
          gb.confusionMatrixChart(confusion, { title: t.confusionTitleTest, lang }),
          t.confusionTitleTest,
        )
      }<div>` +
      `<h3>${gb.escapeHtml(t.perClassHeading)}</h3>` +
      gb.htmlTable(
        t.perClassHeaders,
        byClass.map((sl) => [sl.lo, sl.count, `${(100 * sl.accuracy).toFixed(2)}%`]),
      ) +
      `<h3>${gb.escapeHtml(t.confusedHeading)}</h3>` +
      gb.htmlTable(
        t.confusedHeaders,
        pairs.map((c) => [c.actual, c.predicted, c.count, `${(100 * c.rate).toFixed(2)}%`]),
      ) +
      `</div></div><h3>${gb.escapeHtml(t.weakestHeading)}</h3>` +
      p(t.slicesNote) +
      gb.htmlTable(
        t.sliceHeaders,
        weak.map((sl) => [sl.name, sl.count, `${(100 * sl.accuracy).toFixed(2)}%`]),
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
    return t.calibrationFold(
      a,
      b - 1,
      temperatures[k].toFixed(3),
      gb.reliability(judged).ece.toFixed(4),
      gb.reliability(gb.applyTemperature(judged, temperatures[k])).ece.toFixed(4),
    );
  };
  const fitAll = gb.fitTemperature(preds);
  sections.push({
    id: "calibration",
    title: t.sections.calibration.title,
    html: intro(t.sections.calibration.intro) +
      p(t.calibrationText({
        count: preds.count,
        before: before.ece.toFixed(4),
        after: after.ece.toFixed(4),
        folds: [fold(0), fold(1)],
        lowered: after.ece < before.ece,
        temperature: fitAll.temperature.toFixed(3),
        nllBefore: fitAll.nllBefore.toFixed(4),
        nllAfter: fitAll.nllAfter.toFixed(4),
      })) +
      row(
        gb.embedImage(
          gb.reliabilityDiagram(before.bins, { title: t.beforeScaling, ece: before.ece, lang }),
          t.beforeScaling,
        ),
        gb.embedImage(
          gb.reliabilityDiagram(after.bins, {
            title: t.afterScaling(
              temperatures.map((v) => v.toFixed(2)).join(lang === "zh" ? " 和 " : " and "),
            ),
            ece: after.ece,
            lang,
          }),
          t.afterScaling(""),
        ),
      ),
  });

  // confident mistakes, each beside the best example of its true and its predicted class, with
  // the maps of exactly the methods its text cites (and Grad-CAM)
  log("the most confident mistakes, explained");
  const novelty = gb.fitNovelty(train, { limit: 10000 });
  // the registry's methods by the names the words use (their labels)
  const byLabel = new Map(gb.attributionMethods(profile.modality).map((m) => [m.label, m]));
  const cards: string[] = [];
  for (const m of gb.confidentMistakes(preds, flags.mistakes!)) {
    const facts = await gb.predictionFacts(model, gb.tensor(image(m.index), [1, 1, 28, 28]), {
      label: m.actual,
      baseline: profile.baseline ?? 0,
      knownConfusions: pairs,
      novelty,
    });
    const idx = [m.index, gb.bestExample(preds, m.actual), gb.bestExample(preds, m.predicted)];
    const xs = new Float32Array(3 * 784);
    idx.forEach((k, r) => xs.set(image(k), r * 784));
    const x = gb.tensor(xs, [3, 1, 28, 28]);
    const target = idx.map((k) => preds.predicted[k]);
    const shown = [...new Set([facts.method, ...facts.agreement.methods, "Grad-CAM"])];
    const columns: gb.MethodColumn[] = [];
    for (const name of shown) {
      const method = byLabel.get(name);
      if (!method) throw new Error(`the text cites ${name}, which the report cannot draw`);
      const a = await method.run(model, x, target, profile);
      const arr = (await a.toArray()) as Float32Array;
      a.dispose();
      columns.push({
        name: gb.methodName(name, lang),
        maps: [0, 1, 2].map((r) => arr.slice(r * 784, (r + 1) * 784)),
        signed: method.signed,
      });
    }
    x.dispose();
    const rows = idx.map((k, r) => ({
      image: image(k),
      caption: t.cardCaption(r, k, test.y[k], preds.predicted[k], gb.pct(preds.confidence[k])),
    }));
    const grid = gb.attributionGrid(
      rows,
      columns,
      28,
      28,
      t.mistakeGridTitle(m.index, m.actual, m.predicted),
      lang,
    );
    cards.push(
      `<div class="card">${gb.embedImage(grid, t.mistakeGridTitle(m.index, m.actual, m.predicted))}${
        pre(gb.describePrediction(facts, lang))
      }</div>`,
    );
  }
  sections.push({
    id: "mistakes",
    title: t.sections.mistakes.title,
    html: intro(t.sections.mistakes.intro) + cards.join(""),
  });

  // the gallery of attribution methods
  log("the attribution gallery");
  const n = flags.gallery!;
  const gx = gb.tensor(test.x.subarray(0, n * 784), [n, 1, 28, 28]);
  const gt = Array.from(preds.predicted.subarray(0, n));
  const gallery: gb.MethodColumn[] = [];
  for (const m of GALLERY.map(gb.attributionMethod)) {
    const a = (await (await m.run(model, gx, gt, profile)).toArray()) as Float32Array;
    gallery.push({
      name: gb.methodName(m.title(profile), lang),
      signed: m.signed,
      maps: Array.from({ length: n }, (_, i) => a.subarray(i * 784, (i + 1) * 784)),
    });
  }
  const galleryRows = Array.from({ length: n }, (_, i) => ({
    image: image(i),
    caption: t.galleryCaption(i, test.y[i], preds.predicted[i], gb.pct(preds.confidence[i])),
  }));
  sections.push({
    id: "gallery",
    title: t.sections.gallery.title,
    html: intro(t.sections.gallery.intro) + gb.embedImage(
      gb.attributionGrid(galleryRows, gallery, 28, 28, t.galleryTitle(gallery.length), lang),
      t.galleryTitle(gallery.length),
    ),
  });

  // the model in words: the gradient figure from the gradient-flow chart's own records
  sections.push({
    id: "words",
    title: t.sections.words.title,
    html: intro(t.sections.words.intro) + pre(gb.describeModel({
      accuracy: rel.accuracy,
      count: preds.count,
      ece: before.ece,
      eceAfter: after.ece,
      temperature: fitAll.temperature,
      confusions: pairs.slice(0, 3),
      weakSlices: weak.slice(0, 3),
      alarms: alarms.map((a) => ({ kind: a.kind, layer: a.layer, step: a.step })),
      gradients: flow
        ? { steps: flow.steps, params: flow.params.map((q) => ({ name: q.name, meanAbs: q.meanAbs })) }
        : undefined,
    }, lang)),
  });

  // borrowed runs: each names its run and checkpoint, and one from another checkpoint says so
  if (await gb.fileExists(`${attentionDir}/attention.svg`)) {
    const own = `${attentionDir}/model.safetensors`;
    const sha = (await gb.fileExists(own)) ? await gb.sha256Hex(await Deno.readFile(own)) : undefined;
    sections.push({
      id: "attention",
      title: t.sections.attention.title,
      html: intro(t.sections.attention.intro) + warn(t.attentionSource(attentionDir, own, sha)) +
        await pictures(attentionDir, [["attention.svg", "attention"], ["head_view.svg", "head view"], [
          "rollout.svg",
          "rollout",
        ]], t.noPictures(attentionDir)),
    });
  }
  if (await gb.fileExists(`${compressDir}/summary.json`)) {
    const s = gb.parseCompressSummary(
      await Deno.readTextFile(`${compressDir}/summary.json`),
      `${compressDir}/summary.json`,
    );
    const source = s.checkpointSha256 === undefined
      ? warn(t.compressUnknown(compressDir, s.checkpoint ?? "?", ckpt))
      : s.checkpointSha256 === ckptSha
      ? p(t.compressSame(compressDir, s.checkpoint ?? "?", ckptSha))
      : warn(t.compressDifferent(compressDir, s.checkpoint ?? "?", s.checkpointSha256, ckpt, ckptSha));
    sections.push({
      id: "compression",
      title: t.sections.compression.title,
      html: intro(t.sections.compression.intro) + source + gb.htmlTable(
        t.compressHeaders,
        s.variants.map((v) => [
          v.name,
          v.params,
          v.nonzero,
          Math.round(v.bytes / 1024),
          `${(100 * v.accuracy).toFixed(2)}%`,
          +v.msPerBatch.toFixed(1),
          +v.igDrift.toFixed(3),
          +v.camDrift.toFixed(3),
        ]),
      ) + await pictures(compressDir, [
        ["accuracy_vs_sparsity.svg", "accuracy vs sparsity"],
        ["drift_integrated_gradients.svg", "Integrated Gradients"],
        ["drift_gradcam.svg", "Grad-CAM"],
        ["weight_histograms.svg", "weights"],
      ], t.noPictures(compressDir)),
    });
  }
  first.dispose();

  const html = gb.htmlPage(
    t.pageTitle,
    sections,
    t.subtitle(dir, new Date().toISOString().slice(0, 16).replace("T", " ")),
    lang,
  );
  await gb.writeTextAtomic(outFile, html);
  log(`wrote ${outFile} (${(html.length / 1024 / 1024).toFixed(1)} MiB, ${sections.length} sections)`);
}

if (import.meta.main) await gb.runMain("report", main);
