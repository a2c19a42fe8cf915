/**
 * @internal Occlusion through a convolutional stem without recomputing what a window cannot
 * change. A window of the input changes only a box of the activations after each convolution or
 * pooling, so for a `Sequential` that begins with Conv2d / ReLU / LeakyReLU / MaxPool2d layers
 * (no padding, no dilation, no hooks anywhere) each occluded copy runs those layers on the patch
 * of the input that feeds its box only, and the box is put into the unoccluded example's
 * activations before the remaining layers run on the whole batch. The scores are the model's on
 * the occluded inputs: outside the box the activations are the unoccluded ones, and inside it
 * they are computed from the same inputs by the same kernels.
 */
import { tensor } from "../tensor/create.ts";
import { gather, where } from "../tensor/ops/select.ts";
import { reshape } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { LeakyReLU, ReLU } from "../nn/activation.ts";
import { Conv2d, MaxPool2d } from "../nn/conv.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { convFusionAt, runConvFusion, unhooked } from "../nn/fusion.ts";

/** One spatial step of the stem along an axis: a window of `k` moved by `s`. */
interface Step {
  k: number;
  s: number;
}

/** How an Occlusion runs through the stem: which layers, and each window's box per spatial axis. */
export interface LocalPlan {
  prefix: Module[];
  rest: Module[];
  /** Channels and size [h, w] after the stem. */
  channels: number;
  out: [number, number];
  /** The box size [Kh, Kw] after the stem, and the input patch [Ph, Pw] that feeds it. */
  box: [number, number];
  patch: [number, number];
  /** The input stride [Sh, Sw] of one step of the stem's output. */
  stride: [number, number];
  /** Per copy (0: the unoccluded example, g + 1: window g), the box origin [ah, aw]. */
  origins: Int32Array;
}

const pair = (v: number | readonly number[]): [number, number] =>
  typeof v === "number" ? [v, v] : [v[0], v[1]];

/** The stem's steps per axis and where it ends; null when the model does not begin with one. */
function stem(model: Module): { steps: Step[][]; prefix: Module[]; rest: Module[]; channels: number } | null {
  if (!(model instanceof Sequential) || model.constructor !== Sequential) return null;
  // a hook anywhere must see every layer's own input and output for every copy
  for (const [, m] of model.namedModules()) if (!unhooked(m)) return null;
  const steps: Step[][] = [[], []];
  let i = 0, convs = 0, channels = 0;
  for (; i < model.layers.length; i++) {
    const m = model.layers[i];
    if (m instanceof Conv2d && m.constructor === Conv2d) {
      const { stride = 1, padding = 0, dilation = 1 } = m.options;
      if (padding !== 0 || dilation !== 1) break;
      steps.forEach((a) => a.push({ k: m.kernelSize, s: stride }));
      channels = m.weight.shape[0];
      convs++;
    } else if (m instanceof MaxPool2d && m.constructor === MaxPool2d) {
      const k = pair(m.kernelSize), s = pair(m.stride ?? m.kernelSize), p = pair(m.padding);
      if (p[0] !== 0 || p[1] !== 0) break;
      steps.forEach((a, ax) => a.push({ k: k[ax], s: s[ax] }));
    } else if (
      (m instanceof ReLU && m.constructor === ReLU) || (m instanceof LeakyReLU && m.constructor === LeakyReLU)
    ) {
      continue;
    } else break;
  }
  // the stem ends after its last spatial layer (trailing activations stay with it)
  if (convs === 0) return null;
  return { steps, prefix: model.layers.slice(0, i), rest: model.layers.slice(i), channels };
}

/**
 * The plan for occluding boxes `[start, end)` over an example [C, H, W] (per window g, per
 * dimension), or null when the model has no such stem or the patches would not be smaller than
 * the image.
 */
export function localPlan(
  model: Module,
  dims: readonly number[],
  windows: { start: number[]; end: number[] }[],
): LocalPlan | null {
  if (dims.length !== 3) return null;
  const st = stem(model);
  if (!st) return null;
  const G = windows.length;
  const out: [number, number] = [0, 0], box: [number, number] = [1, 1], patch: [number, number] = [0, 0];
  const stride: [number, number] = [1, 1];
  const origins = new Int32Array((G + 1) * 2);
  for (let ax = 0; ax < 2; ax++) {
    const steps = st.steps[ax];
    let size = dims[ax + 1];
    for (const { k, s } of steps) {
      size = Math.floor((size - k) / s) + 1;
      if (size < 1) return null;
      stride[ax] *= s;
    }
    out[ax] = size;
    // each window's changed range after every step: output o reads inputs [o·s, o·s + k − 1]
    const ranges = windows.map((w) => {
      let lo = w.start[ax + 1], hi = w.end[ax + 1] - 1, n = dims[ax + 1];
      for (const { k, s } of steps) {
        n = Math.floor((n - k) / s) + 1;
        lo = Math.max(0, Math.ceil((lo - k + 1) / s));
        hi = Math.min(n - 1, Math.floor(hi / s));
        if (lo > hi) return null; // the window feeds no output along this axis: nothing changes
      }
      return [lo, hi] as const;
    });
    box[ax] = ranges.reduce((m, r) => Math.max(m, r ? r[1] - r[0] + 1 : 1), 1);
    ranges.forEach((r, g) => (origins[(g + 1) * 2 + ax] = r ? Math.min(r[0], out[ax] - box[ax]) : 0));
    let extent = box[ax];
    for (let j = steps.length - 1; j >= 0; j--) extent = (extent - 1) * steps[j].s + steps[j].k;
    patch[ax] = extent;
  }
  // worth it only when the patches are clearly smaller than the image
  if (patch[0] * patch[1] > 0.6 * dims[1] * dims[2]) return null;
  return { prefix: st.prefix, rest: st.rest, channels: st.channels, out, box, patch, stride, origins };
}

