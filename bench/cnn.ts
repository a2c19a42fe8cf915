/**
 * CNN benchmarks against TensorFlow.js 4.22's WebGPU backend (same adapter) and its WASM backend
 * (XNNPACK), same process: conv forward (64×1×28×28→32 and 64×32×14×14→64, 3×3, same padding),
 * conv backward (input and filter gradients), and the seed CNN's full training step at batch 64
 * (upload, forward, backward, Adam, loss readback). Every timed region ends with a readback. A
 * peer that cannot run a workload (tfjs-wasm has no filter-gradient kernel for conv) gets NaN,
 * printed as "n/a".
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import * as gb from "../mod.ts";
import {
  printTable2,
  type Row2,
  seedCnnData,
  seedCnnStep,
  tfSeedCnn,
  time,
  type Timed,
  timeRow,
  withTfPeers,
} from "./harness.ts";

const SHAPES = [[64, 1, 28, 32], [64, 32, 14, 64]];

/** The workloads on glassbox, in the order `tfCnn` times them. */
async function oursCnn(): Promise<Timed[]> {
  const rows: Timed[] = [];
  for (const [n, c, h, o] of SHAPES) {
    const x = gb.randn([n, c, h, h]), w = gb.randn([o, c, 3, 3]);
    const label = `${n}×${c}×${h}×${h}→${o}`;
    rows.push(
      await timeRow(
        `conv forward ${label}`,
        async () => {
          const y = gb.conv2d(x, w, null, { padding: 1 });
          await y.toArray();
          y.dispose();
        },
      ),
    );
    const xg = gb.randn([n, c, h, h], { requiresGrad: true }),
      wg = gb.randn([o, c, 3, 3], { requiresGrad: true });
    const dy = gb.randn([n, o, h, h]);
    rows.push(
      await timeRow(
        `conv backward (dx + dW) ${label}`,
        async () => {
          await gb.scope(async () => {
            const [gx, gw] = gb.grad(gb.conv2d(xg, wg, null, { padding: 1 }), [xg, wg], dy);
            await gx.slice(0, 1).toArray();
            await gw.toArray();
          });
        },
      ),
    );
    [x, w, xg, wg, dy].forEach((t) => t.dispose());
  }
  const { step } = seedCnnStep();
  rows.push(await timeRow("seed CNN training step, batch 64", step, 7, 2));
  return rows;
}

/** Times `run`, or NaN when the backend cannot run it (a kernel it does not have). */
async function timeOrNaN(run: () => Promise<unknown>, reps?: number, warmup?: number): Promise<number> {
  try {
    return await time(run, reps, warmup);
  } catch (e) {
    console.error(`  (${tf.getBackend()}: ${String(e instanceof Error ? e.message : e).split("\n")[0]})`);
    return NaN;
  }
}

/** The same workloads on TensorFlow.js's current backend (NHWC), in the same order. */
async function tfCnn(): Promise<number[]> {
  const out: number[] = [];
  for (const [n, c, h, o] of SHAPES) {
    const tx = tf.randomNormal([n, h, h, c]) as tf.Tensor4D,
      tw = tf.randomNormal([3, 3, c, o]) as tf.Tensor4D;
    out.push(
      await timeOrNaN(async () => {
        const y = tf.conv2d(tx, tw, 1, "same");
        await y.data();
        y.dispose();
      }),
    );
    const tdy = tf.randomNormal([n, h, h, o]) as tf.Tensor4D;
    out.push(
      await timeOrNaN(
        async () => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
            tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same")
          );
          const [da, db] = g([tx, tw], tdy);
          await da.data();
          await db.data();
          [da, db].forEach((t) => t.dispose());
        },
        5,
        1,
      ),
    );
    [tx, tw, tdy].forEach((t) => t.dispose());
  }
  const { xs, ys } = seedCnnData();
  const tmodel = tfSeedCnn();
  const topt = tf.train.adam(1e-3);
  out.push(
    await timeOrNaN(
      async () => {
        const x = tf.tensor4d(xs, [64, 28, 28, 1]);
        const y = tf.oneHot(tf.tensor1d(ys, "int32"), 10);
        try {
          const cost = topt.minimize(
            () => tf.losses.softmaxCrossEntropy(y, tmodel.apply(x) as tf.Tensor) as tf.Scalar,
            true,
          );
          await cost!.data();
          cost!.dispose();
        } finally {
          [x, y].forEach((t) => t.dispose());
        }
      },
      5,
      1,
    ),
  );
  tmodel.dispose();
  topt.dispose();
  return out;
}

/** Every CNN workload on glassbox, tfjs-webgpu and tfjs-wasm (median ms, readback included). */
export function benchCnn(): Promise<Row2[]> {
  return withTfPeers(oursCnn, tfCnn);
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printTable2("CNN (median ms, readback included)", await benchCnn());
}
