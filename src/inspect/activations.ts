/**
 * Activation capture through forward hooks: each layer's output for an input, its statistics,
 * and conv feature maps and filters as image grids.
 */
import type { Module } from "../nn/module.ts";
import { noGrad } from "../tensor/mod.ts";
import { keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Image, imageGrid } from "../viz/png.ts";
import { StatsBatch, type TensorStats } from "./gpu_stats.ts";

/** One layer's captured output. */
export interface CapturedActivation {
  /** "3 Conv2d" */
  label: string;
  /** The layer's module class, e.g. "Conv2d". */
  type: string;
  /** The layer's output (detached, kept past the capture's scope; dispose with `disposeActivations`). */
  output: Tensor;
  /** Mean, std, sparsity and histogram of that output. */
  stats: TensorStats;
}

/**
 * Runs `model` on `x` (eval mode, no graph) and returns every leaf layer's output with its
 * statistics (mean, std, sparsity, histogram), in forward order. The output tensors are yours
 * to dispose (`disposeActivations`).
 *
 * @example
 * ```ts
 * import { captureActivations, Conv2d, randn, ReLU, Sequential } from "glassbox";
 * const acts = await captureActivations(new Sequential(new Conv2d(1, 4, 3), new ReLU()), randn([1, 1, 8, 8]));
 * acts[1].stats.zeroFraction; // sparsity after the ReLU
 * ```
 */
export async function captureActivations(model: Module, x: Tensor, bins = 30): Promise<CapturedActivation[]> {
  const got: { label: string; type: string; output: Tensor }[] = [];
  const handles = model.namedModules()
    .filter(([, m]) => m.children().length === 0)
    .map(([name, m]) =>
      m.registerForwardHook((_m, _in, out) =>
        void got.push({
          label: name ? `${name} ${m.typeName}` : m.typeName,
          type: m.typeName,
          output: keep(out.detach()),
        })
      )
    );
  const wasTraining = model.training;
  model.eval();
  try {
    await scope(() => noGrad(() => model.forward(x)));
  } finally {
    handles.forEach((h) => h.remove());
    model.train(wasTraining);
  }
  const batch = new StatsBatch(bins);
  batch.begin(0);
  for (const g of got) batch.add(g.label, g.output);
  const [rec] = await batch.read();
  batch.dispose();
  return got.map((g, i) => ({ ...g, stats: rec.stats[i] }));
}

/** Disposes captured outputs. */
export function disposeActivations(acts: CapturedActivation[]): void {
  acts.forEach((a) => a.output.dispose());
}

/**
 * The channels of one sample of a conv feature map [N, C, H, W] as a grid of viridis tiles
 * (each tile normalised on its own).
 */
export async function featureMapImage(fm: Tensor, sample = 0, maxChannels = 64): Promise<Image> {
  if (fm.ndim !== 4) throw new Error(`featureMapImage: expected [N, C, H, W], got [${fm.shape.join(", ")}]`);
  const [, C, H, W] = fm.shape;
  const data = await fm.toArray();
  const per = C * H * W;
  const maps = Array.from(
    { length: Math.min(C, maxChannels) },
    (_, c) => data.subarray(sample * per + c * H * W, sample * per + (c + 1) * H * W),
  );
  return imageGrid(maps, H, W, { columns: Math.min(8, maps.length) });
}

/**
 * Conv filters [Cout, Cin, KH, KW] as a grid: one tile per output channel (the first input
 * channel, or the mean over input channels), blue-white-red, one scale for all tiles so they
 * compare.
 */
export async function filterImage(weight: Tensor, mode: "first" | "mean" = "first"): Promise<Image> {
  if (weight.ndim !== 4) {
    throw new Error(`filterImage: expected [Cout, Cin, KH, KW], got [${weight.shape.join(", ")}]`);
  }
  const [O, I, KH, KW] = weight.shape;
  const w = await weight.toArray();
  const maps = Array.from({ length: O }, (_, o) => {
    const tile = new Float32Array(KH * KW);
    for (let k = 0; k < KH * KW; k++) {
      if (mode === "first") tile[k] = w[(o * I) * KH * KW + k];
      else {
        let s = 0;
        for (let i = 0; i < I; i++) s += w[(o * I + i) * KH * KW + k];
        tile[k] = s / I;
      }
    }
    return tile;
  });
  return imageGrid(maps, KH, KW, {
    columns: Math.min(8, O),
    colormap: "diverging",
    normalize: "shared",
    scale: Math.max(6, Math.round(48 / KH)),
  });
}
