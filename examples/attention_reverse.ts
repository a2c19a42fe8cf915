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
  attentionGradients,
  attentionGrid,
  attentionHeatmap,
  attentionRollout,
  captureAttention,
  createModel,
  crossEntropy,
  gather,
  headView,
  lineChart,
  makeReversalTask,
  manualSeed,
  noGrad,
  parseFlags,
  poolStats,
  runMain,
  saveModel,
  scope,
  type SequenceTask,
  sum,
  type Tensor,
  tensor,
  type TokenTransformer,
  writeTextAtomic,
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
  /** Training loss at step 1 and every 10th step. */
  losses: { step: number; loss: number }[];
  /** The buffer pool's live buffers and bytes after step `logEvery` (100) and at the end. */
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
      // the loss curve gets step 1 and every 10th (one readback each); the log every logEvery
      return step === 1 || step % 10 === 0 || step === steps ? await l.item() : NaN;
    });
    if (!Number.isNaN(loss)) losses.push({ step, loss });
    if (step % logEvery === 0 || step === steps) {
      log(`step ${step}/${steps}  loss ${loss.toFixed(4)}`);
      if (step === logEvery) {
        const p = poolStats();
        early = { buffers: p.liveBuffers, bytes: p.liveBytes };
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const p = poolStats(), end = { buffers: p.liveBuffers, bytes: p.liveBytes };
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

/** Token labels "position:digit" for one held-out sequence. */
function labels(task: SequenceTask, row: number): string[] {
  return Array.from({ length: task.length }, (_, i) => `${i}:${task.inputs[row * task.length + i]}`);
}

/**
 * Draws the trained model's attention on held-out sequence `row`: attention.svg (every layer ×
 * head), head_view.svg, rollout.svg and attention_grad.svg, into `out`.
 */
export async function drawReversal(r: ReversalResult, out: string, row = 0): Promise<string[]> {
  const { model, test } = r, n = test.length;
  const tokens = labels(test, row);
  const x = tensor(test.inputs.slice(row * n, (row + 1) * n), [1, n], { dtype: "int32" });
  const caps = await captureAttention(model, x);
  const perLayer: number[][][][] = [];
  for (const cap of caps) {
    const H = cap.weights.shape[1], w = await cap.weights.toArray();
    cap.weights.dispose();
    perLayer.push(
      Array.from(
        { length: H },
        (_, h) =>
          Array.from({ length: n }, (_, i) => Array.from(w.subarray((h * n + i) * n, (h * n + i + 1) * n))),
      ),
    );
  }
  const files: string[] = [];
  const write = async (name: string, svg: string) => {
    await writeTextAtomic(`${out}/${name}`, svg);
    files.push(`${out}/${name}`);
  };
  await write(
    "attention.svg",
    attentionGrid(
      perLayer.map((heads, l) =>
        heads.map((weights, h) => ({
          title: `layer ${l} · head ${h} (${(r.antiDiagonalMass[l][h] * 100).toFixed(0)}% on n−1−i)`,
          weights,
        }))
      ),
      tokens,
      tokens,
      `Reversal: attention on a held-out sequence (query i should read key ${n - 1}−i)`,
      "percentages: mean weight on the anti-diagonal over 250 held-out sequences",
    ),
  );
  const best = r.bestHead;
  await write(
    "head_view.svg",
    headView(perLayer[best.layer], tokens, tokens, `Head view, layer ${best.layer}: each query's attention`, {
      headNames: perLayer[best.layer].map((_, h) => `head ${h}${h === best.head ? " (most on n−1−i)" : ""}`),
    }),
  );
  await write(
    "rollout.svg",
    attentionHeatmap(
      attentionRollout(perLayer),
      tokens,
      tokens,
      "Attention rollout (Abnar & Zuidema 2020; the diagonal is the residual, 0.5·I)",
    ),
  );
  // attention × gradient for the right answer at every position (one backward pass: their sum)
  const target = tensor(test.targets.slice(row * n, (row + 1) * n), [1, n, 1], { dtype: "int32" });
  const grads = await attentionGradients(model, [x], (y) => sum(gather(y, 2, target)));
  target.dispose();
  x.dispose();
  for (const g of grads) {
    await write(
      `attention_grad_${g.layer.replace(/\./g, "_")}.svg`,
      attentionHeatmap(
        g.relevance[0],
        tokens,
        tokens,
        `Attention × gradient, ${g.layer}: head mean of (A ⊙ ∂logit/∂A)⁺`,
      ),
    );
  }
  await write(
    "loss.svg",
    lineChart([{ name: "training loss", points: r.losses.map((l) => [l.step, l.loss]) }], {
      title: "Reversal transformer: training loss",
      xLabel: "step",
      yLabel: "cross-entropy",
      logY: true,
    }),
  );
  return files;
}

const FLAGS = {
  steps: { type: "int", default: 2000, min: 1 },
  length: { type: "int", default: 8, min: 2 },
  batch: { type: "int", default: 64, min: 1 },
  seed: { type: "int", default: 0, min: 0 },
  out: { type: "string", default: "out/reverse" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags } = parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(
      "deno task reverse [--steps 2000] [--length 8] [--batch 64] [--seed 0] [--out out/reverse]\n" +
        "Trains a one-layer transformer to reverse digit sequences and draws what its attention learned.",
    );
    return;
  }
  const out = flags.out!;
  const r = await runReversal({
    steps: flags.steps,
    length: flags.length,
    batch: flags.batch,
    seed: flags.seed,
    log: console.log,
  });
  const files = await drawReversal(r, out);
  await saveModel(r.model, `${out}/model.safetensors`);
  const summary = {
    exactAccuracy: r.exactAccuracy,
    tokenAccuracy: r.tokenAccuracy,
    antiDiagonalMass: r.antiDiagonalMass,
    bestHead: r.bestHead,
    pool: r.pool,
    seconds: r.seconds,
    losses: r.losses,
  };
  await writeTextAtomic(`${out}/summary.json`, JSON.stringify(summary, null, 2));
  console.log(
    `exact-sequence accuracy ${(r.exactAccuracy * 100).toFixed(1)}% on ${r.test.count} held-out sequences ` +
      `(tokens ${
        (r.tokenAccuracy * 100).toFixed(1)
      }%); layer ${r.bestHead.layer} head ${r.bestHead.head} puts ` +
      `${(r.bestHead.mass * 100).toFixed(1)}% of its attention on position n−1−i; ${r.seconds.toFixed(0)} s`,
  );
  console.log(`wrote ${[...files, `${out}/model.safetensors`, `${out}/summary.json`].join(", ")}`);
}

if (import.meta.main) await runMain("reverse", main);
