import assert from "node:assert/strict";
import * as gb from "../mod.ts";

class Residual extends gb.Module {
  fc1 = this.addModule("fc1", new gb.Linear(4, 4));
  act = this.addModule("act", new gb.ReLU());
  fc2 = this.addModule("fc2", new gb.Linear(4, 2));
  forward(x: gb.Tensor): gb.Tensor {
    const h = this.act.forward(this.fc1.forward(x));
    return this.fc2.forward(gb.add(h, x)); // a functional op outside any layer
  }
}

Deno.test("model graph: derived from the autograd graph, with a residual branch and a functional op", async () => {
  const g = await gb.modelGraph(new Residual(), [3, 4]);
  const labels = g.nodes.map((n) => n.label);
  assert.deepEqual(labels, ["input", "fc1 Linear", "act ReLU", "add", "fc2 Linear", "output"]);
  const id = (l: string) => g.nodes.find((n) => n.label === l)!.id;
  const has = (a: string, b: string) => g.edges.some(([x, y]) => x === id(a) && y === id(b));
  assert.ok(has("input", "fc1 Linear") && has("fc1 Linear", "act ReLU") && has("act ReLU", "add"));
  assert.ok(has("input", "add"), "the skip connection is an edge");
  assert.ok(has("add", "fc2 Linear") && has("fc2 Linear", "output"));
  assert.equal(g.edges.length, 6);
  assert.deepEqual(g.nodes.find((n) => n.label === "fc1 Linear")!.shape, [3, 4]);
  assert.equal(g.nodes.find((n) => n.label === "fc1 Linear")!.params, 20);
  const dot = gb.graphToDot(g);
  assert.match(dot, /^digraph model \{/);
  assert.equal((dot.match(/->/g) ?? []).length, 6);
  const svg = gb.graphToSvg(g);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 6, "one box per node");
  assert.equal((svg.match(/marker-end/g) ?? []).length, 6, "one arrow per edge");
});

Deno.test("model summary: output shapes, parameter and multiply-accumulate counts", async () => {
  const model = new gb.Sequential(
    new gb.Conv2d(1, 8, 3),
    new gb.ReLU(),
    new gb.MaxPool2d(2),
    new gb.Flatten(),
    new gb.Linear(8 * 13 * 13, 10),
  );
  const s = await gb.summary(model, [2, 1, 28, 28]);
  assert.deepEqual(s.layers.map((l) => l.outputShape), [[2, 8, 26, 26], [2, 8, 26, 26], [2, 8, 13, 13], [
    2,
    1352,
  ], [2, 10]]);
  assert.deepEqual(s.layers.map((l) => l.params), [80, 0, 0, 0, 13530]);
  assert.equal(s.totalParams, 13610);
  // conv: outputs × (Cin·KH·KW); linear: outputs × in
  assert.equal(s.layers[0].macs, 2 * 8 * 26 * 26 * 9);
  assert.equal(s.layers[4].macs, 2 * 10 * 1352);
  assert.equal(s.layers[0].activationBytes, 2 * 8 * 26 * 26 * 4);
  assert.match(s.table, /Total params: 13,610/);
});

Deno.test("captured activations: statistics agree with the layer outputs; picture grids have the right size", async () => {
  gb.manualSeed(2);
  const model = new gb.Sequential(new gb.Conv2d(1, 3, 3), new gb.ReLU());
  const x = gb.randn([2, 1, 6, 6]);
  const acts = await gb.captureActivations(model, x);
  assert.deepEqual(acts.map((a) => a.label), ["0 Conv2d", "1 ReLU"]);
  const relu = await acts[1].output.toArray();
  const zeros = Array.from(relu).filter((v) => v === 0).length / relu.length;
  assert.equal(acts[1].stats.zeroFraction, zeros);
  assert.equal(acts[1].stats.histogram.reduce((a, b) => a + b, 0), relu.length);
  const img = await gb.featureMapImage(acts[0].output, 1);
  // 3 channels of 4×4, scale 12, gap 2: 3 tiles in one row
  assert.equal(img.width, 3 * (4 * 12 + 2) + 2);
  assert.equal(img.height, 4 * 12 + 4);
  const png = gb.encodePng(img);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10], "a PNG signature");
  const f = await gb.filterImage((model.layers[0] as gb.Conv2d).weight);
  assert.ok(f.width > 0 && f.data.length === f.width * f.height * 4);
  gb.disposeActivations(acts);
});

