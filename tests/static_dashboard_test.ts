/**
 * The dashboard without a server (deno task serve --static): the task writes the folder; a dumb
 * static file server (no API: it hands out the folder's files and nothing else) serves it;
 * headless Chromium on SwiftShader's WebGPU draws a "1" and explains it. The page may fetch only
 * itself, the bundle and the checkpoint; its prediction, class names, heatmaps and words must be
 * what the live dashboard's Explainer gives under Deno for the same pixels.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

const CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/** Serves `dir`'s files by name, and records every path asked for. */
function fileServer(dir: string) {
  const asked: string[] = [];
  const types: Record<string, string> = { html: "text/html", js: "text/javascript" };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    asked.push(path);
    const name = path === "/" ? "index.html" : path.slice(1);
    if (!/^[\w.-]+$/.test(name)) return new Response("not found", { status: 404 });
    try {
      const bytes = await Deno.readFile(`${dir}/${name}`);
      const type = types[name.split(".").pop()!] ?? "application/octet-stream";
      return new Response(bytes, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { url: `http://127.0.0.1:${server.addr.port}/`, asked, stop: () => server.shutdown() };
}

Deno.test("the static dashboard: Chromium computes the live dashboard's prediction, heatmaps and words for a drawn digit, fetching only the page, the bundle and the checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(4);
  const model = gb.createModel("seed-cnn");
  const train = gb.mnistDataset(await gb.loadMnist("train"));
  await gb.fit(model, train, { optimizer: new gb.Adam(model.parameters(), { lr: 2e-3 }), limit: 300 });
  // MNIST's input with the classes spelled out: the page must take its class names from the checkpoint
  const profile = { ...gb.mnistProfile(), classes: CLASSES };
  await gb.saveModel(model, `${dir}/digits.safetensors`, {}, { profile });

  const made = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "serve", "--checkpoint", `${dir}/digits.safetensors`, "--static", `${dir}/site`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(made.stdout);
  assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
  assert.match(said, /^bundling glassbox for the browser/m);
  assert.match(said, /wrote .*site\/: index\.html \(.*\), glassbox\.js \(.*\), digits\.safetensors \(/);
  assert.deepEqual([...Deno.readDirSync(`${dir}/site`)].map((e) => e.name).sort(), [
    "digits.safetensors",
    "glassbox.js",
    "index.html",
  ]);
  assert.ok(!(await gb.fileExists(`${dir}/site.tmp`)), "the temporary folder is gone");

  const server = fileServer(`${dir}/site`);
  let seen, plain;
  try {
    // one browser, three views at once: the drawn digit explained; a browser without WebGPU, which is
    // told so in the page and fetches nothing but the page; and the page opened as a file
    // (double-clicked), which says to serve the folder instead of a fetch error
    const run = await runScript("tests/browser_static.ts", [
      ...[server.url, "saliency,gradcam", "en"],
      ...["+", server.url, "-", "en"],
      ...["+", `file://${dir}/site/index.html`, "-", "en"],
    ], ["-A"]);
    assert.equal(run.code, 0, run.err);
    const said = run.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(said.length, 3, run.out);
    [seen, plain] = said;
    const fileSaid = said[2];
    assert.match(
      fileSaid.runtime,
      /opened as a file \(file:\/\/\).*Serve its folder with any static file server/,
    );
    assert.deepEqual(fileSaid.requests, [`file://${dir}/site/index.html`]);
    assert.equal(seen.heatmaps.length, 2, `the page explained the digit: ${seen.progress}`);
  } finally {
    await server.stop();
  }
  // (a) no request besides the page, the bundle and the checkpoint, in the browser and at the server
  assert.deepEqual(
    [...new Set(seen.requests as string[])].sort(),
    ["", "digits.safetensors", "glassbox.js"].map((f) => server.url + f),
  );
  assert.deepEqual([...new Set(server.asked)].sort(), ["/", "/digits.safetensors", "/glassbox.js"]);
  assert.deepEqual(seen.errors, []);
  assert.match(plain.runtime, /^This page cannot run the model: This browser has no WebGPU/);
  assert.match(plain.progress, /^Nothing can be computed here: the note at the top of the page says why/);
  assert.deepEqual(plain.requests, [server.url]);
  assert.deepEqual(plain.errors, []);
  assert.match(seen.runtime, /^Computed in this browser, on its WebGPU adapter \(.+\)\. There is no server/);

  // (b) the same pixels through the live dashboard's Explainer under Deno
  const { input, result } = seen.api.last as { input: number[]; result: gb.ExplainResult };
  assert.equal(input.length, 784);
  assert.ok(input.some((v) => v > 0.5), "the drawn stroke reached the model");
  const explainer = new gb.Explainer(model, profile);
  const want = await explainer.explain({ input, methods: ["saliency", "gradcam"], layer: "0", lang: "en" });
  assert.equal(result.predicted, want.predicted);
  assert.deepEqual(result.classes, CLASSES);
  for (const [c, p] of want.probabilities.entries()) {
    assert.ok(Math.abs(result.probabilities[c] - p) < 1e-6, `class ${c}: ${result.probabilities[c]} vs ${p}`);
  }
  const top = (100 * want.probabilities[want.predicted]).toFixed(1);
  assert.equal(seen.prediction, `Prediction: ${CLASSES[want.predicted]} (${top}%)`);
  assert.deepEqual(
    (seen.bars as string[]).map((b) => b.replace(/[\d.]+%$/, "")),
    CLASSES,
    "one bar per class, in the profile's order",
  );
  assert.deepEqual(result.heatmaps.map((h) => h.method), ["saliency", "gradcam"]);
  const gaps: string[] = [];
  for (const [k, h] of want.heatmaps.entries()) {
    const got = result.heatmaps[k];
    assert.deepEqual(got.shape, h.shape);
    const scale = Math.max(...h.values.map(Math.abs));
    const worst = Math.max(...h.values.map((v, i) => Math.abs(v - got.values[i])));
    assert.ok(worst <= 1e-5 * scale, `${h.method}: values differ by ${worst} (scale ${scale})`);
    gaps.push(`${h.method} ${(worst / scale).toExponential(1)}`);
    // the page shows the map it computed
    assert.equal(seen.heatmaps[k].src, got.png);
    assert.equal(seen.heatmaps[k].label, h.label);
    assert.ok(seen.heatmaps[k].ok);
  }
  assert.ok(seen.features?.startsWith("data:image/png;base64,"), "the feature maps are shown");
  // and the maps explain the predicted class: the method registry run directly (no Explainer) on the
  // input normalised by hand with the profile's mean and std, for the class with the top probability
  const top1 = want.probabilities.indexOf(Math.max(...want.probabilities));
  const [m0, s0] = [profile.mean![0], profile.std![0]];
  const direct = await gb.scope(async () => {
    const x = gb.tensor(input.map((v) => (v - m0) / s0), [1, ...profile.inputShape]);
    const out: number[][] = [];
    for (const name of ["saliency", "gradcam"]) {
      out.push(Array.from(await (await gb.attributionMethod(name).run(model, x, top1, profile)).toArray()));
    }
    return out;
  });
  for (const [k, values] of direct.entries()) {
    const scale = Math.max(...values.map(Math.abs));
    const worst = Math.max(...values.map((v, i) => Math.abs(v - result.heatmaps[k].values[i])));
    assert.ok(
      worst <= 1e-5 * scale,
      `${result.heatmaps[k].method} is not the map of class ${top1}: off by ${worst}`,
    );
  }

  // (c) the words: the page's, and the same sentences as under Deno
  assert.match(
    seen.explanation,
    new RegExp(`^The model predicts ${CLASSES[want.predicted]} with probability`),
  );
  assert.equal(seen.explanation, want.explanation);
  console.log(
    `static dashboard: page and model loaded in ${seen.loadedMs} ms; first explanation ${
      seen.api.timings.first.toFixed(0)
    } ms in the browser (${seen.explainMs} ms click to answer) on ${seen.api.adapter}; largest map gap / scale: ${
      gaps.join(", ")
    }`,
  );
});

Deno.test("deno task serve --static: a mistake is one plain line and exit 2, a folder it did not write is left alone, one it wrote is replaced whole", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/keep.txt`, "mine");
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "serve", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: r.code, err: new TextDecoder().decode(r.stderr).trim() };
  };
  gb.manualSeed(1);
  // named classes: not MNIST's profile, so no novelty reference is fitted on MNIST's training set
  await gb.saveModel(gb.createModel("seed-cnn"), `${dir}/m.safetensors`, {}, {
    profile: { ...gb.mnistProfile(), classes: CLASSES },
  });
  const cases: [string[], RegExp][] = [
    [["--checkpoint", `${dir}/none.safetensors`, "--static", `${dir}/site`], /--checkpoint: no file at/],
    [["--checkpoint", `${dir}/m.safetensors`, "--static", `${dir}/site`, "--port", "9"], /--port has no use/],
    [["--checkpoint", `${dir}/m.safetensors`, "--static", dir], /exists and is not a static dashboard/],
  ];
  for (const [args, message] of cases) {
    const r = await run(...args);
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err.split("\n").length, 1, r.err);
    assert.match(r.err, message);
  }
  assert.equal(await Deno.readTextFile(`${dir}/keep.txt`), "mine");
  assert.ok(!(await gb.fileExists(`${dir}/site`)) && !(await gb.fileExists(`${dir}/site.tmp`)));
  // written twice, from two checkpoints: the second folder replaces the first, nothing else is left
  await Deno.copyFile(`${dir}/m.safetensors`, `${dir}/n.safetensors`);
  for (const name of ["m", "n"]) {
    const r = await run("--checkpoint", `${dir}/${name}.safetensors`, "--static", `${dir}/site`);
    assert.equal(r.code, 0, r.err);
  }
  assert.deepEqual([...Deno.readDirSync(`${dir}/site`)].map((e) => e.name).sort(), [
    "glassbox.js",
    "index.html",
    "n.safetensors",
  ]);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
    "keep.txt",
    "m.safetensors",
    "n.safetensors",
    "site",
  ]);
});
