/**
 * Architectures by name: a model built by `createModel` remembers its architecture and
 * configuration, so a checkpoint can record them and `loadModel` can rebuild the model from
 * the file alone.
 */
import type { Module } from "../nn/module.ts";

/** A model's architecture and the configuration it was built with. */
export interface ModelSpec {
  /** The registered name, e.g. "seed-cnn". */
  architecture: string;
  /** What the architecture's builder was given, e.g. { classes: 10 }. */
  config: Record<string, number | string | boolean>;
}

interface Architecture {
  build: (config: Record<string, number | string | boolean>) => Module;
  description: string;
}

const registry = new Map<string, Architecture>();
const specs = new WeakMap<Module, ModelSpec>();

/**
 * Adds an architecture to the registry (glassbox's own are registered when mod.ts loads).
 *
 * @example
 * ```ts
 * import { Linear, registerArchitecture } from "glassbox";
 * registerArchitecture("probe", (c) => new Linear(Number(c.inputs ?? 4), 2), "a linear probe");
 * ```
 */
export function registerArchitecture(
  name: string,
  // deno-lint-ignore no-explicit-any
  build: (config: any) => Module,
  description = "",
): void {
  if (registry.has(name)) throw new Error(`an architecture named "${name}" is already registered`);
  registry.set(name, { build, description });
}

/** The registered architectures with their descriptions. */
export function architectures(): { name: string; description: string }[] {
  return [...registry].map(([name, a]) => ({ name, description: a.description }));
}

/**
 * Builds a registered architecture; the model remembers what it is (for `saveModel`).
 *
 * @example
 * ```ts
 * import { createModel } from "glassbox";
 * const model = createModel("tabular-mlp", { features: 20 });
 * ```
 */
export function createModel(architecture: string, config: ModelSpec["config"] = {}): Module {
  const a = registry.get(architecture);
  if (!a) {
    throw new Error(
      `unknown architecture "${architecture}"; the known ones are ${[...registry.keys()].join(", ")}`,
    );
  }
  const model = a.build(config);
  specs.set(model, { architecture, config: { ...config } });
  return model;
}

/** What a model built by `createModel` is (undefined for a model built by hand). */
export function modelSpec(model: Module): ModelSpec | undefined {
  return specs.get(model);
}
