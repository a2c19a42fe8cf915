/**
 * What a person at a terminal meets: every task runs in a pseudo-terminal with stdin open (so a
 * permission prompt would wait for an answer) and must never ask; Ctrl-C gives the prompt back
 * only when nothing in the run directory will change any more, under the real deno binary and
 * under the npm package's node wrapper (bin.cjs), which exits at once on Ctrl-C.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { PROMPT, pty } from "./pty.ts";
import { checkQuickTrainRun, checkVaeQuickRun } from "./run_checks.ts";

const TASKS = JSON.parse(await Deno.readTextFile("deno.json")).tasks as Record<string, string>;
const DENO = JSON.stringify(Deno.execPath());

Deno.test("every deno run / deno test in deno.json's tasks has --no-prompt", () => {
  for (const [name, cmd] of Object.entries(TASKS)) {
    for (const part of cmd.split(/&&|\|\||;/)) {
      if (/^\s*deno (run|test)\b/.test(part)) assert.match(part, / --no-prompt\b/, `task ${name}: ${part}`);
    }
  }
});

/** Runs `deno task <args>` in a terminal; fails on a prompt, a timeout or a non-zero exit. */
async function inTerminal(args: string, seconds: number): Promise<string> {
  const r = pty(`${DENO} task ${args}`);
  const { code, prompted } = await r.finish(seconds * 1000);
  assert.equal(prompted, null, `deno task ${args} asked: ${prompted}`);
  assert.notEqual(
    code,
    null,
    `deno task ${args} did not end within ${seconds} s:\n${r.output().slice(-500)}`,
  );
  assert.equal(code, 0, `deno task ${args}: exit ${code}\n${r.output().slice(-800)}`);
  return r.output();
}

Deno.test("no task prompts in a terminal: --help of every task", async () => {
  for (const name of Object.keys(TASKS)) {
    const out = await inTerminal(`${name} --help`, 30);
    assert.match(out, name === "test" ? /Usage: deno test/ : new RegExp(`deno task ${name}\\b`));
  }
});

