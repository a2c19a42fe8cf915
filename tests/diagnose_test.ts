/**
 * Error diagnosis against independent truths: the reliability diagram and ECE against a
 * direct CPU computation, temperature scaling recovering a planted overconfidence, the
 * confusion pairs and mistakes of planted predictions, and slices that find a planted weakness.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { rng } from "./cpu_ref.ts";

/** Labels drawn from softmax(z) (so z is calibrated), and logits = scale · z. */
function planted(n: number, classes: number, scale: number, seed: number): gb.Predictions {
  const r = rng(seed);
  const logits = new Float32Array(n * classes), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: classes }, () => 3 * (r() - 0.5) * 2);
    const e = z.map(Math.exp), s = e.reduce((a, b) => a + b, 0);
    let u = r() * s, k = 0;
    while (k < classes - 1 && u > e[k]) u -= e[k++];
    labels[i] = k;
    z.forEach((v, c) => (logits[i * classes + c] = scale * v));
  }
  return gb.predictionsFromLogits(logits, labels, classes);
}

Deno.test("reliability: bins, ECE and MCE equal a direct CPU computation", () => {
  const p = planted(3000, 5, 2.5, 1);
  const r = gb.reliability(p, 10);
  let ece = 0, mce = 0;
  for (let b = 0; b < 10; b++) {
    const idx = [...Array(p.count).keys()].filter((i) => {
      const probs = Array.from(p.logits.subarray(i * 5, i * 5 + 5), Math.exp);
      const conf = Math.max(...probs) / probs.reduce((a, v) => a + v, 0);
      return b === 0 ? conf <= 0.1 : conf > b / 10 && conf <= (b + 1) / 10;
    });
    assert.equal(r.bins[b].count, idx.length, `bin ${b}`);
    if (!idx.length) continue;
    const acc = idx.filter((i) => p.predicted[i] === p.labels[i]).length / idx.length;
    const conf = idx.reduce((a, i) => a + p.confidence[i], 0) / idx.length;
    assert.ok(Math.abs(r.bins[b].accuracy - acc) < 1e-12 && Math.abs(r.bins[b].confidence - conf) < 1e-9);
    ece += (idx.length / p.count) * Math.abs(acc - conf);
    mce = Math.max(mce, Math.abs(acc - conf));
  }
  assert.ok(Math.abs(r.ece - ece) < 1e-9 && Math.abs(r.mce - mce) < 1e-9, `${r.ece} vs ${ece}`);
  assert.ok(r.ece > 0.1, "logits 2.5× too large are overconfident");
  assert.throws(() => gb.reliability(p, 0), /bins must be a positive integer/);
});

Deno.test("temperature scaling: fitted on held-out data it recovers a planted overconfidence of 2.5 and lowers the test ECE", () => {
  const heldOut = planted(4000, 5, 2.5, 2), test = planted(4000, 5, 2.5, 3);
  const fit = gb.fitTemperature(heldOut);
  assert.ok(Math.abs(fit.temperature - 2.5) < 0.25, `T = ${fit.temperature}`);
  assert.ok(fit.nllAfter < fit.nllBefore);
  // the NLL is at its minimum there: a step either side is worse
  for (const f of [0.9, 1.1]) assert.ok(gb.nllAtTemperature(heldOut, fit.temperature * f) > fit.nllAfter);
  const before = gb.reliability(test).ece,
    after = gb.reliability(gb.applyTemperature(test, fit.temperature)).ece;
  assert.ok(after < before / 3, `ECE ${before} → ${after}`);
  assert.deepEqual(gb.applyTemperature(test, fit.temperature).predicted, test.predicted);
  // cross-fitted: every prediction judged with a temperature fitted on the other folds
  const { scaled, temperatures } = gb.crossFitTemperature(test, 4);
  assert.equal(temperatures.length, 4);
  for (const t of temperatures) assert.ok(Math.abs(t - 2.5) < 0.3, `fold T = ${t}`);
  assert.ok(gb.reliability(scaled).ece < before / 3);
  assert.deepEqual(scaled.predicted, test.predicted);
  const t0 =
    gb.fitTemperature(gb.predictionsFromLogits(test.logits.slice(1000 * 5), test.labels.slice(1000), 5))
      .temperature;
  assert.ok(
    Math.abs(scaled.logits[0] - test.logits[0] / t0) < 1e-5,
    "fold 0 is scaled by the T of folds 1-3",
  );
});

