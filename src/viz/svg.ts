/**
 * SVG charts with axes, tick labels, units and a legend: line charts (linear or log y), grouped
 * bar charts, percentile-band charts (TensorBoard's distributions view) and histograms.
 */
import { SERIES } from "./colormap.ts";
import { type Language, strings } from "./strings.ts";

/** Common chart options. */
export interface ChartOptions {
  /** The title over the chart. */
  title: string;
  /** The x axis's label (with its unit). */
  xLabel: string;
  /** The y axis's label (with its unit). */
  yLabel: string;
  /** Logarithmic y axis (non-positive values are dropped). */
  logY?: boolean;
  /** Line charts: name the x positions 0, 1, 2, … (categories such as layers) instead of numeric ticks. */
  xTickLabels?: string[];
  /**
   * The corner the legend prefers (default top right). The legend never covers data: it goes to
   * the first corner, in order of preference, that no line, point or bar crosses, and outside the
   * plot, on the right, when every corner is taken.
   */
  legendAt?: LegendPlace;
  /** Only whole numbers on the x axis (epochs, counts). */
  integerX?: boolean;
  /** Lines of text under the chart, e.g. how to read it. */
  notes?: string[];
  /** The language of the words the chart adds itself ("log scale", "+N more"); default English. */
  lang?: Language;
  /** Width in pixels (default 720; a legend outside the plot adds to it). */
  width?: number;
  /** Height in pixels (default 420; notes add to it). */
  height?: number;
}

/** A corner of the plot. */
export type LegendPlace = "top-right" | "top-left" | "bottom-left" | "bottom-right";

