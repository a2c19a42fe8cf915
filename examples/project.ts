/**
 * `deno task project`: the embedding projector. Projects a checkpoint's representations (by
 * default the vector its classifier reads: the seed CNN's penultimate layer, the text
 * classifier's sentence vector; or a text model's word embeddings) by PCA, t-SNE and UMAP, and
 * writes scatter plots, a separation table and TensorBoard's projector files. The work is
 * src/apps/project.ts; this file parses flags, reads the data and writes the files.
 */
import * as gb from "../mod.ts";

const HELP = `deno task project [options]
  --checkpoint F    a checkpoint (default out/mnist/checkpoint.safetensors); its explanation profile says
                    the input's shape, the classes and, for a text model, the vocabulary
  --layer PATH      the module whose output is projected (default: the input of the model's last Linear,
                    the vector its classifier reads)
  --words           a text model: project its word embeddings (the embedding matrix's rows) instead
  --data F          a safetensors file with "x" [N, ...input shape] (F32, or I32 token ids) and optionally
                    "y" [N] labels (default: the MNIST test set for an image model, the held-out fortunes
                    of the profile's classes for a text model)
  --method LIST     pca, tsne, umap, comma-separated (default all three)
  --dims N          2 or 3 coordinates (default 2; the pictures draw the first two)
  --n N             how many examples or words, the first N (default 2000)
  --seed N          t-SNE's and UMAP's seed (default 0)
  --out DIR         pictures and table (default: projector/ next to the checkpoint)
  --logdir DIR      where TensorBoard's projector files go (default: the checkpoint's tensorboard/ folder,
                    next to its event files, if it has one; else <out>/tensorboard)
  --fortunes D      where the fortune files are (default /usr/share/games/fortunes)
  --help            this text

Writes <method>_en.svg and <method>_zh.svg (scatter plots coloured by label, thumbnails or words at a
sample of points), separation.md and separation.json (kNN accuracy in the projection and the full space,
trustworthiness), and projector_config.pbtxt with tensor/metadata TSVs and a sprite: see them with
tensorboard --logdir <logdir>, Projector tab.`;

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  layer: { type: "string" },
  words: { type: "boolean" },
  data: { type: "string" },
  method: { type: "string", default: "pca,tsne,umap" },
  dims: { type: "int", min: 2, max: 3, default: 2 },
  n: { type: "int", min: 12, default: 2000 },
  seed: { type: "int", min: 0, default: 0 },
  out: { type: "string" },
  logdir: { type: "string" },
  fortunes: { type: "string", default: "/usr/share/games/fortunes" },
  help: { type: "boolean" },
} as const;

