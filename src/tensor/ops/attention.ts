/**
 * Building blocks of sequence models, composed from the differentiable ops (so autograd gives
 * their gradients): layer normalisation, embedding lookup, and scaled dot-product attention
 * with causal, boolean and additive masks, as PyTorch's `F.layer_norm`, `F.embedding` and
 * `F.scaled_dot_product_attention`. Attention itself runs as a fused kernel (scores, scale,
 * additive masks, online softmax and the weighted sum in one pass, never storing the [L, S]
 * matrix; its backward recomputes the probabilities): on software adapters
 * shaders/attention_rows.wgsl (8 rows per invocation in registers), on GPUs shaders/attention.wgsl
 * (key tiles in workgroup memory), chosen by `kernelPath()`; `attentionWeights` composes the same
 * computation from differentiable ops, for callers that need the weights in the graph. Masks mean
 * what PyTorch's `F.scaled_dot_product_attention` means: an int32 (boolean) mask marks the keys
 * that may be attended to, a float mask is added to the scores.
 */
import { dispatch } from "../../gpu/queue.ts";
import { adapterInfo, kernelPath } from "../../gpu/device.ts";
import { specialiseFor } from "../../gpu/specialise.ts";
import { KERNEL_SPECS } from "../../gpu/kernel_specs.ts";
import { gpuSettings } from "../../gpu/settings.ts";
import { full, tensor } from "../create.ts";
import { noGrad, record } from "../graph.ts";
import { broadcastStrides, launchCopy, launchFill, launchWhere, stridesOf } from "../kernels.ts";
import { errorFlags } from "../../gpu/errors.ts";
import { checkLoopSteps, LLVMPIPE_LOOP_STEPS, loopStepLimit } from "../../gpu/loops.ts";
import { add, broadcastShapes, div, mul, sqrt, sub } from "./elementwise.ts";
import { mean } from "./reduce.ts";
import { matmul } from "./matmul.ts";
import { where } from "./select.ts";
import { transpose } from "./shape.ts";
import { softmax } from "./softmax.ts";
import { assertFloat, assertLive, empty, own, type Tensor } from "../tensor.ts";

