/**
 * Synthetic sequence tasks whose right answer is known, for checking what a sequence model
 * learned: reversal (output position i must read input position n − 1 − i) and delayed recall
 * (output at step t is the token seen k steps earlier: the model must remember over exactly k
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
 * Delayed recall: random tokens, and at every step t >= delay the target is the token of step
 * t − delay (earlier steps have no target, −1). A model that solves it remembers exactly `delay`
 * steps back.
 *
 * @example
 * ```ts
 * import { makeDelayTask } from "glassbox";
 * const t = makeDelayTask(1, { length: 6, delay: 3, seed: 2 });
 * t.targets[5] === t.inputs[2]; // true
 * ```
 */
export function makeDelayTask(
  count: number,
  options: { length?: number; delay?: number; vocab?: number; seed?: number } = {},
): SequenceTask {
  const length = options.length ?? 20, vocab = options.vocab ?? 4, delay = options.delay ?? 10;
  checkSizes("makeDelayTask", count, length, vocab);
  if (!Number.isInteger(delay) || delay < 0 || delay >= length) {
    throw new Error(`makeDelayTask: delay must be an integer in [0, ${length}), got ${delay}`);
  }
  const inputs = randomTokens(count, length, vocab, options.seed ?? 0);
  const targets = new Int32Array(count * length).fill(-1);
  for (let s = 0; s < count; s++) {
    for (let t = delay; t < length; t++) targets[s * length + t] = inputs[s * length + t - delay];
  }
  return { inputs, targets, count, length, vocab, firstTarget: delay };
}
