/**
 * Alarms: the tracker's verdicts on recorded statistics, as pure functions of the records and
 * the thresholds (no GPU): `stepAlarms` for one step, `deadUnitAlarms` for ReLU activity,
 * `checkAlarms` for a whole run. Each alarm is a structured event and a readable line.
 */
import type { Saturation } from "./gpu_stats.ts";
import type { DeadUnits, StepRecord } from "./records.ts";

/** What an alarm is about. */
export type AlarmKind =
  | "vanishing"
  | "vanishing-through-time"
  | "exploding"
  | "nonfinite"
  | "dead-relu"
  | "saturated"
  | "vanishing-discriminator-gradient"
  | "mode-collapse";

/** Where a NaN/Inf was seen: a layer's output, a parameter's values, or only in gradients. */
export type NonFiniteSource = "activation" | "weight" | "gradient";

/** One alarm event. */
export interface Alarm {
  /** What the alarm is about. */
  kind: AlarmKind;
  /** Layer (module name and type, e.g. "3 Conv2d", with the op for NaN/Inf) or parameter name. */
  layer: string;
  /** The step whose record raised it. */
  step: number;
  /** The measured value (a norm, a fraction, a count). */
  value: number;
  /** The threshold it crossed. */
  threshold: number;
  /** For "nonfinite": where it was seen, and so how much is known about where it started. */
  source?: NonFiniteSource;
  /** For "nonfinite": what else is known (samples inspected, other parameters affected). */
  detail?: string;
  /** A sentence for people. */
  message: string;
}

/** An alarm before its message is written. */
export type AlarmEvent = Omit<Alarm, "message">;

/** Thresholds (all configurable through `trackGradients(model, { thresholds })`). */
export interface AlarmThresholds {
  /** A layer's mean |grad| below this is vanishing. */
  vanishingAbs: number;
  /** A layer's mean |grad| below this fraction of the last layer's is vanishing. */
  vanishingRatio: number;
  /** Total gradient L2 norm above this is exploding. */
  explodingNorm: number;
  /** Total gradient norm growing by at least this factor per record ... */
  explodingGrowth: number;
  /** ... for this many consecutive records ... */
  explodingGrowthSteps: number;
  /** ... and ending this many times above its usual level (the median before the streak), is exploding. */
  explodingAboveUsual: number;
  /** How many records before the streak define the usual level. */
  usualWindow: number;
  /** Fraction of a ReLU layer's units never active over a window above this. */
  deadFraction: number;
  /** Fraction of a sigmoid/tanh layer's outputs saturated above this. */
  saturatedFraction: number;
}

/** The default thresholds. */
export const DEFAULT_THRESHOLDS: AlarmThresholds = {
  vanishingAbs: 1e-10,
  vanishingRatio: 1e-3,
  explodingNorm: 1e4,
  explodingGrowth: 2,
  explodingGrowthSteps: 3,
  explodingAboveUsual: 10,
  usualWindow: 100,
  deadFraction: 0.5,
  saturatedFraction: 0.5,
};

/** What counts as saturated for each activation type: |y - center| >= threshold. */
export const SATURATION: Record<string, Saturation> = {
  Sigmoid: { center: 0.5, threshold: 0.49 }, // outputs below 0.01 or above 0.99
  Tanh: { center: 0, threshold: 0.99 },
};

const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(3) : v.toExponential(2));

