/**
 * `deno task explain`: why did the MNIST model predict that? Runs attribution methods on test
 * images of a checkpoint made by `deno task train` and writes the comparison grid, the
 * attributions (safetensors), deletion and insertion curves and a summary of the numbers.
 */
import * as gb from "../mod.ts";

const HELP = `deno task explain [options]
  --checkpoint F    a checkpoint from deno task train (default out/mnist/checkpoint.safetensors)
  --images LIST     test-image indices, e.g. 0,1,2 or 0-7 (default 0-7)
  --all             every test image (10,000) with the first method only, in bounded memory, with progress
  --first N         with --all: only the first N test images
  --shard i/n       with --all: compute shard i of n (rows ⌊iN/n⌋ to ⌊(i+1)N/n⌋) into its own file and manifest
  --shards n        with --all: n shards, this process's index from JOB_COMPLETION_INDEX (Kubernetes Indexed
                    Job) or SLURM_ARRAY_TASK_ID (Slurm array); with --merge: how many shards to join
  --merge           join the shards in --out into attributions.safetensors, identical to one --all run
  --methods LIST    comma-separated, from: ${"${METHODS}"}
                    (default saliency,ig,smoothgrad,guidedbackprop,deeplift,gradcam,occlusion)
  --steps N         integration steps for ig, deeplift-free methods (default 64)
  --batch N         model inputs per internal batch (default: automatic)
  --out DIR         output directory (default out/explain)
  --visualize       also draw what each class looks like to the model (activation maximisation): classes.svg
  --help            this text

Writes comparison.svg (rows: images with label and prediction; columns: methods), sanity.svg
(how the maps of Saliency and IG decorrelate as layers are randomised),
attributions.safetensors (one [N, 1, 28, 28] tensor per method), deletion.svg and insertion.svg
(the target's probability as the most important pixels are removed / inserted, against a random
order), and summary.json (deletion and insertion AUC per method, IG's completeness error).`;

type Run = (
  model: gb.Module,
  x: gb.Tensor,
  target: number[],
  o: { steps: number; batch?: number },
) => Promise<gb.Tensor>;

/** A CAM method on the seed CNN's last convolutional ReLU ("4"), upsampled to 28×28. */
function cam(
  label: string,
  M: new (
    model: gb.Module,
    layer: gb.Module,
  ) => { attribute: (x: gb.Tensor, o: gb.CamOptions) => Promise<gb.Tensor> },
) {
  return {
    label,
    signed: false,
    run:
      ((m, x, t, o) => new M(m, m.get("4")).attribute(x, { target: t, internalBatchSize: o.batch })) as Run,
  };
}

