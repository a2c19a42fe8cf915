/**
 * Pictures of error diagnosis: the confusion matrix (the diagonal's accuracy in green, the
 * confusions in red by their share of the class, every cell's count written in it) and the
 * reliability diagram (accuracy and mean confidence per bin, the gap between them, and how
 * many predictions each bin holds).
 */
import { type Language, strings } from "./strings.ts";
import { esc, svgStart, textWidth } from "./svg.ts";

/**
 * The confusion matrix as SVG: rows are true classes, columns predictions.
 *
 * @example
 * ```ts
 * import { confusionMatrixChart } from "glassbox";
 * const svg = confusionMatrixChart([[50, 2], [5, 43]], { title: "Test set" });
 * ```
 */
export function confusionMatrixChart(
  confusion: number[][],
  options: { title?: string; classNames?: string[]; lang?: Language } = {},
): string {
  const t = strings(options.lang);
  const C = confusion.length;
  const name = (k: number) => options.classNames?.[k] ?? String(k);
  const cell = Math.max(34, Math.min(56, Math.floor(480 / Math.max(1, C))));
  // room for the longest class name: row labels right of the "true class" title; column labels
  // slanted (45°) when one is wider than its column, so long names never run into each other
  const nameW = Math.max(0, ...Array.from({ length: C }, (_, k) => textWidth(name(k))));
  const slant = nameW > cell - 6, rise = slant ? Math.ceil(nameW * Math.SQRT1_2) + 8 : 0;
  const left = Math.max(90, Math.ceil(nameW) + 36), top = 84 + rise;
  const W = Math.max(640, left + C * cell + 40 + rise), H = top + C * cell + 80;
  const rows = confusion.map((r) => r.reduce((a, b) => a + b, 0));
  let maxOff = 0;
  confusion.forEach((r, i) =>
    r.forEach((v, j) => i !== j && rows[i] && (maxOff = Math.max(maxOff, v / rows[i])))
  );
  const parts = [
    ...svgStart(W, H, options.title ?? t.confusionTitle),
    `<text x="${left + (C * cell) / 2}" y="${top - 28 - rise}" text-anchor="middle">${
      esc(t.predictedClass)
    }</text>`,
    `<text transform="translate(${left - Math.max(52, Math.ceil(nameW) + 18)} ${
      top + (C * cell) / 2
    }) rotate(-90)" text-anchor="middle">${esc(t.trueClass)}</text>`,
  ];
  for (let i = 0; i < C; i++) {
    parts.push(
      `<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(name(i))}</text>`,
    );
    parts.push(
      slant
        ? `<text transform="translate(${left + i * cell + cell / 2} ${top - 8}) rotate(-45)">${
          esc(name(i))
        }</text>`
        : `<text x="${left + i * cell + cell / 2}" y="${top - 8}" text-anchor="middle">${
          esc(name(i))
        }</text>`,
    );
    for (let j = 0; j < C; j++) {
      const v = confusion[i][j], rate = rows[i] ? v / rows[i] : 0;
      let fill = "#ffffff";
      if (i === j) {
        fill = `rgb(${Math.round(255 - 150 * rate)},${Math.round(255 - 60 * rate)},${
          Math.round(255 - 150 * rate)
        })`;
      } else if (v > 0 && maxOff > 0) {
        const t = rate / maxOff;
        fill = `rgb(255,${Math.round(245 - 170 * t)},${Math.round(240 - 180 * t)})`;
      }
      const x = left + j * cell, y = top + i * cell;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ddd"/>`);
      if (v > 0) {
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="${
            cell < 40 ? 10 : 11
          }" fill="#222">${v}</text>`,
        );
      }
    }
  }
  const foot = t.confusionFoot((100 * maxOff).toFixed(1));
  parts.push(
    ...foot.map((t, k) =>
      `<text x="${left}" y="${top + C * cell + 26 + 18 * k}" fill="#333">${esc(t)}</text>`
    ),
    "</svg>",
  );
  return parts.join("\n");
}

/** One bin of a reliability diagram (as `reliability` returns). */
export interface ReliabilityBinView {
  /** Lower confidence edge. */
  lo: number;
  /** Upper confidence edge. */
  hi: number;
  /** Predictions in the bin. */
  count: number;
  /** Their accuracy. */
  accuracy: number;
  /** Their mean confidence. */
  confidence: number;
}

