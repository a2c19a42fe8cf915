/**
 * What every attribution method shares: the model kept as it was (eval mode during the
 * method, hooks removed even when it throws, training mode restored), targets, baselines,
 * batches that fit the GPU, and the gradient of the target scores.
 */
import type { Module } from "../nn/module.ts";
import { grad } from "../tensor/autograd.ts";
import { full, tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { broadcastShapes } from "../tensor/ops/elementwise.ts";
import { concat, expand, reshape, slice } from "../tensor/ops/shape.ts";
import { scope } from "../tensor/scope.ts";
import { settle } from "../tensor/mod.ts";
import { assertFloat, type RemovableHandle, Tensor } from "../tensor/tensor.ts";
import { resolveTarget, type Target, targetScores, type TargetTable } from "./target.ts";

/** Options every method takes. */
export interface AttributeOptions {
  /** Which output to explain (see `Target`); optional for a model with one output. */
  target?: Target;
  /**
   * How many model inputs go through the model at once (interpolation steps, noise samples,
   * perturbations, all examples together); default: as many as fit in about 64 MiB of inputs.
   */
  internalBatchSize?: number;
  /** Called after each internal batch with the work done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** A baseline: one number for every feature, or a tensor broadcastable to the input. */
export type Baseline = number | Tensor;

/** How many rows of `rowSize` floats go through the model at once by default. */
export function defaultBatchRows(rowSize: number, requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) {
      throw new Error(`internalBatchSize must be a positive integer, got ${requested}`);
    }
    return requested;
  }
  return Math.max(1, Math.min(1024, Math.floor((16 << 20) / Math.max(1, rowSize))));
}

/** The number of elements of one example (everything after the batch axis). */
export function rowSize(x: Tensor): number {
  return x.shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * The base of every method: `model`, and `run`, which puts the model in eval mode and its
 * parameters out of the gradient (attributions need only input and activation gradients),
 * removes the hooks a method installs (even when it throws) and restores all of it after, and
 * frees every tensor the method made except the ones it returns.
 */
export abstract class Attribution {
  /** The model being explained. */
  readonly model: Module;
  readonly #handles: RemovableHandle[] = [];

  /** A method explaining `model` (any glassbox module). */
  constructor(model: Module) {
    this.model = model;
  }

  /** @internal whether int32 inputs (token indices) are allowed: layer methods differentiate at a layer, not the input. */
  protected acceptsIndices = false;

  /** @internal a hook installed for this run; removed when the run ends. */
  protected hold(h: RemovableHandle): void {
    this.#handles.push(h);
  }

  /** @internal runs a method body with the model in eval mode and its hooks cleaned up after. */
  protected async run<T>(x: Tensor, fn: () => Promise<T>): Promise<T> {
    // layer methods explain token models too: their input may be int32 indices
    if (!(this.acceptsIndices && x.dtype === "int32")) assertFloat(this.constructor.name, x);
    if (x.ndim < 1 || x.shape[0] < 1) {
      throw new Error(`${this.constructor.name}: expected a batch [N, ...] of at least one example`);
    }
    // attributions need gradients with respect to inputs and activations, never to the weights:
    // freezing them spares every backward pass the filter and weight gradients
    const frozen = this.model.parameters().filter((p) => p.requiresGrad);
    const restoreModes = this.model.enterEval();
    frozen.forEach((p) => (p.requiresGrad = false));
    try {
      // the body's intermediates (baselines, differences, scores, masks) are freed here, whatever
      // the method; only what it returns (tensors, alone or in an array or plain object) stays
      // live, and as maps: detached from the graph that made them, which would otherwise keep its
      // saved state (a resize's table, an activation) alive as long as the maps
      return await scope(async () => detached(await fn()));
    } finally {
      this.#handles.splice(0).forEach((h) => h.remove());
      restoreModes();
      frozen.forEach((p) => (p.requiresGrad = true));
    }
  }

  /** @internal the number of outputs of the model for inputs like `x` (a forward pass on one example). */
  protected outputs(x: Tensor): number {
    return this.outputShape(x).reduce((a, b) => a * b, 1);
  }

  /** @internal the shape of one example's output for inputs like `x` ([] for a [N] output). */
  protected outputShape(x: Tensor): number[] {
    // remembered per model and example shape: a model's output shape does not change
    const key = x.shape.slice(1).join("x");
    let known = outputShapes.get(this.model);
    if (!known) outputShapes.set(this.model, known = new Map());
    let s = known.get(key);
    if (s === undefined) {
      s = scope(() => noGrad(() => this.model.forward(slice(x, 0, 1))).shape.slice(1));
      known.set(key, s);
    }
    return s;
  }

  /** @internal resolves the targets for x's examples (a flat index into an output of rank > 1). */
  protected targets(x: Tensor, target: Target | undefined): Promise<TargetTable> {
    const shape = this.outputShape(x);
    return resolveTarget(
      this.constructor.name,
      target,
      x.shape[0],
      shape.reduce((a, b) => a * b, 1),
      shape,
    );
  }

  /**
   * @internal The gradient of the target scores with respect to each row of `rows`; with
   * `weights`, row r's gradient comes out multiplied by weights[r] (the backward pass is seeded
   * with them, which costs nothing extra).
   */
  protected gradients(rows: Tensor, index: Int32Array, weights?: ArrayLike<number>): Tensor {
    const leaf = rows.detach().requiresGrad_(true);
    const scores = targetScores(this.model.forward(leaf), index);
    const [g] = weights
      ? grad(scores, [leaf], tensor(Float32Array.from(weights), [index.length]))
      : grad(sum(scores), [leaf]);
    return g;
  }

  /** @internal runs `fn` on internal batches of x's (example, target) rows and joins the results. */
  protected async perRows(
    x: Tensor,
    table: TargetTable,
    options: AttributeOptions,
    fn: (rows: Tensor, index: Int32Array) => Tensor | Promise<Tensor>,
    rowsPerInput = 1,
  ): Promise<Tensor> {
    const rows = repeatRows(x, table.T);
    const size = Math.max(
      1,
      Math.floor(defaultBatchRows(rowSize(x), options.internalBatchSize) / rowsPerInput),
    );
    const parts = await chunked(
      rows.shape[0],
      size,
      options.onProgress,
      (s, e) => fn(slice(rows, s, e), table.index.subarray(s, e)),
    );
    return joinRows(parts);
  }

  /** @internal ∂F/∂x for every example and target, in internal batches: [N·T, ...]. */
  protected inputGradients(x: Tensor, table: TargetTable, options: AttributeOptions): Promise<Tensor> {
    return this.perRows(x, table, options, (rows, index) => this.gradients(rows, index));
  }

  /** @internal the target scores of `rows` (no graph): [B]. */
  protected scores(rows: Tensor, index: Int32Array): Tensor {
    return noGrad(() => targetScores(this.model.forward(rows), index));
  }

  /** @internal the target scores of many rows (no graph), `batch` rows at a time: [rows]. */
  scoresOf(rows: Tensor, index: Int32Array, batch: number): Tensor {
    const parts: Tensor[] = [];
    for (let s = 0; s < rows.shape[0]; s += batch) {
      const e = Math.min(rows.shape[0], s + batch);
      parts.push(scope(() => this.scores(rowsOf(rows, s, e), index.subarray(s, e))));
    }
    return joinRows(parts);
  }
}

const outputShapes = new WeakMap<Module, Map<string, number[]>>();

/** A method's result with every tensor in it (alone, in an array or a plain object) detached. */
function detached<T>(value: T, depth = 0): T {
  if (value instanceof Tensor) return (value.isLeaf && !value.requiresGrad ? value : value.detach()) as T;
  if (depth > 3 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => detached(v, depth + 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, detached(v, depth + 1)])) as T;
}

