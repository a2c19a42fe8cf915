/**
 * Compression benchmarks: inference of a batch of 256 MNIST-sized images through each compressed
 * variant of the seed CNN, against the float32 seed CNN in the same run, and against the float32
 * seed CNN on TensorFlow.js 4.22 (WebGPU on the same adapter, and WASM with XNNPACK), plus the
 * int8 layers alone against their float32 layers. Speed does not depend on what the weights
 * learned, so the variants are built from a freshly initialised model. Every timed region ends
 * with a readback.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// deno-lint-ignore no-import-prefix
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import process from "node:process";
import * as gb from "../mod.ts";
import { profileRow, tfSeedCnn, time } from "./harness.ts";

export interface CompressBench {
  /** Per variant: glassbox ms for 256 images. */
  variants: { name: string; ms: number }[];
  /** The float32 seed CNN on the peers, ms for 256 images. */
  webgpu: number;
  wasm: number;
  /**
   * The process's CPU time (all threads, user + system) per run, median ms,
   * per variant and for tfjs-wasm: a measure the other load on a shared machine moves less than
   * wall time (it stalls lavapipe's two threads more than tfjs-wasm's one).
   */
  cpu?: { variants: number[]; wasm: number };
  /** Single layers: float32 and int8 (both dot-product paths), ms. */
  layers: { name: string; float: number; builtin: number; unpack: number }[];
}

async function peer(backend: "webgpu" | "wasm", xs: Float32Array): Promise<number> {
  await tf.setBackend(backend);
  await tf.ready();
  const model = tfSeedCnn();
  const x = tf.tensor4d(xs, [256, 28, 28, 1]);
  const ms = await time(
    async () => {
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
    },
    5,
    2,
  );
  x.dispose();
  model.dispose();
  return ms;
}

/**
 * `int8: true` times only the rows issue 21's int8 work is measured by: the float32 seed CNN,
 * the int8 variants and tfjs-wasm (the pruned and student variants, tfjs-webgpu and the
 * layers-alone rows are skipped and read NaN / absent).
 */
