/**
 * Scatter plots of projected points (PCA, t-SNE, UMAP of a layer's representations): a dot per
 * point coloured by its label, thumbnails (images) or words (text) at a sample of points chosen so
 * that none overlaps another, and a legend placed where it covers no point.
 */
import { SERIES } from "./colormap.ts";
import { type Image, pngDataUri } from "./png.ts";
import { type Language, strings } from "./strings.ts";
import { esc, svgStart, textWidth } from "./svg.ts";

/** One point of a scatter plot. */
export interface ScatterPoint {
  /** Horizontal coordinate (data units). */
  x: number;
  /** Vertical coordinate (data units; up is larger). */
  y: number;
  /** The class (a whole number ≥ 0): picks the colour and the legend entry. */
  label: number;
  /** A thumbnail drawn at the point (when the sample picks it). */
  image?: Image;
  /** A word drawn at the point (when the sample picks it). */
  text?: string;
}

/** Options of `scatterPlot`. */
export interface ScatterOptions {
  /** The title over the plot. */
  title: string;
  /** A sentence (or several) under the plot: what it shows and how to read it. */
  caption?: string;
  /** The classes' names, by label (default "class k"). */
  classNames?: string[];
  /** The language of the words the plot adds itself (default English). */
  lang?: Language;
  /** Width in pixels (default 720; a legend outside the plot adds to it). */
  width?: number;
  /** Height of the plot area plus title in pixels (default 600; the caption adds to it). */
  height?: number;
  /** The horizontal axis's name (e.g. "PC 1 (23% of variance)"); none by default. */
  xLabel?: string;
  /** The vertical axis's name; none by default. */
  yLabel?: string;
  /** At most this many thumbnails or words (default 80). */
  maxAnnotations?: number;
  /** A thumbnail's side in pixels (default 22). */
  thumbnail?: number;
}

/** A "#rrggbb" colour at 60% brightness: words in light colours (yellow, grey) stay readable. */
const darker = (hex: string) =>
  "#" +
  [1, 3, 5].map((i) => Math.round(parseInt(hex.slice(i, i + 2), 16) * 0.6).toString(16).padStart(2, "0"))
    .join("");

