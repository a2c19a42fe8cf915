/**
 * Explanations in words for tabular data: which features carry a prediction and in which
 * direction, from Integrated Gradients against a baseline row (the training mean, by default),
 * with the share of the total |attribution| each holds. The text states these numbers only.
 */
import { IntegratedGradients } from "../explain/integrated_gradients.ts";
import type { Module } from "../nn/module.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Language, pct, r3 } from "./words.ts";

/** One feature's part in a prediction. */
export interface FeatureContribution {
  /** Its name (or "feature i"). */
  name: string;
  /** Its value in the row explained. */
  value: number;
  /** Its Integrated Gradients attribution to the explained output (positive: raises it). */
  attribution: number;
  /** |attribution| / Σ |attribution|. */
  share: number;
}

/** The facts of one tabular prediction. */
export interface TabularFacts {
  /** The explained output's value at the row (a logit, or a class's score). */
  output: number;
  /** Its value at the baseline row. */
  baselineOutput: number;
  /** The explained class (or 0 for a single output). */
  target: number;
  /** The features with the largest |attribution|, largest first. */
  top: FeatureContribution[];
  /** Σ attribution − (output − baselineOutput): IG's completeness gap. */
  completenessGap: number;
}

/**
 * Computes the facts of one row [1, F]: IG (64 steps) of output `target` from `baseline` (a
 * row, default zeros), and the `top` features by |attribution|.
 *
 * @example
 * ```ts
 * import { Linear, tabularFacts, tensor } from "glassbox";
 * const f = await tabularFacts(new Linear(3, 1), tensor([[1, 2, 3]]), { featureNames: ["a", "b", "c"] });
 * f.top[0].name; // the feature that moved the output most
 * ```
 */
export async function tabularFacts(
  model: Module,
  x: Tensor,
  options: { baseline?: ArrayLike<number>; target?: number; featureNames?: string[]; top?: number } = {},
): Promise<TabularFacts> {
  if (x.ndim !== 2 || x.shape[0] !== 1) {
    throw new Error(`tabularFacts: expects one row [1, F], got ${x.describe()}`);
  }
  const F = x.shape[1];
  if (options.featureNames && options.featureNames.length !== F) {
    throw new Error(`tabularFacts: ${options.featureNames.length} feature names for ${F} features`);
  }
  if (options.baseline && options.baseline.length !== F) {
    throw new Error(`tabularFacts: the baseline has ${options.baseline.length} values for ${F} features`);
  }
  const target = options.target ?? 0;
  const restore = model.enterEval();
  try {
    return await scope(async () => {
      const base = tensor(Float32Array.from(options.baseline ?? new Float32Array(F)), [1, F]);
      const outs = await noGrad(() => model.forward(x)).toArray(),
        outs0 = await noGrad(() => model.forward(base)).toArray();
      const C = outs.length;
      if (!(Number.isInteger(target) && target >= 0 && target < C)) {
        throw new Error(`tabularFacts: target ${target} is not an output (0 to ${C - 1})`);
      }
      const a =
        await (await new IntegratedGradients(model).attribute(x, { target, baselines: base, nSteps: 64 }))
          .toArray();
      const xs = await x.toArray();
      const total = Array.from(a).reduce((s, v) => s + Math.abs(v), 0);
      const all = Array.from(a, (attribution, i) => ({
        name: options.featureNames?.[i] ?? `feature ${i}`,
        value: xs[i],
        attribution,
        share: total > 0 ? Math.abs(attribution) / total : 0,
      }));
      all.sort((p, q) => Math.abs(q.attribution) - Math.abs(p.attribution));
      const sum = Array.from(a).reduce((s, v) => s + v, 0);
      return {
        output: outs[target],
        baselineOutput: outs0[target],
        target,
        top: all.slice(0, options.top ?? 3),
        completenessGap: sum - (outs[target] - outs0[target]),
      };
    });
  } finally {
    restore();
  }
}

/**
 * The tabular prediction in words, English or Chinese; `classNames` names the explained output
 * (default: its index).
 *
 * @example
 * ```ts
 * import { describeTabular } from "glassbox";
 * const text = describeTabular({ output: 2.1, baselineOutput: 0.3, target: 0, completenessGap: 0, top: [{ name: "age", value: 61, attribution: 1.2, share: 0.67 }] }, "en", ["ill"]);
 * if (!text.startsWith("The score of class ill is 2.100")) throw new Error(text);
 * ```
 */
export function describeTabular(f: TabularFacts, lang: Language = "en", classNames?: string[]): string {
  if (lang !== "en" && lang !== "zh") {
    throw new Error(`describeTabular: language must be "en" or "zh", got "${lang}"`);
  }
  const en = lang === "en";
  const lines = [
    classNames
      ? en
        ? `The score of class ${classNames[f.target]} is ${r3(f.output)}, against ${
          r3(f.baselineOutput)
        } at the baseline row.`
        : `类别 ${classNames[f.target]} 的得分为 ${r3(f.output)}，基线行处为 ${r3(f.baselineOutput)}。`
      : en
      ? `Output ${f.target} is ${r3(f.output)}, against ${r3(f.baselineOutput)} at the baseline row.`
      : `输出 ${f.target} 为 ${r3(f.output)}，基线行处为 ${r3(f.baselineOutput)}。`,
  ];
  for (const c of f.top) {
    const up = c.attribution >= 0;
    lines.push(
      en
        ? `- ${c.name} = ${r3(c.value)} ${up ? "raises" : "lowers"} it by ${r3(Math.abs(c.attribution))} (${
          pct(c.share)
        }% of all attribution).`
        : `- ${c.name} = ${r3(c.value)} 使其${up ? "升高" : "降低"} ${
          r3(Math.abs(c.attribution))
        }（占全部归因的 ${pct(c.share)}%）。`,
    );
  }
  lines.push(
    en
      ? `The attributions add up to the change from the baseline within ${
        r3(Math.abs(f.completenessGap))
      } (Integrated Gradients' completeness).`
      : `各归因之和与相对基线的变化相差 ${r3(Math.abs(f.completenessGap))} 以内（积分梯度的完备性）。`,
  );
  return lines.join("\n");
}
