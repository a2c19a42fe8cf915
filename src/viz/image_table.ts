/**
 * A table of small images as one SVG: a title, a sentence saying what it shows, a label on
 * each row and column, the images as embedded PNG and, optionally, a colour key under them
 * (e.g. reconstructions beside inputs with their error maps, latent traversals). Pure: pixels
 * in, text out.
 */
import { type Image, pngDataUri } from "./png.ts";
import { esc, textWidth } from "./svg.ts";

/** Options for `imageTable`. */
export interface ImageTableOptions {
  /** The heading. */
  title: string;
  /** One sentence under the heading saying what the table shows. */
  caption: string;
  /** A label left of each row. */
  rowLabels: string[];
  /** A label over each column (optional). */
  columnLabels?: string[];
  /** A colour key (an SVG document such as `colorKey` makes) drawn under the table. */
  key?: string;
}

/**
 * Lays out rows of images (each row may differ in length; a missing cell stays blank) with
 * their labels, title, caption and key.
 *
 * @example
 * ```ts
 * import { greyImage, imageTable } from "glassbox";
 * const im = greyImage(new Float32Array([0, 1, 1, 0]), 2, 2, 8);
 * const svg = imageTable([[im, im], [im]], {
 *   title: "Two rows",
 *   caption: "The first row has two images, the second one.",
 *   rowLabels: ["first", "second"],
 *   columnLabels: ["a", "b"],
 * });
 * if ((svg.match(/<image /g) ?? []).length !== 3 || !svg.includes(">second</text>")) throw new Error("table");
 * ```
 */
export function imageTable(cells: (Image | null)[][], options: ImageTableOptions): string {
  if (cells.length !== options.rowLabels.length) {
    throw new Error(`imageTable: ${cells.length} rows but ${options.rowLabels.length} row labels`);
  }
  const all = cells.flat().filter((c): c is Image => c !== null);
  const cw = Math.max(1, ...all.map((i) => i.width)), ch = Math.max(1, ...all.map((i) => i.height));
  const cols = Math.max(1, ...cells.map((r) => r.length));
  const colLabels = options.columnLabels ?? [];
  const gap = 8, left = Math.ceil(Math.max(40, ...options.rowLabels.map(textWidth)) + 16);
  // column labels wider than a cell are drawn at 10 px; the table widens for them otherwise
  const colW = Math.max(cw, ...colLabels.map((l) => Math.ceil(textWidth(l) * 0.85) + 4));
  const top = 58 + (colLabels.length ? 18 : 0);
  const keyH = options.key ? 52 : 0;
  const keyW = options.key ? Number(/width="(\d+(?:\.\d+)?)"/.exec(options.key)?.[1] ?? 0) : 0;
  const W = Math.ceil(
    Math.max(
      left + cols * (colW + gap) + gap,
      1.25 * textWidth(options.title) + 20,
      textWidth(options.caption) + 20,
      keyW + 20,
    ),
  );
  const H = top + cells.length * (ch + gap) + keyH + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(options.title)
    }</text>`,
    `<text x="${W / 2}" y="42" text-anchor="middle" fill="#444">${esc(options.caption)}</text>`,
  ];
  const colX = (c: number) => left + gap + c * (colW + gap) + (colW - cw) / 2;
  colLabels.forEach((l, c) =>
    parts.push(
      `<text x="${colX(c) + cw / 2}" y="${top - 8}" text-anchor="middle" font-size="${
        textWidth(l) > colW ? 10 : 12
      }">${esc(l)}</text>`,
    )
  );
  cells.forEach((row, r) => {
    const y = top + r * (ch + gap);
    parts.push(
      `<text x="${left - 6}" y="${y + ch / 2 + 4}" text-anchor="end" font-weight="bold">${
        esc(options.rowLabels[r])
      }</text>`,
    );
    row.forEach((im, c) => {
      if (!im) return;
      parts.push(
        `<image x="${
          colX(c)
        }" y="${y}" width="${im.width}" height="${im.height}" style="image-rendering:pixelated" href="${
          pngDataUri(im)
        }"/>`,
      );
    });
  });
  if (options.key) {
    const ky = top + cells.length * (ch + gap) + 4;
    parts.push(options.key.replace("<svg ", `<svg x="${gap}" y="${ky}" `));
  }
  parts.push("</svg>");
  return parts.join("\n");
}
