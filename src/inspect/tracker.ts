/**
 * Gradient tracking: the hook wiring. Per-parameter and per-layer statistics are recorded during
 * ordinary training through hooks, reduced on the GPU (gpu_stats.ts) and read back in batches;
 * ReLU activity has its own flags (relu_activity.ts); the verdicts are pure functions of the
 * records (alarms.ts).
 */
import { acquireBuffer, releaseBuffer } from "../gpu/pool.ts";
import { copyBuffer } from "../gpu/queue.ts";
import type { Module } from "../nn/module.ts";
import { isGradEnabled } from "../tensor/mod.ts";
import type { RemovableHandle, Tensor } from "../tensor/tensor.ts";
import {
  type Alarm,
  alarm,
  type AlarmEvent,
  type AlarmThresholds,
  deadUnitAlarms,
  DEFAULT_THRESHOLDS,
  SATURATION,
  stepAlarms,
} from "./alarms.ts";
import { type KeyedStats, StatsBatch, type TensorStats } from "./gpu_stats.ts";
import type { DeadUnits, LayerRecord, ParamRecord, StepRecord } from "./records.ts";
import { ReluActivity } from "./relu_activity.ts";

export type { DeadUnits, LayerRecord, ParamRecord, StepRecord } from "./records.ts";

/** Options for `trackGradients`. */
export interface TrackOptions {
  /** Record every N training steps (default 1: every step). */
  every?: number;
  /** Histogram bins (default 30). */
  bins?: number;
  /** Record each layer's output statistics (default true). */
  activations?: boolean;
  /** Record the gradient arriving at each layer's output (default true). */
  layerGradients?: boolean;
  /**
   * Activation and output-gradient statistics use the first N samples of each batch
   * (default 16): representative, and it keeps tracking cheap. Parameter statistics and the
   * dead-unit count always use everything.
   */
  samples?: number;
  /** Compute histograms every N recorded steps (default 10; moments are computed every time). */
  histogramEvery?: number;
  /**
   * Record layer activations, output gradients and ReLU activity every N recorded steps
   * (default 10); parameter statistics are recorded every time. Dead units are counted over
   * the steps that were looked at; a flush window without such a step is not judged.
   */
  layerEvery?: number;
  /** Alarm thresholds. */
  thresholds?: Partial<AlarmThresholds>;
  /** Called once for each new alarm (kind and layer), as soon as it is known. */
  onAlarm?: (a: Alarm) => void;
}

/** What a tracked tensor is: a parameter's gradient, value or update, or a layer's output or its gradient. */
interface TrackKey {
  kind: "grad" | "weight" | "update" | "act" | "gout";
  /** parameter name, or layer label */
  name: string;
}

/**
 * Watches a model's gradients, weights and activations while it trains.
 * Create it with `trackGradients(model)`; call `await tracker.flush()` now and then (after
 * `optimizer.step()`), e.g. every 50 steps and at the end of each epoch.
 */
export class GradientTracker {
  /** Every recorded step read back so far. */
  readonly records: StepRecord[] = [];
  /** The first alarm of each kind and layer, in the order raised. */
  readonly alarms: Alarm[] = [];
  /** How many times each kind+layer alarm fired. */
  readonly alarmCounts: Map<string, number> = new Map();
  /** Dead-unit fractions per flush window. */
  readonly deadUnits: DeadUnits[] = [];
  /** Training steps seen (forward calls of the model in training mode with grad enabled). */
  step = 0;

  readonly #every: number;
  readonly #thresholds: AlarmThresholds;
  readonly #onAlarm?: (a: Alarm) => void;
  readonly #batch: StatsBatch<TrackKey>;
  readonly #handles: RemovableHandle[] = [];
  readonly #params: { name: string; layer: string; t: Tensor }[];
  #prev: GPUBuffer | null = null;
  readonly #prevOffset = new Map<string, number>();
  readonly #histEvery: number;
  #records = 0;
  readonly #labels = new Map<Module, string>();
  readonly #samples: number;
  #open = false;
  /** the op that produced each layer's output, for the NaN alarm */
  readonly #ops = new Map<string, string>();
  /** samples the layer statistics of the open step cover (0: layers not inspected) */
  #layerSamples = 0;
  /** the layer samples of each record in flight, by step */
  readonly #samplesOf = new Map<number, number>();
  readonly #layerEvery: number;
  /** after a NaN/Inf seen only in gradients: inspect every layer over the whole batch next time */
  #traceNext = false;
  /** Leaves whose output gradients are recorded; their backward hooks are attached only on layer steps. */
  readonly #goutLayers: [Module, string][] = [];
  #goutHandles: RemovableHandle[] = [];
  #seenParams = new Set<string>();
  readonly #relu = new ReluActivity();
  #norms: number[] = [];

