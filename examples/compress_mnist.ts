/**
 * `deno task compress`: what compression does to the MNIST model from `deno task train`.
 * Builds each variant (magnitude-pruned to 50/80/90% with fine-tuning, half the second conv's
 * filters removed, int8 after training with min-max and percentile calibration, int8 after
 * quantization-aware training, a distilled student and the same student trained alone), then
 * measures parameters, file size, test accuracy, inference time, and how far each variant's
 * explanations moved (Integrated Gradients and Grad-CAM, rank correlation with the original's).
 */
import * as gb from "../mod.ts";

const HELP = `deno task compress [options]
  --checkpoint F      a checkpoint from deno task train (default out/mnist/checkpoint.safetensors)
  --out DIR           output directory (default out/compress)
  --steps N           fine-tuning steps (batch 64) per pruning level, filter pruning and QAT (default 300)
  --distill-images N  training images both students learn from (default 12000: a small transfer set,
                      where a teacher helps most; the teacher was trained on all 60,000)
  --distill-epochs N  epochs for the distilled student and for the student alone (default 2)
  --temperature T     distillation temperature (default 4)
  --alpha A           weight of the teacher's soft targets, 1 − A on the labels (default 0.5)
  --explain N         test images whose explanations are compared (default 16)
  --test-images N     test images for accuracy (default 10000)
  --seed N            seed of shuffling and of the students' initialisation (default 0)
  --quick             smoke run: 30 steps, 2,000 training images, 1,000 test images, 4 explained
  --help              this text

Writes summary.md (the table), summary.json, models/*.safetensors (every variant),
accuracy_vs_sparsity.svg, weight_histograms.svg, drift_integrated_gradients.svg and
drift_gradcam.svg (the same test images explained by every variant, side by side).`;

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  out: { type: "string", default: "out/compress" },
  steps: { type: "int", min: 1 },
  "distill-images": { type: "int", min: 1, default: 12000 },
  "distill-epochs": { type: "int", min: 1, default: 2 },
  temperature: { type: "number", positive: true, default: 4 },
  alpha: { type: "number", default: 0.5 },
  explain: { type: "int", min: 1 },
  "test-images": { type: "int", min: 1, max: 10000 },
  seed: { type: "int", min: 0, default: 0 },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

interface Variant extends gb.VariantSummary {
  /** What runs for accuracy and timing. */
  model: gb.Module;
  /** What the attributions are computed on (the float twin for int8 models). */
  explainModel: gb.Module;
}

const t0 = performance.now();
const clock = () => {
  const s = Math.round((performance.now() - t0) / 1000);
  return `[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}]`;
};
const log = (msg: string) => console.log(`${clock()} ${msg}`);

async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Parameters and how many are not zero (from sparsityTable's total). */
async function countParams(model: gb.Module): Promise<{ params: number; nonzero: number }> {
  const { total } = await gb.sparsityTable(model);
  return { params: total.params, nonzero: total.params - total.zeros };
}

/** Median time of a forward pass of `batch` test images with the readback, in ms. */
async function inferenceMs(model: gb.Module, x: gb.Tensor, reps: number): Promise<number> {
  const restore = model.enterEval();
  const run = async () => await gb.scope(async () => await gb.noGrad(() => model.forward(x)).toArray());
  try {
    for (let i = 0; i < Math.min(2, reps); i++) await run();
    const t: number[] = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      await run();
      t.push(performance.now() - s);
    }
    return t.sort((a, b) => a - b)[Math.floor(reps / 2)];
  } finally {
    restore();
  }
}

/**
 * The drift study's two methods from the method registry: Integrated Gradients (its default 32
 * steps) and Grad-CAM (at the layer's own resolution and upsampled), the baseline and the layer
 * from the model's profile, for the labels.
 */
async function explain(
  model: gb.Module,
  x: gb.Tensor,
  target: number[],
  profile: gb.ExplanationProfile,
): Promise<{ ig: gb.Tensor; cam: gb.Tensor; camUp: gb.Tensor }> {
  const restore = model.enterEval();
  try {
    const ig = await gb.attributionMethod("ig").run(model, x, target, profile);
    const gradcam = gb.attributionMethod("gradcam");
    const cam = await gradcam.run(model, x, target, profile, { upsample: false });
    const camUp = await gradcam.run(model, x, target, profile);
    return { ig, cam, camUp };
  } finally {
    restore();
  }
}