Deno.test("no task prompts in a terminal: a quick run of every task that has one; the train and VAE quick runs leave what train_test and autoencoder_test check", async () => {
  const dir = await Deno.makeTempDir();
  const ckpt = `${dir}/mnist/checkpoint.safetensors`;
  const t0 = performance.now();
  const out = await inTerminal(`train --quick --out ${dir}/mnist`, 120);
  assert.match(out, /test accuracy \d+\.\d+% on 1000 images/);
  // the event file is named as TensorBoard's writers name theirs, with this machine's name
  const events = [...Deno.readDirSync(`${dir}/mnist/tensorboard`)].map((e) => e.name);
  const host = new TextDecoder().decode(new Deno.Command("uname", { args: ["-n"] }).outputSync().stdout)
    .trim();
  assert.deepEqual(events.map((n) => n.split(".")[4]), [host]);
  // history, metrics, and a checkpoint that reproduces the test accuracy exactly (train_test's check)
  await checkQuickTrainRun(`${dir}/mnist`);
  await inTerminal(`inspect ${dir}/mnist`, 60);
  await inTerminal(`explain --checkpoint ${ckpt} --images 0 --methods saliency --out ${dir}/explain`, 60);
  await inTerminal(`reverse --steps 10 --out ${dir}/reverse`, 60);
  await inTerminal(`memory --steps 5 --delay 5 --out ${dir}/memory`, 60);
  await inTerminal(
    `compress --checkpoint ${ckpt} --out ${dir}/compress --quick --steps 1 --distill-images 64 ` +
      `--distill-epochs 1 --test-images 100 --explain 1`,
    120,
  );
  // the nearest training examples (60,000 representations) are report_test's and report_any_test's
  await inTerminal(
    `report ${dir}/mnist --out ${dir}/report.html --compress ${dir}/compress --neighbours 0`,
    120,
  );
  await inTerminal(`project --checkpoint ${ckpt} --n 300 --method pca,umap --out ${dir}/project`, 90);
  // a checkpoint that reloads to the same reconstruction errors, an inverted image is the worst, error
  // maps are of their own image (autoencoder_test's check)
  await checkVaeQuickRun(
    `${dir}/vae`,
    await inTerminal(`autoencoder --kind vae --quick --latent 2 --out ${dir}/vae`, 90),
  );
  await inTerminal(`gan --quick --out ${dir}/gan`, 90);
  // the server runs until Ctrl-C
  const serve = pty(`${DENO} task serve --checkpoint ${ckpt} --port 0`);
  assert.ok(await serve.waitFor(/dashboard on http|requests \w+ access/, 60_000), serve.output());
  assert.doesNotMatch(serve.output(), PROMPT);
  await serve.type("\x03");
  const s = await serve.finish(10_000);
  assert.equal(s.prompted, null);
  assert.notEqual(s.code, null, "serve stops on Ctrl-C");
  console.log(`quick runs: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await Deno.remove(dir, { recursive: true });
});

/** Name, size and modification time of everything under `dir`. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = `${d}/${e.name}`;
      const s = Deno.statSync(p);
      if (e.isDirectory) walk(p);
      else out.push(`${p} ${s.size} ${s.mtime?.getTime()}`);
    }
  };
  walk(dir);
  return out.sort().join("\n");
}

/**
 * Starts `train` under `deno` in a terminal whose shell survives Ctrl-C (as an interactive one
 * does), types Ctrl-C once the output matches `after`, and returns the run directory once the
 * shell has the terminal back, with how long that took and what changed in the 4 s after.
 */
async function interrupt(deno: string, epochs: number, after: RegExp) {
  const dir = await Deno.makeTempDir();
  const r = pty(
    `trap 'true' INT; ${deno} task train --quick --epochs ${epochs} --out ${dir}; echo "SHELL-BACK $?"; sleep 30`,
  );
  assert.ok(await r.waitFor(after, 120_000), `never saw ${after}:\n${r.output().slice(-500)}`);
  await r.type("\x03");
  const t0 = performance.now();
  assert.ok(
    await r.waitFor(/SHELL-BACK \d+/, 30_000),
    `the shell never got the terminal back:\n${r.output()}`,
  );
  const ms = performance.now() - t0;
  const code = Number(r.output().match(/SHELL-BACK (\d+)/)![1]);
  const before = snapshot(dir);
  await new Promise((res) => setTimeout(res, 4000));
  const later = snapshot(dir);
  await r.exit(0);
  return { dir, ms, code, before, later, output: r.output() };
}

async function assertStoppedCleanly(run: Awaited<ReturnType<typeof interrupt>>, epochsKept: number) {
  assert.equal(run.later, run.before, `nothing changes after the shell is back:\n${run.output.slice(-400)}`);
  assert.ok(run.ms < 3000, `the shell is back ${run.ms.toFixed(0)} ms after Ctrl-C`);
  const names = run.before.split("\n").map((l) => l.split(" ")[0].slice(run.dir.length + 1));
  assert.deepEqual(names.filter((n) => n.includes(".tmp")), [], "no temporary files");
  const ckpt = `${run.dir}/checkpoint.safetensors`;
  if (epochsKept === 0) {
    assert.ok(!names.includes("checkpoint.safetensors"), "no checkpoint before an epoch is complete");
    assert.ok(!names.includes("metrics.json"));
  } else {
    const { metadata } = await gb.loadModel(ckpt);
    assert.equal(metadata.epoch, String(epochsKept));
    const history = JSON.parse(await Deno.readTextFile(`${run.dir}/history.json`));
    const metrics = JSON.parse(await Deno.readTextFile(`${run.dir}/metrics.json`));
    assert.equal(history.epochs.length, epochsKept);
    assert.equal(metrics.epochs, epochsKept);
    assert.equal(metrics.stopped, true);
    assert.equal(String(metrics.testAccuracy), metadata.testAccuracy, "metrics and checkpoint of one epoch");
  }
  await Deno.remove(run.dir, { recursive: true });
}

Deno.test("Ctrl-C after the first step: exit 130, the shell is back at once, no checkpoint, nothing written later", async () => {
  const run = await interrupt(DENO, 1, /step 1\/32/);
  assert.equal(run.code, 130, run.output.slice(-400));
  assert.match(run.output, /interrupted: no epoch was complete, so there is no checkpoint/);
  await assertStoppedCleanly(run, 0);
});

// the npm package's bin.cjs (used when npm installs without running deno's postinstall) spawns
// the binary beside it and exits on Ctrl-C without waiting for it
const wrapper = Deno.execPath().replace(/deno$/, "bin.cjs");
const node = new Deno.Command("sh", { args: ["-c", "command -v node"], stdout: "null" }).outputSync().success;
const haveWrapper = node && (await Deno.stat(wrapper).then(() => true, () => false));

Deno.test({
  name:
    "Ctrl-C in epoch 2 under the npm wrapper: epoch 1 kept whole, nothing written after the prompt is back",
  ignore: !haveWrapper,
  fn: async () => {
    const run = await interrupt(`node ${JSON.stringify(wrapper)}`, 2, /epoch 2\/2 step 2\/32/);
    assert.equal(run.code, 130, run.output.slice(-400));
    await assertStoppedCleanly(run, 1);
  },
});
