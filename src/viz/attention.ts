/**
 * Pictures of attention: a grid of every layer × head as small heatmaps with token labels (the
 * bertviz "model view", as a file), and a head view (bertviz's "head view": tokens in two
 * columns, a line from each query token to every key token it attends to, as thick and opaque
 * as its weight, one colour per head). Pure SVG from plain arrays.
 */
import { SERIES, viridis } from "./colormap.ts";
import { esc } from "./svg.ts";

/** One heatmap of the grid: a title and [queries][keys] weights. */
export interface AttentionPanel {
  /** e.g. "layer 0 · head 1". */
  title: string;
  /** [queries][keys]. */
  weights: number[][];
}

/**
 * Every layer × head of a model's attention on one input: `panels[layer][head]`, each a
 * heatmap (query rows, key columns, viridis on a shared 0..1 scale so panels compare), token
 * labels on each panel's axes.
 *
 * @example
 * ```ts
 * import { attentionGrid } from "glassbox";
 * const eye = [[1, 0], [0, 1]], flip = [[0, 1], [1, 0]];
 * const svg = attentionGrid([[{ title: "L0 H0", weights: eye }, { title: "L0 H1", weights: flip }]], ["a", "b"], ["a", "b"], "attention");
 * ```
 */
export function attentionGrid(
  panels: AttentionPanel[][],
  queryTokens: string[],
  keyTokens: string[],
  title: string,
  note = "",
): string {
  const rows = queryTokens.length, cols = keyTokens.length;
  const cell = Math.max(8, Math.min(22, Math.floor(200 / Math.max(rows, cols, 1))));
  const lab = 8 + 6 * Math.max(1, ...queryTokens.map((t) => t.length), ...keyTokens.map((t) => t.length));
  const pw = lab + cols * cell + 16, ph = 22 + lab + rows * cell + 12;
  const nCols = Math.max(1, ...panels.map((r) => r.length));
  const W = Math.max(nCols * pw + 90, 8 * title.length + 40, 6 * note.length + 40),
    H = 44 + panels.length * ph + (note ? 24 : 0);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="10">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((row, li) =>
    row.forEach((p, hi) => {
      const x0 = hi * pw, y0 = 36 + li * ph;
      const gx = x0 + lab, gy = y0 + 22 + lab;
      parts.push(
        `<text x="${gx + (cols * cell) / 2}" y="${
          y0 + 12
        }" text-anchor="middle" font-size="11" font-weight="bold">${esc(p.title)}</text>`,
      );
      p.weights.forEach((r, i) =>
        r.forEach((v, j) => {
          const [cr, cg, cb] = viridis(Math.max(0, Math.min(1, Number.isFinite(v) ? v : 0)));
          parts.push(
            `<rect x="${gx + j * cell}" y="${
              gy + i * cell
            }" width="${cell}" height="${cell}" fill="rgb(${cr},${cg},${cb})"><title>${
              esc(queryTokens[i] ?? "")
            } → ${esc(keyTokens[j] ?? "")}: ${v.toFixed(3)}</title></rect>`,
          );
        })
      );
      queryTokens.forEach((t, i) =>
        parts.push(
          `<text x="${gx - 3}" y="${gy + i * cell + cell / 2 + 3}" text-anchor="end">${esc(t)}</text>`,
        )
      );
      keyTokens.forEach((t, j) =>
        parts.push(
          `<text transform="translate(${gx + j * cell + cell / 2 + 3} ${gy - 3}) rotate(-90)">${
            esc(t)
          }</text>`,
        )
      );
    })
  );
  // the shared scale
  const kx = W - 70, ky = 44, kh = Math.min(160, panels.length * ph - 20);
  for (let k = 0; k < 32; k++) {
    const [r, g, b] = viridis(1 - k / 31);
    parts.push(
      `<rect x="${kx}" y="${ky + (k * kh) / 32}" width="12" height="${
        kh / 32 + 0.5
      }" fill="rgb(${r},${g},${b})"/>`,
    );
  }
  parts.push(
    `<text x="${kx + 16}" y="${ky + 8}">1</text><text x="${kx + 16}" y="${ky + kh}">0</text>`,
    `<text x="${kx - 4}" y="${ky + kh + 16}">weight</text>`,
  );
  if (note) {
    parts.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle" fill="#555">${esc(note)}</text>`);
  }
  parts.push("</svg>");
  return parts.join("\n");
}

/**
 * The head view: for every head a panel with the query tokens on the left, the key tokens on
 * the right, and a line from query i to key j whose width and opacity follow weight[i][j]
 * (lines under `minWeight` are left out). One colour per head.
 *
 * @example
 * ```ts
 * import { headView } from "glassbox";
 * const svg = headView([[[0.9, 0.1], [0.2, 0.8]]], ["a", "b"], ["a", "b"], "layer 0");
 * ```
 */
export function headView(
  heads: number[][][],
  queryTokens: string[],
  keyTokens: string[],
  title: string,
  options: { headNames?: string[]; minWeight?: number } = {},
): string {
  const rowH = 22,
    lab = 10 + 7 * Math.max(1, ...queryTokens.map((t) => t.length), ...keyTokens.map((t) => t.length));
  const n = Math.max(queryTokens.length, keyTokens.length), span = 160;
  const pw = 2 * lab + span + 30;
  const W = Math.max(heads.length * pw + 20, 8 * title.length + 40, 420), H = 84 + n * rowH + 20;
  const y = (i: number) => 78 + i * rowH;
  const min = options.minWeight ?? 0.02;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  heads.forEach((w, h) => {
    const color = SERIES[h % SERIES.length];
    const xl = 10 + h * pw + lab, xr = xl + span;
    const name = options.headNames?.[h] ?? `head ${h}`;
    parts.push(
      `<text x="${(xl + xr) / 2}" y="42" text-anchor="middle" font-weight="bold" fill="${color}">${
        esc(name)
      }</text>`,
      `<text x="${xl - 6}" y="60" text-anchor="end" fill="#555">query</text>`,
      `<text x="${xr + 6}" y="60" fill="#555">key</text>`,
    );
    w.forEach((row, i) =>
      row.forEach((v, j) => {
        if (!(v >= min)) return;
        parts.push(
          `<line x1="${xl}" y1="${y(i) - 4}" x2="${xr}" y2="${y(j) - 4}" stroke="${color}" stroke-width="${
            (0.5 + 4 * v).toFixed(2)
          }" stroke-opacity="${Math.min(1, 0.15 + 0.85 * v).toFixed(2)}"><title>${esc(name)}: ${
            esc(queryTokens[i] ?? "")
          } → ${esc(keyTokens[j] ?? "")} ${v.toFixed(3)}</title></line>`,
        );
      })
    );
    queryTokens.forEach((t, i) =>
      parts.push(`<text x="${xl - 6}" y="${y(i)}" text-anchor="end">${esc(t)}</text>`)
    );
    keyTokens.forEach((t, j) => parts.push(`<text x="${xr + 6}" y="${y(j)}">${esc(t)}</text>`));
  });
  parts.push(
    `<text x="${W / 2}" y="${
      H - 6
    }" text-anchor="middle" fill="#555">line width and opacity: attention weight (below ${min} not drawn)</text>`,
  );
  parts.push("</svg>");
  return parts.join("\n");
}
