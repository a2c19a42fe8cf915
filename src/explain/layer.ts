/**
 * Attribution at a layer: capturing a module's output (and the gradient of the target with
 * respect to it) during one forward and backward pass; LayerActivation and
 * LayerGradientXActivation.
 */
import type { Module } from "../nn/module.ts";
import { grad } from "../tensor/autograd.ts";
import { noGrad } from "../tensor/mod.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type AttributeOptions, Attribution, perTarget } from "./attribution.ts";
import { targetScores } from "./target.ts";

/** A method that explains through one layer of the model. */
export abstract class LayerAttribution extends Attribution {
  /** The layer (a module of the model). */
  readonly layer: Module;
  /** The layer's dotted name in the model. */
  readonly layerName: string;
  /** Layer methods take token indices too (the gradient is taken at the layer). */
  protected override acceptsIndices = true;

  /** Explains `model` at `layer`, which must be one of its modules. */
  constructor(model: Module, layer: Module) {
    super(model);
    const found = model.namedModules().find(([, m]) => m === layer);
    if (!found) {
      throw new Error(
        `${this.constructor.name}: the layer ${
          layer?.typeName ?? layer
        } is not part of the model (its modules: ${
          model.namedModules().map(([n, m]) => `${n || "(root)"} ${m.typeName}`).join(", ")
        })`,
      );
    }
    this.layer = layer;
    this.layerName = found[0];
  }

  /**
   * @internal The layer's output A for `rows` and ∂(Σ target scores)/∂A: one forward pass (the
   * graph is cut at the layer, so nothing below it is differentiated) and one backward pass.
   */
  protected activationAndGradient(rows: Tensor, index: Int32Array): { act: Tensor; grad: Tensor } {
    let act: Tensor | null = null;
    const h = this.layer.registerForwardHook((_m, _in, out) => {
      if (act) {
        throw new Error(
          `${this.constructor.name}: the layer ${this.layerName} ran twice in one forward pass`,
        );
      }
      act = out.detach().requiresGrad_(true); // a leaf: the graph starts here
      return act;
    });
    try {
      const scores = targetScores(this.model.forward(rows), index);
      if (!act) {
        throw new Error(
          `${this.constructor.name}: the layer ${this.layerName} did not run in the forward pass`,
        );
      }
      const a = act as Tensor;
      const [g] = grad(sum(scores), [a]);
      return { act: a, grad: g };
    } finally {
      h.remove();
    }
  }

  /** @internal the layer's output for `rows` (no graph). */
  protected activation(rows: Tensor): Tensor {
    let act: Tensor | null = null;
    const h = this.layer.registerForwardHook((_m, _in, out) => void (act ??= out));
    try {
      noGrad(() => this.model.forward(rows));
      if (!act) {
        throw new Error(
          `${this.constructor.name}: the layer ${this.layerName} did not run in the forward pass`,
        );
      }
      return act;
    } finally {
      h.remove();
    }
  }
}

/**
 * The layer's output for each input (Captum's LayerActivation).
 *
 * @example
 * ```ts
 * import { LayerActivation, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const act = await new LayerActivation(model, model.get("1")).attribute(randn([2, 4])); // [2, 8]
 * ```
 */
export class LayerActivation extends LayerAttribution {
  /** The layer's output, [N, ...layer shape]. */
  attribute(x: Tensor, options: AttributeOptions = {}): Promise<Tensor> {
    return this.run(
      x,
      () =>
        this.perRows(
          x,
          { N: x.shape[0], T: 1, index: new Int32Array(x.shape[0]), multi: false },
          options,
          (rows) => this.activation(rows),
        ),
    );
  }
}

/**
 * The layer's output times the gradient of the target with respect to it, A ⊙ ∂F/∂A (Captum's
 * LayerGradientXActivation).
 *
 * @example
 * ```ts
 * import { LayerGradientXActivation, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const attr = await new LayerGradientXActivation(model, model.get("1")).attribute(randn([2, 4]), { target: 0 });
 * ```
 */
export class LayerGradientXActivation extends LayerAttribution {
  /** A ⊙ ∂F/∂A, [N, ...layer shape] ([N, T, ...] for several targets per example). */
  attribute(x: Tensor, options: AttributeOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const r = await this.perRows(x, table, options, (rows, index) => {
        const { act, grad } = this.activationAndGradient(rows, index);
        return mul(act, grad);
      });
      return perTarget(r, table);
    });
  }
}
