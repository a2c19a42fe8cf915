/**
 * Attribution throughput on every model glassbox ships an example of, against TensorFlow.js 4.22
 * computing the same method on the same model with the same weights in the same process:
 *
 * - the seed CNN (MNIST, 1×28×28), the SmallResNet (3×32×32 RGB, BatchNorm in eval mode) and the
 *   tabular MLP: Saliency and Integrated Gradients (32 Gauss–Legendre steps, baseline 0);
 * - the text classifier (token ids are not differentiable): LayerGradientXActivation and Layer
 *   Integrated Gradients (32 steps, baseline <pad>) at the embedding, summed over its width.
 *
 * glassbox runs each method through the method registry (src/explain/methods.ts; the registry
 * has no LayerGradientXActivation entry, so that one is the class itself). The tfjs ports are
 * written with raw ops from the glassbox model's state dict: tf.grad for the gradients, IG as
 * batched interpolation + grad with `integrationPoints`' nodes and weights, as many interpolated
 * rows per pass as glassbox's default internal batch. Every timed region starts from the input's
 * numbers in JS memory and ends with the attributions read back; the engines take turns, round
 * by round (see `benchExplainModels`). Before a speed is printed, the
 * attributions of both engines on the same inputs are compared: max |glassbox − tfjs| / max
 * |glassbox| over the batch (a speed for a different computation would mean nothing).
 *
 * `deno task bench --explain-models [--quick]` prints the table; tests/explain_models_test.ts
 * checks the ports against glassbox on small inputs and plants wrong variants.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// deno-lint-ignore no-import-prefix
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import * as gb from "../mod.ts";

/** Integration steps of IG and Layer IG. */
export const STEPS = 32;

/**
 * Deliberately wrong variants of the tfjs ports, for the test that shows the agreement check can
 * fail: BatchNorm with the batch's statistics (training mode), IG's gradients summed without the
 * quadrature weights, the seed CNN's dense layer fed the NHWC flattening without reordering its
 * weights, the text model's attention without the padding mask.
 */
export type Plant = "bn-batch-stats" | "ig-unweighted" | "flatten-order" | "no-pad-mask";

/** A state dict as plain numbers. */
type Weights = Map<string, { data: Float32Array; shape: number[] }>;

/** What a tfjs port computes: the logits from the model's input (or, for text, from the embedding's output). */
interface Port {
  /** Image (NHWC) or tabular input → logits. */
  forward?: (x: tf.Tensor) => tf.Tensor;
  /** Text: token ids → the embedding's output [N, T, d]. */
  embed?: (ids: tf.Tensor) => tf.Tensor;
  /** Text: the embedding's output and the padding masks of the ids → logits. */
  fromEmbedding?: (e: tf.Tensor, masks: TextMasks) => tf.Tensor;
  /** Frees the port's weights. */
  dispose(): void;
}

/** The padding masks of a token batch, as TextClassifier builds them. */
interface TextMasks {
  /** [N, 1, 1, T]: 0 at a real token, −1e9 at <pad>. */
  additive: tf.Tensor;
  /** [N, T, 1]: 1 at a real token. */
  real: tf.Tensor;
  /** [N, 1]: the number of real tokens. */
  count: tf.Tensor;
}

/** One model of the table: the glassbox model, its profile, inputs, targets and its tfjs port. */
export interface ModelCase {
  /** The model's row label. */
  name: string;
  model: gb.Module;
  profile: gb.ExplanationProfile;
  /** The two methods: a gradient method and a path method. */
  methods: [MethodCase, MethodCase];
  /** Builds the tfjs port on the current tfjs backend. */
  port(plant?: Plant): Port;
}

/** One method on one model. */
export interface MethodCase {
  /** The method's row label. */
  name: string;
  /** "grad" (Saliency, or LayerGradientXActivation on text) or "path" (IG, Layer IG). */
  kind: "grad" | "path";
  /** Examples per timed run. */
  n: number;
}

/** Inputs of a case: n examples in glassbox's layout and one target each. */
interface Batch {
  data: Float32Array | Int32Array;
  shape: number[];
  targets: number[];
}

