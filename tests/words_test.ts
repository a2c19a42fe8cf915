/**
 * Explanations in words against planted cases: a linear model whose Integrated Gradients are
 * x ⊙ w exactly, so the region holding the evidence is known; every number in the text is a
 * computed value (within its printed precision); a low margin gets its caveat; the English
 * and Chinese texts state the same numbers.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

/** A linear classifier on 6×6 images; class 0 reads only the `cells` pixels (weight 1), class 1 all (0.1). */
function linearModel(cells: [number, number][], bias0: number): gb.Sequential {
  const w = new Float32Array(72);
  for (const [y, x] of cells) w[y * 6 + x] = 1;
  for (let i = 36; i < 72; i++) w[i] = 0.1;
  const model = new gb.Sequential(new gb.Flatten(), new gb.Linear(36, 2));
  model.loadStateDict(new Map([["1.weight", gb.tensor(w, [2, 36])], ["1.bias", gb.tensor([bias0, 0])]]));
  return model;
}

/** Every number a facts object holds, as the text may print it (probabilities and shares in percent). */
function factNumbers(f: gb.PredictionFacts): number[] {
  const out = [f.predicted, f.runnerUp, 100 * f.probability, 100 * f.runnerUpProbability, 100 * f.margin];
  if (f.label !== undefined) out.push(f.label);
  out.push(...f.regionShares.map((s) => 100 * s), f.agreement.mean, f.deletionAuc, f.randomDeletionAuc);
  out.push(f.agreement.scale.weak, f.agreement.scale.strong);
  if (f.novelty) out.push(f.novelty.distance, f.novelty.threshold, f.novelty.percentile);
  for (const c of f.caveats) {
    for (const [k, v] of Object.entries(c)) {
      if (typeof v !== "number") continue;
      out.push(v, ["margin", "threshold", "rate"].includes(k) ? 100 * v : v);
    }
  }
  return out;
}

const numbersIn = (text: string) => text.match(/[<>] -?\d+(?:\.\d+)?|-?\d+(?:\.\d+)?/g) ?? [];

function assertNumbersFromFacts(text: string, f: gb.PredictionFacts): void {
  const facts = factNumbers(f);
  for (const s of numbersIn(text)) {
    // "> 99.999" and "< 0.001" are bounds, the rest are values rounded to their printed decimals
    const bound = s[0] === ">" || s[0] === "<" ? s[0] : "", n = bound ? s.slice(2) : s;
    const d = n.includes(".") ? n.split(".")[1].length : 0, v = Number(n);
    const ok = facts.some((x) =>
      bound === ">" ? x > v : bound === "<" ? x < v : Math.abs(x - v) <= 0.5 * 10 ** -d + 1e-9
    );
    assert.ok(ok, `"${s}" in the text is no computed value:\n${text}`);
  }
}

Deno.test("describePrediction: it names the region that holds the largest share of positive attribution, and every number is computed", async () => {
  const model = linearModel([[4, 4], [4, 5], [5, 4], [5, 5]], 3); // evidence in the bottom-right
  const x = gb.ones([1, 1, 6, 6]);
  const f = await gb.predictionFacts(model, x, { label: 0 });
  // IG with a zero baseline on a linear model is x ⊙ w: all the positive evidence is in the bottom-right cell
  assert.equal(f.predicted, 0);
  assert.equal(gb.REGIONS[f.regionOrder[0]], "bottom-right");
  assert.ok(Math.abs(f.regionShares[8] - 1) < 1e-5);
  const logits = [4 + 3, 3.6], e = logits.map(Math.exp);
  assert.ok(Math.abs(f.probability - e[0] / (e[0] + e[1])) < 1e-5);
  const en = gb.describePrediction(f, "en"), zh = gb.describePrediction(f, "zh");
  assert.match(en, /mostly in the bottom-right of the image: 100\.0%/);
  assert.match(zh, /证据主要位于图像的右下/);
  assert.match(en, /The true label is 0: the prediction is right/);
  assert.doesNotMatch(en, /Low confidence/);
  assertNumbersFromFacts(en, f);
  assertNumbersFromFacts(zh, f);
  assert.deepEqual(numbersIn(en).sort(), numbersIn(zh).sort(), "both languages state the same numbers");
});