/** Rows [start, end) of `t`: `t` itself when that is all of it (a slice would copy it). */
export function rowsOf(t: Tensor, start: number, end: number): Tensor {
  return start === 0 && end === t.shape[0] ? t : slice(t, start, end);
}

/** Repeats each example T times along the batch axis: [N, ...] → [N·T, ...] (each example's copies together). */
export function repeatRows(x: Tensor, T: number): Tensor {
  if (T === 1) return x;
  const [N, ...rest] = x.shape;
  return reshape(expand(reshape(x, [N, 1, ...rest]), [N, T, ...rest]), [N * T, ...rest]);
}

/**
 * A baseline as a tensor of x's shape: a number fills it, a tensor must broadcast to it.
 */
export function baselineLike(op: string, b: Baseline | undefined, x: Tensor): Tensor {
  if (b === undefined || typeof b === "number") return full(x.shape, b ?? 0, { dtype: x.dtype });
  if (b.dtype !== x.dtype) {
    throw new Error(`${op}: baselines are ${b.describe()} but the input is ${x.dtype}`);
  }
  let shape: number[];
  try {
    shape = broadcastShapes(op, x.shape, b.shape);
  } catch {
    throw new Error(
      `${op}: baselines [${b.shape.join(", ")}] do not broadcast to the input [${x.shape.join(", ")}]`,
    );
  }
  if (shape.length !== x.ndim || shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(
      `${op}: baselines [${b.shape.join(", ")}] do not broadcast to the input [${x.shape.join(", ")}]`,
    );
  }
  return expand(b, x.shape);
}

/** Reshapes a per-row result [N·T, ...] to the caller's layout: [N, ...] for one target, [N, T, ...] for several. */
export function perTarget(t: Tensor, table: TargetTable): Tensor {
  if (!table.multi) return t;
  return reshape(t, [table.N, table.T, ...t.shape.slice(1)]);
}

/** Concatenates per-chunk results along the batch axis (and frees the parts). */
export function joinRows(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0];
  const all = concat(parts, 0);
  parts.forEach((p) => p.dispose());
  return all;
}

/** Runs `fn` over [start, end) chunks of `total` rows, with progress; each chunk's result is kept. */
export async function chunked<T>(
  total: number,
  size: number,
  onProgress: ((done: number, total: number) => void) | undefined,
  fn: (start: number, end: number) => T | Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  for (let s = 0; s < total; s += size) {
    const e = Math.min(total, s + size);
    out.push(await scope(() => fn(s, e))); // results pass to the caller's scope
    if (onProgress) {
      await settle(); // the work is really done before it is reported
      onProgress(e, total);
    }
  }
  return out;
}
