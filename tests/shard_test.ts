/**
 * A whole data set across processes: shard bounds, merge == one run bit for bit (through the real
 * CLI on a small model and 32 MNIST test images, and through the library with 12 shards), and a
 * missing, unfinished, foreign or damaged shard refused by name.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

const sha256 = async (bytes: Uint8Array) =>
  Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");

/** `deno task explain`'s command line from deno.json: its permissions are the task's (the env names included). */
const TASK = (JSON.parse(await Deno.readTextFile("deno.json")).tasks.explain as string).split(" ");

/** Runs `deno task explain` with the shard variables set (or empty). */
async function explain(args: string[], env: Record<string, string> = {}) {
  assert.equal(TASK[0], "deno");
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...TASK.slice(1), ...args],
    env: { JOB_COMPLETION_INDEX: "", SLURM_ARRAY_TASK_ID: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout), err: new TextDecoder().decode(r.stderr) };
}

Deno.test("shard i of n holds rows ⌊iN/n⌋ to ⌊(i+1)N/n⌋: the shards tile [0, N) in order, sizes within one", () => {
  assert.deepEqual(
    [0, 1, 2].map((index) => gb.shardRange(10, { index, count: 3 })),
    [{ start: 0, end: 3 }, { start: 3, end: 6 }, { start: 6, end: 10 }],
  );
  assert.deepEqual(gb.shardRange(10000, { index: 3, count: 7 }), { start: 4285, end: 5714 });
  for (const N of [0, 1, 5, 63, 64, 100, 9999, 10000]) {
    for (const n of [1, 2, 3, 4, 7, 11, 12, 64, 100]) {
      let pos = 0;
      for (let i = 0; i < n; i++) {
        const { start, end } = gb.shardRange(N, { index: i, count: n });
        assert.equal(start, pos, `N=${N} n=${n} shard ${i} starts where shard ${i - 1} ended`);
        assert.ok(
          end - start === Math.floor(N / n) || end - start === Math.ceil(N / n),
          `N=${N} n=${n} i=${i}`,
        );
        pos = end;
      }
      assert.equal(pos, N, `N=${N} n=${n}: the last shard ends at N`);
    }
  }
  assert.throws(() => gb.shardRange(10, { index: 3, count: 3 }), /shard 3\/3 does not exist/);
});

Deno.test("which shard: --shard i/n, or --shards n with JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID; bad values named", () => {
  const none = () => undefined;
  assert.deepEqual(gb.resolveShard({ shard: "3/8", env: none }), { index: 3, count: 8 });
  assert.equal(
    gb.resolveShard({ env: () => "2" }),
    null,
    "no flag: one unsharded run, the environment unread",
  );
  const k8s = (
    n: string,
  ) => (n === "JOB_COMPLETION_INDEX" ? "2" : n === "SLURM_ARRAY_TASK_ID" ? "1" : undefined);
  assert.deepEqual(gb.resolveShard({ shards: 4, env: k8s }), { index: 2, count: 4 });
  const slurm = (n: string) => (n === "SLURM_ARRAY_TASK_ID" ? "0" : undefined);
  assert.deepEqual(gb.resolveShard({ shards: 4, env: slurm }), { index: 0, count: 4 });
  const bad: [Parameters<typeof gb.resolveShard>[0], RegExp][] = [
    [{ shard: "4/4", env: none }, /^--shard 4\/4: 4 shards are numbered 0 to 3$/],
    [{ shard: "0/0", env: none }, /^--shard 0\/0: there must be at least one shard$/],
    [{ shard: "3/x", env: none }, /^--shard takes i\/n .*got "3\/x"$/],
    [{ shard: "-1/4", env: none }, /got "-1\/4"/],
    [{ shard: "1/4", shards: 3, env: none }, /--shard 1\/4 says 4 shards but --shards says 3/],
    [{ shards: 0, env: none }, /--shards must be a whole number of at least 1, got 0/],
    [
      { shards: 4, env: none },
      /--shards 4 needs this process's shard index: --shard i\/4, or JOB_COMPLETION_INDEX/,
    ],
    [{ shards: 4, env: () => "x" }, /JOB_COMPLETION_INDEX is "x", not a shard index/],
    [{ shards: 4, env: (n) => (n === "SLURM_ARRAY_TASK_ID" ? "4" : undefined) }, /sbatch --array=0-3/],
  ];
  for (const [o, re] of bad) {
    assert.throws(() => gb.resolveShard(o), (e: Error) => e instanceof gb.UsageError && re.test(e.message));
  }
});