Deno.test("describePrediction: a low-margin prediction gets the low-confidence caveat, an unusual input its own, in both languages", async () => {
  // evidence in the top-left; logits 4 and 3.6: p = 0.599 against 0.401, a margin under 0.2
  const model = linearModel([[0, 0], [0, 1], [1, 0], [1, 1]], 0);
  const x = gb.ones([1, 1, 6, 6]);
  const train = { x: new Float32Array(4 * 36), y: Int32Array.from([0, 1, 0, 1]), sampleShape: [1, 6, 6] };
  const novelty = gb.fitNovelty(train);
  const f = await gb.predictionFacts(model, x, { novelty });
  assert.ok(f.margin < 0.2);
  assert.deepEqual(f.caveats.map((c) => c.kind).slice(0, 2), ["low-margin", "unusual-input"]);
  assert.equal(gb.REGIONS[f.regionOrder[0]], "top-left");
  const en = gb.describePrediction(f, "en"), zh = gb.describePrediction(f, "zh");
  assert.match(en, /Low confidence: the runner-up is only 19\.7 percentage points behind/);
  assert.match(zh, /置信度低：次高类别只落后 19\.7 个百分点/);
  assert.match(en, /Unusual input: its distance to the nearest class mean of the training images is 1\.000/);
  assertNumbersFromFacts(en, f);
  assertNumbersFromFacts(zh, f);
  assert.deepEqual(numbersIn(en).sort(), numbersIn(zh).sort());
  // a known confusion between the two classes becomes a caveat too
  const g = await gb.predictionFacts(model, x, {
    knownConfusions: [{ actual: 1, predicted: 0, count: 7, rate: 0.07 }],
  });
  const line = gb.describePrediction(g, "en", ["cat", "dog"]);
  assert.match(
    line,
    /Known confusion: on the test set the model took dog for cat 7 times \(7\.0% of the dogs\)/,
  );
  assert.throws(() => gb.describePrediction(g, "fr" as gb.Language), /language must be "en" or "zh"/);
});

Deno.test("describeModel: accuracy, calibration before and after, confusions, weak slices and alarms, in both languages", () => {
  const facts: gb.ModelFacts = {
    accuracy: 0.9907,
    count: 10000,
    ece: 0.0123,
    eceAfter: 0.0046,
    temperature: 1.37,
    confusions: [{ actual: 4, predicted: 9, count: 12 }, { actual: 7, predicted: 2, count: 9 }],
    weakSlices: [{ name: "class 9", accuracy: 0.978, count: 1009 }],
    alarms: [{ kind: "vanishing", layer: "0", step: 40 }, { kind: "vanishing", layer: "3", step: 90 }],
  };
  const en = gb.describeModel(facts, "en"), zh = gb.describeModel(facts, "zh");
  assert.match(en, /Test accuracy is 99\.1% on 10000 samples/);
  assert.match(en, /temperature scaling \(T = 1\.37\) lowers it to 0\.005/);
  assert.match(gb.describeModel({ ...facts, eceAfter: 0.02 }, "en"), /does not lower it: it becomes 0\.020/);
  assert.match(en, /4 taken for 9 \(12 times\); 7 taken for 2 \(9 times\)/);
  assert.match(en, /raised 2 "vanishing" alarm\(s\), first at step 40 in layer 0/);
  assert.match(zh, /测试准确率为 99\.1%/);
  assert.deepEqual(numbersIn(en).sort(), numbersIn(zh).sort());
  // tracked without alarms says so; a model that was not tracked (no run) says nothing about tracking
  assert.match(gb.describeModel({ ...facts, alarms: [] }, "en"), /Gradient tracking raised no alarm\./);
  const untracked = { ...facts, alarms: undefined };
  assert.doesNotMatch(gb.describeModel(untracked, "en"), /tracking|alarm/i);
  assert.doesNotMatch(gb.describeModel(untracked, "zh"), /梯度跟踪|警报/);
});

