/**
 * A convolution with its epilogue as one op: conv2d + bias → activation (→ 2×2 max pool).
 *
 * Inference (no gradient recorded), with fusion on and the "cpu" kernel family: one kernel
 * (shaders/conv_gemm.wgsl) that writes only the final output. When a gradient will be needed the
 * convolution stays a node of its own (`conv2d`, with its backward pass) and one more kernel
 * (shaders/conv_act_pool.wgsl) does the activation and pool, keeping per pooled output only the
 * winner's position and sign; its backward is one gather. Otherwise (fusion off, the "gpu"
 * kernel family, a shape the kernel does not cover, too little work to pay for its compile:
 * `specialiseFor`) it is the plain composition of conv2d,
 * relu/leakyRelu and maxPool2d, so every switch gives the same numbers.
 */
import { kernelPath } from "../../gpu/device.ts";
import { gpuSettings } from "../../gpu/settings.ts";
import { isGradEnabled, record } from "../graph.ts";
import { own, type Tensor } from "../tensor.ts";
import { conv2d, type Conv2dOptions, convGeometry, maxPool2d } from "./conv.ts";
import {
  actPool,
  actPoolBackward,
  type ConvActivation,
  convGemm,
  convGemmChain,
  convGemmRuns,
  type ConvGeometry,
} from "./conv_gemm.ts";
import { leakyRelu, relu } from "./elementwise.ts";

/** Options for `conv2dFused`: the convolution's, and what follows it. */
export interface Conv2dFusedOptions extends Conv2dOptions {
  /** The activation after the bias (default "relu"). */
  activation?: "none" | "relu" | "leakyRelu";
  /** The negative slope of "leakyRelu" (default 0.01, as `leakyRelu`). */
  slope?: number;
  /** Whether a 2×2 max pool with stride 2 and no padding follows the activation (default false). */
  pool?: boolean;
}

function activate(z: Tensor, activation: ConvActivation, slope: number): Tensor {
  if (activation === "relu") return relu(z);
  if (activation === "leakyRelu") return leakyRelu(z, slope);
  return z;
}

/**
 * `maxPool2d(act(conv2d(x, weight, bias, options)), 2)` (or without the pool) as one op: the same
 * numbers, the same gradients with respect to x, weight and bias, in fewer passes over memory.
 * act is "relu" (default), "leakyRelu" or "none"; leakyRelu with a pool needs a slope > 0 (a
 * monotonic activation commutes with the max) and runs unfused otherwise.
 *
 * @example
 * ```ts
 * import { conv2d, conv2dFused, maxPool2d, randn, relu } from "glassbox";
 * const x = randn([2, 1, 9, 9]), w = randn([4, 1, 3, 3]), b = randn([4]);
 * const y = conv2dFused(x, w, b, { activation: "relu", pool: true }); // [2, 4, 3, 3]
 * const ref = maxPool2d(relu(conv2d(x, w, b)), 2);
 * const [a, r] = [await y.toArray(), await ref.toArray()];
 * if (a.some((v, i) => Math.abs(v - r[i]) > 1e-5)) throw new Error("conv2dFused");
 * ```
 */
