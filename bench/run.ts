/** Runs every benchmark in sequence (never two at once) and prints the tables. */
import {
  adapterInfo,
  gpuSettings,
  kernelPath,
  measureCeilings,
  parseFlags,
  runMain,
  UsageError,
} from "../mod.ts";
import { printTable2 } from "./harness.ts";
import { benchCore } from "./core.ts";
import { benchCnn } from "./cnn.ts";
import { benchTracking } from "./tracking.ts";
import { benchExplain } from "./explain.ts";
import { benchSequence, printSequence } from "./sequence.ts";
import { benchCompress, printCompress } from "./compress.ts";
import { benchExplainModels, printExplainModels } from "./explain_models.ts";
import { benchNeighbours, printNeighbours } from "./neighbours.ts";

const HELP = `deno task bench [--explain-models [--quick]] [--help]
Runs every benchmark in turn (engine core, CNN, gradient tracking, attribution, sequence models,
compression) against the reference implementations and prints the tables. It takes several minutes
and all of the machine's cores: run nothing else at the same time.
  --explain-models  only attribution throughput by model: Saliency and Integrated Gradients on the
                    seed CNN, a SmallResNet (RGB) and the tabular MLP, LayerGradientXActivation and
                    Layer IG at the text classifier's embedding, in examples/s on glassbox,
                    tfjs-wasm and tfjs-webgpu with the same weights, with the ratios and how far
                    the attributions differ (bench/explain_models.ts)
  --neighbours      only nearest-neighbour search over 60,000 vectors of 128 (k = 10), in queries/s
                    for 1, 64 and 1024 queries on glassbox's GPU search, a plain CPU loop and
                    tfjs-wasm (matMul + topk), with the ratios and whether their indices agree
                    (bench/neighbours.ts)
  --quick           with --explain-models or --neighbours: a smaller, shorter smoke run
Integrated Gradients in Chromium, glassbox against tfjs-webgpu in one page: deno task bench:browser.`;

async function main(): Promise<void> {
  const { flags } = parseFlags(Deno.args, {
    help: { type: "boolean" },
    "explain-models": { type: "boolean" },
    quick: { type: "boolean" },
    neighbours: { type: "boolean" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  if (flags.quick && !flags["explain-models"] && !flags.neighbours) {
    throw new UsageError("--quick goes with --explain-models or --neighbours");
  }
  console.log(
    `adapter: ${adapterInfo().description}, kernel family ${kernelPath()}, fusion ${gpuSettings().fusion}`,
  );
  if (flags.neighbours) {
    printNeighbours(await benchNeighbours(flags.quick ?? false));
    return;
  }
  if (flags["explain-models"]) {
    printExplainModels(await benchExplainModels(flags.quick ?? false));
    return;
  }
  // the adapter's ceilings, measured the way the profiler's roofline measures them: what bounds a workload
  const ceil = await measureCeilings();
  console.log(
    `adapter ceilings: copy kernel ${ceil.gbPerS.toFixed(1)} GB/s, best matmul ${
      ceil.gflopPerS.toFixed(1)
    } GFLOP/s`,
  );
  printTable2("engine core (median ms, readback included)", await benchCore());
  printTable2("CNN (median ms, readback included)", await benchCnn());
  const tr = await benchTracking();
  console.log(
    `\ngradient tracking every step, seed CNN step at batch 64: untracked ${
      tr.plain.toFixed(1)
    } ms, tracked ${tr.tracked.toFixed(1)} ms, overhead ${(100 * tr.overhead).toFixed(1)}%`,
  );
  printTable2("attribution, seed CNN (median ms, readback included)", await benchExplain());
  printSequence(await benchSequence());
  printCompress(await benchCompress());
}

if (import.meta.main) await runMain("bench", main);
