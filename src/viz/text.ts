/**
 * Pictures of text explanations: each token of a text on a box coloured by its attribution
 * (red for, blue against the explained class, white for nothing; one colour scale per text), and
 * "which words decided": per class, the words with the largest total attribution, as bars.
 * Pure SVG from plain arrays.
 */
import { css, diverging, SERIES } from "./colormap.ts";
import { esc, textWidth } from "./svg.ts";

/** One text of `tokenAttributionSvg`: its tokens, a value per token and a line above them. */
export interface TokenRow {
  /** The line over the tokens, e.g. "true: science · predicted: science (0.82)". */
  caption: string;
  /** The tokens, in order. */
  tokens: string[];
  /** One attribution per token. */
  values: number[];
}

/**
 * Texts with every token on a box coloured by its attribution: red for the class, blue against
 * it, white for nothing, each text on its own scale (its largest |value| is full colour); the
 * value is in each box's tooltip. Tokens wrap at `width` pixels; `legend` is the colour key's
 * text (in the page's language).
 *
 * @example
 * ```ts
 * import { tokenAttributionSvg } from "glassbox";
 * const svg = tokenAttributionSvg([{ caption: "class: space", tokens: ["warp", "speed", "now"], values: [0.9, 0.2, -0.1] }], "Integrated gradients per token");
 * if (!svg.includes(">warp</text>") || !svg.startsWith("<svg")) throw new Error("token picture");
 * ```
 */
export function tokenAttributionSvg(
  rows: TokenRow[],
  title: string,
  notes: string[] = [],
  width = 900,
  legend = "blue: against the class · white: nothing · red: for the class (each text on its own scale)",
): string {
  for (const r of rows) {
    if (r.tokens.length !== r.values.length) {
      throw new Error(
        `tokenAttributionSvg: "${r.caption}" has ${r.tokens.length} tokens but ${r.values.length} values`,
      );
    }
  }
  const pad = 16, lineH = 24, boxH = 20, gap = 4;
  const parts: string[] = [];
  let y = 44;
  for (const r of rows) {
    parts.push(`<text x="${pad}" y="${y}" font-size="12" font-weight="bold">${esc(r.caption)}</text>`);
    y += 8;
    const scale = Math.max(1e-12, ...r.values.map((v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
    let x = pad;
    r.tokens.forEach((t, i) => {
      const w = textWidth(t) * (13 / 11) + 8;
      if (x + w > width - pad && x > pad) {
        x = pad;
        y += lineH;
      }
      const v = r.values[i];
      const c = Number.isFinite(v) ? v / scale : 0, ink = Math.abs(c) > 0.6 ? ' fill="white"' : "";
      const fill = css(diverging(c));
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y}" width="${
          w.toFixed(1)
        }" height="${boxH}" rx="3" fill="${fill}" stroke="#bbb" stroke-width="0.5"><title>${
          esc(`${t}: ${v.toPrecision(3)}`)
        }</title></rect>`,
        `<text x="${(x + w / 2).toFixed(1)}" y="${y + 14}" text-anchor="middle" font-size="13"${ink}>${
          esc(t)
        }</text>`,
      );
      x += w + gap;
    });
    y += lineH + 22;
  }
  const legendY = y;
  const stops = [-1, -0.5, 0, 0.5, 1];
  stops.forEach((s, i) =>
    parts.push(
      `<rect x="${pad + i * 36}" y="${legendY}" width="34" height="12" fill="${
        css(diverging(s))
      }" stroke="#bbb" stroke-width="0.5"/>`,
    )
  );
  parts.push(
    `<text x="${pad + stops.length * 36 + 8}" y="${legendY + 10}" font-size="11">${esc(legend)}</text>`,
  );
  y = legendY + 30;
  for (const n of notes) {
    parts.push(`<text x="${pad}" y="${y}" font-size="11" fill="#444">${esc(n)}</text>`);
    y += 16;
  }
  const H = y + 4;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" font-family="sans-serif">`,
    `<rect width="${width}" height="${H}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
    ...parts,
    "</svg>",
  ].join("\n");
}

/** One class of `topWordsSvg`: its name and its words with their total attribution, largest first. */
export interface ClassWords {
  /** The class name. */
  name: string;
  /** Words and their totals. */
  words: { word: string; value: number }[];
}

/**
 * "Which words decided": one panel per class with horizontal bars for its words (the bar's
 * length is the word's total attribution, on a scale shared by all panels).
 *
 * @example
 * ```ts
 * import { topWordsSvg } from "glassbox";
 * const svg = topWordsSvg([{ name: "space", words: [{ word: "warp", value: 3 }] }, { name: "food", words: [{ word: "pie", value: 2 }] }], "Words that decided");
 * if (!svg.includes(">warp</text>") || !svg.includes(">food</text>")) throw new Error("words picture");
 * ```
 */
export function topWordsSvg(classes: ClassWords[], title: string, notes: string[] = []): string {
  const rows = Math.max(1, ...classes.map((c) => c.words.length));
  const labelW = 8 +
    Math.max(40, ...classes.flatMap((c) => c.words.map((w) => textWidth(w.word) * (12 / 11))));
  const barW = 150, panelW = labelW + barW + 60, rowH = 18, top = 60;
  const W = Math.max(classes.length * panelW + 20, textWidth(title) * 1.4 + 40);
  const H = top + rows * rowH + 24 + notes.length * 16;
  const scale = Math.max(1e-12, ...classes.flatMap((c) => c.words.map((w) => Math.abs(w.value))));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  classes.forEach((c, k) => {
    const x0 = 10 + k * panelW, color = SERIES[k % SERIES.length];
    parts.push(
      `<text x="${x0 + labelW + barW / 2}" y="${
        top - 14
      }" text-anchor="middle" font-size="13" font-weight="bold" fill="${color}">${esc(c.name)}</text>`,
    );
    c.words.forEach((w, i) => {
      const y = top + i * rowH, len = (Math.abs(w.value) / scale) * barW;
      parts.push(
        `<text x="${x0 + labelW - 6}" y="${y + 12}" text-anchor="end">${esc(w.word)}</text>`,
        `<rect x="${x0 + labelW}" y="${y + 2}" width="${len.toFixed(1)}" height="${
          rowH - 5
        }" fill="${color}"${w.value < 0 ? ' fill-opacity="0.4"' : ""}><title>${
          esc(`${c.name} · ${w.word}: ${w.value.toPrecision(4)}`)
        }</title></rect>`,
        `<text x="${x0 + labelW + len + 4}" y="${y + 12}" font-size="10" fill="#555">${
          w.value.toPrecision(3)
        }</text>`,
      );
    });
  });
  notes.forEach((n, i) =>
    parts.push(
      `<text x="10" y="${top + rows * rowH + 20 + i * 16}" font-size="11" fill="#444">${esc(n)}</text>`,
    )
  );
  parts.push("</svg>");
  return parts.join("\n");
}
