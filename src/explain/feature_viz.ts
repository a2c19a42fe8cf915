/**
 * Feature visualisation by activation maximisation: the input that most excites a channel, a
 * unit or a class, found by gradient ascent from noise with the usual regularisers (an L2
 * penalty, random jitter, periodic blur). Erhan, Bengio, Courville & Vincent, 2009; Olah,
 * Mordvintsev & Schubert, 2017 ("Feature Visualization", Distill).
 */
import type { Module } from "../nn/module.ts";
import { Adam } from "../optim/adam.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { conv2d } from "../tensor/ops/conv.ts";
import { mean, sum } from "../tensor/ops/reduce.ts";
import { mul, sub } from "../tensor/ops/elementwise.ts";
import { reshape, slice } from "../tensor/ops/shape.ts";
import { Generator } from "../tensor/random.ts";
import { keep, scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { targetScores } from "./target.ts";

/** What to maximise. */
export type VisualObjective =
  /** the mean activation of one channel of a layer's [N, C, ...] output */
  | { layer: Module; channel: number }
  /** one unit of a layer's flattened output */
  | { layer: Module; unit: number }
  /** the model's output for a class */
  | { class: number };

/** Options for `visualizeFeature`. */
export interface VisualizeOptions {
  /** What to maximise. */
  objective: VisualObjective;
  /** The shape of one input, e.g. [1, 28, 28]. */
  shape: number[];
  /** Gradient-ascent steps (default 256). */
  steps?: number;
  /** Adam's learning rate (default 0.05). */
  lr?: number;
  /** Weight of the L2 penalty on the image, mean(x²) (default 1e-3). */
  l2?: number;
  /** Random shift of up to this many pixels each step (default 2; 0 turns it off). */
  jitter?: number;
  /** Blur the image with a 3×3 Gaussian every this many steps (default 8; 0 turns it off). */
  blurEvery?: number;
  /** Seed of the starting noise and the jitter (default 0). */
  seed?: number;
}

/** The result: the image, and the objective at each step. */
export interface Visualization {
  /** [1, ...shape]. */
  image: Tensor;
  /** The objective's value at each step (it should rise). */
  objective: number[];
}

const GAUSS3 = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);

/**
 * Finds an input that maximises the objective (the model is left as it was).
 *
 * @example
 * ```ts
 * import { Linear, visualizeFeature } from "glassbox";
 * const model = new Linear(16, 3);
 * const { image, objective } = await visualizeFeature(model, { objective: { class: 2 }, shape: [16], steps: 32, jitter: 0, blurEvery: 0 });
 * ```
 */
export async function visualizeFeature(model: Module, options: VisualizeOptions): Promise<Visualization> {
  const steps = options.steps ?? 256, l2 = options.l2 ?? 1e-3;
  const spatial = options.shape.length === 3;
  const j = spatial ? options.jitter ?? 2 : 0, blurEvery = spatial ? options.blurEvery ?? 8 : 0;
  const o = options.objective;
  if ("layer" in o && !model.namedModules().some(([, m]) => m === o.layer)) {
    throw new Error("visualizeFeature: the objective's layer is not part of the model");
  }
  const g = new Generator(options.seed ?? 0);
  const padded = spatial
    ? [options.shape[0], options.shape[1] + 2 * j, options.shape[2] + 2 * j]
    : options.shape;
  const size = padded.reduce((a, b) => a * b, 1);
  const p = tensor(Float32Array.from({ length: size }, () => 0.01 * g.normal()), [1, ...padded], {
    requiresGrad: true,
  });
  const opt = new Adam([p], { lr: options.lr ?? 0.05 });
  const history: number[] = [];
  const restoreModes = model.enterEval();
  let captured: Tensor | null = null;
  const hook = "layer" in o ? o.layer.registerForwardHook((_m, _i, out) => void (captured = out)) : null;
  try {
    for (let s = 0; s < steps; s++) {
      const value = await scope(async () => {
        opt.zeroGrad();
        let x = p;
        if (spatial && j > 0) {
          const oy = g.int(2 * j + 1), ox = g.int(2 * j + 1);
          x = slice(slice(p, oy, oy + options.shape[1], 2), ox, ox + options.shape[2], 3);
        }
        captured = null;
        const out = model.forward(x);
        let obj: Tensor;
        if ("class" in o) obj = sum(targetScores(out, new Int32Array([o.class])));
        else {
          const a = captured as Tensor | null;
          if (!a) throw new Error("visualizeFeature: the objective's layer did not run");
          if ("channel" in o) {
            if (a.ndim < 2 || o.channel >= a.shape[1]) {
              throw new Error(`visualizeFeature: the layer has no channel ${o.channel}`);
            }
            obj = mean(slice(a, o.channel, o.channel + 1, 1));
          } else {
            const flat = reshape(a, [1, -1]);
            if (o.unit >= flat.shape[1]) throw new Error(`visualizeFeature: the layer has no unit ${o.unit}`);
            obj = sum(slice(flat, o.unit, o.unit + 1, 1));
          }
        }
        const loss = sub(mul(mean(mul(p, p)), l2), obj);
        await loss.backward();
        opt.step();
        return await obj.item();
      });
      history.push(value);
      if (blurEvery && (s + 1) % blurEvery === 0) {
        scope(() => {
          const [C, H, W] = padded;
          noGrad(() => {
            const blurred = conv2d(reshape(p, [C, 1, H, W]), tensor(GAUSS3, [1, 1, 3, 3]), null, {
              padding: 1,
            });
            p.copy_(reshape(blurred, p.shape));
          });
        });
      }
    }
    const image = spatial && j > 0
      ? slice(slice(p, j, j + options.shape[1], 2), j, j + options.shape[2], 3)
      : noGrad(() => mul(p, 1));
    return { image: keep(noGrad(() => mul(image, 1))), objective: history };
  } finally {
    hook?.remove();
    restoreModes();
    opt.dispose();
    p.dispose();
  }
}
