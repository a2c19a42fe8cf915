/**
 * The tfjs side of the seed CNN, shared by the Deno benchmarks (bench/explain_models.ts) and the
 * page of the browser benchmark (bench/browser_ig.ts): a port of glassbox's seed CNN written with
 * raw tfjs ops from its state dict, and the NCHW ↔ NHWC reorderings. It imports nothing of
 * glassbox and no Deno API, so a page can load it (bundled with tfjs by bench/browser_ig.ts).
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";

/**
 * Deliberately wrong variants of the tfjs ports, for the test that shows the agreement check can
 * fail: BatchNorm with the batch's statistics (training mode), IG's gradients summed without the
 * quadrature weights, the seed CNN's dense layer fed the NHWC flattening without reordering its
 * weights, the text model's attention without the padding mask.
 */
export type Plant = "bn-batch-stats" | "ig-unweighted" | "flatten-order" | "no-pad-mask";

/** A state dict as plain numbers. */
export type Weights = Map<string, { data: Float32Array; shape: number[] }>;

/** A port of an image or tabular model: input (NHWC for images) → logits. */
export interface ImagePort {
  forward: (x: tf.Tensor) => tf.Tensor;
  /** Frees the port's weights. */
  dispose(): void;
}

/** [N, C, H, W] → [N, H, W, C]. */
export function nchwToNhwc(a: Float32Array, [N, C, H, W]: number[]): Float32Array {
  const o = new Float32Array(a.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H * W; i++) o[(n * H * W + i) * C + c] = a[(n * C + c) * H * W + i];
    }
  }
  return o;
}

/** [N, H, W, C] → [N, C, H, W] (`shape` is the NCHW shape). */
export function nhwcToNchw(a: Float32Array, [N, C, H, W]: number[]): Float32Array {
  const o = new Float32Array(a.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H * W; i++) o[(n * C + c) * H * W + i] = a[(n * H * W + i) * C + c];
    }
  }
  return o;
}
/** Keeps the tensors a port creates, to free them together. */
export class Owned {
  readonly all: tf.Tensor[] = [];
  constructor(readonly w: Weights) {}
  keep<T extends tf.Tensor>(t: T): T {
    this.all.push(t);
    return t;
  }
  raw(name: string): { data: Float32Array; shape: number[] } {
    const v = this.w.get(name);
    if (!v) throw new Error(`tfjs port: no weight "${name}" in the state dict`);
    return v;
  }
  /** A weight as it is. */
  get(name: string): tf.Tensor {
    const { data, shape } = this.raw(name);
    return this.keep(tf.tensor(data, shape));
  }
  /** A Linear's weight [out, in] as [in, out]. */
  linear(name: string): tf.Tensor2D {
    return this.keep(
      tf.transpose(tf.tensor2d(this.raw(name).data, this.raw(name).shape as [number, number])),
    );
  }
  /** A Conv2d's weight [out, in, kh, kw] as tfjs's [kh, kw, in, out]. */
  conv(name: string): tf.Tensor4D {
    const { data, shape } = this.raw(name);
    return this.keep(
      tf.transpose(tf.tensor4d(data, shape as [number, number, number, number]), [2, 3, 1, 0]),
    );
  }
  dispose(): void {
    for (const t of this.all) t.dispose();
  }
}

/** A PyTorch conv (symmetric zero padding `pad`) on NHWC: tfjs's "same" pads unevenly at stride 2. */
export function conv(x: tf.Tensor4D, k: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  const p = pad ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  return tf.conv2d(p, k, stride, "valid");
}

/** The seed CNN (Sequential 0…9) on NHWC input, its dense layer's weights reordered for the NHWC flattening. */
export function seedCnnPort(w: Weights, plant?: Plant): ImagePort {
  const o = new Owned(w);
  const k0 = o.conv("0.weight"), b0 = o.get("0.bias"), k3 = o.conv("3.weight"), b3 = o.get("3.bias");
  const { data: d7, shape: [out7, in7] } = o.raw("7.weight");
  const C = w.get("3.weight")!.shape[0], HW = in7 / C;
  // glassbox flattens [C, H, W]; NHWC flattens [H, W, C]: row (hw·C + c) of the [in, out] matrix is column (c·HW + hw)
  const w7 = new Float32Array(in7 * out7);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < HW; i++) {
      const row = plant === "flatten-order" ? c * HW + i : i * C + c;
      for (let j = 0; j < out7; j++) w7[row * out7 + j] = d7[j * in7 + c * HW + i];
    }
  }
  const W7 = o.keep(tf.tensor2d(w7, [in7, out7])), b7 = o.get("7.bias");
  const W9 = o.linear("9.weight"), b9 = o.get("9.bias");
  return {
    forward: (x) => {
      let h = tf.relu(tf.add(conv(x as tf.Tensor4D, k0, 1, 0), b0)) as tf.Tensor4D;
      h = tf.maxPool(h, 2, 2, "valid");
      h = tf.relu(tf.add(conv(h, k3, 1, 0), b3));
      h = tf.maxPool(h, 2, 2, "valid");
      const f = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
      return tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(f, W7), b7)) as tf.Tensor2D, W9), b9);
    },
    dispose: () => o.dispose(),
  };
}
