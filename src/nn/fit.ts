/**
 * A plain training loop for classifiers: shuffled mini-batches from a CPU dataset, one
 * optimizer step each, the loss read back once per step. Compression reuses it for
 * fine-tuning after pruning, quantization-aware training and distillation (a custom `loss`,
 * an `afterStep` that re-applies pruning masks).
 */
import { tensor } from "../tensor/create.ts";
import { crossEntropy } from "../tensor/ops/loss.ts";
import { Generator } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Dataset } from "./evaluate.ts";
import type { Module } from "./module.ts";

/** What `fit` needs of an optimizer (every glassbox optimizer has it). */
export interface StepOptimizer {
  /** Clears the gradients. */
  zeroGrad(): void;
  /** Updates the parameters from their gradients. */
  step(): void;
}

/** Options for `fit`. */
export interface FitOptions {
  /** The optimizer over the model's parameters. */
  optimizer: StepOptimizer;
  /** Passes over the data (default 1); `steps` stops earlier. */
  epochs?: number;
  /** Stop after this many steps in all. */
  steps?: number;
  /** Mini-batch size (default 64). */
  batchSize?: number;
  /** Train on the first `limit` samples only. */
  limit?: number;
  /** Seed of the shuffling (default 0). */
  seed?: number;
  /** The loss of a batch (default: mean cross-entropy of the logits). */
  loss?: (logits: Tensor, targets: Tensor, inputs: Tensor) => Tensor;
  /** Runs after every optimizer step (e.g. `() => pruning.enforce()`). */
  afterStep?: () => void;
  /** Called after every step with the step count, the planned total and the step's loss. */
  onStep?: (step: number, total: number, loss: number) => void;
}

/**
 * Trains `model` in place and returns the loss of every step.
 *
 * @example
 * ```ts
 * import { Adam, fit, Linear } from "glassbox";
 * const model = new Linear(2, 2);
 * const data = { x: Float32Array.from([1, 0, 0, 1]), y: Int32Array.from([0, 1]), sampleShape: [2] };
 * const { losses } = await fit(model, data, { optimizer: new Adam(model.parameters()), epochs: 5 });
 * ```
 */
export async function fit(model: Module, data: Dataset, options: FitOptions): Promise<{ losses: number[] }> {
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const count = Math.min(options.limit ?? data.y.length, data.y.length);
  if (count === 0) throw new Error("fit: the dataset has no samples");
  if (data.x.length < count * per) {
    throw new Error(`fit: x has ${data.x.length} values for ${count} samples of [${data.sampleShape}]`);
  }
  const bs = options.batchSize ?? 64, epochs = options.epochs ?? 1;
  if (!(bs >= 1) || !(epochs >= 1)) throw new Error(`fit: batchSize ${bs} and epochs ${epochs} must be ≥ 1`);
  const perEpoch = Math.ceil(count / bs);
  const total = Math.min(options.steps ?? Infinity, perEpoch * epochs);
  const rng = new Generator(options.seed ?? 0);
  const lossOf = options.loss ?? ((logits: Tensor, y: Tensor) => crossEntropy(logits, y));
  const wasTraining = model.training;
  model.train();
  const losses: number[] = [];
  const x = new Float32Array(bs * per), y = new Int32Array(bs);
  try {
    while (losses.length < total) {
      const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
      for (let s = 0; s < perEpoch && losses.length < total; s++) {
        const idx = order.slice(s * bs, (s + 1) * bs);
        idx.forEach((k, i) => {
          x.set(data.x.subarray(k * per, (k + 1) * per), i * per);
          y[i] = data.y[k];
        });
        const loss = await scope(async () => {
          const xb = tensor(x.subarray(0, idx.length * per), [idx.length, ...data.sampleShape]);
          const yb = tensor(y.subarray(0, idx.length), [idx.length], { dtype: "int32" });
          options.optimizer.zeroGrad();
          const l = lossOf(model.forward(xb), yb, xb);
          await l.backward();
          options.optimizer.step();
          options.afterStep?.();
          return await l.item();
        });
        if (!Number.isFinite(loss)) {
          throw new Error(`fit: the loss became ${loss} at step ${losses.length + 1}`);
        }
        losses.push(loss);
        options.onStep?.(losses.length, total, loss);
      }
    }
  } finally {
    model.train(wasTraining);
  }
  return { losses };
}
