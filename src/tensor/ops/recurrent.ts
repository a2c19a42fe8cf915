/**
 * Recurrent layers over a whole sequence. The input projection x·W_ihᵀ runs once for every
 * time step (one matmul). The LSTM and the GRU then run their whole recurrence in one kernel per
 * chunk of steps (shaders/lstm_sequence.wgsl, shaders/gru_sequence.wgsl: h·W_hhᵀ, gates and
 * state update fused, the state kept in workgroup memory), and their backward likewise
 * (shaders/*_sequence_bwd.wgsl), with the weight gradient dW_hh = Σ_t dZ_tᵀ·h_{t-1} as one
 * matmul over all steps at the end. With `configureGpu({ fusion: false })`, a hidden size
 * past `RECURRENT_FUSED_MAX_HIDDEN`, or too little work to pay for compiling those kernels
 * (`specialiseFor`: small layers and short sequences), they run per step: h·W_hhᵀ (matmul) and one cell kernel
 * (shaders/recurrent.wgsl), each with its own backward; the plain RNN always runs per step.
 * Every step is recorded into the same GPU batch, so a sequence runs with one synchronisation,
 * not one per step. PyTorch's equations and gate order.
 */
import { kernelSpec } from "../../gpu/kernel_specs.ts";
import { LOOP_STEPS_PER_INVOCATION } from "../../gpu/loops.ts";
import { placeholderBuffer } from "../../gpu/pool.ts";
import { dispatch, grid } from "../../gpu/queue.ts";
import { gpuSettings } from "../../gpu/settings.ts";
import { specialiseFor } from "../../gpu/specialise.ts";
import { zeros } from "../create.ts";
import { currentPass, isGradEnabled, record } from "../graph.ts";
import { launchCopy, launchFill } from "../kernels.ts";
import { add, relu, tanh } from "./elementwise.ts";
import { linear, mm } from "./matmul.ts";
import { sumToShape } from "./reduce_raw.ts";
import { concat, reshape, slice } from "./shape.ts";
import { assertFloat, empty, own, type Tensor } from "../tensor.ts";

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
  return steps(linear(x, w.wIh, w.bIh), B);
}

/**
 * Step t of xp [B, T, F] as [B, F], for t = 0, 1, … in order. The backward writes every step's
 * gradient into one [B, T, F] buffer (zeroed once per pass) and step 0's node, the last a
 * backward pass reaches (it was recorded first, and every later step's output depends on it),
 * hands that buffer to xp: one fill and T copies, where T slices would fill and add a whole
 * [B, T, F] gradient per step (T² traffic).
 */
function steps(xp: Tensor, B: number): (t: number) => Tensor {
  const [, T, F] = xp.shape;
  let acc: { pass: number; g: Tensor } | null = null;
  return (t) => {
    const y = empty([B, F]);
    launchCopy(xp, y, "float32", [B, F], [T * F, 1], [F, 1], t * F);
    return record(y, "recurrent step input", [xp], (g) => {
      if (!acc || acc.pass !== currentPass()) {
        acc = { pass: currentPass(), g: empty(xp.shape) };
        launchFill(acc.g, 0);
      }
      launchCopy(g, acc.g, "float32", [B, F], [F, 1], [T * F, 1], 0, t * F);
      if (t > 0) return [null];
      const whole = acc.g;
      acc = null;
      return [whole];
    }, []);
  };
}

/**
 * h_t·W_hhᵀ + b_hh of step t = 0, 1, … in order, for the per-step paths. W_hhᵀ is laid out for
 * the matmul once per sequence (not once per step). The backward of step t gives dh_t = g·W_hh
 * and copies g and h_t into [B, T, ·] buffers shared by the steps (zeroed once per pass); step
 * 0's node, the last a backward pass reaches, forms dW_hh = Σ_t g_tᵀ·h_t as one matmul over all
 * B·T rows and db_hh as one sum, instead of one weight-gradient matmul and one add per step.
 */