/** A named line. */
export interface Series {
  /** The name in the legend. */
  name: string;
  /** The points [x, y]; non-finite ones are left out. */
  points: [number, number][];
  /** CSS colour (default: the palette in order). */
  color?: string;
  /** Draw dashed. */
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

function niceTicks(lo: number, hi: number, n = 6, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = integer ? Math.max(1, (hi - lo) / n) : (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = (integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => m * mag).find((s) => s >= raw) ??
    10 * mag;
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

/** About how wide a text is at 12 px: 12 px a CJK character, 6.6 px any other. */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/.test(ch) ? 12 : 6.6;
  return w;
}

/** Splits a note into lines of at most `w` pixels (`textWidth`), at spaces, or anywhere in CJK text. */
export function wrapNote(text: string, w: number): string[] {
  const out: string[] = [];
  let line = "";
  for (
    const token of text.match(
      /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+\s*|\s+/g,
    ) ?? []
  ) {
    if (line && textWidth(line + token.trimEnd()) > w && !/^[，。；：、）」』！？》]$/.test(token)) {
      out.push(line.trimEnd());
      line = token.trimStart();
    } else line += token;
  }
  if (line.trim() || out.length === 0) out.push(line.trimEnd());
  return out;
}

/**
 * A frame: scales, axes and title; returns helpers to map data to pixels. `extraRight` widens the
 * chart by that many pixels right of the plot (room for a legend outside it); `notes` add lines
 * under it.
 */
function frame(
  o: ChartOptions,
  x: [number, number],
  y: [number, number],
  xTicks?: { v: number; label: string }[],
  extraRight = 0,
) {
  const W0 = o.width ?? 720, H0 = o.height ?? 420;
  const W = W0 + extraRight;
  // each note wrapped to the chart's width (a long sentence ran off the right edge)
  const notes = (o.notes ?? []).flatMap((t) => wrapNote(t, W - M.left - 8));
  const H = H0 + 18 * notes.length + (notes.length ? 6 : 0);
  const pw = W0 - M.left - M.right, ph = H0 - M.top - M.bottom;
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
    parts.push(
      `<text class="ytick" x="${M.left - 6}" y="${py + 4}" text-anchor="end" fill="#333">${
        fmtTick(v)
      }</text>`,
    );
  }
  const xt = xTicks ?? niceTicks(x0, x1, 8, o.integerX).map((v) => ({ v, label: fmtTick(v) }));
  for (const t of xt) {
    const px = sx(t.v);
    parts.push(`<line x1="${px}" x2="${px}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    // labels at the plot's edges are anchored inwards so they are not cut off
    const anchor = xTicks && px > M.left + pw - 30 ? "end" : xTicks && px < M.left + 30 ? "start" : "middle";
    parts.push(
      `<text class="xtick" x="${px}" y="${M.top + ph + 18}" text-anchor="${anchor}" fill="#333">${
        esc(t.label)
      }</text>`,
    );
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${M.left + pw / 2}" y="${H0 - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}${
      o.logY ? esc(strings(o.lang).logScale) : ""
    }</text>`,
  );
  notes.forEach((t, i) =>
    parts.push(`<text class="note" x="${M.left}" y="${H0 + 8 + 18 * i}" fill="#333">${esc(t)}</text>`)
  );
  return { parts, sx, sy, pw, ph, W, H, y0, y1 };
}

/** A legend entry: a line (a series) or a filled swatch (a band or a bar). */
interface LegendEntry {
  name: string;
  color: string;
  dashed?: boolean;
  /** Draw a filled square of this opacity instead of a line. */
  fillOpacity?: number;
}

/** The legend's size: rows of 16 px, at most 14 rows, names cut to 60% of the chart's width. */
function legendSize(entries: LegendEntry[], W: number): { w: number; h: number } {
  const shown = Math.min(entries.length, 14);
  const w = Math.min(0.6 * W, 30 + Math.max(...entries.map((e) => textWidth(e.name))));
  return { w, h: shown * 16 + 8 + (entries.length > shown ? 14 : 0) };
}

/** A box in pixels. */
export type Box = { x: number; y: number; w: number; h: number };

/** Whether the segment (ax, ay)–(bx, by) meets the box (Liang–Barsky clipping). */
export function segmentMeetsBox(ax: number, ay: number, bx: number, by: number, r: Box): boolean {
  let t0 = 0, t1 = 1;
  const dx = bx - ax, dy = by - ay;
  for (
    const [p, q] of [[-dx, ax - r.x], [dx, r.x + r.w - ax], [-dy, ay - r.y], [dy, r.y + r.h - ay]]
  ) {
    if (p === 0) {
      if (q < 0) return false;
    } else {
      const t = q / p;
      if (p < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
      if (t0 > t1) return false;
    }
  }
  return true;
}

/** What a legend must not cover: polylines (as point lists) and boxes (bars), in pixels. */
interface Obstacles {
  lines: [number, number][][];
  boxes: Box[];
}

/** The first corner (preferred one first) where a legend of this size covers nothing; null if none is free. */
function freeCorner(
  size: { w: number; h: number },
  plot: Box,
  obstacles: Obstacles,
  prefer: LegendPlace = "top-right",
): Box | null {
  const pad = 6;
  const at = (p: LegendPlace): Box => ({
    x: p.endsWith("left") ? plot.x + pad : plot.x + plot.w - size.w - pad,
    y: p.startsWith("top") ? plot.y + pad : plot.y + plot.h - size.h - pad,
    w: size.w,
    h: size.h,
  });
  const order: LegendPlace[] = [prefer, "top-right", "top-left", "bottom-right", "bottom-left"];
  for (const p of order) {
    const b = at(p);
    if (b.x < plot.x || b.y < plot.y) continue;
    const grown = { x: b.x - 2, y: b.y - 2, w: b.w + 4, h: b.h + 4 };
    const hitLine = obstacles.lines.some((pts) =>
      pts.length === 1
        ? segmentMeetsBox(pts[0][0], pts[0][1], pts[0][0], pts[0][1], grown)
        : pts.some((q, i) => i > 0 && segmentMeetsBox(pts[i - 1][0], pts[i - 1][1], q[0], q[1], grown))
    );
    const hitBox = obstacles.boxes.some((q) =>
      q.x < grown.x + grown.w && grown.x < q.x + q.w && q.y < grown.y + grown.h && grown.y < q.y + q.h
    );
    if (!hitLine && !hitBox) return b;
  }
  return null;
}

/** Draws a legend in the box `at` (from `freeCorner`, or outside the plot). */
function legend(parts: string[], entries: LegendEntry[], at: Box, lang?: Language) {
  const rowH = 16, w = at.w;
  // a name too long for the box (at most 60% of the chart) is cut with "…"
  const cut = (s: string) => {
    if (textWidth(s) + 30 <= w + 1e-9) return s;
    let t = "";
    for (const ch of s) {
      if (textWidth(t + ch) + 30 + 6.6 > w) break;
      t += ch;
    }
    return t + "…";
  };
  const shown = entries.slice(0, 14);
  const { x, y } = at;
  parts.push(
    `<rect class="legend" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${
      at.h.toFixed(1)
    }" fill="white" fill-opacity="0.85" stroke="#ccc"/>`,
  );
  shown.forEach((e, i) => {
    const ly = y + 12 + i * rowH;
    parts.push(
      e.fillOpacity !== undefined
        ? `<rect x="${x + 6}" y="${
          ly - 10
        }" width="16" height="10" fill="${e.color}" fill-opacity="${e.fillOpacity}"/>`
        : `<line x1="${x + 6}" x2="${x + 22}" y1="${ly - 4}" y2="${
          ly - 4
        }" stroke="${e.color}" stroke-width="3"${e.dashed ? ' stroke-dasharray="4 3"' : ""}/>`,
    );
    parts.push(`<text x="${x + 26}" y="${ly}" fill="#222">${esc(cut(e.name))}</text>`);
  });
  if (entries.length > shown.length) {
    parts.push(
      `<text x="${x + 6}" y="${y + shown.length * rowH + 18}" fill="#666">${
        esc(strings(lang).more(entries.length - shown.length))
      }</text>`,
    );
  }
}

/**
 * Draws a chart whose legend must cover no data: `draw` renders it with `extraRight` pixels of
 * room right of the plot and returns its parts, the plot box and what the legend must avoid.
 */
function withLegend(
  o: ChartOptions,
  entries: LegendEntry[],
  draw: (extraRight: number) => { parts: string[]; plot: Box; obstacles: Obstacles; W: number },
  always = false,
): string {
  const W0 = o.width ?? 720;
  if (entries.length < (always ? 1 : 2)) {
    const d = draw(0);
    return [...d.parts, "</svg>"].join("\n");
  }
  const size = legendSize(entries, W0);
  const first = draw(0);
  const corner = always ? null : freeCorner(size, first.plot, first.obstacles, o.legendAt);
  if (corner) {
    legend(first.parts, entries, corner, o.lang);
    return [...first.parts, "</svg>"].join("\n");
  }
  // every corner covers data: the legend goes right of the plot, the chart grows by its width
  const d = draw(Math.ceil(size.w + 12));
  legend(d.parts, entries, { x: d.plot.x + d.plot.w + 12, y: d.plot.y, ...size }, o.lang);
  return [...d.parts, "</svg>"].join("\n");
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
  const entries = series.map((s, i) => ({
    name: s.name,
    color: s.color ?? SERIES[i % SERIES.length],
    dashed: s.dashed,
  }));
  return withLegend(o, entries, (extraRight) => {
    const f = frame(
      o,
      [
        Math.min(...xs, Infinity) === Infinity ? 0 : Math.min(...xs),
        Math.max(...xs, -Infinity) === -Infinity ? 1 : Math.max(...xs),
      ],
      [ys.length ? Math.min(...ys) : o.logY ? 1e-3 : 0, ys.length ? Math.max(...ys) : 1],
      o.xTickLabels?.map((label, v) => ({ v, label })),
      extraRight,
    );
    const lines: [number, number][][] = [];
    series.forEach((s, i) => {
      const color = entries[i].color;
      const px = s.points.filter(ok).map(([x, y]) => [f.sx(x), f.sy(y)] as [number, number]);
      lines.push(px);
      const p = px.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`);
      if (p.length === 1) {
        f.parts.push(
          `<circle cx="${px[0][0].toFixed(1)}" cy="${px[0][1].toFixed(1)}" r="3" fill="${color}"/>`,
        );
      } else if (p.length) {
        f.parts.push(
          `<polyline fill="none" stroke="${color}" stroke-width="1.8"${
            s.dashed ? ' stroke-dasharray="5 3"' : ""
          } points="${p.join(" ")}"/>`,
        );
      }
    });
    return {
      parts: f.parts,
      plot: { x: M.left, y: M.top, w: f.pw, h: f.ph },
      obstacles: { lines, boxes: [] },
      W: f.W,
    };
  });
}

/**
 * Grouped bars: one group per category (e.g. per layer), one bar per series. On a linear axis a
 * negative value is a bar down from 0.
 *
 * @example
 * ```ts
 * import { barChart } from "glassbox";
 * const svg = barChart(["age", "income"], [{ name: "IG", values: [0.5, -0.5] }], { title: "t", xLabel: "x", yLabel: "y" });
 * const heights = [...svg.matchAll(/<rect [^>]*height="([\d.]+)" fill="[^"]+"><title>/g)].map((m) => Number(m[1]));
 * if (heights.length !== 2 || Math.abs(heights[0] - heights[1]) > 0.2) throw new Error(`bars ${heights}`);
 * ```
 */
export function barChart(
  categories: string[],
  groups: { name: string; values: number[]; color?: string }[],
  o: ChartOptions,
): string {
  const vals = groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v) && (!o.logY || v > 0));
  const lo = o.logY ? Math.min(...vals) : Math.min(0, ...vals);
  const entries = groups.map((g, i) => ({
    name: g.name,
    color: g.color ?? SERIES[i % SERIES.length],
    fillOpacity: 1,
  }));
  return withLegend(o, entries, (extraRight) => {
    const f = frame(
      o,
      [-0.5, categories.length - 0.5],
      [
        vals.length ? lo : 0,
        vals.length ? Math.max(...vals) : 1,
      ],
      categories.map((c, i) => ({ v: i, label: c })),
      extraRight,
    );
    const bw = (f.pw / Math.max(1, categories.length)) * 0.8 / Math.max(1, groups.length);
    const base = o.logY ? f.y0 : Math.max(f.y0, 0);
    const boxes: Box[] = [];
    groups.forEach((g, gi) => {
      const color = entries[gi].color;
      g.values.forEach((v, i) => {
        if (!Number.isFinite(v) || (o.logY && v <= 0)) return;
        const x = f.sx(i) - (bw * groups.length) / 2 + gi * bw;
        // a linear axis draws a negative value as a bar down from 0; a log axis has no negatives
        const y = f.sy(o.logY ? Math.max(v, base) : v), y0 = f.sy(base);
        boxes.push({ x, y: Math.min(y, y0), w: bw * 0.92, h: Math.abs(y0 - y) });
        f.parts.push(
          `<rect x="${x.toFixed(1)}" y="${Math.min(y, y0).toFixed(1)}" width="${
            (bw * 0.92).toFixed(1)
          }" height="${Math.abs(y0 - y).toFixed(1)}" fill="${color}"><title>${
            esc(`${categories[i]} ${g.name}: ${v.toPrecision(4)}`)
          }</title></rect>`,
        );
      });
    });
    return {
      parts: f.parts,
      plot: { x: M.left, y: M.top, w: f.pw, h: f.ph },
      obstacles: { lines: [], boxes },
      W: f.W,
    };
  });
}

/**
 * Percentile bands over steps, as TensorBoard's distributions view: nested shaded bands
 * (e.g. min–max, 7th–93rd, 16th–84th, 31st–69th percentiles) around a median line.
 * `bands[i]` holds, for step `steps[i]`, an odd number of ascending percentile values.
 */
export function bandChart(
  steps: number[],
  bands: number[][],
  o: ChartOptions & { bandNames?: string[]; medianName?: string },
): string {
  if (steps.length === 1) {
    // one step: a block ±0.4 wide, so the bands show at all
    steps = [steps[0] - 0.4, steps[0] + 0.4];
    bands = [bands[0], bands[0]];
  }
  const all = bands.flat().filter(Number.isFinite);
  const k = bands[0]?.length ?? 0;
  const opacity = (j: number) => Number((0.15 + 0.17 * j).toFixed(2));
  // the key: one swatch a band (outermost first), then the median line; always right of the plot
  const entries: LegendEntry[] = [];
  if (o.bandNames) {
    for (let j = 0; j < Math.floor(k / 2); j++) {
      // the swatch shows the band as drawn: its own layer over every outer one
      let clear = 1;
      for (let i = 0; i <= j; i++) clear *= 1 - opacity(i);
      entries.push({
        name: o.bandNames[j] ?? `band ${j + 1}`,
        color: "#f28e2b",
        fillOpacity: Number((1 - clear).toFixed(2)),
      });
    }
    if (k % 2 === 1) entries.push({ name: o.medianName ?? "median", color: "#b8560f" });
  }
  return withLegend(o, entries, (extraRight) => {
    const f = frame(
      o,
      [Math.min(...steps), Math.max(...steps)],
      [Math.min(...all), Math.max(...all)],
      undefined,
      extraRight,
    );
    for (let j = 0; j < Math.floor(k / 2); j++) {
      const top = steps.map((s, i) => `${f.sx(s).toFixed(1)},${f.sy(bands[i][k - 1 - j]).toFixed(1)}`);
      const bottom = steps.map((s, i) => `${f.sx(s).toFixed(1)},${f.sy(bands[i][j]).toFixed(1)}`).reverse();
      f.parts.push(
        `<polygon points="${[...top, ...bottom].join(" ")}" fill="#f28e2b" fill-opacity="${
          opacity(j).toFixed(2)
        }" stroke="none"/>`,
      );
    }
    if (k % 2 === 1) {
      const mid = steps.map((s, i) => `${f.sx(s).toFixed(1)},${f.sy(bands[i][(k - 1) / 2]).toFixed(1)}`);
      f.parts.push(`<polyline fill="none" stroke="#b8560f" stroke-width="1.5" points="${mid.join(" ")}"/>`);
    }
    return {
      parts: f.parts,
      plot: { x: M.left, y: M.top, w: f.pw, h: f.ph },
      obstacles: { lines: [], boxes: [] },
      W: f.W,
    };
  }, true);
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
  if (series.length > 1) {
    const entries = series.map((s, i) => ({ name: s.name, color: s.color ?? SERIES[i % SERIES.length] }));
    const size = legendSize(entries, f.W);
    legend(f.parts, entries, { x: f.W - M.right - size.w - 6, y: M.top + 6, ...size }, o.lang);
  }
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
