/**
 * Integrated Gradients on the seed CNN in Chromium: glassbox against TensorFlow.js 4.22's WebGPU
 * backend in the same page, on the same adapter (Chromium's SwiftShader WebGPU; no GPU here).
 *
 * It bundles glassbox fresh from src/web.ts, TensorFlow.js with its WebGPU backend and the seed
 * CNN's tfjs port (bench/browser/tfjs_entry.ts) and the page logic (bench/browser/page.ts) into
 * out/igbench/, serves them on 127.0.0.1 and opens the page in /usr/bin/chromium (playwright-core).
 * The seed CNN's weights are seeded (manualSeed(0), seedCnn()), or a checkpoint's with
 * --checkpoint; the input is MNIST's first test digit, normalised as in training. Both engines
 * compute IG with Captum's defaults as glassbox's IntegratedGradients uses them (baseline 0,
 * 50 Gauss–Legendre steps from `integrationPoints`) for the predicted class, one batch of 50
 * interpolated rows each; after warm-up they take turns, round by round, each timed run from the
 * image in JS memory to its attribution read back. Before the speeds, both attributions are
 * compared (max |glassbox − tfjs| / max |glassbox|) on the digit and on an image without ties
 * (the digit's flat background makes ties in max-pooling, which each engine breaks its own way),
 * and glassbox's in the page with glassbox's under Deno (lavapipe), whose time is printed too.
 * Playwright needs more permissions than this program has, so Chromium is driven from a
 * subprocess (bench/browser/drive.ts, deno run -A).
 *
 * `deno task bench:browser [--reps N] [--warmup N] [--checkpoint PATH]`
 */
import * as gb from "../mod.ts";
import { maxRelDiff } from "./explain_models.ts";
import { time } from "./harness.ts";
import type { PageInput, PageResult } from "./browser/page.ts";

const HELP = `deno task bench:browser [--reps N] [--warmup N] [--checkpoint PATH] [--help]
Integrated Gradients (baseline 0, 50 Gauss–Legendre steps, the predicted class) on the seed CNN
for one MNIST digit, in headless Chromium on SwiftShader's WebGPU: glassbox (bundled from
src/web.ts) against TensorFlow.js 4.22's WebGPU backend in the same page, same weights, taking
turns; prints the median times, the ratio, how far the attributions differ, the adapter, and
glassbox's time for the same call under Deno. Bundles into out/igbench/ first. It takes a
minute or two and all of the machine's cores: run nothing else at the same time.
  --reps N          timed rounds, one run of each engine per round (default 7, at least 5)
  --warmup N        untimed runs of each engine first (default 2)
  --checkpoint PATH a seed CNN checkpoint (deno task train's) instead of seeded weights`;

