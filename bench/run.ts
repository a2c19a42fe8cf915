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
import { benchOptions, printBounds, printTable2, readbackFloor, wanted, wantedRows } from "./harness.ts";
import { benchCore } from "./core.ts";
import { benchCnn } from "./cnn.ts";
import { benchTracking } from "./tracking.ts";
import { benchExplain } from "./explain.ts";
import { benchSequence, printSequence } from "./sequence.ts";
import { benchCompress, printCompress } from "./compress.ts";
import { benchExplainModels, printExplainModels } from "./explain_models.ts";
import { benchNeighbours, printNeighbours } from "./neighbours.ts";

const HELP = `deno task bench [--repeat N] [--only TEXT] [--explain-models [--quick]] [--help]
Runs every benchmark in turn (engine core, CNN, gradient tracking, attribution, sequence models,
compression) against the reference implementations and prints the tables, then "What bounds each
row": each glassbox row run once more under the profiler, with its launches, kernel ms, readback
waits/readbacks (readbacks made together wait once), MB moved, GFLOP, a lower bound (readback
waits × the readback floor + per kernel launch the larger of
bytes ÷ the copy ceiling and flops ÷ the matmul ceiling), the bound's dominant term (readback
floor, memory, compute, or dispatch overhead = measured − kernel ms − the readback term) and
measured ÷ bound. It takes several minutes and all of the machine's cores: run nothing else at the
same time.
  --repeat N        time each row in N passes, glassbox and its peers interleaved (default 1): the
                    tables print the medians and each speed-up's min–max over the passes
  --only TEXT       only the rows whose name contains TEXT (case-sensitive), in the engine-core,
                    CNN and sequence tables, and gradient tracking if "gradient tracking" contains
                    it; the attribution and compression tables are left out
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
    repeat: { type: "int", min: 1, default: 1 },
    only: { type: "string" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  if (flags.quick && !flags["explain-models"] && !flags.neighbours) {
    throw new UsageError("--quick goes with --explain-models or --neighbours");
  }
  if (
    ((flags.repeat ?? 1) !== 1 || flags.only !== undefined) && (flags["explain-models"] || flags.neighbours)
  ) {
    throw new UsageError("--repeat and --only go with the main tables, not --explain-models or --neighbours");
  }
  if (flags.only === "") throw new UsageError("--only needs a non-empty substring of a row's name");
  benchOptions.repeat = flags.repeat ?? 1;
  benchOptions.only = flags.only ?? null;
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
  // the adapter's ceilings, measured the way the profiler's roofline measures them, and the cost of
  // one readback: what bounds a workload ("What bounds each row", printed last)
  const ceil = await measureCeilings();
  const floor = await readbackFloor();
  console.log(
    `adapter ceilings: copy kernel ${ceil.gbPerS.toFixed(1)} GB/s, best matmul ${
      ceil.gflopPerS.toFixed(1)
    } GFLOP/s; readback floor ${floor.toFixed(2)} ms`,
  );
  printTable2("engine core (median ms, readback included)", await benchCore());
  printTable2("CNN (median ms, readback included)", await benchCnn());
  if (wanted("gradient tracking")) {
    const tr = await benchTracking();
    console.log(
      `\ngradient tracking every step, seed CNN step at batch 64: untracked ${
        tr.plain.toFixed(1)
      } ms, tracked ${tr.tracked.toFixed(1)} ms, overhead ${(100 * tr.overhead).toFixed(1)}%`,
    );
  }
  if (benchOptions.only === null) {
    printTable2("attribution, seed CNN (median ms, readback included)", await benchExplain());
  }
  printSequence(await benchSequence());
  if (benchOptions.only === null) printCompress(await benchCompress());
  if (benchOptions.only !== null && wantedRows.size === 0) {
    // a misspelt or miscased --only would otherwise end the run silently with no table
    throw new UsageError(
      `--only ${
        JSON.stringify(benchOptions.only)
      } matches no row of the engine-core, CNN, gradient-tracking or sequence tables (case-sensitive)`,
    );
  }
  printBounds(ceil, floor);
}

if (import.meta.main) await runMain("bench", main);
