/**
 * SVG charts with axes, tick labels, units and a legend: line charts (linear or log y), grouped
 * bar charts, percentile-band charts (TensorBoard's distributions view) and histograms.
 */
import { SERIES } from "./colormap.ts";

/** Common chart options. */
export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic y axis (non-positive values are dropped). */
  logY?: boolean;
  /** Line charts: name the x positions 0, 1, 2, … (categories such as layers) instead of numeric ticks. */
  xTickLabels?: string[];
  /** Where the legend goes (default top right). */
  legendAt?: "top-right" | "top-left" | "bottom-left";
  width?: number;
  height?: number;
}

/** A named line. */
export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
}

/** Escapes text for SVG/XML content. */
export const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const M = { left: 78, right: 24, top: 44, bottom: 56 };

function fmtTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return Number(v.toPrecision(3)).toExponential().replace("e+", "e");
  return Number(v.toPrecision(3)).toString();
}

function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/** The opening of a chart: the svg element, a white background and the bold title centred on top. */
export function svgStart(W: number, H: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
}

/** A frame: scales, axes and title; returns helpers to map data to pixels. */
function frame(
  o: ChartOptions,
  x: [number, number],
  y: [number, number],
  xTicks?: { v: number; label: string }[],
) {
  const W = o.width ?? 720, H = o.height ?? 420;
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  let [y0, y1] = y;
  if (o.logY) {
    y0 = 10 ** Math.floor(Math.log10(y0));
    y1 = 10 ** Math.ceil(Math.log10(y1));
    if (y1 <= y0) y1 = y0 * 10;
  } else if (y0 === y1) {
    y0 -= 1;
    y1 += 1;
  } else {
    const pad = (y1 - y0) * 0.05;
    y0 = y0 >= 0 && y0 - pad < 0 ? 0 : y0 - pad;
    y1 += pad;
  }
  const [x0, x1] = x[0] === x[1] ? [x[0] - 1, x[1] + 1] : x;
  const sx = (v: number) => M.left + ((v - x0) / (x1 - x0)) * pw;
  const sy = (v: number) =>
    M.top + ph -
    (o.logY ? (Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0)) : (v - y0) / (y1 - y0)) *
      ph;
  const parts: string[] = svgStart(W, H, o.title);
  // y grid and ticks
  const yt = o.logY
    ? Array.from({ length: Math.round(Math.log10(y1 / y0)) + 1 }, (_, i) => y0 * 10 ** i)
    : niceTicks(y0, y1);
  const ytShown = o.logY && yt.length > 9 ? yt.filter((_, i) => i % Math.ceil(yt.length / 8) === 0) : yt;
  for (const v of ytShown) {
    const py = sy(v);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${py}" y2="${py}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${M.left - 6}" y="${py + 4}" text-anchor="end" fill="#333">${fmtTick(v)}</text>`);
  }
  const xt = xTicks ?? niceTicks(x0, x1, 8).map((v) => ({ v, label: fmtTick(v) }));
  for (const t of xt) {
    const px = sx(t.v);
    parts.push(`<line x1="${px}" x2="${px}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    // labels at the plot's edges are anchored inwards so they are not cut off
    const anchor = xTicks && px > M.left + pw - 30 ? "end" : xTicks && px < M.left + 30 ? "start" : "middle";
    parts.push(
      `<text x="${px}" y="${M.top + ph + 18}" text-anchor="${anchor}" fill="#333">${esc(t.label)}</text>`,
    );
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${
      o.logY ? " (log scale)" : ""
    }</text>`,
  );
  return { parts, sx, sy, pw, ph, W, H, y0, y1 };
}

