import assert from "node:assert/strict";
import { checkSafetensorsRules } from "./run_checks.ts";

function trainCommand(out: string, ...extra: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "examples/train_mnist.ts",
      "--quick",
      "--out",
      out,
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("Ctrl-C stops training at once (exit 130) and keeps the last complete epoch", async () => {
  const out = await Deno.makeTempDir();
  const child = trainCommand(out, "--epochs", "50").spawn();
  const ckpt = `${out}/checkpoint.safetensors`;
  for (let i = 0; i < 600; i++) {
    try {
      await Deno.stat(ckpt);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill("SIGINT");
  const r = await child.output();
  const text = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 130, text + new TextDecoder().decode(r.stderr));
  assert.match(text, /interrupted: keeping epoch \d+ \(the last complete one\)/);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  assert.equal(metrics.stopped, true);
  const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
  assert.ok(history.epochs.length >= 1 && history.epochs.length < 50);
  checkSafetensorsRules(await Deno.readFile(ckpt));
  assert.deepEqual(
    [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.includes(".tmp")),
    [],
    "no temporary files",
  );
  await Deno.remove(out, { recursive: true });
});