/** The methods by command-line name: what they compute, and whether their maps are signed. */
const METHODS: Record<string, { label: string; signed: boolean; run: Run }> = {
  saliency: {
    label: "Saliency",
    signed: false,
    run: (m, x, t, o) => new gb.Saliency(m).attribute(x, { target: t, internalBatchSize: o.batch }),
  },
  inputxgradient: {
    label: "Input×Gradient",
    signed: true,
    run: (m, x, t, o) => new gb.InputXGradient(m).attribute(x, { target: t, internalBatchSize: o.batch }),
  },
  ig: {
    label: "Integrated Gradients",
    signed: true,
    run: (m, x, t, o) =>
      new gb.IntegratedGradients(m).attribute(x, {
        target: t,
        baselines: BLACK,
        nSteps: o.steps,
        internalBatchSize: o.batch,
      }),
  },
  smoothgrad: {
    label: "SmoothGrad",
    signed: false,
    run: (m, x, t, o) =>
      new gb.NoiseTunnel(new gb.Saliency(m)).attribute(x, {
        target: t,
        ntSamples: 16,
        stdevs: 0.5,
        internalBatchSize: o.batch,
      }),
  },
  guidedbackprop: {
    label: "Guided Backprop",
    signed: true,
    run: (m, x, t, o) => new gb.GuidedBackprop(m).attribute(x, { target: t, internalBatchSize: o.batch }),
  },
  deconvolution: {
    label: "Deconvolution",
    signed: true,
    run: (m, x, t, o) => new gb.Deconvolution(m).attribute(x, { target: t, internalBatchSize: o.batch }),
  },
  deeplift: {
    label: "DeepLift",
    signed: true,
    run: (m, x, t, o) =>
      new gb.DeepLift(m).attribute(x, { target: t, baselines: BLACK, internalBatchSize: o.batch }),
  },
  gradientshap: {
    label: "GradientSHAP",
    signed: true,
    run: (m, x, t, o) =>
      new gb.GradientShap(m).attribute(x, {
        target: t,
        baselines: gb.full([2, 1, 28, 28], BLACK).concat([gb.zeros([1, 1, 28, 28])]),
        nSamples: 20,
        internalBatchSize: o.batch,
      }),
  },
  gradcam: cam("Grad-CAM", gb.GradCAM),
  gradcampp: cam("Grad-CAM++", gb.GradCAMPlusPlus),
  hirescam: cam("HiResCAM", gb.HiResCAM),
  xgradcam: cam("XGrad-CAM", gb.XGradCAM),
  layercam: cam("LayerCAM", gb.LayerCAM),
  scorecam: cam("Score-CAM", gb.ScoreCAM),
  ablationcam: cam("Ablation-CAM", gb.AblationCAM),
  eigencam: cam("Eigen-CAM", gb.EigenCAM),
  guidedgradcam: {
    label: "Guided Grad-CAM",
    signed: true,
    run: (m, x, t, o) =>
      new gb.GuidedGradCAM(m, m.get("4")).attribute(x, { target: t, internalBatchSize: o.batch }),
  },
  occlusion: {
    label: "Occlusion 4×4",
    signed: true,
    run: (m, x, t, o) =>
      new gb.Occlusion(m).attribute(x, {
        target: t,
        slidingWindowShapes: [1, 4, 4],
        strides: [1, 2, 2],
        baselines: BLACK,
        internalBatchSize: o.batch,
      }),
  },
  kernelshap: {
    label: "KernelSHAP (4×4 patches)",
    signed: true,
    run: (m, x, t, o) =>
      new gb.KernelShap(m).attribute(x, {
        target: t,
        featureMask: PATCHES,
        nSamples: 400,
        baselines: BLACK,
        internalBatchSize: o.batch,
      }),
  },
  lime: {
    label: "LIME (4×4 patches)",
    signed: true,
    run: (m, x, t, o) =>
      new gb.Lime(m).attribute(x, {
        target: t,
        featureMask: PATCHES,
        nSamples: 400,
        baselines: BLACK,
        internalBatchSize: o.batch,
      }),
  },
};

/** A black pixel in the normalised units the model sees. */
const BLACK = -gb.MNIST_MEAN / gb.MNIST_STD;
/** 4×4 patches of a 28×28 image: 49 feature groups for the surrogate methods. */
const PATCHES = Int32Array.from(
  { length: 784 },
  (_, i) => Math.floor(Math.floor(i / 28) / 4) * 7 + Math.floor((i % 28) / 4),
);

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  images: { type: "string", default: "0-7" },
  all: { type: "boolean" },
  first: { type: "int", min: 1 },
  shard: { type: "string" },
  shards: { type: "int", min: 1 },
  merge: { type: "boolean" },
  methods: { type: "string", default: "saliency,ig,smoothgrad,guidedbackprop,deeplift,gradcam,occlusion" },
  steps: { type: "int", min: 2, default: 64 },
  batch: { type: "int", min: 1 },
  out: { type: "string", default: "out/explain" },
  visualize: { type: "boolean" },
  help: { type: "boolean" },
} as const;

