/**
 * The roofline picture: each kernel as a point at its arithmetic intensity (flops per byte moved)
 * and its achieved GFLOP/s, under the roof min(peak GFLOP/s, bandwidth × intensity) drawn from
 * measured ceilings. A point near the slanted part is limited by memory, near the flat part by
 * arithmetic; far below the roof, by neither (launch overhead, poor use of the machine).
 */
import { SERIES } from "./colormap.ts";
import { esc, svgStart, textWidth, wrapNote } from "./svg.ts";

/** One kernel on the roofline. */
export interface RooflinePoint {
  /** The kernel's name (listed beside the plot with its number). */
  name: string;
  /** Flops per byte moved. */
  intensity: number;
  /** Achieved GFLOP/s. */
  gflopPerS: number;
  /** Its share of the time (0..1), shown in the list. */
  share?: number;
}

/** Options of `rooflineSvg`. */
export interface RooflineOptions {
  /** The title over the plot. */
  title: string;
  /** The memory ceiling, GB/s (e.g. a copy kernel's). */
  gbPerS: number;
  /** The arithmetic ceiling, GFLOP/s (e.g. the best matmul's). */
  gflopPerS: number;
  /** Sentences under the plot: what it shows, how the ceilings were measured. */
  notes?: string[];
}

const decades = (lo: number, hi: number) => {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
};
const fmt = (v: number) => (v >= 1 ? String(Number(v.toPrecision(3))) : v.toPrecision(2).replace(/0+$/, ""));

/**
 * A roofline chart (log-log) of kernels against measured ceilings, as SVG text. Points are
 * numbered; the list on the right names them.
 *
 * @example
 * ```ts
 * import { rooflineSvg } from "glassbox";
 * const svg = rooflineSvg([{ name: "matmul", intensity: 8, gflopPerS: 20 }], { title: "t", gbPerS: 10, gflopPerS: 50 });
 * if ((svg.match(/<title>matmul<\/title>/g) ?? []).length !== 1) throw new Error("one point, named");
 * ```
 */
