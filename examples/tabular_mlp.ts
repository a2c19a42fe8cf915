/**
 * The seed documents' worked example: a binary classifier on synthetic tabular data where only
 * 5 of 100 features carry signal, and input gradients that find them.
 *
 *   deno run --no-prompt --allow-read --allow-write examples/tabular_mlp.ts
 */
import {
  Adam,
  barChart,
  batches,
  binaryCrossEntropyWithLogits,
  createModel,
  FeaturePermutation,
  grad,
  IntegratedGradients,
  KernelShap,
  makeClassification,
  manualSeed,
  noGrad,
  parseFlags,
  runMain,
  Saliency,
  scope,
  SERIES,
  Standardizer,
  type Tensor,
  tensor,
  trainTestSplit,
  writeTextAtomic,
} from "../mod.ts";

/** What the example reports. */
export interface TabularResult {
  trainAccuracy: number;
  testAccuracy: number;
  /** Mean |∂output/∂input| over the test set, per feature. */
  importance: Float64Array;
  /** Feature indices, most important first. */
  ranking: number[];
  informative: number[];
  /** Mean |attribution| over the test set per feature, and the ranking, for each method. */
  methods: Record<string, MethodImportance>;
}

/** One method's feature importance. */
export interface MethodImportance {
  importance: Float64Array;
  ranking: number[];
}

/** Trains the MLP 100→10→10→1 (sigmoid output, BCE, Adam) and ranks features by input gradient. */
export async function runTabular(
  options: { epochs?: number; seed?: number; log?: (s: string) => void } = {},
): Promise<TabularResult> {
  const seed = options.seed ?? 0;
  const log = options.log ?? (() => {});
  manualSeed(seed);
  const data = makeClassification({ nSamples: 1000, nFeatures: 100, nInformative: 5, nClasses: 2, seed });
  const { train, test } = trainTestSplit(data.x, data.y, data.nFeatures, { testFraction: 0.2, seed });
  const scaler = new Standardizer(train.x, data.nFeatures);
  const xTrain = scaler.transform(train.x), xTest = scaler.transform(test.x);
  const yTrain = Float32Array.from(train.y), yTest = Float32Array.from(test.y);

  // the output layer gives a logit; the sigmoid is folded into the loss for stability
  const model = createModel("tabular-mlp");
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const epochs = options.epochs ?? 30;
  for (let e = 0; e < epochs; e++) {
    let total = 0;
    for (const b of batches(xTrain, yTrain, 100, { batchSize: 32, seed: seed * 1000 + e })) {
      total += await scope(async () => {
        opt.zeroGrad();
        const loss = binaryCrossEntropyWithLogits(model.forward(b.x), b.y);
        await loss.backward();
        opt.step();
        b.x.dispose();
        b.y.dispose();
        return await loss.item() * b.indices.length;
      });
    }
    if (e % 10 === 9 || e === epochs - 1) {
      log(`epoch ${e + 1}: train loss ${(total / train.nSamples).toFixed(4)}`);
    }
  }

  const accuracy = (x: Float32Array, y: Float32Array) =>
    scope(async () => {
      const logits = await noGrad(() => model.forward(tensor(x, [y.length, 100]))).toArray();
      let ok = 0;
      for (let i = 0; i < y.length; i++) if ((logits[i] > 0 ? 1 : 0) === y[i]) ok++;
      return ok / y.length;
    });
  const trainAccuracy = await accuracy(xTrain, yTrain);
  const testAccuracy = await accuracy(xTest, yTest);

  // mean |∂ sigmoid(output) / ∂ input| over the test set, one backward pass for the whole set
  const importance = await scope(async () => {
    const x = tensor(xTest, [test.nSamples, 100], { requiresGrad: true });
    const out = model.forward(x).sigmoid().sum();
    const [dx] = grad(out, [x]);
    const g = await dx.abs().mean(0).toArray();
    return Float64Array.from(g);
  });
  const ranking = rank(importance);

  // the same question asked of four attribution methods: mean |attribution| per feature
  const methods: Record<string, MethodImportance> = {};
  const meanAbs = async (attr: Tensor) => Float64Array.from(await attr.abs().mean(0).toArray());
  await scope(async () => {
    const x = tensor(xTest, [test.nSamples, 100]);
    const few = tensor(xTest.subarray(0, 40 * 100), [40, 100]); // KernelShap: 40 test examples
    const attrs: [string, () => Promise<Tensor>][] = [
      ["Saliency", () => new Saliency(model).attribute(x)],
      ["IntegratedGradients", () => new IntegratedGradients(model).attribute(x, { nSteps: 32 })],
      ["FeaturePermutation", () => new FeaturePermutation(model).attribute(x, { seed })],
      ["KernelShap", () => new KernelShap(model).attribute(few, { nSamples: 400, seed })],
    ];
    for (const [name, run] of attrs) {
      const importance = await meanAbs(await run());
      methods[name] = { importance, ranking: rank(importance) };
    }
  });
  return { trainAccuracy, testAccuracy, importance, ranking, informative: data.informative, methods };
}

/** Feature indices, most important first. */
function rank(importance: Float64Array): number[] {
  return Array.from(importance.keys()).sort((a, b) => importance[b] - importance[a]);
}

const HELP = `deno run --no-prompt --allow-read --allow-write examples/tabular_mlp.ts [--help]
Trains a small classifier on synthetic tabular data (5 of 100 features carry signal), ranks the
features with four attribution methods and writes out/tabular/importance.svg.`;

async function main(): Promise<void> {
  if (parseFlags(Deno.args, { help: { type: "boolean" } }).flags.help) {
    console.log(HELP);
    return;
  }
  const r = await runTabular({ log: console.log });
  console.log(
    `train accuracy ${(r.trainAccuracy * 100).toFixed(1)}%, test accuracy ${
      (r.testAccuracy * 100).toFixed(1)
    }%`,
  );
  const names = Object.keys(r.methods);
  console.log(
    `top 8 features by mean |attribution| over the test set (* = truly informative: ${
      r.informative.join(", ")
    })`,
  );
  console.log(names.map((n) => n.padEnd(22)).join(""));
  for (let k = 0; k < 8; k++) {
    console.log(
      names.map((n) => {
        const f = r.methods[n].ranking[k];
        return `${String(f).padStart(3)}${r.informative.includes(f) ? "*" : " "} ${
          r.methods[n].importance[f].toPrecision(3)
        }`
          .padEnd(22);
      }).join(""),
    );
  }
  // the picture: each method's importance of the top features, side by side
  const top = [...new Set(names.flatMap((n) => r.methods[n].ranking.slice(0, 8)))].sort((a, b) => a - b);
  const svg = barChart(
    top.map((f) => (r.informative.includes(f) ? `${f}*` : String(f))),
    names.map((n, i) => {
      const imp = r.methods[n].importance, max = Math.max(...imp);
      return { name: n, values: top.map((f) => imp[f] / max), color: SERIES[i % SERIES.length] };
    }),
    {
      title: "Feature importance, four methods",
      xLabel: "feature (* = truly informative)",
      yLabel: "mean |attribution| ÷ method's largest",
    },
  );
  await writeTextAtomic("out/tabular/importance.svg", svg);
  console.log("wrote out/tabular/importance.svg");
}

if (import.meta.main) await runMain("deno run examples/tabular_mlp.ts", main);
