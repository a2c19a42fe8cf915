/**
 * What glassbox reads from the environment under Deno, in one place: the engine itself never
 * touches it (it runs in a browser too), so importing mod.ts sets the engine's switches from
 * here. Every read first asks whether access is already granted, so nothing ever prompts: a
 * program run without `--allow-env` simply keeps the defaults.
 *
 * - GLASSBOX_PRINT_SHADERS=1: print every shader as compiled.
 * - GLASSBOX_FUSION=0: run every op as its own kernel (no fused kernels), for debugging.
 * - GLASSBOX_KERNELS=cpu|gpu|auto: force a kernel family (see `kernelPath`).
 * - GLASSBOX_SPECIALISE=auto|always|never: when shape-specialised kernels run (see `specialiseFor`).
 * - DENO_WEBGPU_BACKEND: reported by `adapterInfo().backend` (Deno itself reads it).
 * - XDG_RUNTIME_DIR: Mesa's drivers look for it when the adapter is requested and print
 *   "XDG_RUNTIME_DIR is invalid or not set" without it; when it is unset and glassbox may set
 *   it, it becomes /tmp before the adapter is requested (mod.ts imports this module first).
 */
import { configureGpu, KERNEL_CHOICES, reportSettingError, SPECIALISE_CHOICES } from "../gpu/settings.ts";

/** The value of an environment variable when reading it is allowed without asking, else undefined. */
export function envIfGranted(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * Sets XDG_RUNTIME_DIR to /tmp when it is unset and env access to it is granted; returns the
 * value in effect (undefined when it could not be read).
 *
 * @example
 * ```ts
 * import { defaultRuntimeDir } from "glassbox";
 * const dir = defaultRuntimeDir(); // e.g. "/tmp" (whatever was set, or the default)
 * if (dir !== undefined && dir.length === 0) throw new Error("empty");
 * ```
 */
export function defaultRuntimeDir(): string | undefined {
  if (typeof Deno === "undefined" || Deno.build.os !== "linux") return undefined;
  const now = envIfGranted("XDG_RUNTIME_DIR");
  if (now) return now;
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "XDG_RUNTIME_DIR" }).state !== "granted") {
      return undefined;
    }
    Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
    return "/tmp";
  } catch {
    return undefined;
  }
}

defaultRuntimeDir();
const fusionEnv = envIfGranted("GLASSBOX_FUSION");
const kernelsEnv = envIfGranted("GLASSBOX_KERNELS");
const specialiseEnv = envIfGranted("GLASSBOX_SPECIALISE");
/** `value` when it is one of `choices`, else "auto" (a bad value is reported below). */
const chosen = <T extends string>(value: string | undefined, choices: readonly T[]): T | "auto" =>
  choices.includes(value as T) ? value as T : "auto";
configureGpu({
  printShaders: Boolean(envIfGranted("GLASSBOX_PRINT_SHADERS")),
  backend: envIfGranted("DENO_WEBGPU_BACKEND") ?? "default",
  fusion: fusionEnv !== "0",
  kernels: chosen(kernelsEnv, KERNEL_CHOICES),
  specialise: chosen(specialiseEnv, SPECIALISE_CHOICES),
});
// a bad value is not an import error (a library must import): the first GPU use throws it, and
// runMain (src/io/cli.ts) prints it as one line, exit 2, before the script starts
if (fusionEnv !== undefined && !["0", "1"].includes(fusionEnv)) {
  reportSettingError("fusion", `GLASSBOX_FUSION must be 0 or 1, got ${JSON.stringify(fusionEnv)}`);
}
if (kernelsEnv !== undefined && !(KERNEL_CHOICES as readonly string[]).includes(kernelsEnv)) {
  reportSettingError(
    "kernels",
    `GLASSBOX_KERNELS must be cpu, gpu or auto, got ${JSON.stringify(kernelsEnv)}`,
  );
}
if (specialiseEnv !== undefined && !(SPECIALISE_CHOICES as readonly string[]).includes(specialiseEnv)) {
  reportSettingError(
    "specialise",
    `GLASSBOX_SPECIALISE must be auto, always or never, got ${JSON.stringify(specialiseEnv)}`,
  );
}
