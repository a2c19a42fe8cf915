/** Timing helpers shared by the benchmarks: medians over repeated runs, the table, the seed CNN step. */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// deno-lint-ignore no-import-prefix
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import * as gb from "../mod.ts";
import { seedCnn } from "../mod.ts";

export interface Row {
  name: string;
  ours: number;
  peer: number;
  unit?: string;
}

/** Switches TensorFlow.js to `backend` (tfjs-wasm's .wasm files come from its npm package). */
export async function useTfBackend(backend: "wasm" | "webgpu"): Promise<void> {
  if (backend === "wasm") {
    setWasmPaths(new URL("./", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0")).href);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend ${backend} is not available`);
  await tf.ready();
}

/**
 * Times workloads on glassbox (`ours`, with their names) and then on tfjs-webgpu and tfjs-wasm
 * (`peer`, called once per backend, returning the times in the same order): one row each.
 */
export async function withTfPeers(
  ours: { name: string; ms: number }[],
  peer: () => Promise<number[]>,
): Promise<Row2[]> {
  await useTfBackend("webgpu");
  const webgpu = await peer();
  await useTfBackend("wasm");
  const wasm = await peer();
  return ours.map((r, i) => ({ name: r.name, ours: r.ms, webgpu: webgpu[i], wasm: wasm[i] }));
}

/** Median wall time (ms) of `run` after `warmup` untimed runs. `run` must include its readback. */
export async function time(run: () => Promise<unknown>, reps = 7, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/** Prints a table with the peer's time, ours, and the speed-up (peer / ours). */
export function printTable(title: string, peerName: string, rows: Row[]): void {
  console.log(`\n${title}`);
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  console.log(
    `| ${"workload".padEnd(w)} | ${peerName.padStart(14)} | ${"glassbox".padStart(10)} | speed-up |`,
  );
  console.log(`| ${"-".repeat(w)} | ${"-".repeat(14)}:| ${"-".repeat(10)}:| --------:|`);
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(w)} | ${(r.peer.toFixed(1) + " ms").padStart(14)} | ${
        (r.ours.toFixed(1) + " ms").padStart(10)
      } | ${(r.peer / r.ours).toFixed(2).padStart(7)}× |`,
    );
  }
}

/**
 * The seed CNN with Adam, and one full training step at batch 64 on fixed data: upload,
 * forward, backward, Adam update, loss readback.
 */
export function seedCnnStep(): { model: gb.Sequential; step: () => Promise<number> } {
  gb.manualSeed(0);
  const model = seedCnn();
  const opt = new gb.Adam(model.parameters(), { lr: 1e-3 });
  const { xs, ys } = seedCnnData();
  const step = () =>
    gb.scope(async () => {
      const x = gb.tensor(xs, [64, 1, 28, 28]);
      const y = gb.tensor(ys, [64], { dtype: "int32" });
      opt.zeroGrad();
      const loss = gb.crossEntropy(model.forward(x), y);
      await loss.backward();
      opt.step();
      return await loss.item();
    });
  return { model, step };
}

/** The seed CNN's input and labels as used by `seedCnnStep`, for a peer engine. */
export function seedCnnData(): { xs: Float32Array; ys: Int32Array } {
  return {
    xs: new Float32Array(64 * 784).map((_, i) => Math.sin(i) * 0.5),
    ys: Int32Array.from({ length: 64 }, (_, i) => i % 10),
  };
}

/** One workload timed on glassbox and on two peers. */
export interface Row2 {
  name: string;
  ours: number;
  webgpu: number;
  wasm: number;
}

/** Prints glassbox against TensorFlow.js's WebGPU and WASM backends, with both speed-ups. */
export function printTable2(title: string, rows: Row2[]): void {
  console.log(`\n${title}`);
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  const ms = (v: number) => (Number.isNaN(v) ? "n/a" : v.toFixed(1) + " ms").padStart(12);
  console.log(
    `| ${"workload".padEnd(w)} | ${"tfjs-webgpu".padStart(12)} | ${"tfjs-wasm".padStart(12)} | ${
      "glassbox".padStart(12)
    } | vs webgpu | vs wasm |`,
  );
  console.log(
    `| ${"-".repeat(w)} | ${"-".repeat(12)}:| ${"-".repeat(12)}:| ${"-".repeat(12)}:| --------:| -------:|`,
  );
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(w)} | ${ms(r.webgpu)} | ${ms(r.wasm)} | ${ms(r.ours)} | ${
        (r.webgpu / r.ours).toFixed(2).padStart(7)
      }× | ${Number.isNaN(r.wasm) ? "   n/a " : (r.wasm / r.ours).toFixed(2).padStart(6) + "×"} |`,
    );
  }
}

/** The seed CNN in TensorFlow.js (NHWC), for the peers. */
export function tfSeedCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: "relu" }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}
