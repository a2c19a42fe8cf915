import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { checkSafetensorsRules } from "./run_checks.ts";

async function tmpdir() {
  return await Deno.makeTempDir({ prefix: "glassbox-ckpt-" });
}

function model() {
  return new gb.Sequential(
    new gb.Conv2d(1, 4, 3),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(4 * 4 * 4, 3),
  );
}

Deno.test("a checkpoint round-trips exactly and follows the safetensors rules", async () => {
  const dir = await tmpdir();
  gb.manualSeed(1);
  const a = model();
  await gb.saveCheckpoint(a, `${dir}/m.safetensors`, { epoch: "3" });
  const bytes = await Deno.readFile(`${dir}/m.safetensors`);
  const header = checkSafetensorsRules(bytes);
  assert.deepEqual(header["0.weight"].shape, [4, 1, 3, 3]);
  assert.equal(header["0.weight"].dtype, "F32");
  gb.manualSeed(2);
  const b = model();
  const meta = await gb.loadCheckpoint(b, `${dir}/m.safetensors`);
  assert.equal(meta.epoch, "3");
  const pa = a.namedParameters(), pb = b.namedParameters();
  assert.equal(pa.length, pb.length);
  for (let i = 0; i < pa.length; i++) {
    const [na, ta] = pa[i], [nb, tb] = pb[i];
    assert.equal(na, nb);
    assert.deepEqual(await tb.toArray(), await ta.toArray(), `${na} restored exactly`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("truncated, corrupted or mismatched checkpoints give clear errors", async () => {
  const dir = await tmpdir();
  const m = model();
  await gb.saveCheckpoint(m, `${dir}/m.safetensors`);
  const bytes = await Deno.readFile(`${dir}/m.safetensors`);
  await Deno.writeFile(`${dir}/trunc.safetensors`, bytes.subarray(0, bytes.length - 10));
  await assert.rejects(
    () => gb.loadCheckpoint(m, `${dir}/trunc.safetensors`),
    /cover \d+ bytes but the data section has \d+ \(truncated\)/,
  );
  await Deno.writeFile(`${dir}/short.safetensors`, bytes.subarray(0, 5));
  await assert.rejects(() => gb.loadCheckpoint(m, `${dir}/short.safetensors`), /too short/);
  const bad = bytes.slice();
  bad[8] = 0xff; // not UTF-8, not JSON
  await Deno.writeFile(`${dir}/bad.safetensors`, bad);
  await assert.rejects(
    () => gb.loadCheckpoint(m, `${dir}/bad.safetensors`),
    /header is not valid UTF-8 JSON/,
  );
  const renamed = bytes.slice();
  renamed[10] = "{".charCodeAt(0); // `{"__metadata__"` → `{"{_metadata__"`: valid JSON, not an entry
  await Deno.writeFile(`${dir}/renamed.safetensors`, renamed);
  await assert.rejects(
    () => gb.loadCheckpoint(m, `${dir}/renamed.safetensors`),
    /has unknown dtype undefined/,
  );
  const other = new gb.Sequential(
    new gb.Conv2d(1, 5, 3),
    new gb.ReLU(),
    new gb.Flatten(),
    new gb.Linear(5 * 4 * 4, 3),
  );
  await assert.rejects(
    () => gb.loadCheckpoint(other, `${dir}/m.safetensors`),
    /"0.weight" is \[4, 1, 3, 3\] float32 in the checkpoint but weight\[5, 1, 3, 3\] float32 in the model/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a save that fails half-way leaves the previous checkpoint intact and no temporary file", async () => {
  const dir = await tmpdir();
  const path = `${dir}/m.safetensors`;
  const m = model();
  await gb.saveCheckpoint(m, path);
  const before = await Deno.readFile(path);
  const m2 = model(); // different weights
  await assert.rejects(
    () =>
      gb.saveCheckpoint(m2, path, {}, {
        chunkSize: 64,
        onProgress: (w) => {
          if (w >= 128) throw new Error("simulated disk full");
        },
      }),
    /saving .* failed, the previous file is untouched: simulated disk full/,
  );
  assert.deepEqual(await Deno.readFile(path), before, "the old checkpoint is byte-identical");
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(names, ["m.safetensors"], "no temporary file is left");
  await Deno.remove(dir, { recursive: true });
});