function parseImages(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new gb.UsageError(`--images takes indices like 0,1,5 or 0-7, got "${part}"`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new gb.UsageError(`--images: the range ${part} runs backwards`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  if (!out.length) throw new gb.UsageError("--images names no image");
  if (out.some((i) => i >= 10000)) {
    throw new gb.UsageError("--images: the MNIST test set has images 0 to 9999");
  }
  return out;
}

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(HELP.replace("${METHODS}", Object.keys(METHODS).join(", ")));
    return;
  }
  const names = flags.methods!.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(n in METHODS));
  if (unknown.length || !names.length) {
    throw new gb.UsageError(
      `unknown method ${unknown.join(", ") || "(none given)"}; choose from ${
        Object.keys(METHODS).join(", ")
      }`,
    );
  }
  const idx = flags.all ? [] : parseImages(flags.images!); // command-line mistakes first, before any loading
  const shard = shardOf(flags); // --shard i/n, or --shards n with the index from the environment
  const ckpt = flags.checkpoint!;
  if (!(await gb.fileExists(ckpt))) {
    throw new Error(
      `no checkpoint at ${ckpt}: make one with \`deno task train\` (about 10 minutes) or \`deno task train --quick\` (20 seconds)`,
    );
  }
  const { model } = await gb.loadModel(ckpt);
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const out = flags.out!;
  await Deno.mkdir(out, { recursive: true });
  const o = { steps: flags.steps!, batch: flags.batch };
  if (flags.visualize) await visualizeClasses(model, out);
  if (flags.all || flags.merge) return await explainAll(model, test, names[0], o, out, ckpt, flags, shard);

  const N = idx.length;
  const xs = new Float32Array(N * 784);
  idx.forEach((k, i) => xs.set(test.x.subarray(k * 784, (k + 1) * 784), i * 784));
  const x = gb.tensor(xs, [N, 1, 28, 28]);
  const labels = idx.map((k) => test.y[k]);
  model.eval();
  const probs = await gb.softmax(gb.noGrad(() => model.forward(x)), 1).toArray();
  const pred = labels.map((_, n) =>
    Array.from(probs.subarray(n * 10, n * 10 + 10)).reduce((b, v, c, a) => (v > a[b] ? c : b), 0)
  );
  // explain what the model predicted
  const target = pred;
  const attributions: Record<string, Float32Array> = {};
  const summary: Record<string, unknown> = {
    checkpoint: ckpt,
    images: idx,
    labels,
    predictions: pred,
    methods: {},
  };
  const curveOpts = { target, baseline: BLACK, steps: 20 };
  const deletion: gb.Series[] = [], insertion: gb.Series[] = [];
  const t0 = performance.now();
  for (const name of [...names, "random"]) {
    const ts = performance.now();
    const attr = name === "random"
      ? gb.randomAttribution(x, 1)
      : await METHODS[name].run(model, x, target, o);
    const del = await gb.deletionCurve(model, x, attr, curveOpts),
      ins = await gb.insertionCurve(model, x, attr, curveOpts);
    const label = name === "random" ? "random order" : METHODS[name].label;
    const mean = (c: gb.Curve) =>
      c.fractions.map((f, k) => [100 * f, c.scores.reduce((a, s) => a + s[k], 0) / N] as [number, number]);
    deletion.push({
      name: `${label} (AUC ${del.meanAuc.toFixed(3)})`,
      points: mean(del),
      dashed: name === "random",
      color: name === "random" ? "#888" : undefined,
    });
    insertion.push({
      name: `${label} (AUC ${ins.meanAuc.toFixed(3)})`,
      points: mean(ins),
      dashed: name === "random",
      color: name === "random" ? "#888" : undefined,
    });
    const entry: Record<string, unknown> = {
      deletionAuc: del.meanAuc,
      insertionAuc: ins.meanAuc,
      seconds: (performance.now() - ts) / 1000,
    };
    if (name === "ig") {
      const { delta } = await new gb.IntegratedGradients(model).attributeWithDelta(x, {
        target,
        baselines: BLACK,
        nSteps: o.steps,
      });
      const f = await gb.noGrad(() => model.forward(x)).toArray(),
        f0 = await gb.noGrad(() => model.forward(gb.full(x.shape, BLACK))).toArray();
      const d = await delta.toArray();
      entry.completenessError = Array.from(
        d,
        (v, n) => Math.abs(v) / Math.abs(f[n * 10 + target[n]] - f0[n * 10 + target[n]]),
      );
    }
    (summary.methods as Record<string, unknown>)[name] = entry;
    if (name !== "random") attributions[name] = (await attr.toArray()) as Float32Array;
    console.log(
      `${label.padEnd(26)} deletion AUC ${del.meanAuc.toFixed(3)}  insertion AUC ${ins.meanAuc.toFixed(3)}  ${
        entry.seconds!.toString().slice(0, 5)
      } s`,
    );
  }
  const grid = gb.attributionGrid(
    idx.map((k, n) => ({
      image: xs.subarray(n * 784, (n + 1) * 784),
      caption: `#${k}: label ${labels[n]}, predicted ${pred[n]} (${
        (100 * probs[n * 10 + pred[n]]).toFixed(0)
      }%)`,
    })),
    names.map((name) => ({
      name: METHODS[name].label,
      signed: METHODS[name].signed,
      maps: idx.map((_, n) => attributions[name].subarray(n * 784, (n + 1) * 784)),
    })),
    28,
    28,
    `Why the MNIST model predicted its class: ${names.length} attribution methods`,
  );
  await gb.writeTextAtomic(`${out}/comparison.svg`, grid);
  await gb.writeTextAtomic(
    `${out}/deletion.svg`,
    gb.lineChart(deletion, {
      title: "Deletion: most important pixels removed first (lower is better)",
      xLabel: "pixels set to black (%)",
      yLabel: "probability of the predicted class",
    }),
  );
  await gb.writeTextAtomic(
    `${out}/insertion.svg`,
    gb.lineChart(insertion, {
      title: "Insertion: most important pixels restored first (higher is better)",
      xLabel: "pixels restored (%)",
      yLabel: "probability of the predicted class",
    }),
  );
  await gb.writeAtomic(
    `${out}/attributions.safetensors`,
    gb.encodeSafetensors(
      Object.entries(attributions).map(([k, v]) => [k, { dtype: "F32", shape: [N, 1, 28, 28], data: v }]),
      { producer: "glassbox", images: idx.join(","), targets: target.join(",") },
    ),
  );
  // the sanity check (Adebayo et al.): randomise the layers from the output down; a faithful method's maps decorrelate
  const sanity: gb.Series[] = [];
  const sanityRuns: Record<string, gb.RandomizationStep[]> = {};
  for (
    const [name, run] of [
      ["Saliency", METHODS.saliency.run],
      ["Integrated Gradients (0 on black pixels: x − x′ = 0)", METHODS.ig.run],
    ] as const
  ) {
    const steps = await gb.randomizationCheck(model, (m, t) => run(m, t, target, { ...o, steps: 16 }), x);
    sanity.push({ name, points: steps.map((st, k) => [k, st.correlation] as [number, number]) });
    sanityRuns[name] = steps;
  }
  summary.sanity = sanityRuns;
  console.log(
    `sanity check (Saliency), layers randomised from the output: ${
      sanityRuns.Saliency.map((st) => `${st.layer} ${st.correlation.toFixed(2)}`).join(", ")
    }`,
  );
  await gb.writeTextAtomic(
    `${out}/sanity.svg`,
    gb.lineChart(
      [...sanity, {
        name: "unchanged maps",
        points: [[0, 1], [sanity[0].points.length - 1, 1]],
        dashed: true,
        color: "#888",
      }],
      {
        title: "Model-randomisation check: a method passes when its curve falls",
        notes: [
          "Pass: the maps change as layers are re-initialised, so they depend on what the model learnt.",
          "Integrated Gradients is exactly 0 on every black pixel (x − x′ = 0) whatever the weights; those shared",
          "zeros keep its rank correlation near 1 even if its values on the digit change completely. A flat IG",
          "curve here is this measure's blind spot, not evidence that IG ignores the model.",
        ],
        xLabel: "layers re-initialised so far, from the output down",
        xTickLabels: sanityRuns.Saliency.map((st) => st.layer),
        yLabel: "rank correlation with the original map",
        legendAt: "bottom-left",
      },
    ),
  );
  await gb.writeTextAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 1));
  console.log(
    `${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s; wrote ${out}/comparison.svg, deletion.svg, insertion.svg, sanity.svg, attributions.safetensors, summary.json`,
  );
}

