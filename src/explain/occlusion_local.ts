/**
 * @internal Occlusion through a convolutional stem without recomputing what a window cannot
 * change. A window of the input changes only a box of the activations after each convolution or
 * pooling, so for a `Sequential` that begins with Conv2d / ReLU / LeakyReLU / MaxPool2d layers
 * (no padding, no dilation, no hooks anywhere) each occluded copy runs those layers on the patch
 * of the input that feeds its box only, and the box is put into the unoccluded example's
 * activations before the remaining layers run on the whole batch. The scores are the model's on
 * the occluded inputs: outside the box the activations are the unoccluded ones, and inside it
 * they are computed from the same inputs by the same kernels.
 *
 * Two gathers do the moving, with index tables that depend only on the geometry (the caller
 * caches them): one reads each copy's patch from the example and its baseline (the window's
 * pixels from the baseline), one puts the boxes together into maps. The unoccluded map comes
 * either from a few more unoccluded patches tiling it (when they are cheap: no separate pass, no
 * `where`) or from one pass of the stem over the whole example.
 */
import { gather } from "../tensor/ops/select.ts";
import { concat, reshape } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { LeakyReLU, ReLU } from "../nn/activation.ts";
import { Conv2d, MaxPool2d } from "../nn/conv.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { convFusionAt, exactly, runConvFusion, unhooked } from "../nn/fusion.ts";

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
  /**
   * Origins [ah, aw] of the unoccluded boxes tiling the stem's output beyond copy 0's (at [0, 0]),
   * run as extra copies; null when all the tiles' patches would read more than twice the image
   * (then the stem makes the map in one pass over the whole example).
   */
  tiles: Int32Array | null;
  /** What the index tables depend on besides the windows: the stem's steps and channels, tiles or not. */
  key: string;
}

const pair = (v: number | readonly number[]): [number, number] =>
  typeof v === "number" ? [v, v] : [v[0], v[1]];

/** The stem's steps per axis and where it ends; null when the model does not begin with one. */
function stem(model: Module): { steps: Step[][]; prefix: Module[]; rest: Module[]; channels: number } | null {
  if (!exactly(model, Sequential)) return null;
  // a hook anywhere must see every layer's own input and output for every copy
  for (const [, m] of model.namedModules()) if (!unhooked(m)) return null;
  const steps: Step[][] = [[], []];
  let i = 0, convs = 0, channels = 0;
  for (; i < model.layers.length; i++) {
    const m = model.layers[i];
    if (exactly(m, Conv2d)) {
      const { stride = 1, padding = 0, dilation = 1 } = m.options;
      if (padding !== 0 || dilation !== 1) break;
      steps.forEach((a) => a.push({ k: m.kernelSize, s: stride }));
      channels = m.weight.shape[0];
      convs++;
    } else if (exactly(m, MaxPool2d)) {
      const k = pair(m.kernelSize), s = pair(m.stride ?? m.kernelSize), p = pair(m.padding);
      if (p[0] !== 0 || p[1] !== 0) break;
      steps.forEach((a, ax) => a.push({ k: k[ax], s: s[ax] }));
    } else if (
      exactly(m, ReLU) || exactly(m, LeakyReLU)
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
  // the unoccluded map from boxes tiling it (the last one along an axis moved back to fit): when their
  // patches read at most twice the image, cheaper than a pass of its own (its launches and a `where`)
  const along = (ax: number) =>
    Array.from({ length: Math.ceil(out[ax] / box[ax]) }, (_, k) => Math.min(k * box[ax], out[ax] - box[ax]));
  const ty = along(0), tx = along(1);
  let tiles: Int32Array | null = null;
  if (ty.length * tx.length * patch[0] * patch[1] <= 2 * dims[1] * dims[2]) {
    tiles = new Int32Array(ty.flatMap((y) => tx.flatMap((x) => [y, x])).slice(2)); // [0, 0] is copy 0's
  }
  const key = JSON.stringify([st.steps, st.channels, tiles !== null]);
  return {
    prefix: st.prefix,
    rest: st.rest,
    channels: st.channels,
    out,
    box,
    patch,
    stride,
    origins,
    tiles,
    key,
  };
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
 * Index tables for `localForward`, one example's (the same for every example): `patch` takes each
 * copy's input patch [copies + tiles, C, Ph, Pw] from a row [x | baseline] (the baseline is one
 * number at D, or a whole example at D..2D−1), the baseline where `masks` ([G, D], 1 inside window
 * g) puts it for copy g + 1; `place` builds each copy's map [copies, CL, Oh, Ow] from the boxes
 * [copies + tiles, CL, Kh, Kw] (followed by the unoccluded map [CL, Oh, Ow] when there are no tiles):
 * a cell inside the copy's own box from that box, the others from the unoccluded map.
 */
export function localIndex(
  plan: LocalPlan,
  dims: readonly number[],
  masks: Float32Array,
  baseline: "number" | "tensor",
): { patch: Int32Array; place: Int32Array } {
  const [C, H, W] = dims, D = C * H * W, G = masks.length / D, copies = G + 1;
  const [Ph, Pw] = plan.patch, [Kh, Kw] = plan.box, [Oh, Ow] = plan.out, [Sh, Sw] = plan.stride;
  const CL = plan.channels, KK = Kh * Kw, cells = Oh * Ow;
  const tiles = plan.tiles ?? new Int32Array(0), X = tiles.length / 2;
  const origin = (q: number, ax: number) =>
    q < copies ? plan.origins[q * 2 + ax] : tiles[(q - copies) * 2 + ax];
  const patch = new Int32Array((copies + X) * C * Ph * Pw);
  for (let q = 0, o = 0; q < copies + X; q++) {
    const oy = origin(q, 0) * Sh, ox = origin(q, 1) * Sw, m = q >= 1 && q < copies ? (q - 1) * D : -1;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < Ph; y++) {
        for (let x = 0, i = c * H * W + (oy + y) * W + ox; x < Pw; x++, i++) {
          patch[o++] = m >= 0 && masks[m + i] === 1 ? (baseline === "number" ? D : D + i) : i;
        }
      }
    }
  }
  // where each cell of the unoccluded map is: in a tile (copy 0's box at [0, 0], then the others), or in
  // the map after the boxes
  const outside = new Int32Array(cells);
  const nx = Math.ceil(Ow / Kw), ny = Math.ceil(Oh / Kh);
  for (let y = 0; y < Oh; y++) {
    for (let x = 0; x < Ow; x++) {
      if (plan.tiles === null) {
        outside[y * Ow + x] = (copies + X) * CL * KK + y * Ow + x; // + c · cells
        continue;
      }
      const ky = Math.min(Math.floor(y / Kh), ny - 1), kx = Math.min(Math.floor(x / Kw), nx - 1);
      const t = ky * nx + kx, q = t === 0 ? 0 : copies + t - 1;
      outside[y * Ow + x] = q * CL * KK + (y - origin(q, 0)) * Kw + x - origin(q, 1); // + c · KK
    }
  }
  const step = plan.tiles === null ? cells : KK;
  const place = new Int32Array(copies * CL * cells);
  for (let g = 0, o = 0; g < copies; g++) {
    const ay = plan.origins[g * 2], ax = plan.origins[g * 2 + 1];
    for (let c = 0; c < CL; c++) {
      for (let y = 0; y < Oh; y++) {
        for (let x = 0; x < Ow; x++) {
          place[o++] = y >= ay && y < ay + Kh && x >= ax && x < ax + Kw
            ? ((g * CL + c) * Kh + y - ay) * Kw + x - ax
            : outside[y * Ow + x] + c * step;
        }
      }
    }
  }
  return { patch, place };
}