export function rooflineSvg(points: readonly RooflinePoint[], o: RooflineOptions): string {
  if (!(o.gbPerS > 0 && o.gflopPerS > 0)) {
    throw new Error(
      `rooflineSvg: the ceilings must be positive, got ${o.gbPerS} GB/s and ${o.gflopPerS} GFLOP/s`,
    );
  }
  const pts = points.filter((p) => p.intensity > 0 && p.gflopPerS > 0);
  const ridge = o.gflopPerS / o.gbPerS;
  const xs = [...pts.map((p) => p.intensity), ridge / 8, ridge * 8];
  const ys = [...pts.map((p) => p.gflopPerS), o.gflopPerS * 2];
  const [x0, x1] = [
    10 ** Math.floor(Math.log10(Math.min(...xs))),
    10 ** Math.ceil(Math.log10(Math.max(...xs))),
  ];
  const [y0, y1] = [
    10 ** Math.floor(Math.log10(Math.min(...ys, o.gbPerS * x0))),
    10 ** Math.ceil(Math.log10(Math.max(...ys))),
  ];
  const label = (p: RooflinePoint, i: number) =>
    `${i + 1}  ${p.name}${
      p.share === undefined ? "" : ` (${p.share < 0.005 ? "<1" : (100 * p.share).toFixed(0)}% of time)`
    }`;
  const listW = Math.max(200, ...pts.map((p, i) => textWidth(label(p, i)) + 20));
  const L = 78, T = 44, PW = 520, PH = 360;
  const W = Math.max(L + PW + 30 + listW, textWidth(o.title) * 1.3 + 40);
  const notes = (o.notes ?? []).flatMap((n) => wrapNote(n, W - L - 20));
  const H = T + PH + 56 + notes.length * 16;
  const sx = (x: number) => L + (Math.log10(x / x0) / Math.log10(x1 / x0)) * PW;
  const sy = (y: number) => T + PH - (Math.log10(y / y0) / Math.log10(y1 / y0)) * PH;
  const parts = svgStart(W, H, o.title);
  parts.push(`<rect x="${L}" y="${T}" width="${PW}" height="${PH}" fill="none" stroke="#888"/>`);
  for (const x of decades(x0, x1).filter((x) => x >= x0 && x <= x1)) {
    parts.push(
      `<line x1="${sx(x).toFixed(1)}" y1="${T}" x2="${sx(x).toFixed(1)}" y2="${T + PH}" stroke="#eee"/>`,
      `<text x="${sx(x).toFixed(1)}" y="${T + PH + 16}" text-anchor="middle">${fmt(x)}</text>`,
    );
  }
  for (const y of decades(y0, y1).filter((y) => y >= y0 && y <= y1)) {
    parts.push(
      `<line x1="${L}" y1="${sy(y).toFixed(1)}" x2="${L + PW}" y2="${sy(y).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${L - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end">${fmt(y)}</text>`,
    );
  }
  parts.push(
    `<text x="${L + PW / 2}" y="${
      T + PH + 36
    }" text-anchor="middle">arithmetic intensity (flops per byte moved, log scale)</text>`,
    `<text x="20" y="${T + PH / 2}" text-anchor="middle" transform="rotate(-90 20 ${
      T + PH / 2
    })">achieved GFLOP/s (log scale)</text>`,
  );
  // the roof: bandwidth × intensity up to the ridge, then the peak
  const roofStart = Math.max(x0, y0 / o.gbPerS);
  parts.push(
    `<polyline fill="none" stroke="#333" stroke-width="2" points="${sx(roofStart).toFixed(1)},${
      sy(o.gbPerS * roofStart).toFixed(1)
    } ${sx(ridge).toFixed(1)},${sy(o.gflopPerS).toFixed(1)} ${sx(x1).toFixed(1)},${
      sy(o.gflopPerS).toFixed(1)
    }"/>`,
    `<text x="${(sx(x1) - 6).toFixed(1)}" y="${(sy(o.gflopPerS) - 6).toFixed(1)}" text-anchor="end">peak ${
      fmt(o.gflopPerS)
    } GFLOP/s</text>`,
  );
  // the slope's label, along it, above its middle
  const [ax, ay, bx, by] = [sx(roofStart), sy(o.gbPerS * roofStart), sx(ridge), sy(o.gflopPerS)];
  const angle = (Math.atan2(by - ay, bx - ax) * 180) / Math.PI;
  const [mx, my] = [(ax + bx) / 2, (ay + by) / 2];
  parts.push(
    `<text x="${mx.toFixed(1)}" y="${(my - 6).toFixed(1)}" text-anchor="middle" transform="rotate(${
      angle.toFixed(1)
    } ${mx.toFixed(1)} ${my.toFixed(1)})">memory ${fmt(o.gbPerS)} GB/s</text>`,
  );
  // each number goes where it covers no point and no number placed before it
  const taken: { x: number; y: number; w: number; h: number }[] = pts.map((p) => ({
    x: sx(p.intensity) - 5,
    y: sy(p.gflopPerS) - 5,
    w: 10,
    h: 10,
  }));
  const free = (b: { x: number; y: number; w: number; h: number }) =>
    taken.every((t) => b.x + b.w <= t.x || t.x + t.w <= b.x || b.y + b.h <= t.y || t.y + t.h <= b.y);
  pts.forEach((p, i) => {
    const c = SERIES[i % SERIES.length];
    const cx = sx(p.intensity), cy = sy(p.gflopPerS);
    const w = textWidth(String(i + 1)) * 0.92, h = 11;
    const spots = [[7, -16], [7, 5], [-7 - w, -16], [-7 - w, 5], [-w / 2, -22], [-w / 2, 11], [14, -5], [
      -14 - w,
      -5,
    ]];
    const [dx, dy] = spots.find(([dx, dy]) => free({ x: cx + dx, y: cy + dy, w, h })) ?? spots[0];
    taken.push({ x: cx + dx, y: cy + dy, w, h });
    parts.push(
      `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="5" fill="${c}"><title>${
        esc(p.name)
      }</title></circle>`,
      `<text x="${(cx + dx).toFixed(1)}" y="${(cy + dy + h - 2).toFixed(1)}" font-size="11">${i + 1}</text>`,
    );
    parts.push(
      `<circle cx="${L + PW + 36}" cy="${T + 8 + i * 18}" r="5" fill="${c}"/>`,
      `<text x="${L + PW + 46}" y="${T + 12 + i * 18}">${esc(label(p, i))}</text>`,
    );
  });
  notes.forEach((n, i) =>
    parts.push(`<text x="${L}" y="${T + PH + 60 + i * 16}" fill="#444">${esc(n)}</text>`)
  );
  parts.push("</svg>");
  return parts.join("\n");
}