/** A small deterministic generator (LCG), so inputs and weights do not depend on glassbox's RNG. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function weightsOf(m: gb.Module): Promise<Weights> {
  const w: Weights = new Map();
  for (const [k, t] of m.stateDict()) {
    w.set(k, { data: Float32Array.from(await t.toArray()), shape: [...t.shape] });
  }
  return w;
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
class Owned {
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
function conv(x: tf.Tensor4D, k: tf.Tensor4D, stride: number, pad: number): tf.Tensor4D {
  const p = pad ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  return tf.conv2d(p, k, stride, "valid");
}

/** The seed CNN (Sequential 0…9) on NHWC input, its dense layer's weights reordered for the NHWC flattening. */
function seedCnnPort(w: Weights, plant?: Plant): Port {
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

/** SmallResNet on NHWC input, every BatchNorm in eval mode (running statistics) unless planted otherwise. */
function resnetPort(w: Weights, plant?: Plant): Port {
  const o = new Owned(w);
  const bn = (name: string) => {
    const eps = 1e-5;
    const g = o.raw(`${name}.weight`).data, b = o.raw(`${name}.bias`).data;
    const m = o.raw(`${name}.running_mean`).data, v = o.raw(`${name}.running_var`).data;
    const scale = g.map((gi, i) => gi / Math.sqrt(v[i] + eps)),
      shift = b.map((bi, i) => bi - m[i] * scale[i]);
    const S = o.keep(tf.tensor1d(scale)), B = o.keep(tf.tensor1d(shift));
    const G = o.keep(tf.tensor1d(g)), Bb = o.keep(tf.tensor1d(b));
    return (x: tf.Tensor4D): tf.Tensor4D => {
      if (plant === "bn-batch-stats") {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), G), Bb);
      }
      return tf.add(tf.mul(x, S), B);
    };
  };
  const convOf = (name: string, stride: number, pad: number) => {
    const k = o.conv(`${name}.weight`);
    return (x: tf.Tensor4D) => conv(x, k, stride, pad);
  };
  const block = (p: string, stride: number, projection: boolean) => {
    const c1 = convOf(`${p}.conv1`, stride, 1), n1 = bn(`${p}.bn1`);
    const c2 = convOf(`${p}.conv2`, 1, 1), n2 = bn(`${p}.bn2`);
    const ds = projection ? convOf(`${p}.downsample.0`, stride, 0) : null;
    const dn = projection ? bn(`${p}.downsample.1`) : null;
    return (x: tf.Tensor4D) =>
      tf.relu(tf.add(n2(c2(tf.relu(n1(c1(x))))), ds ? dn!(ds(x)) : x)) as tf.Tensor4D;
  };
  const stem = convOf("conv1", 1, 1), bn1 = bn("bn1");
  const l1 = block("layer1.0", 1, false), l2 = block("layer2.0", 2, true);
  const fc = o.linear("fc.weight"), fcb = o.get("fc.bias");
  return {
    forward: (x) => {
      const h = l2(l1(tf.relu(bn1(stem(x as tf.Tensor4D)))));
      return tf.add(tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, fc), fcb);
    },
    dispose: () => o.dispose(),
  };
}

/** The tabular MLP (Sequential 0, 2, 4 are the Linear layers). */
function mlpPort(w: Weights): Port {
  const o = new Owned(w);
  const layers = ["0", "2", "4"].map((i) => ({ W: o.linear(`${i}.weight`), b: o.get(`${i}.bias`) }));
  return {
    forward: (x) => {
      let h = x as tf.Tensor2D;
      layers.forEach(({ W, b }, i) => {
        h = tf.add(tf.matMul(h, W), b);
        if (i < layers.length - 1) h = tf.relu(h);
      });
      return h;
    },
    dispose: () => o.dispose(),
  };
}

