/**
 * Architectures by name: a model built by `createModel` remembers its architecture and
 * configuration, so a checkpoint can record them and `loadModel` can rebuild the model from
 * the file alone. The registry starts with the zoo's table (`ZOO`, glassbox's own
 * architectures), explicitly, not by a module's import side effect; users add theirs with
 * `registerArchitecture`.
 */
import type { Module } from "../nn/module.ts";
import { type ModelSpec, modelSpec, rememberSpec } from "./spec.ts";
import { type Architecture, ZOO } from "./zoo.ts";

export { type ModelSpec, modelSpec };

const registry = new Map<string, Architecture>(
  ZOO.map((a) => [a.name, { name: a.name, build: a.build, description: a.description }]),
);

/**
 * Adds an architecture to the registry (glassbox's own, the zoo's table `ZOO`, are there from
 * the start).
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
  registry.set(name, { name, build, description });
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
  rememberSpec(model, { architecture, config });
  return model;
}