const JOB: gb.AttributionJob = {
  method: "toy",
  options: { steps: 4 },
  model: "a".repeat(64),
  data: { name: "toy rows", sha256: "b".repeat(64) },
  total: 64,
  shape: [2, 3],
  metadata: { producer: "glassbox", images: "0-63", targets: "labels" },
};
/** A planted attribution: row r's six values are r + k/8 (exact in float32), and a per-row number r/2. */
const toy: gb.RowAttribution = (s, e) =>
  Promise.resolve({
    attributions: Float32Array.from({ length: 6 * (e - s) }, (_, j) => s + Math.floor(j / 6) + (j % 6) / 8),
    perRow: { half: Float32Array.from({ length: e - s }, (_, k) => (s + k) / 2) },
  });

Deno.test("12 shards merged (files on disk) are the bytes of one run, whatever order they finished in", async () => {
  const dir = await Deno.makeTempDir();
  const store = gb.directoryStore(dir);
  const order = [11, 2, 10, 0, 1, 5, 3, 9, 4, 8, 7, 6]; // finishing order: "10" and "11" before "2" by name
  for (const index of order) await gb.runShard(store, JOB, { index, count: 12 }, toy, { chunk: 2 });
  const merged = await gb.mergeShards(store, JOB);
  const single = gb.attributionsFile(JOB, (await toy(0, 64)).attributions);
  assert.equal(merged.manifests.length, 12);
  assert.equal(await sha256(merged.bytes), await sha256(single));
  assert.deepEqual(merged.bytes, single);
  // the planted truth, read back independently of the encoder
  const file = gb.decodeSafetensors(merged.bytes);
  assert.deepEqual([...file.tensors.keys()], ["toy"]);
  assert.deepEqual(file.tensors.get("toy")!.shape, [64, 2, 3]);
  assert.deepEqual(file.metadata, JOB.metadata);
  const v = file.tensors.get("toy")!.data;
  for (let r = 0; r < 64; r++) for (let k = 0; k < 6; k++) assert.equal(v[r * 6 + k], r + k / 8);
  assert.deepEqual(Array.from(merged.perRow.half), Array.from({ length: 64 }, (_, r) => r / 2));
  // more shards than rows: empty shards merge too
  const few = { ...JOB, total: 5 };
  const small = gb.memoryStore();
  for (let index = 0; index < 8; index++) await gb.runShard(small, few, { index, count: 8 }, toy);
  assert.deepEqual(
    (await gb.mergeShards(small, few)).bytes,
    gb.attributionsFile(few, (await toy(0, 5)).attributions),
  );
});

