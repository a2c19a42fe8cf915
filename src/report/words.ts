/**
 * Explanations in words, in English or Chinese, rendered from computed facts and only from
 * them: every number in the text is a field of `PredictionFacts` or `ModelFacts`, printed
 * with a fixed precision, and both languages state the same numbers.
 */
import { type Caveat, type PredictionFacts, REGIONS } from "./facts.ts";

import { type Language, methodName as viewName } from "../viz/strings.ts";
export type { Language };

/**
 * A share or probability in percent with one decimal, and never rounded to a certainty it is
 * not: a value under 1 that would print as 100.0 gets more decimals (99.96), or "> 99.999"
 * when even three do not tell it from 100; a value above 0 that would print as 0.0 likewise
 * (0.04, or "< 0.001").
 *
 * @example
 * ```ts
 * import { pct } from "glassbox";
 * if (pct(0.9996) !== "99.96" || pct(0.5) !== "50.0" || pct(1) !== "100.0") throw new Error(pct(0.9996));
 * ```
 */
export function pct(v: number): string {
  const p = 100 * v;
  const s = p.toFixed(1);
  if (v < 1 && Number(s) >= 100) {
    for (let d = 2; d <= 3; d++) if (Number(p.toFixed(d)) < 100) return p.toFixed(d);
    return "> 99.999";
  }
  if (v > 0 && Number(s) <= 0) {
    for (let d = 2; d <= 3; d++) if (Number(p.toFixed(d)) > 0) return p.toFixed(d);
    return "< 0.001";
  }
  return s;
}
/** Two decimals. */
export const r2 = (v: number): string => v.toFixed(2);
/** Three decimals. */
export const r3 = (v: number): string => v.toFixed(3);

const REGION_ZH: Record<(typeof REGIONS)[number], string> = {
  "top-left": "左上",
  top: "上方",
  "top-right": "右上",
  left: "左侧",
  centre: "中央",
  right: "右侧",
  "bottom-left": "左下",
  bottom: "下方",
  "bottom-right": "右下",
};
const methodName = (m: string, lang: Language) => viewName(m, lang);
const strength = (rho: number, scale: { weak: number; strong: number }, lang: Language) =>
  rho > scale.strong
    ? (lang === "en" ? "strongly" : "高")
    : rho >= scale.weak
    ? (lang === "en" ? "moderately" : "中等")
    : lang === "en"
    ? "weakly"
    : "低";

function caveatLine(c: Caveat, f: PredictionFacts, lang: Language, name: (k: number) => string): string {
  const en = lang === "en";
  switch (c.kind) {
    case "low-margin":
      return en
        ? `Low confidence: the runner-up is only ${pct(c.margin)} percentage points behind (below ${
          pct(c.threshold)
        }); treat this prediction as uncertain.`
        : `置信度低：次高类别只落后 ${pct(c.margin)} 个百分点（低于 ${
          pct(c.threshold)
        }），这个预测并不确定。`;
    case "unusual-input":
      return en
        ? `Unusual input: its distance to the nearest class mean of the training images is ${
          r3(c.distance)
        }, above ${r3(c.threshold)}, the ${
          f.novelty!.percentile
        }th percentile of the training images' own distances.`
        : `输入不寻常：它到训练图像最近类别均值的距离为 ${r3(c.distance)}，高于训练图像自身距离的第 ${
          f.novelty!.percentile
        } 百分位数 ${r3(c.threshold)}。`;
    case "known-confusion":
      return en
        ? `Known confusion: on the test set the model took ${name(c.actual)} for ${
          name(c.predicted)
        } ${c.count} times (${pct(c.rate)}% of the ${name(c.actual)}s).`
        : `已知混淆：在测试集上，模型有 ${c.count} 次把 ${name(c.actual)} 误判为 ${name(c.predicted)}（占 ${
          name(c.actual)
        } 的 ${pct(c.rate)}%）。`;
    case "methods-disagree":
      return en
        ? `The attribution methods disagree (mean rank correlation ${r2(c.agreement)}, below ${
          r2(c.threshold)
        }): the location of the evidence is uncertain.`
        : `各归因方法不一致（平均秩相关系数 ${r2(c.agreement)}，低于 ${
          r2(c.threshold)
        }）：证据的位置并不确定。`;
    case "unfaithful":
      return en
        ? `The attribution may not be faithful: deleting pixels in its order (area ${
          r3(c.deletionAuc)
        }) does no better than a random order (${r3(c.randomDeletionAuc)}).`
        : `归因可能不忠实：按它的顺序删除像素（曲线下面积 ${r3(c.deletionAuc)}）并不比随机顺序（${
          r3(c.randomDeletionAuc)
        }）更快地降低概率。`;
  }
}

/**
 * One prediction in words: the prediction and its probability, the runner-up and the margin,
 * where the evidence lies, whether the methods agree, how faithful the attribution is, and
 * the caveats. `classNames` names the classes (default: their indices).
 *
 * @example
 * ```ts
 * import { createModel, describePrediction, predictionFacts, randn } from "glassbox";
 * const facts = await predictionFacts(createModel("seed-cnn"), randn([1, 1, 28, 28]));
 * console.log(describePrediction(facts, "zh")); // 模型预测为 …
 * ```
 */