/**
 * The reliability diagram as SVG: per confidence bin, the accuracy (bar), the gap to perfect
 * calibration (red), the diagonal, and the share of predictions in each bin underneath.
 *
 * @example
 * ```ts
 * import { reliabilityDiagram } from "glassbox";
 * const bins = [{ lo: 0, hi: 0.5, count: 10, accuracy: 0.3, confidence: 0.4 }, { lo: 0.5, hi: 1, count: 90, accuracy: 0.9, confidence: 0.95 }];
 * const svg = reliabilityDiagram(bins, { title: "Before", ece: 0.055 });
 * ```
 */
export function reliabilityDiagram(
  bins: ReliabilityBinView[],
  options: { title?: string; ece?: number; lang?: Language } = {},
): string {
  const t = strings(options.lang);
  const W = 600, H = 480, L = 64, T = 50, P = 340, histH = 40;
  const sx = (v: number) => L + v * P, sy = (v: number) => T + P - v * P;
  const total = bins.reduce((a, b) => a + b.count, 0);
  const parts = [
    ...svgStart(W, H, options.title ?? t.reliabilityTitle),
  ];
  for (let k = 0; k <= 5; k++) {
    const v = k / 5;
    parts.push(`<line x1="${L}" x2="${L + P}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${sx(v)}" y="${T + P + 16}" text-anchor="middle">${v.toFixed(1)}</text>`);
  }
  for (const b of bins) {
    if (!b.count) continue;
    const x = sx(b.lo) + 1, w = (b.hi - b.lo) * P - 2;
    parts.push(
      `<rect x="${x}" y="${sy(b.accuracy)}" width="${w}" height="${sy(0) - sy(b.accuracy)}" fill="#4c78a8"/>`,
    );
    const [g0, g1] = [Math.min(b.accuracy, b.confidence), Math.max(b.accuracy, b.confidence)];
    // the gap: a narrow red band from the accuracy to the bin's mean confidence (a black tick)
    parts.push(
      `<rect x="${x + w * 0.3}" y="${sy(g1)}" width="${w * 0.4}" height="${
        Math.max(1, sy(g0) - sy(g1))
      }" fill="#e45756"/>`,
      `<line x1="${x}" x2="${x + w}" y1="${sy(b.confidence)}" y2="${
        sy(b.confidence)
      }" stroke="#111" stroke-width="2"/>`,
    );
    const hh = total ? (histH * Math.sqrt(b.count / total)) : 0;
    parts.push(`<rect x="${x}" y="${T + P + 64 - hh}" width="${w}" height="${hh}" fill="#999"/>`);
  }
  parts.push(
    `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#333" stroke-dasharray="5 4"/>`,
    `<rect x="${L}" y="${T}" width="${P}" height="${P}" fill="none" stroke="#333"/>`,
    `<text x="${L + P / 2}" y="${H - 6}" text-anchor="middle">${esc(t.confidenceAxis)}</text>`,
    `<text transform="translate(16 ${T + P / 2}) rotate(-90)" text-anchor="middle">${
      esc(t.binAccuracyAxis)
    }</text>`,
    `<text x="${L + P + 4}" y="${T + P + 50}" font-size="10" fill="#555">${
      esc(t.shareOfPredictions[0])
    }</text>`,
    `<text x="${L + P + 4}" y="${T + P + 62}" font-size="10" fill="#555">${
      esc(t.shareOfPredictions[1])
    }</text>`,
  );
  // the key, right of the plot
  const K = L + P + 18;
  parts.push(
    `<rect x="${K}" y="${T + 8}" width="12" height="12" fill="#4c78a8"/><text x="${K + 18}" y="${T + 18}">${
      esc(t.keyAccuracy)
    }</text>`,
    `<line x1="${K}" x2="${K + 12}" y1="${T + 34}" y2="${T + 34}" stroke="#111" stroke-width="2"/>`,
    `<text x="${K + 18}" y="${T + 38}">${esc(t.keyConfidence)}</text>`,
    `<rect x="${K + 3}" y="${T + 48}" width="6" height="12" fill="#e45756"/><text x="${K + 18}" y="${
      T + 58
    }">${esc(t.keyGap)}</text>`,
    `<text x="${K}" y="${T + 80}" font-size="11" fill="#555">${esc(t.diagonalNote[0])}</text>`,
    `<text x="${K}" y="${T + 94}" font-size="11" fill="#555">${esc(t.diagonalNote[1])}</text>`,
  );
  if (options.ece !== undefined) {
    parts.push(`<text x="${K}" y="${T + 124}" font-weight="bold">ECE = ${options.ece.toFixed(4)}</text>`);
  }
  parts.push("</svg>");
  return parts.join("\n");
}
