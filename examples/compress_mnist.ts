/**
 * `deno task compress`: what compression does to a trained classifier — by default the MNIST
 * model from `deno task train`, or any checkpoint with an explanation profile and its data.
 * A thin CLI around `compressStudy` (src/apps/compress.ts): it reads the checkpoint (with its
 * profile; a checkpoint from before profiles gets MNIST's) and the data (MNIST for a model
 * with MNIST's input and classes, else `--train`/`--test` safetensors files), runs the study,
 * prints progress, and writes what the study returns, atomically.
 */
import * as gb from "../mod.ts";

const HELP = `deno task compress [options]
  --checkpoint F      a checkpoint saved with saveModel (default out/mnist/checkpoint.safetensors, from deno task train)
  --train F           training data: a safetensors file with "x" (F32 [N, ...input shape]) and "y"
                      (I32 class indices [N]); needed unless the model takes MNIST (then MNIST's training set)
  --test F            test data, the same format (default MNIST's test set for an MNIST model)
  --out DIR           output directory (default out/compress)
  --steps N           fine-tuning steps (batch 64) per pruning level, filter pruning and QAT (default 300)
  --distill-images N  training examples both students learn from (default 12000: a small transfer set,
                      where a teacher helps most); distillation runs when the zoo has a student for the model
  --distill-epochs N  epochs for the distilled student and for the student alone (default 2)
  --temperature T     distillation temperature (default 4)
  --alpha A           weight of the teacher's soft targets, 1 − A on the labels (default 0.5)
  --explain N         test examples whose explanations are compared (default 16)
  --test-images N     test examples for accuracy (default all of the test set)
  --seed N            seed of shuffling and of the students' initialisation (default 0)
  --quick             smoke run: 30 steps, 2,000 training examples, 1,000 test examples, 4 explained
  --help              this text

Writes summary.md (the table), summary.json, models/*.safetensors (every variant),
accuracy_vs_sparsity.svg, weight_histograms.svg, drift_integrated_gradients.svg and, for an
image model whose profile names a CAM layer, drift_gradcam.svg. Compressions that do not apply
to the model (filter pruning without a Conv2d, int8 of a model that is not a Sequential,
distillation without a student) are skipped and listed in summary.md.`;

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  train: { type: "string" },
  test: { type: "string" },
  out: { type: "string", default: "out/compress" },
  steps: { type: "int", min: 1 },
  "distill-images": { type: "int", min: 1, default: 12000 },
  "distill-epochs": { type: "int", min: 1, default: 2 },
  temperature: { type: "number", positive: true, default: 4 },
  alpha: { type: "number", default: 0.5 },
  explain: { type: "int", min: 1 },
  "test-images": { type: "int", min: 1 },
  seed: { type: "int", min: 0, default: 0 },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

const t0 = performance.now();
const clock = () => {
  const s = Math.round((performance.now() - t0) / 1000);
  return `[${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}]`;
};
const log = (msg: string) => console.log(`${clock()} ${msg}`);

/** Whether a profile describes MNIST's input and classes (then MNIST is the default data). */
function takesMnist(profile: gb.ExplanationProfile): boolean {
  const m = gb.mnistProfile();
  return profile.inputShape.join() === m.inputShape.join() && profile.classes.length === m.classes.length;
}

/** The first `n` examples of a data set. */
function head(d: gb.Dataset, n: number): gb.Dataset {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  return { ...d, x: d.x.subarray(0, n * per), y: d.y.subarray(0, n) };
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
  const ckpt = flags.checkpoint!, out = flags.out!;
  if (!(await gb.fileExists(ckpt))) {
    throw new Error(
      `no checkpoint at ${ckpt}: make one with \`deno task train\` (about 10 minutes) or \`deno task train --quick\``,
    );
  }
  // the report matches a compression study to its own checkpoint by these bytes' hash
  const ckptSha256 = await gb.sha256Hex(await Deno.readFile(ckpt));
  const { model, profile: saved } = await gb.loadModel(ckpt);
  // every file this study writes keeps the profile (a checkpoint from before profiles gets MNIST's)
  const profile = saved ?? gb.mnistProfile();
  const mnist = takesMnist(profile);
  if ((flags.train === undefined) !== (flags.test === undefined)) {
    throw new gb.UsageError("--train and --test go together (the study needs both)");
  }
  if (flags.train === undefined && !mnist) {
    throw new gb.UsageError(
      `${ckpt} takes [${
        profile.inputShape.join(", ")
      }] inputs with ${profile.classes.length} classes, not MNIST: give its data with --train F --test F`,
    );
  }
  const read = async (flag: string, f: string) =>
    gb.datasetFromSafetensors(await gb.readFlagFile(flag, f), profile, f);
  const trainFull = flags.train
    ? await read("train", flags.train)
    : gb.mnistDataset(await gb.loadMnist("train"));
  const testFull = flags.test ? await read("test", flags.test) : gb.mnistDataset(await gb.loadMnist("test"));
  const nTest = flags["test-images"] ?? (quick ? Math.min(1000, testFull.y.length) : testFull.y.length);
  if (nTest > testFull.y.length) {
    throw new gb.UsageError(
      `--test-images must be at most ${testFull.y.length} (the test set's size), got ${nTest}`,
    );
  }
  const nExplain = flags.explain ?? Math.min(quick ? 4 : 16, nTest);
  if (nExplain > testFull.y.length) {
    throw new gb.UsageError(
      `--explain must be at most ${testFull.y.length} (the test set's size), got ${nExplain}`,
    );
  }
  console.log(`adapter: ${gb.adapterInfo().description}; int8 dot product: ${gb.int8DotPath()}`);
  const result = await gb.compressStudy(
    model,
    profile,
    { train: quick ? head(trainFull, Math.min(2000, trainFull.y.length)) : trainFull, test: testFull },
    {
      steps: flags.steps ?? (quick ? 30 : 300),
      distillImages: flags["distill-images"],
      distillEpochs: flags["distill-epochs"],
      temperature: flags.temperature,
      alpha: flags.alpha,
      explain: nExplain,
      testExamples: nTest,
      timingReps: quick ? 1 : 5,
      seed: flags.seed,
      dataName: flags.test ? `test examples of ${flags.test}` : mnist ? "MNIST test images" : undefined,
      about: { checkpoint: ckpt, checkpointSha256: ckptSha256 },
      filePrefix: `${out}/`,
    },
    log,
  );
  await Deno.mkdir(`${out}/models`, { recursive: true });
  for (const f of result.files) {
    const path = `${out}/${f.name}`;
    if (typeof f.data === "string") await gb.writeTextAtomic(path, f.data);
    else await gb.writeAtomic(path, f.data);
  }
  console.log(`\n${result.table}\n`);
  for (const s of result.skipped) log(`not run: ${s.variant} (${s.reason})`);
  log(
    `wrote ${out}/: ${
      result.files.filter((f) => !f.name.startsWith("models/")).map((f) => f.name).join(", ")
    }, models/`,
  );
}

if (import.meta.main) await gb.runMain("compress", main);
