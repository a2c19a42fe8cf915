/**
 * RGB images with a planted truth: each class is a coloured shape placed at a random position
 * on a noisy, randomly tinted background, and the data say exactly which pixels it covers. A
 * correct explanation must point at the shape. The pixels come normalised per channel (as
 * torchvision's `Normalize(mean, std)`), with the statistics kept so pictures can show the real
 * image, and `rgbPatternProfile` gives the explanation profile of a model trained on them.
 */
import type { ExplanationProfile } from "../models/profile.ts";
import { Generator } from "../tensor/random.ts";

/** Options for `makeRgbPatternImages`. */
export interface RgbPatternOptions {
  /** Images (default 1000). */
  nSamples?: number;
  /** Height and width (default 32). */
  size?: number;
  /** The shapes' side (default 7, at least 3). */
  patternSize?: number;
  /** Standard deviation of each channel's per-pixel noise, raw units (default 0.1). */
  noise?: number;
  /** Add a last class, "none", with no shape: a model must detect the shapes (default true). */
  emptyClass?: boolean;
  /** Seed (default 0). */
  seed?: number;
  /**
   * Per-channel mean and standard deviation to normalise with (e.g. the training set's, for a
   * test set); by default this set's own statistics.
   */
  mean?: number[];
  /** See `mean`. */
  std?: number[];
}

/** Planted-pattern RGB images: normalised and raw pixels, labels, and where each shape is. */
export interface RgbPatternImages {
  /** [N, 3, size, size] normalised pixels: (raw − mean[c]) / std[c]. */
  x: Float32Array;
  /** [N, 3, size, size] raw pixels in [0, 1]. */
  raw: Float32Array;
  /** The class of each image (the last, "none", if present, has no shape). */
  y: Int32Array;
  /** Height and width. */
  size: number;
  /** The shapes' side. */
  patternSize: number;
  /** Number of classes. */
  classes: number;
  /** The class names, e.g. "red square" (the last is "none" with `emptyClass`). */
  classNames: string[];
  /** Per image: the shape's top row and left column (a `patternSize` square); −1, −1 for none. */
  boxes: Int32Array;
  /** [N, size, size]: 1 where a pixel belongs to the shape, 0 elsewhere. */
  masks: Uint8Array;
  /** The per-channel mean the pixels were normalised with. */
  mean: number[];
  /** The per-channel standard deviation the pixels were normalised with. */
  std: number[];
}

/** The shapes: a name, an RGB colour and which cells of a P×P square are on. */
const SHAPES: {
  name: string;
  colour: [number, number, number];
  on: (r: number, c: number, P: number) => boolean;
}[] = [
  { name: "red square", colour: [0.9, 0.1, 0.1], on: () => true },
  {
    name: "green diamond",
    colour: [0.05, 0.85, 0.1],
    on: (r, c, P) => Math.abs(2 * r - (P - 1)) + Math.abs(2 * c - (P - 1)) <= P - 1,
  },
  {
    name: "blue ring",
    colour: [0.1, 0.2, 0.95],
    on: (r, c, P) => r === 0 || c === 0 || r === P - 1 || c === P - 1,
  },
  { name: "yellow triangle", colour: [0.95, 0.9, 0.1], on: (r, c) => c <= r },
];

function checkStats(what: string, v: number[] | undefined, positive: boolean): void {
  if (v === undefined) return;
  if (v.length !== 3 || !v.every((n) => Number.isFinite(n) && (!positive || n > 0))) {
    throw new Error(
      `makeRgbPatternImages: ${what} must be 3 finite${positive ? " positive" : ""} numbers, got ${
        JSON.stringify(v)
      }`,
    );
  }
}

/**
 * Makes RGB images where class k's coloured shape (red square, green diamond, blue ring, yellow
 * triangle) sits at a random position on a background of a random grey-ish tint with per-pixel
 * noise, and by default a last class "none" with no shape. Pixels are normalised per channel.
 *
 * @example
 * ```ts
 * import { makeRgbPatternImages } from "glassbox";
 * const d = makeRgbPatternImages({ nSamples: 50, seed: 1 });
 * const n = [...d.y].findIndex((k) => k === 0); // a red square
 * const [top, left] = [d.boxes[2 * n], d.boxes[2 * n + 1]], S = d.size;
 * if (d.masks[n * S * S + top * S + left] !== 1) throw new Error("the mask misses the square");
 * const red = d.raw[(n * 3) * S * S + top * S + left];
 * if (Math.abs(d.x[(n * 3) * S * S + top * S + left] - (red - d.mean[0]) / d.std[0]) > 1e-5) throw new Error("normalisation");
 * ```
 */
