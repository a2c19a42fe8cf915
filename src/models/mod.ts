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
export { type Architecture, ZOO } from "./zoo.ts";
export { modelProfile, setProfile } from "./profile.ts";
export { representationLayerOf } from "./profile.ts";
export { decodeModel, dequantizeFile, encodeModel, type LoadedModel } from "./persist.ts";
// The bytes format the models are saved in, as types, so the engine entry (src/engine.ts) names what
// dequantizeFile takes and returns.
export type { HostTensor, SafetensorsFile } from "../io/safetensors.ts";
export {
  exportOnnx,
  ONNX_OPSET,
  type OnnxAttribute as OnnxExportAttribute,
  onnxExportableTypes,
  type OnnxExportContext,
  type OnnxExporter,
  type OnnxExportOptions,
  type OnnxTrace,
  registerOnnxExporter,
} from "./onnx_export.ts";
export {
  buildOnnxModel,
  ONNX_OPS,
  type OnnxAttribute,
  type OnnxElementType,
  type OnnxGraph,
  OnnxModel,
  type OnnxNode,
  OnnxNodeModule,
  type OnnxTensor,
  type OnnxValueInfo,
} from "./onnx.ts";
export { ReadAllTokens, TextClassifier, type TextClassifierConfig } from "./text.ts";
export {
  type AutoencoderConfig,
  autoencoderProfile,
  bcePerExample,
  ConvAutoencoder,
  klDivergence,
  reparameterise,
  VAE,
  type VaeLoss,
  vaeLoss,
} from "./autoencoder.ts";
export {
  GanDiscriminator,
  type GanDiscriminatorConfig,
  ganDiscriminatorProfile,
  GanGenerator,
  type GanGeneratorConfig,
  ganGeneratorProfile,
  type GanKind,
} from "./gan.ts";
