/**
 * The command line as a person meets it: flags with negative numbers, -h and --help, one plain
 * line and exit code 2 for a mistake in every task, and a clear error for a file that is not
 * safetensors.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";

const SPEC = {
  shift: { type: "number" },
  n: { type: "int" },
  k: { type: "int", min: 1, max: 10 },
  out: { type: "string", default: "out/x" },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

Deno.test("parseFlags: negative numbers are values, not flags", () => {
  const { flags, positionals } = gb.parseFlags(["--shift", "-0.5", "--n", "-3", "--out", "-"], SPEC);
  assert.equal(flags.shift, -0.5);
  assert.equal(flags.n, -3);
  assert.equal(flags.out, "-");
  assert.deepEqual(positionals, []);
  assert.equal(gb.parseFlags(["--shift=-1e-3"], SPEC).flags.shift, -0.001);
  assert.equal(gb.parseFlags(["--shift", "-.25"], SPEC).flags.shift, -0.25);
  assert.deepEqual(gb.parseFlags(["-7", "--quick"], SPEC, { positionals: [0, 1] }).positionals, ["-7"]);
  assert.deepEqual(gb.parseFlags(["--", "--quick"], SPEC, { positionals: [0, 1] }).positionals, ["--quick"]);
});

Deno.test("parseFlags: -h and --help win over every other mistake", () => {
  for (const args of [["-h"], ["--help"], ["--bogus", "-h"], ["--k", "99", "--help"], ["extra", "-h"]]) {
    const { flags } = gb.parseFlags(args, SPEC);
    assert.equal(flags.help, true, args.join(" "));
    assert.equal(flags.out, "out/x", "the defaults");
  }
  // after --, -h is an argument
  assert.throws(() => gb.parseFlags(["--", "-h"], SPEC), /unexpected argument "-h"/);
});

Deno.test("parseFlags: each mistake names the flag and the value", () => {
  const cases: [string[], RegExp][] = [
    [["--out"], /^--out needs a value$/],
    [["--out", "--quick"], /^--out needs a value$/],
    [["--shift", "-x"], /^--shift needs a value$/],
    [["--shift", "abc"], /^--shift takes a number, got "abc"$/],
    [["--n", "-1.5"], /^--n takes a whole number, got "-1\.5"$/],
    [["--k", "0"], /^--k must be at least 1, got 0$/],
    [["--k", "11"], /^--k must be at most 10, got 11$/],
    [["--quick=yes"], /^--quick takes no value, got "yes"$/],
    [["--bogus"], /^unknown flag --bogus$/],
    [["-x"], /^unknown flag -x$/],
    [["--n", "1", "--n", "2"], /^--n is given twice$/],
    [["stray"], /^unexpected argument "stray"$/],
  ];
  for (const [args, re] of cases) {
    assert.throws(() => gb.parseFlags(args, SPEC), (e: Error) => {
      assert.ok(e instanceof gb.UsageError, `${args.join(" ")}: a UsageError`);
      assert.match(e.message, re, args.join(" "));
      return true;
    });
  }
});

Deno.test("a file that is not safetensors says so, with its size and first bytes", async () => {
  const text = new TextEncoder().encode("hello, this is a text file and not a checkpoint\n");
  assert.throws(
    () => gb.decodeSafetensors(text, "notes.txt"),
    new RegExp(
      `^Error: notes\\.txt is not a safetensors file: its first 8 bytes read as a header length of \\d+ bytes, ` +
        `impossible in a file of ${text.length} bytes, and no JSON header follows; it starts with "hello, this is a"$`,
    ),
  );
  const png = new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    0,
    0,
    0,
    13,
    73,
    72,
    68,
    82,
    0,
    0,
  ]);
  assert.throws(
    () => gb.decodeSafetensors(png, "x.png"),
    /x\.png is not a safetensors file.*89 50 4e 47 0d 0a 1a 0a/,
  );
  // a real file cut inside its header is truncated, not "not safetensors"
  const real = gb.encodeSafetensors([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]);
  assert.throws(
    () => gb.decodeSafetensors(real.subarray(0, 20), "cut"),
    /^Error: cut: header length \d+ runs past the end of the file \(20 bytes\): the file is truncated$/,
  );
  // and through a task: one line, exit 1, naming the file
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/model.safetensors`, "this is not a model at all, just words\n");
  const r = await task("explain", "--checkpoint", `${dir}/model.safetensors`, "--out", dir);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, new RegExp(`^error: .*${dir}/model\\.safetensors is not a safetensors file`));
  assert.equal(r.err.trim().split("\n").length, 1, r.err);
  await Deno.remove(dir, { recursive: true });
});

/**
 * Runs `deno task <name> ...` without a terminal; stderr without deno task's own "Task …" line.
 * XDG_RUNTIME_DIR is unset, as on a fresh login: a task that reaches Mesa must set it itself
 * (src/io/env.ts, given --allow-env=XDG_RUNTIME_DIR), else Mesa complains on stderr.
 */