/** Formats an alarm as one line. */
export function describeAlarm(a: AlarmEvent): string {
  switch (a.kind) {
    case "vanishing":
      return `[step ${a.step}] vanishing gradient at ${a.layer}: mean |grad| ${fmt(a.value)} (threshold ${
        fmt(a.threshold)
      })`;
    case "vanishing-through-time":
      return `[step ${a.step}] vanishing gradient through time at ${a.layer}: the gradient reaching the first step is ${
        fmt(a.value)
      } of its size at the last (threshold ${fmt(a.threshold)})${a.detail ? `; ${a.detail}` : ""}`;
    case "exploding":
      return `[step ${a.step}] exploding gradient: total norm ${fmt(a.value)} (threshold ${
        fmt(a.threshold)
      })`;
    case "nonfinite": {
      const tail = a.detail ? `; ${a.detail}` : "";
      if (a.source === "weight") {
        return `[step ${a.step}] NaN/Inf in the values of ${a.layer}: ${a.value} non-finite values${tail}`;
      }
      if (a.source === "gradient") {
        return `[step ${a.step}] NaN/Inf in gradients, nearest the output at ${a.layer}: ${a.value} non-finite values${tail}`;
      }
      return `[step ${a.step}] NaN/Inf first produced at ${a.layer}: ${a.value} non-finite values${
        a.detail ? ` ${a.detail}` : ""
      }`;
    }
    case "dead-relu":
      return `[step ${a.step}] dead ReLUs at ${a.layer}: ${
        (a.value * 100).toFixed(1)
      }% of units never active in the window (threshold ${(a.threshold * 100).toFixed(0)}%)`;
    case "saturated":
      return `[step ${a.step}] saturated units at ${a.layer}: ${
        (a.value * 100).toFixed(1)
      }% of outputs saturated (threshold ${(a.threshold * 100).toFixed(0)}%)`;
    case "vanishing-discriminator-gradient":
      return `[step ${a.step}] vanishing discriminator gradient: the ${a.layer}'s gradient norm is ${
        fmt(a.value)
      } (threshold ${fmt(a.threshold)})${a.detail ? `; ${a.detail}` : ""}`;
    case "mode-collapse":
      return `[step ${a.step}] mode collapse in the ${a.layer}: its samples are ${
        fmt(a.value)
      } as far apart as real images (threshold ${fmt(a.threshold)})${a.detail ? `; ${a.detail}` : ""}`;
  }
}

/** Makes an alarm with its message. */
export function alarm(a: AlarmEvent): Alarm {
  return { ...a, message: describeAlarm(a) };
}

function samplesText(n: number | undefined): string {
  return n === undefined || n === Infinity ? "the whole batch" : `the first ${n} samples`;
}

/** NaN/Inf: where it was seen first, saying how much is known. */
function nonFinite(rec: StepRecord): AlarmEvent | null {
  const base = { kind: "nonfinite" as const, step: rec.step, threshold: 0 };
  const inspected = (rec.layerSamples ?? (rec.layers.length ? Infinity : 0)) > 0;
  // layers in forward order: the first whose output has a NaN/Inf is where it started
  const badLayer = rec.layers.find((l) => (l.activation?.nonFinite ?? 0) > 0);
  if (badLayer) {
    return {
      ...base,
      source: "activation",
      layer: badLayer.op ? `${badLayer.label} (op ${badLayer.op})` : badLayer.label,
      value: badLayer.activation!.nonFinite,
      detail: `in its output over ${samplesText(rec.layerSamples)}`,
    };
  }
  const badWeight = rec.params.find((p) => p.weight.nonFinite > 0);
  if (badWeight) {
    return { ...base, source: "weight", layer: badWeight.name, value: badWeight.weight.nonFinite };
  }
  // gradients flow from the output back: the bad gradient nearest the output came first
  const badGrads = rec.params.filter((p) => p.grad.nonFinite > 0);
  if (badGrads.length === 0) return null;
  const nearest = badGrads[badGrads.length - 1];
  const others = badGrads.length > 1 ? ` (and ${badGrads.length - 1} more parameters)` : "";
  const why = inspected
    ? `layer outputs over ${
      samplesText(rec.layerSamples)
    } were finite: it arises in the backward pass or in samples not inspected`
    : "layer outputs were not inspected at this step";
  return {
    ...base,
    source: "gradient",
    layer: `${nearest.name}${others}`,
    value: nearest.grad.nonFinite,
    detail: why,
  };
}

