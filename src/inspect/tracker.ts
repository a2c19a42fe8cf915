/**
 * Gradient tracking: per-parameter and per-layer statistics recorded during ordinary
 * training, reduced on the GPU and read back in batches, with alarms for vanishing and
 * exploding gradients, NaN/Inf, dead ReLUs and saturated units.
 */
import { acquireBuffer, placeholderBuffer, releaseBuffer } from "../gpu/pool.ts";
import { copyBuffer, dispatch, grid, readBuffer } from "../gpu/queue.ts";
import { device } from "../gpu/device.ts";
import type { Module } from "../nn/module.ts";
import { isGradEnabled } from "../tensor/graph.ts";
import type { RemovableHandle, Tensor } from "../tensor/tensor.ts";
import { type Alarm, alarm, type AlarmThresholds, DEFAULT_THRESHOLDS } from "./alarms.ts";
import { type Saturation, StatsBatch, type TensorStats } from "./gpu_stats.ts";

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
   * the steps that were looked at.
   */
  layerEvery?: number;
  /** Alarm thresholds. */
  thresholds?: Partial<AlarmThresholds>;
  /** Called once for each new alarm (kind and layer), as soon as it is known. */
  onAlarm?: (a: Alarm) => void;
}

/** One parameter at one recorded step. */
export interface ParamRecord {
  name: string;
  /** The layer (module) it belongs to, e.g. "3 Conv2d". */
  layer: string;
  grad: TensorStats;
  weight: TensorStats;
  /** The update the optimizer applied at this step (w_after - w_before), when known. */
  update?: TensorStats;
  /** ‖update‖ / ‖weight‖. */
  updateRatio?: number;
}

/** One layer (leaf module) at one recorded step. */
export interface LayerRecord {
  /** Module name and type, e.g. "3 Conv2d". */
  label: string;
  name: string;
  type: string;
  activation?: TensorStats;
  gradOutput?: TensorStats;
}

/** Everything recorded at one step. */
export interface StepRecord {
  step: number;
  params: ParamRecord[];
  /** Leaf modules in forward order. */
  layers: LayerRecord[];
  /** L2 norm of all parameter gradients together. */
  totalGradNorm: number;
}

/** Dead-unit fraction per ReLU layer over a window of steps. */
export interface DeadUnits {
  layer: string;
  fromStep: number;
  toStep: number;
  units: number;
  deadFraction: number;
}