export function describePrediction(f: PredictionFacts, lang: Language = "en", classNames?: string[]): string {
  if (lang !== "en" && lang !== "zh") {
    throw new Error(`describePrediction: language must be "en" or "zh", got "${lang}"`);
  }
  const name = (k: number) => classNames?.[k] ?? String(k);
  const en = lang === "en";
  const [a, b] = f.regionOrder;
  const region = (k: number) => (en ? REGIONS[k] : REGION_ZH[REGIONS[k]]);
  const m = methodName(f.method, lang);
  const lines: string[] = [];
  lines.push(
    en
      ? `The model predicts ${name(f.predicted)} with probability ${pct(f.probability)}%.`
      : `模型预测为 ${name(f.predicted)}，概率 ${pct(f.probability)}%。`,
  );
  if (f.label !== undefined) {
    const right = f.label === f.predicted;
    lines.push(
      en
        ? `The true label is ${name(f.label)}: the prediction is ${right ? "right" : "wrong"}.`
        : `真实标签是 ${name(f.label)}：预测${right ? "正确" : "错误"}。`,
    );
  }
  lines.push(
    en
      ? `The runner-up is ${name(f.runnerUp)} at ${pct(f.runnerUpProbability)}%, a margin of ${
        pct(f.margin)
      } percentage points.`
      : `其次是 ${name(f.runnerUp)}，概率 ${pct(f.runnerUpProbability)}%，差距 ${pct(f.margin)} 个百分点。`,
  );
  if (f.regionShares[a] > 0) {
    lines.push(
      en
        ? `The evidence lies mostly in the ${region(a)} of the image: ${
          pct(f.regionShares[a])
        }% of the positive ${m} attribution falls there, then ${pct(f.regionShares[b])}% in the ${region(b)}.`
        : `证据主要位于图像的${region(a)}：${m}的正向归因有 ${pct(f.regionShares[a])}% 落在那里，其次是${
          region(b)
        }（${pct(f.regionShares[b])}%）。`,
    );
  } else {
    lines.push(
      en ? `No part of the image has positive ${m} attribution.` : `图像中没有任何区域得到${m}的正向归因。`,
    );
  }
  const methods = f.agreement.methods.map((x) => methodName(x, lang)).join(en ? ", " : "、");
  if (Number.isFinite(f.agreement.mean)) {
    const { weak, strong } = f.agreement.scale;
    lines.push(
      en
        ? `${methods} agree ${strength(f.agreement.mean, f.agreement.scale, lang)} (mean rank correlation ${
          r2(f.agreement.mean)
        }; below ${r2(weak)} counts as weak, ${r2(weak)} to ${r2(strong)} as moderate, above ${
          r2(strong)
        } as strong).`
        : `${methods}之间的一致程度${strength(f.agreement.mean, f.agreement.scale, lang)}（平均秩相关系数 ${
          r2(f.agreement.mean)
        }；低于 ${r2(weak)} 为低，${r2(weak)} 到 ${r2(strong)} 为中等，高于 ${r2(strong)} 为高）。`,
    );
  }
  lines.push(
    en
      ? `Deleting pixels in the order of the ${m} attribution lowers the probability of ${
        name(f.predicted)
      } with an area under the curve of ${r3(f.deletionAuc)}, against ${
        r3(f.randomDeletionAuc)
      } for a random order (lower: the attribution found what the model uses).`
      : `按${m}归因的顺序删除像素，${name(f.predicted)} 的概率曲线下面积为 ${r3(f.deletionAuc)}，随机顺序为 ${
        r3(f.randomDeletionAuc)
      }（越低，说明归因找到的正是模型所依赖的像素）。`,
  );
  if (f.caveats.length) {
    lines.push(en ? "Caveats:" : "注意：");
    for (const c of f.caveats) lines.push(`- ${caveatLine(c, f, lang, name)}`);
  } else {
    lines.push(en ? "No caveat applies." : "没有需要注意的情况。");
  }
  return lines.join("\n");
}

/** What the model-level text may state. */
export interface ModelFacts {
  /** Test accuracy and the number of test samples. */
  accuracy: number;
  /** How many test samples. */
  count: number;
  /** Expected calibration error, and after temperature scaling (with the temperature). */
  ece: number;
  /** The ECE after temperature scaling. */
  eceAfter?: number;
  /** The fitted temperature. */
  temperature?: number;
  /** The most confused pairs (largest first). */
  confusions: { actual: number; predicted: number; count: number }[];
  /** The weakest slices (lowest accuracy first). */
  weakSlices: { name: string; accuracy: number; count: number }[];
  /**
   * Alarms raised by gradient tracking; leave it out when the model was not tracked (a
   * checkpoint without its run), so the words say nothing about tracking rather than "no alarm".
   */
  alarms?: { kind: string; layer: string; step: number }[];
  /**
   * The weights' mean |gradient| averaged over the tracker's records of steps `steps[0]` to
   * `steps[1]` (`gradientFlow`: the window the gradient-flow chart draws).
   */
  gradients?: { steps: [number, number]; params: { name: string; meanAbs: number }[] };
}