function fineTuneProgress(what: string) {
  return (step: number, total: number, loss: number) => {
    if (step % 100 === 0 || step === total) log(`  ${what}: step ${step}/${total}, loss ${loss.toFixed(4)}`);
  };
}

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const quick = flags.quick;
  if (!(flags.alpha! >= 0 && flags.alpha! <= 1)) {
    throw new gb.UsageError(`--alpha must be between 0 and 1, got ${flags.alpha}`);
  }
  const steps = flags.steps ?? (quick ? 30 : 300);
  const nExplain = flags.explain ?? (quick ? 4 : 16);
  const nTest = flags["test-images"] ?? (quick ? 1000 : 10000);
  const seed = flags.seed!, out = flags.out!;
  const ckpt = flags.checkpoint!;
  if (!(await gb.fileExists(ckpt))) {
    throw new Error(
      `no checkpoint at ${ckpt}: make one with \`deno task train\` (about 10 minutes) or \`deno task train --quick\``,
    );
  }
  // the report matches a compression study to its own checkpoint by these bytes' hash
  const ckptSha256 = await gb.sha256Hex(await Deno.readFile(ckpt));
  const { model: loaded, profile: saved } = await gb.loadModel(ckpt);
  // every file this study writes keeps the profile (a checkpoint from before profiles gets MNIST's)
  const profile = saved ?? gb.mnistProfile();
  if (!(loaded instanceof gb.Sequential) || !(loaded.layers[3] instanceof gb.Conv2d)) {
    throw new Error(`${ckpt}: expected the seed CNN of deno task train, got a ${loaded.typeName}`);
  }
  const original = loaded;
  original.eval();
  console.log(`adapter: ${gb.adapterInfo().description}; int8 dot product: ${gb.int8DotPath()}`);
  const trainFull = gb.mnistDataset(await gb.loadMnist("train"));
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const train = quick
    ? { ...trainFull, x: trainFull.x.subarray(0, 2000 * 784), y: trainFull.y.subarray(0, 2000) }
    : trainFull;
  await Deno.mkdir(`${out}/models`, { recursive: true });
  const testSet = { ...test, x: test.x.subarray(0, nTest * 784), y: test.y.subarray(0, nTest) };
  const xs = gb.tensor(test.x.subarray(0, nExplain * 784), [nExplain, 1, 28, 28]);
  const labels = Array.from(test.y.subarray(0, nExplain));
  const timingBatch = gb.tensor(test.x.subarray(0, 256 * 784), [256, 1, 28, 28]);
  const ref = await explain(original, xs, labels, profile);

  const variants: Variant[] = [];
  const fitOpts = (model: gb.Module, lr: number, what: string) => ({
    optimizer: new gb.Adam(model.parameters(), { lr }),
    batchSize: 64,
    seed: seed + 1,
    onStep: fineTuneProgress(what),
  });
  const add = async (
    name: string,
    model: gb.Module,
    options: { explainModel?: gb.Module; save: (path: string) => Promise<unknown>; note?: string },
  ) => {
    const file = `${out}/models/${
      name.replace(/[^a-z0-9]+/gi, "-").replace(/-$/, "").toLowerCase()
    }.safetensors`;
    await options.save(file);
    const bytes = await Deno.readFile(file);
    const ev = await gb.evaluate(model, testSet);
    const counted = await countParams(options.explainModel ?? model);
    const v: Variant = {
      name,
      model,
      explainModel: options.explainModel ?? model,
      ...counted,
      file,
      bytes: bytes.length,
      gzipBytes: await gzipSize(bytes),
      accuracy: ev.accuracy,
      msPerBatch: await inferenceMs(model, timingBatch, quick ? 1 : 5),
      igDrift: NaN,
      camDrift: NaN,
      note: options.note ?? "",
    };
    variants.push(v);
    log(
      `${name}: test accuracy ${(100 * v.accuracy).toFixed(2)}%, ${v.bytes} bytes, ${
        v.msPerBatch.toFixed(1)
      } ms/256`,
    );
    return v;
  };

  log(`original: evaluating on ${nTest} test images`);
  await add("original (float32)", original, { save: (p) => gb.saveModel(original, p, {}, { profile }) });

  // unstructured pruning, gradually: 0 → 50% → 80% → 90%, two prune-and-fine-tune stages per level
  const curve: { sparsity: number; oneShot: number; tuned?: number }[] = [];
  for (const s of [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]) {
    const m = gb.cloneModel(original);
    const p = await gb.magnitudePrune(m, { amount: s, scope: "global" });
    curve.push({ sparsity: s, oneShot: (await gb.evaluate(m, testSet)).accuracy });
    p.remove();
  }
  log(
    `one-shot pruning (no fine-tuning): ${
      curve.map((c) => `${c.sparsity * 100}% ${(100 * c.oneShot).toFixed(1)}%`).join(", ")
    }`,
  );
  const work = gb.cloneModel(original);
  const pruneFit = fitOpts(work, 5e-4, "pruning");
  let previous = 0, pruning: gb.Pruning | null = null, sparsityRows = "";
  for (const level of [0.5, 0.8, 0.9]) {
    pruning?.remove();
    pruning = await gb.iterativePrune(work, {
      sparsity: level,
      initial: previous,
      stages: 2,
      scope: "global",
      fineTune: async (p, stage, amount) => {
        log(
          `pruned to ${(100 * amount).toFixed(1)}% (stage ${stage + 1} of 2 toward ${
            level * 100
          }%), fine-tuning`,
        );
        await gb.fit(work, train, { ...pruneFit, steps: Math.ceil(steps / 2), afterStep: () => p.enforce() });
      },
    });
    previous = level;
    const snapshot = gb.cloneModel(work);
    snapshot.eval();
    const v = await add(`pruned ${level * 100}%`, snapshot, {
      save: (p) => gb.saveModel(snapshot, p, {}, { profile }),
      note: "global magnitude, fine-tuned; zeros stored densely (see gzip)",
    });
    curve.find((c) => c.sparsity === level)!.tuned = v.accuracy;
    if (level === 0.8) sparsityRows = (await gb.sparsityTable(snapshot)).table;
  }
  pruning?.remove();

  // structured: half the filters of the second conv, by L1 norm, then fine-tuning
  const fp = await gb.pruneFilters(original, "3", { amount: 0.5, norm: "l1" });
  log(
    `filter pruning removed ${fp.removed.length} of 64 filters of layer 3; ${fp.params.before} → ${fp.params.after} parameters`,
  );
  await gb.fit(fp.model, train, { ...fitOpts(fp.model, 5e-4, "filter-pruned"), steps });
  fp.model.eval();
  await add("filters −50% (conv 2)", fp.model, {
    save: (p) => gb.saveModel(fp.model, p, {}, { profile }),
    note: "32 of 64 filters removed (L1); next layer shrunk; fine-tuned",
  });

  // int8 after training: calibrated on 512 training images
  const sqnrTables: string[] = [];
  let ptqScales: Map<string, number> | null = null;
  for (const method of ["minmax", "percentile"] as const) {
    const q = await gb.quantizeModel(original, train, { calibration: { method, samples: 512 } });
    if (method === "percentile") ptqScales = q.inputScales;
    sqnrTables.push(`int8 (${method}):\n${q.table()}`);
    await add(`int8 ${method === "minmax" ? "min-max" : "percentile 99.99"}`, q, {
      explainModel: q.simulate(),
      save: (p) => gb.saveQuantizedModel(q, p, {}, { profile }),
      note: `post-training, ${
        q.fallbacks.length ? `float: ${q.fallbacks.map((f) => f.layer).join(", ")}` : "every layer int8"
      }`,
    });
  }

  // quantization-aware training from the percentile scales
  const qat = gb.fakeQuantModel(original, ptqScales!);
  await gb.fit(qat.model, train, { ...fitOpts(qat.model, 1e-4, "QAT"), steps });
  const qq = await gb.quantizeModel(qat.float, train, { inputScales: ptqScales! });
  sqnrTables.push(`int8 (QAT):\n${qq.table()}`);
  await add("int8 QAT", qq, {
    explainModel: qq.simulate(),
    save: (p) => gb.saveQuantizedModel(qq, p, {}, { profile }),
    note: `${steps} fake-quantized fine-tuning steps`,
  });

  // distillation: the same student, the same seed, with and without the teacher
  const epochs = flags["distill-epochs"]!, alpha = flags.alpha!;
  const nDistill = Math.min(flags["distill-images"]!, train.y.length);
  const transfer = { ...train, x: train.x.subarray(0, nDistill * 784), y: train.y.subarray(0, nDistill) };
  gb.manualSeed(seed);
  const student = gb.createModel("student-cnn");
  const soloModel = gb.cloneModel(student);
  log(
    `distilling into a student with ${
      (await countParams(student)).params
    } parameters (T = ${flags.temperature})`,
  );
  await gb.distill(student, original, transfer, {
    ...fitOpts(student, 2e-3, "distilled student"),
    epochs,
    temperature: flags.temperature,
    alpha,
  });
  student.eval();
  log("training the same student alone");
  await gb.fit(soloModel, transfer, { ...fitOpts(soloModel, 2e-3, "student alone"), epochs });
  soloModel.eval();
  await add("student, distilled", student, {
    save: (p) => gb.saveModel(student, p, {}, { profile }),
    note: `T = ${flags.temperature}, α = ${alpha}, ${nDistill} images × ${epochs} epochs, seed ${seed}`,
  });
  await add("student alone", soloModel, {
    save: (p) => gb.saveModel(soloModel, p, {}, { profile }),
    note: `same init (seed ${seed}), images and batches; labels only`,
  });

  // how far the explanations moved
  const maps = new Map<string, { ig: Float32Array; cam: Float32Array }>();
  for (const v of variants) {
    const e = v.model === original ? ref : await explain(v.explainModel, xs, labels, profile);
    v.igDrift = (await gb.explanationDrift(ref.ig, e.ig)).mean;
    v.camDrift = (await gb.explanationDrift(ref.cam, e.cam)).mean;
    maps.set(v.name, {
      ig: (await e.ig.toArray()) as Float32Array,
      cam: (await e.camUp.toArray()) as Float32Array,
    });
    log(
      `${v.name}: explanation rank correlation with the original: IG ${v.igDrift.toFixed(3)}, Grad-CAM ${
        v.camDrift.toFixed(3)
      }`,
    );
  }

  // the pictures
  const base = variants[0];
  const shown = Math.min(4, nExplain);
  const probs = await gb.predict(original, xs).toArray();
  const rows = Array.from({ length: shown }, (_, n) => {
    const p = Array.from(probs.subarray(n * 10, n * 10 + 10));
    const pred = p.indexOf(Math.max(...p));
    return {
      image: test.x.subarray(n * 784, (n + 1) * 784),
      caption: `test ${n}: label ${labels[n]}, original predicts ${pred}`,
    };
  });
  const short = (name: string) =>
    name.replace(" (float32)", "").replace("percentile 99.99", "pctl").replace(" (conv 2)", "").replace(
      "student, ",
      "student ",
    );
  for (
    const [key, title, file, signed] of [
      [
        "ig",
        "Integrated Gradients of the label, per variant (ρ = rank correlation with the original over all explained images)",
        "drift_integrated_gradients.svg",
        true,
      ],
      [
        "cam",
        "Grad-CAM of the label at the last conv ReLU (11×11, drawn upsampled), per variant (ρ = rank correlation with the original)",
        "drift_gradcam.svg",
        false,
      ],
    ] as const
  ) {
    const columns = variants.map((v) => ({
      name: v === base
        ? short(v.name)
        : `${short(v.name)}\nρ = ${(key === "ig" ? v.igDrift : v.camDrift).toFixed(2)}`,
      maps: Array.from({ length: shown }, (_, n) => maps.get(v.name)![key].subarray(n * 784, (n + 1) * 784)),
      signed,
    }));
    await gb.writeTextAtomic(`${out}/${file}`, gb.attributionGrid(rows, columns, 28, 28, title));
  }
  const err = (acc: number) => 100 * (1 - acc);
  await gb.writeTextAtomic(
    `${out}/accuracy_vs_sparsity.svg`,
    gb.lineChart(
      [
        {
          name: "one-shot (no fine-tuning)",
          points: curve.map((c) => [100 * c.sparsity, err(c.oneShot)]),
          dashed: true,
        },
        {
          name: `gradual + fine-tuned (${steps} steps per level)`,
          points: [
            [0, err(base.accuracy)],
            ...curve.filter((c) => c.tuned !== undefined).map((c) =>
              [100 * c.sparsity, err(c.tuned!)] as [number, number]
            ),
          ],
        },
        {
          name: `dense model (${err(base.accuracy).toFixed(2)}% error)`,
          points: [[0, err(base.accuracy)], [98, err(base.accuracy)]],
          color: "#888",
          dashed: true,
        },
      ],
      {
        title: `Test error against sparsity (global magnitude pruning, ${nTest} test images)`,
        xLabel: "weights pruned (%)",
        yLabel: "test error (%)",
        logY: true,
        legendAt: "top-left",
      },
    ),
  );
  const pruned80 = variants.find((v) => v.name === "pruned 80%")!.model;
  const hist = async (t: gb.Tensor, lo: number, hi: number, dropZeros: boolean) => {
    const v = await t.toArray(), counts = new Array(60).fill(0);
    for (const x of v) {
      if (dropZeros && x === 0) continue;
      counts[Math.min(59, Math.max(0, Math.floor(((x - lo) / (hi - lo)) * 60)))]++;
    }
    return counts;
  };
  const charts: string[] = [];
  const pruned80Params = new Map(pruned80.namedParameters());
  for (const name of gb.prunableWeights(original)) {
    const w = original.namedParameters().find(([n]) => n === name)![1];
    const vals = await w.toArray();
    let m = 0;
    for (const x of vals) m = Math.max(m, Math.abs(x));
    charts.push(gb.histogramChart(
      [
        { name: "original: all weights", lo: -m, hi: m, counts: await hist(w, -m, m, false) },
        {
          name: "pruned 80%: weights kept",
          lo: -m,
          hi: m,
          counts: await hist(pruned80Params.get(name)!, -m, m, true),
        },
      ],
      {
        title: `${name} [${w.shape.join("×")}]`,
        xLabel: "weight value",
        yLabel: "count",
        width: 520,
        height: 320,
      },
    ));
  }
  await gb.writeTextAtomic(`${out}/weight_histograms.svg`, gb.gridOfCharts(charts, 2));

  // the table
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const header =
    "| variant | parameters (non-zero) | file | gzip | test accuracy | Δ accuracy | ms / 256 images | IG ρ | Grad-CAM ρ | notes |";
  const lines = variants.map((v) =>
    `| ${v.name} | ${v.params.toLocaleString("en-US")} (${v.nonzero.toLocaleString("en-US")}) | ${
      kb(v.bytes)
    } (${(base.bytes / v.bytes).toFixed(2)}×) | ${kb(v.gzipBytes)} | ${(100 * v.accuracy).toFixed(2)}% | ${
      v === base ? "—" : (100 * (v.accuracy - base.accuracy)).toFixed(2)
    } | ${v.msPerBatch.toFixed(1)} | ${v === base ? "1" : v.igDrift.toFixed(3)} | ${
      v === base ? "1" : v.camDrift.toFixed(3)
    } | ${v.note} |`
  );
  const table = [header, "|" + " --- |".repeat(10), ...lines].join("\n");
  const md = [
    `# Compression of ${ckpt}`,
    "",
    `Adapter: ${gb.adapterInfo().description}; int8 dot product: ${gb.int8DotPath()}. Accuracy on ${nTest} MNIST test images; explanations compared on the first ${nExplain} (Integrated Gradients: black baseline, 32 steps; Grad-CAM: layer 4 at 11×11; ρ = Spearman rank correlation with the original model's map, mean over images). Int8 explanations are computed on the int8 model's float twin (the same int8 grids, with gradients). Fine-tuning: ${steps} steps of 64 per pruning level, filter pruning and QAT; students: ${nDistill} training images × ${epochs} epochs, seed ${seed}, distillation T = ${flags.temperature}, α = ${alpha}.`,
    "",
    table,
    "",
    "Per-layer sparsity of the 80% model:",
    "",
    "```",
    sparsityRows,
    "```",
    "",
    "Quantization error per layer (SQNR, dB, on 64 calibration images):",
    "",
    "```",
    sqnrTables.join("\n\n"),
    "```",
    "",
  ].join("\n");
  await gb.writeTextAtomic(`${out}/summary.md`, md);
  await gb.writeTextAtomic(
    `${out}/summary.json`,
    JSON.stringify(
      {
        checkpoint: ckpt,
        checkpointSha256: ckptSha256,
        testImages: nTest,
        explainedImages: nExplain,
        steps,
        seed,
        distillation: { images: nDistill, epochs, temperature: flags.temperature, alpha },
        curve,
        variants: variants.map(({ model: _m, explainModel: _e, ...v }) => v),
      },
      null,
      1,
    ),
  );
  console.log(`\n${table}\n`);
  log(
    `wrote ${out}/summary.md, summary.json, models/, accuracy_vs_sparsity.svg, weight_histograms.svg, drift_integrated_gradients.svg, drift_gradcam.svg`,
  );
}

if (import.meta.main) await gb.runMain("compress", main);