/** The text classifier from its embedding's output: positions, post-norm encoder layers with the padding mask, masked mean, head. */
function textPort(w: Weights, cfg: { dModel: number; nhead: number; layers: number }, plant?: Plant): Port {
  const o = new Owned(w);
  const E = cfg.dModel, H = cfg.nhead, D = E / H;
  const table = o.get("embed.weight"), pe = o.get("pos.pe");
  const ln = (p: string) => {
    const g = o.get(`${p}.weight`), b = o.get(`${p}.bias`);
    return (x: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
    };
  };
  const layers = Array.from({ length: cfg.layers }, (_, i) => {
    const p = `encoder.layers.${i}`;
    const { data: wi, shape: [three, e] } = o.raw(`${p}.self_attn.in_proj_weight`);
    const bi = o.raw(`${p}.self_attn.in_proj_bias`).data;
    const part = (k: number) => ({
      W: o.keep(tf.transpose(tf.tensor2d(wi.subarray(k * E * e, (k + 1) * E * e), [E, e]))),
      b: o.keep(tf.tensor1d(bi.subarray(k * E, (k + 1) * E))),
    });
    if (three !== 3 * E) throw new Error(`text port: in_proj_weight is [${three}, ${e}]`);
    return {
      q: part(0),
      k: part(1),
      v: part(2),
      out: { W: o.linear(`${p}.self_attn.out_proj.weight`), b: o.get(`${p}.self_attn.out_proj.bias`) },
      l1: { W: o.linear(`${p}.linear1.weight`), b: o.get(`${p}.linear1.bias`) },
      l2: { W: o.linear(`${p}.linear2.weight`), b: o.get(`${p}.linear2.bias`) },
      n1: ln(`${p}.norm1`),
      n2: ln(`${p}.norm2`),
    };
  });
  const head = { W: o.linear("head.weight"), b: o.get("head.bias") };
  const dense = (x: tf.Tensor2D, l: { W: tf.Tensor; b: tf.Tensor }) =>
    tf.add(tf.matMul(x, l.W as tf.Tensor2D), l.b);
  return {
    embed: (ids) => tf.gather(table, ids),
    fromEmbedding: (emb, masks) => {
      const [N, T] = emb.shape;
      let h = tf.add(emb, tf.slice(pe, [0, 0], [T, E])) as tf.Tensor;
      for (const l of layers) {
        const flat = tf.reshape(h, [N * T, E]) as tf.Tensor2D;
        const heads = (p: { W: tf.Tensor; b: tf.Tensor }) =>
          tf.transpose(tf.reshape(dense(flat, p), [N, T, H, D]), [0, 2, 1, 3]);
        let s = tf.div(tf.matMul(heads(l.q), heads(l.k), false, true), Math.sqrt(D));
        if (plant !== "no-pad-mask") s = tf.add(s, masks.additive);
        const att = tf.reshape(tf.transpose(tf.matMul(tf.softmax(s), heads(l.v)), [0, 2, 1, 3]), [N * T, E]);
        const a = tf.reshape(dense(att as tf.Tensor2D, l.out), [N, T, E]);
        h = l.n1(tf.add(h, a));
        const f = dense(tf.relu(dense(tf.reshape(h, [N * T, E]) as tf.Tensor2D, l.l1)) as tf.Tensor2D, l.l2);
        h = l.n2(tf.add(h, tf.reshape(f, [N, T, E])));
      }
      const pooled = tf.div(tf.sum(tf.mul(h, masks.real), 1), masks.count) as tf.Tensor2D;
      return dense(pooled, head);
    },
    dispose: () => o.dispose(),
  };
}

/** The masks TextClassifier derives from token ids (a row of only <pad> counts every position). */
function textMasks(
  ids: Int32Array,
  N: number,
  T: number,
): { additive: Float32Array; real: Float32Array; count: Float32Array } {
  const real = new Float32Array(N * T), additive = new Float32Array(N * T), count = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let c = 0;
    for (let t = 0; t < T; t++) c += ids[n * T + t] !== 0 ? 1 : 0;
    for (let t = 0; t < T; t++) {
      const r = c === 0 || ids[n * T + t] !== 0 ? 1 : 0;
      real[n * T + t] = r;
      additive[n * T + t] = r ? 0 : -1e9;
    }
    count[n] = c === 0 ? T : c;
  }
  return { additive, real, count };
}

/** glassbox's default internal batch (rows through the model at once) for rows of `rowSize` numbers. */
function batchRows(rowSize: number): number {
  return Math.max(1, Math.min(1024, Math.floor((16 << 20) / Math.max(1, rowSize))));
}

