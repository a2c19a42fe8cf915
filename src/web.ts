/**
 * Everything of glassbox that runs wherever WebGPU does, a browser page included: the engine
 * (src/engine.ts), data that needs no files, inspection, attribution, compression, diagnosis,
 * the report's words, the pictures and the dashboard's explainer (src/serve/portable.ts). What is
 * left out reads or writes files, starts processes or serves HTTP (src/io, the rest of src/serve,
 * src/apps, MNIST's loader). `deno task bundle`
 * turns this module into dist/glassbox.js, one ES module for a page.
 *
 * @example
 * ```ts
 * import { contextKind, Saliency } from "glassbox/web";
 * if (typeof Saliency !== "function") throw new Error("no Saliency");
 * contextKind(); // "async-local-storage" under Deno, "stack" in a page
 * ```
 * @module
 */
export * from "./engine.ts";
export * from "./data/portable.ts";
export * from "./inspect/portable.ts";
export * from "./viz/mod.ts";
export * from "./explain/mod.ts";
export * from "./compress/portable.ts";
export * from "./diagnose/mod.ts";
export * from "./report/mod.ts";
export * from "./serve/portable.ts";