/**
 * Layer normalisation over the last `normalizedShape.length` dimensions:
 * (x − mean) / sqrt(var + eps) · weight + bias, with the biased variance (as PyTorch).
 *
 * @example
 * ```ts
 * import { layerNorm, randn } from "glassbox";
 * const y = layerNorm(randn([2, 5, 16]), [16]); // each row of 16: mean 0, variance 1
 * ```
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  assertFloat("layerNorm", x);
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new Error(
      `layerNorm: normalizedShape [${normalizedShape.join(", ")}] is not the end of the input's shape [${
        x.shape.join(", ")
      }]`,
    );
  }
  const C = normalizedShape.reduce((a, b) => a * b, 1), R = x.size / Math.max(C, 1);
  for (const [name, t] of [["weight", weight], ["bias", bias]] as const) {
    if (t && (assertFloat("layerNorm", t), t.size !== C || !sameDims(t.shape, normalizedShape))) {
      throw new Error(
        `layerNorm: ${name} [${t.shape.join(", ")}] must have the normalized shape [${
          normalizedShape.join(", ")
        }]`,
      );
    }
  }
  if (x.size > 0 && (3 * C + 16 > LLVMPIPE_LOOP_STEPS || R + 16 > LLVMPIPE_LOOP_STEPS)) {
    // one invocation walks a row three times (forward, bwd_x) or a column of R rows (bwd_wb):
    // past llvmpipe's loop budget (src/gpu/loops.ts), compose it from reductions instead
    const axes = normalizedShape.map((_, i) => x.ndim - k + i);
    const xc = sub(x, mean(x, axes, true));
    let out = div(xc, sqrt(add(mean(mul(xc, xc), axes, true), eps)));
    if (weight) out = mul(out, weight);
    if (bias) out = add(out, bias);
    return out;
  }
  const y = empty(x.shape);
  if (x.size === 0) return y;
  const stats = empty([3 * R]);
  const params = { R, C, flags: (weight ? 1 : 0) | (bias ? 2 : 0), eps };
  const run = (entry: string, g: Tensor | null, out1: Tensor, out2: Tensor | null, n: number) => {
    const scratch = out2 ? null : empty([1]);
    dispatch({
      shader: "layer_norm",
      entry,
      buffers: [
        x.buffer,
        (weight ?? x).buffer,
        (bias ?? x).buffer,
        (g ?? x).buffer,
        stats.buffer,
        out1.buffer,
        (out2 ?? scratch!).buffer,
      ],
      params,
      invocations: n,
    });
    scratch?.dispose();
  };
  run("forward", null, y, null, R);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const out = record(y, "layerNorm", inputs, (g) => {
    const dx = x.requiresGrad ? empty(x.shape) : null;
    if (dx) run("bwd_x", g, dx, null, R);
    let dw: Tensor | null = null, db: Tensor | null = null;
    if (weight?.requiresGrad || bias?.requiresGrad) {
      dw = empty(normalizedShape);
      db = empty(normalizedShape);
      run("bwd_wb", g, dw, db, C);
    }
    const grads: (Tensor | null)[] = [dx];
    if (weight) grads.push(weight.requiresGrad ? dw : (dw?.dispose(), null));
    if (bias) grads.push(bias.requiresGrad ? db : (db?.dispose(), null));
    return grads;
  }, inputs);
  if (out.requiresGrad) own(out, stats);
  else stats.dispose();
  return out;
}

/**
 * Looks up rows of `weight` [V, E] by int32 `indices` of any shape: the result has shape
 * [...indices, E]. The gradient is scattered back into the rows used (shaders/embedding.wgsl;
 * repeated indices add up, with atomic adds, so the cost is that of the lookup whatever the
 * vocabulary). An index outside [0, V) is an error at the next readback.
 *
 * @example
 * ```ts
 * import { embedding, randn, tensor } from "glassbox";
 * const table = randn([10, 4]);
 * embedding(tensor([[1, 2], [2, 9]], undefined, { dtype: "int32" }), table).shape; // [2, 2, 4]
 * ```
 */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  assertLive("embedding", indices);
  assertFloat("embedding", weight);
  if (indices.dtype !== "int32") {
    throw new Error(`embedding: indices must be int32, got ${indices.describe()}`);
  }
  if (weight.ndim !== 2) {
    throw new Error(`embedding: weight must be [V, E], got [${weight.shape.join(", ")}]`);
  }
  const [V, E] = weight.shape, N = indices.size;
  const y = empty([...indices.shape, E]);
  if (y.size === 0) return y;
  const launch = (entry: "lookup" | "scatter", src: Tensor, dst: Tensor, n: number) =>
    dispatch({
      shader: "embedding",
      entry,
      buffers: [src.buffer, indices.buffer, dst.buffer, errorFlags()],
      params: { N, V, E },
      invocations: n,
    });
  launch("lookup", weight, y, N * E);
  return record(y, "embedding", [weight], (g) => {
    const dw = empty([V, E]);
    launchFill(dw, 0);
    launch("scatter", g, dw, N * E);
    return [dw];
  }, []);
}

/** Options for `scaledDotProductAttention`. */
export interface AttentionOptions {
  /**
   * PyTorch's `attn_mask` of `F.scaled_dot_product_attention`, a tensor broadcastable to
   * [..., L, S]. An int32 mask is PyTorch's boolean one: nonzero = may attend, 0 = may not. A
   * float32 mask is added to the scaled scores (−∞ = may not attend; 0 / −∞ as
   * `generate_square_subsequent_mask` makes is causal). The mask is a constant: no gradient flows
   * into it. (`MultiheadAttention` takes nn.MultiheadAttention's masks, where true means the
   * opposite: may NOT attend.)
   */
  attnMask?: Tensor;
  /** Query i attends only to keys j <= i (PyTorch's is_causal, top-left aligned); with `attnMask`, both apply. */
  isCausal?: boolean;
  /** The factor on q·kᵀ (default 1/sqrt(E)). */
  scale?: number;
  /**
   * "auto" (default: the fused kernel where it measured at least as fast, see FUSED_MAX_KEYS),
   * "fused" (the fused kernel, an error where it cannot run) or "composed" (matmul and softmax).
   */
  kernel?: "auto" | "fused" | "composed";
}