const OUT = "out/igbench";
/** The test and bench lockfile (tests/run_script.ts's DEV_LOCK): deno.lock keeps only the library's packages. */
const DEV_LOCK = "--lock=deno.dev.lock";
const STEPS = 50;
/** Largest max rel diff of the two engines' attributions on the tie-free image before a speed is printed. */
const AGREE = 1e-3;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Bundles `entry` for the browser into `OUT/name`. */
async function bundle(entry: string, name: string): Promise<number> {
  const out = `${OUT}/${name}`;
  const r = await new Deno.Command("deno", {
    args: ["bundle", DEV_LOCK, "--quiet", "--platform", "browser", "--format", "esm", "--output", out, entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(r.stderr).slice(0, 2000)}`);
  }
  return (await Deno.stat(out)).size;
}

/** The seed CNN: a checkpoint's weights or seeded ones, its profile, and a line saying which. */
async function seedModel(
  checkpoint?: string,
): Promise<{ model: gb.Module; profile: gb.ExplanationProfile; source: string }> {
  gb.manualSeed(0);
  const seeded = gb.seedCnn();
  if (!checkpoint) {
    return {
      model: seeded,
      profile: gb.mnistProfile(),
      source: "seeded (manualSeed(0), seedCnn(); untrained)",
    };
  }
  const { model, profile } = gb.decodeModel(await gb.readFlagFile("checkpoint", checkpoint), checkpoint);
  const want = [...seeded.stateDict()].map(([k, t]) => `${k} [${t.shape}]`).join(", ");
  const got = [...model.stateDict()].map(([k, t]) => `${k} [${t.shape}]`).join(", ");
  if (got !== want) {
    throw new gb.UsageError(
      `--checkpoint ${checkpoint} is not a seed CNN: its weights are ${got}, not ${want}`,
    );
  }
  return { model, profile: profile ?? gb.mnistProfile(), source: `checkpoint ${checkpoint}` };
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>glassbox vs TensorFlow.js: Integrated Gradients</title></head>
<body><p>Integrated Gradients on the seed CNN, glassbox against TensorFlow.js WebGPU (bench/browser_ig.ts).</p>
<script type="module">
import * as gb from "./glassbox.js";
import * as tfx from "./tfjs.js";
import { runIgBench } from "./page.js";
try {
  const input = await (await fetch("./input.json")).json();
  window.igResult = await runIgBench(gb, tfx, input);
} catch (e) {
  window.igResult = { error: String((e && e.stack) || e) };
}
</script></body></html>`;

/** Everything the benchmark measured. */
export interface BrowserIgResult {
  page: PageResult;
  source: string;
  /** The digit's true label. */
  label: number;
  bundles: Record<string, number>;
  denoMs: number;
  denoAdapter: string;
  /**
   * max |glassbox − tfjs| / max |glassbox| in the page on the tie-free image and on the digit,
   * the two sums of the digit's attributions as |Σ glassbox − Σ tfjs| / |Σ glassbox|, and glassbox
   * in the page against glassbox under Deno on the digit.
   */
  diffTieFree: number;
  diffDigit: number;
  diffSum: number;
  diffDeno: number;
}

/** Runs the benchmark: bundles, serves, drives Chromium, then times glassbox under Deno. */
export async function benchBrowserIg(
  opts: { reps: number; warmup: number; checkpoint?: string },
): Promise<BrowserIgResult> {
  const { model, profile, source } = await seedModel(opts.checkpoint);
  await Deno.mkdir(OUT, { recursive: true });
  const bundles = {
    "glassbox.js": await bundle("src/web.ts", "glassbox.js"),
    "tfjs.js": await bundle("bench/browser/tfjs_entry.ts", "tfjs.js"),
    "page.js": await bundle("bench/browser/page.ts", "page.js"),
  };
  model.eval();
  const weights: PageInput["weights"] = {};
  for (const [k, t] of model.stateDict()) {
    weights[k] = { shape: [...t.shape], data: Array.from(await t.toArray()) };
  }
  const test = await gb.loadMnist("test");
  const [C, H, W] = profile.inputShape;
  const mean = profile.mean?.[0] ?? 0, std = profile.std?.[0] ?? 1; // normalised as the model was trained
  const x = Array.from(test.images.subarray(0, C * H * W), (v) => (v - mean) / std);
  const xTieFree = Array.from({ length: C * H * W }, (_, i) => Math.sin(i * 0.37) * 0.8); // bench/explain.ts's first image
  const input: PageInput = {
    weights,
    x,
    xTieFree,
    shape: [1, C, H, W],
    steps: STEPS,
    warmup: opts.warmup,
    reps: opts.reps,
  };

  const files: Record<string, string> = {
    "/glassbox.js": "glassbox.js",
    "/tfjs.js": "tfjs.js",
    "/page.js": "page.js",
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (path === "/input.json") return Response.json(input);
    if (path === "/favicon.ico") return new Response(null, { status: 204 });
    if (files[path]) {
      return new Response(await Deno.readFile(`${OUT}/${files[path]}`), {
        headers: { "content-type": "text/javascript; charset=utf-8" },
      });
    }
    return new Response("not found", { status: 404 });
  });
  let page: PageResult;
  try {
    const r = await new Deno.Command("deno", {
      args: ["run", DEV_LOCK, "-A", "bench/browser/drive.ts", `http://127.0.0.1:${server.addr.port}/`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ?? "";
    if (!r.success || !out.startsWith("{")) {
      throw new Error(
        `Chromium did not finish the page:\n${new TextDecoder().decode(r.stderr).slice(-2000)}`,
      );
    }
    const got = JSON.parse(out) as PageResult & { error?: string };
    if (got.error) throw new Error(`the page failed: ${got.error}`);
    page = got;
  } finally {
    await server.shutdown();
  }
  if (page.tfjsArgmax !== page.target) {
    throw new Error(`tfjs predicts class ${page.tfjsArgmax}, glassbox ${page.target}: not the same model`);
  }

  // glassbox under Deno (lavapipe): the same call on the same weights and image
  const ig = new gb.IntegratedGradients(model);
  let deno: number[] = [];
  const run = () =>
    gb.scope(async () => {
      const a = await ig.attribute(gb.tensor(Float32Array.from(x), [1, C, H, W]), {
        target: page.target,
        nSteps: STEPS,
      });
      deno = Array.from(await a.toArray());
    });
  const denoMs = await time(run, opts.reps, opts.warmup);
  const f = (v: number[]) => Float32Array.from(v);
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const diffTieFree = maxRelDiff(f(page.glassboxTieFree), f(page.tfjsTieFree));
  if (!(diffTieFree < AGREE)) {
    throw new Error(
      `glassbox and tfjs disagree on the tie-free image (max rel diff ${diffTieFree}): not the same computation`,
    );
  }
  return {
    page,
    source,
    label: test.labels[0],
    bundles,
    denoMs,
    denoAdapter: gb.adapterInfo().description,
    diffTieFree,
    diffDigit: maxRelDiff(f(page.glassbox), f(page.tfjs)),
    diffSum: Math.abs(sum(page.glassbox) - sum(page.tfjs)) / Math.abs(sum(page.glassbox)),
    diffDeno: maxRelDiff(f(deno), f(page.glassbox)),
  };
}

/** Prints the table and the lines around it, as bench/run.ts's tables. */
export function printBrowserIg(r: BrowserIgResult): void {
  const p = r.page, g = median(p.glassboxMs), t = median(p.tfjsMs);
  const range = (v: number[]) => `${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}`;
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;
  console.log(`browser: ${p.userAgent}`);
  console.log(
    `page adapter (glassbox): ${p.adapter.description || "(no description)"} [vendor ${p.adapter.vendor}, ` +
      `architecture ${p.adapter.architecture}${p.adapter.isFallbackAdapter ? ", fallback adapter" : ""}]`,
  );
  console.log(`page adapter (tfjs ${p.tfjsBackend} backend): ${p.tfjsAdapter}`);
  console.log(`bundles: ${Object.entries(r.bundles).map(([k, v]) => `${k} ${kb(v)}`).join(", ")}`);
  console.log(
    `weights: ${r.source}; input: MNIST test digit 0 (a ${r.label}); target: predicted class ${p.target}`,
  );
  const e = (v: number) => v.toExponential(2);
  console.log(
    `attributions, max |glassbox − tfjs| / max |glassbox|: ${e(r.diffTieFree)} on a tie-free image ` +
      `(sin(0.37·i)·0.8), ${e(r.diffDigit)} on the digit, whose sums differ by ${e(r.diffSum)} (relative): ` +
      `its flat background gives max-pooling windows of equal values, and each engine's rounding picks other winners`,
  );
  console.log(`glassbox in the page against glassbox under Deno, on the digit: ${e(r.diffDeno)}`);
  console.log(`Deno's adapter: ${r.denoAdapter}`);
  const rows: [string, string, string][] = [
    ["glassbox (page)", g.toFixed(1), range(p.glassboxMs)],
    ["tfjs-webgpu (page)", t.toFixed(1), range(p.tfjsMs)],
    [`glassbox under Deno (${r.denoAdapter.split(" ")[0]})`, r.denoMs.toFixed(1), "—"],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  console.log(
    `\nIntegrated Gradients, seed CNN, 1 image, 50 steps, in Chromium (median ms of ${p.glassboxMs.length} ` +
      `runs taking turns, readback included)`,
  );
  console.log(`| ${"engine".padEnd(w)} | median ms | fastest–slowest ms |`);
  console.log(`| ${"-".repeat(w)} | ---------:| ------------------ |`);
  for (const [name, med, rg] of rows) {
    console.log(`| ${name.padEnd(w)} | ${med.padStart(9)} | ${rg.padEnd(18)} |`);
  }
  console.log(`ratio tfjs / glassbox in the page: ${(t / g).toFixed(2)}× (> 1: glassbox faster)`);
}

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, {
    help: { type: "boolean" },
    reps: { type: "int", min: 5, default: 7 },
    warmup: { type: "int", min: 0, default: 2 },
    checkpoint: { type: "string" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  printBrowserIg(
    await benchBrowserIg({ reps: flags.reps ?? 7, warmup: flags.warmup ?? 2, checkpoint: flags.checkpoint }),
  );
}

if (import.meta.main) await gb.runMain("bench:browser", main);