Deno.test("merge refuses a missing, unfinished, foreign or damaged shard by name; a re-run touches only its own files", async () => {
  const fresh = async () => {
    const store = gb.memoryStore();
    for (let index = 0; index < 4; index++) await gb.runShard(store, JOB, { index, count: 4 }, toy);
    return store;
  };
  const refused = async (store: gb.ShardStore, re: RegExp) =>
    await assert.rejects(gb.mergeShards(store, JOB), (e: Error) => (assert.match(e.message, re), true));

  let store = await fresh();
  store.files.delete("attributions.shard-2-of-4.json");
  store.files.delete("attributions.shard-3-of-4.json");
  await refused(store, /shards 2\/4 \(attributions\.shard-2-of-4\.json\), 3\/4 .* are missing/);

  store = await fresh();
  store.files.delete("attributions.shard-1-of-4.safetensors");
  await refused(store, /shard 1\/4: its file attributions\.shard-1-of-4\.safetensors is missing/);

  store = await fresh();
  const f = store.files.get("attributions.shard-3-of-4.safetensors")!;
  store.files.set("attributions.shard-3-of-4.safetensors", f.subarray(0, f.length - 100));
  await refused(store, /shard 3\/4: its file attributions\.shard-3-of-4\.safetensors is truncated/);

  store = await fresh();
  const g = store.files.get("attributions.shard-0-of-4.safetensors")!.slice();
  g[g.length - 1] ^= 1; // one bit of one value changed, same length
  store.files.set("attributions.shard-0-of-4.safetensors", g);
  await refused(store, /shard 0\/4: its file .* is not the one its manifest describes/);

  store = await fresh();
  await gb.runShard(store, { ...JOB, model: "c".repeat(64) }, { index: 2, count: 4 }, toy);
  await refused(
    store,
    /shard 2\/4 \(attributions\.shard-2-of-4\.json\) was made with another model checkpoint/,
  );

  store = await fresh();
  await gb.runShard(store, { ...JOB, options: { steps: 8 } }, { index: 1, count: 4 }, toy);
  await refused(
    store,
    /shard 1\/4 .* was made with other options: \{"steps":8\}, but this merge is for \{"steps":4\}/,
  );

  store = await fresh();
  await gb.runShard(store, { ...JOB, data: { name: "toy rows", sha256: "d".repeat(64) } }, {
    index: 0,
    count: 4,
  }, toy);
  await refused(store, /shard 0\/4 .* other data/);

  // a shard that fails part-way leaves its manifest saying done: false
  store = await fresh();
  const before = new Map([...store.files].map(([k, v]) => [k, v.slice()]));
  const failing: gb.RowAttribution = (
    s,
    e,
  ) => (s >= 40 ? Promise.reject(new Error("device lost")) : toy(s, e));
  await assert.rejects(gb.runShard(store, JOB, { index: 2, count: 4 }, failing, { chunk: 4 }), /device lost/);
  await refused(store, /shard 2\/4 did not finish .*done: false.*re-run it with --shard 2\/4/);
  // re-run alone: only its two files change, and the merge is whole again
  await gb.runShard(store, JOB, { index: 2, count: 4 }, toy);
  for (const [k, v] of before) {
    if (k !== "attributions.shard-2-of-4.json") assert.deepEqual(store.files.get(k), v, k); // its time differs
  }
  assert.deepEqual([...store.files.keys()].sort(), [...before.keys()].sort());
  assert.deepEqual(
    (await gb.mergeShards(store, JOB)).bytes,
    gb.attributionsFile(JOB, (await toy(0, 64)).attributions),
  );

  // shards of two different splits present: say which
  store = await fresh();
  await gb.runShard(store, JOB, { index: 0, count: 3 }, toy);
  await assert.rejects(gb.mergeShards(store, JOB), /manifests for 3 and 4 shards are both present/);
  assert.equal((await gb.mergeShards(store, JOB, { count: 4 })).manifests.length, 4);
  await assert.rejects(gb.mergeShards(gb.memoryStore(), JOB), /no shard manifests/);
});