/** Σ over the `n`·S rows of one pass of grads ⊙ weights, per example ([n·S, ...] → [n, ...]). */
function weighted(g: tf.Tensor, n: number, weights: tf.Tensor, S: number): tf.Tensor {
  const rest = g.shape.slice(1);
  return tf.sum(tf.mul(tf.reshape(g, [n, S, ...rest]), tf.reshape(weights, [1, S, ...rest.map(() => 1)])), 1);
}

/**
 * One method of a case in tfjs on the current backend: the attributions of `batch`, in glassbox's
 * layout, read back. `x` for images is NCHW in `batch` and NHWC for the port.
 */
export async function tfAttribute(
  c: ModelCase,
  m: MethodCase,
  port: Port,
  batch: Batch,
  plant?: Plant,
): Promise<Float32Array> {
  const N = batch.shape[0], K = c.profile.classes.length, text = c.profile.modality === "tokens";
  const image = c.profile.modality === "image";
  const { alphas, weights } = gb.integrationPoints("gausslegendre", STEPS);
  const w = plant === "ig-unweighted" ? new Float32Array(STEPS).fill(1) : Float32Array.from(weights);
  const S = STEPS,
    G = Math.max(1, Math.floor(batchRows(batch.shape.slice(1).reduce((a, b) => a * b, 1)) / S));
  const baseline = c.profile.baseline ?? 0;
  const r = tf.tidy(() => {
    // one-hot rows built here: tf.oneHot refuses depth 1 (the MLP's single logit)
    const sel = (t: number[]) => {
      const o = new Float32Array(t.length * K);
      t.forEach((v, i) => (o[i * K + v] = 1));
      return tf.tensor2d(o, [t.length, K]);
    };
    if (!text) {
      const shape = image ? [N, batch.shape[2], batch.shape[3], batch.shape[1]] : batch.shape;
      const x = tf.tensor(
        image ? nchwToNhwc(batch.data as Float32Array, batch.shape) : batch.data as Float32Array,
        shape,
      );
      const gradAt = (rows: tf.Tensor, s: tf.Tensor) =>
        tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(port.forward!(inp), s)))(rows);
      if (m.kind === "grad") return tf.abs(gradAt(x, sel(batch.targets)));
      const ones = shape.slice(1).map(() => 1), al = tf.tensor(alphas, [1, S, ...ones]), wt = tf.tensor(w);
      const parts: tf.Tensor[] = [];
      for (let e0 = 0; e0 < N; e0 += G) {
        const n = Math.min(N, e0 + G) - e0;
        const xg = tf.slice(x, e0, n), d = tf.sub(xg, baseline);
        const rows = tf.reshape(
          tf.add(baseline, tf.mul(tf.expandDims(d, 1), al)),
          [n * S, ...shape.slice(1)],
        );
        const t = batch.targets.slice(e0, e0 + n).flatMap((v) => new Array(S).fill(v));
        parts.push(tf.mul(weighted(gradAt(rows, sel(t)), n, wt, S), d));
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    }
    const [, T] = batch.shape, ids = batch.data as Int32Array;
    const mk = (from: number, n: number, rep: number) => {
      const mm = textMasks(ids.subarray(from * T, (from + n) * T), n, T);
      const r = (a: Float32Array, per: number) => {
        const o = new Float32Array(a.length * rep);
        for (let e = 0; e < n; e++) {
          for (let k = 0; k < rep; k++) o.set(a.subarray(e * per, (e + 1) * per), (e * rep + k) * per);
        }
        return o;
      };
      return {
        additive: tf.tensor(r(mm.additive, T), [n * rep, 1, 1, T]),
        real: tf.tensor(r(mm.real, T), [n * rep, T, 1]),
        count: tf.tensor(r(mm.count, 1), [n * rep, 1]),
      };
    };
    const gradAt = (e: tf.Tensor, masks: TextMasks, s: tf.Tensor) =>
      tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(port.fromEmbedding!(inp, masks), s)))(e);
    const emb = port.embed!(tf.tensor2d(ids, [N, T], "int32"));
    if (m.kind === "grad") return tf.sum(tf.mul(emb, gradAt(emb, mk(0, N, 1), sel(batch.targets))), -1);
    const e0emb = port.embed!(tf.fill([1, T], baseline, "int32"));
    const al = tf.tensor(alphas, [1, S, 1, 1]), wt = tf.tensor(w), dM = emb.shape[2]!;
    const parts: tf.Tensor[] = [];
    for (let e0 = 0; e0 < N; e0 += G) {
      const n = Math.min(N, e0 + G) - e0;
      const d = tf.sub(tf.slice(emb, e0, n), e0emb); // [n, T, d]
      const rows = tf.reshape(tf.add(e0emb, tf.mul(tf.expandDims(d, 1), al)), [n * S, T, dM]);
      const t = batch.targets.slice(e0, e0 + n).flatMap((v) => new Array(S).fill(v));
      parts.push(tf.sum(tf.mul(weighted(gradAt(rows, mk(e0, n, S), sel(t)), n, wt, S), d), -1));
    }
    return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  });
  const out = Float32Array.from(await r.data() as Float32Array);
  r.dispose();
  return image ? nhwcToNchw(out, batch.shape) : out;
}