export async function benchCompress(options: { int8?: boolean } = {}): Promise<CompressBench> {
  gb.manualSeed(0);
  const xs = new Float32Array(256 * 784).map((_, i) => Math.sin(i) * 0.5);
  const data = { x: xs, y: new Int32Array(256), sampleShape: [1, 28, 28] };
  const x = gb.tensor(xs, [256, 1, 28, 28]);
  const original = gb.createModel("seed-cnn") as gb.Sequential;
  original.eval();
  const paths: gb.Int8DotPath[] = gb.hasPackedIntegerDot() ? ["builtin", "unpack"] : ["unpack"];
  const variants: [string, gb.Module][] = [["float32 seed CNN", original]];
  if (!options.int8) {
    const pruned = gb.cloneModel(original);
    (await gb.magnitudePrune(pruned, { amount: 0.8, scope: "global" })).remove();
    const filters = (await gb.pruneFilters(original, "3", { amount: 0.5 })).model.eval();
    variants.push(["pruned 80% (dense kernels)", pruned], ["filters −50% (conv 2)", filters]);
  }
  for (const path of paths) {
    variants.push([
      `int8 (${path === "builtin" ? "dot4I8Packed" : "unpacking"})`,
      await gb.quantizeModel(original, data, { path }),
    ]);
  }
  if (!options.int8) {
    variants.push(["student CNN (12% of the parameters)", gb.createModel("student-cnn").eval()]);
  }
  const out: CompressBench = { variants: [], webgpu: NaN, wasm: 0, layers: [] };
  const forward = (m: gb.Module) => async () =>
    await gb.scope(async () => await gb.noGrad(() => m.forward(x)).toArray());
  {
    // rounds: each row once per round, tfjs-wasm included, so a busy moment of this shared
    // machine slows every row alike; the median over 7 rounds after 2 warm-up rounds (tfjs-webgpu,
    // 15× slower, is timed on its own after)
    setWasmPaths(new URL("./", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0")).href);
    await tf.setBackend("wasm");
    await tf.ready();
    const model = tfSeedCnn(), tx = tf.tensor4d(xs, [256, 28, 28, 1]);
    const runs = [
      ...variants.map(([, m]) => forward(m)),
      async () => {
        const y = model.predict(tx) as tf.Tensor;
        await y.data();
        y.dispose();
      },
    ];
    const ms: number[][] = runs.map(() => []), cpu: number[][] = runs.map(() => []);
    for (let round = 0; round < 9; round++) {
      for (const [i, run] of runs.entries()) {
        const c0 = process.cpuUsage(), t0 = performance.now();
        await run();
        const c = process.cpuUsage(c0);
        if (round >= 2) {
          ms[i].push(performance.now() - t0);
          cpu[i].push((c.user + c.system) / 1000);
        }
      }
    }
    const median = (a: number[]) => a.sort((p, q) => p - q)[a.length >> 1];
    variants.forEach(([name], i) => out.variants.push({ name, ms: median(ms[i]) }));
    out.wasm = median(ms[runs.length - 1]);
    out.cpu = { variants: variants.map((_, i) => median(cpu[i])), wasm: median(cpu[runs.length - 1]) };
    tx.dispose();
    model.dispose();
  }
  if (options.int8) return out;
  for (const [i, [name, m]] of variants.entries()) {
    // "What bounds each row"
    await profileRow(`seed CNN inference, 256 images: ${name}`, forward(m), out.variants[i].ms);
  }
  // the int8 layers alone
  const dense = new gb.Linear(1600, 128), conv = new gb.Conv2d(32, 64, 3);
  const xd = gb.randn([256, 1600]), xc = gb.randn([256, 32, 13, 13]);
  const qd = await gb.QuantizedLinear.fromLinear(dense, 4 / 127),
    qc = await gb.QuantizedConv2d.fromConv2d(conv, 4 / 127);
  for (
    const [name, f, q] of [
      ["dense 256×1600→128", () => dense.forward(xd), (p: gb.Int8DotPath) => qd.forward(xd, p)],
      ["conv 256×32×13×13→64, 3×3", () => conv.forward(xc), (p: gb.Int8DotPath) => qc.forward(xc, p)],
    ] as const
  ) {
    const run = (g: () => gb.Tensor) => async () => await gb.scope(async () => await gb.noGrad(g).toArray());
    out.layers.push({
      name,
      float: await time(run(f), 5, 2),
      builtin: paths.includes("builtin") ? await time(run(() => q("builtin")), 5, 2) : NaN,
      unpack: await time(run(() => q("unpack")), 5, 2),
    });
  }
  out.webgpu = await peer("webgpu", xs);
  return out;
}

export function printCompress(r: CompressBench): void {
  const base = r.variants[0].ms;
  console.log("\ncompressed seed CNN, inference of 256 images (median ms, readback included)");
  console.log(
    `float32 seed CNN on the peers: ${
      Number.isNaN(r.webgpu) ? "" : `tfjs-webgpu ${r.webgpu.toFixed(1)} ms, `
    }tfjs-wasm ${r.wasm.toFixed(1)} ms`,
  );
  const w = Math.max(...r.variants.map((v) => v.name.length));
  console.log(`| ${"variant".padEnd(w)} |   glassbox | vs float32 | vs tfjs-webgpu | vs tfjs-wasm |`);
  console.log(`| ${"-".repeat(w)} | ----------:| ----------:| --------------:| ------------:|`);
  for (const v of r.variants) {
    console.log(
      `| ${v.name.padEnd(w)} | ${(v.ms.toFixed(1) + " ms").padStart(10)} | ${
        (base / v.ms).toFixed(2).padStart(9)
      }× | ${Number.isNaN(r.webgpu) ? "—".padStart(14) : (r.webgpu / v.ms).toFixed(2).padStart(13) + "×"} | ${
        (r.wasm / v.ms).toFixed(2).padStart(11)
      }× |`,
    );
  }
  if (r.cpu) {
    const { variants, wasm } = r.cpu;
    console.log(`CPU time per run (all threads, median ms): tfjs-wasm ${wasm.toFixed(1)}`);
    r.variants.forEach((v, i) =>
      console.log(
        `  ${v.name.padEnd(w)} ${variants[i].toFixed(1)} ms (${
          (variants[0] / variants[i]).toFixed(2)
        }× float32)`,
      )
    );
  }
  if (r.layers.length === 0) return;
  console.log("\nint8 layers alone (median ms, readback included; speed-up against the float32 layer)");
  for (const l of r.layers) {
    const b = Number.isNaN(l.builtin)
      ? "n/a"
      : `${l.builtin.toFixed(1)} ms (${(l.float / l.builtin).toFixed(2)}×)`;
    console.log(
      `| ${l.name.padEnd(26)} | float32 ${l.float.toFixed(1)} ms | int8 dot4I8Packed ${b} | int8 unpacking ${
        l.unpack.toFixed(1)
      } ms (${(l.float / l.unpack).toFixed(2)}×) |`,
    );
  }
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  // --int8: only the float32 and int8 rows and tfjs-wasm
  const unknown = Deno.args.filter((a) => a !== "--int8");
  if (unknown.length) {
    console.error(
      `bench/compress.ts: unknown argument ${JSON.stringify(unknown[0])} (the only option is --int8)`,
    );
    Deno.exit(2);
  }
  printCompress(await benchCompress({ int8: Deno.args.includes("--int8") }));
}
