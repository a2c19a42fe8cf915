/**
 * One policy for kernels compiled per shape: specialise only when the work pays for the compile.
 *
 * Some kernels take their geometry as compile-time constants and straight-line unrolled code (the
 * implicit-GEMM convolution shaders/conv_gemm.wgsl, the fused recurrent sequences
 * shaders/lstm_sequence*.wgsl and gru_sequence*.wgsl, attention's rows kernel
 * shaders/attention_rows.wgsl): every new shape compiles a new pipeline. On llvmpipe that compile
 * is the dominant cost of a small launch: measured (tests/onnx_save_test.ts, under load) 17
 * conv_gemm pipelines took 10.8 s of host time in createComputePipeline alone, about 0.63 s each,
 * and the LLVM code generation that follows at the first dispatch roughly as much again, while the
 * launches themselves took milliseconds. Each of those kernels has a generic counterpart that reads
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
 * kernel under "auto". A specialised kernel costs about 1-2 s of compile on llvmpipe and runs
 * at most about 2x faster than its generic counterpart (conv 64×32×14×14→64: 55 ms implicit GEMM
 * against 67 ms im2col + matmul in the bench before issue 21), so it pays only for a shape that
 * is launched with much work, which is what a benchmark or a real training run does: every
 * workload in `deno task bench` launches at least 8 MFLOP per kernel (the smallest: attention
 * B 8, S 64, 4 heads of 16, 8.4 MFLOP forward; conv 64×1×28×28→32, 29 MFLOP), while the test
 * suite's layers are a few images of a few channels (the median conv launch of
 * tests/onnx_save_test.ts and tests/resnet_rgb_test.ts is under 1 MFLOP). 4 MFLOP sits between.
 */
export const SPECIALISE_MIN_FLOPS = 8e6;

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