/**
 * The alarms one step's record raises. `normsBefore` are the total gradient norms of the
 * records before it (for the exploding rule); no state is kept here.
 *
 * @example
 * ```ts
 * import { DEFAULT_THRESHOLDS, stepAlarms, type StepRecord } from "glassbox";
 * const rec: StepRecord = { step: 1, params: [], layers: [], totalGradNorm: 2e4 };
 * stepAlarms(rec, [], DEFAULT_THRESHOLDS)[0].kind; // "exploding"
 * ```
 */
export function stepAlarms(rec: StepRecord, normsBefore: number[], t: AlarmThresholds): AlarmEvent[] {
  const out: AlarmEvent[] = [];
  const nf = nonFinite(rec);
  if (nf) out.push(nf);
  // vanishing: weight gradients (not biases), compared with the last layer's
  const weights = rec.params.filter((p) =>
    p.grad.count > 0 && !p.name.endsWith("bias") && p.weight.count > 1
  );
  const last = weights[weights.length - 1];
  if (last) {
    for (const p of weights) {
      const v = p.grad.meanAbs;
      const base = { kind: "vanishing" as const, layer: p.layer, step: rec.step, value: v };
      if (v < t.vanishingAbs) out.push({ ...base, threshold: t.vanishingAbs });
      else if (p !== last && v < t.vanishingRatio * last.grad.meanAbs) {
        out.push({ ...base, threshold: t.vanishingRatio * last.grad.meanAbs });
      }
    }
  }
  // exploding: a large total norm, or one growing fast for several records in a row and ending
  // far above its usual level (gradient norms are noisy step to step)
  const norm = rec.totalGradNorm;
  const h = [...normsBefore, norm];
  const k = t.explodingGrowthSteps;
  const streak = h.length > k &&
    h.slice(-k - 1).every((v, i, a) => i === 0 || v >= a[i - 1] * t.explodingGrowth);
  const before = h.slice(Math.max(0, h.length - k - 1 - t.usualWindow), h.length - k - 1).sort((a, b) =>
    a - b
  );
  const usual = before.length ? before[Math.floor(before.length / 2)] : h[h.length - k - 1];
  const growing = streak && norm >= t.explodingAboveUsual * usual;
  if (Number.isFinite(norm) && (norm > t.explodingNorm || growing)) {
    out.push({
      kind: "exploding",
      layer: "all parameters",
      step: rec.step,
      value: norm,
      threshold: norm > t.explodingNorm ? t.explodingNorm : h[h.length - 2] * t.explodingGrowth,
    });
  }
  for (const l of rec.layers) {
    if (!(l.type in SATURATION) || !l.activation) continue;
    const f = l.activation.saturatedFraction;
    if (f > t.saturatedFraction) {
      out.push({
        kind: "saturated",
        layer: l.label,
        step: rec.step,
        value: f,
        threshold: t.saturatedFraction,
      });
    }
  }
  return out;
}

/** The alarms a window of ReLU activity raises. */
export function deadUnitAlarms(windows: DeadUnits[], t: AlarmThresholds): AlarmEvent[] {
  return windows.filter((d) => d.deadFraction > t.deadFraction).map((d) => ({
    kind: "dead-relu" as const,
    layer: d.layer,
    step: d.toStep,
    value: d.deadFraction,
    threshold: t.deadFraction,
  }));
}

/**
 * Every alarm a whole run's records raise, the first of each kind and layer, in step order
 * (what the tracker raised live, recomputed from a saved run, e.g. with other thresholds).
 *
 * @example
 * ```ts
 * import { checkAlarms, DEFAULT_THRESHOLDS } from "glassbox";
 * const alarms = checkAlarms([], [], { ...DEFAULT_THRESHOLDS, deadFraction: 0.3 }); // []
 * ```
 */
