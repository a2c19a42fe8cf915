/** scatterPlot: one dot per point, a legend that covers none, thumbnails that do not overlap. */
import assert from "node:assert/strict";
import { scatterPlot } from "../mod.ts";

/** Points on a diagonal band plus a cluster in the top-right corner, where a legend would go first. */
function crowded() {
  const pts = [];
  for (let i = 0; i < 200; i++) pts.push({ x: i / 20, y: i / 20 + Math.sin(i) * 0.3, label: i % 3 });
  for (let i = 0; i < 30; i++) pts.push({ x: 10 - (i % 5) * 0.1, y: 10 - Math.floor(i / 5) * 0.1, label: 3 });
  for (let i = 0; i < 30; i++) pts.push({ x: (i % 5) * 0.1, y: 10 - Math.floor(i / 5) * 0.1, label: 4 });
  return pts;
}

const nums = (s: string, attr: string) => Number(new RegExp(`${attr}="([-\\d.]+)"`).exec(s)![1]);

Deno.test("scatterPlot draws a dot per point and its legend covers none of them", () => {
  const pts = crowded();
  const svg = scatterPlot(pts, { title: "t", classNames: ["a", "b", "c", "d", "e"] });
  const dots = [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)" r="[\d.]+" fill/g)];
  const legendDots = [...svg.matchAll(/<circle cx="[-\d.]+" cy="[-\d.]+" r="4.5"/g)].length;
  assert.equal(legendDots, 5);
  assert.equal(dots.length - legendDots, pts.length);
  const rect = /<rect class="legend"[^>]*>/.exec(svg)![0];
  const box = { x: nums(rect, "x"), y: nums(rect, "y"), w: nums(rect, "width"), h: nums(rect, "height") };
  const covered = dots.slice(0, pts.length).filter(([, x, y]) =>
    +x >= box.x && +x <= box.x + box.w && +y >= box.y && +y <= box.y + box.h
  );
  assert.deepEqual(covered, []);
  for (const name of ["a", "b", "c", "d", "e"]) assert.ok(svg.includes(`>${name}</text>`));
});

Deno.test("scatterPlot's thumbnails are a sample that does not overlap, and the plot says so", () => {
  const img = { width: 2, height: 2, data: new Uint8Array(16).fill(255) };
  const pts = crowded().map((p) => ({ ...p, image: img }));
  const svg = scatterPlot(pts, { title: "t", lang: "zh" });
  const boxes = [...svg.matchAll(/<image x="([-\d.]+)" y="([-\d.]+)" width="(\d+)" height="(\d+)"/g)]
    .map((m) => m.slice(1).map(Number));
  assert.ok(boxes.length >= 10 && boxes.length < pts.length, `${boxes.length} thumbnails`);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = 0; j < i; j++) {
      const [ax, ay, aw, ah] = boxes[i], [bx, by, bw, bh] = boxes[j];
      assert.ok(
        !(ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah),
        `thumbnails ${i} and ${j} overlap`,
      );
    }
  }
  assert.ok(svg.includes(`在 ${pts.length} 个点中的 ${boxes.length} 个点上显示缩略图`));
  assert.ok(svg.includes("类别 3"));
});

Deno.test("scatterPlot refuses a non-finite point or a label that is not a class, naming it", () => {
  assert.throws(() => scatterPlot([{ x: 0, y: NaN, label: 0 }], { title: "t" }), /point 0 is not finite/);
  assert.throws(
    () => scatterPlot([{ x: 0, y: 0, label: 0 }, { x: 0, y: 0, label: 1.5 }], { title: "t" }),
    /point 1's label/,
  );
});

Deno.test("scatterPlot's legend gives each class its dots' colour when some classes are absent", () => {
  // classes 1 and 3 of four: the legend's first entry is "b" in the colour of label 1's dots
  const pts = Array.from({ length: 20 }, (_, i) => ({ x: i, y: (i * 7) % 5, label: i % 2 ? 3 : 1 }));
  const svg = scatterPlot(pts, { title: "t", classNames: ["a", "b", "c", "d"] });
  const fillOf = (label: number) => {
    const i = pts.findIndex((p) => p.label === label);
    return [...svg.matchAll(/<circle cx="[-\d.]+" cy="[-\d.]+" r="([\d.]+)" fill="([^"]+)"/g)]
      .filter((m) => m[1] !== "4.5")[i][2];
  };
  const legend = [...svg.matchAll(/r="4.5" fill="([^"]+)"\/>\s*<text[^>]*>([^<]+)<\/text>/g)].map((
    m,
  ) => [m[2], m[1]]);
  assert.deepEqual(legend, [["b", fillOf(1)], ["d", fillOf(3)]]);
  assert.notEqual(fillOf(1), fillOf(3));
});

Deno.test("scatterPlot's Chinese caption never starts a line with closing punctuation", () => {
  const pts = Array.from({ length: 10 }, (_, i) => ({ x: i, y: i % 3, label: i % 2 }));
  let breaks = 0;
  for (let k = 40; k < 80; k++) {
    const caption = "点".repeat(k) + "；" + "近".repeat(30) + "。" + "可".repeat(20) + "，完";
    const svg = scatterPlot(pts, { title: "t", caption, classNames: ["甲", "乙"], lang: "zh" });
    const lines = [...svg.matchAll(/<text class="note"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    breaks += lines.length;
    for (const l of lines) assert.ok(!/^[，。；：、）]/.test(l), `a line starts with punctuation: ${l}`);
  }
  assert.ok(breaks > 80, "the captions wrapped");
});
