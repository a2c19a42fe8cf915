/**
 * Pictures of attributions: a map as coloured pixels (a diverging map centred on zero for
 * signed attributions, viridis for magnitudes), and the comparison grid — rows are inputs with
 * their label and prediction, columns are methods — as one SVG with the maps embedded as PNG
 * and a colour key. Pure: numbers in, bytes or text out.
 */
import { diverging, type RGB, viridis } from "./colormap.ts";
import { type Image, pngDataUri } from "./png.ts";
import { type Language, strings } from "./strings.ts";
import { esc, textWidth } from "./svg.ts";

/** The q-quantile (0..1) of |values| (the scale a map is drawn to; outliers beyond it saturate). */
export function absQuantile(values: ArrayLike<number>, q = 0.99): number {
  const a = Array.from(values, Math.abs).filter(Number.isFinite).sort((x, y) => x - y);
  if (!a.length) return 1;
  return a[Math.min(a.length - 1, Math.floor(q * (a.length - 1)))] || a[a.length - 1] || 1;
}

/** Options for `heatmapImage`. */
export interface HeatmapOptions {
  /** Signed values on a diverging map centred at 0 (default), or magnitudes on viridis. */
  signed?: boolean;
  /** The value drawn at full colour (default: the 99th percentile of |values|). */
  scale?: number;
  /** Pixels per value (default 4). */
  pixel?: number;
}

/**
 * One map as an image: signed values on a blue–white–red scale centred at 0 (red pushes the
 * output up), magnitudes on viridis; ±scale is full colour.
 *
 * @example
 * ```ts
 * import { encodePng, heatmapImage } from "glassbox";
 * const png = encodePng(heatmapImage(new Float32Array([-1, 0, 0.5, 1]), 2, 2));
 * ```
 */
export function heatmapImage(
  values: ArrayLike<number>,
  h: number,
  w: number,
  options: HeatmapOptions = {},
): Image {
  const signed = options.signed ?? true, px = options.pixel ?? 4;
  const scale = options.scale ?? absQuantile(values);
  const W = w * px, H = h * px, data = new Uint8Array(W * H * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = values[y * w + x];
      const c: RGB = !Number.isFinite(v)
        ? [255, 0, 255]
        : signed
        ? diverging(v / scale)
        : viridis(Math.abs(v) / scale);
      for (let dy = 0; dy < px; dy++) {
        for (let dx = 0; dx < px; dx++) {
          const p = ((y * px + dy) * W + x * px + dx) * 4;
          data.set([c[0], c[1], c[2], 255], p);
        }
      }
    }
  }
  return { width: W, height: H, data };
}

/** An input as a grey image, its own min (black) to max (white). */
export function greyImage(values: ArrayLike<number>, h: number, w: number, pixel = 4): Image {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < h * w; i++) (lo = Math.min(lo, values[i])), (hi = Math.max(hi, values[i]));
  const W = w * pixel, H = h * pixel, data = new Uint8Array(W * H * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const g = Math.round(255 * (hi > lo ? (values[y * w + x] - lo) / (hi - lo) : 0));
      for (let dy = 0; dy < pixel; dy++) {
        for (let dx = 0; dx < pixel; dx++) {
          data.set([g, g, g, 255], ((y * pixel + dy) * W + x * pixel + dx) * 4);
        }
      }
    }
  }
  return { width: W, height: H, data };
}

/**
 * An RGB input [3, h, w] (channel planes, values in [0, 1]; outside is clipped) as a colour image.
 *
 * @example
 * ```ts
 * import { rgbImage } from "glassbox";
 * const red = rgbImage([1, 0, 0], 1, 1, 1); // one pixel: R = 1, G = 0, B = 0
 * if (Array.from(red.data).join() !== "255,0,0,255") throw new Error("not red");
 * ```
 */
export function rgbImage(values: ArrayLike<number>, h: number, w: number, pixel = 4): Image {
  const W = w * pixel, H = h * pixel, data = new Uint8Array(W * H * 4), plane = h * w;
  const byte = (v: number) => Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x, rgb = [byte(values[i]), byte(values[plane + i]), byte(values[2 * plane + i]), 255];
      for (let dy = 0; dy < pixel; dy++) {
        for (let dx = 0; dx < pixel; dx++) data.set(rgb, ((y * pixel + dy) * W + x * pixel + dx) * 4);
      }
    }
  }
  return { width: W, height: H, data };
}

/** A column of the comparison grid: one method's map for every row. */
export interface MethodColumn {
  /** The column's heading, e.g. "Integrated Gradients". */
  name: string;
  /** One map (h·w values) per row. */
  maps: ArrayLike<number>[];
  /** Signed (diverging, default) or magnitude (viridis). */
  signed?: boolean;
}

