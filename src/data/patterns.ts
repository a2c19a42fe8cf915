/**
 * Images with a planted truth: each class is defined by a small pattern placed at a random
 * position in noise, so a correct explanation must point at the pattern, and the boxes say
 * where it is. The localisation tests of the attribution methods train on this.
 */
import { Generator } from "../tensor/random.ts";

/** Options for `makePatternImages`. */
export interface PatternImageOptions {
  /** Images (default 1000). */
  nSamples?: number;
  /** Height and width (default 20). */
  size?: number;
  /** Standard deviation of the background noise (default 0.5). */
  noise?: number;
  /** Brightness added where a pattern's pixel is on (default 2). */
  amplitude?: number;
  /**
   * Add a last class of pure noise, with no pattern (default true): then a model must detect
   * each pattern, not just tell the patterns apart.
   */
  emptyClass?: boolean;
  /** Seed (default 0). */
  seed?: number;
}

/** Planted-pattern images: [N, 1, size, size], labels, and where each pattern is. */
export interface PatternImages {
  /** [N, 1, size, size] pixels, row-major. */
  x: Float32Array;
  /** The class of each image (the last class, if any, has no pattern). */
  y: Int32Array;
  /** Height and width. */
  size: number;
  /** Per image: the pattern's top row and left column (it covers `patternSize` × `patternSize`); −1, −1 for no pattern. */
  boxes: Int32Array;
  /** The patterns' side (5). */
  patternSize: number;
  /** Number of classes. */
  classes: number;
}

/** The class patterns (5×5): a filled square and a cross. */
const PATTERNS = [
  ["11111", "11111", "11111", "11111", "11111"],
  ["10001", "01010", "00100", "01010", "10001"],
];

/**
 * Makes images where class k's pattern sits at a random position in Gaussian noise (and, by
 * default, a last class with no pattern at all).
 *
 * @example
 * ```ts
 * import { makePatternImages } from "glassbox";
 * const d = makePatternImages({ nSamples: 100, seed: 1 });
 * d.boxes.slice(0, 2); // image 0's pattern: top row, left column
 * ```
 */
export function makePatternImages(options: PatternImageOptions = {}): PatternImages {
  const N = options.nSamples ?? 1000,
    S = options.size ?? 20,
    sd = options.noise ?? 0.5,
    amp = options.amplitude ?? 2;
  const P = PATTERNS[0].length;
  if (S < P) throw new Error(`makePatternImages: size ${S} is smaller than the ${P}×${P} pattern`);
  const g = new Generator(options.seed ?? 0);
  const x = new Float32Array(N * S * S), y = new Int32Array(N), boxes = new Int32Array(N * 2);
  const classes = PATTERNS.length + (options.emptyClass === false ? 0 : 1);
  for (let n = 0; n < N; n++) {
    const k = g.int(classes), top = g.int(S - P + 1), left = g.int(S - P + 1);
    y[n] = k;
    for (let i = 0; i < S * S; i++) x[n * S * S + i] = sd * g.normal();
    const empty = k >= PATTERNS.length;
    boxes[2 * n] = empty ? -1 : top;
    boxes[2 * n + 1] = empty ? -1 : left;
    if (empty) continue;
    for (let r = 0; r < P; r++) {
      for (let c = 0; c < P; c++) {
        if (PATTERNS[k][r][c] === "1") x[n * S * S + (top + r) * S + left + c] += amp;
      }
    }
  }
  return { x, y, size: S, boxes, patternSize: P, classes };
}
