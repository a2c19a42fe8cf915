/**
 * A table of small images as one SVG: a title, a sentence saying what it shows, a label on
 * each row and column, the images as embedded PNG with an optional caption under each, notes
 * saying how to read it and, optionally, a colour key under them (reconstructions beside
 * inputs with their error maps, latent traversals, a generator's samples and ablations); and
 * grey images on a fixed value range (a generator's tanh output in [−1, 1] keeps its own black
 * and white). Pure: pixels in, text out.
 */
import { type Image, pngDataUri } from "./png.ts";
import { esc, textWidth } from "./svg.ts";

/** One cell of an `imageTable` with a line under its image. */
export interface ImageCell {
  /** The image (null leaves the cell empty). */
  image: Image | null;
  /** A line under the image. */
  caption?: string;
}

/** What an `imageTable` says around its images. */
export interface ImageTableOptions {
  /** The heading. */
  title: string;
  /** One sentence under the heading saying what the table shows. */
  caption?: string;
  /** A label left of each row (as many as rows). */
  rowLabels?: string[];
  /** A label over each column. */
  columnLabels?: string[];
  /** Lines under the table: how to read it. */
  notes?: string[];
  /** A colour key (an SVG document such as `colorKey` makes) drawn under the table. */
  key?: string;
}

const isImage = (c: Image | ImageCell): c is Image => "data" in c && "width" in c;

/**
 * Lays out rows of images (each row may differ in length; a missing cell stays blank) with
 * their labels, captions, title, notes and key. A cell is an image, an `ImageCell` (image and
 * caption) or null.
 *
 * @example
 * ```ts
 * import { greyImage, imageTable } from "glassbox";
 * const im = greyImage(new Float32Array([0, 1, 1, 0]), 2, 2, 8);
 * const svg = imageTable([[im, { image: im, caption: "b" }], [im]], {
 *   title: "Two rows",
 *   caption: "The first row has two images, the second one.",
 *   rowLabels: ["first", "second"],
 *   columnLabels: ["a", "b"],
 * });
 * if ((svg.match(/<image /g) ?? []).length !== 3 || !svg.includes(">second</text>")) throw new Error("table");
 * ```
 */
