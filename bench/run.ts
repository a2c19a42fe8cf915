/** Runs every benchmark in sequence (never two at once) and prints the tables. */
import { adapterInfo } from "../mod.ts";
import { printTable } from "./harness.ts";
import { benchCore } from "./core.ts";
import { benchCnn } from "./cnn.ts";

console.log(`adapter: ${adapterInfo().description}`);
printTable("engine core (median ms, readback included)", "tfjs-webgpu", await benchCore());
printTable("CNN (median ms, readback included)", "tfjs-webgpu", await benchCnn());