/**
 * When the fused kernel runs. On software adapters (kernelPath() "cpu", attention_rows.wgsl) at
 * every length for heads up to 32 wide: measured on lavapipe (bench/sequence.ts' workload, B 8,
 * 4 heads, forward and backward, all kernels' time in the profiler, best of 7, fused against
 * composed, same process, a loaded machine): heads of 16 at 64 keys 3.7 against 11.6 ms, at 256
 * keys 88 against 428; heads of 32 at 64 keys 12.6 against 18.5, at 256 keys 511 against 646;
 * heads of 64 (2 rows per invocation) at 64 keys 53 against 24, at 256 keys 1470 against 974,
 * so wider heads are composed (4 rows per invocation at 64 wide measured level with the
 * composed ops at 64 keys and behind at 256, and takes LLVM a minute to compile). The GPU
 * family (attention.wgsl, one row per invocation) keeps the limit measured for its predecessor
 * on lavapipe, where it could not be measured on a GPU: fused up to 128 keys, and whenever the
 * [.., L, S] score matrix the composed ops would store passes 16M elements (64 MB; this
 * adapter's binding limit is 128 MiB), where only the fused kernel, which never stores it, fits.
 */
const FUSED_MAX_KEYS = 128;
/** The widest head (q·k or v) the rows family runs by default (see FUSED_MAX_KEYS). */
const FUSED_ROWS_MAX_HEAD = 32;
/** The workgroup size of shaders/attention.wgsl (its kernel spec). */
const GPU_WG = KERNEL_SPECS.attention.workgroup.forward;
/**
 * Keys per forward step of attention_rows.wgsl: one rescale and one extra exp per row per step, so
 * 4 for narrow heads (where the exps weigh most); 1 past 32 wide, where the unrolled step (KT
 * key and value rows of the head's width) would take LLVM seconds to compile.
 */
function forwardKeys(D: number, DV: number): number {
  const w = Math.max(D, DV);
  return w <= 16 ? 4 : w <= 32 ? 2 : 1;
}
/** Rows per invocation: 8 for heads up to 16 wide, fewer for wider ones (their registers grow with the width). */
function rowsPerInvocation(D: number, DV: number): number {
  const w = Math.max(D, DV);
  return w <= 16 ? 8 : w <= 32 ? 4 : w <= 64 ? 2 : 1;
}
const COMPOSED_MAX_SCORES = 16 * 1024 * 1024;

/** The largest head size the fused kernel keeps in registers; larger ones use the composed ops. */
export const FUSED_ATTENTION_MAX_HEAD = 256;