function recurrentProduct(
  w: RecurrentWeights,
  B: number,
  T: number,
  H: number,
): (h: Tensor, t: number) => Tensor {
  const { wHh, bHh } = w;
  const GH = wHh.shape[0];
  const wt = empty([H, GH]);
  launchCopy(wHh, wt, "float32", [H, GH], [1, H], [GH, 1]);
  let acc: { pass: number; g: Tensor; h: Tensor } | null = null;
  return (h, t) => {
    const c = mm({ t: h, sb: 0, sk: 1, sx: H }, { t: wt, sb: 0, sk: GH, sx: 1 }, 1, B, GH, H, bHh, 1);
    const y = c._view([B, GH]);
    c.dispose();
    if (t === T - 1) wt.dispose(); // the last step's product is recorded: the layout is done
    const inputs = bHh ? [h, wHh, bHh] : [h, wHh];
    return record(y, "recurrent product", inputs, (g) => {
      const out: (Tensor | null)[] = [null, null, null];
      if (h.requiresGrad) {
        const d = mm({ t: g, sb: 0, sk: 1, sx: GH }, { t: wHh, sb: 0, sk: H, sx: 1 }, 1, B, H, GH);
        out[0] = d._view([B, H]);
        d.dispose();
      }
      if (wHh.requiresGrad || bHh?.requiresGrad) {
        if (!acc || acc.pass !== currentPass()) {
          acc = { pass: currentPass(), g: empty([B, T, GH]), h: empty([B, T, H]) };
          launchFill(acc.g, 0);
          launchFill(acc.h, 0);
        }
        launchCopy(g, acc.g, "float32", [B, GH], [GH, 1], [T * GH, 1], 0, t * GH);
        launchCopy(h, acc.h, "float32", [B, H], [H, 1], [T * H, 1], 0, t * H);
        if (t === 0) {
          const { g: gs, h: hs } = acc;
          acc = null;
          if (wHh.requiresGrad) {
            // dW_hh[GH][H] = Σ over (b, t) of g[b, t]ᵀ · h[b, t]
            const d = mm({ t: gs, sb: 0, sk: GH, sx: 1 }, { t: hs, sb: 0, sk: H, sx: 1 }, 1, GH, H, B * T);
            out[1] = d._view([GH, H]);
            d.dispose();
          }
          if (bHh?.requiresGrad) {
            const g2 = gs._view([B * T, GH]);
            const sum = sumToShape(g2, [1, GH]);
            out[2] = sum._view([GH]);
            sum.dispose();
            g2.dispose();
          }
          gs.dispose();
          hs.dispose();
        }
      }
      return bHh ? out : out.slice(0, 2);
    });
  };
}

/** The largest hidden size the fused LSTM and GRU kernels take (one unit tile per invocation, workgroup memory). */
export const RECURRENT_FUSED_MAX_HIDDEN = 256;

/**
 * Whether `lstm` and `gru` run the fused sequence kernels (compiled per hidden size and batch
 * tiling, with unrolled code) for G gates, batch B, T steps and hidden size H, else the per-step
 * composed path (generic kernels): with fusion on, H in range, and the recurrence's work
 * (2·G·H·H multiply-adds per batch element and step, ×2) enough to pay for the compile
 * (`specialiseFor`).
 */
function recurrentFused(G: number, B: number, H: number, T: number): boolean {
  return gpuSettings().fusion && H <= RECURRENT_FUSED_MAX_HIDDEN && T > 0 &&
    specialiseFor(2 * G * H * H * B * T);
}

let chunkOverride: number | null = null;
/**
 * @internal Sets how many time steps one fused LSTM or GRU dispatch runs (null: as many as the loop
 * budget allows), so tests reach the hand-over between dispatches with short sequences.
 */
export function setRecurrentChunkSteps(steps: number | null): void {
  chunkOverride = steps;
}

const XYZW = ["x", "y", "z", "w"];
const unrolledSeq = new Map<string, Record<string, string>>();

