/**
 * The charts, read back from their SVG numbers: a legend covers no curve and no bar (checked by
 * walking every drawn segment in half-pixel steps and every bar's corners), the accuracy axis
 * has whole epochs only, the weight-distribution bands have a key, and a Chinese chart carries
 * no English word of the English table.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

type Box = { x: number; y: number; w: number; h: number };
const num = (tag: string, a: string) => Number(new RegExp(`\\s${a}="(-?[\\d.]+)"`).exec(tag)![1]);

function legendBox(svg: string): Box {
  const tag = /<rect class="legend"[^>]*>/.exec(svg);
  assert.ok(tag, "the chart has a legend");
  return { x: num(tag[0], "x"), y: num(tag[0], "y"), w: num(tag[0], "width"), h: num(tag[0], "height") };
}

const inside = (b: Box, x: number, y: number) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h;

/** Every point drawn by a polyline or circle that falls in the box (segments walked every half pixel). */
function curvePointsIn(svg: string, b: Box): [number, number][] {
  const hits: [number, number][] = [];
  for (const m of svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)) {
    const pts = m[1].trim().split(/\s+/).map((p) => p.split(",").map(Number));
    for (let i = 1; i < pts.length; i++) {
      const [ax, ay] = pts[i - 1], [bx, by] = pts[i];
      const n = Math.max(1, Math.ceil(2 * Math.hypot(bx - ax, by - ay)));
      for (let k = 0; k <= n; k++) {
        const x = ax + ((bx - ax) * k) / n, y = ay + ((by - ay) * k) / n;
        if (inside(b, x, y)) hits.push([x, y]);
      }
    }
  }
  for (const m of svg.matchAll(/<circle[^>]*>/g)) {
    const x = num(m[0], "cx"), y = num(m[0], "cy");
    if (inside(b, x, y)) hits.push([x, y]);
  }
  return hits;
}

/** The bars (rects with a <title>) that overlap the box. */
function barsIn(svg: string, b: Box): string[] {
  return [...svg.matchAll(/<rect ([^>]*)><title>([^<]*)<\/title>/g)].filter((m) => {
    const t = " " + m[1], x = num(t, "x"), y = num(t, "y"), w = num(t, "width"), h = num(t, "height");
    return x < b.x + b.w && b.x < x + w && y < b.y + b.h && b.y < y + h;
  }).map((m) => m[2]);
}

Deno.test("lineChart: with insertion curves in every corner the legend covers no point of any curve", () => {
  // like explain's insertion chart: curves rising fast (top-left), slowly (bottom-right), late, and a flat random one
  const xs = Array.from({ length: 21 }, (_, i) => 5 * i);
  const shapes: [string, (t: number) => number][] = [
    ["Integrated Gradients", (t) => 1 - Math.exp(-8 * t)],
    ["Saliency", (t) => 1 - Math.exp(-4 * t)],
    ["Input×Gradient", (t) => Math.min(1, 2 * t)],
    ["DeepLift (rescale)", (t) => t ** 0.5],
    ["Grad-CAM", (t) => t],
    ["Occlusion 4×4", (t) => t ** 2],
    ["KernelShap (25 samples)", (t) => t ** 4],
    ["random (seeded)", () => 0.1],
    ["Guided Backprop", (t) => 0.1 + 0.8 / (1 + Math.exp(-12 * (t - 0.5)))],
  ];
  const series = shapes.map(([name, f]) => ({
    name,
    points: xs.map((x) => [x, f(x / 100)] as [number, number]),
  }));
  const svg = gb.lineChart(series, {
    title: "Insertion: most important pixels restored first (higher is better)",
    xLabel: "pixels restored (%)",
    yLabel: "probability of the predicted class",
  });
  const b = legendBox(svg);
  assert.deepEqual(curvePointsIn(svg, b).slice(0, 3), [], `legend at ${JSON.stringify(b)}`);
  // with a free corner the legend stays inside the chart: two curves hugging the bottom
  const low = gb.lineChart(
    [{ name: "a", points: [[0, 0], [10, 0.1], [20, 1]] }, { name: "b", points: [[0, 0], [20, 0.05]] }],
    { title: "t", xLabel: "x", yLabel: "y" },
  );
  const lb = legendBox(low);
  assert.deepEqual(curvePointsIn(low, lb), []);
  assert.match(low, /<svg [^>]*width="720"/, "no need to widen the chart");
});

Deno.test("gradientFlowChart: the legend covers no bar, also when the last layer's bar is the tallest", () => {
  const s = (v: number) => ({ min: -v, max: v, meanAbs: v, maxAbs: 3 * v, norm: v, histogram: [] });
  const rec = (step: number): gb.ChartRecord => ({
    step,
    layers: [],
    params: [
      { name: "0.weight", layer: "0", grad: s(1e-3), weight: s(1) },
      { name: "3.weight", layer: "3", grad: s(2e-3), weight: s(1) },
      { name: "7.weight", layer: "7", grad: s(4e-3), weight: s(1) },
      { name: "9.weight", layer: "9", grad: s(3.2e-2), weight: s(1) }, // max 0.096: near the top of its decade
    ],
  });
  for (const lang of ["en", "zh"] as const) {
    const svg = gb.gradientFlowChart([rec(10), rec(20)], lang);
    assert.deepEqual(barsIn(svg, legendBox(svg)), [], lang);
  }
});