export function conv2dFused(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: Conv2dFusedOptions = {},
): Tensor {
  const op = "conv2dFused";
  const { activation = "relu", slope = 0.01, pool = false, ...convOptions } = options;
  if (!["none", "relu", "leakyRelu"].includes(activation)) {
    throw new Error(
      `${op}: activation must be "none", "relu" or "leakyRelu", got ${JSON.stringify(activation)}`,
    );
  }
  if (typeof slope !== "number" || !Number.isFinite(slope)) {
    throw new Error(`${op}: slope must be a finite number, got ${slope}`);
  }
  const g = convGeometry(op, x, weight, bias, convOptions);
  if (pool && (g.OH < 2 || g.OW < 2)) {
    throw new Error(`${op}: the convolution's output ${g.OH}×${g.OW} is too small for a 2×2 pool`);
  }
  const fused = gpuSettings().fusion && kernelPath() === "cpu" && convGemmRuns(g, pool) &&
    !(pool && activation === "leakyRelu" && !(slope > 0));
  if (!fused) {
    // the composition, op by op (intermediates freed when no gradient will read them)
    const z = conv2d(x, weight, bias, convOptions);
    const a = activate(z, activation, slope);
    if (!pool) return a;
    const y = maxPool2d(a, 2);
    if (!a.requiresGrad) {
      if (a !== z) a.dispose();
      z.dispose();
    }
    return y;
  }
  const name = `conv2d+${activation}${pool ? "+maxPool2d" : ""}`;
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (!(isGradEnabled() && inputs.some((t) => t.requiresGrad))) {
    // inference: one kernel, only the final output written
    const { y } = convGemm(x, weight, bias, g, { activation, slope, pool });
    return record(y, name, inputs, () => {
      throw new Error(`internal: ${name} recorded without a gradient`);
    });
  }
  // a gradient will be needed: conv2d keeps its own node and backward pass; the epilogue follows
  const z = conv2d(x, weight, bias, convOptions);
  if (!pool) return activate(z, activation, slope);
  const { y, idx } = actPool(z, activation, slope);
  const zShape = z.shape;
  const out = record(y, name, [z], (dy) => [actPoolBackward(dy, idx, zShape, activation, slope)], []);
  own(out, idx); // the winners live exactly as long as the output
  z.dispose(); // the graph keeps z's node; its values are not read again
  return out;
}

/** One convolution of a `conv2dFusedChain`: its parameters and `conv2dFused` options. */
export interface ConvChainLink {
  weight: Tensor;
  bias: Tensor | null;
  options: Conv2dFusedOptions;
}

/**
 * @internal `conv2dFused(conv2dFused(x, a…), b…)` as a chain when both would run as the one
 * inference kernel (fusion on, the "cpu" kernel family, no gradient to record, a shape the kernel
 * takes): the first's epilogue writes the second's packed input directly (`convGemmChain`), so
 * the intermediate is never a tensor (the caller must not need it: no hooks). Null when the chain
 * does not apply; the caller then runs the two ops one by one (which also reports bad input).
 */
export function conv2dFusedChain(x: Tensor, a: ConvChainLink, b: ConvChainLink): Tensor | null {
  if (!gpuSettings().fusion || kernelPath() !== "cpu") return null;
  const inputs = [x, a.weight, b.weight, ...(a.bias ? [a.bias] : []), ...(b.bias ? [b.bias] : [])];
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) return null;
  const link = (l: ConvChainLink, input: Tensor | number[]) => {
    const { activation = "relu", slope = 0.01, pool = false, ...convOptions } = l.options;
    if (!["none", "relu", "leakyRelu"].includes(activation) || !Number.isFinite(slope)) return null;
    if (pool && activation === "leakyRelu" && !(slope > 0)) return null;
    // a shape the op would reject is left to the unchained path to report
    if (l.bias && l.bias.dtype !== "float32") return null;
    let g: ConvGeometry;
    try {
      g = convGeometry("conv2dFused", input, l.weight, l.bias, convOptions);
    } catch {
      return null;
    }
    if (pool && (g.OH < 2 || g.OW < 2)) return null;
    if (!convGemmRuns(g, pool)) return null;
    return { weight: l.weight, bias: l.bias, g, epi: { activation, slope, pool } };
  };
  const first = link(a, x);
  if (!first) return null;
  const { g: g1, epi } = first;
  const mid = [
    g1.N,
    g1.Cout,
    epi.pool ? Math.floor(g1.OH / 2) : g1.OH,
    epi.pool ? Math.floor(g1.OW / 2) : g1.OW,
  ];
  const second = link(b, mid);
  if (!second) return null;
  const y = convGemmChain(x, first, second);
  if (!y) return null;
  const e2 = second.epi;
  return record(y, `conv2d+${e2.activation}${e2.pool ? "+maxPool2d" : ""} (chained)`, inputs, () => {
    throw new Error("internal: a conv chain recorded without a gradient");
  });
}
