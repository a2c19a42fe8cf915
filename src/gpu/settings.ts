/**
 * The engine's switches, set by the host rather than read from it: the engine never touches
 * the environment (it runs in a browser too). Under Deno, importing glassbox's mod.ts reads
 * them from environment variables (src/io/env.ts); a page sets them with `configureGpu`.
 */

/** What the engine can be told. */
export interface GpuSettings {
  /** Print every shader as compiled (constants filled, includes pasted) to the console's error stream. */
  printShaders: boolean;
  /** The backend the host chose, for reports only (Deno: DENO_WEBGPU_BACKEND; "default" otherwise). */
  backend: string;
  /**
   * Whether ops may be fused into one generated kernel (elementwise chains, a convolution's bias,
   * activation and pooling). On by default; off runs every op as its own kernel, for debugging
   * (Deno: GLASSBOX_FUSION=0). Results agree to float32 rounding either way.
   */
  fusion: boolean;
  /**
   * Which family of kernels to run: "cpu" (large register tiles and no workgroup memory, for a
   * software adapter that runs a workgroup's invocations as SIMD lanes of a CPU), "gpu"
   * (workgroup-memory tiles, for a real GPU) or "auto" (chosen from the adapter: see
   * `kernelPath()`). Deno: GLASSBOX_KERNELS=cpu|gpu|auto.
   */
  kernels: "auto" | "cpu" | "gpu";
  /**
   * Whether kernels compiled per shape (geometry as compile-time constants, unrolled code: the
   * implicit-GEMM convolution, the fused recurrent sequences, attention's rows kernel) run:
   * "auto" only for launches with enough work to pay for their compile (see
   * `specialiseFor` in src/gpu/specialise.ts), "always", or "never" (the generic kernels, the
   * geometry in their uniforms: one pipeline for every shape). Results agree to float32
   * rounding either way. Deno: GLASSBOX_SPECIALISE=auto|always|never.
   */
  specialise: "auto" | "always" | "never";
}

const settings: GpuSettings = {
  printShaders: false,
  backend: "default",
  fusion: true,
  kernels: "auto",
  specialise: "auto",
};
/** @internal the values `kernels` takes (the host's reader checks an environment value against them). */
export const KERNEL_CHOICES: readonly GpuSettings["kernels"][] = ["auto", "cpu", "gpu"];
/** @internal the values `specialise` takes. */
export const SPECIALISE_CHOICES: readonly GpuSettings["specialise"][] = ["auto", "always", "never"];
/** Switches the host could not set (Deno: an environment variable with a bad value), by setting. */
const hostErrors = new Map<string, string>();

/**
 * @internal Records that the host could not set switch `key` (Deno: src/io/env.ts, for an
 * environment variable with a bad value; the switch keeps its default). The first use of the GPU
 * (`device()`) then throws `message`, as it does for a missing adapter, so importing the library
 * never fails and a script under `runMain` reports it as one line, exit 2. Setting `key` through
 * `configureGpu` clears it.
 */
export function reportSettingError(key: keyof GpuSettings, message: string): void {
  hostErrors.set(key, message);
}

/** @internal The first switch the host could not set, or null (see `reportSettingError`). */
export function settingError(): string | null {
  for (const m of hostErrors.values()) return m;
  return null;
}

/**
 * Changes some of the engine's switches (the others keep their values).
 *
 * @example
 * ```ts
 * import { configureGpu, gpuSettings } from "glassbox";
 * const before = gpuSettings().printShaders;
 * configureGpu({ printShaders: true });
 * if (!gpuSettings().printShaders) throw new Error("not set");
 * configureGpu({ printShaders: before });
 * ```
 */
export function configureGpu(change: Partial<GpuSettings>): void {
  for (const [k, v] of Object.entries(change)) {
    if (!(k in settings)) {
      throw new Error(`configureGpu: unknown setting ${k} (known: ${Object.keys(settings).join(", ")})`);
    }
    if (typeof v !== typeof settings[k as keyof GpuSettings]) {
      throw new Error(
        `configureGpu: ${k} must be a ${typeof settings[k as keyof GpuSettings]}, got ${typeof v}`,
      );
    }
  }
  if (change.kernels !== undefined && !KERNEL_CHOICES.includes(change.kernels)) {
    throw new Error(
      `configureGpu: kernels must be one of ${KERNEL_CHOICES.join(", ")}, got ${change.kernels}`,
    );
  }
  if (change.specialise !== undefined && !SPECIALISE_CHOICES.includes(change.specialise)) {
    throw new Error(
      `configureGpu: specialise must be one of ${SPECIALISE_CHOICES.join(", ")}, got ${change.specialise}`,
    );
  }
  Object.assign(settings, change);
  for (const k of Object.keys(change)) hostErrors.delete(k);
}

/**
 * The engine's switches as they are now (a copy).
 *
 * @example
 * ```ts
 * import { gpuSettings } from "glassbox";
 * typeof gpuSettings().backend; // "string"
 * ```
 */
export function gpuSettings(): GpuSettings {
  return { ...settings };
}