/** The forward kernel's straight-line code for a tile of 4·TQ batch elements (see shaders/lstm_sequence.wgsl). */
function forwardUnroll(TQ: number, gates: readonly string[]): Record<string, string> {
  const key = `f${TQ}${gates.join("")}`;
  let u = unrolledSeq.get(key);
  if (u) return u;
  const TB = 4 * TQ, decl: string[] = [], step: string[] = [], cells: string[] = [];
  for (const g of gates) for (let b = 0; b < TB; b++) decl.push(`      var a${g}${b} = vec4f(0.0);`);
  for (let q = 0; q < TQ; q++) step.push(`        let h${q} = hs[hb + ${q}u];`);
  for (const g of gates) {
    for (let b = 0; b < TB; b++) {
      step.push(`        a${g}${b} = fma(vec4f(h${b >> 2}.${XYZW[b & 3]}), w${g}, a${g}${b});`);
    }
  }
  for (let b = 0; b < TB; b++) {
    cells.push(`      let h${b} = cell(b0 + ${b}u, t, u, ${gates.map((g) => `a${g}${b}`).join(", ")});`);
  }
  for (let q = 0; q < TQ; q++) {
    const hq = [0, 1, 2, 3].map((i) => `h${4 * q + i}`).join(", ");
    cells.push(`      share(nxt, q0 + ${q}u, u, ${hq});`);
  }
  u = { ACC_DECL: decl.join("\n"), K_STEP: step.join("\n"), CELLS: cells.join("\n") };
  unrolledSeq.set(key, u);
  return u;
}

/** The backward kernel's straight-line code for a tile of 4·TQ batch elements (see shaders/lstm_sequence_bwd.wgsl). */
function backwardUnroll(TQ: number): Record<string, string> {
  const key = `b${TQ}`;
  let u = unrolledSeq.get(key);
  if (u) return u;
  const TB = 4 * TQ, state: string[] = [], cells: string[] = [], zero: string[] = [], step: string[] = [];
  const carry: string[] = [];
  for (let b = 0; b < TB; b++) state.push(`  var dh${b} = vec4f(0.0);`, `  var dc${b} = vec4f(0.0);`);
  state.push("  if (live) {");
  for (let b = 0; b < TB; b++) {
    state.push(`    dh${b} = start(b0 + ${b}u, u, 0u);`, `    dc${b} = start(b0 + ${b}u, u, 1u);`);
  }
  state.push("  }");
  for (let b = 0; b < TB; b++) cells.push(`      let z${b} = cell(b0 + ${b}u, t, u, dh${b}, &dc${b});`);
  for (let q = 0; q < TQ; q++) {
    cells.push(`      share(q0 + ${q}u, u, ${[0, 1, 2, 3].map((i) => `z${4 * q + i}`).join(", ")});`);
  }
  for (let b = 0; b < TB; b++) zero.push(`      dh${b} = vec4f(0.0);`);
  for (let q = 0; q < TQ; q++) step.push(`        let d${q} = dzs[db + ${q}u];`);
  for (let b = 0; b < TB; b++) {
    step.push(`        dh${b} = fma(vec4f(d${b >> 2}.${XYZW[b & 3]}), wv, dh${b});`);
  }
  for (let b = 0; b < TB; b++) carry.push(`    finish(b0 + ${b}u, u, dh${b}, dc${b});`);
  u = {
    STATE: state.join("\n"),
    CELLS: cells.join("\n"),
    ZERO: zero.join("\n"),
    R_STEP: step.join("\n"),
    CARRY: carry.join("\n"),
  };
  unrolledSeq.set(key, u);
  return u;
}

/**
 * The fused kernels' tiling for hidden size H and batch B (see shaders/lstm_sequence.wgsl): an
 * invocation takes TB = 4·TQ batch elements × 4 units (TB up to 16: the taller the tile, the
 * fewer W_hh loads per multiply-add), a workgroup NBT batch tiles (at most one tile per
 * invocation, workgroup memory within 16 KiB, and at least two workgroups when the batch
 * allows, for two CPU cores), and one dispatch `chunk` steps, so an invocation stays under
 * llvmpipe's loop budget.
 */