Deno.test("histogram percentiles interpolate within bins (the distributions view)", () => {
  const s = { min: 0, max: 10, histogram: [0, 0, 10, 0, 0, 0, 0, 0, 0, 10] } as gb.TensorStats;
  const [p0, , , , p50, , , , p100] = gb.histogramPercentiles(s);
  assert.equal(p0, 0);
  assert.equal(p100, 10);
  assert.equal(p50, 3); // the median sits at the top of bin 2 (2..3)
});

Deno.test("a run directory renders its pictures and reads back (deno task inspect)", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(1);
  const model = new gb.Sequential(
    new gb.Conv2d(1, 2, 3),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(2 * 4 * 4, 3),
  );
  const tracker = gb.trackGradients(model);
  const log = await gb.RunLog.create(dir, { histogramEvery: 1 });
  const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
  const x = gb.randn([4, 1, 6, 6]);
  const y = gb.tensor([0, 1, 2, 0], undefined, { dtype: "int32" });
  for (let s = 0; s < 3; s++) {
    await gb.scope(async () => {
      opt.zeroGrad();
      await gb.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
  }
  log.alarms(await tracker.flush());
  log.records(tracker.records);
  await log.flush();
  await Deno.writeTextFile(
    `${dir}/history.json`,
    JSON.stringify({
      steps: [1.2, 1.0, 0.9],
      epochs: [{ epoch: 1, trainLoss: 1, testLoss: 1.1, testAccuracy: 0.4 }],
    }),
  );
  const pics = await gb.renderRunPictures(dir, { model, sample: gb.slice(x, 0, 1) });
  const names = pics.map((p) => p.split("/").pop());
  for (
    const n of [
      "gradient_flow.svg",
      "gradient_norms.svg",
      "update_ratios.svg",
      "loss.svg",
      "weight_histograms.svg",
      "weight_distributions.svg",
      "model_graph.svg",
      "summary.txt",
      "filters_0.png",
      "feature_maps_0_Conv2d.png",
    ]
  ) {
    assert.ok(names.includes(n), `${n} was written`);
  }
  const back = await gb.readRunLog(dir);
  assert.equal(back.records.length, 3);
  assert.equal(back.records[2].params[0].name, "0.weight");
  const tb = [...Deno.readDirSync(`${dir}/tensorboard`)];
  const events = gb.readEventFile(await Deno.readFile(`${dir}/tensorboard/${tb[0].name}`));
  const norms = events.flatMap((e) => e.values ?? []).filter((v) => v.tag === "gradient_norm/0.weight");
  assert.equal(norms.length, 3);
  assert.ok(
    Math.abs(norms[2].simpleValue! - back.records[2].params[0].grad.norm) <
      1e-6 * back.records[2].params[0].grad.norm,
  );
  tracker.remove();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("model graph SVG: every arrow runs from its source box to its target box, also under a title wider than the graph", async () => {
  const model = new gb.Sequential(new gb.Linear(4, 8), new gb.ReLU(), new gb.Linear(8, 2));
  const g = await gb.modelGraph(model, [1, 4]);
  for (
    const title of [
      "G",
      "Model graph (from the autograd graph of one forward pass), a deliberately long title",
    ]
  ) {
    const svg = gb.graphToSvg(g, title);
    const boxes = [...svg.matchAll(/<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)"/g)]
      .map((m) => m.slice(1).map(Number));
    const arrows = [...svg.matchAll(/points="([^"]+)"/g)].map((m) =>
      m[1].split(" ").map((p) => p.split(",").map(Number))
    );
    assert.equal(boxes.length, g.nodes.length);
    const inside = ([x, y]: number[], [bx, by, bw, bh]: number[]) =>
      x >= bx - 1 && x <= bx + bw + 1 && y >= by - 1 && y <= by + bh + 1;
    for (const pts of arrows) {
      assert.ok(boxes.some((b) => inside(pts[0], b)), `${title}: arrow starts at ${pts[0]}, on no box`);
      assert.ok(
        boxes.some((b) => inside(pts.at(-1)!, b)),
        `${title}: arrow ends at ${pts.at(-1)}, on no box`,
      );
    }
    const W = Number(/width="(\d+)"/.exec(svg)![1]);
    assert.ok(W >= title.length * 8, "the title fits");
  }
});
