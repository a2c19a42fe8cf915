/**
 * DeepLIFT with the Rescale rule (Shrikumar, Greenside & Kundaje, 2017, "Learning Important
 * Features Through Propagating Activation Differences", ICML, arXiv:1704.02685): explains
 * F(x) − F(x′) by passing back, through each nonlinearity, the multiplier Δy/Δx between the
 * input and the baseline instead of the local derivative (Ancona et al., 2018, write it as
 * this modified gradient). The input and the baseline go through the model in one batch.
 */
import { customGradient, defineBinary } from "../tensor/mod.ts";
import { add, mul, sub } from "../tensor/ops/elementwise.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { concat, reshape, slice } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Module } from "../nn/module.ts";
import {
  type AttributeOptions,
  Attribution,
  type Baseline,
  baselineLike,
  chunked,
  defaultBatchRows,
  joinRows,
  perTarget,
  repeatRows,
  rowSize,
} from "./attribution.ts";
import { grad } from "../tensor/autograd.ts";
import { targetScores } from "./target.ts";
import { moduleKind, poolWindow } from "./module_kind.ts";
import type { AttributionWithDelta } from "./integrated_gradients.ts";

/**
 * The elementwise nonlinearities the Rescale rule rewrites: Captum's ReLU, LeakyReLU, Sigmoid and
 * Tanh (glassbox has no ELU or Softplus module, and does not apply Captum's Softmax rule).
 */
const NONLINEAR = new Set(["ReLU", "LeakyReLU", "Sigmoid", "Tanh"]);

/**
 * Replaces `out` (a module's output for `input`, both [x rows; x′ rows]) by the same values whose
 * backward is `rule(g, own)`, where `own(h)` is the module's own backward applied to h.
 */
function rewrite(
  input: Tensor,
  out: Tensor,
  rule: (g: Tensor, own: (h: Tensor) => Tensor) => Tensor,
): Tensor {
  if (out.isLeaf) return out; // not differentiated (a forward without the gradient)
  return customGradient(out, [input], (g, ctx) => {
    const own = (h: Tensor) => ctx.original(h)[0]!;
    return [rule(g, own)];
  }, { name: "DeepLift" });
}

/** The elementwise `a ≥ eps ? 1 : 0` on |Δx| and `a / b` where |b| ≥ eps (0 elsewhere). */
function ratioAndMask(num: Tensor, dx: Tensor, eps: number): { ratio: Tensor; mask: Tensor } {
  const e = eps.toExponential();
  const ratio = defineBinary({ name: "DeepLift.ratio", forward: `select(0.0, a / b, abs(b) >= ${e})` });
  const mask = defineBinary({ name: "DeepLift.mask", forward: `select(0.0, 1.0, abs(a) >= ${e})` });
  return { ratio: ratio(num, dx), mask: mask(dx, dx) };
}

/** (1 − a) ⊙ b (the complement of a 0/1 mask, applied). */
const complement = defineBinary({ name: "DeepLift.complement", forward: "(1.0 - a) * b" });
/** The larger of a and b, elementwise. */
const maximum = defineBinary({ name: "maximum", forward: "max(a, b)" });

/** mask ⊙ a + (1 − mask) ⊙ b. */
function choose(mask: Tensor, a: Tensor, b: Tensor): Tensor {
  return add(mul(mask, a), complement(mask, b));
}

/** Options for `DeepLift.attribute`. */
export interface DeepLiftOptions extends AttributeOptions {
  /** The reference input x′ (default 0): a number, or a tensor broadcastable to x. */
  baselines?: Baseline;
  /** |Δx| below this uses the local derivative instead of Δy/Δx (default 1e-10, as Captum). */
  eps?: number;
}

/**
 * Modules where Captum's DeepLift would give other numbers than glassbox's: a Softmax module
 * (Captum applies its softmax rule there) and a MaxPool2d whose windows overlap (Captum's
 * max_unpool keeps one window's share where glassbox adds them). Under Captum's name these are
 * errors, not different numbers.
 */
function refuseUnlikeCaptum(named: [string, Module][]): void {
  for (const [path, m] of named) {
    const kind = moduleKind(m);
    if (kind === "Softmax" || kind === "LogSoftmax") {
      throw new Error(
        `DeepLift: module "${path}" is a ${m.typeName}; Captum's DeepLift applies its own softmax rule there, which glassbox does not implement, so explain the logits (the model without its final ${m.typeName})`,
      );
    }
    if (kind === "MaxPool2d") {
      const { kernel: k, stride: st } = poolWindow(m);
      if (st[0] < k[0] || st[1] < k[1]) {
        throw new Error(
          `DeepLift: module "${path}" is a ${m.typeName} with overlapping windows (kernel ${
            k.join("×")
          }, stride ${
            st.join("×")
          }); Captum's max-pool rule keeps one window's share of a shared input where glassbox would add them, so glassbox refuses rather than give other numbers under Captum's name`,
        );
      }
    }
  }
}