function legend(
  parts: string[],
  entries: { name: string; color: string; dashed?: boolean }[],
  W: number,
  at: { place?: "top-right" | "top-left" | "bottom-left"; bottom?: number } = {},
) {
  if (entries.length < 2) return;
  // about 6.6 px a character at 12 px; a name too long for the box (at most 60% of the chart) is cut with "…"
  const rowH = 16, w = Math.min(0.6 * W, 30 + 6.6 * Math.max(...entries.map((e) => e.name.length)));
  const fit = Math.floor((w - 30) / 6.6 + 1e-9); // (6.6·n)/6.6 can land just under n
  const cut = (s: string) => (s.length > fit ? s.slice(0, fit - 1) + "…" : s);
  const shown = entries.slice(0, 14);
  const bottomLeft = at.place === "bottom-left" && at.bottom !== undefined;
  const x = bottomLeft || at.place === "top-left" ? M.left + 6 : W - M.right - w - 6;
  const y = bottomLeft ? at.bottom! - 6 - (Math.min(entries.length, 14) * rowH + 8) : M.top + 6;
  parts.push(
    `<rect x="${x}" y="${y}" width="${w}" height="${
      shown.length * rowH + 8
    }" fill="white" fill-opacity="0.85" stroke="#ccc"/>`,
  );
  shown.forEach((e, i) => {
    const ly = y + 12 + i * rowH;
    parts.push(
      `<line x1="${x + 6}" x2="${x + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${e.color}" stroke-width="3"${
        e.dashed ? ' stroke-dasharray="4 3"' : ""
      }/>`,
    );
    parts.push(`<text x="${x + 26}" y="${ly}" fill="#222">${esc(cut(e.name))}</text>`);
  });
  if (entries.length > shown.length) {
    parts.push(
      `<text x="${x + 6}" y="${y + shown.length * rowH + 20}" fill="#666">+${
        entries.length - shown.length
      } more</text>`,
    );
  }
}

/**
 * Lines over a numeric x axis.
 *
 * @example
 * ```ts
 * import { lineChart } from "glassbox";
 * const svg = lineChart([{ name: "loss", points: [[1, 2.3], [2, 1.1], [3, 0.6]] }],
 *   { title: "Training loss", xLabel: "step", yLabel: "cross-entropy" });
 * ```
 */
export function lineChart(series: Series[], o: ChartOptions): string {
  const ok = (p: [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!o.logY || p[1] > 0);
  const pts = series.flatMap((s) => s.points.filter(ok));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const f = frame(
    o,
    [
      Math.min(...xs, Infinity) === Infinity ? 0 : Math.min(...xs),
      Math.max(...xs, -Infinity) === -Infinity ? 1 : Math.max(...xs),
    ],
    [ys.length ? Math.min(...ys) : o.logY ? 1e-3 : 0, ys.length ? Math.max(...ys) : 1],
    o.xTickLabels?.map((label, v) => ({ v, label })),
  );
  series.forEach((s, i) => {
    const color = s.color ?? SERIES[i % SERIES.length];
    const p = s.points.filter(ok).map(([x, y]) => `${f.sx(x).toFixed(1)},${f.sy(y).toFixed(1)}`);
    if (p.length === 1) {
      const [cx, cy] = p[0].split(",");
      f.parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
    } else if (p.length) {
      f.parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.8"${
          s.dashed ? ' stroke-dasharray="5 3"' : ""
        } points="${p.join(" ")}"/>`,
      );
    }
  });
  legend(
    f.parts,
    series.map((s, i) => ({ name: s.name, color: s.color ?? SERIES[i % SERIES.length], dashed: s.dashed })),
    f.W,
    { place: o.legendAt, bottom: M.top + f.ph },
  );
  f.parts.push("</svg>");
  return f.parts.join("\n");
}

/** Grouped bars: one group per category (e.g. per layer), one bar per series. */
export function barChart(
  categories: string[],
  groups: { name: string; values: number[]; color?: string }[],
  o: ChartOptions,
): string {
  const vals = groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && (!o.logY || v > 0));
  const lo = o.logY ? Math.min(...vals) : Math.min(0, ...vals);
  const f = frame(o, [-0.5, categories.length - 0.5], [
    vals.length ? lo : 0,
    vals.length ? Math.max(...vals) : 1,
  ], categories.map((c, i) => ({ v: i, label: c })));
  const bw = (f.pw / Math.max(1, categories.length)) * 0.8 / Math.max(1, groups.length);
  const base = o.logY ? f.y0 : Math.max(f.y0, 0);
  groups.forEach((g, gi) => {
    const color = g.color ?? SERIES[gi % SERIES.length];
    g.values.forEach((v, i) => {
      if (!Number.isFinite(v) || (o.logY && v <= 0)) return;
      const x = f.sx(i) - (bw * groups.length) / 2 + gi * bw;
      const y = f.sy(Math.max(v, base)), y0 = f.sy(base);
      f.parts.push(
        `<rect x="${x.toFixed(1)}" y="${Math.min(y, y0).toFixed(1)}" width="${
          (bw * 0.92).toFixed(1)
        }" height="${Math.abs(y0 - y).toFixed(1)}" fill="${color}"><title>${
          esc(`${categories[i]} ${g.name}: ${v.toPrecision(4)}`)
        }</title></rect>`,
      );
    });
  });
  legend(f.parts, groups.map((g, i) => ({ name: g.name, color: g.color ?? SERIES[i % SERIES.length] })), f.W);
  f.parts.push("</svg>");
  return f.parts.join("\n");
}

/**
 * Percentile bands over steps, as TensorBoard's distributions view: nested shaded bands
 * (e.g. min–max, 7th–93rd, 16th–84th, 31st–69th percentiles) around a median line.
 * `bands[i]` holds, for step `steps[i]`, an odd number of ascending percentile values.
 */
export function bandChart(steps: number[], bands: number[][], o: ChartOptions): string {
  const all = bands.flat().filter(Number.isFinite);
  const f = frame(o, [Math.min(...steps), Math.max(...steps)], [Math.min(...all), Math.max(...all)]);
  const k = bands[0]?.length ?? 0;
  for (let j = 0; j < Math.floor(k / 2); j++) {
    const top = steps.map((s, i) => `${f.sx(s).toFixed(1)},${f.sy(bands[i][k - 1 - j]).toFixed(1)}`);
    const bottom = steps.map((s, i) => `${f.sx(s).toFixed(1)},${f.sy(bands[i][j]).toFixed(1)}`).reverse();
    const opacity = 0.15 + 0.17 * j;
    f.parts.push(
      `<polygon points="${[...top, ...bottom].join(" ")}" fill="#f28e2b" fill-opacity="${
        opacity.toFixed(2)
      }" stroke="none"/>`,
    );
  }
  if (k % 2 === 1) {
    const mid = steps.map((s, i) => `${f.sx(s).toFixed(1)},${f.sy(bands[i][(k - 1) / 2]).toFixed(1)}`);
    f.parts.push(`<polyline fill="none" stroke="#b8560f" stroke-width="1.5" points="${mid.join(" ")}"/>`);
  }
  f.parts.push("</svg>");
  return f.parts.join("\n");
}

