/**
 * The pictures of a training run, from the tracker's records and the training history:
 * gradient flow per layer, gradient norms and update ratios over steps, loss and accuracy
 * curves, weight and activation histograms, and weight distributions over training.
 */
import { type Language, strings } from "./strings.ts";
import { bandChart, barChart, gridOfCharts, histogramChart, lineChart } from "./svg.ts";

/**
 * The statistics of one tensor these charts read (the tracker's `TensorStats` has these fields
 * and more; viz declares only what it draws, so it depends on nothing above it).
 */
export interface ChartStats {
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Mean |x|. */
  meanAbs: number;
  /** Largest |x|. */
  maxAbs: number;
  /** L2 norm. */
  norm: number;
  /** counts over equal bins from min to max */
  histogram: number[];
}

/** One recorded training step, as the charts read it (the tracker's `StepRecord` fits). */
export interface ChartRecord {
  /** Training step. */
  step: number;
  /** Per parameter: name, layer label, gradient and value statistics, update ratio. */
  params: { name: string; layer: string; grad: ChartStats; weight: ChartStats; updateRatio?: number }[];
  /** Per layer: label and output statistics. */
  layers: { label: string; activation?: ChartStats }[];
}

/** Layers with weights (biases are left out), in forward order. */
function weightParams(rec: ChartRecord) {
  return rec.params.filter((p) => !p.name.endsWith("bias"));
}

/** How many of the last records the gradient-flow chart averages (and the words about it read). */
export const GRADIENT_FLOW_WINDOW = 50;

/** The numbers of the gradient-flow chart: per weight, mean and max |gradient| averaged over the records. */
export interface GradientFlow {
  /** First and last step of the records averaged. */
  steps: [number, number];
  /** Per weight (biases left out), in forward order. */
  params: { name: string; layer: string; meanAbs: number; maxAbs: number }[];
}

/**
 * Mean and max |gradient| of each layer's weights, averaged over the last `window` records:
 * what the gradient-flow chart draws, for text that must state the same numbers.
 *
 * @example
 * ```ts
 * import { gradientFlow } from "glassbox";
 * const s = (v: number) => ({ min: -v, max: v, meanAbs: v, maxAbs: 2 * v, norm: v, histogram: [] });
 * const rec = (step: number, v: number) => ({ step, layers: [], params: [{ name: "0.weight", layer: "0", grad: s(v), weight: s(1) }] });
 * const flow = gradientFlow([rec(10, 1), rec(20, 3)]);
 * if (flow.params[0].meanAbs !== 2 || flow.steps[0] !== 10) throw new Error("not the mean");
 * ```
 */
export function gradientFlow(records: ChartRecord[], window = GRADIENT_FLOW_WINDOW): GradientFlow {
  if (records.length === 0) throw new Error("gradientFlow: no records");
  const used = records.slice(-window);
  const params = weightParams(used[used.length - 1]);
  const avg = (f: (s: ChartStats) => number, name: string) =>
    used.reduce((a, r) => a + f(r.params.find((p) => p.name === name)?.grad ?? ({} as ChartStats)), 0) /
    used.length;
  return {
    steps: [used[0].step, used[used.length - 1].step],
    params: params.map((p) => ({
      name: p.name,
      layer: p.layer,
      meanAbs: avg((s) => s.meanAbs, p.name),
      maxAbs: avg((s) => s.maxAbs, p.name),
    })),
  };
}

/**
 * The classic gradient-flow plot: mean and max |gradient| of each layer's weights, averaged
 * over the last `GRADIENT_FLOW_WINDOW` records (`gradientFlow`), on a log scale. Vanishing
 * gradients show as a staircase down towards the input.
 */
export function gradientFlowChart(records: ChartRecord[], lang: Language = "en"): string {
  if (records.length === 0) throw new Error("gradientFlowChart: no records");
  const t = strings(lang), flow = gradientFlow(records);
  return barChart(
    flow.params.map((p) => p.layer),
    [
      { name: t.meanAbsGrad, values: flow.params.map((p) => p.meanAbs), color: "#4e79a7" },
      { name: t.maxAbsGrad, values: flow.params.map((p) => p.maxAbs), color: "#f28e2b" },
    ],
    {
      title: t.gradientFlowTitle(flow.steps[0], flow.steps[1]),
      xLabel: t.layerAxis,
      yLabel: t.gradAxis,
      logY: true,
      lang,
    },
  );
}

/** Gradient L2 norm of each layer's weights over training steps (log scale). */
export function gradNormChart(records: ChartRecord[], lang: Language = "en"): string {
  const t = strings(lang);
  const names = records.length ? weightParams(records[0]).map((p) => [p.name, p.layer]) : [];
  return lineChart(
    names.map(([name, layer]) => ({
      name: layer,
      points: records.map((r) =>
        [r.step, r.params.find((p) => p.name === name)?.grad.norm ?? NaN] as [number, number]
      ),
    })),
    { title: t.gradNormTitle, xLabel: t.stepAxis, yLabel: t.gradNormAxis, logY: true, integerX: true, lang },
  );
}

/** ‖update‖/‖weight‖ of each layer per step (log scale); around 1e-3 is the usual healthy range. */
export function updateRatioChart(records: ChartRecord[], lang: Language = "en"): string {
  const t = strings(lang);
  const names = records.length ? weightParams(records[0]).map((p) => [p.name, p.layer]) : [];
  const steps = records.map((r) => r.step);
  return lineChart(
    [
      ...names.map(([name, layer]) => ({
        name: layer,
        points: records.map((r) =>
          [r.step, r.params.find((p) => p.name === name)?.updateRatio ?? NaN] as [number, number]
        ),
      })),
      {
        name: t.ruleOfThumb,
        points: [[Math.min(...steps), 1e-3], [Math.max(...steps), 1e-3]] as [number, number][],
        color: "#999",
        dashed: true,
      },
    ],
    {
      title: t.updateRatioTitle,
      xLabel: t.stepAxis,
      yLabel: t.updateRatioAxis,
      logY: true,
      integerX: true,
      lang,
    },
  );
}