function sequencePlan(cell: "lstm" | "gru", H: number, B: number, entry: "forward" | "backward") {
  const shader = `${cell}_sequence${entry === "forward" ? "" : "_bwd"}`;
  const G = cell === "lstm" ? 4 : 3;
  const wg = kernelSpec(shader)!.workgroup[entry];
  const NUT = Math.ceil(H / 4), HP = 4 * NUT;
  // backward keeps 4·HP·BW floats in workgroup memory (forward 2·HP·BW): BW·HP ≤ 1024 fits 16 KiB
  let TB = 16;
  while (TB > 4 && (TB > B / 2 || TB * HP > 1024)) TB /= 2;
  const NBT = Math.max(
    1,
    Math.min(Math.floor(wg / NUT), Math.ceil(B / (2 * TB)), Math.floor(1024 / (HP * TB))),
  );
  const TQ = TB / 4, NQ = NBT * TQ;
  // loop steps per time step: the dot-product loop, plus the 4-unit load/store loops of TB cells
  // when H is not a multiple of 4 (else those are straight-line code)
  const perStep = (entry === "forward" ? H : G * HP) + (H % 4 ? 48 * TB : 0) + 16;
  const chunk = chunkOverride ?? Math.max(1, Math.floor((LOOP_STEPS_PER_INVOCATION - 64 * TB) / perStep));
  const constants = entry === "forward"
    ? {
      H,
      NUT,
      NBT,
      TQ,
      HS: 2 * HP * NQ,
      ...forwardUnroll(TQ, cell === "lstm" ? ["i", "f", "g", "o"] : ["r", "z", "n"]),
    }
    : { H, NUT, NBT, TQ, DS: G * HP * NQ, ...backwardUnroll(TQ) };
  return { shader, constants, chunk, groups: grid(Math.ceil(B / (NBT * TB)), 1) };
}

/** W_hh [G·H, H] as the forward kernels read it: WF[k][u][g][0..3] = W_hh[g·H + 4u .. 4u + 3, k], 0 past H. */
function forwardWeights(wHh: Tensor, H: number, G: number): Tensor {
  const NUT = Math.ceil(H / 4), full = Math.floor(H / 4), rest = H % 4;
  const wf = empty([H * NUT * 4 * G]);
  if (rest) launchFill(wf, 0);
  if (full) launchCopy(wHh, wf, "float32", [H, full, G, 4], [1, 4 * H, H * H, H], [4 * G * NUT, 4 * G, 4, 1]);
  if (rest) {
    launchCopy(
      wHh,
      wf,
      "float32",
      [H, rest, G],
      [1, H, H * H],
      [4 * G * NUT, 1, 4],
      4 * full * H,
      4 * G * full,
    );
  }
  return wf;
}

/** W_hh [G·H, H] as the backward kernels read it: [G, HP, HP] with HP = H rounded up to 4, 0 past H (null: W_hh itself, when H % 4 = 0). */
function backwardWeights(wHh: Tensor, H: number, G: number): Tensor | null {
  if (H % 4 === 0) return null;
  const HP = 4 * Math.ceil(H / 4);
  const wb = empty([G * HP * HP]);
  launchFill(wb, 0);
  launchCopy(wHh, wb, "float32", [G, H, H], [H * H, H, 1], [HP * HP, HP, 1]);
  return wb;
}

/**
 * The LSTM recurrence over all T steps from the projected inputs xp = x·W_ihᵀ + b_ih + b_hh
 * [B, T, 4H] and the initial state s0 = [h0 | c0] [B, 2H] (null: zeros): every h [B, T, H]
 * and the final [h_T | c_T] [B, 2H]. Autograd: `y` carries the whole backward (gradients for
 * xp, W_hh and s0); `st` is recorded as a function of `y` whose gradient it hands to y's
 * backward (as dh_T, dc_T), so the backward runs once whichever of the two the loss uses.
 */