/** The examples: a --data file, the MNIST test set (images) or the held-out fortunes (text). */
async function readData(
  path: string | undefined,
  profile: gb.ExplanationProfile,
  fortunes: string,
): Promise<{ x: Float32Array | Int32Array; y?: Int32Array; texts?: string[] }> {
  if (path !== undefined) {
    const file = gb.decodeSafetensors(await gb.readFlagFile("data", path), path);
    const x = file.tensors.get("x"), y = file.tensors.get("y");
    if (!x || (x.dtype !== "F32" && x.dtype !== "I32") || x.shape.length < 2) {
      throw new gb.UsageError(
        `--data ${path}: needs a tensor "x" [N, ...input shape], F32 (or I32 token ids)`,
      );
    }
    if ((x.dtype === "I32") !== (profile.modality === "tokens")) {
      throw new gb.UsageError(
        `--data ${path}: "x" is ${x.dtype} but the model's inputs are ${profile.modality} (${
          profile.modality === "tokens" ? "I32 token ids" : "F32"
        })`,
      );
    }
    if (x.shape.slice(1).join() !== profile.inputShape.join()) {
      throw new gb.UsageError(
        `--data ${path}: "x" is [${x.shape}], the model takes [N, ${profile.inputShape.join(", ")}]`,
      );
    }
    if (y && (y.shape.length !== 1 || y.shape[0] !== x.shape[0])) {
      throw new gb.UsageError(`--data ${path}: "y" must be [${x.shape[0]}] labels, got [${y.shape}]`);
    }
    return {
      x: x.data as Float32Array | Int32Array,
      y: y ? Int32Array.from(y.data as ArrayLike<number>) : undefined,
    };
  }
  if (profile.modality === "tokens") {
    // the held-out quotations of the collections the model tells apart, in its own vocabulary
    const collections: gb.TextCollection[] = [];
    for (const name of profile.classes) {
      let text: string;
      try {
        text = await Deno.readTextFile(`${fortunes}/${name}`);
      } catch {
        throw new gb.UsageError(`no fortune collection at ${fortunes}/${name}: pass --data or --fortunes`);
      }
      collections.push({ name, texts: gb.parseFortunes(text) });
    }
    const T = profile.inputShape[0];
    const data = gb.makeTextDataset(collections, { maxLen: T });
    const index = new Map(profile.vocabulary!.map((w, i) => [w, i]));
    const x = new Int32Array(data.test.count * T);
    data.test.words.forEach((words, i) => x.set(gb.encodeWords(words, index, T).ids, i * T));
    return { x, y: data.test.labels, texts: data.test.texts };
  }
  if (profile.modality === "image") {
    const test = gb.mnistDataset(await gb.loadMnist("test"));
    if (test.sampleShape.join() !== profile.inputShape.join()) {
      throw new gb.UsageError(
        `the model takes [${profile.inputShape}] inputs, not MNIST's [${test.sampleShape}]: pass --data`,
      );
    }
    return { x: test.x, y: test.y };
  }
  throw new gb.UsageError(`a ${profile.modality} model has no default data: pass --data`);
}

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) return console.log(HELP);
  const methods = flags.method!.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = methods.find((m) => !gb.PROJECTION_METHODS.includes(m as gb.ProjectionMethod));
  if (bad !== undefined || !methods.length) {
    throw new gb.UsageError(
      `--method takes ${gb.PROJECTION_METHODS.join(", ")}, got "${bad ?? flags.method}"`,
    );
  }
  if (flags.words && flags.layer !== undefined) {
    throw new gb.UsageError("--words projects the word embeddings; drop --layer");
  }
  if (flags.words && flags.data !== undefined) throw new gb.UsageError("--words needs no --data");
  const ckpt = flags.checkpoint!;
  if (!(await gb.fileExists(ckpt))) {
    throw new gb.UsageError(
      `no checkpoint at ${ckpt}: make one with \`deno task train --quick\` or pass --checkpoint`,
    );
  }
  const { model, profile: saved } = await gb.loadModel(ckpt);
  const profile = saved ?? gb.mnistProfile(); // a checkpoint from before profiles travelled: MNIST
  if (flags.words && profile.modality !== "tokens") {
    throw new gb.UsageError(
      `--words needs a text model; this checkpoint's model takes ${profile.modality} inputs`,
    );
  }
  if (flags.layer !== undefined) {
    try {
      model.get(flags.layer);
    } catch {
      const paths = model.namedModules().map(([p]) => p).filter(Boolean);
      throw new gb.UsageError(`--layer: no module "${flags.layer}"; the model has ${paths.join(", ")}`);
    }
  }
  const data = flags.words
    ? { x: new Float32Array(0) }
    : await readData(flags.data, profile, flags.fortunes!);
  const dir = ckpt.includes("/") ? ckpt.slice(0, ckpt.lastIndexOf("/")) : ".";
  const out = flags.out ?? `${dir}/projector`;
  const runEvents = `${dir}/tensorboard`;
  const logdir = flags.logdir ??
    ((await gb.fileExists(runEvents)) ? runEvents : `${out}/tensorboard`);
  const r = await gb.projectApp({ model, profile, ...data }, {
    what: flags.words ? "words" : "examples",
    layer: flags.layer,
    methods: methods as gb.ProjectionMethod[],
    dims: flags.dims as 2 | 3,
    n: flags.n,
    seed: flags.seed,
    log: (line) => console.log(line),
  });
  for (const f of r.files) {
    if (typeof f.data === "string") await gb.writeTextAtomic(`${out}/${f.name}`, f.data);
    else await gb.writeAtomic(`${out}/${f.name}`, f.data);
  }
  await gb.writeProjector(logdir, r.embeddings);
  console.log(gb.separationTable(r.rows, r.source.description, r.source.n));
  console.log(`wrote ${out}/ (${r.files.map((f) => f.name).join(", ")})`);
  console.log(`TensorBoard: tensorboard --logdir ${logdir} (Projector tab)`);
}

if (import.meta.main) await gb.runMain("project", main);