Deno.test("accuracyChart: whole epochs only on the x axis, for 1 to 7 epochs", () => {
  for (const n of [1, 2, 3, 4, 7]) {
    const h: gb.History = {
      steps: [2, 1],
      epochs: Array.from(
        { length: n },
        (_, i) => ({ epoch: i + 1, trainLoss: 1, testLoss: 1, testAccuracy: 0.9 }),
      ),
    };
    const ticks = [...gb.accuracyChart(h).matchAll(/<text class="xtick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    assert.ok(ticks.length >= 2, `${n} epochs: ${ticks}`);
    for (const t of ticks) assert.ok(Number.isInteger(Number(t)), `${n} epochs: tick "${t}" in ${ticks}`);
    for (let e = 1; e <= n; e++) assert.ok(ticks.includes(String(e)) || n > 5, `${n} epochs: ${ticks}`);
  }
});

Deno.test("distributionChart: a key names every band and the median, outside the bands", () => {
  const st = (v: number) => ({
    min: -v,
    max: v,
    meanAbs: v / 2,
    maxAbs: v,
    norm: v,
    histogram: [1, 3, 5, 3, 1],
  });
  const recs = [10, 20, 30].map((step, i) => ({
    step,
    layers: [],
    params: [{ name: "0.weight", layer: "0", grad: st(1), weight: st(1 + i) }],
  }));
  for (const lang of ["en", "zh"] as const) {
    const svg = gb.distributionChart(recs, "0.weight", "weight", lang);
    const b = legendBox(svg), t = gb.strings(lang);
    for (const name of [...t.bandNames, t.median]) {
      assert.ok(svg.includes(`>${name}<`), `${lang}: key "${name}"`);
    }
    // four band swatches at the bands' opacities
    assert.equal(
      [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="16" height="10" fill="#f28e2b"/g)].length,
      4,
    );
    const polys = [...svg.matchAll(/<polygon points="([^"]+)"/g)].flatMap((m) =>
      m[1].split(" ").map((p) => p.split(",").map(Number))
    );
    assert.ok(polys.every(([x]) => x < b.x), "the key is right of every band");
  }
});

Deno.test("a Chinese chart carries no English word of the English table", () => {
  const en = Object.values(gb.strings("en")).flatMap((v) =>
    typeof v === "string" ? [v] : Array.isArray(v) ? v : typeof v === "function" ? [] : []
  ).filter((v) => /[a-z]{3}/.test(v));
  const h: gb.History = {
    steps: [2.3, 1.2, 0.8, 0.5],
    epochs: [{ epoch: 1, trainLoss: 1.5, testLoss: 0.9, testAccuracy: 0.8 }, {
      epoch: 2,
      trainLoss: 0.7,
      testLoss: 0.6,
      testAccuracy: 0.85,
    }],
  };
  const charts = [
    gb.lossChart(h, 2, "zh"),
    gb.accuracyChart(h, "zh"),
    gb.confusionMatrixChart([[5, 1], [2, 7]], { lang: "zh" }),
    gb.reliabilityDiagram([{ lo: 0, hi: 1, count: 3, accuracy: 0.6, confidence: 0.7 }], {
      ece: 0.1,
      lang: "zh",
    }),
  ];
  for (const svg of charts) {
    const words = [...svg.matchAll(/>([^<>]+)</g)].map((m) => m[1]);
    for (const w of words) assert.ok(!en.some((e) => w.includes(e)), `English "${w}" in a Chinese chart`);
    assert.match(svg, /[\u4e00-\u9fff]/);
  }
});

Deno.test("attributionGrid: a long title (compress's Grad-CAM drift) fits the picture instead of being cut at both ends", () => {
  const title =
    'Grad-CAM of the label at BasicBlock "layer2.0" (16×16, drawn upsampled), per variant (ρ = rank correlation with the original)';
  const map = new Float32Array(16).fill(0.5);
  const svg = gb.attributionGrid(
    [{ image: map, caption: "test 0" }],
    [{ name: "original", maps: [map], signed: false }, { name: "pruned 50%", maps: [map], signed: false }],
    4,
    4,
    title,
  );
  const W = Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1]);
  // the title is 15 px bold, about 1.25 × textWidth's 12 px estimate, centred at W / 2
  const need = 1.25 * gb.textWidth(title);
  assert.ok(W >= need, `the picture is ${W} px wide, the title about ${need.toFixed(0)} px`);
  const x = Number(/<text x="([\d.]+)" y="22"/.exec(svg)![1]);
  assert.ok(Math.abs(x - W / 2) < 1e-9, "the title is centred");
});

Deno.test("a chart's long note wraps inside the chart's width, words kept in order", () => {
  const note =
    "Both near 0.5: D cannot tell real from generated. D(x) near 1 with D(G(z)) near 0: D is winning (if D also saturates, G's gradient vanishes: see alarms.txt).";
  const svg = gb.lineChart([{ name: "a", points: [[0, 1], [1, 2]] }], {
    title: "t",
    xLabel: "x",
    yLabel: "y",
    notes: [note, "short"],
  });
  const W = Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1]);
  const lines = [...svg.matchAll(/<text class="note" x="([\d.]+)"[^>]*>([^<]*)<\/text>/g)];
  assert.ok(lines.length >= 3, `the long note took ${lines.length - 1} line(s)`);
  for (const [, x, t] of lines) assert.ok(Number(x) + gb.textWidth(t) <= W, `'${t}' runs past ${W} px`);
  const text = lines.map((m) => m[2].replace(/&#39;|&apos;/g, "'"));
  assert.equal(text.slice(0, -1).join(" "), note);
  assert.equal(text.at(-1), "short");
  const H = Number(/<svg [^>]*height="([\d.]+)"/.exec(svg)![1]);
  const lastY = Number(/<text class="note" x="[\d.]+" y="([\d.]+)"[^>]*>short</.exec(svg)![1]);
  assert.ok(lastY < H, "the last note line is inside the picture");
});
