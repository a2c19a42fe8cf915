/**
 * A small transformer learns to reverse a sequence of digits. The right attention pattern is
 * known: output position i must read input position n − 1 − i, so the attention maps of a model
 * that solved the task should show the anti-diagonal, and this example checks that they do.
 *
 *   deno run --allow-read --allow-write --allow-env examples/attention_reverse.ts [--steps 2000] [--out out/reverse]
 *
 * Writes to the output folder: attention.svg (every layer × head on one held-out sequence),
 * head_view.svg (lines from each token to what it attends to), rollout.svg, attention_grad.svg
 * (attention × gradient for one output position), summary.json and model.safetensors.
 */
import {
  Adam,
  captureAttention,
  createModel,
  crossEntropy,
  keep,
  makeReversalTask,
  manualSeed,
  noGrad,
  poolStats,
  scope,
  type SequenceTask,
  type Tensor,
  tensor,
  type TokenTransformer,
} from "../mod.ts";

/** What a run reports. */
export interface ReversalResult {
  /** Fraction of held-out sequences reversed exactly (every position right). */
  exactAccuracy: number;
  /** Fraction of held-out positions right. */
  tokenAccuracy: number;
  /** Per layer and head: the mean attention weight on position n − 1 − i over held-out queries. */
  antiDiagonalMass: number[][];
  /** The head with the most anti-diagonal mass. */
  bestHead: { layer: number; head: number; mass: number };
  /** Training loss every `logEvery` steps. */
  losses: { step: number; loss: number }[];
  /** The buffer pool's live buffers and bytes after the first logged step and at the end. */
  pool: { early: { buffers: number; bytes: number }; end: { buffers: number; bytes: number } };
  /** Wall-clock seconds of training. */
  seconds: number;
  /** The trained model (yours to dispose). */
  model: TokenTransformer;
  /** The held-out sequences. */
  test: SequenceTask;
}

/** Options for `runReversal`. */
export interface ReversalOptions {
  steps?: number;
  length?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  dModel?: number;
  nhead?: number;
  layers?: number;
  logEvery?: number;
  log?: (line: string) => void;
}

function batchOf(task: SequenceTask, rows: number[]): { x: Tensor; y: Tensor } {
  const n = task.length;
  const xs = new Int32Array(rows.length * n), ys = new Int32Array(rows.length * n);
  rows.forEach((r, k) => {
    xs.set(task.inputs.subarray(r * n, (r + 1) * n), k * n);
    ys.set(task.targets.subarray(r * n, (r + 1) * n), k * n);
  });
  return {
    x: tensor(xs, [rows.length, n], { dtype: "int32" }),
    y: tensor(ys, [rows.length * n], { dtype: "int32" }),
  };
}

/** Trains the reversal transformer and measures what its attention learned. */
export async function runReversal(options: ReversalOptions = {}): Promise<ReversalResult> {
  const steps = options.steps ?? 2000, n = options.length ?? 8, batch = options.batch ?? 64;
  const seed = options.seed ?? 0, logEvery = options.logEvery ?? 100;
  const log = options.log ?? (() => {});
  manualSeed(seed);
  const model = createModel("token-transformer", {
    vocab: 10,
    dModel: options.dModel ?? 32,
    nhead: options.nhead ?? 2,
    layers: options.layers ?? 1,
    maxLen: n,
  }) as TokenTransformer;
  const train = makeReversalTask(steps * batch, { length: n, seed: seed + 1 });
  const test = makeReversalTask(1000, { length: n, seed: seed + 2 });
  const opt = new Adam(model.parameters(), { lr: options.lr ?? 3e-3 });
  const losses: { step: number; loss: number }[] = [];
  let early = { buffers: 0, bytes: 0 };
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const rows = Array.from({ length: batch }, (_, k) => (step - 1) * batch + k);
    const loss = await scope(async () => {
      const { x, y } = batchOf(train, rows);
      opt.zeroGrad();
      const l = crossEntropy(model.forward(x).reshape([batch * n, 10]), y);
      await l.backward();
      opt.step();
      return step % logEvery === 0 || step === steps ? await l.item() : NaN;
    });
    if (!Number.isNaN(loss)) {
      losses.push({ step, loss });
      log(`step ${step}/${steps}  loss ${loss.toFixed(4)}`);
      if (losses.length === 1) early = poolStats();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const end = poolStats();
  const { exact, tokens } = await accuracy(model, test);
  const antiDiagonalMass = await antiDiagonal(model, test);
  let bestHead = { layer: 0, head: 0, mass: -1 };
  antiDiagonalMass.forEach((heads, layer) =>
    heads.forEach((mass, head) => {
      if (mass > bestHead.mass) bestHead = { layer, head, mass };
    })
  );
  return {
    exactAccuracy: exact,
    tokenAccuracy: tokens,
    antiDiagonalMass,
    bestHead,
    losses,
    pool: {
      early: { buffers: early.buffers, bytes: early.bytes },
      end: { buffers: end.buffers, bytes: end.bytes },
    },
    seconds,
    model,
    test,
  };
}

/** Exact-sequence and per-token accuracy on the task, in batches of 250. */
export async function accuracy(
  model: TokenTransformer,
  task: SequenceTask,
): Promise<{ exact: number; tokens: number }> {
  const n = task.length;
  let exact = 0, right = 0;
  for (let s0 = 0; s0 < task.count; s0 += 250) {
    const rows = Array.from({ length: Math.min(250, task.count - s0) }, (_, k) => s0 + k);
    const pred = await scope(async () => {
      const { x } = batchOf(task, rows);
      return await noGrad(() => model.forward(x).argmax(-1)).toArray();
    });
    rows.forEach((r, k) => {
      let all = true;
      for (let i = 0; i < n; i++) {
        const ok = pred[k * n + i] === task.targets[r * n + i];
        right += ok ? 1 : 0;
        all &&= ok;
      }
      exact += all ? 1 : 0;
    });
  }
  return { exact: exact / task.count, tokens: right / (task.count * n) };
}

/** Per layer and head, the mean weight query i puts on key n − 1 − i (over up to 250 sequences). */
async function antiDiagonal(model: TokenTransformer, task: SequenceTask): Promise<number[][]> {
  const n = task.length, count = Math.min(250, task.count);
  const restore = model.enterEval();
  try {
    const { x } = batchOf(task, Array.from({ length: count }, (_, k) => k));
    const caps = await captureAttention(model, x);
    x.dispose();
    const out: number[][] = [];
    for (const cap of caps) {
      const [B, H] = cap.weights.shape;
      const w = await cap.weights.toArray();
      cap.weights.dispose();
      out.push(Array.from({ length: H }, (_, h) => {
        let s = 0;
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < n; i++) s += w[((b * H + h) * n + i) * n + (n - 1 - i)];
        }
        return s / (B * n);
      }));
    }
    return out;
  } finally {
    restore();
  }
}

if (import.meta.main) {
  const r = await runReversal({ log: console.log });
  console.log(
    `exact-sequence accuracy ${(r.exactAccuracy * 100).toFixed(1)}%, tokens ${
      (r.tokenAccuracy * 100).toFixed(1)
    }%, ` +
      `best head layer ${r.bestHead.layer} head ${r.bestHead.head}: ${
        (r.bestHead.mass * 100).toFixed(1)
      }% on n−1−i, ${r.seconds.toFixed(1)} s`,
  );
  console.log(JSON.stringify(r.antiDiagonalMass), JSON.stringify(r.pool));
}
