/**
 * A table of small images with a title, row labels, column labels, a caption under each image
 * and notes saying how to read it (an SVG with the images embedded as PNGs), and grey images on
 * a fixed value range (a generator's tanh output in [−1, 1] keeps its own black and white).
 */
import { type Image, pngDataUri } from "./png.ts";
import { esc, textWidth } from "./svg.ts";

/** One cell of an `imageTable`. */
export interface ImageCell {
  /** The image (null leaves the cell empty). */
  image: Image | null;
  /** A line under the image. */
  caption?: string;
}

/** What an `imageTable` says around its images. */
export interface ImageTableOptions {
  /** The title over the table. */
  title: string;
  /** A label left of each row. */
  rowLabels?: string[];
  /** A label over each column. */
  columnLabels?: string[];
  /** Lines under the table: what it shows and how to read it. */
  notes?: string[];
}

/**
 * Lays out rows of images as an SVG: the title, labels left of the rows and over the columns,
 * captions under the images, notes at the bottom.
 *
 * @example
 * ```ts
 * import { imageTable, rangeImage } from "glassbox";
 * const img = rangeImage([-1, 1, 1, -1], 2, 2, -1, 1);
 * const svg = imageTable([[{ image: img, caption: "a" }, { image: img }]], { title: "Two", rowLabels: ["row"] });
 * if ((svg.match(/<image /g) ?? []).length !== 2 || !svg.includes(">Two<")) throw new Error(svg);
 * ```
 */
export function imageTable(rows: ImageCell[][], options: ImageTableOptions): string {
  const gap = 8;
  const cells = rows.flat().filter((c) => c.image);
  const cw = Math.max(1, ...cells.map((c) => c.image!.width));
  const ch = Math.max(1, ...cells.map((c) => c.image!.height));
  const captions = rows.some((r) => r.some((c) => c.caption));
  const rowH = ch + (captions ? 18 : 0) + gap;
  const labelW = options.rowLabels?.length ? Math.max(...options.rowLabels.map(textWidth)) + 16 : 0;
  const cols = Math.max(1, ...rows.map((r) => r.length));
  const colW = Math.max(cw, ...rows.flat().map((c) => (c.caption ? textWidth(c.caption) : 0)));
  const top = 40 + (options.columnLabels?.length ? 18 : 0);
  const notes = options.notes ?? [];
  const W = Math.ceil(
    Math.max(
      labelW + gap + cols * (colW + gap),
      1.25 * textWidth(options.title) + 20,
      ...notes.map((n) => textWidth(n) + 20),
    ),
  );
  const H = top + rows.length * rowH + notes.length * 18 + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(options.title)
    }</text>`,
  ];
  const x0 = labelW + gap;
  options.columnLabels?.forEach((l, j) => {
    parts.push(
      `<text x="${x0 + j * (colW + gap) + colW / 2}" y="${top - 8}" text-anchor="middle">${esc(l)}</text>`,
    );
  });
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const label = options.rowLabels?.[i];
    if (label) {
      parts.push(`<text x="${labelW}" y="${y + ch / 2 + 4}" text-anchor="end">${esc(label)}</text>`);
    }
    r.forEach((c, j) => {
      const x = x0 + j * (colW + gap) + (colW - cw) / 2;
      if (c.image) {
        parts.push(
          `<image x="${x}" y="${y}" width="${c.image.width}" height="${c.image.height}" style="image-rendering:pixelated" href="${
            pngDataUri(c.image)
          }"/>`,
        );
      }
      if (c.caption) {
        parts.push(
          `<text x="${x0 + j * (colW + gap) + colW / 2}" y="${
            y + ch + 14
          }" text-anchor="middle" fill="#333">${esc(c.caption)}</text>`,
        );
      }
    });
  });
  notes.forEach((n, k) => {
    parts.push(
      `<text x="${gap}" y="${top + rows.length * rowH + 14 + k * 18}" fill="#555">${esc(n)}</text>`,
    );
  });
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