function lstmSequence(xp: Tensor, wHh: Tensor, s0: Tensor | null, B: number, T: number, H: number) {
  const grad = isGradEnabled() && [xp, wHh, s0].some((t) => t?.requiresGrad);
  const fwd = sequencePlan("lstm", H, B, "forward");
  const HP = 4 * Math.ceil(H / 4);
  const wf = forwardWeights(wHh, H, 4);
  const y = empty([B, T, H]), c = empty([B, T, HP]);
  const gt = empty(grad ? [B, T, 4 * HP] : [4]), hp = empty(grad ? [B, T, H] : [4]);
  const st = empty([B, 2 * H]);
  for (let t0 = 0; t0 < T; t0 += fwd.chunk) {
    const t1 = Math.min(T, t0 + fwd.chunk);
    dispatch({
      shader: fwd.shader,
      entry: "forward",
      constants: fwd.constants,
      buffers: [
        xp.buffer,
        wf.buffer,
        s0?.buffer ?? placeholderBuffer(),
        y.buffer,
        c.buffer,
        gt.buffer,
        hp.buffer,
        st.buffer,
      ],
      params: { B, T, t0, t1, flags: (s0 ? 1 : 0) | (grad ? 2 : 0) },
      workgroups: fwd.groups,
      cost: { flops: 2 * B * (t1 - t0) * 4 * H * H, bytes: 4 * B * (t1 - t0) * H * (4 + 2 + (grad ? 5 : 0)) },
    });
  }
  wf.dispose();
  if (!grad) {
    [c, gt, hp].forEach((t) => t.dispose());
    return { y, st };
  }
  [c, gt, hp].forEach((t) => own(y, t));
  // the gradient of st, handed from its node to y's within one backward pass
  let stash: { pass: number; g: Tensor } | null = null;
  record(y, "lstm", s0 ? [xp, wHh, s0] : [xp, wHh], (dy) => {
    const dst = stash && stash.pass === currentPass() ? stash.g : null;
    stash = null;
    const bwd = sequencePlan("lstm", H, B, "backward");
    const wb = backwardWeights(wHh, H, 4);
    const dz = empty([B, T, 4 * H]), carry = empty([B, 2 * H]);
    for (let t1 = T; t1 > 0; t1 -= bwd.chunk) {
      const t0 = Math.max(0, t1 - bwd.chunk);
      dispatch({
        shader: bwd.shader,
        entry: "backward",
        constants: bwd.constants,
        buffers: [
          dy.buffer,
          (wb ?? wHh).buffer,
          gt.buffer,
          c.buffer,
          s0?.buffer ?? placeholderBuffer(),
          dst?.buffer ?? placeholderBuffer(),
          dz.buffer,
          carry.buffer,
        ],
        params: { B, T, t0, t1, flags: (s0 ? 1 : 0) | (dst ? 2 : 0) },
        workgroups: bwd.groups,
        cost: { flops: 2 * B * (t1 - t0) * 4 * H * H, bytes: 4 * B * (t1 - t0) * H * (1 + 4 + 2 + 4) },
      });
    }
    wb?.dispose();
    dst?.dispose();
    let dw: Tensor | null = null;
    if (wHh.requiresGrad) {
      // dW_hh[4H][H] = Σ over (b, t) of dZ[b, t]ᵀ · h_{t-1}[b]: one product over all B·T rows
      const d = mm({ t: dz, sb: 0, sk: 4 * H, sx: 1 }, { t: hp, sb: 0, sk: H, sx: 1 }, 1, 4 * H, H, B * T);
      dw = d._view([4 * H, H]);
      d.dispose();
    }
    let ds: Tensor | null = carry;
    if (!s0?.requiresGrad) {
      carry.dispose();
      ds = null;
    }
    return [dz, dw, ds];
  });
  record(st, "lstm final state", [y], (g, ctx) => {
    stash?.g.dispose();
    stash = { pass: currentPass(), g: g._view(g.shape) };
    // y's backward must run even when the loss reads only h_T or c_T
    if (ctx.gradOf(y)) return [null];
    const z = empty(y.shape);
    launchFill(z, 0);
    return [z];
  });
  return { y, st };
}