/**
 * DeepLIFT (Rescale rule), as Captum's DeepLift: every ReLU, LeakyReLU, Sigmoid and Tanh module
 * passes back g·Δy/Δx (its own gradient where |Δx| < eps), and every MaxPool2d passes back
 * Captum's max-pool multiplier: with y = maxpool(x), y′ = maxpool(x′) and M = max(y, y′), each
 * window sends g·(M − y′) to the position of x's maximum and g·(y − M) to the position of x′'s,
 * and the input gradient is the sum divided by Δx (its own gradient where |Δx| < eps), so each
 * window passes back exactly g·(y − y′). Linear layers, convolutions (transposed ones too),
 * Upsample (nearest, bilinear) and average pooling are linear: their gradient already is their
 * multiplier. Attributions sum to F(x) − F(x′) for
 * models built from these modules (up to the eps fallback). A Softmax/LogSoftmax module or a
 * MaxPool2d with overlapping windows is an error (Captum's numbers differ there: its softmax rule,
 * its max_unpool). Other nonlinear modules (GELU, LayerNorm, …) keep their plain gradient, as in
 * Captum, so completeness does not hold through them. A model loaded from ONNX gets the same rules
 * at its Relu, LeakyRelu, Sigmoid, Tanh and MaxPool nodes (and the same refusals at Softmax).
 * Each input goes through the model together with its baseline: an
 * internal batch holds 2·⌊internalBatchSize / 2⌋ rows, at least 2.
 *
 * @example
 * ```ts
 * import { Conv2d, DeepLift, Flatten, Linear, MaxPool2d, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(36, 2));
 * const { delta } = await new DeepLift(model).attributeWithDelta(randn([2, 1, 8, 8]), { target: 0, baselines: randn([1, 1, 8, 8]) });
 * const worst = Math.max(...Array.from(await delta.toArray(), Math.abs));
 * if (worst > 1e-3) throw new Error(`completeness error ${worst}`);
 * ```
 */
export class DeepLift extends Attribution {
  /** Attributions shaped like `x`. */
  async attribute(x: Tensor, options: DeepLiftOptions = {}): Promise<Tensor> {
    const { attributions, delta } = await this.attributeWithDelta(x, options);
    delta.dispose();
    return attributions;
  }

  /** Attributions and the completeness error Σ attr − (F(x) − F(x′)) per example. */
  attributeWithDelta(x: Tensor, options: DeepLiftOptions = {}): Promise<AttributionWithDelta> {
    return this.run(x, async () => {
      const eps = options.eps ?? 1e-10;
      const table = await this.targets(x, options.target); // before the hooks: they expect [inputs; baselines]
      const named = this.model.namedModules(), modules = named.map(([, m]) => m);
      refuseUnlikeCaptum(named);
      for (const m of modules.filter((m) => NONLINEAR.has(moduleKind(m)))) {
        this.hold(m.registerForwardHook((_m, [input], out) => {
          // rows [0, R) are inputs, [R, 2R) their baselines: m = Δy/Δx, the same for both halves
          const R = input.shape[0] / 2;
          const dx = sub(slice(input, 0, R), slice(input, R));
          const dy = sub(slice(out, 0, R), slice(out, R));
          const { ratio, mask } = ratioAndMask(dy, dx, eps);
          const both = concat([ratio, ratio], 0), mask2 = concat([mask, mask], 0);
          // where |Δx| < eps the ratio is ill-posed: the module's own gradient takes its place
          return rewrite(input, out, (g, own) => choose(mask2, mul(g, both), own(g)));
        }));
      }
      for (const m of modules.filter((m) => moduleKind(m) === "MaxPool2d")) {
        this.hold(m.registerForwardHook((_m, [input], out) =>
          rewrite(input, out, (g, own) => {
            // Captum's maxpool rule (captum/attr/_core/deep_lift.py, maxpool)
            const R = input.shape[0] / 2;
            const y = slice(out, 0, R), yRef = slice(out, R);
            const top = maximum(y, yRef);
            const dOut = concat([sub(top, yRef), sub(y, top)], 0);
            // the pooling's own backward scatters each half to the winners of that half
            const spread = own(mul(g, dOut));
            const u = add(slice(spread, 0, R), slice(spread, R));
            const dx = sub(slice(input, 0, R), slice(input, R));
            const { ratio, mask } = ratioAndMask(u, dx, eps);
            return choose(concat([mask, mask], 0), concat([ratio, ratio], 0), own(g));
          })
        ));
      }
      const base = baselineLike("DeepLift", options.baselines, x);
      const xr = repeatRows(x, table.T), br = repeatRows(base, table.T);
      const E = xr.shape[0];
      // each internal batch holds inputs and their baselines: [x rows; x′ rows]
      const size = Math.max(1, Math.floor(defaultBatchRows(rowSize(x), options.internalBatchSize) / 2));
      const parts = await chunked(E, size, options.onProgress, (s, e) => {
        const both = concat([slice(xr, s, e), slice(br, s, e)], 0);
        const index = new Int32Array(2 * (e - s));
        index.set(table.index.subarray(s, e), 0);
        index.set(table.index.subarray(s, e), e - s);
        const leaf = both.detach().requiresGrad_(true);
        const scores = targetScores(this.model.forward(leaf), index);
        const [g] = grad(sum(scores), [leaf]);
        const diff = sub(slice(xr, s, e), slice(br, s, e));
        const attr = mul(diff, slice(g, 0, e - s));
        const gap = sub(slice(scores, 0, e - s), slice(scores, e - s)); // F(x) − F(x′)
        return { attr, delta: sub(sum(reshape(attr, [e - s, -1]), 1), gap) };
      });
      const attributions = joinRows(parts.map((p) => p.attr));
      const delta = joinRows(parts.map((p) => p.delta));
      return {
        attributions: perTarget(attributions, table),
        delta: table.multi ? reshape(delta, [table.N, table.T]) : delta,
      };
    });
  }
}
