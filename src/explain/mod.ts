/**
 * Attribution: which inputs and internal units drove an output, with Captum's classes, names and
 * numbers on the GPU: gradient methods (Saliency, InputXGradient, IntegratedGradients, DeepLift,
 * GradientShap, NoiseTunnel), layer and CAM methods (LayerConductance, GradCAM and its family),
 * perturbation methods (Occlusion, FeatureAblation, KernelShap, Lime), the checks of an
 * explanation (infidelity, sensitivityMax, deletion and insertion curves), the method registry
 * the programs share (`attributionMethods`) and explanation by example (`NeighbourIndex`).
 *
 * @example
 * ```ts
 * import { Linear, tensor } from "glassbox/engine";
 * import { IntegratedGradients, Saliency } from "glassbox/explain";
 * const model = new Linear(3, 2);
 * const x = tensor([[1, -2, 0.5]]);
 * const w = await model.weight.toArray(); // [2, 3] row-major: row 1 is w[3..5]
 * // a linear model's gradient is its weight row, so Saliency of output 1 is |W₁|
 * const saliency = await (await new Saliency(model).attribute(x, { target: 1 })).toArray();
 * // and Integrated Gradients from a zero baseline is exactly x · W₁, summing to y₁(x) − y₁(0)
 * const ig = await (await new IntegratedGradients(model).attribute(x, { target: 1 })).toArray();
 * [1, -2, 0.5].forEach((xi, i) => {
 *   if (Math.abs(saliency[i] - Math.abs(w[3 + i])) > 1e-6) throw new Error(`saliency ${saliency}`);
 *   if (Math.abs(ig[i] - xi * w[3 + i]) > 1e-5) throw new Error(`integrated gradients ${ig}`);
 * });
 * ```
 * @module
 */
export { type AttributeOptions, Attribution, type Baseline } from "./attribution.ts";
export { outputIndex, type Target, targetScores } from "./target.ts";
export { InputXGradient, Saliency, type SaliencyOptions } from "./gradient.ts";
export {
  type AttributionWithDelta,
  gaussLegendre,
  IntegratedGradients,
  type IntegratedGradientsOptions,
  type IntegrationMethod,
  integrationPoints,
} from "./integrated_gradients.ts";
export { type AttributionMethod, NoiseTunnel, type NoiseTunnelOptions } from "./noise_tunnel.ts";
export { Deconvolution, GuidedBackprop, ReluRuleAttribution } from "./relu_rules.ts";
export { DeepLift, type DeepLiftOptions } from "./deeplift.ts";
export { GradientShap, type GradientShapOptions } from "./gradient_shap.ts";
export { LayerActivation, LayerAttribution, LayerGradientXActivation } from "./layer.ts";
export {
  AblationCAM,
  CamAttribution,
  type CamOptions,
  EigenCAM,
  GradCAM,
  GradCAMPlusPlus,
  GuidedGradCAM,
  HiResCAM,
  LayerCAM,
  ScoreCAM,
  XGradCAM,
} from "./cam.ts";
export {
  FeatureAblation,
  type FeatureAblationOptions,
  type FeatureMask,
  FeaturePermutation,
  type FeaturePermutationOptions,
  Occlusion,
  type OcclusionOptions,
} from "./perturbation.ts";
export {
  KernelShap,
  type KernelShapOptions,
  Lime,
  type LimeOptions,
  type SurrogateOptions,
  weightedLasso,
} from "./surrogate.ts";
export {
  type Curve,
  type CurveOptions,
  deletionCurve,
  type ExplanationFunction,
  infidelity,
  type InfidelityOptions,
  insertionCurve,
  randomAttribution,
  randomizationCheck,
  type RandomizationStep,
  sensitivityMax,
  spearman,
} from "./metrics.ts";
export {
  LayerConductance,
  LayerIntegratedGradients,
  type LayerIntegratedOptions,
} from "./layer_integrated.ts";
export {
  type Visualization,
  visualizeFeature,
  type VisualizeOptions,
  type VisualObjective,
} from "./feature_viz.ts";
export {
  attributionMethod,
  attributionMethods,
  type CostClass,
  defaultMethods,
  type MethodOptions,
  type MethodSpec,
} from "./methods.ts";
export {
  nearestNeighbours,
  NeighbourIndex,
  type NeighbourIndexOptions,
  type NeighbourMetric,
  type Neighbours,
  type NeighbourSearchOptions,
} from "./neighbours.ts";
export { ablateChannels, type ChannelAblation } from "./channel_ablation.ts";
// The engine types the attribution API takes and returns, so that this entry point
// (`@glassbox/glassbox/explain`) is usable on its own.
export type { DType, RemovableHandle, Tensor, TensorGradHook } from "../tensor/tensor.ts";
export type { BackwardHook, ForwardHook, ForwardPreHook, Module } from "../nn/module.ts";
export type { ExplanationProfile, Modality } from "../models/profile.ts";
