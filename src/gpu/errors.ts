/**
 * Errors found by kernels. A kernel that validates its input (for example, that a class index
 * is in range) writes a code into this small buffer; it is read with the next readback, which
 * then throws a message naming the op and the bad value instead of returning garbage.
 */
import { device } from "./device.ts";

let flags: GPUBuffer | null = null;
let used = false;

/** Error codes a kernel can set, with how to describe them. */
const MESSAGES: Record<number, (value: number, limit: number) => string> = {
  1: (v, n) => `crossEntropy: target class index ${v} is out of range [0, ${n})`,
  2: (v, n) => `gather: index ${v} is out of range [0, ${n})`,
  3: (v, n) => `embedding: token index ${v} is out of range [0, ${n}) (the table has ${n} rows)`,
  4: (v, n) =>
    `${
      labels[n] ?? "int8"
    }: sample ${v} has a NaN input; int8 has no NaN (it was quantized to 0 and the output is wrong)`,
};

/** Names a kernel can report by number (each name once). */
const labels: string[] = [];

/** @internal the number a kernel reports for `name` (a layer's label in a message). */
export function flagLabel(name: string): number {
  let i = labels.indexOf(name);
  if (i < 0) i = labels.push(name) - 1;
  return i;
}

/** @internal the flags buffer, to bind in a validating kernel. */
export function errorFlags(): GPUBuffer {
  if (!flags) {
    flags = device().createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }
  used = true;
  return flags;
}

/** @internal whether a validating kernel ran since the last check. */
export function flagsPending(): boolean {
  return used;
}

/** @internal turns the read flags into an error (and clears them). */
export function decodeFlags(words: Uint32Array): Error | null {
  used = false;
  if (words[0] === 0) return null;
  const code = words[0];
  const err = new Error(MESSAGES[code]?.(words[1] | 0, words[2]) ?? `kernel error code ${code}`);
  device().queue.writeBuffer(flags!, 0, new Uint32Array(4));
  return err;
}