/**
 * What each class looks like to the model: the input maximising each class's score from noise
 * (L2 penalty, jitter, blur), drawn in grey side by side.
 */
async function visualizeClasses(model: gb.Module, out: string): Promise<void> {
  const maps: Float32Array[] = [];
  for (let c = 0; c < 10; c++) {
    const v = await gb.visualizeFeature(model, {
      objective: { class: c },
      shape: [1, 28, 28],
      steps: 200,
      lr: 0.05,
      l2: 0.01,
      seed: c,
    });
    maps.push((await v.image.toArray()) as Float32Array);
    v.image.dispose();
    Deno.stdout.writeSync(new TextEncoder().encode(`\rvisualising class ${c + 1}/10`));
  }
  console.log();
  const svg = gb.labelledImages(
    maps.map((m) => gb.greyImage(m, 28, 28, 4)),
    maps.map((_, c) => `class ${c}`),
    "What each class looks like to the model (the input that maximises its score)",
    "found by gradient ascent from noise with an L2 penalty, jitter and blur; each image from its own min (black) to max (white)",
  );
  await gb.writeTextAtomic(`${out}/classes.svg`, svg);
  console.log(`wrote ${out}/classes.svg`);
}

/** --shard, --shards and --merge checked before any loading: the shard this process computes, or null. */
function shardOf(flags: gb.Flags<typeof FLAGS>): gb.ShardSpec | null {
  if (flags.merge && flags.shard !== undefined) {
    throw new gb.UsageError("--merge joins the shards; drop --shard");
  }
  if (!flags.all && !flags.merge && (flags.shard ?? flags.shards ?? flags.first) !== undefined) {
    throw new gb.UsageError("--shard, --shards and --first work with --all");
  }
  if (flags.merge) return null;
  return gb.resolveShard({ shard: flags.shard, shards: flags.shards, env: (name) => Deno.env.get(name) });
}

