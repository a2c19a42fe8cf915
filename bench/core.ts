/**
 * Engine-core benchmarks against TensorFlow.js 4.22's WebGPU backend, on the same adapter in the
 * same process: matmul (single, and ten queued with one readback), a large elementwise op, and
 * the tabular MLP training step. Every timed region ends with a readback of the result.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import * as gb from "../mod.ts";
import { tabularMlp } from "../mod.ts";
import { printTable, type Row, time } from "./harness.ts";

export async function benchCore(): Promise<Row[]> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const rows: Row[] = [];

  for (const n of [256, 512, 1024]) {
    const a = gb.randn([n, n]), b = gb.randn([n, n]);
    const ta = tf.randomNormal([n, n]), tb = tf.randomNormal([n, n]);
    const ours = await time(async () => {
      const c = gb.matmul(a, b);
      await c.toArray();
      c.dispose();
    });
    const peer = await time(async () => {
      const c = tf.matMul(ta, tb);
      await c.data();
      c.dispose();
    });
    rows.push({ name: `matmul ${n}³`, ours, peer });
    if (n === 512) {
      const ours10 = await time(
        async () => {
          await gb.scope(async () => {
            let last: gb.Tensor | null = null;
            for (let i = 0; i < 10; i++) last = gb.matmul(a, b);
            await last!.toArray();
          });
        },
        5,
        1,
      );
      const peer10 = await time(
        async () => {
          const cs: tf.Tensor[] = [];
          for (let i = 0; i < 10; i++) cs.push(tf.matMul(ta, tb));
          await cs[9].data();
          cs.forEach((c) => c.dispose());
        },
        5,
        1,
      );
      rows.push({ name: `10 × matmul ${n}³, one readback`, ours: ours10, peer: peer10 });
    }
    a.dispose();
    b.dispose();
    ta.dispose();
    tb.dispose();
  }

  {
    const n = 4 * 1024 * 1024;
    const a = gb.randn([n]), b = gb.randn([n]);
    const ta = tf.randomNormal([n]), tb = tf.randomNormal([n]);
    const ours = await time(async () => {
      const c = gb.mul(gb.add(a, b), a);
      await c.toArray();
      gb.flush();
      c.dispose();
    });
    const peer = await time(async () => {
      const c = tf.tidy(() => tf.mul(tf.add(ta, tb), ta));
      await c.data();
      c.dispose();
    });
    rows.push({ name: "elementwise (a+b)·a, 4M", ours, peer });
  }

  {
    // tabular MLP 100→10→10→1, batch 32, BCE on logits, Adam
    gb.manualSeed(0);
    const model = tabularMlp();
    const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
    const x = gb.randn([32, 100]), y = gb.tensor(new Float32Array(32).map((_, i) => i % 2), [32, 1]);
    const ours = await time(
      () =>
        gb.scope(async () => {
          opt.zeroGrad();
          const loss = gb.binaryCrossEntropyWithLogits(model.forward(x), y);
          await loss.backward();
          opt.step();
          return await loss.item();
        }),
      21,
      5,
    );
    const w1 = tf.variable(tf.randomNormal([100, 10], 0, 0.1)), b1 = tf.variable(tf.zeros([10]));
    const w2 = tf.variable(tf.randomNormal([10, 10], 0, 0.3)), b2 = tf.variable(tf.zeros([10]));
    const w3 = tf.variable(tf.randomNormal([10, 1], 0, 0.3)), b3 = tf.variable(tf.zeros([1]));
    const tx = tf.randomNormal([32, 100]), ty = tf.tensor2d(Array.from({ length: 32 }, (_, i) => [i % 2]));
    const topt = tf.train.adam(0.01);
    const peer = await time(
      async () => {
        const cost = topt.minimize(() => {
          const h1 = tf.relu(tf.add(tf.matMul(tx, w1), b1));
          const h2 = tf.relu(tf.add(tf.matMul(h1, w2), b2));
          const out = tf.add(tf.matMul(h2, w3), b3);
          return tf.losses.sigmoidCrossEntropy(ty, out) as tf.Scalar;
        }, true);
        await cost!.data();
        cost!.dispose();
      },
      21,
      5,
    );
    rows.push({ name: "tabular MLP train step (batch 32)", ours, peer });
  }
  return rows;
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printTable("engine core (median ms, readback included)", "tfjs-webgpu", await benchCore());
}
