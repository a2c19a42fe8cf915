/** Data: synthetic tabular problems, splits, standardisation, batching. */
export { type ClassificationOptions, makeClassification, type TabularData } from "./synthetic.ts";
export { type Batch, batches, type Split, Standardizer, trainTestSplit } from "./tabular.ts";
export { loadMnist, MNIST_MEAN, MNIST_STD, mnistDataset, type MnistSplit, parseMnist } from "./mnist.ts";
export { makePatternImages, type PatternImageOptions, type PatternImages } from "./patterns.ts";
export { makeDelayTask, makeReversalTask, type SequenceTask } from "./sequences.ts";
export { mnistProfile } from "./mnist.ts";
export {
  encodeWords,
  hashText,
  makeTextDataset,
  PAD,
  parseFortunes,
  type ParseFortunesOptions,
  type TextCollection,
  type TextDataset,
  type TextDatasetOptions,
  type TextSplit,
  tokenizeText,
  UNK,
} from "./fortunes.ts";
export {
  makeRgbPatternImages,
  type RgbPatternImages,
  type RgbPatternOptions,
  rgbPatternProfile,
} from "./rgb_patterns.ts";