Deno.test("deno task explain --all: 4 shard processes (--shard, JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID) + --merge == one process, bit for bit", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(3);
  const ckpt = `${dir}/c.safetensors`;
  await gb.saveModel(gb.createModel("seed-cnn"), ckpt);
  const common = ["--methods", "saliency", "--first", "32"];
  const one = await explain(["--all", "--checkpoint", ckpt, ...common, "--out", `${dir}/one`]);
  assert.equal(one.code, 0, one.err);
  const sh = `${dir}/sharded`;
  // one after another: on 2 cores, lavapipe's threads in parallel processes only fight over the same cores
  const ways: [string[], Record<string, string>][] = [
    [["--shard", "0/4"], {}],
    [["--shards", "4"], { JOB_COMPLETION_INDEX: "1" }],
    [["--shards", "4"], { SLURM_ARRAY_TASK_ID: "2" }],
    [["--shard", "3/4"], {}],
  ];
  for (const [i, [args, env]] of ways.entries()) {
    const r = await explain(["--all", "--checkpoint", ckpt, ...common, ...args, "--out", sh], env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`Saliency, shard ${i}/4: 8/8 examples`), "progress per shard");
  }
  const big = await explain([
    "--all",
    "--checkpoint",
    ckpt,
    "--first",
    "10001",
    "--shard",
    "0/4",
    "--out",
    sh,
  ]);
  assert.equal(big.code, 2, big.err);
  assert.match(big.err, /^error: --first 10001: the data has 10000 examples/);
  const merge = await explain(["--merge", "--checkpoint", ckpt, ...common, "--out", sh]);
  assert.equal(merge.code, 0, merge.err);
  assert.match(merge.out, /merged 4 shards/);
  const single = await Deno.readFile(`${dir}/one/attributions.safetensors`);
  const merged = await Deno.readFile(`${sh}/attributions.safetensors`);
  assert.equal(await sha256(merged), await sha256(single));
  assert.deepEqual(merged, single);

  // the file is the format --all always wrote, and its values are Saliency's on the 32 images at once
  const file = gb.decodeSafetensors(merged);
  assert.deepEqual(file.metadata, { producer: "glassbox", images: "0-31", targets: "labels" });
  assert.deepEqual(file.tensors.get("saliency")!.shape, [32, 1, 28, 28]);
  const test = gb.mnistDataset(await gb.loadMnist("test"));
  const { model } = await gb.loadModel(ckpt);
  model.eval();
  const direct = await gb.scope(async () =>
    await (await new gb.Saliency(model).attribute(gb.tensor(test.x.subarray(0, 32 * 784), [32, 1, 28, 28]), {
      target: Array.from(test.y.subarray(0, 32)),
    })).toArray()
  );
  assert.deepEqual(file.tensors.get("saliency")!.data, direct);

  // each manifest says what it was made from
  const m = JSON.parse(await Deno.readTextFile(`${sh}/attributions.shard-2-of-4.json`));
  assert.deepEqual([m.method, m.total, m.count, m.index, m.rows, m.done], [
    "saliency",
    32,
    4,
    2,
    [16, 24],
    true,
  ]);
  assert.equal(m.model, await sha256(await Deno.readFile(ckpt)));
  assert.equal(m.sha256, await sha256(await Deno.readFile(`${sh}/attributions.shard-2-of-4.safetensors`)));

  // refusals through the CLI: one line, exit 1, the shard named
  const refuse = async (re: RegExp, checkpoint = ckpt) => {
    const r = await explain(["--merge", "--checkpoint", checkpoint, ...common, "--out", sh]);
    assert.equal(r.code, 1, r.out);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, re);
  };
  // shard 1 as made from another checkpoint: its manifest names that checkpoint's sha256
  const other = `${dir}/other.safetensors`;
  gb.manualSeed(4);
  await gb.saveModel(gb.createModel("seed-cnn"), other);
  const manifest1 = `${sh}/attributions.shard-1-of-4.json`, own = await Deno.readTextFile(manifest1);
  await Deno.writeTextFile(
    manifest1,
    JSON.stringify({ ...JSON.parse(own), model: await sha256(await Deno.readFile(other)) }),
  );
  await refuse(
    /^error: merge: shard 1\/4 \(.*attributions\.shard-1-of-4\.json\) was made with another model/,
  );
  // merging for the other checkpoint refuses the shards made from this one, naming the first
  await refuse(/^error: merge: shard 0\/4 \(.*\) was made with another model checkpoint/, other);
  // shard 1's own manifest back: the merge is whole again, the same bytes
  await Deno.writeTextFile(manifest1, own);
  assert.equal((await explain(["--merge", "--checkpoint", ckpt, ...common, "--out", sh])).code, 0);
  assert.deepEqual(await Deno.readFile(`${sh}/attributions.safetensors`), single);
  const truncated = `${sh}/attributions.shard-1-of-4.safetensors`;
  const bytes = await Deno.readFile(truncated);
  await Deno.writeFile(truncated, bytes.subarray(0, 5000));
  await refuse(/^error: merge: shard 1\/4: its file .*attributions\.shard-1-of-4\.safetensors is truncated/);
  await Deno.remove(manifest1);
  await refuse(/^error: merge: shard 1\/4 \(.*attributions\.shard-1-of-4\.json\) is missing/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task explain: bad shard values are one plain line, exit 2", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ["--all", "--shard", "4/4"],
      {},
      /^error: --shard 4\/4: 4 shards are numbered 0 to 3 \(deno task explain/,
    ],
    [["--all", "--shard", "0/0"], {}, /^error: --shard 0\/0: there must be at least one shard/],
    [["--all", "--shard", "3/x"], {}, /^error: --shard takes i\/n/],
    [["--all", "--shards", "0"], {}, /^error: --shards must be at least 1, got 0/],
    [["--all", "--shards", "4"], { JOB_COMPLETION_INDEX: "x" }, /^error: JOB_COMPLETION_INDEX is "x"/],
    [
      ["--all", "--shards", "4"],
      { SLURM_ARRAY_TASK_ID: "4" },
      /^error: SLURM_ARRAY_TASK_ID=4 but --shards 4/,
    ],
    [["--all", "--shards", "4"], {}, /^error: --shards 4 needs this process's shard index/],
    [["--shard", "1/4"], {}, /^error: --shard, --shards and --first work with --all/],
    [["--merge", "--shard", "1/4"], {}, /^error: --merge joins the shards; drop --shard/],
  ];
  for (const [args, env, re] of cases) {
    const r = await explain([...args, "--checkpoint", "/nonexistent/c.safetensors"], env);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, re);
  }
});

