/**
 * Loads WGSL from shaders/, fills in `{{NAME}}` constants, compiles, and caches pipelines.
 *
 * A pipeline is keyed by shader file, entry point and constants, so each distinct kernel
 * compiles once per process. Compilation errors are caught with an error scope and reported
 * with the shader's name at the next synchronisation point (see `checkErrors`).
 */
import { device } from "./device.ts";
import { checkSpec, kernelSpec } from "./kernel_specs.ts";
import { gpuSettings } from "./settings.ts";
import { WGSL } from "./wgsl.gen.ts";

const sources = new Map<string, string>();
const pipelines = new Map<string, GPUComputePipeline>();
const pending: Promise<void>[] = [];
const checked = new Set<string>();

/** Counters of the pipeline cache a test or a dashboard can read (see `pipelineStats`). */
export interface PipelineStats {
  /** Distinct pipelines compiled in this process. */
  pipelines: number;
  /** Host milliseconds spent creating them (shader module and pipeline; on llvmpipe the LLVM compile). */
  compileMs: number;
  /** Requests served from the cache. */
  hits: number;
  /** The same, by shader file: pipelines compiled and milliseconds. */
  byShader: Record<string, { pipelines: number; compileMs: number }>;
}
const stats = { compileMs: 0, hits: 0 };
const byShader = new Map<string, { pipelines: number; compileMs: number }>();

/**
 * Registers WGSL source under a name, as if it were shaders/NAME.wgsl (for kernels written
 * outside this repository, and for tests).
 */
export function defineShader(name: string, source: string): void {
  if (sources.has(name)) throw new Error(`a shader named ${name} is already defined`);
  sources.set(name, source);
}

/**
 * The text of shaders/NAME.wgsl (cached), from the generated module wgsl.gen.ts (`deno task
 * shaders` writes it from shaders/, and a test fails when it is stale), so the engine needs no
 * file access and works from a URL or a bundle. A line `// #include "lib/x.wgsl"` is replaced
 * by that file's text: WGSL has no imports, and shared functions live in shaders/lib/.
 */
export function shaderSource(name: string): string {
  let src = sources.get(name);
  if (src === undefined) {
    src = WGSL[name];
    if (src === undefined) {
      throw new Error(
        `no shader ${name}.wgsl: not in shaders/ when src/gpu/wgsl.gen.ts was generated (run deno task shaders) nor given to defineShader`,
      );
    }
    src = src.replace(/^\/\/ #include "([\w/.-]+)\.wgsl"$/gm, (_, lib: string) => shaderSource(lib));
    sources.set(name, src);
  }
  return src;
}

/** Substitutes every `{{KEY}}` in a shader; an unfilled placeholder is an error. */
export function fillTemplate(name: string, src: string, constants: Record<string, string | number>): string {
  const out = src.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in constants)) {
      throw new Error(`shader ${name}.wgsl needs constant ${key}, which was not given`);
    }
    return String(constants[key]);
  });
  return out;
}

/** The compiled pipeline for a shader with the given constants (compiled once, then cached). */
export function pipeline(
  name: string,
  constants: Record<string, string | number> = {},
  entry = "main",
): GPUComputePipeline {
  const keys = Object.keys(constants).sort();
  const key = `${name}|${entry}|${keys.map((k) => `${k}=${constants[k]}`).join(";")}`;
  let p = pipelines.get(key);
  if (p) {
    stats.hits++;
    return p;
  }
  const dev = device();
  const raw = shaderSource(name);
  const spec = kernelSpec(name);
  if (spec && !checked.has(name)) {
    checkSpec(name, raw, spec);
    checked.add(name);
  }
  const code = fillTemplate(name, raw, constants);
  if (gpuSettings().printShaders) {
    // generated code passed as a constant (the fused kernels) is the text printed below, not repeated here
    const shown = Object.fromEntries(Object.entries(constants).filter(([, v]) => String(v).length <= 200));
    console.error(`// ---- ${name}.wgsl, entry ${entry}, ${JSON.stringify(shown)}\n${code}`);
  }
  dev.pushErrorScope("validation");
  const t0 = performance.now();
  const module = dev.createShaderModule({ code, label: name });
  p = dev.createComputePipeline({ layout: "auto", compute: { module, entryPoint: entry }, label: key });
  const ms = performance.now() - t0;
  stats.compileMs += ms;
  const per = byShader.get(name) ?? { pipelines: 0, compileMs: 0 };
  per.pipelines++;
  per.compileMs += ms;
  byShader.set(name, per);
  const short = (
    v: string | number,
  ) => (String(v).length > 24 ? String(v).slice(0, 21).trim() + "..." : String(v));
  const label = `${name}.wgsl (entry ${entry}${
    keys.length ? `, ${keys.map((k) => `${k}=${short(constants[k])}`).join(", ")}` : ""
  })`;
  // Deno reports WGSL parse errors through getCompilationInfo, pipeline errors through the scope
  const check = Promise.all([module.getCompilationInfo(), dev.popErrorScope()]).then(([info, err]) => {
    const msgs = info.messages.filter((m) => m.type === "error").map((m) =>
      `line ${m.lineNum}: ${m.message}`
    );
    if (msgs.length) throw new Error(`shader ${label} failed to compile:\n${msgs.join("\n")}`);
    if (err) throw new Error(`shader ${label} failed to compile: ${err.message}`);
  });
  check.catch(() => {}); // reported by checkCompileErrors() at the next sync
  pending.push(check);
  pipelines.set(key, p);
  return p;
}

/** Awaits outstanding compile checks; throws the first error with the shader's name. */
export async function checkCompileErrors(): Promise<void> {
  if (pending.length === 0) return;
  const list = pending.splice(0);
  await Promise.all(list);
}

/** How many distinct pipelines have been compiled. */
export function pipelineCount(): number {
  return pipelines.size;
}

/**
 * A snapshot of the pipeline cache's counters: pipelines compiled, the host time spent compiling
 * them, cache hits, and the same by shader file.
 *
 * @example
 * ```ts
 * import { pipelineStats, tensor } from "glassbox";
 * await tensor([1, 2]).add(tensor([3, 4])).toArray();
 * const s = pipelineStats();
 * if (s.pipelines < 1 || !(s.compileMs >= 0)) throw new Error("no pipeline counted");
 * ```
 */
export function pipelineStats(): PipelineStats {
  const shaders: PipelineStats["byShader"] = {};
  for (const [k, v] of byShader) shaders[k] = { ...v };
  return { pipelines: pipelines.size, compileMs: stats.compileMs, hits: stats.hits, byShader: shaders };
}
