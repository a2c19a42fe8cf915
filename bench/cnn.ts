/**
 * CNN benchmarks against TensorFlow.js 4.22's WebGPU backend, same adapter, same process:
 * conv forward (64×1×28×28→32 and 64×32×14×14→64, 3×3, same padding), conv backward (input and
 * filter gradients), and the seed CNN's full training step at batch 64 (upload, forward,
 * backward, Adam, loss readback). Every timed region ends with a readback.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import * as gb from "../mod.ts";
import { printTable, type Row, seedCnnData, seedCnnStep, tfSeedCnn, time } from "./harness.ts";

export async function benchCnn(): Promise<Row[]> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const rows: Row[] = [];
  for (const [n, c, h, o] of [[64, 1, 28, 32], [64, 32, 14, 64]]) {
    const x = gb.randn([n, c, h, h]), w = gb.randn([o, c, 3, 3]);
    const tx = tf.randomNormal([n, h, h, c]) as tf.Tensor4D,
      tw = tf.randomNormal([3, 3, c, o]) as tf.Tensor4D;
    const label = `${n}×${c}×${h}×${h}→${o}`;
    rows.push({
      name: `conv forward ${label}`,
      ours: await time(async () => {
        const y = gb.conv2d(x, w, null, { padding: 1 });
        await y.toArray();
        y.dispose();
      }),
      peer: await time(async () => {
        const y = tf.conv2d(tx, tw, 1, "same");
        await y.data();
        y.dispose();
      }),
    });
    const xg = gb.randn([n, c, h, h], { requiresGrad: true }),
      wg = gb.randn([o, c, 3, 3], { requiresGrad: true });
    const dy = gb.randn([n, o, h, h]);
    const tdy = tf.randomNormal([n, h, h, o]) as tf.Tensor4D;
    rows.push({
      name: `conv backward (dx + dW) ${label}`,
      ours: await time(async () => {
        await gb.scope(async () => {
          const [gx, gw] = gb.grad(gb.conv2d(xg, wg, null, { padding: 1 }), [xg, wg], dy);
          await gx.slice(0, 1).toArray();
          await gw.toArray();
        });
      }),
      peer: await time(
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
    });
    [x, w, xg, wg, dy].forEach((t) => t.dispose());
    [tx, tw, tdy].forEach((t) => t.dispose());
  }

  // full training step, batch 64
  const { step } = seedCnnStep();
  const { xs, ys } = seedCnnData();
  const ours = await time(step, 7, 2);
  const tmodel = tfSeedCnn();
  const topt = tf.train.adam(1e-3);
  const peer = await time(
    async () => {
      const x = tf.tensor4d(xs, [64, 28, 28, 1]);
      const y = tf.oneHot(tf.tensor1d(ys, "int32"), 10);
      const cost = topt.minimize(
        () => tf.losses.softmaxCrossEntropy(y, tmodel.apply(x) as tf.Tensor) as tf.Scalar,
        true,
      );
      await cost!.data();
      [x, y, cost!].forEach((t) => t.dispose());
    },
    5,
    1,
  );
  rows.push({ name: "seed CNN training step, batch 64", ours, peer });
  return rows;
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printTable("CNN (median ms, readback included)", "tfjs-webgpu", await benchCnn());
}
