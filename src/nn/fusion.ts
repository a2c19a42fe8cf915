/**
 * @internal The layer-fusion rule: which runs of layers may run as one fused op, checked where a
 * container runs its children (Sequential.forward). One rule for every container.
 */
import { gpuSettings } from "../gpu/settings.ts";
import { conv2dFused, conv2dFusedChain, type Conv2dFusedOptions } from "../tensor/ops/conv_fused.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { LeakyReLU, ReLU } from "./activation.ts";
import { Conv2d, MaxPool2d } from "./conv.ts";
import type { Module } from "./module.ts";

/**
 * Whether `m` is an instance of exactly the class `C`, not of a subclass (which may have its own
 * forward, so a rule that replaces `C`'s computation must not take it).
 */
export function exactly<T>(m: unknown, C: new (...args: never[]) => T): m is T {
  return m instanceof C && (m as object).constructor === C;
}

/** Whether a module has no hook of any kind: nothing observes or replaces its inputs, output or gradients. */
export function unhooked(m: Module): boolean {
  const h = m.hookCounts();
  return h.forwardPre === 0 && h.forward === 0 && h.backward === 0;
}

const is2 = (v: number | readonly number[] | undefined, want: number) =>
  typeof v === "number" ? v === want : Array.isArray(v) && v.length === 2 && v[0] === want && v[1] === want;

/**
 * A Conv2d → ReLU or LeakyReLU (→ MaxPool2d(2) with stride 2, no padding) run starting at
 * `layers[i]`, as conv2dFused options and the number of layers it covers; null when there is no
 * such run, when fusion is off (`configureGpu({ fusion: false })`), or when any of its modules
 * has a hook (a hook must see each layer's own output: Grad-CAM, feature maps, tracking). Only
 * these exact classes qualify (a subclass may have its own forward).
 */
export function convFusionAt(
  layers: readonly Module[],
  i: number,
): { conv: Conv2d; options: Conv2dFusedOptions; length: number } | null {
  if (!gpuSettings().fusion) return null;
  const conv = layers[i], act = layers[i + 1], pool = layers[i + 2];
  if (!exactly(conv, Conv2d)) return null;
  let options: Conv2dFusedOptions;
  if (exactly(act, ReLU)) options = { activation: "relu" };
  else if (exactly(act, LeakyReLU)) {
    options = { activation: "leakyRelu", slope: act.slope };
  } else return null;
  if (!unhooked(conv) || !unhooked(act)) return null;
  const { stride, padding, dilation } = conv.options;
  options = { ...options, stride, padding, dilation };
  const pools = exactly(pool, MaxPool2d) && unhooked(pool) &&
    is2(pool.kernelSize, 2) && (pool.stride === undefined || is2(pool.stride, 2)) && is2(pool.padding, 0) &&
    (options.activation === "relu" || options.slope! > 0);
  return { conv, options: { ...options, pool: pools }, length: pools ? 3 : 2 };
}

/** Runs the fused op for a run found by `convFusionAt`. */
export function runConvFusion(run: { conv: Conv2d; options: Conv2dFusedOptions }, x: Tensor): Tensor {
  return conv2dFused(x, run.conv.weight, run.conv.bias, run.options);
}

/**
 * Runs two consecutive runs found by `convFusionAt` as one chain (`conv2dFusedChain`: the first's
 * output is written straight into the second's packed input, never a tensor, so only for runs
 * whose modules have no hooks, which `convFusionAt` ensures); null when the chain does not apply
 * (training, a shape the kernel does not take, …): then run them one by one.
 */
export function runConvChain(
  a: { conv: Conv2d; options: Conv2dFusedOptions },
  b: { conv: Conv2d; options: Conv2dFusedOptions },
  x: Tensor,
): Tensor | null {
  return conv2dFusedChain(
    x,
    { weight: a.conv.weight, bias: a.conv.bias, options: a.options },
    { weight: b.conv.weight, bias: b.conv.bias, options: b.options },
  );
}