export function makeRgbPatternImages(options: RgbPatternOptions = {}): RgbPatternImages {
  const N = options.nSamples ?? 1000,
    S = options.size ?? 32,
    P = options.patternSize ?? 7,
    sd = options.noise ?? 0.1;
  if (!Number.isInteger(N) || N < 1) {
    throw new Error(`makeRgbPatternImages: nSamples must be a positive integer, got ${N}`);
  }
  if (!Number.isInteger(P) || P < 3) {
    throw new Error(`makeRgbPatternImages: patternSize must be an integer ≥ 3, got ${P}`);
  }
  if (!Number.isInteger(S) || S < P) {
    throw new Error(`makeRgbPatternImages: size ${S} must be an integer at least the ${P}×${P} shape`);
  }
  if (!(sd >= 0)) throw new Error(`makeRgbPatternImages: noise must be ≥ 0, got ${sd}`);
  if ((options.mean === undefined) !== (options.std === undefined)) {
    throw new Error("makeRgbPatternImages: give both mean and std, or neither");
  }
  checkStats("mean", options.mean, false);
  checkStats("std", options.std, true);
  const g = new Generator(options.seed ?? 0);
  const HW = S * S;
  const raw = new Float32Array(N * 3 * HW), y = new Int32Array(N), boxes = new Int32Array(N * 2);
  const masks = new Uint8Array(N * HW);
  const classes = SHAPES.length + (options.emptyClass === false ? 0 : 1);
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  for (let n = 0; n < N; n++) {
    const k = g.int(classes), top = g.int(S - P + 1), left = g.int(S - P + 1);
    y[n] = k;
    // a grey-ish tint per image (each channel in [0.3, 0.7]), then per-pixel noise
    const tint = [0, 1, 2].map(() => 0.3 + 0.4 * g.random());
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * HW;
      for (let i = 0; i < HW; i++) raw[base + i] = clamp(tint[c] + sd * g.normal());
    }
    const empty = k >= SHAPES.length;
    boxes[2 * n] = empty ? -1 : top;
    boxes[2 * n + 1] = empty ? -1 : left;
    if (empty) continue;
    const shape = SHAPES[k];
    for (let r = 0; r < P; r++) {
      for (let col = 0; col < P; col++) {
        if (!shape.on(r, col, P)) continue;
        const p = (top + r) * S + left + col;
        masks[n * HW + p] = 1;
        for (let c = 0; c < 3; c++) raw[(n * 3 + c) * HW + p] = clamp(shape.colour[c] + sd * g.normal());
      }
    }
  }
  let mean = options.mean, std = options.std;
  if (!mean || !std) {
    mean = [0, 0, 0];
    std = [0, 0, 0];
    for (let c = 0; c < 3; c++) {
      let s = 0, s2 = 0;
      for (let n = 0; n < N; n++) {
        const base = (n * 3 + c) * HW;
        for (let i = 0; i < HW; i++) {
          const v = raw[base + i];
          s += v;
          s2 += v * v;
        }
      }
      const m = s / (N * HW);
      mean[c] = m;
      std[c] = Math.sqrt(Math.max(s2 / (N * HW) - m * m, 1e-12));
    }
  }
  const x = new Float32Array(raw.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * HW;
      for (let i = 0; i < HW; i++) x[base + i] = (raw[base + i] - mean[c]) / std[c];
    }
  }
  const classNames = SHAPES.map((s) => s.name).concat(classes > SHAPES.length ? ["none"] : []);
  return {
    x,
    raw,
    y,
    size: S,
    patternSize: P,
    classes,
    classNames,
    boxes,
    masks,
    mean: [...mean],
    std: [...std],
  };
}

/**
 * The explanation profile of a model trained on `data`: an RGB image of data.size², the class
 * names, the normalisation, baseline 0 (the mean colour, in normalised units) and the CAM layer
 * (the model's own: for `SmallResNet`, its `camLayer`).
 *
 * @example
 * ```ts
 * import { makeRgbPatternImages, rgbPatternProfile, SmallResNet, validateProfile } from "glassbox";
 * const data = makeRgbPatternImages({ nSamples: 20 });
 * const profile = validateProfile(rgbPatternProfile(data, { camLayer: new SmallResNet().camLayer }));
 * if (profile.inputShape.join() !== "3,32,32" || profile.classes.length !== 5) throw new Error("profile");
 * ```
 */
export function rgbPatternProfile(
  data: RgbPatternImages,
  options: { camLayer?: string; methods?: string[] } = {},
): ExplanationProfile {
  const p: ExplanationProfile = {
    modality: "image",
    inputShape: [3, data.size, data.size],
    classes: [...data.classNames],
    mean: [...data.mean],
    std: [...data.std],
    baseline: 0,
  };
  if (options.camLayer !== undefined) p.camLayer = options.camLayer;
  if (options.methods !== undefined) p.methods = [...options.methods];
  return p;
}