/** A row of the comparison grid: the input and what to write beside it. */
export interface InputRow {
  /** The input (h·w values), drawn in grey. */
  image: ArrayLike<number>;
  /** A colour input instead: [3, h, w] channel planes in [0, 1] (see `rgbImage`). */
  rgb?: ArrayLike<number>;
  /** e.g. "label 7, predicted 7 (99%)". */
  caption: string;
}

/**
 * The comparison grid as SVG: one row per input (the input in grey, its caption), one column
 * per method; every map is scaled to its own 99th percentile of |value|, and the key under the
 * grid says what the colours mean (`signedKey` replaces its words for signed maps when the
 * output explained is not a class score).
 *
 * @example
 * ```ts
 * import { attributionGrid } from "glassbox";
 * const svg = attributionGrid(
 *   [{ image: new Float32Array(4), caption: "label 1" }],
 *   [{ name: "Saliency", maps: [new Float32Array([0, 1, 2, 3])], signed: false }],
 *   2,
 *   2,
 * );
 * // a heading too wide for a small image's column breaks after its "×"
 * const small = attributionGrid(
 *   [{ image: new Float32Array(64), caption: "label 1" }],
 *   [{ name: "Input×Gradient", maps: [new Float32Array(64)] }],
 *   8,
 *   8,
 * );
 * if (!small.includes(">Input×</text>") || !small.includes(">Gradient</text>")) throw new Error("not wrapped");
 * ```
 */
