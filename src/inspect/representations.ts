/**
 * A layer's representation of many inputs, as flat vectors on the host: what nearest-neighbour
 * search ("explanation by example", Deep k-NN) and embedding projections work on.
 */
import type { Module } from "../nn/module.ts";
import { noGrad, tensor } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";

/** Inputs on the host: float32 values, or int32 token ids for a token model; shape[0] is the batch. */
export interface HostInputs {
  /** the values, row-major */
  data: Float32Array | Int32Array;
  /** [n, ...one input's shape] */
  shape: number[];
}

/** Options of {@link representations}. */
export interface RepresentationOptions {
  /**
   * The module whose output is taken, as a dotted path `model.get(path)` accepts (e.g. "3" or
   * "blocks.1.ffn"); default (or ""): the model's output.
   */
  layer?: string;
  /** How many inputs go through the model at once (default 256). */
  batchSize?: number;
  /** Called after each batch with the number of inputs done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/** Row-major vectors: row i (`vectors.subarray(i * dim, (i + 1) * dim)`) is input i's. */
export interface Representations {
  /** n × dim numbers, row-major */
  vectors: Float32Array;
  /** number of inputs (rows) */
  n: number;
  /** length of each vector: the layer's output size per input, everything after the batch axis */
  dim: number;
}

/**
 * The output of one layer for every input, flattened after the batch axis: `n` rows of `dim`
 * numbers. Runs the model in batches in eval mode without a graph (its mode is restored after),
 * reading the layer through a forward hook that is removed even when the forward throws; each
 * batch's tensors are freed before the next, so GPU memory stays flat however many inputs.
 *
 * @example
 * ```ts
 * import { Linear, ReLU, representations, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2));
 * const x = { data: new Float32Array(5 * 3).fill(1), shape: [5, 3] };
 * const r = await representations(model, x, { layer: "1", batchSize: 2 });
 * if (r.n !== 5 || r.dim !== 4 || r.vectors.length !== 20) throw new Error("shape");
 * if (r.vectors.some((v) => v < 0)) throw new Error("after the ReLU nothing is negative");
 * ```
 */
export async function representations(
  model: Module,
  x: Tensor | HostInputs,
  options: RepresentationOptions = {},
): Promise<Representations> {
  const { layer = "", batchSize = 256, onProgress } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`representations: batchSize must be a positive integer, got ${batchSize}`);
  }
  const shape = x instanceof Tensor ? [...x.shape] : checkHost(x);
  if (shape.length === 0) throw new Error("representations: x must have a batch axis, got a scalar");
  const n = shape[0];
  if (n === 0) throw new Error("representations: x has no inputs (its batch axis is 0)");
  const target = findLayer(model, layer);
  const per = shape.slice(1).reduce((a, b) => a * b, 1);

  let captured: Tensor | null = null;
  let calls = 0;
  const handle = target === model ? null : target.registerForwardHook((_m, _in, out) => {
    calls++;
    captured = out;
  });
  const restore = model.enterEval();
  let vectors: Float32Array | null = null;
  let dim = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      const rows = await scope(async () => {
        const xb = x instanceof Tensor ? x.narrow(0, start, b) : hostBatch(x, shape, per, start, b);
        calls = 0;
        captured = null;
        const out = noGrad(() => model.forward(xb));
        const got = handle ? (captured as Tensor | null) : out;
        if (handle && calls !== 1) {
          throw new Error(
            calls === 0
              ? `representations: layer "${layer}" did not run in the model's forward`
              : `representations: layer "${layer}" ran ${calls} times in one forward; it needs one output per input`,
          );
        }
        if (!(got instanceof Tensor)) throw new Error(`representations: layer "${layer}" returned no tensor`);
        if (got.ndim === 0 || got.shape[0] !== b) {
          throw new Error(
            `representations: layer "${layer || "(output)"}" gave shape [${
              got.shape.join(", ")
            }] for a batch of ${b}; its first axis must be the batch`,
          );
        }
        if (got.dtype !== "float32") {
          throw new Error(`representations: layer "${layer || "(output)"}" gave ${got.dtype}, not float32`);
        }
        return (await got.toArray()) as Float32Array;
      });
      const d = rows.length / b;
      if (vectors === null) {
        dim = d;
        vectors = new Float32Array(n * dim);
      } else if (d !== dim) {
        throw new Error(`representations: layer "${layer}" gave ${d} numbers per input, earlier ${dim}`);
      }
      vectors.set(rows, start * dim);
      onProgress?.(start + b, n);
    }
  } finally {
    handle?.remove();
    restore();
  }
  return { vectors: vectors!, n, dim };
}

function checkHost(x: HostInputs): number[] {
  if (!x || !(x.data instanceof Float32Array || x.data instanceof Int32Array) || !Array.isArray(x.shape)) {
    throw new Error("representations: x must be a Tensor or { data: Float32Array | Int32Array, shape }");
  }
  if (x.shape.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`representations: bad shape [${x.shape.join(", ")}]`);
  }
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (size !== x.data.length) {
    throw new Error(
      `representations: ${x.data.length} values do not fill shape [${x.shape.join(", ")}] (${size})`,
    );
  }
  return [...x.shape];
}

function hostBatch(x: HostInputs, shape: number[], per: number, start: number, b: number): Tensor {
  const data = x.data.subarray(start * per, (start + b) * per);
  const dtype = x.data instanceof Int32Array ? "int32" : "float32";
  return tensor(data as Float32Array | Int32Array, [b, ...shape.slice(1)], { dtype });
}

function findLayer(model: Module, layer: string): Module {
  try {
    return model.get(layer);
  } catch {
    const paths = model.namedModules().map(([p]) => p).filter((p) => p !== "");
    const few = paths.slice(0, 8).map((p) => `"${p}"`).join(", ");
    throw new Error(
      `representations: no layer "${layer}" in the model; ${
        paths.length ? `valid paths include ${few}${paths.length > 8 ? ", …" : ""}` : "it has no submodules"
      }`,
    );
  }
}
