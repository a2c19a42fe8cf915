/**
 * Recurrent layers over a whole sequence. The input projection x·W_ihᵀ runs once for every
 * time step (one matmul); each step then does h·W_hhᵀ and one fused cell kernel
 * (shaders/recurrent.wgsl) for the LSTM's and GRU's gates, with its own backward. Every step is
 * recorded into the same GPU batch, so a sequence runs with one synchronisation, not one per
 * step. PyTorch's equations and gate order.
 */
import { dispatch } from "../../gpu/queue.ts";
import { zeros } from "../create.ts";
import { record } from "../graph.ts";
import { add, relu, tanh } from "./elementwise.ts";
import { linear } from "./matmul.ts";
import { concat, reshape, slice } from "./shape.ts";
import { assertFloat, empty, type Tensor } from "../tensor.ts";

/** Runs one entry of the recurrent kernel over B·H invocations; unused outputs get scratch buffers. */
function cell(entry: string, ins: Tensor[], g: Tensor | null, outs: Tensor[], B: number, H: number): void {
  const scratch = Array.from({ length: 3 - outs.length }, () => empty([1]));
  const o = [...outs, ...scratch];
  dispatch({
    shader: "recurrent",
    entry,
    buffers: [ins[0], ins[1], ins[2] ?? ins[0], g ?? ins[0], o[0], o[1], o[2]].map((t) => t.buffer),
    params: { B, H },
    invocations: B * H,
  });
  scratch.forEach((t) => t.dispose());
}

/** One LSTM step's gates: z [B, 4H] (all four pre-activations), state [h | c] [B, 2H] → new state. */
function lstmCell(z: Tensor, state: Tensor, B: number, H: number): Tensor {
  const out = empty([B, 2 * H]);
  cell("lstm_fwd", [z, state], null, [out], B, H);
  return record(out, "lstmCell", [z, state], (g) => {
    const dz = empty([B, 4 * H]), ds = empty([B, 2 * H]);
    cell("lstm_bwd", [z, state], g, [dz, ds], B, H);
    return [dz, ds];
  });
}

/** One GRU step: a = x·W_ihᵀ + b_ih, bh = h·W_hhᵀ + b_hh (both [B, 3H]), h [B, H] → h'. */
function gruCell(a: Tensor, bh: Tensor, h: Tensor, B: number, H: number): Tensor {
  const out = empty([B, H]);
  cell("gru_fwd", [a, bh, h], null, [out], B, H);
  return record(out, "gruCell", [a, bh, h], (g) => {
    const da = empty([B, 3 * H]), db = empty([B, 3 * H]), dh = empty([B, H]);
    cell("gru_bwd", [a, bh, h], g, [da, db, dh], B, H);
    return [da, db, dh];
  });
}

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

/** The input projection of every step at once, [B, T, G·H], and a reader of step t as [B, G·H]. */
function projected(x: Tensor, w: RecurrentWeights, B: number): (t: number) => Tensor {
  const xp = linear(x, w.wIh, w.bIh);
  return (t) => reshape(slice(xp, t, t + 1, 1), [B, -1]);
}

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
  const xt = projected(x, w, B);
  let s = state ? concat([state.h, state.c], 1) : zeros([B, 2 * H]);
  let h = state?.h ?? slice(s, 0, H, 1);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    s = lstmCell(add(xt(t), linear(h, w.wHh, w.bHh)), s, B, H);
    h = slice(s, 0, H, 1);
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h, c: slice(s, H, 2 * H, 1) };
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
  const xt = projected(x, w, B);
  let h = state?.h ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const a = add(xt(t), linear(h, w.wHh, w.bHh));
    h = nonlinearity === "relu" ? relu(a) : tanh(a);
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
  const xt = projected(x, w, B);
  let h = state?.h ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    h = gruCell(xt(t), linear(h, w.wHh, w.bHh), h, B, H);
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h };
}