/** Training history as written by `deno task train`. */
export interface History {
  /** Loss per training step. */
  steps: number[];
  /** Per epoch: losses and accuracies. */
  epochs: {
    epoch: number;
    trainLoss: number;
    testLoss: number;
    /** Absent for a model without classes (an autoencoder). */
    testAccuracy?: number;
    trainAccuracy?: number;
  }[];
}

/** Loss per step (and its moving average) with per-epoch train and test loss. */
export function lossChart(h: History, stepsPerEpoch: number, lang: Language = "en"): string {
  const t = strings(lang);
  const k = Math.max(1, Math.round(h.steps.length / 100));
  const smooth: [number, number][] = [];
  for (let i = 0; i < h.steps.length; i += k) {
    const half = Math.max(1, Math.round(h.steps.length / 40));
    const w = h.steps.slice(Math.max(0, i - half), i + half + 1);
    smooth.push([i + 1, w.reduce((a, b) => a + b, 0) / w.length]);
  }
  return lineChart(
    [
      {
        name: t.lossPerStep,
        points: h.steps.map((v, i) => [i + 1, v] as [number, number]).filter((_, i) => i % k === 0),
        color: "#c6d8ea",
      },
      { name: t.movingAverage, points: smooth, color: "#4e79a7" },
      {
        name: t.trainEpochMean,
        points: h.epochs.map((e) => [e.epoch * stepsPerEpoch, e.trainLoss] as [number, number]),
        color: "#f28e2b",
      },
      {
        name: t.testLoss,
        points: h.epochs.map((e) => [e.epoch * stepsPerEpoch, e.testLoss] as [number, number]),
        color: "#e15759",
      },
    ],
    { title: t.lossTitle, xLabel: t.stepAxis, yLabel: t.lossAxis, logY: true, integerX: true, lang },
  );
}

/** Test accuracy after each epoch (whole epochs on the x axis). */
export function accuracyChart(h: History, lang: Language = "en"): string {
  const t = strings(lang);
  return lineChart(
    [{
      name: t.testAccuracy,
      points: h.epochs.filter((e) => e.testAccuracy !== undefined).map((e) =>
        [e.epoch, 100 * e.testAccuracy!] as [number, number]
      ),
      color: "#59a14f",
    }],
    { title: t.accuracyTitle, xLabel: t.epochAxis, yLabel: t.accuracyAxis, integerX: true, lang },
  );
}

/** Histograms of each layer's weights (or gradients) at one step, as small multiples. */
export function histogramsChart(
  rec: ChartRecord,
  what: "weight" | "grad" | "activation",
  lang: Language = "en",
): string {
  const t = strings(lang);
  const items: { name: string; s: ChartStats }[] = what === "activation"
    ? rec.layers.filter((l) => l.activation).map((l) => ({ name: l.label, s: l.activation! }))
    : rec.params.map((p) => ({ name: `${p.name}`, s: p[what] }));
  const charts = items.map(({ name, s }) =>
    histogramChart([{ name, lo: s.min, hi: s.max, counts: s.histogram }], {
      title: t.histogramTitle(name, rec.step),
      xLabel: what === "activation" ? t.activationValue : what === "grad" ? t.gradientValue : t.weightValue,
      yLabel: t.count,
      lang,
      width: 360,
      height: 240,
    })
  );
  return gridOfCharts(charts, 3);
}

const BASIS = [0, 6.68, 15.87, 30.85, 50, 69.15, 84.13, 93.32, 100];

/** Percentiles from a histogram over [lo, hi] by linear interpolation within bins. */
export function histogramPercentiles(s: ChartStats, percents = BASIS): number[] {
  const n = s.histogram.reduce((a, b) => a + b, 0);
  const w = (s.max - s.min) / s.histogram.length;
  return percents.map((p) => {
    if (p <= 0) return s.min;
    if (p >= 100) return s.max;
    const target = (p / 100) * n;
    let acc = 0;
    for (let b = 0; b < s.histogram.length; b++) {
      const c = s.histogram[b];
      if (acc + c >= target) return s.min + w * (b + (c ? (target - acc) / c : 0));
      acc += c;
    }
    return s.max;
  });
}

/**
 * How one parameter's values are distributed over training, as TensorBoard's distributions
 * view: bands at the min/max, ±1.5σ, ±1σ and ±0.5σ percentiles of a normal, around the median,
 * with a key naming each band.
 */
export function distributionChart(
  records: ChartRecord[],
  param: string,
  what: "weight" | "grad" = "weight",
  lang: Language = "en",
): string {
  const t = strings(lang);
  const rows = records.map((r) => r.params.find((p) => p.name === param)).filter((p) => p !== undefined);
  const steps = records.filter((r) => r.params.some((p) => p.name === param)).map((r) => r.step);
  return bandChart(steps, rows.map((p) => histogramPercentiles(p![what])), {
    title: t.distributionTitle(param, what),
    xLabel: t.stepAxis,
    yLabel: what === "grad" ? t.gradientValue : t.weightValue,
    integerX: true,
    bandNames: t.bandNames,
    medianName: t.median,
    lang,
  });
}
