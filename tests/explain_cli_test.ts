import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

const explain = (...args: string[]) => runScript("examples/explain_mnist.ts", args);

Deno.test("deno task explain: mistakes are one line; a missing checkpoint says how to make one", async () => {
  const bad = await explain("--methods", "saliency,magic");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^error: unknown method magic; choose from saliency, inputxgradient, ig/);
  const twice = await explain("--methods", "ig,saliency,ig");
  assert.equal(twice.code, 2);
  assert.match(twice.err, /^error: --methods names ig twice/);
  const range = await explain("--images", "9-3");
  assert.equal(range.code, 2);
  assert.match(range.err, /^error: --images: the range 9-3 runs backwards/);
  const none = await explain("--checkpoint", "/nonexistent/c.safetensors");
  assert.equal(none.code, 1);
  assert.match(
    none.err,
    /^error: no checkpoint at \/nonexistent\/c\.safetensors: make one with `deno task train`/,
  );
  for (const r of [bad, twice, range, none]) assert.equal(r.err.trim().split("\n").length, 1);
});

Deno.test("deno task explain writes the grid, the curves, the attributions and a summary whose numbers are sane", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(1);
  await gb.saveModel(gb.createModel("seed-cnn"), `${dir}/c.safetensors`);
  const r = await explain(
    "--checkpoint",
    `${dir}/c.safetensors`,
    "--images",
    "0,3",
    "--methods",
    "saliency,ig,gradcam",
    "--steps",
    "16",
    "--out",
    `${dir}/x`,
  );
  assert.equal(r.code, 0, r.err);
  for (
    const f of [
      "comparison.svg",
      "deletion.svg",
      "insertion.svg",
      "sanity.svg",
      "attributions.safetensors",
      "summary.json",
    ]
  ) {
    assert.ok((await Deno.stat(`${dir}/x/${f}`)).size > 100, f);
  }
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/x/summary.json`));
  assert.deepEqual(summary.images, [0, 3]);
  for (const m of ["saliency", "ig", "gradcam", "random"]) {
    const s = summary.methods[m];
    assert.ok(s.deletionAuc >= 0 && s.deletionAuc <= 1 && s.insertionAuc >= 0 && s.insertionAuc <= 1, m);
  }
  assert.ok(summary.methods.ig.completenessError.every((e: number) => e < 0.05), "IG completes (16 steps)");
  const file = gb.decodeSafetensors(await Deno.readFile(`${dir}/x/attributions.safetensors`));
  assert.deepEqual([...file.tensors.keys()].sort(), ["gradcam", "ig", "saliency"]);
  assert.deepEqual(file.tensors.get("ig")!.shape, [2, 1, 28, 28]);
  const svg = await Deno.readTextFile(`${dir}/x/comparison.svg`);
  assert.match(svg, />Integrated</);
  assert.match(svg, />Grad-CAM</);
});