/** Layers run as Sequential.forward runs them (Conv2d → ReLU (→ MaxPool2d) fused where it may be). */
function runLayers(layers: readonly Module[], x: Tensor): Tensor {
  let h = x;
  for (let i = 0; i < layers.length;) {
    const run = convFusionAt(layers, i);
    if (run) {
      h = runConvFusion(run, h);
      i += run.length;
    } else h = layers[i++].forward(h);
  }
  return h;
}

/**
 * The model's outputs for `rows` [n·(G+1), C, H, W] (each of n examples, then its G occluded
 * copies, as `plan.origins` numbers them) given `examples` [n, C, H, W], the unoccluded ones.
 */
export function localForward(plan: LocalPlan, rows: Tensor, examples: Tensor): Tensor {
  const [R, C, H, W] = rows.shape, n = examples.shape[0], copies = R / n;
  const [Ph, Pw] = plan.patch, [Kh, Kw] = plan.box, [Oh, Ow] = plan.out, [Sh, Sw] = plan.stride;
  const CL = plan.channels, cells = Oh * Ow;
  // each copy's input patch, gathered from its rows
  const pidx = new Int32Array(R * C * Ph * Pw);
  for (let r = 0; r < R; r++) {
    const g = r % copies, oy = plan.origins[g * 2] * Sh, ox = plan.origins[g * 2 + 1] * Sw;
    for (let c = 0; c < C; c++) {
      const o = (r * C + c) * Ph * Pw;
      for (let y = 0; y < Ph; y++) for (let x = 0; x < Pw; x++) pidx[o + y * Pw + x] = (oy + y) * W + ox + x;
    }
  }
  const patches = reshape(
    gather(reshape(rows, [R, C, H * W]), 2, tensor(pidx, [R, C, Ph * Pw], { dtype: "int32" })),
    [R, C, Ph, Pw],
  );
  const boxes = runLayers(plan.prefix, patches); // [R, CL, Kh, Kw]
  const base = runLayers(plan.prefix, examples); // [n, CL, Oh, Ow]
  if (boxes.shape[2] !== Kh || boxes.shape[3] !== Kw || base.shape[2] !== Oh || base.shape[3] !== Ow) {
    throw new Error(
      `internal: Occlusion's stem gave boxes [${boxes.shape}] and maps [${base.shape}], planned ${Kh}×${Kw} and ${Oh}×${Ow}`,
    );
  }
  // each copy's box put into its example's map: cells inside take the box, the others the map
  const bidx = new Int32Array(R * CL * cells), inside = new Float32Array(copies * cells);
  for (let g = 0; g < copies; g++) {
    const ay = plan.origins[g * 2], ax = plan.origins[g * 2 + 1];
    for (let y = ay; y < ay + Kh; y++) for (let x = ax; x < ax + Kw; x++) inside[g * cells + y * Ow + x] = 1;
  }
  for (let r = 0; r < R; r++) {
    const g = r % copies, ay = plan.origins[g * 2], ax = plan.origins[g * 2 + 1];
    const row = new Int32Array(cells);
    for (let y = ay; y < ay + Kh; y++) {
      for (let x = ax; x < ax + Kw; x++) row[y * Ow + x] = (y - ay) * Kw + x - ax;
    }
    for (let c = 0; c < CL; c++) bidx.set(row, (r * CL + c) * cells);
  }
  const placed = gather(
    reshape(boxes, [R, CL, Kh * Kw]),
    2,
    tensor(bidx, [R, CL, cells], { dtype: "int32" }),
  );
  const maps = where(
    tensor(inside, [1, copies, 1, cells]),
    reshape(placed, [n, copies, CL, cells]),
    reshape(base, [n, 1, CL, cells]),
  );
  return runLayers(plan.rest, reshape(maps, [R, CL, Oh, Ow]));
}
