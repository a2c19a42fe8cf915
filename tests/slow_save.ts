/**
 * For tests/cli_test.ts: a script under runMain that either saves a 16 MiB file slowly (64
 * chunks, 20 ms each; prints "writing" after the first) or, with "idle", waits 20 s doing nothing
 * (prints "idle"): the test sends Ctrl-C (SIGINT) in the middle.
 */
import { runMain, writeAtomic } from "../mod.ts";

const pause = new Int32Array(new SharedArrayBuffer(4));

await runMain("deno run tests/slow_save.ts", async () => {
  const [mode, path] = Deno.args;
  if (mode === "idle") {
    console.log("idle");
    await new Promise((r) => setTimeout(r, 20_000));
    return;
  }
  const bytes = new Uint8Array(16 << 20).fill(7);
  await writeAtomic(path, bytes, {
    chunkSize: 256 << 10,
    onProgress: (written) => {
      if (written === 256 << 10) console.log("writing");
      Atomics.wait(pause, 0, 0, 20); // a slow disk
    },
  });
  console.log("saved");
});
