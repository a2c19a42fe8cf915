import assert from "node:assert/strict";

Deno.test("deno task train --quick runs end to end and writes history and metrics", async () => {
  const out = await Deno.makeTempDir();
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "examples/train_mnist.ts",
      "--quick",
      "--out",
      out,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, text);
  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  const history = JSON.parse(await Deno.readTextFile(`${out}/history.json`));
  assert.equal(history.steps.length, 32, "one loss per step (2,000 images / 64)");
  assert.ok(history.steps[31] < history.steps[0], "the loss went down");
  assert.ok(
    metrics.testAccuracy > 0.5,
    `a quick run learns something (test accuracy ${metrics.testAccuracy})`,
  );
  const total = metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0);
  assert.equal(total, 1000, "the confusion matrix counts every test image");
  await Deno.remove(out, { recursive: true });
});
