/** Data: synthetic tabular problems, splits, standardisation, batching. */
export * from "./portable.ts";
export { loadMnist, MNIST_MEAN, MNIST_STD, mnistDataset, type MnistSplit, parseMnist } from "./mnist.ts";
export { mnistProfile } from "./mnist.ts";
