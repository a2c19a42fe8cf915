/**
 * The loop budget of one shader invocation.
 *
 * Mesa's llvmpipe (lavapipe, and the GL path on the same machine) guards against infinite
 * loops with one counter per invocation (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS = 65,535): every
 * loop iteration of every loop the invocation runs decrements it, and at zero every loop exits
 * early, silently. Measured on Deno 2.9.6 + llvmpipe (LLVM 15), with Vulkan and with
 * DENO_WEBGPU_BACKEND=gl alike: `for`, `while` and `loop {}` all stop at 65,535 steps; two loops
 * of 60,000 in a row run 65,534 steps in total; 300 × 300 nested runs 65,101 inner steps (the
 * outer steps count too); 70,000 × 1 nested runs 21,845 (three counted steps per outer step).
 * So the budget is per invocation, not per loop: splitting a loop into nested blocks does not
 * help. Kernels whose loop counts grow with the data either bound the work per invocation on
 * the host (more invocations or passes: reduce, matmul) or have the host refuse the shape on
 * such an adapter with {@link checkLoopSteps} (never a silent wrong number). A real GPU has no
 * such counter, and the refusals apply only on llvmpipe.
 */
import { adapterInfo } from "./device.ts";

/** llvmpipe's per-invocation loop budget (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS). */
export const LLVMPIPE_LOOP_STEPS = 65535;

/**
 * What a kernel may plan for one invocation anywhere: comfortably under llvmpipe's budget, so
 * bookkeeping loops (lane tails, tree steps) still fit. Host-side chunking uses it on every
 * adapter, so results are the same on a GPU and on llvmpipe.
 */
export const LOOP_STEPS_PER_INVOCATION = 32768;

let cached: number | null = null;

/** The adapter's loop budget per invocation: 65,535 on llvmpipe, unlimited elsewhere. */
export function loopStepLimit(): number {
  if (cached === null) {
    const d = adapterInfo().description.toLowerCase();
    cached = /llvmpipe|lavapipe|softpipe/.test(d) ? LLVMPIPE_LOOP_STEPS : Infinity;
  }
  return cached;
}

/**
 * Throws, naming the kernel, when one invocation would run more loop steps than the adapter
 * allows (see the module comment), instead of letting llvmpipe cut the loop short.
 */
export function checkLoopSteps(kernel: string, steps: number, what: string): void {
  const limit = loopStepLimit();
  if (steps > limit) {
    throw new Error(
      `${kernel}: ${what} needs ${steps} loop steps in one shader invocation, but this adapter ` +
        `(llvmpipe) stops every invocation's loops after ${limit} steps, which would give wrong ` +
        `numbers; use a smaller size here or a GPU`,
    );
  }
}
