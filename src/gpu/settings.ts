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
}

const settings: GpuSettings = { printShaders: false, backend: "default" };

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
  Object.assign(settings, change);
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
