/**
 * Renders the pictures of a run directory (what `deno task train` writes at the end and
 * `deno task inspect <dir>` writes again): charts from tracker.jsonl and history.json, and,
 * given the model and a sample input, filters, feature maps, the model graph and summary.
 */
import type { Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { writeAtomic, writePng } from "../io/file.ts";
import { gridOfCharts } from "../viz/svg.ts";
import {
  accuracyChart,
  distributionChart,
  gradientFlowChart,
  gradNormChart,
  histogramsChart,
  lossChart,
  updateRatioChart,
} from "../viz/training.ts";
import { captureActivations, disposeActivations, featureMapImage, filterImage } from "./activations.ts";
import { graphToDot, graphToSvg, modelGraph } from "./graph.ts";
import { readRunDirectory } from "./run_log.ts";
import { summary } from "./summary.ts";
import type { StepRecord } from "./tracker.ts";

const text = (path: string, s: string) => writeAtomic(path, new TextEncoder().encode(s));

function thin(records: StepRecord[], max = 600): StepRecord[] {
  if (records.length <= max) return records;
  const k = Math.ceil(records.length / max);
  return records.filter((_, i) => i % k === 0 || i === records.length - 1);
}

/**
 * Writes every picture it can make for the run in `dir` into `dir/pictures/` and returns
 * their paths.
 */
export async function renderRunPictures(
  dir: string,
  options: { model?: Module; sample?: Tensor; stepsPerEpoch?: number } = {},
): Promise<string[]> {
  const pics = `${dir}/pictures`;
  await Deno.mkdir(pics, { recursive: true });
  const written: string[] = [];
  const svg = async (name: string, s: string) => {
    await text(`${pics}/${name}`, s);
    written.push(`${pics}/${name}`);
  };
  // history.json and tracker.jsonl by their names in RUN_FILES; a malformed one is an error naming it
  const { records, history } = await readRunDirectory(dir);
  if (records.length) {
    await svg("gradient_flow.svg", gradientFlowChart(records));
    const t = thin(records);
    await svg("gradient_norms.svg", gradNormChart(t));
    if (t.some((r) => r.params.some((p) => p.updateRatio !== undefined))) {
      await svg("update_ratios.svg", updateRatioChart(t));
    }
    const withHist = records.filter((r) => r.params.some((p) => p.weight.histogram.length > 0));
    const last = withHist[withHist.length - 1];
    if (last) {
      await svg("weight_histograms.svg", histogramsChart(last, "weight"));
      await svg("gradient_histograms.svg", histogramsChart(last, "grad"));
      if (last.layers.some((l) => l.activation?.histogram.length)) {
        await svg("activation_histograms.svg", histogramsChart(last, "activation"));
      }
      const names = last.params.filter((p) => !p.name.endsWith("bias")).map((p) => p.name);
      await svg(
        "weight_distributions.svg",
        gridOfCharts(names.map((n) => distributionChart(withHist, n)), 2),
      );
    }
  }
  if (history) {
    const spe = options.stepsPerEpoch ??
      (history.epochs.length
        ? Math.round(history.steps.length / history.epochs.length)
        : history.steps.length);
    await svg("loss.svg", lossChart(history, spe));
    // a model without classes (an autoencoder) has no accuracy to draw
    if (history.epochs.some((e) => e.testAccuracy !== undefined)) {
      await svg("accuracy.svg", accuracyChart(history));
    }
  }
  const { model, sample } = options;
  if (model && sample) {
    const g = await modelGraph(model, sample);
    await svg("model_graph.svg", graphToSvg(g, "Model graph (from the autograd graph of one forward pass)"));
    await text(`${pics}/model_graph.dot`, graphToDot(g));
    written.push(`${pics}/model_graph.dot`);
    const s = await summary(model, sample);
    await text(`${pics}/summary.txt`, s.table + "\n");
    written.push(`${pics}/summary.txt`);
    const convs = model.namedModules().filter(([, m]) => m.typeName === "Conv2d");
    if (convs.length) {
      const [name, first] = convs[0];
      const w = first.namedParameters().find(([n]) => n === "weight")![1];
      await writePng(`${pics}/filters_${name}.png`, await filterImage(w));
      written.push(`${pics}/filters_${name}.png`);
    }
    const acts = await captureActivations(model, sample);
    for (const a of acts) {
      if (a.output.ndim !== 4) continue;
      const file = `${pics}/feature_maps_${a.label.replace(/\s+/g, "_")}.png`;
      await writePng(file, await featureMapImage(a.output));
      written.push(file);
    }
    disposeActivations(acts);
  }
  return written;
}
