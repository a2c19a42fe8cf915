/**
 * Sequence-model benchmarks: glassbox against TensorFlow.js 4.22 on its WebGPU backend (the same
 * adapter) and its WASM backend (XNNPACK, SIMD), same computation, same process:
 *   - scaled dot-product attention, forward and backward (batch 8, 4 heads of 16, sequence 64
 *     and 256): the gradients of Σ(out ⊙ w) with respect to q, k and v, read back;
 *   - an LSTM layer (input 32, hidden 64, batch 32) over 64 steps, forward and backward: the
 *     gradients with respect to the input and every weight, read back.
 * Also glassbox's fused attention kernel against the same attention composed from matmul and
 * softmax (what it replaced).
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import * as gb from "../mod.ts";
import {
  printTable,
  printTable2,
  type Row,
  type Row2,
  time,
  type Timed,
  timeRow,
  versus,
  withTfPeers,
} from "./harness.ts";

const B = 8, H = 4, D = 16;
const LB = 32, LT = 64, LI = 32, LH = 64;

function data(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.8);
}

async function oursAttention(
  name: string,
  S: number,
  fused: boolean | "auto",
  options?: { bound?: boolean },
): Promise<Timed> {
  const n = B * H * S * D;
  const shape = [B, H, S, D];
  const q = gb.tensor(data(n, 1), shape, { requiresGrad: true });
  const k = gb.tensor(data(n, 2), shape, { requiresGrad: true });
  const v = gb.tensor(data(n, 3), shape, { requiresGrad: true });
  const w = gb.tensor(data(n, 4), shape);
  const run = () =>
    gb.scope(async () => {
      const out = fused ? gb.scaledDotProductAttention(q, k, v) : gb.matmul(gb.attentionWeights(q, k), v);
      const grads = gb.grad(gb.sum(gb.mul(out, w)), [q, k, v]);
      await Promise.all(grads.map((g) => g.toArray()));
    });
  const t = await timeRow(name, run, 5, 1, options);
  [q, k, v, w].forEach((x) => x.dispose());
  return t;
}

async function peerAttention(S: number): Promise<number> {
  const n = B * H * S * D, shape = [B, H, S, D];
  const [q, k, v, w] = [1, 2, 3, 4].map((s) =>
    tf.tensor4d(data(n, s), shape as [number, number, number, number])
  );
  const f = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => {
    const scores = tf.mul(tf.matMul(qq as tf.Tensor4D, kk as tf.Tensor4D, false, true), 1 / Math.sqrt(D));
    return tf.sum(tf.mul(tf.matMul(tf.softmax(scores), vv as tf.Tensor4D), w));
  };
  const run = async () => {
    const grads = tf.tidy(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a, b, c))([q, k, v])
    );
    await Promise.all(grads.map((g) => g.data()));
    grads.forEach((g) => g.dispose());
  };
  const t = await time(run, 5, 1);
  [q, k, v, w].forEach((x) => x.dispose());
  return t;
}

async function oursLstm(name: string): Promise<Timed> {
  gb.manualSeed(0);
  const layer = new gb.LSTM(LI, LH);
  const x = gb.tensor(data(LB * LT * LI, 5), [LB, LT, LI], { requiresGrad: true });
  const run = () =>
    gb.scope(async () => {
      const params = layer.parameters();
      const grads = gb.grad(gb.sum(layer.forward(x)), [x, ...params]);
      await Promise.all(grads.map((g) => g.toArray()));
    });
  const t = await timeRow(name, run, 3, 1);
  x.dispose();
  layer.parameters().forEach((p) => p.dispose());
  return t;
}

async function peerLstm(): Promise<number> {
  const layer = tf.layers.lstm({ units: LH, returnSequences: true, recurrentInitializer: "glorotUniform" });
  const x = tf.variable(tf.tensor3d(data(LB * LT * LI, 5), [LB, LT, LI]));
  const run = async () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor) as tf.Scalar);
    await Promise.all(Object.values(grads).map((g) => g.data()));
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  };
  const t = await time(run, 3, 1);
  x.dispose();
  if (layer.built) layer.dispose(); // not built when --only left the row out
  return t;
}

const NAMES = [
  `attention fwd+bwd, B ${B}, S 64, ${H} heads of ${D}`,
  `attention fwd+bwd, B ${B}, S 256, ${H} heads of ${D}`,
  `LSTM ${LI}→${LH} fwd+bwd, B ${LB}, ${LT} steps`,
];

/** The table rows: attention at S = 64 and 256, the LSTM; and fused against composed attention. */
export async function benchSequence(): Promise<{ peers: Row2[]; fused: Row[] }> {
  // as a user gets it (kernel "auto": fused at 64 keys, composed at 256), then each kernel forced
  const peers = await withTfPeers(
    async () => [
      await oursAttention(NAMES[0], 64, "auto"),
      await oursAttention(NAMES[1], 256, "auto"),
      await oursLstm(NAMES[2]),
    ],
    async () => [await peerAttention(64), await peerAttention(256), await peerLstm()],
  );
  const forced = (fused: boolean) => async () => [
    await oursAttention("attention fwd+bwd, S 64", 64, fused, { bound: false }),
    await oursAttention("attention fwd+bwd, S 256", 256, fused, { bound: false }),
  ];
  return { peers, fused: await versus(forced(true), forced(false)) };
}

/** Prints both tables of `benchSequence`. */
export function printSequence(r: { peers: Row2[]; fused: Row[] }): void {
  printTable2("sequence models (median ms, readback included)", r.peers);
  printTable(
    "glassbox attention: the fused kernel (glassbox column) against the composed ops",
    "composed",
    r.fused,
  );
}

if (import.meta.main) {
  console.log(`adapter: ${gb.adapterInfo().description}`);
  printSequence(await benchSequence());
}