/** One method of a case through glassbox (the registry; LayerGradientXActivation's class for text), read back. */
export function gbAttribute(c: ModelCase, m: MethodCase, batch: Batch): Promise<Float32Array> {
  return gb.scope(async () => {
    const x = gb.tensor(batch.data, batch.shape, c.profile.modality === "tokens" ? { dtype: "int32" } : {});
    let a: gb.Tensor;
    if (c.profile.modality === "tokens" && m.kind === "grad") {
      const layer = c.model.get(c.profile.camLayer!);
      a = gb.sum(
        await new gb.LayerGradientXActivation(c.model, layer).attribute(x, { target: batch.targets }),
        -1,
      );
    } else {
      const name = c.profile.modality === "tokens" ? "lig" : m.kind === "grad" ? "saliency" : "ig";
      a = await gb.attributionMethod(name).run(c.model, x, batch.targets, c.profile, { steps: STEPS });
    }
    return Float32Array.from(await a.toArray());
  });
}

/** max |a − b| / max |a|: how far `b` is from `a` relative to `a`'s scale. */
export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`maxRelDiff: ${a.length} values against ${b.length}`);
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(a[i]));
  }
  return s > 0 ? d / s : d;
}

/** Examples whose maps differ by more than `tol`·max |a| somewhere (a and b hold `n` maps one after another). */
export function examplesOff(a: Float32Array, b: Float32Array, n: number, tol = 1e-4): number {
  let s = 0;
  for (const v of a) s = Math.max(s, Math.abs(v));
  const per = a.length / n;
  let off = 0;
  for (let e = 0; e < n; e++) {
    for (let i = e * per; i < (e + 1) * per; i++) {
      if (Math.abs(a[i] - b[i]) > tol * s) {
        off++;
        break;
      }
    }
  }
  return off;
}

/** `n` examples of a case with one target each (deterministic). */
export function batchOf(c: ModelCase, n: number, seed = 7): Batch {
  const r = rng(seed), shape = [n, ...c.profile.inputShape], K = c.profile.classes.length;
  const size = shape.reduce((a, b) => a * b, 1);
  const targets = Array.from({ length: n }, (_, i) => i % K);
  if (c.profile.modality !== "tokens") {
    return { data: Float32Array.from({ length: size }, () => 2 * r() - 1), shape, targets };
  }
  const T = shape[1], vocab = c.profile.vocabulary!.length, ids = new Int32Array(size);
  for (let i = 0; i < n; i++) {
    const len = Math.max(2, T - ((i * 5) % T)); // texts of different lengths, padded with 0
    for (let t = 0; t < len; t++) ids[i * T + t] = 1 + Math.floor(r() * (vocab - 1));
  }
  return { data: ids, shape, targets };
}

/**
 * The four models with the weights both engines use: the seed CNN, SmallResNet (width 16, its
 * BatchNorms given non-trivial running statistics and affine parameters, so eval mode matters),
 * the tabular MLP and the text classifier (vocabulary 1000, 4 classes, 32 tokens, width 32, 2
 * layers, 2 heads). `quick` takes fewer examples per run.
 */