/**
 * softmax(q·kᵀ·scale + mask)·v for q [..., L, E], k [..., S, E], v [..., S, Ev], as PyTorch's
 * `F.scaled_dot_product_attention` (`attnMask` as its `attn_mask`: int32 nonzero = may attend,
 * float added to the scores); `attentionWeights` returns the softmax too. Masked keys (−∞) get
 * exactly zero weight. A query whose every key is masked gets NaN (as PyTorch). Runs as one fused
 * kernel (and two for the backward pass) when q, k and v share their leading dimensions and the
 * head sizes are multiples of 4 (it reads vec4s), on GPUs when there are at most 128 keys, on
 * software adapters when the heads are at most 32 wide and the work pays for compiling the kernel
 * for its shape (`specialiseFor`), and wherever the score matrix would be too large to store (see
 * FUSED_MAX_KEYS); otherwise, and with
 * `configureGpu({ fusion: false })`, it is composed from matmul and softmax.
 *
 * @example
 * ```ts
 * import { randn, scaledDotProductAttention } from "glassbox";
 * const q = randn([2, 4, 5, 8]), k = randn([2, 4, 7, 8]), v = randn([2, 4, 7, 8]);
 * scaledDotProductAttention(q, k, v, { isCausal: true }).shape; // [2, 4, 5, 8]
 * ```
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): Tensor {
  if (!fusable(q, k, v, options.kernel, options.attnMask !== undefined)) {
    return matmul(attentionWeights(q, k, options), v);
  }
  return fusedAttention(q, k, v, options, false).output;
}

/**
 * Attention that returns its weights only when asked: `{ output }`, or `{ output, weights }`
 * with `needWeights` (weights [..., L, S] written by the fused kernel from the same softmax; they
 * are values, not part of the autograd graph: use `attentionWeights` for a gradient through
 * them).
 *
 * @example
 * ```ts
 * import { attention, randn } from "glassbox";
 * const q = randn([1, 2, 5, 8]);
 * const { output, weights } = attention(q, q, q, { needWeights: true }); // [1, 2, 5, 8], [1, 2, 5, 5]
 * ```
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions & { needWeights?: boolean } = {},
): { output: Tensor; weights?: Tensor } {
  if (fusable(q, k, v, options.kernel, options.attnMask !== undefined)) {
    return fusedAttention(q, k, v, options, options.needWeights ?? false);
  }
  const w = attentionWeights(q, k, options);
  const output = matmul(w, v);
  if (options.needWeights) return { output, weights: w };
  // the product's backward needs the weights: free them only when no gradient will flow
  if (!w.requiresGrad) w.dispose();
  return { output };
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fusable(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  kernel: AttentionOptions["kernel"] = "auto",
  masked = false,
): boolean {
  checkQK(q, k);
  assertFloat("attention", v);
  if (kernel === "composed") return false;
  const lead = q.shape.slice(0, -2);
  const L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2];
  const scores = lead.reduce((a, b) => a * b, 1) * L * S;
  const can = canFuse(q, k, v, lead);
  if (kernel === "fused") {
    if (!can) {
      throw new Error(
        `attention: the fused kernel needs q, k, v with the same leading dims and head sizes that are multiples of 4 (at most ${FUSED_ATTENTION_MAX_HEAD}); got q [${q.shape}], k [${k.shape}], v [${v.shape}]`,
      );
    }
    return true;
  }
  // fusion off (configureGpu({ fusion: false }), GLASSBOX_FUSION=0): the composed ops, for debugging
  if (!gpuSettings().fusion && scores <= COMPOSED_MAX_SCORES) return false;
  if (scores <= COMPOSED_MAX_SCORES) {
    // the one-row-per-invocation GPU family keeps its old measured limit (see FUSED_MAX_KEYS)
    if (kernelPath() === "gpu" && S > FUSED_MAX_KEYS) return false;
    // the rows family measured behind the composed ops past heads of 32 (see FUSED_MAX_KEYS)
    const wide = Math.max(q.shape[q.ndim - 1], v.shape[v.ndim - 1]) > FUSED_ROWS_MAX_HEAD;
    if (kernelPath() === "cpu" && wide) return false;
    // the rows family is compiled per head size, rows and keys per step, mask mode (unrolled code):
    // small attention composes from generic kernels unless its work pays for that compile
    const D = q.shape[q.ndim - 1], DV = v.shape[v.ndim - 1];
    if (kernelPath() === "cpu" && !specialiseFor(2 * scores * (D + DV))) return false;
    // with an attention mask, the rows family's forward never finished in Chromium's SwiftShader (the
    // page's tour in tests/browser_engine_test.ts waited minutes, then lost the device) while llvmpipe
    // (lavapipe) runs it and is measured faster: masked attention takes the rows kernel only on llvmpipe
    // and composes on other software adapters until that is understood ("fused" forces the kernel)
    if (kernelPath() === "cpu" && masked && !/llvmpipe|lavapipe/i.test(adapterInfo().description)) {
      return false;
    }
  }
  // past the adapter's loop budget (llvmpipe, src/gpu/loops.ts) the fused kernel is refused
  if (Math.max(2 * S, L) + 16 > loopStepLimit()) return false;
  return can;
}

function canFuse(q: Tensor, k: Tensor, v: Tensor, lead: readonly number[]): boolean {
  return sameDims(lead, k.shape.slice(0, -2)) && sameDims(lead, v.shape.slice(0, -2)) &&
    k.shape[k.ndim - 2] === v.shape[v.ndim - 2] && q.shape[q.ndim - 1] <= FUSED_ATTENTION_MAX_HEAD &&
    v.shape[v.ndim - 1] <= FUSED_ATTENTION_MAX_HEAD && q.shape[q.ndim - 1] % 4 === 0 &&
    v.shape[v.ndim - 1] % 4 === 0 && q.size > 0 && k.size > 0 && v.size > 0;
}

function checkQK(q: Tensor, k: Tensor): void {
  assertFloat("attention", q);
  assertFloat("attention", k);
  if (q.ndim < 2 || k.ndim < 2 || q.shape[q.ndim - 1] !== k.shape[k.ndim - 1]) {
    throw new Error(
      `attention: q [${q.shape.join(", ")}] and k [${k.shape.join(", ")}] must end in the same feature size`,
    );
  }
}

/**
 * The mask as an additive f32 [N, Lm, S] (0 / −∞ from an int32 mask, the values of a float one),
 * Lm = 1 when it does not vary over queries.
 */
