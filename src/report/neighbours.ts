/**
 * Explanation by example for the report and the dashboard: the training set's representations
 * in the profile's layer, searched for the nearest examples of a chosen class.
 */
import { NeighbourIndex, type NeighbourMetric } from "../explain/neighbours.ts";
import { representations } from "../inspect/representations.ts";
import { type ExplanationProfile, representationLayerOf } from "../models/profile.ts";
import type { Module } from "../nn/module.ts";

/** Training examples as the report and dashboard read them. */
export interface TrainingSet {
  /** n examples of the profile's input shape, row-major (int32 token ids for a token model) */
  x: Float32Array | Int32Array;
  /** n labels */
  y: Int32Array;
}

/** One neighbour: a training example's index, label and distance. */
export interface Neighbour {
  /** index into the training set */
  index: number;
  /** its label */
  label: number;
  /** its distance to the query in the layer (Euclidean, not squared; or cosine distance) */
  distance: number;
}

/**
 * The training set on the GPU as a searchable bank of its representations in one layer. Make it
 * once (`TrainingBank.build`), search it per example, dispose it when done.
 *
 * @example
 * ```ts
 * import { Linear, ReLU, Sequential, TrainingBank } from "glassbox";
 * const model = new Sequential(new Linear(2, 4), new ReLU(), new Linear(4, 2));
 * const train = { x: Float32Array.from([0, 0, 0, 1, 5, 5, 5, 6]), y: Int32Array.from([0, 0, 1, 1]) };
 * const profile = { modality: "tabular" as const, inputShape: [2], classes: ["a", "b"], representationLayer: "0" };
 * using bank = await TrainingBank.build(model, profile, train);
 * const [near] = await bank.nearest(Float32Array.from([5, 5.2]), [1], 1);
 * if (near[0].index !== 2 || near[0].label !== 1) throw new Error("the nearest of class b");
 * ```
 */
export class TrainingBank {
  private constructor(
    /** the layer searched (a module path; "" is the model's output) */
    readonly layer: string,
    /** the training examples searched */
    readonly n: number,
    /** seconds the training representations took */
    readonly seconds: number,
    /** how many training examples each class has */
    readonly classCounts: number[],
    private readonly index: NeighbourIndex,
    private readonly model: Module,
    private readonly profile: ExplanationProfile,
    private readonly labels: Int32Array,
  ) {}

  /** Computes the training set's representations in the profile's layer and uploads them. */
  static async build(
    model: Module,
    profile: ExplanationProfile,
    train: TrainingSet,
    options: { metric?: NeighbourMetric; batchSize?: number; log?: (line: string) => void } = {},
  ): Promise<TrainingBank> {
    const layer = representationLayerOf(model, profile);
    const per = profile.inputShape.reduce((a, b) => a * b, 1);
    const n = train.y.length;
    if (train.x.length !== n * per) {
      throw new Error(`training data: ${train.x.length} values for ${n} examples of ${per}`);
    }
    const t0 = performance.now();
    const r = await representations(model, { data: train.x, shape: [n, ...profile.inputShape] }, {
      layer,
      batchSize: options.batchSize ?? 500,
    });
    const seconds = (performance.now() - t0) / 1000;
    options.log?.(
      `representations of ${n} training examples in layer ${layer || "(output)"}: ${r.dim} numbers each, ${
        seconds.toFixed(1)
      } s`,
    );
    const counts = new Array(profile.classes.length).fill(0);
    for (const y of train.y) if (y >= 0 && y < counts.length) counts[y]++;
    const index = new NeighbourIndex(r.vectors, r.dim, { metric: options.metric, labels: train.y });
    return new TrainingBank(layer, n, seconds, counts, index, model, profile, train.y);
  }

  /**
   * For each of `q` examples (`x`: q × the input size), the k nearest training examples of the
   * class given for it (`classes[i]`), nearest first; k shrinks to the class's size if smaller.
   */
  async nearest(x: Float32Array | Int32Array, classes: number[], k: number): Promise<Neighbour[][]> {
    const q = classes.length;
    const r = await representations(this.model, { data: x, shape: [q, ...this.profile.inputShape] }, {
      layer: this.layer,
    });
    const kk = Math.min(k, ...classes.map((c) => this.classCounts[c] ?? 0));
    if (kk < 1) return classes.map(() => []);
    const got = await this.index.search(r.vectors, { k: kk, classes });
    return classes.map((_, i) =>
      Array.from({ length: kk }, (_, j) => {
        const index = got.indices[i * kk + j];
        return { index, label: this.labels[index], distance: got.distances[i * kk + j] };
      })
    );
  }

  /** Frees the bank's GPU memory. */
  dispose(): void {
    this.index.dispose();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
