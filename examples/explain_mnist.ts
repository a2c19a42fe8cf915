/**
 * `deno task explain`: why did the model predict that? Runs attribution methods of the method
 * registry on test examples of a checkpoint (by default the MNIST model of `deno task train` on
 * the MNIST test set) and writes the comparison grid, the attributions (safetensors), deletion
 * and insertion curves and a summary of the numbers. The work is src/apps/explain.ts; this file
 * parses flags, reads the data and writes the files.
 */
import * as gb from "../mod.ts";

const HELP = `deno task explain [options]
  --checkpoint F    a checkpoint from deno task train (default out/mnist/checkpoint.safetensors); its
                    explanation profile says the input's shape, the classes, the baseline and the CAM layer
  --data F          a safetensors file with "x" [N, ...input shape] in the model's input units and,
                    optionally, "y" [N] labels (default: the MNIST test set)
  --images LIST     example indices, e.g. 0,1,2 or 0-7 (default 0-7)
  --all             every example with the first method only, in bounded memory, with progress
  --first N         with --all: only the first N examples
  --shard i/n       with --all: compute shard i of n (rows ⌊iN/n⌋ to ⌊(i+1)N/n⌋) into its own file and manifest
  --shards n        with --all: n shards, this process's index from JOB_COMPLETION_INDEX (Kubernetes Indexed
                    Job) or SLURM_ARRAY_TASK_ID (Slurm array); with --merge: how many shards to join
  --merge           join the shards in --out into attributions.safetensors, identical to one --all run
  --methods LIST    comma-separated, from: \${METHODS}
                    (default: the profile's methods)
  --steps N         integration steps of ig (and of the other path methods) (default 64)
  --batch N         model inputs per internal batch (default: automatic)
  --out DIR         output directory (default out/explain)
  --visualize       also draw what each class looks like to the model (activation maximisation): classes.svg
  --help            this text

Writes comparison.svg (rows: examples with label and prediction; columns: methods), sanity.svg
(how the maps of Saliency and IG decorrelate as layers are randomised),
attributions.safetensors (one tensor per method), deletion.svg and insertion.svg
(the target's probability as the most important inputs are removed / inserted, against a random
order), and summary.json (deletion and insertion AUC per method, IG's completeness error).`;

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  data: { type: "string" },
  images: { type: "string", default: "0-7" },
  all: { type: "boolean" },
  first: { type: "int", min: 1 },
  shard: { type: "string" },
  shards: { type: "int", min: 1 },
  merge: { type: "boolean" },
  methods: { type: "string" },
  steps: { type: "int", min: 2, default: 64 },
  batch: { type: "int", min: 1 },
  out: { type: "string", default: "out/explain" },
  visualize: { type: "boolean" },
  help: { type: "boolean" },
} as const;

const registryNames = () => gb.attributionMethods().map((m) => m.name);

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
  return out;
}

function parseMethods(spec: string | undefined): string[] | undefined {
  if (spec === undefined) return undefined;
  const names = spec.split(",").map((s) => s.trim()).filter(Boolean);
  const known = registryNames();
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length || !names.length) {
    throw new gb.UsageError(
      `unknown method ${unknown.join(", ") || "(none given)"}; choose from ${known.join(", ")}`,
    );
  }
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new gb.UsageError(`--methods names ${twice} twice`);
  return names;
}

/** The examples: a --data file's "x" (and "y"), or the MNIST test set. */
async function readData(
  path: string | undefined,
  modality: gb.Modality,
): Promise<{ x: Float32Array; y?: Int32Array; shape: number[] }> {
  if (path === undefined) {
    const test = gb.mnistDataset(await gb.loadMnist("test"));
    return { x: test.x, y: test.y, shape: test.sampleShape };
  }
  const bytes = await gb.readFlagFile("data", path);
  const file = gb.decodeSafetensors(bytes, path);
  const x = file.tensors.get("x"), y = file.tensors.get("y");
  // F32 inputs (images, tabular rows), or I32 token ids for a token model
  if (!x || (x.dtype !== "F32" && x.dtype !== "I32") || x.shape.length < 2) {
    throw new gb.UsageError(
      `--data ${path}: needs a tensor "x" [N, ...input shape], F32 (or I32 token ids)${
        x ? `, got ${x.dtype} [${x.shape}]` : ""
      }`,
    );
  }
  if (x.dtype === "I32" && modality !== "tokens") {
    throw new gb.UsageError(
      `--data ${path}: "x" is I32 (token ids) but the model's inputs are ${modality}: give F32`,
    );
  }
  if (y && (y.shape.length !== 1 || y.shape[0] !== x.shape[0] || !Number.isInteger(y.data[0]))) {
    throw new gb.UsageError(
      `--data ${path}: "y" must be [${x.shape[0]}] integer labels, got ${y.dtype} [${y.shape}]`,
    );
  }
  return {
    // token ids below 2^24 are exact as float32; explainInputs turns them back into int32
    x: x.dtype === "F32" ? x.data as Float32Array : Float32Array.from(x.data as Int32Array),
    y: y ? Int32Array.from(y.data as ArrayLike<number>) : undefined,
    shape: x.shape.slice(1),
  };
}

