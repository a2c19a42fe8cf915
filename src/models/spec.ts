/**
 * What a model built from the registry is: its architecture's name and the configuration it was
 * built with, remembered per model (so a checkpoint can record them). Kept apart from the
 * registry so the architectures' own modules can tag what they build without importing it.
 */
import type { Module } from "../nn/module.ts";

/** A model's architecture and the configuration it was built with. */
export interface ModelSpec {
  /** The registered name, e.g. "seed-cnn". */
  architecture: string;
  /** What the architecture's builder was given, e.g. { classes: 10 }. */
  config: Record<string, number | string | boolean>;
}

const specs = new WeakMap<Module, ModelSpec>();

/** @internal Records what `model` is (`createModel` and `sequentialModel` call this). */
export function rememberSpec(model: Module, spec: ModelSpec): void {
  specs.set(model, { architecture: spec.architecture, config: { ...spec.config } });
}

/**
 * What a model built by `createModel` is (undefined for a model built by hand).
 *
 * @example
 * ```ts
 * import { createModel, Linear, modelSpec } from "glassbox";
 * if (modelSpec(createModel("tabular-mlp", { features: 3 }))?.config.features !== 3) throw new Error("lost");
 * if (modelSpec(new Linear(2, 2)) !== undefined) throw new Error("a hand-built model has no spec");
 * ```
 */
export function modelSpec(model: Module): ModelSpec | undefined {
  return specs.get(model);
}
