/**
 * Nearest-neighbour search throughput (queries/s) over a bank of 60,000 vectors: glassbox's GPU
 * search (one matmul per bank chunk, GPU top-k, k results read back), a plain CPU loop
 * (Float32Array distances, the same top-k rule: nearest first, ties to the lower index) and
 * TensorFlow.js WASM (tf.matMul + tf.topk) in the same run, on the same data; the indices of
 * all three are compared query by query.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import * as gb from "../mod.ts";
import { useBackend } from "./explain_models.ts";
import { time } from "./harness.ts";

/** One row of the table: a query batch size and each engine's queries per second. */
export interface NeighbourRow {
  queries: number;
  glassbox: number;
  cpu: number;
  wasm: number;
  /** queries (of those the CPU loop ran) whose k indices all three engines agree on */
  agree: number;
  compared: number;
}

function data(n: number, dim: number, seed: number): Float32Array {
  const g = new gb.Generator(seed);
  return Float32Array.from({ length: n * dim }, () => g.random() * 2 - 1);
}

/** The CPU loop: squared distances to every bank row, a sorted list of the k best. */
function cpuSearch(bank: Float32Array, q: Float32Array, dim: number, k: number): Int32Array {
  const n = bank.length / dim, Q = q.length / dim;
  const out = new Int32Array(Q * k);
  const bd = new Float64Array(k), bi = new Int32Array(k);
  for (let r = 0; r < Q; r++) {
    let count = 0;
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const t = q[r * dim + j] - bank[i * dim + j];
        d += t * t;
      }
      if (count === k && d >= bd[k - 1]) continue;
      let p = Math.min(count, k - 1);
      while (p > 0 && d < bd[p - 1]) {
        bd[p] = bd[p - 1];
        bi[p] = bi[p - 1];
        p--;
      }
      bd[p] = d;
      bi[p] = i;
      count = Math.min(count + 1, k);
    }
    out.set(bi, r * k);
  }
  return out;
}

/** Runs the comparison: N bank rows of D numbers, k neighbours, for each query batch size. */
export async function benchNeighbours(quick: boolean): Promise<NeighbourRow[]> {
  const N = 60000, D = 128, k = 10;
  const sizes = quick ? [1, 64] : [1, 64, 1024];
  const bank = data(N, D, 1);
  using index = new gb.NeighbourIndex(bank, D);
  await useBackend("wasm");
  const tbank = tf.tensor2d(bank, [N, D]);
  const tnorm = tf.sum(tf.square(tbank), 1);
  const rows: NeighbourRow[] = [];
  for (const Q of sizes) {
    const queries = data(Q, D, 100 + Q);
    const reps = quick ? 2 : 3;
    const ours = await time(async () => await index.search(queries, { k }), reps, 1);
    const got = await index.search(queries, { k });
    const wasmRun = () =>
      tf.tidy(() => {
        const tq = tf.tensor2d(queries, [Q, D]);
        // −(‖b‖² − 2q·b): the largest are the nearest (‖q‖² does not change the order)
        const score = tf.sub(tf.mul(tf.matMul(tq, tbank, false, true), 2), tnorm);
        return tf.topk(score, k).indices;
      });
    const wasmMs = await time(
      async () => {
        const t = wasmRun();
        await t.data();
        t.dispose();
      },
      reps,
      1,
    );
    const wt = wasmRun();
    const wasmIdx = new Int32Array(await wt.data());
    wt.dispose();
    // the CPU loop runs at most 64 queries (1024 would take minutes); its rate is per query
    const C = Math.min(Q, 64);
    const t0 = performance.now();
    const cpuIdx = cpuSearch(bank, queries.subarray(0, C * D), D, k);
    const cpuMs = performance.now() - t0;
    let agree = 0;
    for (let r = 0; r < C; r++) {
      const a = got.indices.subarray(r * k, (r + 1) * k).join(),
        b = cpuIdx.subarray(r * k, (r + 1) * k).join();
      const c = wasmIdx.subarray(r * k, (r + 1) * k).join();
      if (a === b && b === c) agree++;
    }
    rows.push({
      queries: Q,
      glassbox: Q / (ours / 1000),
      cpu: C / (cpuMs / 1000),
      wasm: Q / (wasmMs / 1000),
      agree,
      compared: C,
    });
  }
  tbank.dispose();
  tnorm.dispose();
  return rows;
}

/** Prints the table: queries/s per engine and glassbox's ratio to each. */
export function printNeighbours(rows: NeighbourRow[]): void {
  console.log("\nnearest neighbours, 60,000 × 128 bank, k = 10, Euclidean (queries/s, higher is faster)");
  console.log("queries  glassbox  cpu-loop  tfjs-wasm  ×cpu    ×wasm   same indices");
  for (const r of rows) {
    console.log(
      `${String(r.queries).padStart(7)}  ${r.glassbox.toFixed(1).padStart(8)}  ${
        r.cpu.toFixed(1).padStart(8)
      }  ${r.wasm.toFixed(1).padStart(9)}  ${(r.glassbox / r.cpu).toFixed(2).padStart(5)}  ${
        (r.glassbox / r.wasm).toFixed(2).padStart(5)
      }   ${r.agree}/${r.compared}`,
    );
  }
}