async function writeFiles(out: string, files: gb.OutputFile[]): Promise<void> {
  for (const f of files) {
    if (typeof f.data === "string") await gb.writeTextAtomic(`${out}/${f.name}`, f.data);
    else await gb.writeAtomic(`${out}/${f.name}`, f.data);
  }
}

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(HELP.replace("${METHODS}", registryNames().join(", ")));
    return;
  }
  const names = parseMethods(flags.methods);
  const idx = flags.all || flags.merge ? [] : parseImages(flags.images!); // command-line mistakes first
  const shard = shardOf(flags); // --shard i/n, or --shards n with the index from the environment
  const ckpt = flags.checkpoint!;
  if (!(await gb.fileExists(ckpt))) {
    throw new Error(
      `no checkpoint at ${ckpt}: make one with \`deno task train\` (about 10 minutes) or \`deno task train --quick\` (20 seconds)`,
    );
  }
  const { model, profile: saved } = await gb.loadModel(ckpt);
  // a checkpoint from before profiles travelled with the model is the MNIST model
  const profile = saved ?? gb.mnistProfile();
  for (const name of names ?? []) {
    const m = gb.attributionMethod(name);
    if (!m.modalities.includes(profile.modality)) {
      throw new gb.UsageError(
        `--methods: ${name} does not suit this ${profile.modality} model (${m.modalities.join(", ")} only)`,
      );
    }
    if (m.needsLayer && profile.camLayer === undefined) {
      throw new gb.UsageError(`--methods: ${name} needs a layer, and the model's profile names no camLayer`);
    }
  }
  const data = await readData(flags.data, profile.modality);
  if (data.shape.join() !== profile.inputShape.join()) {
    // without --data this is a command-line mistake (exit 2); a --data file of another shape is not
    throw new (flags.data ? Error : gb.UsageError)(
      `the model takes [${profile.inputShape.join(", ")}] inputs but the ${
        flags.data ?? "MNIST test set"
      }'s examples are [${data.shape.join(", ")}]${flags.data ? "" : "; give --data"}`,
    );
  }
  const per = profile.inputShape.reduce((a, b) => a * b, 1), total = data.x.length / per;
  const bad = idx.find((i) => i >= total);
  if (bad !== undefined) {
    throw new gb.UsageError(`--images: the data has examples 0 to ${total - 1}, got ${bad}`);
  }
  const out = flags.out!;
  await Deno.mkdir(out, { recursive: true });
  const method = { steps: flags.steps!, internalBatchSize: flags.batch };
  if (flags.visualize) {
    const file = await gb.visualizeClasses(model, profile, {
      onClass: (c, K) => Deno.stdout.writeSync(new TextEncoder().encode(`\rvisualising class ${c}/${K}`)),
    });
    console.log();
    await writeFiles(out, [file]);
    console.log(`wrote ${out}/classes.svg`);
  }
  if (flags.all || flags.merge) {
    const name = (names ?? gb.defaultMethods(profile))[0];
    if (!data.y) throw new gb.UsageError(`--all explains the labels, and ${flags.data} has no "y"`);
    return await explainAll(model, profile, { x: data.x, y: data.y, total }, name, method, {
      out,
      ckpt,
      dataName: flags.data ?? "MNIST test set",
      flags,
      shard,
    });
  }
  const t0 = performance.now();
  const x = new Float32Array(idx.length * per);
  idx.forEach((k, i) => x.set(data.x.subarray(k * per, (k + 1) * per), i * per));
  const run = await gb.explainInputs(model, profile, {
    x,
    ids: idx,
    labels: data.y ? idx.map((k) => data.y![k]) : undefined,
  }, {
    methods: names,
    method,
    modelName: flags.data ? "the model" : "the MNIST model",
    about: { checkpoint: ckpt },
    log: (line) => console.log(line),
  });
  await writeFiles(out, run.files);
  console.log(
    `${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${out}/${
      run.files.map((f) => f.name).join(", ")
    }`,
  );
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
 * One method over every example (or the first --first) in chunks, with progress, in bounded memory
 * (src/apps/shard.ts): in one process, as shard i of n (its own file and manifest), or --merge: the
 * shards joined into the file one process writes, byte for byte.
 */
async function explainAll(
  model: gb.Module,
  profile: gb.ExplanationProfile,
  data: { x: Float32Array; y: Int32Array; total: number },
  name: string,
  method: gb.MethodOptions,
  where: {
    out: string;
    ckpt: string;
    dataName: string;
    flags: gb.Flags<typeof FLAGS>;
    shard: gb.ShardSpec | null;
  },
): Promise<void> {
  const { out, ckpt, flags, shard } = where;
  const N = flags.first ?? data.total, store = gb.directoryStore(out);
  if (N > data.total) throw new gb.UsageError(`--first ${N}: the data has ${data.total} examples`);
  const shape = profile.inputShape, per = shape.reduce((a, b) => a * b, 1);
  const job: gb.AttributionJob = {
    method: name,
    options: { steps: method.steps, batch: method.internalBatchSize },
    model: await gb.sha256Hex(await Deno.readFile(ckpt)),
    data: await gb.dataIdentity(where.dataName, data.x.subarray(0, N * per), data.y.subarray(0, N)),
    total: N,
    shape,
    metadata: { producer: "glassbox", images: `0-${N - 1}`, targets: "labels" },
  };
  const attribute = gb.attributionOfRows(model, profile, { x: data.x, labels: data.y }, name, method);
  const label = gb.attributionMethod(name).label;
  const tty = Deno.stdout.isTerminal(), t0 = performance.now();
  let calls = 0;
  const onProgress = (done: number, total: number) => {
    const line = gb.progressLine(label, done, total, (performance.now() - t0) / 1000, shard);
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
