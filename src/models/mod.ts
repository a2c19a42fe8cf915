/** Models by name: the registry and the architectures glassbox ships. */
export { architectures, createModel, type ModelSpec, modelSpec, registerArchitecture } from "./registry.ts";
export { seedCnn, smallCamCnn, studentCnn, tabularMlp } from "./zoo.ts";
export { SmallResNet, smallResNet, type SmallResNetConfig } from "./resnet.ts";
export {
  RecurrentTagger,
  type RecurrentTaggerConfig,
  TokenTransformer,
  type TokenTransformerConfig,
} from "./sequence.ts";
export { buildSequential, describeSequential, type LayerSpec, sequentialModel } from "./sequential_spec.ts";
export { cloneModel } from "./clone.ts";
export {
  type ExplanationProfile,
  type Modality,
  PROFILE_KEY,
  profileFromMetadata,
  profileMetadata,
  validateProfile,
} from "./profile.ts";
