/**
 * Attribution benchmarks: glassbox against TensorFlow.js 4.22 on its WebGPU backend (the same
 * adapter) and its WASM backend (XNNPACK, SIMD), each computing the same thing on the seed
 * CNN in the same process: Integrated Gradients (50 Gauss–Legendre steps) for one MNIST-sized
 * image and for a batch of 16, Saliency for 64 images, and Occlusion (4×4 windows, stride 2:
 * 169 perturbed copies) for one image. Every timed region ends with the attributions read back.
 *
 * `deno run … bench/explain.ts [word …]` times only the rows whose name contains one of the words
 * (case-insensitive), e.g. `occlusion`, on all three engines in the same process.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// deno-lint-ignore no-import-prefix
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import * as gb from "../mod.ts";
import { printTable2, profileRow, type Row2, tfSeedCnn, time } from "./harness.ts";

const STEPS = 50;

/** Occlusion windows: 4×4 at stride 2 over 28×28, as 0/1 rows [169, 784]. */
function windows(): Float32Array {
  const n = 13, m = new Float32Array(n * n * 784);
  for (let g = 0; g < n * n; g++) {
    const y0 = 2 * Math.floor(g / n), x0 = 2 * (g % n);
    for (let y = y0; y < y0 + 4; y++) for (let x = x0; x < x0 + 4; x++) m[g * 784 + y * 28 + x] = 1;
  }
  return m;
}

/** The rows, in order. */
const NAMES = [
  "Integrated Gradients, 50 steps, 1 image",
  "Integrated Gradients, 50 steps, 16 images",
  "Saliency, 64 images",
  "Occlusion 4×4 stride 2, 1 image",
];

/** Whether row i is timed: every row without words, else the rows whose name contains one of them. */
function wanted(words: readonly string[], i: number): boolean {
  return words.length === 0 || words.some((w) => NAMES[i].toLowerCase().includes(w.toLowerCase()));
}

/** The median ms of the wanted rows, NaN for the others. */
async function timeRows(words: readonly string[], runs: (() => Promise<number>)[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs.length; i++) out.push(wanted(words, i) ? await runs[i]() : NaN);
  return out;
}

/** The four workloads on one tfjs backend: median ms each (NaN for a row not wanted). */
async function peer(
  backend: "webgpu" | "wasm",
  xs: Float32Array,
  targets: number[],
  words: readonly string[],
): Promise<number[]> {
  await tf.setBackend(backend);
  await tf.ready();
  const model = tfSeedCnn();
  const { alphas, weights } = gb.integrationPoints("gausslegendre", STEPS);
  const ig = (n: number) => async () => {
    const r = tf.tidy(() => {
      const x = tf.tensor4d(xs.subarray(0, n * 784), [n, 28, 28, 1]);
      const rows = tf.mul(x.reshape([n, 1, 28, 28, 1]), tf.tensor(alphas, [1, STEPS, 1, 1, 1])).reshape([
        n * STEPS,
        28,
        28,
        1,
      ]);
      const sel = tf.oneHot(
        tf.tensor1d(targets.slice(0, n).flatMap((t) => new Array(STEPS).fill(t)), "int32"),
        10,
      );
      const g = tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(model.apply(inp) as tf.Tensor, sel)))(rows);
      const avg = tf.sum(
        tf.mul(g.reshape([n, STEPS, 28, 28, 1]), tf.tensor(weights, [1, STEPS, 1, 1, 1])),
        1,
      );
      return tf.mul(avg, x);
    });
    await r.data();
    r.dispose();
  };
  const saliency = async () => {
    const r = tf.tidy(() => {
      const x = tf.tensor4d(xs, [64, 28, 28, 1]);
      const sel = tf.oneHot(tf.tensor1d(targets, "int32"), 10);
      return tf.abs(tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(model.apply(inp) as tf.Tensor, sel)))(x));
    });
    await r.data();
    r.dispose();
  };
  const masks = windows();
  const occlusion = async () => {
    const r = tf.tidy(() => {
      const x = tf.tensor2d(xs.subarray(0, 784), [1, 784]);
      const m = tf.tensor2d(masks, [169, 784]);
      const perturbed = tf.mul(x, tf.sub(1, m)).reshape([169, 28, 28, 1]);
      const all = tf.concat([x.reshape([1, 28, 28, 1]), perturbed], 0);
      const out = (model.apply(all) as tf.Tensor2D).slice([0, targets[0]], [170, 1]).reshape([170]);
      const drop = tf.sub(out.slice([0], [1]), out.slice([1], [169]));
      const counts = tf.sum(m, 0);
      return tf.div(tf.matMul(drop.reshape([1, 169]), m), tf.maximum(counts, 1));
    });
    await r.data();
    r.dispose();
  };
  const out = await timeRows(words, [
    () => time(ig(1), 5, 1),
    () => time(ig(16), 3, 1),
    () => time(saliency, 5, 1),
    () => time(occlusion, 5, 1),
  ]);
  model.dispose();
  return out;
}

/** The attribution rows on glassbox, tfjs-webgpu and tfjs-wasm; with `words`, only the rows they name. */
export async function benchExplain(words: readonly string[] = []): Promise<Row2[]> {
  if (!NAMES.some((_, i) => wanted(words, i))) {
    throw new Error(
      `bench/explain.ts: no row matches ${JSON.stringify(words)}; the rows: ${NAMES.join("; ")}`,
    );
  }
  setWasmPaths(new URL("./", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0")).href);
  gb.manualSeed(0);
  const model = gb.seedCnn();
  model.eval();
  const xs = new Float32Array(64 * 784).map((_, i) => Math.sin(i * 0.37) * 0.8);
  const targets = Array.from({ length: 64 }, (_, i) => i % 10);
  const x64 = gb.tensor(xs, [64, 1, 28, 28]);
  const x16 = x64.slice(0, 16), x1 = x64.slice(0, 1);
  const ig = new gb.IntegratedGradients(model), sal = new gb.Saliency(model), occ = new gb.Occlusion(model);
  const read = (p: () => Promise<gb.Tensor>) => async () => {
    const a = await p();
    await a.toArray();
    a.dispose();
  };
  const runs = [
    read(() => ig.attribute(x1, { target: targets[0], nSteps: STEPS })),
    read(() => ig.attribute(x16, { target: targets.slice(0, 16), nSteps: STEPS })),
    read(() => sal.attribute(x64, { target: targets })),
    read(() => occ.attribute(x1, { target: targets[0], slidingWindowShapes: [1, 4, 4], strides: [1, 2, 2] })),
  ];
  const reps = [[5, 1], [3, 1], [5, 1], [5, 1]];
  const ours = await timeRows(words, runs.map((run, i) => () => time(run, reps[i][0], reps[i][1])));
  // "What bounds each row" (printed by bench/run.ts): each timed row once more under profile()
  for (let i = 0; i < runs.length; i++) if (wanted(words, i)) await profileRow(NAMES[i], runs[i], ours[i]);
  const webgpu = await peer("webgpu", xs, targets, words);
  const wasm = await peer("wasm", xs, targets, words);
  return NAMES.map((name, i) => ({ name, ours: ours[i], webgpu: webgpu[i], wasm: wasm[i] }))
    .filter((_, i) => wanted(words, i));
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printTable2("attribution, seed CNN (median ms, readback included)", await benchExplain(Deno.args));
}