/** The `args:` list of a container in a Kubernetes manifest (plain `- value` lines; quotes removed). */
function containerArgs(yaml: string): string[] {
  const lines = yaml.split("\n");
  const at = lines.findIndex((l) => /^\s+args:\s*$/.test(l));
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^\s+- (.*)$/.exec(l);
    if (!m) break;
    out.push(m[1].trim().replace(/^"(.*)"$/, "$1"));
  }
  return out;
}

Deno.test("deploy/k8s-explain-job.yaml: an Indexed Job with completions = parallelism = --shards, whose command the CLI accepts", async () => {
  const job = await Deno.readTextFile("deploy/k8s-explain-job.yaml");
  const merge = await Deno.readTextFile("deploy/k8s-explain-merge.yaml");
  assert.match(job, /^\s+completionMode: Indexed$/m);
  const n = Number(/^\s+completions: (\d+)$/m.exec(job)![1]);
  assert.equal(Number(/^\s+parallelism: (\d+)$/m.exec(job)![1]), n);
  const args = containerArgs(job), margs = containerArgs(merge);
  assert.equal(args[args.indexOf("--shards") + 1], String(n));
  assert.equal(margs[margs.indexOf("--shards") + 1], String(n));
  assert.ok(args.includes("--all") && margs.includes("--merge"));
  // the same options in both, and the volume both mount
  const options = (a: string[]) => a.filter((x) => x !== "--all" && x !== "--merge");
  assert.deepEqual(options(args), options(margs));
  for (const y of [job, merge]) assert.match(y, /claimName: glassbox-shared/);
  // the flags are the CLI's: the last pod's command gets as far as looking for the checkpoint
  const r = await explain(args, { JOB_COMPLETION_INDEX: String(n - 1) });
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /^error: no checkpoint at \/shared\/checkpoint\.safetensors/);
  const m = await explain(margs);
  assert.equal(m.code, 1, m.err);
  assert.match(m.err, /^error: no checkpoint at \/shared\/checkpoint\.safetensors/);
});