/** About how wide a word is at 10 px (capitals and CJK characters are wider). */
const wordWidth = (s: string) => {
  let w = 0;
  for (const ch of s) {
    w += /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/.test(ch) ? 10 : /[A-Z0-9=@%#&mwMW]/.test(ch) ? 7.4 : 5.8;
  }
  return w;
};
/** A word of at most 20 characters ("…" after a longer one's first 19). */
const shortWord = (s: string) => ([...s].length > 20 ? [...s].slice(0, 19).join("") + "…" : s);

type Box = { x: number; y: number; w: number; h: number };
const overlap = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Closing punctuation that must not begin a line (Chinese line breaking): it stays on the line before. */
const NO_LINE_START = /^[，。；：、）」』！？》]$/;

/**
 * Splits a text into lines of at most `w` pixels (at 12 px), at spaces, or anywhere for CJK text
 * except before closing punctuation (which may overhang by one character).
 */
function wrap(text: string, w: number): string[] {
  const out: string[] = [];
  let line = "";
  for (
    const token of text.match(
      /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+\s*|\s+/g,
    ) ?? []
  ) {
    if (line && textWidth(line + token.trimEnd()) > w && !NO_LINE_START.test(token)) {
      out.push(line.trimEnd());
      line = token.trimStart();
    } else line += token;
  }
  if (line.trim()) out.push(line.trimEnd());
  return out;
}

/**
 * A scatter plot as SVG: one dot per point coloured by its label (the palette `SERIES`, repeating
 * after ten classes), equal scales on both axes (distances on the page are distances in the
 * projection), thumbnails or words at a sample of points spread so that none overlaps another, and
 * a legend of the classes present in a corner no point falls in (outside the plot, on the right,
 * when every corner is taken). Non-finite points are an error naming the first.
 *
 * @example
 * ```ts
 * import { scatterPlot } from "glassbox";
 * const svg = scatterPlot(
 *   [{ x: 0, y: 0, label: 0 }, { x: 1, y: 1, label: 1, text: "cat" }, { x: 1, y: 0, label: 1 }],
 *   { title: "Projection", classNames: ["zero", "one"] },
 * );
 * if (svg.match(/<circle[^>]*r="3"/g)?.length !== 3) throw new Error("one dot per point");
 * if (!svg.includes(">cat<") || !svg.includes(">one<")) throw new Error("the word and the legend");
 * ```
 */
export function scatterPlot(points: ScatterPoint[], options: ScatterOptions): string {
  const lang = options.lang;
  const S = strings(lang);
  points.forEach((p, i) => {
    if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      throw new Error(`scatterPlot: point ${i} is not finite (${p.x}, ${p.y})`);
    }
    if (!Number.isInteger(p.label) || p.label < 0) {
      throw new Error(`scatterPlot: point ${i}'s label must be a whole number ≥ 0, got ${p.label}`);
    }
  });
  const W0Given = options.width ?? 720, H0Given = options.height ?? 600;
  const M = { left: options.yLabel ? 34 : 16, right: 16, top: 40, bottom: options.xLabel ? 34 : 16 };
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const p of points) {
    x0 = Math.min(x0, p.x), x1 = Math.max(x1, p.x), y0 = Math.min(y0, p.y), y1 = Math.max(y1, p.y);
  }
  if (!points.length) x0 = y0 = -1, x1 = y1 = 1;
  const thumb = options.thumbnail ?? 22, pad = Math.max(8, thumb / 2 + 2);
  // equal scales: the plot takes the data's shape (no band of empty paper when the points are
  // much wider than tall, or taller than wide), within the width × height given
  const pw0 = W0Given - M.left - M.right, ph0 = H0Given - M.top - M.bottom;
  const aspect = (y1 - y0) / (x1 - x0 || 1e-12);
  const pw = Math.round(Math.max(0.4 * pw0, Math.min(pw0, (ph0 - 2 * pad) / (aspect || 1e-12) + 2 * pad)));
  const ph = Math.round(Math.max(0.4 * ph0, Math.min(ph0, (pw0 - 2 * pad) * aspect + 2 * pad)));
  const W0 = M.left + pw + M.right, H0 = M.top + ph + M.bottom;
  const span = Math.max((x1 - x0) / (pw - 2 * pad), (y1 - y0) / (ph - 2 * pad)) || 1 / (pw - 2 * pad);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const sx = (v: number) => M.left + pw / 2 + (v - cx) / span;
  const sy = (v: number) => M.top + ph / 2 - (v - cy) / span;
  const px = points.map((p) => [sx(p.x), sy(p.y)] as const);

  // the classes present, in label order, and the legend's size
  const labels = [...new Set(points.map((p) => p.label))].sort((a, b) => a - b);
  const names = labels.map((k) => options.classNames?.[k] ?? S.classNamed(k));
  const legendW = Math.min(0.5 * W0Given, 34 + Math.max(0, ...names.map(textWidth)));
  const shownLegend = Math.min(labels.length, 20);
  const legendH = shownLegend * 16 + 8 + (labels.length > shownLegend ? 14 : 0);

  // annotations: a greedy sample (in the points' order) whose boxes overlap neither each other
  // nor, later, the legend
  const kind = points.some((p) => p.image)
    ? "image"
    : points.some((p) => p.text !== undefined)
    ? "word"
    : null;
  const maxA = options.maxAnnotations ?? 80;
  const annotated: { i: number; box: Box }[] = [];
  if (kind) {
    for (let i = 0; i < points.length && annotated.length < maxA; i++) {
      const p = points[i];
      const [x, y] = px[i];
      let box: Box;
      if (kind === "image") {
        if (!p.image) continue;
        box = { x: x - thumb / 2, y: y - thumb / 2, w: thumb, h: thumb };
      } else {
        if (!p.text) continue;
        const word = shortWord(p.text);
        // right of the dot, or left of it where the right runs out of the plot
        const w = wordWidth(word);
        box = x + 3 + w <= M.left + pw
          ? { x: x + 3, y: y - 11, w, h: 12 }
          : { x: x - 3 - w, y: y - 11, w, h: 12 };
      }
      const inside = box.x >= M.left && box.y >= M.top && box.x + box.w <= M.left + pw &&
        box.y + box.h <= M.top + ph;
      if (
        inside &&
        !annotated.some((a) => overlap(a.box, { x: box.x - 2, y: box.y - 2, w: box.w + 4, h: box.h + 4 }))
      ) {
        annotated.push({ i, box });
      }
    }
  }

  // the legend: the first corner with no point and no annotation under it, else right of the plot
  const corners: Box[] = [
    { x: M.left + pw - legendW - 6, y: M.top + 6, w: legendW, h: legendH },
    { x: M.left + 6, y: M.top + 6, w: legendW, h: legendH },
    { x: M.left + pw - legendW - 6, y: M.top + ph - legendH - 6, w: legendW, h: legendH },
    { x: M.left + 6, y: M.top + ph - legendH - 6, w: legendW, h: legendH },
  ];
  const free = corners.find((c) => {
    const g = { x: c.x - 5, y: c.y - 5, w: c.w + 10, h: c.h + 10 };
    return !px.some(([x, y]) => x >= g.x && x <= g.x + g.w && y >= g.y && y <= g.y + g.h) &&
      !annotated.some((a) => overlap(a.box, g));
  });
  const outside = labels.length > 0 && !free;
  // at least as wide as the title
  const W = Math.max(
    W0 + (outside ? Math.ceil(legendW + 12) : 0),
    Math.ceil(textWidth(options.title) * 15 / 12 + 32),
  );
  const captionLines = options.caption ? wrap(options.caption, W - 32) : [];
  const sampleLine = kind && annotated.length < points.length
    ? wrap(S.scatterSample(annotated.length, points.length, kind), W - 32)
    : [];
  const notes = [...sampleLine, ...captionLines];
  const H = H0 + (notes.length ? 10 + 17 * notes.length : 0);

  const parts = svgStart(W, H, options.title);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  if (options.xLabel) {
    parts.push(
      `<text x="${M.left + pw / 2}" y="${M.top + ph + 22}" text-anchor="middle" fill="#333">${
        esc(options.xLabel)
      }</text>`,
    );
  }
  if (options.yLabel) {
    parts.push(
      `<text transform="translate(${M.left - 12} ${
        M.top + ph / 2
      }) rotate(-90)" text-anchor="middle" fill="#333">${esc(options.yLabel)}</text>`,
    );
  }
  const color = (k: number) => SERIES[k % SERIES.length];
  const r = points.length > 3000 ? 1.6 : points.length > 600 ? 2.2 : 3;
  parts.push(`<g class="points" fill-opacity="0.8">`);
  points.forEach((p, i) =>
    parts.push(
      `<circle cx="${px[i][0].toFixed(1)}" cy="${px[i][1].toFixed(1)}" r="${r}" fill="${color(p.label)}"/>`,
    )
  );
  parts.push(`</g>`);
  if (kind === "image") {
    parts.push(`<g class="thumbnails">`);
    for (const { i, box } of annotated) {
      parts.push(
        `<rect x="${(box.x - 1.5).toFixed(1)}" y="${(box.y - 1.5).toFixed(1)}" width="${box.w + 3}" height="${
          box.h + 3
        }" fill="${color(points[i].label)}"/>`,
        `<image x="${box.x.toFixed(1)}" y="${box.y.toFixed(1)}" width="${box.w}" height="${box.h}" href="${
          pngDataUri(points[i].image!)
        }" style="image-rendering: pixelated"/>`,
      );
    }
    parts.push(`</g>`);
  } else if (kind === "word") {
    parts.push(`<g class="words" font-size="10">`);
    for (const { i, box } of annotated) {
      parts.push(
        `<text x="${box.x.toFixed(1)}" y="${(box.y + 10).toFixed(1)}" fill="${
          darker(color(points[i].label))
        }" stroke="white" stroke-width="2.5" paint-order="stroke">${esc(shortWord(points[i].text!))}</text>`,
      );
    }
    parts.push(`</g>`);
  }
  if (labels.length) {
    const at = free ?? { x: M.left + pw + 12, y: M.top, w: legendW, h: legendH };
    parts.push(
      `<rect class="legend" x="${at.x.toFixed(1)}" y="${at.y.toFixed(1)}" width="${
        at.w.toFixed(1)
      }" height="${at.h.toFixed(1)}" fill="white" fill-opacity="0.9" stroke="#ccc"/>`,
    );
    labels.slice(0, shownLegend).forEach((k, j) => {
      const ly = at.y + 14 + 16 * j;
      parts.push(
        `<circle cx="${(at.x + 12).toFixed(1)}" cy="${(ly - 4).toFixed(1)}" r="4.5" fill="${color(k)}"/>`,
        `<text x="${(at.x + 24).toFixed(1)}" y="${ly.toFixed(1)}" fill="#222">${esc(names[j])}</text>`,
      );
    });
    if (labels.length > shownLegend) {
      parts.push(
        `<text x="${(at.x + 6).toFixed(1)}" y="${(at.y + shownLegend * 16 + 18).toFixed(1)}" fill="#666">${
          esc(S.more(labels.length - shownLegend))
        }</text>`,
      );
    }
  }
  notes.forEach((t, j) =>
    parts.push(`<text class="note" x="16" y="${H0 + 14 + 17 * j}" fill="#333">${esc(t)}</text>`)
  );
  parts.push("</svg>");
  return parts.join("\n");
}