/**
 * The GRU recurrence over all T steps (shaders/gru_sequence.wgsl) from xp = x·W_ihᵀ + b_ih
 * [B, T, 3H], W_hh, b_hh and h0 [B, H] (null: zeros): every h [B, T, H]. Its backward
 * (shaders/gru_sequence_bwd.wgsl) gives the gradients of xp and h0, and those of W_hh and b_hh
 * as one matmul and one sum over all steps.
 */
function gruSequence(
  xp: Tensor,
  wHh: Tensor,
  bHh: Tensor | null,
  h0: Tensor | null,
  B: number,
  T: number,
  H: number,
) {
  const grad = isGradEnabled() && [xp, wHh, bHh, h0].some((t) => t?.requiresGrad);
  const fwd = sequencePlan("gru", H, B, "forward");
  const HP = 4 * Math.ceil(H / 4);
  const wf = forwardWeights(wHh, H, 3);
  const y = empty([B, T, H]);
  const gt = empty(grad ? [B, T, 4 * HP] : [4]), hp = empty(grad ? [B, T, H] : [4]);
  const flags = (h0 ? 1 : 0) | (grad ? 2 : 0) | (bHh ? 4 : 0);
  for (let t0 = 0; t0 < T; t0 += fwd.chunk) {
    const t1 = Math.min(T, t0 + fwd.chunk);
    dispatch({
      shader: fwd.shader,
      entry: "forward",
      constants: fwd.constants,
      buffers: [
        xp.buffer,
        wf.buffer,
        bHh?.buffer ?? placeholderBuffer(),
        h0?.buffer ?? placeholderBuffer(),
        y.buffer,
        gt.buffer,
        hp.buffer,
      ],
      params: { B, T, t0, t1, flags },
      workgroups: fwd.groups,
      cost: { flops: 2 * B * (t1 - t0) * 3 * H * H, bytes: 4 * B * (t1 - t0) * H * (3 + 2 + (grad ? 5 : 0)) },
    });
  }
  wf.dispose();
  if (!grad) {
    gt.dispose();
    hp.dispose();
    return y;
  }
  own(y, gt);
  own(y, hp);
  const inputs = [xp, wHh, ...(bHh ? [bHh] : []), ...(h0 ? [h0] : [])];
  return record(y, "gru", inputs, (dy) => {
    const bwd = sequencePlan("gru", H, B, "backward");
    const wb = backwardWeights(wHh, H, 3);
    const da = empty([B, T, 3 * H]),
      dbh = empty([B, T, 3 * H]),
      carry = empty([B, 2 * H]),
      dh0 = empty([B, H]);
    for (let t1 = T; t1 > 0; t1 -= bwd.chunk) {
      const t0 = Math.max(0, t1 - bwd.chunk);
      dispatch({
        shader: bwd.shader,
        entry: "backward",
        constants: bwd.constants,
        buffers: [
          dy.buffer,
          (wb ?? wHh).buffer,
          gt.buffer,
          hp.buffer,
          da.buffer,
          dbh.buffer,
          carry.buffer,
          dh0.buffer,
        ],
        params: { B, T, t0, t1, flags },
        workgroups: bwd.groups,
        cost: { flops: 2 * B * (t1 - t0) * 3 * H * H, bytes: 4 * B * (t1 - t0) * H * (1 + 4 + 1 + 6) },
      });
    }
    wb?.dispose();
    carry.dispose();
    let dw: Tensor | null = null, db: Tensor | null = null;
    if (wHh.requiresGrad) {
      // dW_hh[3H][H] = Σ over (b, t) of dBh[b, t]ᵀ · h_{t-1}[b]: one product over all B·T rows
      const d = mm({ t: dbh, sb: 0, sk: 3 * H, sx: 1 }, { t: hp, sb: 0, sk: H, sx: 1 }, 1, 3 * H, H, B * T);
      dw = d._view([3 * H, H]);
      d.dispose();
    }
    if (bHh?.requiresGrad) {
      const g2 = dbh._view([B * T, 3 * H]);
      const sum = sumToShape(g2, [1, 3 * H]);
      db = sum._view([3 * H]);
      sum.dispose();
      g2.dispose();
    }
    dbh.dispose();
    let dh: Tensor | null = dh0;
    if (!h0?.requiresGrad) {
      dh0.dispose();
      dh = null;
    }
    return [da, dw, ...(bHh ? [db] : []), ...(h0 ? [dh] : [])];
  });
}

