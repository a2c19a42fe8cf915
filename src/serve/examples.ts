/**
 * The examples the dashboard offers: a safetensors file's "x" [N, ...input shape] in the model's
 * input units (what `deno task explain --data` reads) and optional "y" [N] labels, turned into
 * the values a request's `input` takes — image pixels back in [0, 1] (the profile's
 * normalisation undone), feature values as they are, token ids as integers.
 */
import { decodeSafetensors } from "../io/safetensors.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import type { Dataset } from "../nn/evaluate.ts";

/** How far a pixel undone from the normalisation may fall outside [0, 1] (float rounding) before it is an error. */
const SLACK = 1e-3;

/**
 * The examples of a safetensors file's bytes for a model with `profile`, as request inputs (see
 * the module comment); a label of −1 means the file has no "y". Anything that does not fit the
 * model is an error naming the file, the tensor and what was expected.
 *
 * @example
 * ```ts
 * import { dashboardExamples, encodeSafetensors } from "glassbox";
 * const profile = { modality: "image" as const, inputShape: [1, 1, 2], classes: ["a", "b"], mean: [0.5], std: [0.25] };
 * const bytes = encodeSafetensors([["x", { dtype: "F32", shape: [1, 1, 1, 2], data: Float32Array.from([-2, 2]) }]]);
 * const d = dashboardExamples(bytes, "x.safetensors", profile);
 * if (d.x.join() !== "0,1" || d.y[0] !== -1) throw new Error(`${d.x} ${d.y}`);
 * ```
 */
export function dashboardExamples(bytes: Uint8Array, name: string, profile: ExplanationProfile): Dataset {
  const file = decodeSafetensors(bytes, name);
  const x = file.tensors.get("x"), y = file.tensors.get("y");
  const want = profile.inputShape, per = want.reduce((a, b) => a * b, 1);
  // F32 inputs, or I32 token ids for a token model (as deno task explain --data reads them)
  const tokens = profile.modality === "tokens";
  if (!x || !(x.dtype === "F32" || (tokens && x.dtype === "I32"))) {
    throw new Error(
      `${name}: the examples need ${tokens ? "an F32 or I32" : "an F32"} tensor "x" [N, ${want.join(", ")}]${
        x ? `, got ${x.dtype}` : ""
      }`,
    );
  }
  if (x.shape.length !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d)) {
    throw new Error(`${name}: "x" is [${x.shape.join(", ")}]; the model takes [N, ${want.join(", ")}]`);
  }
  const N = x.shape[0],
    data = x.dtype === "F32" ? x.data as Float32Array : Float32Array.from(x.data as Int32Array);
  if (y && (y.shape.length !== 1 || y.shape[0] !== N)) {
    throw new Error(`${name}: "y" must be [${N}] labels, got [${y.shape.join(", ")}]`);
  }
  const labels = y ? Int32Array.from(y.data as ArrayLike<number>) : new Int32Array(N).fill(-1);
  if (y) {
    const bad = Array.from(y.data as ArrayLike<number>).findIndex((v, i) =>
      !Number.isInteger(v) || v !== labels[i] || v < 0 || v >= profile.classes.length
    );
    if (bad >= 0) {
      throw new Error(
        `${name}: y[${bad}] is ${(y.data as ArrayLike<number>)[bad]}; a label is a class 0 to ${
          profile.classes.length - 1
        }`,
      );
    }
  }
  const out = new Float32Array(N * per);
  if (profile.modality === "image") {
    const plane = want[1] * want[2];
    for (let i = 0; i < out.length; i++) {
      const c = Math.floor(i / plane) % want[0];
      const v = data[i] * (profile.std?.[c] ?? 1) + (profile.mean?.[c] ?? 0);
      if (!(v >= -SLACK && v <= 1 + SLACK)) {
        throw new Error(
          `${name}: example ${
            Math.floor(i / per)
          } has a pixel of ${v} once the profile's normalisation is undone; ` +
            `the dashboard shows images with pixels in [0, 1] (is "x" in the model's input units?)`,
        );
      }
      out[i] = Math.min(1, Math.max(0, v));
    }
  } else if (profile.modality === "tokens") {
    const V = profile.vocabulary?.length ?? Infinity;
    const bad = data.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= V);
    if (bad >= 0) throw new Error(`${name}: x holds ${data[bad]}, not a token id 0 to ${V - 1}`);
    out.set(data);
  } else {
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${name}: x holds ${data[bad]}, not a finite feature value`);
    out.set(data);
  }
  return { x: out, y: labels, sampleShape: [...want] };
}

/**
 * Training examples for the dashboard's nearest-example search, from the same file format
 * (`x` in the model's input units, and `y` labels, required here), as the model takes them:
 * images normalised, token ids as int32.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, trainingExamples } from "glassbox";
 * const profile = { modality: "tabular" as const, inputShape: [2], classes: ["a", "b"] };
 * const bytes = encodeSafetensors([
 *   ["x", { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
 *   ["y", { dtype: "I32", shape: [2], data: new Int32Array([0, 1]) }],
 * ]);
 * if (trainingExamples(bytes, "train.safetensors", profile).y[1] !== 1) throw new Error("labels lost");
 * ```
 */
export function trainingExamples(
  bytes: Uint8Array,
  name: string,
  profile: ExplanationProfile,
): { x: Float32Array | Int32Array; y: Int32Array } {
  const d = dashboardExamples(bytes, name, profile);
  if (d.y.some((v) => v < 0)) throw new Error(`${name}: training examples need "y" labels`);
  if (profile.modality === "tokens") return { x: Int32Array.from(d.x), y: d.y };
  if (profile.modality === "image") {
    const plane = profile.inputShape[1] * profile.inputShape[2], C = profile.inputShape[0];
    const x = Float32Array.from(d.x, (v, i) => {
      const c = Math.floor(i / plane) % C;
      return (v - (profile.mean?.[c] ?? 0)) / (profile.std?.[c] ?? 1);
    });
    return { x, y: d.y };
  }
  return { x: d.x, y: d.y };
}
