/**
 * Recurrent cells over a whole sequence, composed from the differentiable ops: every time step
 * is recorded into the same GPU batch, so a sequence runs with one synchronisation, not one per
 * step. PyTorch's equations and gate order.
 */
import { zeros } from "../create.ts";
import { add, mul, relu, sigmoid, sub, tanh } from "./elementwise.ts";
import { linear } from "./matmul.ts";
import { concat, reshape, slice } from "./shape.ts";
import { assertFloat, type Tensor } from "../tensor.ts";

/** One layer's weights in PyTorch's layout: w_ih [G·H, I], w_hh [G·H, H], biases [G·H] (G = 4 for LSTM, 3 for GRU). */
export interface RecurrentWeights {
  /** Input-to-hidden weights [G·H, I]. */
  wIh: Tensor;
  /** Hidden-to-hidden weights [G·H, H]. */
  wHh: Tensor;
  /** Input-to-hidden bias [G·H], or null. */
  bIh: Tensor | null;
  /** Hidden-to-hidden bias [G·H], or null. */
  bHh: Tensor | null;
}

function check(op: string, x: Tensor, w: RecurrentWeights, gates: number): [number, number, number, number] {
  assertFloat(op, x);
  if (x.ndim !== 3) {
    throw new Error(`${op}: expected batch-first input [B, T, I], got [${x.shape.join(", ")}]`);
  }
  const [B, T, I] = x.shape, H = w.wHh.shape[1];
  if (w.wIh.shape[0] !== gates * H || w.wIh.shape[1] !== I || w.wHh.shape[0] !== gates * H) {
    throw new Error(
      `${op}: weights [${w.wIh.shape}] and [${w.wHh.shape}] do not fit input size ${I} and hidden size ${H} (${gates} gates)`,
    );
  }
  return [B, T, I, H];
}

const step = (
  x: Tensor,
  h: Tensor,
  w: RecurrentWeights,
) => [linear(x, w.wIh, w.bIh), linear(h, w.wHh, w.bHh)];

/**
 * An LSTM layer over a sequence: i, f, g, o = σ, σ, tanh, σ of x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
 * (that gate order); c' = f·c + i·g; h' = o·tanh(c'). Returns every h [B, T, H] and the final
 * (h, c).
 *
 * @example
 * ```ts
 * import { lstm, randn } from "glassbox";
 * const H = 4;
 * const { output } = lstm(randn([2, 10, 3]), { wIh: randn([4 * H, 3]), wHh: randn([4 * H, H]), bIh: null, bHh: null });
 * output.shape; // [2, 10, 4]
 * ```
 */
export function lstm(
  x: Tensor,
  w: RecurrentWeights,
  state?: { h: Tensor; c: Tensor },
): { output: Tensor; h: Tensor; c: Tensor } {
  const [B, T, , H] = check("lstm", x, w, 4);
  let h = state?.h ?? zeros([B, H]), c = state?.c ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const [a, b] = step(reshape(slice(x, t, t + 1, 1), [B, -1]), h, w);
    const z = add(a, b);
    const gate = (k: number) => slice(z, k * H, (k + 1) * H, 1);
    const i = sigmoid(gate(0)), f = sigmoid(gate(1)), g = tanh(gate(2)), o = sigmoid(gate(3));
    c = add(mul(f, c), mul(i, g));
    h = mul(o, tanh(c));
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h, c };
}

/**
 * A plain (Elman) RNN layer over a sequence, as PyTorch's `nn.RNN`: h' = tanh(x·W_ihᵀ + b_ih +
 * h·W_hhᵀ + b_hh) (or ReLU). Returns every h [B, T, H] and the final h. Its gradient through
 * time shrinks by the factor ‖W_hh·diag(tanh')‖ per step, which is why it forgets.
 *
 * @example
 * ```ts
 * import { randn, rnn } from "glassbox";
 * const { output } = rnn(randn([2, 10, 3]), { wIh: randn([4, 3]), wHh: randn([4, 4]), bIh: null, bHh: null });
 * output.shape; // [2, 10, 4]
 * ```
 */
export function rnn(
  x: Tensor,
  w: RecurrentWeights,
  state?: { h: Tensor },
  nonlinearity: "tanh" | "relu" = "tanh",
): { output: Tensor; h: Tensor } {
  const [B, T, , H] = check("rnn", x, w, 1);
  let h = state?.h ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const [a, b] = step(reshape(slice(x, t, t + 1, 1), [B, -1]), h, w);
    h = nonlinearity === "relu" ? relu(add(a, b)) : tanh(add(a, b));
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h };
}

/**
 * A GRU layer over a sequence, as PyTorch: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
 * n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h (gate order r, z, n).
 *
 * @example
 * ```ts
 * import { gru, randn } from "glassbox";
 * const H = 4;
 * const { output } = gru(randn([2, 10, 3]), { wIh: randn([3 * H, 3]), wHh: randn([3 * H, H]), bIh: null, bHh: null });
 * ```
 */
export function gru(x: Tensor, w: RecurrentWeights, state?: { h: Tensor }): { output: Tensor; h: Tensor } {
  const [B, T, , H] = check("gru", x, w, 3);
  let h = state?.h ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const [a, b] = step(reshape(slice(x, t, t + 1, 1), [B, -1]), h, w);
    const part = (u: Tensor, k: number) => slice(u, k * H, (k + 1) * H, 1);
    const r = sigmoid(add(part(a, 0), part(b, 0))), z = sigmoid(add(part(a, 1), part(b, 1)));
    const n = tanh(add(part(a, 2), mul(r, part(b, 2))));
    h = add(mul(sub(1, z), n), mul(z, h));
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h };
}
