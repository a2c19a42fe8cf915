/**
 * Model summary, like torchinfo or Keras `summary()`: each layer's output shape, parameter
 * count, multiply-accumulates and activation memory, from one forward pass.
 */
import type { Module } from "../nn/module.ts";
import { noGrad } from "../tensor/mod.ts";
import { zeros } from "../tensor/create.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** One row of the summary (a leaf module call). */
export interface LayerSummary {
  /** The module's dotted path in the model ("" for the root), e.g. "3" or "block.conv1". */
  name: string;
  /** The module's class name, e.g. "Conv2d". */
  type: string;
  /** Shape of the call's first input, batch included. */
  inputShape: number[];
  /** Shape of the call's output, batch included. */
  outputShape: number[];
  /** Parameter values the module owns (weights and biases, excluding buffers). */
  params: number;
  /** Of those, the ones with `requiresGrad`. */
  trainable: number;
  /** Multiply-accumulate operations for this call (the whole input batch). */
  macs: number;
  /** Bytes of the output activation (float32). */
  activationBytes: number;
}

/** The whole summary. */
export interface ModelSummary {
  /** One row per leaf-module call, in forward order. */
  layers: LayerSummary[];
  /** Parameter values in the whole model. */
  totalParams: number;
  /** Of those, the ones with `requiresGrad`. */
  trainableParams: number;
  /** Multiply-accumulates of the whole forward pass (sum over layers), for the summary's input batch. */
  totalMacs: number;
  /** Bytes of all layers' outputs (float32) for that batch: the forward pass's activation memory. */
  activationBytes: number;
  /** Bytes of the parameters as float32 (4 × totalParams). */
  paramBytes: number;
  /** The printable table. */
  table: string;
}

function macsOf(m: Module, input: Tensor, out: Tensor): number {
  const own = new Map(m.namedParameters().map(([n, p]) => [n, p]));
  const w = own.get("weight");
  if (!w) return 0;
  if (m.typeName === "Linear") return out.size * w.shape[1];
  if (m.typeName === "Conv2d") return out.size * w.shape[1] * w.shape[2] * w.shape[3];
  // each input pixel spreads one weight per output channel and tap (weight [in, out, kH, kW])
  if (m.typeName === "ConvTranspose2d") return input.size * w.shape[1] * w.shape[2] * w.shape[3];
  return 0;
}

const human = (n: number) =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)} G`
    : n >= 1e6
    ? `${(n / 1e6).toFixed(2)} M`
    : n >= 1e3
    ? `${(n / 1e3).toFixed(1)} k`
    : String(n);
const bytes = (
  n: number,
) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/**
 * Runs one forward pass on zeros of `inputShape` (or on `input`) and tabulates every leaf
 * layer.
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, Linear, ReLU, Sequential, summary } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 8, 3), new ReLU(), new Flatten(), new Linear(8 * 26 * 26, 10));
 * console.log((await summary(model, [1, 1, 28, 28])).table);
 * ```
 */
export async function summary(model: Module, input: number[] | Tensor): Promise<ModelSummary> {
  const layers: LayerSummary[] = [];
  const handles = model.namedModules()
    .filter(([, m]) => m.children().length === 0)
    .map(([name, m]) =>
      m.registerForwardHook((_m, inputs, out) => {
        const params = m.namedParameters();
        const count = params.reduce((a, [, p]) => a + p.size, 0);
        layers.push({
          name,
          type: m.typeName,
          inputShape: [...(inputs[0]?.shape ?? [])],
          outputShape: [...out.shape],
          params: count,
          trainable: params.filter(([, p]) => p.requiresGrad).reduce((a, [, p]) => a + p.size, 0),
          macs: macsOf(m, inputs[0], out),
          activationBytes: out.size * 4,
        });
      })
    );
  const wasTraining = model.training;
  model.eval();
  try {
    await scope(() => {
      const x = Array.isArray(input) ? zeros(input) : input;
      noGrad(() => model.forward(x));
    });
  } finally {
    handles.forEach((h) => h.remove());
    model.train(wasTraining);
  }
  const all = model.parameters();
  const totalParams = all.reduce((a, p) => a + p.size, 0);
  const trainableParams = all.filter((p) => p.requiresGrad).reduce((a, p) => a + p.size, 0);
  const totalMacs = layers.reduce((a, l) => a + l.macs, 0);
  const activationBytes = layers.reduce((a, l) => a + l.activationBytes, 0);
  const rows = [["Layer", "Type", "Output shape", "Params", "MACs", "Activations"]];
  for (const l of layers) {
    rows.push([
      l.name || "(root)",
      l.type,
      `[${l.outputShape.join(", ")}]`,
      l.params.toLocaleString("en-US"),
      human(l.macs),
      bytes(l.activationBytes),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c >= 3 ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join("  ");
  const rule = "─".repeat(widths.reduce((a, b) => a + b + 2, -2));
  const table = [
    rule,
    line(rows[0]),
    rule,
    ...rows.slice(1).map(line),
    rule,
    `Total params: ${totalParams.toLocaleString("en-US")} (${bytes(totalParams * 4)}), trainable: ${
      trainableParams.toLocaleString("en-US")
    }`,
    `Multiply-accumulates: ${human(totalMacs)} for input [${
      Array.isArray(input) ? input.join(", ") : input.shape.join(", ")
    }]`,
    `Activation memory (forward): ${bytes(activationBytes)}`,
    rule,
  ].join("\n");
  return {
    layers,
    totalParams,
    trainableParams,
    totalMacs,
    activationBytes,
    paramBytes: totalParams * 4,
    table,
  };
}