Deno.test("describeTabular: on a linear model IG is (x − baseline) ⊙ w exactly, so the top features, their directions and shares are known", async () => {
  const model = new gb.Linear(4, 1);
  model.loadStateDict(new Map([["weight", gb.tensor([[2, -3, 0.5, 0]])], ["bias", gb.tensor([0.25])]]));
  const x = gb.tensor([[1, 1, 2, 5]]), baseline = [0, 0.5, 0, 0];
  const f = await gb.tabularFacts(model, x, { baseline, featureNames: ["age", "dose", "weight", "noise"] });
  // contributions: age 2·1 = 2, dose −3·0.5 = −1.5, weight 0.5·2 = 1, noise 0
  assert.deepEqual(f.top.map((c) => c.name), ["age", "dose", "weight"]);
  const want = [2, -1.5, 1];
  f.top.forEach((c, i) => assert.ok(Math.abs(c.attribution - want[i]) < 1e-5, `${c.name}: ${c.attribution}`));
  assert.ok(Math.abs(f.top[0].share - 2 / 4.5) < 1e-6);
  assert.ok(Math.abs(f.completenessGap) < 1e-5);
  const en = gb.describeTabular(f, "en"), zh = gb.describeTabular(f, "zh");
  assert.match(en, /- age = 1\.000 raises it by 2\.000 \(44\.4% of all attribution\)/);
  assert.match(en, /- dose = 1\.000 lowers it by 1\.500 \(33\.3% of all attribution\)/);
  assert.match(zh, /dose = 1\.000 使其降低 1\.500/);
  assert.deepEqual(numbersIn(en).sort(), numbersIn(zh).sort());
  await assert.rejects(
    () => gb.tabularFacts(model, x, { featureNames: ["a"] }),
    /1 feature names for 4 features/,
  );
});