export async function modelCases(quick = false): Promise<ModelCase[]> {
  const q = (full: number, small: number) => (quick ? small : full);
  const out: ModelCase[] = [];
  const names = (k: number) => Array.from({ length: k }, (_, i) => `class ${i}`);

  gb.manualSeed(0);
  const cnn = gb.seedCnn();
  const wc = await weightsOf(cnn);
  out.push({
    name: "seed CNN, MNIST 1×28×28",
    model: cnn,
    profile: { modality: "image", inputShape: [1, 28, 28], classes: names(10), baseline: 0 },
    methods: [
      { name: "Saliency", kind: "grad", n: q(64, 4) },
      { name: `IG ${STEPS} steps`, kind: "path", n: q(16, 2) },
    ],
    port: (plant) => seedCnnPort(wc, plant),
  });

  gb.manualSeed(1);
  const res = new gb.SmallResNet({ channels: 3, width: 16, classes: 10 });
  const r = rng(3), upd = new Map<string, gb.Tensor>();
  for (const [k, t] of res.stateDict()) {
    const bn = /(^|\.)(bn\d|downsample\.1)\./.test(k), n = t.shape.reduce((a, b) => a * b, 1);
    if (!bn) continue;
    const f = k.endsWith("running_var") || k.endsWith("weight") ? () => 0.5 + r() : () => 0.4 * (r() - 0.5);
    upd.set(k, gb.tensor(Float32Array.from({ length: n }, f), [...t.shape]));
  }
  res.loadStateDict(upd, false);
  const wr = await weightsOf(res);
  out.push({
    name: "SmallResNet, RGB 3×32×32",
    model: res,
    profile: {
      modality: "image",
      inputShape: [3, 32, 32],
      classes: names(10),
      baseline: 0,
      camLayer: res.camLayer,
    },
    methods: [
      { name: "Saliency", kind: "grad", n: q(64, 2) },
      { name: `IG ${STEPS} steps`, kind: "path", n: q(8, 1) },
    ],
    port: (plant) => resnetPort(wr, plant),
  });

  gb.manualSeed(2);
  const mlp = gb.tabularMlp();
  const wm = await weightsOf(mlp);
  out.push({
    name: "tabular MLP, 100 features",
    model: mlp,
    profile: { modality: "tabular", inputShape: [100], classes: ["y"], baseline: 0 },
    methods: [
      { name: "Saliency", kind: "grad", n: q(256, 8) },
      { name: `IG ${STEPS} steps`, kind: "path", n: q(256, 8) },
    ],
    port: () => mlpPort(wm),
  });

  gb.manualSeed(3);
  const cfg = { vocab: 1000, classes: 4, dModel: 32, nhead: 2, layers: 2 };
  const text = new gb.TextClassifier(cfg);
  const wt = await weightsOf(text);
  const vocabulary = ["<pad>", ...Array.from({ length: cfg.vocab - 1 }, (_, i) => `w${i}`)];
  out.push({
    name: "text classifier, 32 tokens",
    model: text,
    profile: text.profile(32, names(cfg.classes), vocabulary),
    methods: [
      { name: "LayerGradientXActivation (embed)", kind: "grad", n: q(64, 2) },
      { name: `Layer IG ${STEPS} steps (embed)`, kind: "path", n: q(16, 2) },
    ],
    port: (plant) => textPort(wt, cfg, plant),
  });
  return out;
}