  /** Starts tracking `model` (hooks are attached now; see `trackGradients`). */
  constructor(model: Module, options: TrackOptions = {}) {
    this.#every = Math.max(1, Math.floor(options.every ?? 1));
    this.#thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.#onAlarm = options.onAlarm;
    this.#batch = new StatsBatch<TrackKey>(options.bins ?? 30);
    this.#samples = options.samples ?? 16;
    this.#histEvery = Math.max(1, Math.floor(options.histogramEvery ?? 10));
    this.#layerEvery = Math.max(1, Math.floor(options.layerEvery ?? 10));
    const modules = model.namedModules();
    for (const [name, m] of modules) this.#labels.set(m, name ? `${name} ${m.typeName}` : m.typeName);
    const labelOfName = new Map(modules.map(([n, m]) => [n, this.#labels.get(m)!]));
    this.#params = model.namedParameters().map(([name, t]) => {
      const owner = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : "";
      return { name, layer: labelOfName.get(owner) ?? owner, t };
    });
    this.#handles.push(model.registerForwardPreHook((m) => this.#onStep(m)));
    const leaves = modules.filter(([, m]) => m.children().length === 0);
    for (const [, m] of leaves) {
      const label = this.#labels.get(m)!;
      if (options.activations ?? true) {
        this.#handles.push(m.registerForwardHook((_m, _in, out) => this.#onActivation(m, label, out)));
      }
      if (options.layerGradients ?? true) this.#goutLayers.push([m, label]);
    }
    for (const p of this.#params) {
      this.#handles.push(p.t.registerHook((g) => this.#onGrad(p.name, p.t, g)));
    }
  }

  #onStep(m: Module): void {
    this.#finish(); // any new forward call ends the previous step's record
    if (!m.training || !isGradEnabled()) return; // evaluation passes are not recorded
    this.step++;
    if ((this.step - 1) % this.#every !== 0) return;
    this.#batch.begin(this.step);
    this.#open = true;
    const layersNow = this.#records % this.#layerEvery === 0 || this.#traceNext;
    this.#layerSamples = !layersNow ? 0 : this.#traceNext ? Infinity : this.#samples;
    this.#traceNext = false;
    // backward hooks wrap every call of their module, so they are attached only when used
    if (layersNow) {
      this.#goutHandles = this.#goutLayers.map(([m, label]) =>
        m.registerFullBackwardHook((_m, _gi, go) => {
          if (go[0]) this.#batch.add({ kind: "gout", name: label }, go[0], undefined, this.#limit(go[0]));
        })
      );
    }
  }

  #onActivation(m: Module, label: string, out: Tensor): void {
    if (!this.#open || this.#layerSamples === 0) return;
    this.#ops.set(label, out._op);
    if (m.typeName !== "Flatten") {
      this.#batch.add({ kind: "act", name: label }, out, SATURATION[m.typeName], this.#limit(out));
    }
    if (m.typeName === "ReLU") this.#relu.mark(label, out, this.step);
  }

  /** Elements in the first `layerSamples` samples of a batch-first tensor. */
  #limit(t: Tensor): number {
    return t.ndim >= 2 ? Math.min(t.shape[0], this.#layerSamples) * (t.size / t.shape[0]) : t.size;
  }