/**
 * An LSTM layer over a sequence: i, f, g, o = σ, σ, tanh, σ of x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
 * (that gate order); c' = f·c + i·g; h' = o·tanh(c'). Returns every h [B, T, H] and the final
 * (h, c). Runs as one fused kernel over the sequence (hidden size up to
 * `RECURRENT_FUSED_MAX_HIDDEN`, with the work to pay for its compile: `specialiseFor`), or per
 * step (otherwise, and with `configureGpu({ fusion: false })`).
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
  if (!recurrentFused(4, B, H, T)) return lstmComposed(x, w, B, T, H, state);
  const bias = w.bIh && w.bHh ? add(w.bIh, w.bHh) : w.bIh ?? w.bHh;
  const xp = linear(x, w.wIh, bias);
  const s0 = state ? concat([state.h, state.c], 1) : null;
  const { y, st } = lstmSequence(xp, w.wHh, s0, B, T, H);
  if (!y.requiresGrad) {
    // nothing will run backward through them
    [xp, s0, bias === w.bIh || bias === w.bHh ? null : bias].forEach((t) => t?.dispose());
  }
  const h = slice(st, 0, H, 1), c = slice(st, H, 2 * H, 1);
  if (!y.requiresGrad) st.dispose();
  return { output: y, h, c };
}

/** The LSTM step by step (the path with fusion off): per step h·W_hhᵀ and the cell kernel. */
function lstmComposed(
  x: Tensor,
  w: RecurrentWeights,
  B: number,
  T: number,
  H: number,
  state?: { h: Tensor; c: Tensor },
): { output: Tensor; h: Tensor; c: Tensor } {
  const xt = projected(x, w, B), hw = recurrentProduct(w, B, T, H);
  let s = state ? concat([state.h, state.c], 1) : zeros([B, 2 * H]);
  let h = state?.h ?? slice(s, 0, H, 1);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    s = lstmCell(add(xt(t), hw(h, t)), s, B, H);
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
  const xt = projected(x, w, B), hw = recurrentProduct(w, B, T, H);
  let h = state?.h ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const a = add(xt(t), hw(h, t));
    h = nonlinearity === "relu" ? relu(a) : tanh(a);
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h };
}

/**
 * A GRU layer over a sequence, as PyTorch: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
 * n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h (gate order r, z, n). Runs
 * as one fused kernel over the sequence (hidden size up to `RECURRENT_FUSED_MAX_HIDDEN`, with the
 * work to pay for its compile: `specialiseFor`), or per step (otherwise, and with
 * `configureGpu({ fusion: false })`).
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
  if (recurrentFused(3, B, H, T)) {
    const xp = linear(x, w.wIh, w.bIh);
    const y = gruSequence(xp, w.wHh, w.bHh, state?.h ?? null, B, T, H);
    if (!y.requiresGrad) xp.dispose();
    return { output: y, h: reshape(slice(y, T - 1, T, 1), [B, H]) };
  }
  const xt = projected(x, w, B), hw = recurrentProduct(w, B, T, H);
  let h = state?.h ?? zeros([B, H]);
  const outs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    h = gruCell(xt(t), hw(h, t), h, B, H);
    outs.push(reshape(h, [B, 1, H]));
  }
  return { output: concat(outs, 1), h };
}
