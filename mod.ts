/**
 * glassbox: a deep-learning engine on WebGPU whose every number can be seen.
 *
 * @example
 * ```ts
 * import { Adam, crossEntropy, Linear, ReLU, scope, Sequential, tensor } from "glassbox";
 * const model = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 2));
 * const opt = new Adam(model.parameters(), { lr: 0.01 });
 * const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
 * const y = tensor([0, 1, 1, 0], undefined, { dtype: "int32" });
 * for (let i = 0; i < 200; i++) {
 *   await scope(async () => {
 *     opt.zeroGrad();
 *     const loss = crossEntropy(model.forward(x), y);
 *     await loss.backward();
 *     opt.step();
 *   });
 * }
 * ```
 * @module
 */
// first: under Deno, the environment sets the engine's switches (and XDG_RUNTIME_DIR) before
// src/gpu/device.ts requests the adapter
import "./src/io/env.ts";
export * from "./src/gpu/mod.ts";
export * from "./src/tensor/mod.ts";
export * from "./src/nn/mod.ts";
export * from "./src/optim/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/models/mod.ts";
export * from "./src/io/mod.ts";
export * from "./src/inspect/mod.ts";
export * from "./src/viz/mod.ts";
export * from "./src/explain/mod.ts";
export * from "./src/compress/mod.ts";
export * from "./src/diagnose/mod.ts";
export * from "./src/report/mod.ts";
export * from "./src/serve/mod.ts";
export * from "./src/apps/mod.ts";
