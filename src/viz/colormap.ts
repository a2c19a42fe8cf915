/**
 * Colormaps: viridis (perceptually uniform, for magnitudes) and a blue-white-red diverging map
 * (ColorBrewer RdBu, for signed values centred on 0).
 */

/** An RGB colour with components in 0..255. */
export type RGB = [number, number, number];

// Polynomial fit of matplotlib's viridis (max error well under one 8-bit step).
const V = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

const clamp01 = (t: number) => (Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0);

/** viridis(t) for t in [0, 1]: dark purple → blue → green → yellow. */
export function viridis(t: number): RGB {
  const x = clamp01(t);
  return [0, 1, 2].map((c) => {
    let v = V[6][c];
    for (let k = 5; k >= 0; k--) v = V[k][c] + x * v;
    return Math.round(255 * clamp01(v));
  }) as RGB;
}

const RDBU: RGB[] = [
  [5, 48, 97],
  [33, 102, 172],
  [67, 147, 195],
  [146, 197, 222],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [244, 165, 130],
  [214, 96, 77],
  [178, 24, 43],
  [103, 0, 31],
];

/** diverging(t) for t in [-1, 1]: blue (negative) → white (0) → red (positive). */
export function diverging(t: number): RGB {
  const x = (clamp01((t + 1) / 2)) * (RDBU.length - 1);
  const i = Math.min(RDBU.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(RDBU[i][c] * (1 - f) + RDBU[i + 1][c] * f)) as RGB;
}

/** CSS colour string. */
export function css([r, g, b]: RGB): string {
  return `rgb(${r},${g},${b})`;
}

/** A categorical palette for series (Tableau 10). */
export const SERIES = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];