export function attributionGrid(
  rows: InputRow[],
  columns: MethodColumn[],
  h: number,
  w: number,
  title = "Attributions",
  lang: Language = "en",
  signedKey?: string,
): string {
  const t = strings(lang);
  const cell = Math.max(56, Math.min(112, 4 * Math.max(h, w))),
    px = Math.max(1, Math.floor(cell / Math.max(h, w)));
  // the captions sit left of the images, on two lines split at the first ", ": room for the longer (≈ 6.8 px a character)
  const captionChars = Math.max(
    0,
    ...rows.flatMap((r) => {
      const [first, ...rest] = r.caption.split(", ");
      return [textWidth(first), textWidth(rest.join(", "))];
    }),
  );
  const cw = w * px,
    ch = h * px,
    gap = 10,
    left = Math.max(150, Math.ceil((6.8 / 6.6) * captionChars) + 16),
    top = 78;
  // wide enough for the title too (15 px bold: about 1.25 × the 12 px estimate)
  const W = Math.ceil(
      Math.max(640, left + (columns.length + 1) * (cw + gap) + gap, 1.25 * textWidth(title) + 20),
    ),
    keyH = 100;
  const H = top + rows.length * (ch + gap) + keyH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  const colX = (c: number) => left + gap + c * (cw + gap);
  parts.push(
    `<text x="${colX(0) + cw / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">${
      esc(t.input)
    }</text>`,
  );
  // a heading wider than its column goes on two lines (about 7.5 px a bold character); "\n" breaks it
  const wrap = (name: string): string[] => {
    if (name.includes("\n")) return name.split("\n").slice(0, 2);
    const fit = Math.max(4, Math.floor((cw + gap) / 7.5));
    if (name.length <= fit) return [name];
    const words = name.split(" ");
    let first = "";
    while (words.length && (first + " " + words[0]).trim().length <= fit) {
      first = (first + " " + words.shift()).trim();
    }
    if (!first) {
      // one word too long for the column: break it after a "×" (Input×Gradient), else keep it whole
      const word = words.shift()!, cut = word.indexOf("×") + 1;
      first = cut > 0 && cut < word.length ? word.slice(0, cut) : word;
      if (first !== word) words.unshift(word.slice(cut));
    }
    return [first, words.join(" ")].filter(Boolean);
  };
  columns.forEach((col, c) => {
    const lines = wrap(col.name);
    lines.forEach((line, k) =>
      parts.push(
        `<text x="${colX(c + 1) + cw / 2}" y="${
          top - 10 - 14 * (lines.length - 1 - k)
        }" text-anchor="middle" font-weight="bold">${esc(line)}</text>`,
      )
    );
  });
  const img = (im: Image, x: number, y: number) =>
    `<image x="${x}" y="${y}" width="${im.width}" height="${im.height}" style="image-rendering:pixelated" href="${
      pngDataUri(im)
    }"/>`;
  rows.forEach((r, i) => {
    const y = top + i * (ch + gap);
    const [first, ...rest] = r.caption.split(", ");
    parts.push(`<text x="${left - 6}" y="${y + ch / 2 - 4}" text-anchor="end">${esc(first)}</text>`);
    if (rest.length) {
      parts.push(
        `<text x="${left - 6}" y="${y + ch / 2 + 12}" text-anchor="end">${esc(rest.join(", "))}</text>`,
      );
    }
    parts.push(img(r.rgb ? rgbImage(r.rgb, h, w, px) : greyImage(r.image, h, w, px), colX(0), y));
    columns.forEach((col, c) => {
      parts.push(
        img(heatmapImage(col.maps[i], h, w, { signed: col.signed ?? true, pixel: px }), colX(c + 1), y),
      );
      // an all-zero map is a result, not a missing picture: say so
      if (Array.from(col.maps[i]).every((v) => v === 0)) {
        parts.push(
          `<text x="${colX(c + 1) + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle" fill="#ddd">${
            esc(t.allZero)
          }</text>`,
        );
      }
    });
  });
  // the key: a diverging bar and a viridis bar
  const ky = top + rows.length * (ch + gap) + 14, kw = 160;
  const bar = (x: number, f: (t: number) => RGB, from: number, to: number) => {
    for (let k = 0; k < 40; k++) {
      const t = from + ((to - from) * (k + 0.5)) / 40;
      const [r, g, b] = f(t);
      parts.push(
        `<rect x="${x + (k * kw) / 40}" y="${ky}" width="${
          kw / 40 + 0.5
        }" height="12" fill="rgb(${r},${g},${b})"/>`,
      );
    }
    parts.push(`<rect x="${x}" y="${ky}" width="${kw}" height="12" fill="none" stroke="#555"/>`);
  };
  const hasSigned = columns.some((c) => c.signed ?? true), hasMag = columns.some((c) => c.signed === false);
  let kx = gap + 10;
  if (hasSigned) {
    bar(kx, diverging, -1, 1);
    parts.push(
      `<text x="${kx}" y="${ky + 26}">−</text><text x="${kx + kw / 2}" y="${
        ky + 26
      }" text-anchor="middle">0</text><text x="${kx + kw}" y="${ky + 26}" text-anchor="end">+</text>`,
    );
    parts.push(
      `<text x="${kx + kw + 10}" y="${ky + 10}">${esc(signedKey ?? t.signedKey)}</text>`,
    );
    kx += 0;
  }
  if (hasMag) {
    const y2 = hasSigned ? 36 : 0;
    parts.push(`<g transform="translate(0 ${y2})">`);
    bar(kx, viridis, 0, 1);
    parts.push(
      `<text x="${kx}" y="${ky + 26}">0</text><text x="${kx + kw}" y="${ky + 26}" text-anchor="end">${
        esc(t.max)
      }</text>`,
    );
    parts.push(
      `<text x="${kx + kw + 10}" y="${ky + 10}">${esc(t.magnitudeKey)}</text></g>`,
    );
  }
  parts.push(
    `<text x="${W - gap}" y="${H - 8}" text-anchor="end" fill="#555">${esc(t.gridFoot)}</text>`,
  );
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * Images in a row with a label under each and a title, as SVG (e.g. what each class looks like
 * to a model).
 *
 * @example
 * ```ts
 * import { greyImage, labelledImages } from "glassbox";
 * const svg = labelledImages([greyImage(new Float32Array(4), 2, 2)], ["class 0"], "Classes");
 * ```
 */
export function labelledImages(images: Image[], labels: string[], title: string, note = ""): string {
  const gap = 10, ch = Math.max(...images.map((i) => i.height));
  // each column as wide as its widest image or label, so labels never overlap
  const cw = Math.ceil(Math.max(...images.map((i) => i.width), ...labels.map((l) => textWidth(l ?? "") + 4)));
  // wide enough for the title (15 px bold: about 1.25 × the 12 px estimate) and the note
  const W = Math.ceil(
      Math.max(480, gap + images.length * (cw + gap), 1.25 * textWidth(title) + 20, textWidth(note) + 20),
    ),
    H = 40 + ch + 28 + (note ? 20 : 0);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  images.forEach((im, k) => {
    const x = gap + k * (cw + gap);
    parts.push(
      `<image x="${
        x + (cw - im.width) / 2
      }" y="36" width="${im.width}" height="${im.height}" style="image-rendering:pixelated" href="${
        pngDataUri(im)
      }"/>`,
    );
    parts.push(
      `<text x="${x + cw / 2}" y="${36 + ch + 18}" text-anchor="middle">${esc(labels[k] ?? "")}</text>`,
    );
  });
  if (note) {
    parts.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle" fill="#555">${esc(note)}</text>`);
  }
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * An attention (or any [rows][cols]) matrix as an SVG heatmap with token labels on both axes:
 * row i, column j is how much query i attends to key j (viridis, 0 to the largest weight).
 *
 * @example
 * ```ts
 * import { attentionHeatmap } from "glassbox";
 * const svg = attentionHeatmap([[0.9, 0.1], [0.3, 0.7]], ["a", "b"], ["a", "b"], "layer 0, head 1");
 * ```
 */
export function attentionHeatmap(
  weights: number[][],
  rowLabels: string[],
  colLabels: string[],
  title: string,
): string {
  const rows = weights.length,
    cols = weights[0]?.length ?? 0,
    cell = Math.max(14, Math.min(36, Math.floor(480 / Math.max(rows, cols, 1))));
  const left = 16 + 7 * Math.max(...rowLabels.map((l) => l.length), 1),
    top = 56 + 7 * Math.max(...colLabels.map((l) => l.length), 1);
  const W = Math.max(left + cols * cell + 120, 8 * title.length + 30), H = top + rows * cell + 40;
  let max = 0;
  for (const row of weights) for (const v of row) if (Number.isFinite(v)) max = Math.max(max, v);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left + (cols * cell) / 2}" y="38" text-anchor="middle" fill="#555">key (attended to)</text>`,
    `<text transform="translate(12 ${
      top + (rows * cell) / 2
    }) rotate(-90)" text-anchor="middle" fill="#555">query</text>`,
  ];
  weights.forEach((row, i) =>
    row.forEach((v, j) => {
      const [r, g, b] = viridis(max > 0 ? v / max : 0);
      parts.push(
        `<rect x="${left + j * cell}" y="${
          top + i * cell
        }" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})"><title>${esc(rowLabels[i] ?? "")} → ${
          esc(colLabels[j] ?? "")
        }: ${v.toFixed(3)}</title></rect>`,
      );
    })
  );
  rowLabels.forEach((l, i) =>
    parts.push(
      `<text x="${left - 4}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${esc(l)}</text>`,
    )
  );
  colLabels.forEach((l, j) =>
    parts.push(
      `<text transform="translate(${left + j * cell + cell / 2 + 4} ${top - 6}) rotate(-90)">${
        esc(l)
      }</text>`,
    )
  );
  // the scale
  const kx = left + cols * cell + 20;
  for (let k = 0; k < 40; k++) {
    const [r, g, b] = viridis(1 - k / 39);
    parts.push(
      `<rect x="${kx}" y="${top + (k * rows * cell) / 40}" width="12" height="${
        (rows * cell) / 40 + 0.5
      }" fill="rgb(${r},${g},${b})"/>`,
    );
  }
  parts.push(
    `<text x="${kx + 16}" y="${top + 10}">${max.toFixed(2)}</text><text x="${kx + 16}" y="${
      top + rows * cell
    }">0</text>`,
  );
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * A colour key as a small SVG: the colour bar of a picture (blue-white-red for signed values,
 * viridis for magnitudes) with the values at its ends (and 0 in the middle of a diverging one),
 * and a line of text on what the colours mean.
 *
 * @example
 * ```ts
 * import { colorKey } from "glassbox";
 * const svg = colorKey("diverging", ["−0.41", "+0.41"], "blue: negative weight, red: positive");
 * if (!svg.includes("−0.41")) throw new Error("no end label");
 * ```
 */
export function colorKey(kind: "diverging" | "viridis", ends: [string, string], text: string): string {
  const kw = 200, x0 = 10, y0 = 8;
  const W = Math.max(420, Math.ceil(x0 + kw + 16 + textWidth(text) + 10)), H = 44;
  const f = kind === "diverging" ? diverging : viridis, [lo, hi] = kind === "diverging" ? [-1, 1] : [0, 1];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  for (let k = 0; k < 50; k++) {
    const [r, g, b] = f(lo + ((hi - lo) * (k + 0.5)) / 50);
    parts.push(
      `<rect x="${(x0 + (k * kw) / 50).toFixed(1)}" y="${y0}" width="${
        kw / 50 + 0.5
      }" height="14" fill="rgb(${r},${g},${b})"/>`,
    );
  }
  parts.push(
    `<rect x="${x0}" y="${y0}" width="${kw}" height="14" fill="none" stroke="#555"/>`,
    `<text x="${x0}" y="${y0 + 30}">${esc(ends[0])}</text>`,
    `<text x="${x0 + kw}" y="${y0 + 30}" text-anchor="end">${esc(ends[1])}</text>`,
  );
  if (kind === "diverging") {
    parts.push(`<text x="${x0 + kw / 2}" y="${y0 + 30}" text-anchor="middle">0</text>`);
  }
  parts.push(`<text x="${x0 + kw + 16}" y="${y0 + 12}">${esc(text)}</text>`, "</svg>");
  return parts.join("\n");
}
