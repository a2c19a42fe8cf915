/**
 * Calibration for post-training quantization: the range of every Linear and Conv2d input,
 * observed on a sample of real inputs, gives the scale of its int8 grid. "minmax" takes the
 * largest |x| seen; "percentile" takes a high percentile of |x| (default 99.99), which clips
 * rare outliers to keep resolution for the bulk of the values.
 */
import { Conv2d } from "../nn/conv.ts";
import type { Dataset } from "../nn/evaluate.ts";
import { Linear } from "../nn/linear.ts";
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Options for `calibrate`. */
export interface CalibrationOptions {
  /** "minmax" (default) or "percentile". */
  method?: "minmax" | "percentile";
  /** The percentile of |x| for "percentile" (default 99.99). */
  percentile?: number;
  /** How many samples of the dataset to run (default 512). */
  samples?: number;
  /** Batch size of the calibration passes (default 128). */
  batchSize?: number;
}

/** One layer's calibrated input range. */
export interface ActivationRange {
  /** The layer's name in the model, e.g. "3". */
  layer: string;
  /** Its type, e.g. "Conv2d". */
  type: string;
  /** The largest |x| seen. */
  max: number;
  /** The clipping value used: `max` (minmax) or the percentile of |x|. */
  range: number;
  /** range / 127: the step of the int8 grid (1 when every input was 0). */
  scale: number;
  /** How many input values were seen. */
  values: number;
}

/** The value at percentile p of sorted values (nearest rank). */
function nearestRank(sorted: Float32Array, p: number): number {
  const i = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, i))];
}

/**
 * Runs the first `samples` inputs of `data` through `model` (eval mode, no graph) and returns
 * the input range and int8 scale of each Linear and Conv2d, by name.
 *
 * @example
 * ```ts
 * import { calibrate, createModel } from "glassbox";
 * const data = { x: new Float32Array(4 * 784).fill(0.5), y: new Int32Array(4), sampleShape: [1, 28, 28] };
 * const ranges = await calibrate(createModel("seed-cnn"), data, { method: "percentile" });
 * ranges.get("0")!.scale; // 0.5 / 127
 * ```
 */
export async function calibrate(
  model: Module,
  data: Dataset,
  options: CalibrationOptions = {},
): Promise<Map<string, ActivationRange>> {
  const method = options.method ?? "minmax", p = options.percentile ?? 99.99;
  if (method !== "minmax" && method !== "percentile") {
    throw new Error(`calibrate: method must be "minmax" or "percentile", got "${method}"`);
  }
  if (method === "percentile" && !(p > 0 && p <= 100)) {
    throw new Error(`calibrate: percentile must be in (0, 100], got ${p}`);
  }
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const count = Math.min(options.samples ?? 512, data.y.length, Math.floor(data.x.length / per));
  if (count < 1) throw new Error("calibrate: the calibration data has no samples");
  const bs = options.batchSize ?? 128;
  const layers = model.namedModules().filter(([, m]) => m instanceof Linear || m instanceof Conv2d);
  if (layers.length === 0) throw new Error(`calibrate: the ${model.typeName} has no Linear or Conv2d layer`);
  const seen = new Map<string, Float32Array[]>(layers.map(([n]) => [n, []]));
  const restore = model.enterEval();
  try {
    for (let s = 0; s < count; s += bs) {
      const n = Math.min(bs, count - s);
      await scope(async () => {
        const captured: [string, Tensor][] = [];
        const handles = layers.map(([name, m]) =>
          m.registerForwardPreHook((_, inputs) => {
            captured.push([name, inputs[0]]);
          })
        );
        try {
          noGrad(() =>
            model.forward(tensor(data.x.subarray(s * per, (s + n) * per), [n, ...data.sampleShape]))
          );
        } finally {
          handles.forEach((h) => h.remove());
        }
        for (const [name, t] of captured) seen.get(name)!.push((await t.toArray()) as Float32Array);
      });
    }
  } finally {
    restore();
  }
  const out = new Map<string, ActivationRange>();
  for (const [name, m] of layers) {
    const parts = seen.get(name)!;
    const total = parts.reduce((a, v) => a + v.length, 0);
    if (total === 0) throw new Error(`calibrate: layer "${name}" (${m.typeName}) was never called`);
    const all = new Float32Array(total);
    let o = 0, maxAbs = 0;
    for (const v of parts) {
      for (let i = 0; i < v.length; i++) {
        const a = Math.abs(v[i]);
        if (!Number.isFinite(a)) throw new Error(`calibrate: layer "${name}" got a NaN or infinite input`);
        all[o++] = a;
        if (a > maxAbs) maxAbs = a;
      }
    }
    const range = method === "minmax" ? maxAbs : nearestRank(all.sort(), p);
    out.set(name, {
      layer: name,
      type: m.typeName,
      max: maxAbs,
      range,
      scale: range > 0 ? Math.fround(range / 127) : 1,
      values: total,
    });
  }
  return out;
}

/** The int8 input scale of each calibrated layer, by name (for `quantizeModel` and `fakeQuantModel`). */
export function inputScales(ranges: Map<string, ActivationRange>): Map<string, number> {
  return new Map([...ranges].map(([n, r]) => [n, r.scale]));
}