Deno.test("a NaN logit, a label that is not a class and no rows are errors naming the row and value, in every diagnosis", () => {
  const C = 3;
  const good = planted(6, C, 1, 9);
  // what each used to do: the NaN row counted as correct (argmax 0) in no bin; T = 100
  const nanLogits = Float32Array.from(good.logits);
  nanLogits[2 * C + 1] = NaN;
  assert.throws(
    () => gb.predictionsFromLogits(nanLogits, good.labels, C),
    /predictionsFromLogits: row 2 has logit NaN for class 1/,
  );
  const infLogits = Float32Array.from(good.logits);
  infLogits[4 * C] = Infinity;
  assert.throws(
    () => gb.predictionsFromLogits(infLogits, good.labels, C),
    /row 4 has logit Infinity for class 0/,
  );
  const badLabels = Int32Array.from(good.labels);
  badLabels[3] = C;
  assert.throws(
    () => gb.predictionsFromLogits(good.logits, badLabels, C),
    /predictionsFromLogits: row 3 has label 3, which is not a class in \[0, 3\)/,
  );
  badLabels[3] = -1;
  assert.throws(() => gb.predictionsFromLogits(good.logits, badLabels, C), /row 3 has label -1/);
  assert.throws(
    () => gb.predictionsFromLogits(new Float32Array(0), new Int32Array(0), C),
    /predictionsFromLogits: no predictions \(0 rows\)/,
  );
  // Predictions built by hand reach every function unchecked by predictionsFromLogits
  const withNaN: gb.Predictions = { ...good, logits: nanLogits };
  const withBadLabel: gb.Predictions = {
    ...good,
    labels: Int32Array.from(good.labels, (l, i) => (i === 5 ? 7 : l)),
  };
  const empty: gb.Predictions = {
    ...good,
    count: 0,
    logits: new Float32Array(0),
    probs: new Float32Array(0),
    labels: new Int32Array(0),
    predicted: new Int32Array(0),
    confidence: new Float32Array(0),
  };
  const uses: [string, (p: gb.Predictions) => unknown][] = [
    ["reliability", (p) => gb.reliability(p)],
    ["nllAtTemperature", (p) => gb.nllAtTemperature(p, 1)],
    ["fitTemperature", (p) => gb.fitTemperature(p)],
    ["crossFitTemperature", (p) => gb.crossFitTemperature(p, 2)],
    ["confusionMatrix", (p) => gb.confusionMatrix(p)],
    ["confidentMistakes", (p) => gb.confidentMistakes(p)],
    ["bestExample", (p) => gb.bestExample(p, 0)],
    ["sliceByClass", (p) => gb.sliceByClass(p)],
    [
      "sliceByValue",
      (p) => gb.sliceByValue(p, Array.from({ length: p.count }, (_, i) => i), "i", { bins: 2 }),
    ],
  ];
  for (const [name, f] of uses) {
    assert.throws(() => f(withNaN), new RegExp(`${name}: row 2 has logit NaN for class 1`), name);
    assert.throws(() => f(withBadLabel), new RegExp(`${name}: row 5 has label 7`), name);
    assert.throws(() => f(empty), new RegExp(`${name}: no predictions`), name);
    f(good); // and the good rows pass
  }
  assert.throws(() => gb.nllAtTemperature(good, 0), /temperature must be positive and finite, got 0/);
});

