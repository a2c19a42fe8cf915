/** Copies of a model: the same architecture and configuration, its own copy of every tensor. */
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { noGrad } from "../tensor/graph.ts";
import { createModel, modelSpec } from "./registry.ts";
import { describeSequential, sequentialModel } from "./sequential_spec.ts";
import { modelProfile, setProfile } from "./profile.ts";
import { OnnxModel } from "./onnx.ts";

/**
 * A new model with the same architecture, a copy of every parameter and buffer (so pruning or
 * fine-tuning the copy leaves the original alone) and the same explanation profile. The model must
 * come from `createModel` (any registered architecture), be a Sequential of standard layers (the
 * copy of such a Sequential is an architecture of the registry, "sequential") or come from `loadOnnx`.
 *
 * @example
 * ```ts
 * import { cloneModel, createModel } from "glassbox";
 * const model = createModel("seed-cnn");
 * const copy = cloneModel(model); // same weights, separate tensors
 * ```
 */
export function cloneModel<M extends Module>(model: M): M {
  const spec = modelSpec(model);
  let copy: Module;
  if (spec) copy = createModel(spec.architecture, spec.config);
  else if (model instanceof Sequential) copy = sequentialModel(describeSequential(model));
  else if (model instanceof OnnxModel) copy = model.copy();
  else {
    throw new Error(
      `cloneModel: a ${model.typeName} that createModel did not build cannot be rebuilt; build it with createModel`,
    );
  }
  noGrad(() => copy.loadStateDict(model.stateDict()));
  copy.train(model.training);
  const profile = modelProfile(model);
  if (profile) setProfile(copy, profile);
  return copy as M;
}
