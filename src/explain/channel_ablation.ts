/**
 * Channel ablation: which channels of a layer draw which parts of a model's output. Each channel
 * of the layer (dimension 1 of its output: a unit of a dense layer, a feature map of a conv
 * layer) is zeroed in turn by a forward hook, and the output with the channel gone is compared
 * with the output as it was: the difference is what that channel contributes (for a generator,
 * the strokes that disappear).
 */
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** What `ablateChannels` finds. */
export interface ChannelAblation {
  /** The layer's channels (dimension 1 of its output). */
  channels: number;
  /** Values per channel in one sample's layer output: 1 for a dense layer's units, H·W for a conv layer's feature maps. */
  channelSize: number;
  /** The inputs ablated. */
  samples: number;
  /** Values in one output. */
  outputSize: number;
  /** The model's outputs as they are, [samples, outputSize]. */
  base: Float32Array;
  /** The outputs with each channel zeroed, [channels, samples, outputSize]. */
  ablated: Float32Array;
  /** For each channel, the L2 norm of base − ablated, averaged over the samples. */
  change: Float64Array;
  /** The channels, the one whose removal changes the output most first. */
  order: number[];
}

/**
 * Zeroes each channel of the layer at `layer` (a `model.get` path) in turn, with a forward hook,
 * for every input in `x`, and returns the outputs with and without each channel and how much
 * each channel changes them. Runs in evaluation mode, without gradients; one forward pass per
 * input (the channels are ablated together, one per row of a batch).
 *
 * @example
 * ```ts
 * import { ablateChannels, Linear, ReLU, Sequential, tensor } from "glassbox";
 * const model = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 4));
 * const r = await ablateChannels(model, "1", tensor([[1, -1], [0.5, 2]]));
 * if (r.channels !== 3 || r.ablated.length !== 3 * 2 * 4 || r.order.length !== 3) throw new Error("shape");
 * if (r.change[r.order[0]] < r.change[r.order[2]]) throw new Error("not sorted");
 * ```
 */
export async function ablateChannels(model: Module, layer: string, x: Tensor): Promise<ChannelAblation> {
  const target = model.get(layer);
  const restore = model.enterEval();
  try {
    return await noGrad(() =>
      scope(async () => {
        const N = x.shape[0], per = x.size / N;
        const base = await model.forward(x).toArray() as Float32Array;
        const P = base.length / N;
        // the layer's channel count, from one pass
        let C = 0, channelSize = 1;
        const probe = target.registerForwardHook((_m, _i, out) => {
          C = out.shape[1] ?? 0;
          channelSize = out.shape.slice(2).reduce((a, b) => a * b, 1);
        });
        try {
          model.forward(x);
        } finally {
          probe.remove();
        }
        if (!(C >= 1)) throw new Error(`ablateChannels: layer "${layer}" gives no channel dimension`);
        const xs = await x.toArray() as Float32Array;
        const ablated = new Float32Array(C * N * P);
        const change = new Float64Array(C);
        for (let n = 0; n < N; n++) {
          // C copies of input n; row c has channel c zeroed
          const rows = new Float32Array(C * per);
          for (let c = 0; c < C; c++) rows.set(xs.subarray(n * per, (n + 1) * per), c * per);
          const xr = tensor(rows, [C, ...x.shape.slice(1)]);
          const h = target.registerForwardHook((_m, _i, out) => {
            if (out.shape[0] !== C || out.shape[1] !== C) {
              throw new Error(
                `ablateChannels: layer "${layer}" output [${out.shape.join(", ")}] changed shape`,
              );
            }
            const mask = new Float32Array(C * C).fill(1);
            for (let c = 0; c < C; c++) mask[c * C + c] = 0;
            return mul(out, tensor(mask, [C, C, ...out.shape.slice(2).map(() => 1)]));
          });
          let y: Float32Array;
          try {
            y = await model.forward(xr).toArray() as Float32Array;
          } finally {
            h.remove();
          }
          for (let c = 0; c < C; c++) {
            let s = 0;
            for (let k = 0; k < P; k++) {
              const v = y[c * P + k];
              ablated[(c * N + n) * P + k] = v;
              s += (base[n * P + k] - v) ** 2;
            }
            change[c] += Math.sqrt(s) / N;
          }
        }
        const order = Array.from({ length: C }, (_, c) => c).sort((a, b) => change[b] - change[a]);
        return { channels: C, channelSize, samples: N, outputSize: P, base, ablated, change, order };
      })
    );
  } finally {
    restore();
  }
}