export function imageTable(
  rows: readonly (readonly (Image | ImageCell | null)[])[],
  options: ImageTableOptions,
): string {
  const rowLabels = options.rowLabels ?? [];
  if (options.rowLabels && rows.length !== rowLabels.length) {
    throw new Error(`imageTable: ${rows.length} rows but ${rowLabels.length} row labels`);
  }
  const cells: ImageCell[][] = rows.map((r) =>
    r.map((c) => (c === null ? { image: null } : isImage(c) ? { image: c } : c))
  );
  const all = cells.flat().filter((c) => c.image).map((c) => c.image!);
  const cw = Math.max(1, ...all.map((i) => i.width)), ch = Math.max(1, ...all.map((i) => i.height));
  const cols = Math.max(1, ...cells.map((r) => r.length));
  const colLabels = options.columnLabels ?? [];
  const notes = options.notes ?? [];
  const captions = cells.some((r) => r.some((c) => c.caption));
  const gap = 8;
  const left = rowLabels.length ? Math.ceil(Math.max(40, ...rowLabels.map(textWidth)) + 16) : 0;
  // column labels wider than a cell are drawn at 10 px; the table widens for them otherwise
  const colW = Math.max(
    cw,
    ...colLabels.map((l) => Math.ceil(textWidth(l) * 0.85) + 4),
    ...cells.flat().map((c) => (c.caption ? Math.ceil(textWidth(c.caption)) : 0)),
  );
  const rowH = ch + (captions ? 18 : 0) + gap;
  const top = (options.caption ? 58 : 40) + (colLabels.length ? 18 : 0);
  const keyH = options.key ? 52 : 0;
  const keyW = options.key ? Number(/width="(\d+(?:\.\d+)?)"/.exec(options.key)?.[1] ?? 0) : 0;
  const W = Math.ceil(
    Math.max(
      left + cols * (colW + gap) + gap,
      1.25 * textWidth(options.title) + 20,
      options.caption ? textWidth(options.caption) + 20 : 0,
      ...notes.map((n) => textWidth(n) + 20),
      keyW + 20,
    ),
  );
  const tableBottom = top + cells.length * rowH;
  const H = tableBottom + notes.length * 18 + keyH + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(options.title)
    }</text>`,
  ];
  if (options.caption) {
    parts.push(`<text x="${W / 2}" y="42" text-anchor="middle" fill="#444">${esc(options.caption)}</text>`);
  }
  const colX = (c: number) => left + gap + c * (colW + gap);
  colLabels.forEach((l, c) =>
    parts.push(
      `<text x="${colX(c) + colW / 2}" y="${top - 8}" text-anchor="middle" font-size="${
        textWidth(l) > colW ? 10 : 12
      }">${esc(l)}</text>`,
    )
  );
  cells.forEach((row, r) => {
    const y = top + r * rowH;
    if (rowLabels[r]) {
      parts.push(
        `<text x="${left - 6}" y="${y + ch / 2 + 4}" text-anchor="end" font-weight="bold">${
          esc(rowLabels[r])
        }</text>`,
      );
    }
    row.forEach((c, j) => {
      if (c.image) {
        parts.push(
          `<image x="${
            colX(j) + (colW - cw) / 2
          }" y="${y}" width="${c.image.width}" height="${c.image.height}" style="image-rendering:pixelated" href="${
            pngDataUri(c.image)
          }"/>`,
        );
      }
      if (c.caption) {
        parts.push(
          `<text x="${colX(j) + colW / 2}" y="${y + ch + 14}" text-anchor="middle" fill="#333">${
            esc(c.caption)
          }</text>`,
        );
      }
    });
  });
  notes.forEach((n, k) => {
    parts.push(`<text x="${gap}" y="${tableBottom + 14 + k * 18}" fill="#555">${esc(n)}</text>`);
  });
  if (options.key) {
    const ky = tableBottom + notes.length * 18 + 4;
    parts.push(options.key.replace("<svg ", `<svg x="${gap}" y="${ky}" `));
  }
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * One [h, w] map as a grey image on a fixed range: `lo` and below black, `hi` and above white
 * (unlike `greyImage`, which stretches each image to its own range).
 *
 * @example
 * ```ts
 * import { rangeImage } from "glassbox";
 * const img = rangeImage([-1, 0, 1, 2], 2, 2, -1, 1, 1);
 * if (Array.from(img.data.filter((_, i) => i % 4 === 0)).join() !== "0,128,255,255") throw new Error("grey levels");
 * ```
 */
export function rangeImage(
  values: ArrayLike<number>,
  h: number,
  w: number,
  lo: number,
  hi: number,
  pixel = 3,
): Image {
  if (!(hi > lo)) throw new Error(`rangeImage: hi (${hi}) must be above lo (${lo})`);
  const W = w * pixel, H = h * pixel, data = new Uint8Array(W * H * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = values[y * w + x];
      const g = Number.isFinite(v) ? Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo)))) : 0;
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
 * Tiles equally sized images into one image, `columns` across, with `gap` pixels of `background`
 * grey between them (e.g. a generator's samples as one PNG).
 *
 * @example
 * ```ts
 * import { rangeImage, tileImages } from "glassbox";
 * const t = tileImages([rangeImage([1], 1, 1, 0, 1, 1), rangeImage([0], 1, 1, 0, 1, 1)], 2, 1);
 * if (t.width !== 5 || t.height !== 3) throw new Error(`${t.width}×${t.height}`);
 * ```
 */
export function tileImages(images: Image[], columns: number, gap = 2, background = 128): Image {
  if (!images.length) throw new Error("tileImages: no images");
  const w = images[0].width, h = images[0].height;
  if (images.some((im) => im.width !== w || im.height !== h)) {
    throw new Error("tileImages: images differ in size");
  }
  const cols = Math.min(columns, images.length), rows = Math.ceil(images.length / cols);
  const W = cols * (w + gap) + gap, H = rows * (h + gap) + gap;
  const data = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) data.set([background, background, background, 255], i * 4);
  images.forEach((im, k) => {
    const ox = gap + (k % cols) * (w + gap), oy = gap + Math.floor(k / cols) * (h + gap);
    for (let y = 0; y < h; y++) {
      data.set(im.data.subarray(y * w * 4, (y + 1) * w * 4), ((oy + y) * W + ox) * 4);
    }
  });
  return { width: W, height: H, data };
}