function maskBias(mask: Tensor, lead: readonly number[], L: number, S: number): { m: Tensor; rows: number } {
  assertLive("attention", mask);
  const full = [...lead, L, S];
  const b = broadcastShapes("attention mask", mask.shape, full);
  if (!sameDims(b, full)) {
    throw new Error(
      `attention: mask [${mask.shape.join(", ")}] does not broadcast to the scores [${full.join(", ")}]`,
    );
  }
  const rows = mask.ndim >= 2 && mask.shape[mask.ndim - 2] !== 1 ? L : 1;
  const target = [...lead, rows, S];
  if (mask.dtype === "float32") {
    const out = empty(target);
    launchCopy(mask, out, "float32", target, broadcastStrides(mask.shape, target), stridesOf(target));
    return { m: out, rows };
  }
  const zero = empty([]), negInf = empty([]);
  launchFill(zero, 0);
  launchFill(negInf, -Infinity);
  const out = launchWhere(mask, zero, negInf, target);
  zero.dispose();
  negInf.dispose();
  return { m: out, rows };
}

function fusedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
  needWeights: boolean,
): { output: Tensor; weights?: Tensor } {
  const lead = q.shape.slice(0, -2);
  const N = lead.reduce((a, b) => a * b, 1);
  const L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2], D = q.shape[q.ndim - 1], DV = v.shape[v.ndim - 1];
  const mask = options.attnMask ? noGrad(() => maskBias(options.attnMask!, lead, L, S)) : null;
  const params = {
    N,
    L,
    S,
    causal: options.isCausal ? 1 : 0,
    mask_rows: mask ? mask.rows : 0,
    scale: options.scale ?? 1 / Math.sqrt(D),
  };
  // the GPU family's workgroup-memory tile: TILE·(D4 + DV4) vec4s and 2·TILE floats within 16 KiB
  const constants = {
    D4: D / 4,
    DV4: DV / 4,
    TILE: Math.max(1, Math.min(GPU_WG, Math.floor(960 / ((D + DV) / 4)))),
  };
  // an invocation loops over the keys (twice for the weights) or, in bwd_kv, the queries
  checkLoopSteps("attention (fused)", Math.max(2 * S, L) + 16, `${S} keys and ${L} queries`);
  const stats = empty([2 * N * L]);
  const out = empty([...lead, L, DV]);
  // software adapters: R rows per invocation in registers (shaders/attention_rows.wgsl); GPUs:
  // one row per invocation, key tiles in workgroup memory (shaders/attention.wgsl)
  const rows = kernelPath() === "cpu";
  const ROWS = rowsPerInvocation(D, DV), FWD_KEYS = forwardKeys(D, DV);
  const rowConstants = rows
    ? {
      R: ROWS,
      KT: FWD_KEYS,
      ...constants,
      CAUSAL: options.isCausal ? 1 : 0,
      MASK_MODE: mask ? (mask.rows === 1 ? 1 : 2) : 0,
      ...attentionRowsCode(
        ROWS,
        FWD_KEYS,
        D / 4,
        DV / 4,
        options.isCausal ?? false,
        mask ? (mask.rows === 1 ? 1 : 2) : 0,
      ),
    }
    : {};
  const run = (
    entry: string,
    d: Tensor | null,
    out1: Tensor | null,
    out2: Tensor | null,
    w: Tensor | null,
    count: number,
  ) => {
    // every read_write binding needs a buffer of its own: scratch for the ones this entry leaves alone
    const scratch = [out1, out2, w].map((t) => (t ? null : empty([4])));
    const [o1, o2, ow] = [out1, out2, w].map((t, i) => t ?? scratch[i]!);
    if (rows && entry !== "weights") {
      dispatch({
        shader: "attention_rows",
        entry,
        constants: rowConstants,
        buffers: [q, k, v, mask?.m ?? q, d ?? q, stats, o1, o2].map((t) => t.buffer),
        params: { N, L, S, mask_rows: mask ? mask.rows : 0, scale: params.scale },
        invocations: N * Math.ceil(count / ROWS),
      });
    } else {
      dispatch({
        shader: "attention",
        entry,
        constants,
        buffers: [q, k, v, mask?.m ?? q, d ?? q, stats, o1, o2, ow].map((t) => t.buffer),
        params,
        // weights: one invocation per query row; the others: a workgroup per block of GPU_WG rows
        invocations: entry === "weights" ? N * count : N * Math.ceil(count / GPU_WG) * GPU_WG,
      });
    }
    scratch.forEach((t) => t?.dispose());
  };
  run("forward", null, out, null, null, L);
  let weights: Tensor | undefined;
  if (needWeights) {
    weights = empty([...lead, L, S]);
    run("weights", null, null, null, weights, L);
  }
  const output = record(out, "attention", [q, k, v], (g) => {
    const dq = empty(q.shape), dk = empty(k.shape), dv = empty(v.shape);
    run("bwd_q", g, dq, out, null, L);
    run("bwd_kv", g, dk, dv, null, S);
    return [dq, dk, dv];
  }, [q, k, v, out]);
  // what the backward pass reads lives exactly as long as the output
  if (output.requiresGrad) {
    own(output, stats);
    if (mask) own(output, mask.m);
  } else {
    stats.dispose();
    mask?.m.dispose();
  }
  return weights ? { output, weights } : { output };
}