/** Points tfjs-wasm at its .wasm files and switches tfjs to `backend`. */
export async function useBackend(backend: "wasm" | "webgpu"): Promise<void> {
  if (backend === "wasm") {
    setWasmPaths(new URL("./", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0")).href);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend ${backend} is not available`);
  await tf.ready();
}

/** One row of the table. */
export interface ModelRow {
  model: string;
  method: string;
  /** Examples per timed run. */
  n: number;
  /** Examples per second. */
  glassbox: number;
  wasm: number;
  webgpu: number;
  /** max |glassbox − tfjs| / max |glassbox| on the backend. */
  diffWasm: number;
  diffWebgpu: number;
  /** Examples whose map is off by more than 1e-4 of the batch's largest attribution, per backend. */
  offWasm: number;
  offWebgpu: number;
}

/** The median of some numbers. */
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall time (ms) of one call. */
async function once(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

type Engine = "glassbox" | "wasm" | "webgpu";

/**
 * Every model and method. Round 0 computes every job on every engine untimed (the warm-up) and
 * measures the agreement; then each of `reps` rounds times every job once on glassbox, then on
 * tfjs-wasm, then on tfjs-webgpu (the tfjs ports rebuilt, outside the timing, when the backend
 * changes), so a change of load on a shared machine falls on all three engines alike. Each
 * engine's time is the median over the rounds.
 */
export async function benchExplainModels(quick = false): Promise<ModelRow[]> {
  const cases = await modelCases(quick);
  const reps = quick ? 1 : 5;
  const jobs = cases.flatMap((c) => c.methods.map((m) => ({ c, m, batch: batchOf(c, m.n) })));
  const ms = new Map(
    jobs.map((j) => [j, { glassbox: [] as number[], wasm: [] as number[], webgpu: [] as number[] }]),
  );
  const ref = new Map<object, Float32Array>();
  const diff = new Map<object, Record<"wasm" | "webgpu", { max: number; off: number }>>();
  for (let round = 0; round <= reps; round++) {
    for (const j of jobs) {
      if (round === 0) ref.set(j, await gbAttribute(j.c, j.m, j.batch));
      else ms.get(j)!.glassbox.push(await once(() => gbAttribute(j.c, j.m, j.batch)));
    }
    for (const backend of ["wasm", "webgpu"] as const) {
      await useBackend(backend);
      for (const c of cases) {
        const port = c.port();
        try {
          for (const j of jobs.filter((j) => j.c === c)) {
            if (round === 0) {
              const a = ref.get(j)!, b = await tfAttribute(c, j.m, port, j.batch);
              const d = { max: maxRelDiff(a, b), off: examplesOff(a, b, j.m.n) };
              diff.set(j, { ...diff.get(j)!, [backend]: d });
            } else ms.get(j)![backend].push(await once(() => tfAttribute(c, j.m, port, j.batch)));
          }
        } finally {
          port.dispose();
        }
      }
    }
  }
  return jobs.map((j) => {
    const eps = (e: Engine) => j.m.n / (median(ms.get(j)![e]) / 1000);
    return {
      model: j.c.name,
      method: j.m.name,
      n: j.m.n,
      glassbox: eps("glassbox"),
      wasm: eps("wasm"),
      webgpu: eps("webgpu"),
      diffWasm: diff.get(j)!.wasm.max,
      diffWebgpu: diff.get(j)!.webgpu.max,
      offWasm: diff.get(j)!.wasm.off,
      offWebgpu: diff.get(j)!.webgpu.off,
    };
  });
}

/** Prints the rows as one Markdown table. */
export function printExplainModels(rows: ModelRow[]): void {
  console.log(
    "\nattribution throughput by model (examples/s, median of the interleaved rounds, readback included; ratio = glassbox / tfjs;" +
      "\nmax rel diff = max |glassbox − tfjs| / max |glassbox| on the same inputs, wasm / webgpu; off = examples" +
      "\nwhose map differs anywhere by more than 1e-4 of that, wasm / webgpu: float32 rounding on both sides" +
      "\nputs a pre-activation within ~1e-7 of 0 on the other side of a ReLU or max-pool kink now and then)",
  );
  const head = [
    "model",
    "method",
    "n",
    "glassbox ex/s",
    "tfjs-wasm ex/s",
    "tfjs-webgpu ex/s",
    "vs wasm",
    "vs webgpu",
    "max rel diff",
    "off",
  ];
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  const cells = rows.map((r) => [
    r.model,
    r.method,
    String(r.n),
    f(r.glassbox),
    f(r.wasm),
    f(r.webgpu),
    `${(r.glassbox / r.wasm).toFixed(2)}×`,
    `${(r.glassbox / r.webgpu).toFixed(2)}×`,
    `${r.diffWasm.toExponential(1)} / ${r.diffWebgpu.toExponential(1)}`,
    `${r.offWasm} / ${r.offWebgpu}`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, 3, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i < 2 ? v.padEnd(w[i]) : v.padStart(w[i]))).join(" | ")} |`;
  console.log(line(head));
  console.log(`| ${w.map((n, i) => (i < 2 ? "-".repeat(n) : "-".repeat(n - 1) + ":")).join(" | ")} |`);
  for (const c of cells) console.log(line(c));
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printExplainModels(await benchExplainModels(Deno.args.includes("--quick")));
}
