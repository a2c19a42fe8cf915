/**
 * The pictures of a training run, from the tracker's records and the training history:
 * gradient flow per layer, gradient norms and update ratios over steps, loss and accuracy
 * curves, weight and activation histograms, and weight distributions over training.
 */
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

/**
 * The classic gradient-flow plot: mean and max |gradient| of each layer's weights, averaged
 * over the given records, on a log scale. Vanishing gradients show as a staircase down
 * towards the input.
 */
export function gradientFlowChart(records: ChartRecord[]): string {
  if (records.length === 0) throw new Error("gradientFlowChart: no records");
  const params = weightParams(records[records.length - 1]);
  const avg = (f: (s: ChartStats) => number, name: string) =>
    records.reduce((a, r) => a + f(r.params.find((p) => p.name === name)?.grad ?? ({} as ChartStats)), 0) /
    records.length;
  return barChart(
    params.map((p) => p.layer),
    [
      { name: "mean |grad|", values: params.map((p) => avg((s) => s.meanAbs, p.name)), color: "#4e79a7" },
      { name: "max |grad|", values: params.map((p) => avg((s) => s.maxAbs, p.name)), color: "#f28e2b" },
    ],
    {
      title: `Gradient flow: |gradient| of each layer's weights (steps ${records[0].step}–${
        records[records.length - 1].step
      })`,
      xLabel: "layer (input → output)",
      yLabel: "|∂loss/∂w|",
      logY: true,
    },
  );
}

/** Gradient L2 norm of each layer's weights over training steps (log scale). */
export function gradNormChart(records: ChartRecord[]): string {
  const names = records.length ? weightParams(records[0]).map((p) => [p.name, p.layer]) : [];
  return lineChart(
    names.map(([name, layer]) => ({
      name: layer,
      points: records.map((r) =>
        [r.step, r.params.find((p) => p.name === name)?.grad.norm ?? NaN] as [number, number]
      ),
    })),
    { title: "Gradient norm per layer", xLabel: "training step", yLabel: "‖∂loss/∂w‖₂", logY: true },
  );
}

/** ‖update‖/‖weight‖ of each layer per step (log scale); around 1e-3 is the usual healthy range. */
export function updateRatioChart(records: ChartRecord[]): string {
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
        name: "1e-3 (rule of thumb)",
        points: [[Math.min(...steps), 1e-3], [Math.max(...steps), 1e-3]] as [number, number][],
        color: "#999",
        dashed: true,
      },
    ],
    { title: "Update-to-weight ratio per layer", xLabel: "training step", yLabel: "‖Δw‖ / ‖w‖", logY: true },
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
    testAccuracy: number;
    trainAccuracy?: number;
  }[];
}

/** Loss per step (and its moving average) with per-epoch train and test loss. */
export function lossChart(h: History, stepsPerEpoch: number): string {
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
        name: "loss per step",
        points: h.steps.map((v, i) => [i + 1, v] as [number, number]).filter((_, i) => i % k === 0),
        color: "#c6d8ea",
      },
      { name: "moving average", points: smooth, color: "#4e79a7" },
      {
        name: "train (epoch mean)",
        points: h.epochs.map((e) => [e.epoch * stepsPerEpoch, e.trainLoss] as [number, number]),
        color: "#f28e2b",
      },
      {
        name: "test",
        points: h.epochs.map((e) => [e.epoch * stepsPerEpoch, e.testLoss] as [number, number]),
        color: "#e15759",
      },
    ],
    { title: "Loss", xLabel: "training step", yLabel: "cross-entropy (nats)", logY: true },
  );
}

/** Test accuracy after each epoch. */
export function accuracyChart(h: History): string {
  return lineChart(
    [{
      name: "test accuracy",
      points: h.epochs.map((e) => [e.epoch, 100 * e.testAccuracy] as [number, number]),
      color: "#59a14f",
    }],
    { title: "Test accuracy", xLabel: "epoch", yLabel: "accuracy (%)" },
  );
}

/** Histograms of each layer's weights (or gradients) at one step, as small multiples. */
export function histogramsChart(rec: ChartRecord, what: "weight" | "grad" | "activation"): string {
  const items: { name: string; s: ChartStats }[] = what === "activation"
    ? rec.layers.filter((l) => l.activation).map((l) => ({ name: l.label, s: l.activation! }))
    : rec.params.map((p) => ({ name: `${p.name}`, s: p[what] }));
  const charts = items.map(({ name, s }) =>
    histogramChart([{ name, lo: s.min, hi: s.max, counts: s.histogram }], {
      title: `${name} (step ${rec.step})`,
      xLabel: what === "activation"
        ? "activation value"
        : what === "grad"
        ? "gradient value"
        : "weight value",
      yLabel: "count",
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
 * view: bands at the min/max, ±1.5σ, ±1σ and ±0.5σ percentiles of a normal, around the median.
 */
export function distributionChart(
  records: ChartRecord[],
  param: string,
  what: "weight" | "grad" = "weight",
): string {
  const rows = records.map((r) => r.params.find((p) => p.name === param)).filter((p) => p !== undefined);
  const steps = records.filter((r) => r.params.some((p) => p.name === param)).map((r) => r.step);
  return bandChart(steps, rows.map((p) => histogramPercentiles(p![what])), {
    title: `Distribution of ${param} ${what === "grad" ? "gradients" : "values"} over training`,
    xLabel: "training step",
    yLabel: what === "grad" ? "gradient value" : "weight value",
  });
}
