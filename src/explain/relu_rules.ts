/**
 * Modified gradients at ReLU modules: Guided Backpropagation (Springenberg et al., 2015,
 * arXiv:1412.6806) passes back only positive gradients where the input was positive;
 * Deconvolution (Zeiler & Fergus, 2014, arXiv:1311.2901) applies ReLU to the backward signal
 * and ignores the forward mask. Each call of a ReLU module is rewritten by a forward hook, so a
 * module used twice in one pass is handled per call.
 */
import type { Module } from "../nn/module.ts";
import { customGradient, defineBinary, type Tensor } from "../tensor/mod.ts";
import { moduleKind } from "./module_kind.ts";
import { type AttributeOptions, Attribution, perTarget } from "./attribution.ts";

/**
 * @internal Replaces `output` (of a module called on `input`) with the same values whose
 * backward is `backward(g)` instead of the module's own gradient.
 */
export function withGradient(
  input: Tensor,
  output: Tensor,
  op: string,
  backward: (g: Tensor) => Tensor,
): Tensor {
  if (input.shape.length !== output.shape.length || input.size !== output.size) {
    throw new Error(
      `${op}: expected an elementwise module, got input [${input.shape}] and output [${output.shape}]`,
    );
  }
  return customGradient(output, [input], (g) => [backward(g)], { name: op });
}

/** g where g > 0 and the forward input x > 0, else 0 (a = g, b = x). */
const guided = defineBinary({ name: "GuidedBackprop.rule", forward: "select(0.0, a, a > 0.0 && b > 0.0)" });
/** max(g, 0) (a = b = g). */
const deconv = defineBinary({ name: "Deconvolution.rule", forward: "max(a, 0.0)" });

/** The ReLU modules of a model (the layers the rules apply to; an ONNX model's Relu nodes too). */
export function reluModules(model: Module): Module[] {
  return model.namedModules().map(([, m]) => m).filter((m) => moduleKind(m) === "ReLU");
}

/** The base of the ReLU-rule methods: each ReLU module's gradient is replaced by `rule`. */
export abstract class ReluRuleAttribution extends Attribution {
  /** The gradient passed back through a ReLU whose input was x, given the incoming gradient g. */
  protected abstract rule(x: Tensor, g: Tensor): Tensor;

  /** Attributions shaped like `x` ([N, T, ...] for several targets per example). */
  attribute(x: Tensor, options: AttributeOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const relus = reluModules(this.model);
      if (relus.length === 0) {
        throw new Error(
          `${this.constructor.name}: the model has no ReLU modules (nn.ReLU) to apply its rule to`,
        );
      }
      const table = await this.targets(x, options.target);
      for (const m of relus) {
        this.hold(
          m.registerForwardHook((_m, [input], out) =>
            withGradient(input, out, this.constructor.name, (g) => this.rule(input, g))
          ),
        );
      }
      return perTarget(await this.inputGradients(x, table, options), table);
    });
  }
}

/**
 * Guided Backpropagation: at each ReLU the gradient passes back only where it is positive and
 * the forward input was positive. Springenberg, Dosovitskiy, Brox & Riedmiller, 2015
 * (arXiv:1412.6806).
 *
 * @example
 * ```ts
 * import { GuidedBackprop, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const attr = await new GuidedBackprop(model).attribute(randn([2, 4]), { target: 1 });
 * ```
 */
export class GuidedBackprop extends ReluRuleAttribution {
  /** Positive gradients where the input was positive. */
  protected rule(x: Tensor, g: Tensor): Tensor {
    return guided(g, x);
  }
}

/**
 * Deconvolution: at each ReLU the backward signal is passed through ReLU, whatever the
 * forward input was. Zeiler & Fergus, 2014, "Visualizing and Understanding Convolutional
 * Networks" (arXiv:1311.2901).
 *
 * @example
 * ```ts
 * import { Deconvolution, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const attr = await new Deconvolution(model).attribute(randn([2, 4]), { target: 0 });
 * ```
 */
export class Deconvolution extends ReluRuleAttribution {
  /** ReLU of the gradient, whatever the input. */
  protected rule(_x: Tensor, g: Tensor): Tensor {
    return deconv(g, g);
  }
}