/**
 * A whole model in words: accuracy, calibration, the main confusions, the weakest slices and
 * what gradient tracking's alarms found.
 *
 * @example
 * ```ts
 * import { describeModel } from "glassbox";
 * describeModel({ accuracy: 0.99, count: 10000, ece: 0.01, confusions: [], weakSlices: [], alarms: [] }, "en");
 * ```
 */
export function describeModel(f: ModelFacts, lang: Language = "en", classNames?: string[]): string {
  if (lang !== "en" && lang !== "zh") {
    throw new Error(`describeModel: language must be "en" or "zh", got "${lang}"`);
  }
  const en = lang === "en", name = (k: number) => classNames?.[k] ?? String(k);
  const lines = [
    en
      ? `Test accuracy is ${pct(f.accuracy)}% on ${f.count} samples.`
      : `测试准确率为 ${pct(f.accuracy)}%（共 ${f.count} 个样本）。`,
  ];
  if (f.eceAfter !== undefined && f.temperature !== undefined) {
    const lower = f.eceAfter < f.ece;
    lines.push(
      en
        ? `Expected calibration error is ${r3(f.ece)}; temperature scaling (T = ${r2(f.temperature)}) ${
          lower ? "lowers it to" : "does not lower it: it becomes"
        } ${r3(f.eceAfter)}.`
        : `期望校准误差为 ${r3(f.ece)}；温度缩放（T = ${r2(f.temperature)}）${
          lower ? "后降为" : "后并未降低，变为"
        } ${r3(f.eceAfter)}。`,
    );
  } else {
    lines.push(en ? `Expected calibration error is ${r3(f.ece)}.` : `期望校准误差为 ${r3(f.ece)}。`);
  }
  if (f.confusions.length) {
    const list = f.confusions.map((c) =>
      en
        ? `${name(c.actual)} taken for ${name(c.predicted)} (${c.count} times)`
        : `${name(c.actual)} 被判为 ${name(c.predicted)}（${c.count} 次）`
    );
    lines.push(
      en ? `The most frequent confusions: ${list.join("; ")}.` : `最常见的混淆：${list.join("；")}。`,
    );
  }
  if (f.weakSlices.length) {
    const list = f.weakSlices.map((
      s,
    ) => (en
      ? `${s.name}: ${pct(s.accuracy)}% of ${s.count}`
      : `${s.name}：${s.count} 个中 ${pct(s.accuracy)}%`)
    );
    lines.push(en ? `Where it is weakest: ${list.join("; ")}.` : `表现最弱的部分：${list.join("；")}。`);
  }
  const g = f.gradients?.params.filter((q) => Number.isFinite(q.meanAbs) && q.meanAbs > 0) ?? [];
  if (f.gradients && g.length >= 2) {
    const lo = g.reduce((a, b) => (b.meanAbs < a.meanAbs ? b : a)),
      hi = g.reduce((a, b) => (b.meanAbs > a.meanAbs ? b : a));
    const e = (v: number) => v.toExponential(2);
    lines.push(
      en
        ? `Averaged over gradient tracking's records of steps ${f.gradients.steps[0]}–${
          f.gradients.steps[1]
        } (the gradient-flow chart's window), the weights' mean |gradient| runs from ${
          e(lo.meanAbs)
        } (${lo.name}) to ${e(hi.meanAbs)} (${hi.name}), a ratio of ${(hi.meanAbs / lo.meanAbs).toFixed(1)}.`
        : `在梯度跟踪第 ${f.gradients.steps[0]}–${
          f.gradients.steps[1]
        } 步的记录上平均（即梯度流图的窗口），权重的平均 |梯度| 从 ${e(lo.meanAbs)}（${lo.name}）到 ${
          e(hi.meanAbs)
        }（${hi.name}），相差 ${(hi.meanAbs / lo.meanAbs).toFixed(1)} 倍。`,
    );
  }
  if (f.alarms === undefined) {
    // not tracked: nothing to report either way
  } else if (f.alarms.length) {
    const kinds = new Map<string, { layer: string; step: number }[]>();
    for (const a of f.alarms) kinds.set(a.kind, [...(kinds.get(a.kind) ?? []), a]);
    for (const [kind, list] of kinds) {
      lines.push(
        en
          ? `Gradient tracking raised ${list.length} "${kind}" alarm(s), first at step ${
            list[0].step
          } in layer ${list[0].layer}.`
          : `梯度跟踪发出 ${list.length} 次“${kind}”警报，第一次在第 ${list[0].step} 步、层 ${
            list[0].layer
          }。`,
      );
    }
  } else {
    lines.push(en ? "Gradient tracking raised no alarm." : "梯度跟踪没有发出警报。");
  }
  return lines.join("\n");
}