  #onGrad(name: string, p: Tensor, g: Tensor): void {
    if (!this.#open) return;
    this.#batch.add({ kind: "grad", name }, g);
    this.#batch.add({ kind: "weight", name }, p);
    if (!this.#prev) {
      // one buffer for the old values of every parameter, in parameter order
      let off = 0;
      for (const q of this.#params) {
        this.#prevOffset.set(q.name, off);
        off += q.t.size;
      }
      this.#prev = acquireBuffer(off * 4);
    }
    copyBuffer(p.buffer, 0, this.#prev, this.#prevOffset.get(name)! * 4, p.size * 4);
    this.#seenParams.add(name);
  }

  /** Closes the record of the current step: the weights now hold this step's update. */
  #finish(): void {
    if (!this.#open) return;
    const items = this.#params.filter((p) => this.#seenParams.has(p.name))
      .map((p) => ({
        key: { kind: "update" as const, name: p.name },
        t: p.t,
        prevOffset: this.#prevOffset.get(p.name)!,
      }));
    if (items.length) this.#batch.addDeltas(items, this.#prev!);
    this.#seenParams.clear();
    this.#samplesOf.set(this.step, this.#layerSamples);
    this.#batch.end(this.#records % this.#histEvery === 0);
    this.#records++;
    this.#open = false;
    this.#goutHandles.forEach((h) => h.remove());
    this.#goutHandles = [];
  }

  /**
   * Reads back everything recorded since the last flush (one synchronisation), turns it into
   * `records`, evaluates the alarms and returns the new ones. Call it after `optimizer.step()`.
   */
  async flush(): Promise<Alarm[]> {
    this.#finish();
    const before = this.alarms.length;
    const [recs, dead] = await Promise.all([this.#batch.read(), this.#relu.close(this.step)]);
    for (const r of recs) {
      const rec = this.#assemble(r.tag, r.stats);
      this.records.push(rec);
      const events = stepAlarms(rec, this.#norms, this.#thresholds);
      this.#norms.push(rec.totalGradNorm);
      // a NaN/Inf seen only in gradients: look at every layer over the whole batch next time
      if (
        events.some((a) => a.kind === "nonfinite" && a.source === "gradient" && rec.layerSamples !== Infinity)
      ) {
        this.#traceNext = true;
      }
      events.forEach((a) => this.#raise(a));
    }
    this.deadUnits.push(...dead);
    deadUnitAlarms(dead, this.#thresholds).forEach((a) => this.#raise(a));
    return this.alarms.slice(before);
  }

  #assemble(step: number, stats: KeyedStats<TrackKey>[]): StepRecord {
    const asStats = (s: KeyedStats<TrackKey>): TensorStats => ({ ...s, key: `${s.key.kind}:${s.key.name}` });
    const by = new Map(stats.map((s) => [`${s.key.kind}:${s.key.name}`, asStats(s)]));
    const params: ParamRecord[] = [];
    for (const p of this.#params) {
      const grad = by.get(`grad:${p.name}`), weight = by.get(`weight:${p.name}`);
      if (!grad || !weight) continue;
      const update = by.get(`update:${p.name}`);
      params.push({
        name: p.name,
        layer: p.layer,
        grad,
        weight,
        update,
        updateRatio: update ? update.norm / (weight.norm || 1e-30) : undefined,
      });
    }
    // layers in forward order (the order their outputs were first recorded)
    const layers = new Map<string, LayerRecord>();
    for (const s of stats) {
      if (s.key.kind !== "act" && s.key.kind !== "gout") continue;
      const label = s.key.name;
      let l = layers.get(label);
      if (!l) {
        const sp = label.indexOf(" ");
        l = { label, name: sp < 0 ? "" : label.slice(0, sp), type: sp < 0 ? label : label.slice(sp + 1) };
        const op = this.#ops.get(label);
        if (op) l.op = op;
        layers.set(label, l);
      }
      if (s.key.kind === "act") l.activation = asStats(s);
      else l.gradOutput = asStats(s);
    }
    const totalGradNorm = Math.sqrt(params.reduce((a, p) => a + p.grad.norm ** 2, 0));
    const layerSamples = this.#samplesOf.get(step) ?? 0;
    this.#samplesOf.delete(step);
    return { step, params, layers: [...layers.values()], layerSamples, totalGradNorm };
  }

  #raise(a: AlarmEvent): void {
    const key = `${a.kind}|${a.layer}`;
    const n = this.alarmCounts.get(key) ?? 0;
    this.alarmCounts.set(key, n + 1);
    if (n > 0) return;
    const full = alarm(a);
    this.alarms.push(full);
    this.#onAlarm?.(full);
  }

  /** Removes every hook and frees the GPU buffers. */
  remove(): void {
    this.#handles.forEach((h) => h.remove());
    this.#goutHandles.forEach((h) => h.remove());
    this.#batch.dispose();
    if (this.#prev) releaseBuffer(this.#prev);
    this.#prev = null;
    this.#relu.dispose();
  }
}

/**
 * Starts tracking a model's gradients during ordinary training.
 *
 * @example
 * ```ts
 * import { Adam, crossEntropy, Linear, ReLU, Sequential, tensor, trackGradients } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const tracker = trackGradients(model, { every: 1, onAlarm: (a) => console.log(a.message) });
 * const opt = new Adam(model.parameters());
 * // ... each step: forward, backward, opt.step(); now and then:
 * await tracker.flush(); // reads the statistics back, raises alarms
 * tracker.records.at(-1)?.params[0].grad.norm;
 * ```
 */
export function trackGradients(model: Module, options: TrackOptions = {}): GradientTracker {
  return new GradientTracker(model, options);
}
