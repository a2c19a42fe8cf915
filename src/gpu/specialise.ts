/**
 * One policy for kernels compiled per shape: specialise only when the work pays for the compile.
 *
 * Some kernels take their geometry as compile-time constants and straight-line unrolled code (the
 * implicit-GEMM convolution shaders/conv_gemm.wgsl, the fused recurrent sequences
 * shaders/lstm_sequence*.wgsl and gru_sequence*.wgsl, attention's rows kernel
 * shaders/attention_rows.wgsl): every new shape compiles a new pipeline. On llvmpipe that compile
 * is the dominant cost of a small launch: measured (tests/onnx_save_test.ts, under load) 17
 * conv_gemm pipelines took 10.8 s of host time in createComputePipeline alone, about 0.63 s each,
 * and the LLVM code generation that lavapipe does at the first dispatch comes on top, while the
 * launches themselves took milliseconds (the file: 72 s, 17.6 s with this policy). Each of those kernels has a generic counterpart that reads
 * the geometry from its uniform (one pipeline for all shapes): im2col + the matmul for the
 * convolution, the per-step kernels for the recurrent cells, the composed product-softmax-product
 * for attention.
 *
 * "auto" specialises a launch whose work reaches `SPECIALISE_MIN_FLOPS`: see there for the
 * measurement behind the number. `configureGpu({ specialise: "always" | "never" })` (Deno:
 * GLASSBOX_SPECIALISE) forces either side, so tests run both.
 */
import { gpuSettings } from "./settings.ts";

/**
 * The floating-point work (a multiply-add counts 2) from which a launch takes the specialised
 * kernel under "auto". Measured on lavapipe (one process, conv2dFused + relu + 2×2 pool, padding 1,
 * machine under load): a conv_gemm pipeline costs 0.3-1 s of host compile plus the LLVM code
 * generation at its first dispatch, 1.7-8 s in all for its first call, against 0.06 s for the
 * generic kernels' first call (8×4×12×12→8); after that, at 0.66 MFLOP both take 14 ms (the
 * readback floor), at 6.2 MFLOP (1×32×13×13→64) 12.9 against 14.1 ms, at 28.9 MFLOP
 * (64×1×28×28→32) 16.0 against 27.9 ms: about 0.4 ms saved per MFLOP and launch, so a shape
 * pays for its compile only after thousands of MFLOP-launches, which a benchmark or a real
 * training run does at scale and a test does not. The line is drawn by size because the future
 * is unknown: the smallest launches of these kernels in `deno task bench` (shapes read from
 * bench/cnn.ts, sequence.ts, explain.ts, explain_models.ts, compress.ts) have 8.4 MFLOP (attention
 * B 8, S 64, 4 heads of 16, forward; the text classifier's 64 examples), the others more (conv
 * 64×1×28×28→32 29; the seed CNN's conv1 at the 50 rows of IG on one image 19.5), so the bench keeps
 * its specialised kernels, while the test suite's layers are a few images of a few channels
 * (tests/onnx_save_test.ts: 62 conv launches, median 0.08 MFLOP, 61 under 4.5). 6 MFLOP leaves a
 * margin under the bench's smallest.
 */
export const SPECIALISE_MIN_FLOPS = 6e6;

/**
 * Whether a launch of `flops` floating-point operations takes the kernel specialised for its
 * shape (compiled per shape) rather than the generic one, under the current setting.
 *
 * @example
 * ```ts
 * import { configureGpu, gpuSettings, specialiseFor } from "glassbox";
 * const before = gpuSettings().specialise;
 * configureGpu({ specialise: "never" });
 * if (specialiseFor(1e12)) throw new Error("never means never");
 * configureGpu({ specialise: before });
 * ```
 */
export function specialiseFor(flops: number): boolean {
  const mode = gpuSettings().specialise;
  if (mode === "always") return true;
  if (mode === "never") return false;
  return flops >= SPECIALISE_MIN_FLOPS;
}