/**
 * The attention weights softmax(q·kᵀ·scale + mask): [..., L, S], composed from differentiable ops
 * (the masks as `scaledDotProductAttention`'s); each row sums to 1.
 */
export function attentionWeights(q: Tensor, k: Tensor, options: AttentionOptions = {}): Tensor {
  checkQK(q, k);
  const L = q.shape[q.ndim - 2], S = k.shape[k.ndim - 2], E = q.shape[q.ndim - 1];
  let scores = mul(matmul(q, transpose(k)), options.scale ?? 1 / Math.sqrt(E));
  const negInf = options.isCausal || options.attnMask?.dtype === "int32" ? full([], -Infinity) : null;
  if (options.isCausal) {
    const causal = tensor(
      Int32Array.from({ length: L * S }, (_, p) => (p % S <= Math.floor(p / S) ? 1 : 0)),
      [
        L,
        S,
      ],
      { dtype: "int32" },
    );
    scores = where(causal, scores, negInf!);
  }
  const m = options.attnMask;
  if (m) {
    assertLive("attention", m);
    // a constant, as in the fused kernel: no gradient flows into the mask
    scores = m.dtype === "float32"
      ? add(scores, m.requiresGrad ? noGrad(() => mul(m, 1)) : m)
      : where(m, scores, negInf!);
  }
  return softmax(scores, -1);
}

const rowsCode = new Map<string, Record<string, string>>();
/**
 * The straight-line code of shaders/attention_rows.wgsl for R rows per invocation, KT keys per
 * forward step, head sizes 4·D4 and 4·DV4, causal or not, and a mask mode (0 none, 1 a row per
 * n, 2 a row per query): see that shader's header for the names.
 */