Deno.test("confusion: the most-confused pairs and the most confident mistakes of planted predictions", () => {
  // 10 samples: class 1 called 2 three times (with confidences set by the logits), class 0 called 1 once
  const rows: [number, number, number][] = [
    [0, 0, 5],
    [0, 1, 1],
    [1, 1, 3],
    [1, 2, 4],
    [1, 2, 2],
    [1, 2, 6],
    [2, 2, 3],
    [2, 2, 1],
    [0, 0, 2],
    [2, 1, 0.5],
  ];
  const logits = new Float32Array(30), labels = new Int32Array(10);
  rows.forEach(([y, pred, strength], i) => {
    labels[i] = y;
    logits[i * 3 + pred] = strength;
  });
  const p = gb.predictionsFromLogits(logits, labels, 3);
  assert.deepEqual(gb.confusionMatrix(p), [[2, 1, 0], [0, 1, 3], [0, 1, 2]]);
  assert.deepEqual(gb.confusedPairs(gb.confusionMatrix(p), 2), [
    { actual: 1, predicted: 2, count: 3, rate: 0.75 },
    { actual: 0, predicted: 1, count: 1, rate: 1 / 3 },
  ]);
  const m = gb.confidentMistakes(p, 3);
  assert.deepEqual(m.map((x) => x.index), [5, 3, 4]);
  assert.ok(Math.abs(m[0].confidence - Math.exp(6) / (Math.exp(6) + 2)) < 1e-6);
  assert.ok(Math.abs(m[0].trueProbability - 1 / (Math.exp(6) + 2)) < 1e-6);
  assert.equal(gb.bestExample(p, 0), 0);
  assert.equal(gb.bestExample(p, 1), 2);
});

Deno.test("slices: the weakest slice is the planted one (faint images fail), by ink; stroke thickness measures width", () => {
  const N = 400, r = rng(7);
  const x = new Float32Array(N * 64), labels = new Int32Array(N), logits = new Float32Array(N * 2);
  for (let n = 0; n < N; n++) {
    const width = 1 + (n % 4); // a vertical bar 1–4 pixels wide, 8 tall
    for (let y = 0; y < 8; y++) for (let c = 0; c < width; c++) x[n * 64 + y * 8 + c] = 1;
    labels[n] = n % 2;
    const right = width > 1 || r() < 0.2; // the thinnest bars are mostly wrong
    logits[n * 2 + (right ? labels[n] : 1 - labels[n])] = 2;
  }
  const data = { x, y: labels, sampleShape: [1, 8, 8] };
  const stats = gb.imageStatistics(data, 0.5);
  assert.deepEqual(Array.from(stats.ink.subarray(0, 4)), [8 / 64, 16 / 64, 24 / 64, 32 / 64]);
  // 2·area/perimeter of a w×8 bar: 2·8w / (2·(w + 8))
  stats.thickness.subarray(0, 4).forEach((t, i) =>
    assert.ok(Math.abs(t - (16 * (i + 1)) / (2 * (i + 9))) < 1e-12)
  );
  const p = gb.predictionsFromLogits(logits, labels, 2);
  const slices = gb.sliceByValue(p, stats.ink, "ink", { edges: [0, 0.2, 0.3, 0.4, 0.6] });
  assert.deepEqual(slices.map((s) => s.count), [100, 100, 100, 100]);
  const weakest = gb.weakestSlices([...slices, ...gb.sliceByClass(p)], 1)[0];
  assert.equal(weakest.name, "ink 0.000–0.200");
  assert.ok(weakest.accuracy < 0.35);
  // quantile edges over 4 distinct values: 0.125, 0.25, 0.375, 0.5; the last bin is closed, so it holds two
  assert.deepEqual(gb.sliceByValue(p, stats.ink, "ink", { bins: 4 }).map((s) => s.count), [100, 100, 200]);
});

Deno.test("collectPredictions: the logits of a known linear model, batch by batch", async () => {
  const model = new gb.Linear(2, 3);
  model.loadStateDict(
    new Map([["weight", gb.tensor([[1, 0], [0, 1], [1, 1]])], ["bias", gb.tensor([0, 0, -1])]]),
  );
  const x = Float32Array.from({ length: 14 }, (_, i) => (i % 5) - 2);
  const p = await gb.collectPredictions(model, { x, y: new Int32Array(7), sampleShape: [2] }, {
    batchSize: 3,
  });
  const want = Array.from({ length: 7 }, (_, i) => [x[2 * i], x[2 * i + 1], x[2 * i] + x[2 * i + 1] - 1])
    .flat();
  assert.deepEqual(Array.from(p.logits), want);
  assert.equal(p.classes, 3);
  assert.deepEqual(
    Array.from(p.predicted),
    Array.from({ length: 7 }, (_, i) => {
      const row = want.slice(3 * i, 3 * i + 3);
      return row.indexOf(Math.max(...row));
    }),
  );
});