async function task(name: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return await taskWith({}, name, ...args);
}

/** `task` with extra environment variables. */
async function taskWith(
  extra: Record<string, string>,
  name: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const env = { ...Deno.env.toObject(), ...extra };
  delete env.XDG_RUNTIME_DIR;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { ...env, NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const TASKS = Object.keys(JSON.parse(await Deno.readTextFile("deno.json")).tasks as Record<string, string>);

Deno.test("every task: --help and -h print its usage and exit 0 without starting work", async () => {
  for (const name of TASKS) {
    for (const h of ["--help", "-h"]) {
      const t0 = performance.now();
      const r = await task(name, h);
      assert.equal(r.code, 0, `${name} ${h}: ${r.err}`);
      const usage = name === "test" ? /Usage: deno test/ : new RegExp(`^deno task ${name}\\b`);
      assert.match(r.out, usage, `${name} ${h} prints its usage`);
      assert.equal(r.err, "", `${name} ${h}: nothing on stderr`);
      assert.ok(performance.now() - t0 < 30_000, `${name} ${h} returns at once`);
    }
  }
});

Deno.test("every task but test: a flag mistake is one plain line, exit code 2", async () => {
  for (const name of TASKS.filter((t) => t !== "test")) {
    const r = await task(name, "--bogus-flag");
    assert.equal(r.code, 2, `${name}: ${r.err}`);
    assert.equal(
      r.err,
      `error: unknown flag --bogus-flag (deno task ${name} --help lists the options)\n`,
      name,
    );
  }
  // deno task bundle --out naming a folder: one line, exit 2, nothing written beside it
  const folder = await Deno.makeTempDir();
  try {
    const b = await task("bundle", "--out", folder);
    assert.equal(b.code, 2, b.err);
    assert.equal(
      b.err,
      `error: --out ${folder} is a folder; give a file name (such as ${folder}/glassbox.js) (deno task bundle --help lists the options)\n`,
    );
    assert.ok(!(await gb.fileExists(`${folder}.tmp`)), "no temporary file left beside the folder");
    assert.deepEqual([...Deno.readDirSync(folder)], []);
  } finally {
    await Deno.remove(folder, { recursive: true });
    await Deno.remove(`${folder}.tmp`).catch(() => {});
  }
  // a negative number reaches the flag's own check instead of "ambiguous"
  const lr = await task("train", "--lr", "-0.1");
  assert.equal(lr.code, 2);
  assert.equal(lr.err, "error: --lr must be positive, got -0.1 (deno task train --help lists the options)\n");
  // a count beyond the data is checked against the data the checkpoint's profile selects (MNIST's here)
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = `${dir}/cnn.safetensors`;
    await gb.saveModel(gb.createModel("seed-cnn"), ckpt, {}, { profile: gb.mnistProfile() });
    const ti = await task("compress", "--checkpoint", ckpt, "--test-images", "20000", "--out", `${dir}/c`);
    assert.equal(ti.code, 2, ti.err);
    assert.equal(
      ti.err,
      "error: --test-images must be at most 10000 (the test set's size), got 20000 (deno task compress --help lists the options)\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad GLASSBOX_FUSION or GLASSBOX_KERNELS is one plain line, exit code 2 (not an import error)", async () => {
  const k = await taskWith({ GLASSBOX_KERNELS: "bogus" }, "train", "--help");
  assert.equal(k.code, 2, k.err);
  assert.equal(k.err, 'error: GLASSBOX_KERNELS must be cpu, gpu or auto, got "bogus"\n');
  assert.equal(k.out, "", "no usage: the mistake is reported first");
  const f = await taskWith({ GLASSBOX_FUSION: "yes" }, "explain", "--images", "0");
  assert.equal(f.code, 2, f.err);
  assert.equal(f.err, 'error: GLASSBOX_FUSION must be 0 or 1, got "yes"\n');
  // a library importing glassbox imports; the first GPU use throws; configureGpu clears the mistake
  const lib = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import * as gb from "${new URL("../mod.ts", import.meta.url).href}";
      let message = "";
      try { gb.tensor([1]); } catch (e) { message = e.message; }
      gb.configureGpu({ kernels: "cpu" });
      console.log(message + "|" + (await gb.tensor([1, 2]).add(1).toArray()).join(","));`,
    ],
    env: { GLASSBOX_KERNELS: "GPU", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(lib.code, 0, dec.decode(lib.stderr));
  assert.equal(dec.decode(lib.stdout), 'GLASSBOX_KERNELS must be cpu, gpu or auto, got "GPU"|2,3\n');
});

/** Runs tests/slow_save.ts, sends SIGINT once it prints `when`; returns the exit and what it printed. */
async function interruptSave(args: string[], when: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-write", "tests/slow_save.ts", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!text.includes(when)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const t0 = performance.now();
  child.kill("SIGINT");
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
  const status = await child.status;
  await child.stderr.cancel();
  return { code: status.code, ms: performance.now() - t0, text };
}

Deno.test("Ctrl-C under runMain: exit 130 at once when idle; during a save, right after it, never half a file", async () => {
  const idle = await interruptSave(["idle"], "idle");
  assert.equal(idle.code, 130);
  assert.ok(idle.ms < 2000, `idle: exits ${idle.ms.toFixed(0)} ms after Ctrl-C`);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.bin`;
  const r = await interruptSave(["save", path], "writing");
  assert.equal(r.code, 130, r.text);
  assert.doesNotMatch(r.text, /saved/, "the script stopped after the save, before going on");
  assert.equal((await Deno.stat(path)).size, 16 << 20, "the save in progress was completed");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["big.bin"], "no temporary file");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a data file a flag names that is not there is one plain line naming the flag, exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ckpt = `${dir}/cnn.safetensors`, gone = `${dir}/gone.safetensors`;
    await gb.saveModel(gb.createModel("seed-cnn"), ckpt, {}, { profile: gb.mnistProfile() });
    const cases: [string, string, string[]][] = [
      ["explain", "data", ["--checkpoint", ckpt, "--data", gone, "--out", `${dir}/e`]],
      ["report", "data", [dir, "--checkpoint", ckpt, "--data", gone, "--out", `${dir}/r.html`]],
      ["compress", "train", ["--checkpoint", ckpt, "--train", gone, "--test", gone, "--out", `${dir}/c`]],
      ["serve", "examples", ["--checkpoint", ckpt, "--examples", gone, "--port", "0"]],
    ];
    for (const [name, flag, args] of cases) {
      const r = await task(name, ...args);
      assert.equal(r.code, 2, `${name}: ${r.err}`);
      const lines = r.err.trim().split("\n");
      assert.equal(lines.length, 1, `${name}: ${r.err}`);
      assert.equal(
        lines[0],
        `error: --${flag}: no file at ${gone} (deno task ${name} --help lists the options)`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