export function checkAlarms(records: StepRecord[], deadUnits: DeadUnits[], t: AlarmThresholds): Alarm[] {
  const events: AlarmEvent[] = [];
  records.forEach((rec, i) => {
    events.push(...stepAlarms(rec, records.slice(0, i).map((r) => r.totalGradNorm), t));
  });
  events.push(...deadUnitAlarms(deadUnits, t));
  const seen = new Set<string>();
  return events.sort((a, b) => a.step - b.step).filter((a) => {
    const key = `${a.kind}|${a.layer}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).map(alarm);
}

/**
 * The vanishing gradient through time: given the norm of the loss's gradient reaching each time
 * step of a recurrent layer's input (`gradientThroughTime`), an alarm when the first step gets
 * less than `vanishingRatio` of what the last one gets: the layer cannot learn a dependency that
 * far back. Null when it does not fire.
 *
 * @example
 * ```ts
 * import { DEFAULT_THRESHOLDS, throughTimeAlarm } from "glassbox";
 * throughTimeAlarm([1e-7, 1e-4, 0.1], "rnn RNN", 500, DEFAULT_THRESHOLDS)?.message;
 * ```
 */
export function throughTimeAlarm(
  norms: number[],
  layer: string,
  step: number,
  t: AlarmThresholds,
): Alarm | null {
  if (norms.length < 2) return null;
  const last = norms[norms.length - 1], ratio = last > 0 ? norms[0] / last : 0;
  if (!(ratio < t.vanishingRatio)) return null;
  return alarm({
    kind: "vanishing-through-time",
    layer,
    step,
    value: ratio,
    threshold: t.vanishingRatio,
    detail: `a dependency ${norms.length - 1} steps back cannot be learned`,
  });
}

/** The GAN alarms' thresholds (`vanishingDiscriminatorAlarm`, `modeCollapseAlarm`). */
export interface GanThresholds {
  /** Tracker records of the generator in a window (default 20). */
  window: number;
  /** D(G(z)), the mean probability the discriminator gives generated images, at most this over a window: D is saturated (default 0.01). */
  fakeConfidence: number;
  /** The generator's median gradient norm in the window below this fraction of its median over the run's first window ... (default 0.01) */
  gradRatio: number;
  /** ... or below this absolute value, is vanishing (default 1e-6). */
  gradAbs: number;
  /**
   * Generated samples' mean pairwise distance below this fraction of real images' is mode
   * collapse (default 0.1: nearly the same image for every z; an untrained generator's samples
   * are already about 0.15–0.25 as varied as MNIST's, a collapsed one's near 0).
   */
  diversityRatio: number;
}

/** The default GAN thresholds. */
export const DEFAULT_GAN_THRESHOLDS: GanThresholds = {
  window: 20,
  fakeConfidence: 0.01,
  gradRatio: 0.01,
  gradAbs: 1e-6,
  diversityRatio: 0.1,
};

/** One training step of a GAN as the discriminator-gradient alarm sees it. */
export interface GanStepPoint {
  /** The step (a generator tracker record's). */
  step: number;
  /** The generator's total gradient norm at that step. */
  gradNorm: number;
  /** D(G(z)): the mean of sigmoid(D's logit) over the step's generated images. */
  dFake: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The vanishing discriminator gradient (Arjovsky & Bottou, 2017): the discriminator is so sure
 * that it no longer tells the generator how to improve. It fires at the first window of
 * `t.window` consecutive points (the generator's tracker records, in step order) where both
 * hold: D(G(z)) averaged over the window is at most `t.fakeConfidence` (D rejects the generated
 * images with near certainty), and the generator's median gradient norm in the window is below
 * `t.gradRatio` × its median over the first window of the run, or below `t.gradAbs`. Windows
 * ending before index `from` are not looked at (they were checked before). Null when it does
 * not fire.
 *
 * @example
 * ```ts
 * import { DEFAULT_GAN_THRESHOLDS, vanishingDiscriminatorAlarm } from "glassbox";
 * const points = Array.from({ length: 40 }, (_, i) => ({ step: i + 1, gradNorm: i < 20 ? 1 : 1e-4, dFake: i < 20 ? 0.4 : 1e-4 }));
 * if (vanishingDiscriminatorAlarm(points, DEFAULT_GAN_THRESHOLDS)?.step !== 40) throw new Error("should fire at step 40");
 * if (vanishingDiscriminatorAlarm(points.slice(0, 30), DEFAULT_GAN_THRESHOLDS) !== null) throw new Error("too early");
 * ```
 */
export function vanishingDiscriminatorAlarm(
  points: GanStepPoint[],
  t: GanThresholds,
  from = 0,
): Alarm | null {
  const W = t.window;
  if (!(Number.isInteger(W) && W >= 1)) {
    throw new Error(`GAN alarm: window must be a whole number ≥ 1, got ${W}`);
  }
  if (points.length < W) return null;
  const usual = median(points.slice(0, W).map((p) => p.gradNorm));
  const threshold = Math.max(t.gradRatio * usual, t.gradAbs);
  for (let end = Math.max(W, from + 1); end <= points.length; end++) {
    const win = points.slice(end - W, end);
    const conf = win.reduce((a, p) => a + p.dFake, 0) / W;
    const g = median(win.map((p) => p.gradNorm));
    if (conf <= t.fakeConfidence && g < threshold) {
      return alarm({
        kind: "vanishing-discriminator-gradient",
        layer: "generator",
        step: win[W - 1].step,
        value: g,
        threshold,
        detail: `median over ${W} records while D(G(z)) averaged ${fmt(conf)} (the discriminator rejects ` +
          `generated images with near certainty, threshold ${fmt(t.fakeConfidence)})`,
      });
    }
  }
  return null;
}

/**
 * The mean Euclidean distance between the rows of `samples` (n rows of `dim` values), over all
 * n·(n−1)/2 pairs: how varied a batch of images is.
 *
 * @example
 * ```ts
 * import { meanPairwiseDistance } from "glassbox";
 * // three points: (0,0), (3,4), (0,0): distances 5, 0, 5
 * if (meanPairwiseDistance(new Float32Array([0, 0, 3, 4, 0, 0]), 2) !== 10 / 3) throw new Error("wrong mean");
 * ```
 */
export function meanPairwiseDistance(samples: ArrayLike<number>, dim: number): number {
  const n = Math.floor(samples.length / dim);
  if (n < 2 || n * dim !== samples.length) {
    throw new Error(
      `meanPairwiseDistance: need at least 2 rows of ${dim} values, got ${samples.length} values`,
    );
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let d = 0;
      for (let k = 0; k < dim; k++) {
        const e = samples[i * dim + k] - samples[j * dim + k];
        d += e * e;
      }
      sum += Math.sqrt(d);
    }
  }
  return sum / (n * (n - 1) / 2);
}

/**
 * Mode collapse: the generator's samples (from a fixed batch of latent vectors) vary much less
 * than real images. Fires when `generated` (their mean pairwise distance) is below
 * `t.diversityRatio` × `real` (the same measure over real images); null otherwise.
 *
 * @example
 * ```ts
 * import { DEFAULT_GAN_THRESHOLDS, modeCollapseAlarm } from "glassbox";
 * if (modeCollapseAlarm(0.5, 10, 500, DEFAULT_GAN_THRESHOLDS)?.kind !== "mode-collapse") throw new Error("missed");
 * if (modeCollapseAlarm(8, 10, 500, DEFAULT_GAN_THRESHOLDS) !== null) throw new Error("false alarm");
 * ```
 */
export function modeCollapseAlarm(
  generated: number,
  real: number,
  step: number,
  t: GanThresholds,
): Alarm | null {
  if (!(real > 0)) {
    throw new Error(`modeCollapseAlarm: the real images' distance must be positive, got ${real}`);
  }
  const ratio = generated / real;
  if (!(ratio < t.diversityRatio)) return null;
  return alarm({
    kind: "mode-collapse",
    layer: "generator",
    step,
    value: ratio,
    threshold: t.diversityRatio,
    detail: `mean pairwise distance ${fmt(generated)} against ${fmt(real)} for real images`,
  });
}
