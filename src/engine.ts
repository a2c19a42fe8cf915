/**
 * glassbox's engine alone: the GPU runtime, tensors and autograd, layers, optimizers and
 * models (with their checkpoints as bytes and ONNX). Nothing here touches files, processes
 * or the environment, so it runs wherever WebGPU does: Deno, a browser page, a worker.
 *
 * @example
 * ```ts
 * import { Linear, scope, tensor } from "glassbox/engine";
 * const y = await scope(async () => {
 *   const layer = new Linear(2, 1);
 *   return await layer.forward(tensor([[1, 2]])).toArray();
 * });
 * if (y.length !== 1) throw new Error("one output");
 * ```
 * @module
 */
export * from "./gpu/mod.ts";
export * from "./tensor/mod.ts";
export * from "./nn/mod.ts";
export * from "./optim/mod.ts";
export * from "./models/mod.ts";
