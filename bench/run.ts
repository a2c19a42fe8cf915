/** Runs every benchmark in sequence (never two at once) and prints the tables. */
import { adapterInfo } from "../mod.ts";
import { printTable, printTable2 } from "./harness.ts";
import { benchCore } from "./core.ts";
import { benchCnn } from "./cnn.ts";
import { benchTracking } from "./tracking.ts";
import { benchExplain } from "./explain.ts";
import { benchSequence, printSequence } from "./sequence.ts";
import { benchCompress, printCompress } from "./compress.ts";

console.log(`adapter: ${adapterInfo().description}`);
printTable("engine core (median ms, readback included)", "tfjs-webgpu", await benchCore());
printTable("CNN (median ms, readback included)", "tfjs-webgpu", await benchCnn());
const tr = await benchTracking();
console.log(
  `\ngradient tracking every step, seed CNN step at batch 64: untracked ${tr.plain.toFixed(1)} ms, tracked ${
    tr.tracked.toFixed(1)
  } ms, overhead ${(100 * tr.overhead).toFixed(1)}%`,
);
printTable2("attribution, seed CNN (median ms, readback included)", await benchExplain());
printSequence(await benchSequence());
printCompress(await benchCompress());
