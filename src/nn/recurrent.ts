/**
 * LSTM and GRU layers with PyTorch's parameter names (`weight_ih_l0`, `weight_hh_l0`,
 * `bias_ih_l0`, `bias_hh_l0`, …) and layouts, batch-first, several layers.
 */
import { gru, lstm, type RecurrentWeights, rnn } from "../tensor/ops/recurrent.ts";
import { concat, reshape, slice } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { uniform } from "./init.ts";
import { Module } from "./module.ts";

/** Options for RNN, LSTM and GRU. */
export interface RecurrentOptions {
  /** Stacked layers (default 1). */
  numLayers?: number;
  /** Biases (default true). */
  bias?: boolean;
}

/** The base of LSTM and GRU: one set of weights per layer, registered under PyTorch's names. */
export abstract class RecurrentLayer extends Module {
  /** Each layer's weights (the registered parameters). */
  readonly layers: RecurrentWeights[] = [];
  /** Registers `numLayers` layers of `gates` gates each, uniform in ±1/√hiddenSize as PyTorch. */
  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    gates: number,
    options: RecurrentOptions,
  ) {
    super();
    const n = options.numLayers ?? 1, k = 1 / Math.sqrt(hiddenSize);
    for (let l = 0; l < n; l++) {
      const inp = l === 0 ? inputSize : hiddenSize;
      const p = (name: string, shape: number[]) => this.addParameter(`${name}_l${l}`, uniform(shape, -k, k));
      this.layers.push({
        wIh: p("weight_ih", [gates * hiddenSize, inp]),
        wHh: p("weight_hh", [gates * hiddenSize, hiddenSize]),
        bIh: options.bias === false ? null : p("bias_ih", [gates * hiddenSize]),
        bHh: options.bias === false ? null : p("bias_hh", [gates * hiddenSize]),
      });
    }
  }

  /** Runs `layer` over the stack (each layer's output feeds the next) for cells whose state is h alone. */
  protected stackLayers(
    x: Tensor,
    state: { h: Tensor } | undefined,
    layer: (x: Tensor, w: RecurrentWeights, h0?: { h: Tensor }) => { output: Tensor; h: Tensor },
  ): { output: Tensor; h: Tensor } {
    let out = x;
    const hs: Tensor[] = [];
    this.layers.forEach((w, l) => {
      const r = layer(out, w, state ? { h: layerState(state.h, l) } : undefined);
      out = r.output;
      hs.push(r.h);
    });
    return { output: out, h: stack(hs) };
  }
}

/** Layer l's [B, H] slice of a [layers, B, H] state. */
function layerState(s: Tensor, l: number): Tensor {
  return reshape(slice(s, l, l + 1), s.shape.slice(1));
}

/** Stacks per-layer [B, H] states into [layers, B, H]. */
function stack(states: Tensor[]): Tensor {
  return concat(states.map((s) => reshape(s, [1, ...s.shape])), 0);
}

/**
 * A (multi-layer) LSTM, batch-first: [B, T, inputSize] → [B, T, hiddenSize].
 *
 * @example
 * ```ts
 * import { LSTM, randn } from "glassbox";
 * const rnn = new LSTM(3, 8, { numLayers: 2 });
 * rnn.forward(randn([4, 12, 3])).shape; // [4, 12, 8]
 * ```
 */
export class LSTM extends RecurrentLayer {
  /** An LSTM from `inputSize` features to `hiddenSize`. */
  constructor(inputSize: number, hiddenSize: number, options: RecurrentOptions = {}) {
    super(inputSize, hiddenSize, 4, options);
  }
  /** Every time step's output of the last layer. */
  forward(x: Tensor): Tensor {
    return this.forwardWithState(x).output;
  }
  /** The output and the final states h, c ([layers, B, H]); `state` gives initial ones. */
  forwardWithState(x: Tensor, state?: { h: Tensor; c: Tensor }): { output: Tensor; h: Tensor; c: Tensor } {
    let out = x;
    const hs: Tensor[] = [], cs: Tensor[] = [];
    this.layers.forEach((w, l) => {
      const init = state ? { h: layerState(state.h, l), c: layerState(state.c, l) } : undefined;
      const r = lstm(out, w, init);
      out = r.output;
      hs.push(r.h);
      cs.push(r.c);
    });
    return { output: out, h: stack(hs), c: stack(cs) };
  }
}

/**
 * A (multi-layer) GRU, batch-first: [B, T, inputSize] → [B, T, hiddenSize].
 *
 * @example
 * ```ts
 * import { GRU, randn } from "glassbox";
 * new GRU(3, 8).forward(randn([4, 12, 3])).shape; // [4, 12, 8]
 * ```
 */
export class GRU extends RecurrentLayer {
  /** A GRU from `inputSize` features to `hiddenSize`. */
  constructor(inputSize: number, hiddenSize: number, options: RecurrentOptions = {}) {
    super(inputSize, hiddenSize, 3, options);
  }
  /** Every time step's output of the last layer. */
  forward(x: Tensor): Tensor {
    return this.forwardWithState(x).output;
  }
  /** The output and the final state h ([layers, B, H]); `state` gives an initial one. */
  forwardWithState(x: Tensor, state?: { h: Tensor }): { output: Tensor; h: Tensor } {
    return this.stackLayers(x, state, (inp, w, h0) => gru(inp, w, h0));
  }
}

/**
 * A (multi-layer) plain RNN with tanh (or ReLU) as PyTorch's `nn.RNN`, batch-first:
 * [B, T, inputSize] → [B, T, hiddenSize]; parameters `weight_ih_l0` [H, I], `weight_hh_l0`
 * [H, H], `bias_ih_l0`, `bias_hh_l0`.
 *
 * @example
 * ```ts
 * import { randn, RNN } from "glassbox";
 * new RNN(3, 8).forward(randn([4, 12, 3])).shape; // [4, 12, 8]
 * ```
 */
export class RNN extends RecurrentLayer {
  /** The nonlinearity ("tanh", PyTorch's default, or "relu"). */
  readonly nonlinearity: "tanh" | "relu";
  /** An RNN from `inputSize` features to `hiddenSize`. */
  constructor(
    inputSize: number,
    hiddenSize: number,
    options: RecurrentOptions & { nonlinearity?: "tanh" | "relu" } = {},
  ) {
    super(inputSize, hiddenSize, 1, options);
    this.nonlinearity = options.nonlinearity ?? "tanh";
  }
  /** Every time step's output of the last layer. */
  forward(x: Tensor): Tensor {
    return this.forwardWithState(x).output;
  }
  /** The output and the final state h ([layers, B, H]); `state` gives an initial one. */
  forwardWithState(x: Tensor, state?: { h: Tensor }): { output: Tensor; h: Tensor } {
    return this.stackLayers(x, state, (inp, w, h0) => rnn(inp, w, h0, this.nonlinearity));
  }
}