const SATURATION: Record<string, Saturation> = {
  Sigmoid: { center: 0.5, threshold: 0.49 }, // outputs below 0.01 or above 0.99
  Tanh: { center: 0, threshold: 0.99 },
};

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
  readonly alarmCounts = new Map<string, number>();
  /** Dead-unit fractions per flush window. */
  readonly deadUnits: DeadUnits[] = [];
  /** Training steps seen (forward calls of the model in training mode with grad enabled). */
  step = 0;

  readonly #model: Module;
  readonly #every: number;
  readonly #thresholds: AlarmThresholds;
  readonly #onAlarm?: (a: Alarm) => void;
  readonly #batch: StatsBatch;
  readonly #handles: RemovableHandle[] = [];
  readonly #params: { name: string; layer: string; t: Tensor }[];
  #prev: GPUBuffer | null = null;
  readonly #prevOffset = new Map<string, number>();
  readonly #histEvery: number;
  #records = 0;
  readonly #labels = new Map<Module, string>();
  readonly #samples: number;
  #recording = false;
  #open = false;
  /** the op that produced each layer's output, for the NaN alarm */
  readonly #ops = new Map<string, string>();
  #layersNow = false;
  readonly #layerEvery: number;
  /** Leaves whose output gradients are recorded; their backward hooks are attached only on layer steps. */
  readonly #goutLayers: [Module, string][] = [];
  #goutHandles: RemovableHandle[] = [];
  #seenParams: { name: string; t: Tensor }[] = [];
  #relu: { label: string; units: number; offset: number }[] = [];
  #act: GPUBuffer | null = null;
  #actUnits = 0;
  #windowStart = 1;
  #norms: number[] = [];

  constructor(model: Module, options: TrackOptions = {}) {
    this.#model = model;
    this.#every = Math.max(1, Math.floor(options.every ?? 1));
    this.#thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.#onAlarm = options.onAlarm;
    this.#batch = new StatsBatch(options.bins ?? 30);
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
    this.#recording = (this.step - 1) % this.#every === 0;
    if (this.#recording) {
      this.#batch.begin(this.step);
      this.#open = true;
      this.#layersNow = this.#records % this.#layerEvery === 0;
      // backward hooks wrap every call of their module, so they are attached only when used
      if (this.#layersNow) {
        this.#goutHandles = this.#goutLayers.map(([m, label]) =>
          m.registerFullBackwardHook((_m, _gi, go) => {
            if (go[0]) this.#batch.add(`gout:${label}`, go[0], undefined, this.#limit(go[0]));
          })
        );
      }
    }
  }

  #onActivation(m: Module, label: string, out: Tensor): void {
    if (!this.#layersNow) return;
    this.#ops.set(label, out._op);
    if (m.typeName !== "Flatten") {
      this.#batch.add(`act:${label}`, out, SATURATION[m.typeName], this.#limit(out));
    }
    if (m.typeName === "ReLU" && out.ndim >= 2) this.#markActive(label, out);
  }

  /** Elements in the first `samples` samples of a batch-first tensor. */
  #limit(t: Tensor): number {
    return t.ndim >= 2 ? Math.min(t.shape[0], this.#samples) * (t.size / t.shape[0]) : t.size;
  }

  #markActive(label: string, out: Tensor): void {
    const N = out.shape[0], U = out.shape[1], S = out.size / (N * U);
    let r = this.#relu.find((x) => x.label === label);
    if (!r) {
      r = { label, units: U, offset: this.#actUnits };
      this.#relu.push(r);
      this.#actUnits += U;
      const bigger = acquireBuffer(this.#actUnits * 4, true);
      device().queue.writeBuffer(bigger, 0, new Uint32Array(this.#actUnits));
      if (this.#act) {
        copyBuffer(this.#act, 0, bigger, 0, r.offset * 4);
        releaseBuffer(this.#act);
      }
      this.#act = bigger;
    }
    if (r.units !== U) return;
    dispatch({
      shader: "track",
      entry: "mark_active",
      buffers: [out.buffer, placeholderBuffer(), this.#act!],
      params: [0, 0, 0, N, U, S, r.offset],
      workgroups: grid(U * S, 64),
    });
  }

  #onGrad(name: string, p: Tensor, g: Tensor): void {
    if (!this.#open) return;
    this.#batch.add(`grad:${name}`, g);
    this.#batch.add(`weight:${name}`, p);
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
    this.#seenParams.push({ name, t: p });
  }

  /** Closes the record of the current step: the weights now hold this step's update. */
  #finish(): void {
    if (!this.#open) return;
    const seen = new Set(this.#seenParams.map((s) => s.name));
    const items = this.#params.filter((p) => seen.has(p.name))
      .map((p) => ({ key: `update:${p.name}`, t: p.t, prevOffset: this.#prevOffset.get(p.name)! }));
    this.#batch.addDeltas(items, this.#prev!);
    this.#seenParams = [];
    this.#batch.end(this.#records % this.#histEvery === 0);
    this.#records++;
    this.#open = false;
    this.#layersNow = false;
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
    const [recs, act] = await Promise.all([
      this.#batch.read(),
      this.#act && this.#relu.length ? readBuffer(this.#act, this.#actUnits * 4) : Promise.resolve(null),
    ]);
    for (const r of recs) {
      const rec = this.#assemble(r.tag, r.stats);
      this.records.push(rec);
      this.#check(rec);
    }
    if (act && this.step >= this.#windowStart) {
      const flags = new Uint32Array(act);
      for (const r of this.#relu) {
        let dead = 0;
        for (let u = 0; u < r.units; u++) if (flags[r.offset + u] === 0) dead++;
        const d: DeadUnits = {
          layer: r.label,
          fromStep: this.#windowStart,
          toStep: this.step,
          units: r.units,
          deadFraction: dead / r.units,
        };
        this.deadUnits.push(d);
        if (d.deadFraction > this.#thresholds.deadFraction) {
          this.#raise({
            kind: "dead-relu",
            layer: r.label,
            step: this.step,
            value: d.deadFraction,
            threshold: this.#thresholds.deadFraction,
          });
        }
      }
      device().queue.writeBuffer(this.#act!, 0, new Uint32Array(this.#actUnits));
      this.#windowStart = this.step + 1;
    }
    return this.alarms.slice(before);
  }

  #assemble(step: number, stats: TensorStats[]): StepRecord {
    const by = new Map(stats.map((s) => [s.key, s]));
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
    const layers: LayerRecord[] = [];
    const seen = new Set<string>();
    for (const s of stats) {
      const m = /^(act|gout):(.*)$/.exec(s.key);
      if (!m) continue;
      const label = m[2];
      if (!seen.has(label)) {
        seen.add(label);
        const [name, type] = label.includes(" ")
          ? [label.slice(0, label.indexOf(" ")), label.slice(label.indexOf(" ") + 1)]
          : ["", label];
        layers.push({ label, name, type });
      }
      const l = layers.find((x) => x.label === label)!;
      if (m[1] === "act") l.activation = s;
      else l.gradOutput = s;
    }
    // forward order: layers first seen through activations come in call order; keep it
    const totalGradNorm = Math.sqrt(params.reduce((a, p) => a + p.grad.norm ** 2, 0));
    return { step, params, layers, totalGradNorm };
  }

  #raise(a: Omit<Alarm, "message">): void {
    const key = `${a.kind}|${a.layer}`;
    const n = this.alarmCounts.get(key) ?? 0;
    this.alarmCounts.set(key, n + 1);
    if (n > 0) return;
    const full = alarm(a);
    this.alarms.push(full);
    this.#onAlarm?.(full);
  }

  #check(rec: StepRecord): void {
    const t = this.#thresholds;
    // NaN/Inf: the first layer in forward order whose output has them, else the first weight, else gradient
    const badLayer = rec.layers.find((l) => (l.activation?.nonFinite ?? 0) > 0);
    const badWeight = rec.params.find((p) => p.weight.nonFinite > 0);
    const badGrad = [...rec.params].reverse().find((p) => p.grad.nonFinite > 0);
    if (badLayer) {
      const op = this.#ops.get(badLayer.label);
      this.#raise({
        kind: "nonfinite",
        layer: op ? `${badLayer.label} (op ${op})` : badLayer.label,
        step: rec.step,
        value: badLayer.activation!.nonFinite,
        threshold: 0,
      });
    } else if (badWeight) {
      this.#raise({
        kind: "nonfinite",
        layer: badWeight.name,
        step: rec.step,
        value: badWeight.weight.nonFinite,
        threshold: 0,
      });
    } else if (badGrad) {
      this.#raise({
        kind: "nonfinite",
        layer: badGrad.name,
        step: rec.step,
        value: badGrad.grad.nonFinite,
        threshold: 0,
      });
    }
    // vanishing: weight gradients (not biases), compared with the last layer's
    const weights = rec.params.filter((p) =>
      p.grad.count > 0 && !p.name.endsWith("bias") && p.weight.count > 1
    );
    const last = weights[weights.length - 1];
    if (last) {
      for (const p of weights) {
        const v = p.grad.meanAbs;
        const ratio = v / (last.grad.meanAbs || 1e-30);
        if (v < t.vanishingAbs) {
          this.#raise({
            kind: "vanishing",
            layer: p.layer,
            step: rec.step,
            value: v,
            threshold: t.vanishingAbs,
          });
        } else if (p !== last && ratio < t.vanishingRatio) {
          this.#raise({
            kind: "vanishing",
            layer: p.layer,
            step: rec.step,
            value: v,
            threshold: t.vanishingRatio * last.grad.meanAbs,
          });
        }
      }
    }
    // exploding: a large total norm, or one growing fast for several records in a row
    const norm = rec.totalGradNorm;
    this.#norms.push(norm);
    const k = t.explodingGrowthSteps;
    const h = this.#norms;
    // growth counts only when it is sustained and takes the norm far above its usual level
    // (10x the median of the records before the streak): gradient norms are noisy step to step
    const streak = h.length > k &&
      h.slice(-k - 1).every((v, i, a) => i === 0 || v >= a[i - 1] * t.explodingGrowth);
    const before = h.slice(Math.max(0, h.length - k - 101), h.length - k - 1).sort((a, b) => a - b);
    const usual = before.length ? before[Math.floor(before.length / 2)] : h[h.length - k - 1];
    const growing = streak && norm >= 10 * usual;
    if (Number.isFinite(norm) && (norm > t.explodingNorm || growing)) {
      this.#raise({
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
        this.#raise({
          kind: "saturated",
          layer: l.label,
          step: rec.step,
          value: f,
          threshold: t.saturatedFraction,
        });
      }
    }
  }

  /** Removes every hook and frees the GPU buffers. */
  remove(): void {
    this.#handles.forEach((h) => h.remove());
    this.#goutHandles.forEach((h) => h.remove());
    this.#batch.dispose();
    if (this.#prev) releaseBuffer(this.#prev);
    this.#prev = null;
    if (this.#act) releaseBuffer(this.#act);
    this.#act = null;
  }
}

/**
 * Starts tracking a model's gradients during ordinary training.
 *
 * @example
 * ```ts
 * import { Adam, crossEntropy, Linear, ReLU, Sequential, tensor, trackGradients } from "./mod.ts";
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