/**
 * One method over the whole test set (or its first --first images) in chunks, with progress, in
 * bounded memory (src/apps/shard.ts): in one process, as shard i of n (its own file and manifest),
 * or --merge: the shards joined into the file one process writes, byte for byte.
 */
async function explainAll(
  model: gb.Module,
  test: gb.Dataset,
  name: string,
  o: { steps: number; batch?: number },
  out: string,
  ckpt: string,
  flags: gb.Flags<typeof FLAGS>,
  shard: gb.ShardSpec | null,
): Promise<void> {
  const N = flags.first ?? test.y.length, store = gb.directoryStore(out);
  if (N > test.y.length) throw new gb.UsageError(`--first ${N}: the test set has ${test.y.length} images`);
  const shape = test.sampleShape, per = shape.reduce((a, b) => a * b, 1); // one example, from the data
  const job: gb.AttributionJob = {
    method: name,
    options: { steps: o.steps, batch: o.batch },
    model: await gb.sha256Hex(await Deno.readFile(ckpt)),
    data: await gb.dataIdentity("MNIST test set", test.x.subarray(0, N * per), test.y.subarray(0, N)),
    total: N,
    shape,
    metadata: { producer: "glassbox", images: `0-${N - 1}`, targets: "labels" },
  };
  const attribute: gb.RowAttribution = (s, e) =>
    gb.scope(async () => {
      const x = gb.tensor(test.x.subarray(s * per, e * per), [e - s, ...shape]);
      const target = Array.from(test.y.subarray(s, e));
      if (name !== "ig") {
        return {
          attributions: (await (await METHODS[name].run(model, x, target, o)).toArray()) as Float32Array,
        };
      }
      const r = await new gb.IntegratedGradients(model).attributeWithDelta(x, {
        target,
        baselines: BLACK,
        nSteps: o.steps,
        internalBatchSize: o.batch,
      });
      const delta = Float32Array.from(await r.delta.toArray(), Math.abs);
      return {
        attributions: (await r.attributions.toArray()) as Float32Array,
        perRow: { completenessAbsDelta: delta },
      };
    });
  const tty = Deno.stdout.isTerminal(), t0 = performance.now();
  let calls = 0;
  const onProgress = (done: number, total: number) => {
    const line = gb.progressLine(METHODS[name].label, done, total, (performance.now() - t0) / 1000, shard);
    if (tty) Deno.stdout.writeSync(new TextEncoder().encode(`\r${line}   `));
    else if (++calls % 4 === 0 || done === total) console.log(line);
  };
  if (shard) {
    const m = await gb.runShard(store, job, shard, attribute, { onProgress });
    if (tty) console.log();
    const files = gb.shardFileNames(shard);
    return console.log(
      `shard ${shard.index}/${shard.count}: rows ${m.rows[0]}-${m.rows[1] - 1} in ${
        m.seconds!.toFixed(1)
      } s; wrote ${
        store.where(files.tensors)
      } and ${files.manifest}; when all ${shard.count} are done: deno task explain --merge with the same options`,
    );
  }
  const r = flags.merge
    ? await gb.mergeShards(store, job, { count: flags.shards })
    : await gb.attributeRows({ start: 0, end: N }, per, attribute, { onProgress });
  if (tty && !flags.merge) console.log();
  const bytes = "bytes" in r ? r.bytes : gb.attributionsFile(job, r.attributions);
  await gb.writeAtomic(`${out}/attributions.safetensors`, bytes);
  const shards = "manifests" in r ? r.manifests.length : undefined;
  const summary = { ...gb.runSummary(name, N, r.perRow, r.seconds, shards), pool: gb.poolStats() };
  await gb.writeTextAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 1));
  console.log(
    `${shards ? `merged ${shards} shards; ` : ""}wrote ${out}/attributions.safetensors and summary.json`,
  );
}

if (import.meta.main) await gb.runMain("explain", main);
