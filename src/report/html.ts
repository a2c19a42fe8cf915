/**
 * A self-contained HTML page: a navigation bar of sections, every picture embedded as a data
 * URI (SVG or PNG), tables and preformatted text escaped. No scripts, no external files: the
 * page opens offline and shows the same thing in any browser.
 */
import { base64 } from "../viz/png.ts";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * An `<img>` of an SVG document or PNG bytes, embedded as a data URI, with alternative text.
 *
 * @example
 * ```ts
 * import { embedImage } from "glassbox";
 * embedImage('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', "an empty picture");
 * ```
 */
export function embedImage(
  image: string | Uint8Array,
  alt: string,
  options: { width?: number } = {},
): string {
  const src = typeof image === "string"
    ? `data:image/svg+xml;base64,${base64(new TextEncoder().encode(image))}`
    : `data:image/png;base64,${base64(image)}`;
  const w = options.width ? ` style="width:${options.width}px"` : "";
  return `<img src="${src}" alt="${escapeHtml(alt)}"${w}>`;
}

/** A table: a header row and body rows of text (escaped), numbers right-aligned. */
export function htmlTable(header: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number, tag: string) =>
    `<${tag}${typeof v === "number" ? ' class="num"' : ""}>${escapeHtml(String(v))}</${tag}>`;
  return `<table><thead><tr>${header.map((h) => cell(h, "th")).join("")}</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((v) => cell(v, "td")).join("")}</tr>`).join("")
  }</tbody></table>`;
}

/** One section of the page. */
export interface ReportSection {
  /** The anchor, e.g. "calibration". */
  id: string;
  /** The heading shown in the page and in the navigation. */
  title: string;
  /** The section's HTML (built with `embedImage`, `htmlTable`, `escapeHtml`). */
  html: string;
}

const STYLE = `
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,"Noto Sans CJK SC",sans-serif;color:#222;background:#fafafa}
nav{position:sticky;top:0;z-index:1;background:#243447;padding:8px 16px;display:flex;flex-wrap:wrap;gap:4px 14px}
nav a{color:#e8eef5;text-decoration:none;font-size:14px}nav a:hover{text-decoration:underline}
nav .brand{font-weight:bold;color:#fff;margin-right:12px}
main{max-width:1280px;margin:0 auto;padding:8px 24px 48px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px 20px 16px;margin:18px 0;scroll-margin-top:48px}
h1{font-size:24px;margin:18px 0 4px}h2{font-size:19px;border-bottom:1px solid #eee;padding-bottom:4px}
img{max-width:100%;height:auto;margin:6px 8px 6px 0;vertical-align:top}
table{border-collapse:collapse;margin:8px 0;font-size:14px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f2f4f7}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;border:1px solid #e3e3e3;padding:8px 12px;overflow:auto;font-size:13px;white-space:pre-wrap}
.note{color:#555;font-size:14px}.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px 12px;margin:8px 0;background:#fff}
.intro{color:#333;background:#f4f7fb;border-left:3px solid #4e79a7;padding:6px 10px;margin:6px 0 10px}
.warning{background:#fff4e5;border-left:3px solid #e15759;padding:6px 10px;font-weight:bold}
figure{margin:6px 8px 6px 0;max-width:100%}figcaption{font-size:13px;color:#444;max-width:640px}
figure img{margin:0}
`;

/**
 * The page: a title, a navigation bar linking every section, and the sections in order;
 * `lang` is the page's language (`<html lang>`), which also picks the browser's font for it.
 *
 * @example
 * ```ts
 * import { htmlPage } from "glassbox";
 * const html = htmlPage("Run report", [{ id: "a", title: "A section", html: "<p>text</p>" }]);
 * ```
 */
export function htmlPage(title: string, sections: ReportSection[], subtitle = "", lang = "en"): string {
  if (!/^[a-z]{2,3}(-[A-Za-z0-9]+)*$/.test(lang)) throw new Error(`htmlPage: bad language tag "${lang}"`);
  const ids = new Set<string>();
  for (const s of sections) {
    if (!/^[a-z][a-z0-9-]*$/.test(s.id) || ids.has(s.id)) {
      throw new Error(`htmlPage: bad or repeated section id "${s.id}"`);
    }
    ids.add(s.id);
  }
  return [
    "<!DOCTYPE html>",
    `<html lang="${lang}"><head><meta charset="utf-8">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`,
    `<nav><span class="brand">${escapeHtml(title)}</span>${
      sections.map((s) => `<a href="#${s.id}">${escapeHtml(s.title)}</a>`).join("")
    }</nav>`,
    `<main><h1>${escapeHtml(title)}</h1>${subtitle ? `<p class="note">${escapeHtml(subtitle)}</p>` : ""}`,
    ...sections.map((s) => `<section id="${s.id}"><h2>${escapeHtml(s.title)}</h2>${s.html}</section>`),
    "</main></body></html>",
  ].join("\n");
}
