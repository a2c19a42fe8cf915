/**
 * Engine-core benchmarks against TensorFlow.js 4.22's WebGPU backend (on the same adapter) and its
 * WASM backend (XNNPACK, SIMD), in the same process: the fixed cost of one readback, matmul
 * (single, and ten queued with one readback), a large elementwise op, and the tabular MLP training
 * step. Every timed region ends with a readback of the result.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import * as gb from "../mod.ts";
import { tabularMlp } from "../mod.ts";
import { printTable2, type Row2, time, withTfPeers } from "./harness.ts";

/** `bench/core.ts --only <word>`: only the workloads of that group (readback, matmul, elementwise, mlp). */
let only = "";
const want = (group: string) => only === "" || group === only;

/** The workloads on glassbox, with their names, in the order `tfCore` times them. */
async function oursCore(): Promise<{ name: string; ms: number }[]> {
  const rows: { name: string; ms: number }[] = [];
  if (want("readback")) {
    const x = gb.tensor([1, 2, 3, 4]);
    rows.push({
      name: "readback floor: 4-element op + readback",
      ms: await time(
        async () => {
          const y = gb.add(x, 1);
          await y.toArray();
          y.dispose();
        },
        15,
        3,
      ),
    });
    x.dispose();
  }
  for (const n of want("matmul") ? [256, 512, 1024] : []) {
    const a = gb.randn([n, n]), b = gb.randn([n, n]);
    rows.push({
      name: `matmul ${n}³`,
      ms: await time(async () => {
        const c = gb.matmul(a, b);
        await c.toArray();
        c.dispose();
      }),
    });
    if (n === 512) {
      rows.push({
        name: `10 × matmul ${n}³, one readback`,
        ms: await time(
          async () => {
            await gb.scope(async () => {
              let last: gb.Tensor | null = null;
              for (let i = 0; i < 10; i++) last = gb.matmul(a, b);
              await last!.toArray();
            });
          },
          5,
          1,
        ),
      });
    }
    a.dispose();
    b.dispose();
  }
  if (want("elementwise")) {
    const n = 4 * 1024 * 1024;
    const a = gb.randn([n]), b = gb.randn([n]);
    rows.push({
      name: "elementwise (a+b)·a, 4M",
      ms: await time(async () => {
        const c = gb.mul(gb.add(a, b), a);
        await c.toArray();
        gb.flush();
        c.dispose();
      }),
    });
    a.dispose();
    b.dispose();
  }
  if (want("mlp")) {
    // tabular MLP 100→10→10→1, batch 32, BCE on logits, Adam
    gb.manualSeed(0);
    const model = tabularMlp();
    const opt = new gb.Adam(model.parameters(), { lr: 0.01 });
    const x = gb.randn([32, 100]), y = gb.tensor(new Float32Array(32).map((_, i) => i % 2), [32, 1]);
    rows.push({
      name: "tabular MLP train step (batch 32)",
      ms: await time(
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
      ),
    });
  }
  return rows;
}

/** The same workloads on TensorFlow.js's current backend, in the same order. */
async function tfCore(): Promise<number[]> {
  const out: number[] = [];
  if (want("readback")) {
    const x = tf.tensor1d([1, 2, 3, 4]);
    out.push(
      await time(
        async () => {
          const y = tf.add(x, 1);
          await y.data();
          y.dispose();
        },
        15,
        3,
      ),
    );
    x.dispose();
  }
  for (const n of want("matmul") ? [256, 512, 1024] : []) {
    const ta = tf.randomNormal([n, n]), tb = tf.randomNormal([n, n]);
    out.push(
      await time(async () => {
        const c = tf.matMul(ta, tb);
        await c.data();
        c.dispose();
      }),
    );
    if (n === 512) {
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
      out.push(peer10);
    }
    ta.dispose();
    tb.dispose();
  }
  if (want("elementwise")) {
    const n = 4 * 1024 * 1024;
    const ta = tf.randomNormal([n]), tb = tf.randomNormal([n]);
    out.push(
      await time(async () => {
        const c = tf.tidy(() => tf.mul(tf.add(ta, tb), ta));
        await c.data();
        c.dispose();
      }),
    );
    ta.dispose();
    tb.dispose();
  }
  if (want("mlp")) {
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
    out.push(peer);
    [w1, b1, w2, b2, w3, b3, tx, ty].forEach((t) => t.dispose());
    topt.dispose();
  }
  return out;
}

/** Every core workload on glassbox, tfjs-webgpu and tfjs-wasm (median ms, readback included). */
export async function benchCore(): Promise<Row2[]> {
  return withTfPeers(await oursCore(), tfCore);
}

if (import.meta.main) {
  only = Deno.args[0] === "--only" ? Deno.args[1] ?? "" : "";
  const groups = ["readback", "matmul", "elementwise", "mlp"];
  if (only && !groups.includes(only)) throw new Error(`--only ${only}: choose one of ${groups.join(", ")}`);
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printTable2("engine core (median ms, readback included)", await benchCore());
}