function attentionRowsCode(
  R: number,
  KT: number,
  D4: number,
  DV4: number,
  causal: boolean,
  maskMode: number,
): Record<string, string> {
  const key = [R, KT, D4, DV4, causal, maskMode].join(",");
  const hit = rowsCode.get(key);
  if (hit) return hit;
  const rs = [...Array(R).keys()], ts = [...Array(KT).keys()];
  const cs = [...Array(D4).keys()], es = [...Array(DV4).keys()];
  const dot = (a: (c: number) => string, b: (c: number) => string, n: number[]) =>
    n.map((c) => `dot(${a(c)}, ${b(c)})`).join(" + ");
  const sum = (xs: string[]) => xs.join(" + ");
  const I = "  ", II = "    ";
  // query rows i0 + r: their global row (clamped into the head) and their registers
  const rowDecl = (r: number) => [
    `${I}let i${r} = ib + ${r}u;`,
    `${I}let qr${r} = n * P.L + min(i${r}, P.L - 1u);`,
  ];
  const loadQ = (r: number) => cs.map((c) => `${I}let q${r}_${c} = Q[qr${r} * D4 + ${c}u] * P.scale;`);
  // may query row r see key `j` (an expression); `b` is the bias's name
  const ok = (r: number, j: string, b: string | null, extra: string | null) => {
    const parts = [extra, causal ? `${j} <= i${r}` : null, b ? `!masked(${b})` : null].filter((x) => x);
    return parts.length ? parts.join(" && ") : "true";
  };
  const fwdInit: string[] = [], fwdStep: string[] = [], fwdStore: string[] = [];
  for (const r of rs) {
    fwdInit.push(...rowDecl(r), ...loadQ(r));
    fwdInit.push(`${I}var m${r} = LOWEST;`, `${I}var l${r} = 0.0;`);
    for (const e of es) fwdInit.push(`${I}var a${r}_${e} = vec4f(0.0);`);
  }
  for (const t of ts) {
    fwdStep.push(`${II}let j${t} = min(j0 + ${t}u, P.S - 1u);`);
    fwdStep.push(`${II}let in${t} = j0 + ${t}u < jend;`);
    for (const c of cs) fwdStep.push(`${II}let k${t}_${c} = K[(n * P.S + j${t}) * D4 + ${c}u];`);
    for (const e of es) fwdStep.push(`${II}let v${t}_${e} = V[(n * P.S + j${t}) * DV4 + ${e}u];`);
    if (maskMode === 1) fwdStep.push(`${II}let b${t} = bias(n, 0u, j${t});`);
  }
  for (const r of rs) {
    for (const t of ts) {
      const b = maskMode === 0 ? null : maskMode === 1 ? `b${t}` : `b${r}_${t}`;
      if (maskMode === 2) fwdStep.push(`${II}let b${r}_${t} = bias(n, i${r}, j${t});`);
      const s = dot((c) => `q${r}_${c}`, (c) => `k${t}_${c}`, cs);
      fwdStep.push(`${II}let s${r}_${t} = ${b ? `${b} + ` : ""}${s};`);
      fwdStep.push(`${II}let ok${r}_${t} = ${ok(r, `j0 + ${t}u`, b, `in${t}`)};`);
    }
    const cand = ts.map((t) => `select(m${r}, s${r}_${t}, ok${r}_${t})`);
    fwdStep.push(`${II}let mn${r} = ${cand.reduce((a, c) => `max(${a}, ${c})`, `m${r}`)};`);
    fwdStep.push(`${II}let al${r} = exp(m${r} - mn${r});`);
    for (const t of ts) {
      fwdStep.push(`${II}let p${r}_${t} = select(0.0, exp(s${r}_${t} - mn${r}), ok${r}_${t});`);
    }
    fwdStep.push(`${II}l${r} = l${r} * al${r} + ${sum(ts.map((t) => `p${r}_${t}`))};`);
    for (const e of es) {
      const acc = ts.reduce((a, t) => `fma(vec4f(p${r}_${t}), v${t}_${e}, ${a})`, `a${r}_${e} * al${r}`);
      fwdStep.push(`${II}a${r}_${e} = ${acc};`);
    }
    fwdStep.push(`${II}m${r} = mn${r};`);
    // a row that saw no key (l = 0) gets NaN, as PyTorch's softmax of all −∞
    fwdStore.push(`${I}if (i${r} < P.L) {`);
    fwdStore.push(`${II}let inv${r} = select(1.0 / l${r}, nan_f32(), l${r} == 0.0);`);
    for (const e of es) fwdStore.push(`${II}OUT1[qr${r} * DV4 + ${e}u] = a${r}_${e} * inv${r};`);
    fwdStore.push(`${II}STATS[qr${r}] = select(m${r} + log(l${r}), nan_f32(), l${r} == 0.0);`);
    fwdStore.push(`${I}}`);
  }

  const bqInit: string[] = [], bqStep: string[] = [], bqStore: string[] = [];
  for (const r of rs) {
    bqInit.push(...rowDecl(r), ...loadQ(r));
    for (const e of es) bqInit.push(`${I}let g${r}_${e} = DO[qr${r} * DV4 + ${e}u];`);
    bqInit.push(`${I}let delta${r} = ${dot((e) => `g${r}_${e}`, (e) => `OUT2[qr${r} * DV4 + ${e}u]`, es)};`);
    bqInit.push(`${I}let lse${r} = STATS[qr${r}];`);
    for (const c of cs) bqInit.push(`${I}var dq${r}_${c} = vec4f(0.0);`);
  }
  for (const c of cs) bqStep.push(`${II}let k${c} = K[(n * P.S + j) * D4 + ${c}u];`);
  for (const e of es) bqStep.push(`${II}let v${e} = V[(n * P.S + j) * DV4 + ${e}u];`);
  if (maskMode === 1) bqStep.push(`${II}let b = bias(n, 0u, j);`);
  for (const r of rs) {
    const b = maskMode === 0 ? null : maskMode === 1 ? "b" : `b${r}`;
    if (maskMode === 2) bqStep.push(`${II}let b${r} = bias(n, i${r}, j);`);
    bqStep.push(`${II}let s${r} = ${b ? `${b} + ` : ""}${dot((c) => `q${r}_${c}`, (c) => `k${c}`, cs)};`);
    bqStep.push(`${II}let p${r} = select(0.0, exp(s${r} - lse${r}), ${ok(r, "j", b, null)});`);
    bqStep.push(
      `${II}let ds${r} = p${r} * (${dot((e) => `g${r}_${e}`, (e) => `v${e}`, es)} - delta${r});`,
    );
    for (const c of cs) bqStep.push(`${II}dq${r}_${c} = fma(vec4f(ds${r}), k${c}, dq${r}_${c});`);
    bqStore.push(`${I}if (i${r} < P.L) {`);
    bqStore.push(`${II}STATS[P.N * P.L + qr${r}] = delta${r};`);
    for (const c of cs) bqStore.push(`${II}OUT1[qr${r} * D4 + ${c}u] = dq${r}_${c} * P.scale;`);
    bqStore.push(`${I}}`);
  }

  const kvInit: string[] = [], kvStep: string[] = [], kvStore: string[] = [];
  for (const r of rs) {
    kvInit.push(`${I}let j${r} = jb + ${r}u;`, `${I}let kr${r} = n * P.S + min(j${r}, P.S - 1u);`);
    for (const c of cs) kvInit.push(`${I}let k${r}_${c} = K[kr${r} * D4 + ${c}u] * P.scale;`);
    for (const e of es) kvInit.push(`${I}let v${r}_${e} = V[kr${r} * DV4 + ${e}u];`);
    if (maskMode === 1) kvInit.push(`${I}let b${r} = bias(n, 0u, min(j${r}, P.S - 1u));`);
    for (const c of cs) kvInit.push(`${I}var dk${r}_${c} = vec4f(0.0);`);
    for (const e of es) kvInit.push(`${I}var dv${r}_${e} = vec4f(0.0);`);
  }
  kvStep.push(`${II}let qr = n * P.L + i;`);
  for (const c of cs) kvStep.push(`${II}let q${c} = Q[qr * D4 + ${c}u];`);
  for (const e of es) kvStep.push(`${II}let g${e} = DO[qr * DV4 + ${e}u];`);
  kvStep.push(`${II}let lse = STATS[qr];`, `${II}let delta = STATS[P.N * P.L + qr];`);
  for (const r of rs) {
    const b = maskMode === 0 ? null : `b${r}`;
    if (maskMode === 2) kvStep.push(`${II}let b${r} = bias(n, i, min(j${r}, P.S - 1u));`);
    kvStep.push(`${II}let s${r} = ${b ? `${b} + ` : ""}${dot((c) => `q${c}`, (c) => `k${r}_${c}`, cs)};`);
    const okr = [causal ? `j${r} <= i` : null, b ? `!masked(${b})` : null].filter((x) => x).join(" && ") ||
      "true";
    kvStep.push(`${II}let p${r} = select(0.0, exp(s${r} - lse), ${okr});`);
    for (const e of es) kvStep.push(`${II}dv${r}_${e} = fma(vec4f(p${r}), g${e}, dv${r}_${e});`);
    kvStep.push(`${II}let ds${r} = p${r} * (${dot((e) => `g${e}`, (e) => `v${r}_${e}`, es)} - delta);`);
    for (const c of cs) kvStep.push(`${II}dk${r}_${c} = fma(vec4f(ds${r}), q${c}, dk${r}_${c});`);
    kvStore.push(`${I}if (j${r} < P.S) {`);
    for (const c of cs) kvStore.push(`${II}OUT1[kr${r} * D4 + ${c}u] = dk${r}_${c} * P.scale;`);
    for (const e of es) kvStore.push(`${II}OUT2[kr${r} * DV4 + ${e}u] = dv${r}_${e};`);
    kvStore.push(`${I}}`);
  }
  const code = {
    FWD_INIT: fwdInit.join("\n"),
    FWD_STEP: fwdStep.join("\n"),
    FWD_STORE: fwdStore.join("\n"),
    BQ_INIT: bqInit.join("\n"),
    BQ_STEP: bqStep.join("\n"),
    BQ_STORE: bqStore.join("\n"),
    KV_INIT: kvInit.join("\n"),
    KV_STEP: kvStep.join("\n"),
    KV_STORE: kvStore.join("\n"),
  };
  rowsCode.set(key, code);
  return code;
}
