/**
 * Weight initialisation from the seeded generator (see `manualSeed`), with PyTorch's formulas.
 */
import { tensor } from "../tensor/create.ts";
import { defaultGenerator, type Generator } from "../tensor/random.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** fan_in and fan_out of a weight shape: [out, in, ...kernel] as in PyTorch. */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) return [shape[0] ?? 1, shape[0] ?? 1];
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

function fill(shape: readonly number[], f: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = f();
  return tensor(data, shape);
}

/** Uniform in [low, high). */
export function uniform(
  shape: readonly number[],
  low: number,
  high: number,
  g: Generator = defaultGenerator,
): Tensor {
  return fill(shape, () => low + (high - low) * g.random());
}

/** Normal(0, std²). */
export function normal(shape: readonly number[], std: number, g: Generator = defaultGenerator): Tensor {
  return fill(shape, () => std * g.normal());
}

/**
 * Kaiming (He) normal init for ReLU networks: std = gain / sqrt(fan_in), gain = sqrt(2).
 *
 * @example
 * ```ts
 * import { init } from "glassbox";
 * const w = init.kaimingNormal([128, 784]);
 * ```
 */
export function kaimingNormal(shape: readonly number[], g: Generator = defaultGenerator): Tensor {
  return normal(shape, Math.SQRT2 / Math.sqrt(fans(shape)[0]), g);
}

/** Kaiming uniform: bound = gain·sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)) (a = 0 for ReLU). */
export function kaimingUniform(shape: readonly number[], a = 0, g: Generator = defaultGenerator): Tensor {
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fans(shape)[0]);
  return uniform(shape, -bound, bound, g);
}

/** Xavier (Glorot) uniform: bound = gain·sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(shape: readonly number[], gain = 1, g: Generator = defaultGenerator): Tensor {
  const [fi, fo] = fans(shape);
  const bound = gain * Math.sqrt(6 / (fi + fo));
  return uniform(shape, -bound, bound, g);
}

/** Xavier (Glorot) normal: std = gain·sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal(shape: readonly number[], gain = 1, g: Generator = defaultGenerator): Tensor {
  const [fi, fo] = fans(shape);
  return normal(shape, gain * Math.sqrt(2 / (fi + fo)), g);
}