Deno.test("pictures: the confusion matrix's class names never run into each other or into the axis titles, short or long", () => {
  // 6.6 px a character at 12 px (textWidth); a label's box is its estimated width and 12 px high
  const w = (s: string) => s.length * 6.6;
  for (
    const names of [
      ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
      ["red square", "green diamond", "blue ring", "yellow triangle", "none"],
      ["a rather long class name", "another long class name", "short"],
    ]
  ) {
    const C = names.length;
    const svg = gb.confusionMatrixChart(names.map((_, i) => names.map((_, j) => (i === j ? 9 : 1))), {
      classNames: names,
    });
    const num = (v: string) => Number(v);
    const rows = names.map((n) => {
      const m = new RegExp(`<text x="([\\d.]+)" y="[\\d.]+" text-anchor="end">${n}</text>`).exec(svg);
      assert.ok(m, `row label ${n}`);
      return { x: num(m[1]), n };
    });
    const trueTitle = /translate\(([\d.]+) [\d.]+\) rotate\(-90\)/.exec(svg)!;
    for (const r of rows) {
      // the row label's left end stays right of the rotated "true class" title and inside the picture
      assert.ok(r.x - w(r.n) >= num(trueTitle[1]) + 2, `"${r.n}" runs into the true-class title`);
    }
    const predicted = /<text x="[\d.]+" y="(-?[\d.]+)" text-anchor="middle">predicted class</.exec(svg)!;
    // the predicted-class title stays below the chart's title (15 px bold, baseline 24)
    assert.ok(num(predicted[1]) >= 24 + 15, `predicted-class title at y ${predicted[1]}`);
    const cols = names.map((n) => {
      const flat = new RegExp(`<text x="([\\d.]+)" y="([\\d.]+)" text-anchor="middle">${n}</text>`).exec(svg);
      if (flat) return { x: num(flat[1]), y: num(flat[2]), slanted: false, n };
      const m = new RegExp(`translate\\(([\\d.]+) ([\\d.]+)\\) rotate\\(-45\\)">${n}</text>`).exec(svg);
      assert.ok(m, `column label ${n}`);
      return { x: num(m[1]), y: num(m[2]), slanted: true, n };
    });
    for (let i = 0; i < C; i++) {
      const c = cols[i];
      const reach = c.slanted ? w(c.n) * Math.SQRT1_2 : 0;
      assert.ok(c.y - reach - 12 >= num(predicted[1]), `"${c.n}" runs into the predicted-class title`);
      if (i === 0) continue;
      const d = c.x - cols[i - 1].x;
      if (c.slanted && cols[i - 1].slanted) assert.ok(d * Math.SQRT1_2 >= 14, "slanted labels too close");
      else assert.ok(d >= (w(c.n) + w(cols[i - 1].n)) / 2 + 2, `"${cols[i - 1].n}" and "${c.n}" overlap`);
    }
    const W = num(/<svg [^>]*width="([\d.]+)"/.exec(svg)![1]);
    const last = cols[C - 1];
    assert.ok(
      last.x + (last.slanted ? w(last.n) * Math.SQRT1_2 : w(last.n) / 2) <= W,
      "a label leaves the picture",
    );
  }
});

Deno.test("pictures: the confusion matrix writes every non-zero count in its cell; the reliability bars stand at the bins' accuracy", () => {
  const svg = gb.confusionMatrixChart([[5, 1], [0, 4]]);
  const counts = [...svg.matchAll(/fill="#222">(\d+)<\/text>/g)].map((m) => Number(m[1]));
  assert.deepEqual(counts, [5, 1, 4], "row by row; the zero cell is left blank");
  const bins = [{ lo: 0, hi: 0.5, count: 10, accuracy: 0.25, confidence: 0.4 }, {
    lo: 0.5,
    hi: 1,
    count: 0,
    accuracy: NaN,
    confidence: NaN,
  }];
  const rel = gb.reliabilityDiagram(bins, { ece: 0.15 });
  const bar = /<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#4c78a8"\/>/.exec(rel)!;
  assert.ok(Math.abs(Number(bar[2]) - 0.25 * 340) < 1e-9, `bar height ${bar[2]}`);
  assert.match(rel, /ECE = 0\.1500/);
  assert.equal(
    (rel.match(/fill="#4c78a8"\/>/g) ?? []).length,
    2,
    "one bar (the empty bin has none) and the legend's swatch",
  );
});