Deno.test("describeModel: the gradient line names the weights with the smallest and largest mean |gradient|", () => {
  const facts: gb.ModelFacts = {
    accuracy: 0.9,
    count: 100,
    ece: 0.05,
    confusions: [],
    weakSlices: [],
    alarms: [],
    gradients: {
      steps: [450, 900],
      params: [{ name: "0.weight", meanAbs: 2e-5 }, { name: "3.weight", meanAbs: 4e-3 }, {
        name: "7.weight",
        meanAbs: 1e-3,
      }],
    },
  };
  const en = gb.describeModel(facts, "en");
  assert.match(
    en,
    /steps 450–900 \(the gradient-flow chart's window\), the weights' mean \|gradient\| runs from 2\.00e-5 \(0\.weight\) to 4\.00e-3 \(3\.weight\), a ratio of 200\.0/,
  );
  assert.deepEqual(numbersIn(en).sort(), numbersIn(gb.describeModel(facts, "zh")).sort());
});

/** Facts for a text, made by hand: only what the test is about differs from a plain right prediction. */
function handFacts(over: Partial<gb.PredictionFacts>): gb.PredictionFacts {
  return {
    predicted: 3,
    probability: 0.9,
    runnerUp: 5,
    runnerUpProbability: 0.05,
    margin: 0.85,
    method: "Integrated Gradients",
    regionShares: [0, 0, 0, 0, 1, 0, 0, 0, 0],
    regionOrder: [4, 0, 1, 2, 3, 5, 6, 7, 8],
    agreement: {
      methods: ["Integrated Gradients", "Saliency"],
      mean: 0.8,
      pairs: [],
      scale: { ...gb.AGREEMENT_SCALE },
    },
    deletionAuc: 0.1,
    randomDeletionAuc: 0.4,
    caveats: [],
    ...over,
  };
}

Deno.test("describePrediction: a probability or margin short of certain is never printed as 100.0 (nor a non-zero one as 0.0)", () => {
  const f = handFacts({
    probability: 0.99975,
    runnerUpProbability: 0.00015,
    margin: 0.9996,
    regionShares: [0, 0, 0, 0, 0.6, 0.4, 0, 0, 0],
    regionOrder: [4, 5, 0, 1, 2, 3, 6, 7, 8],
  });
  for (const lang of ["en", "zh"] as const) {
    const text = gb.describePrediction(f, lang);
    assert.doesNotMatch(text, /100\.0/, text);
    assert.match(text, /99\.96 /, text);
    assert.match(text, /99\.97[5]?%|99\.98%/, text);
    assert.match(text, /0\.01[5]?%|0\.02%/, text);
    assertNumbersFromFacts(text, f);
  }
  assert.equal(gb.pct(1), "100.0");
  assert.equal(gb.pct(0), "0.0");
  assert.equal(gb.pct(0.9999999), "> 99.999");
  assert.equal(gb.pct(1e-9), "< 0.001");
  assert.equal(gb.pct(0.42), "42.0");
  assertNumbersFromFacts(
    gb.describePrediction(handFacts({ probability: 0.9999999 }), "en"),
    handFacts({ probability: 0.9999999 }),
  );
});

Deno.test("describePrediction: a mean rank correlation of 0.6 is moderate, not strong, and the text states the scale it judges by", () => {
  const grade = (mean: number) => {
    const f = handFacts({ agreement: { ...handFacts({}).agreement, mean } });
    return gb.describePrediction(f, "en");
  };
  assert.match(
    grade(0.6),
    /agree moderately \(mean rank correlation 0\.60; below 0\.30 counts as weak, 0\.30 to 0\.70 as moderate, above 0\.70 as strong\)/,
  );
  assert.match(grade(0.71), /agree strongly/);
  assert.match(grade(0.7), /agree moderately/);
  assert.match(grade(0.29), /agree weakly/);
  assert.match(
    gb.describePrediction(handFacts({ agreement: { ...handFacts({}).agreement, mean: 0.6 } }), "zh"),
    /一致程度中等/,
  );
});

Deno.test("predictionFacts: the known-confusion caveat of a mistake names its true label and the prediction, not the runner-up", async () => {
  // three classes on 6×6 images: class 0 reads the top-left 2×2 (weight 1), class 1 everything (0.1),
  // class 2 nothing; on an all-ones image the logits are 4, 3.6, 0: predicted 0, runner-up 1
  const w = new Float32Array(108);
  for (const [y, x] of [[0, 0], [0, 1], [1, 0], [1, 1]]) w[y * 6 + x] = 1;
  for (let i = 36; i < 72; i++) w[i] = 0.1;
  const model = new gb.Sequential(new gb.Flatten(), new gb.Linear(36, 3));
  model.loadStateDict(new Map([["1.weight", gb.tensor(w, [3, 36])], ["1.bias", gb.tensor([0, 0, 0])]]));
  const x = gb.ones([1, 1, 6, 6]);
  const knownConfusions = [
    { actual: 1, predicted: 0, count: 20, rate: 0.2 }, // runner-up taken for the prediction
    { actual: 2, predicted: 0, count: 9, rate: 0.09 }, // the mistake's own confusion
    { actual: 2, predicted: 1, count: 30, rate: 0.3 },
  ];
  // a mistake: the true label is 2
  const f = await gb.predictionFacts(model, x, { label: 2, knownConfusions });
  assert.equal(f.predicted, 0);
  assert.equal(f.runnerUp, 1);
  const known = f.caveats.filter((c) => c.kind === "known-confusion");
  assert.deepEqual(known, [{ kind: "known-confusion", actual: 2, predicted: 0, count: 9, rate: 0.09 }]);
  assert.match(gb.describePrediction(f, "en"), /the model took 2 for 0 9 times \(9\.0% of the 2s\)/);
  // a right prediction: the caveat is about its label being taken for the runner-up
  const r = await gb.predictionFacts(model, x, {
    label: 0,
    knownConfusions: [...knownConfusions, { actual: 0, predicted: 1, count: 6, rate: 0.06 }],
  });
  assert.deepEqual(
    r.caveats.filter((c) => c.kind === "known-confusion").map((c) =>
      c.kind === "known-confusion" && [c.actual, c.predicted]
    ),
    [[0, 1]],
  );
});