/**
 * The model's outputs for each of n examples' copies [n · copies, ...] (the example, then its
 * occluded copies, as `plan.origins` numbers them) from `source` [n, D + 1] (each example, then
 * a number baseline) or [n, 2·D] (then a baseline example), with `localIndex`'s tables repeated
 * per example: `patch` [n, …], `place` [n, …]. `examples` [n, C, H, W] (the unoccluded ones) is
 * read only when the plan has no tiles.
 */
export function localForward(
  plan: LocalPlan,
  examples: Tensor,
  source: Tensor,
  patch: Tensor,
  place: Tensor,
): Tensor {
  const n = examples.shape[0], C = examples.shape[1];
  const [Ph, Pw] = plan.patch, [Kh, Kw] = plan.box, [Oh, Ow] = plan.out;
  const CL = plan.channels, q = patch.shape[1] / (C * Ph * Pw), copies = place.shape[1] / (CL * Oh * Ow);
  const patches = reshape(gather(source, 1, patch), [n * q, C, Ph, Pw]);
  const boxes = runLayers(plan.prefix, patches); // [n · q, CL, Kh, Kw]
  if (boxes.shape[2] !== Kh || boxes.shape[3] !== Kw) {
    throw new Error(`internal: Occlusion's stem gave boxes [${boxes.shape}], planned ${Kh}×${Kw}`);
  }
  let from = reshape(boxes, [n, q * CL * Kh * Kw]);
  if (plan.tiles === null) {
    // the unoccluded map from one pass of the stem over each example, after its boxes
    const base = runLayers(plan.prefix, examples); // [n, CL, Oh, Ow]
    if (base.shape[2] !== Oh || base.shape[3] !== Ow) {
      throw new Error(`internal: Occlusion's stem gave maps [${base.shape}], planned ${Oh}×${Ow}`);
    }
    from = concat([from, reshape(base, [n, CL * Oh * Ow])], 1);
  }
  const maps = gather(from, 1, place);
  return runLayers(plan.rest, reshape(maps, [n * copies, CL, Oh, Ow]));
}
