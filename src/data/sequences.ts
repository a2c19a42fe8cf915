/**
 * Synthetic sequence tasks whose right answer is known, for checking what a sequence model
 * learned: reversal (output position i must read input position n − 1 − i) and delayed recall
 * (the last output is the token seen k steps earlier: the model must remember over exactly k
 * steps). Plain int32 arrays; seeded.
 */
import { Generator } from "../tensor/random.ts";

/** A batch of token sequences and per-position targets, row-major [count, length]. */
export interface SequenceTask {
  /** Input tokens [count · length]. */
  inputs: Int32Array;
  /** Target tokens [count · length]; positions before `firstTarget` have no target (−1). */
  targets: Int32Array;
  /** Sequences. */
  count: number;
  /** Tokens per sequence. */
  length: number;
  /** Token values are 0..vocab−1. */
  vocab: number;
  /** The first position that has a target (0 for reversal, k for delayed recall). */
  firstTarget: number;
}

function randomTokens(count: number, length: number, vocab: number, seed: number): Int32Array {
  const g = new Generator(seed);
  return Int32Array.from({ length: count * length }, () => g.int(vocab));
}

function checkSizes(op: string, count: number, length: number, vocab: number): void {
  for (const [name, v] of [["count", count], ["length", length], ["vocab", vocab]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${name} must be a positive integer, got ${v}`);
  }
}

/**
 * Sequences of random digits and their reversals: targets[i] = inputs[length − 1 − i].
 *
 * @example
 * ```ts
 * import { makeReversalTask } from "glassbox";
 * const t = makeReversalTask(2, { length: 4, seed: 1 });
 * t.targets[0] === t.inputs[3]; // true
 * ```
 */
export function makeReversalTask(
  count: number,
  options: { length?: number; vocab?: number; seed?: number } = {},
): SequenceTask {
  const length = options.length ?? 8, vocab = options.vocab ?? 10;
  checkSizes("makeReversalTask", count, length, vocab);
  const inputs = randomTokens(count, length, vocab, options.seed ?? 0);
  const targets = new Int32Array(count * length);
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < length; i++) targets[s * length + i] = inputs[s * length + length - 1 - i];
  }
  return { inputs, targets, count, length, vocab, firstTarget: 0 };
}

/**
 * Delayed recall: a symbol (0..symbols−1) at step 0, then `delay` distractor tokens
 * (symbols..symbols+distractors−1); the only target is at the last step, and it is the symbol
 * seen `delay` steps earlier (other steps have no target, −1). Chance is 1/symbols; a model
 * that solves it carries one token's worth of memory across exactly `delay` steps, and its
 * gradient must reach back as far.
 *
 * @example
 * ```ts
 * import { makeDelayTask } from "glassbox";
 * const t = makeDelayTask(1, { delay: 5, seed: 2 });
 * t.targets[5] === t.inputs[0]; // true: length delay + 1
 * ```
 */
export function makeDelayTask(
  count: number,
  options: { delay?: number; symbols?: number; distractors?: number; seed?: number } = {},
): SequenceTask {
  const delay = options.delay ?? 10, symbols = options.symbols ?? 4, distractors = options.distractors ?? 4;
  if (!Number.isInteger(delay) || delay < 1) {
    throw new Error(`makeDelayTask: delay must be a positive integer, got ${delay}`);
  }
  const length = delay + 1, vocab = symbols + distractors;
  checkSizes("makeDelayTask", count, length, symbols);
  checkSizes("makeDelayTask", count, length, distractors);
  const g = new Generator(options.seed ?? 0);
  const inputs = new Int32Array(count * length), targets = new Int32Array(count * length).fill(-1);
  for (let s = 0; s < count; s++) {
    inputs[s * length] = g.int(symbols);
    for (let t = 1; t < length; t++) inputs[s * length + t] = symbols + g.int(distractors);
    targets[s * length + delay] = inputs[s * length];
  }
  return { inputs, targets, count, length, vocab, firstTarget: delay };
}