/** Histograms (counts over equal bins between lo and hi) drawn as step outlines, one per series. */
export function histogramChart(
  series: { name: string; lo: number; hi: number; counts: number[]; color?: string }[],
  o: ChartOptions,
): string {
  const lo = Math.min(...series.map((s) => s.lo)), hi = Math.max(...series.map((s) => s.hi));
  const maxC = Math.max(1, ...series.flatMap((s) => s.counts));
  // headroom above the tallest bar for the legend (drawn when there are two series or more)
  const f = frame(o, [lo, hi], [0, series.length > 1 ? maxC * (1.15 + 0.12 * series.length) : maxC]);
  series.forEach((s, i) => {
    const color = s.color ?? SERIES[i % SERIES.length];
    const w = (s.hi - s.lo) / s.counts.length;
    const pts: string[] = [`${f.sx(s.lo).toFixed(1)},${f.sy(0).toFixed(1)}`];
    s.counts.forEach((c, b) => {
      pts.push(
        `${f.sx(s.lo + b * w).toFixed(1)},${f.sy(c).toFixed(1)}`,
        `${f.sx(s.lo + (b + 1) * w).toFixed(1)},${f.sy(c).toFixed(1)}`,
      );
    });
    pts.push(`${f.sx(s.hi).toFixed(1)},${f.sy(0).toFixed(1)}`);
    f.parts.push(
      `<polygon points="${pts.join(" ")}" fill="${color}" fill-opacity="${
        series.length > 1 ? 0.25 : 0.6
      }" stroke="${color}" stroke-width="1.2"/>`,
    );
  });
  legend(f.parts, series.map((s, i) => ({ name: s.name, color: s.color ?? SERIES[i % SERIES.length] })), f.W);
  f.parts.push("</svg>");
  return f.parts.join("\n");
}

/** Small multiples: several SVG charts side by side in one SVG. */
export function gridOfCharts(charts: string[], columns: number): string {
  const size = (svg: string) => {
    const m = /width="(\d+)" height="(\d+)"/.exec(svg);
    return m ? [Number(m[1]), Number(m[2])] : [720, 420];
  };
  const [w, h] = charts.length ? size(charts[0]) : [720, 420];
  const rows = Math.ceil(charts.length / columns);
  const body = charts.map((c, i) =>
    `<g transform="translate(${(i % columns) * w} ${Math.floor(i / columns) * h})">${
      c.replace(/^<svg[^>]*>/, "").replace(/<\/svg>$/, "")
    }</g>`
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w * Math.min(columns, charts.length)}" height="${
    h * rows
  }" font-family="Helvetica, Arial, sans-serif" font-size="12">\n${body.join("\n")}\n</svg>`;
}
