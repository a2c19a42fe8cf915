/**
 * Every word the pictures and the report put on a page, one table per language: chart titles,
 * axes, legends and keys, and the report's headings, table headers, captions and the sentence
 * that says what each section shows. The report reads it, and a dashboard can read the same
 * table. Numbers are formatted by the caller; functions take them ready to print.
 */

/** The languages the pages are written in. */
export type Language = "en" | "zh";

/** The words of one language (every language has every entry: the type makes sure of it). */
export interface Strings {
  /** `<html lang>` */
  htmlLang: string;
  /** " (log scale)" after a log axis's label. */
  logScale: string;
  /** "+N more" under a legend that does not show every entry. */
  more: (n: number) => string;
  // embedding projector (scatter plots of projected representations)
  /** In English: (k) => `class ${k}` — a class with no name. */
  classNamed: (k: number) => string;
  /** In English: (shown, n) => `Thumbnails at ${shown} of ${n} points (chosen so none overlaps); every point is a dot coloured by its label.` */
  scatterSample: (shown: number, n: number, kind: "image" | "word") => string;

  // training charts
  /** In English: (a, b) => `Gradient flow: |gradient| of each layer's weights (steps ${a}–${b})`, */
  gradientFlowTitle: (from: number, to: number) => string;
  /** In English: "layer (input → output)" */
  layerAxis: string;
  /** In English: "|∂loss/∂w|" */
  gradAxis: string;
  /** In English: "mean |grad|" */
  meanAbsGrad: string;
  /** In English: "max |grad|" */
  maxAbsGrad: string;
  /** In English: "Gradient norm per layer" */
  gradNormTitle: string;
  /** In English: "training step" */
  stepAxis: string;
  /** In English: "‖∂loss/∂w‖₂" */
  gradNormAxis: string;
  /** In English: "Update-to-weight ratio per layer" */
  updateRatioTitle: string;
  /** In English: "‖Δw‖ / ‖w‖" */
  updateRatioAxis: string;
  /** In English: "1e-3 (rule of thumb)" */
  ruleOfThumb: string;
  /** In English: "Loss" */
  lossTitle: string;
  /** In English: "cross-entropy (nats)" */
  lossAxis: string;
  /** In English: "loss per step" */
  lossPerStep: string;
  /** In English: "moving average" */
  movingAverage: string;
  /** In English: "train (epoch mean)" */
  trainEpochMean: string;
  /** In English: "test" */
  testLoss: string;
  /** In English: "Test accuracy" */
  accuracyTitle: string;
  /** In English: "epoch" */
  epochAxis: string;
  /** In English: "accuracy (%)" */
  accuracyAxis: string;
  /** In English: "test accuracy" */
  testAccuracy: string;
  /** In English: (name, step) => `${name} (step ${step})`, */
  histogramTitle: (name: string, step: number) => string;
  /** In English: "activation value" */
  activationValue: string;
  /** In English: "gradient value" */
  gradientValue: string;
  /** In English: "weight value" */
  weightValue: string;
  /** In English: "count" */
  count: string;
  /** In English: (p, what) => */
  distributionTitle: (param: string, what: "weight" | "grad") => string;
  /** The bands of a distribution chart, outermost first, then the median. */
  bandNames: string[];
  /** In English: "median" */
  median: string;

  // diagnosis charts
  /** In English: "Confusion matrix" */
  confusionTitle: string;
  /** In English: "predicted class" */
  predictedClass: string;
  /** In English: "true class" */
  trueClass: string;
  /** In English: (m) => [ */
  confusionFoot: (maxShare: string) => string[];
  /** In English: "Reliability diagram" */
  reliabilityTitle: string;
  /** In English: "confidence (probability of the predicted class)" */
  confidenceAxis: string;
  /** In English: "accuracy in the bin" */
  binAccuracyAxis: string;
  /** In English: ["share of", "predictions (√)"] */
  shareOfPredictions: [string, string];
  /** In English: "accuracy" */
  keyAccuracy: string;
  /** In English: "mean confidence" */
  keyConfidence: string;
  /** In English: "gap between them" */
  keyGap: string;
  /** In English: ["on the dashed diagonal,", "confidence = accuracy"] */
  diagonalNote: [string, string];

  // attribution grids and colour keys
  /** In English: "input" */
  input: string;
  /** In English: "all zero" */
  allZero: string;
  /** In English: "signed: red raises the explained class's score, blue lowers it" */
  signedKey: string;
  /** In English: "magnitude: how much the pixel matters, either way" */
  magnitudeKey: string;
  /** In English: "max" */
  max: string;
  /** In English: "each map scaled to its own 99th percentile of |value|; beyond it saturates" */
  gridFoot: string;
}

const EN: Strings = {
  htmlLang: "en",
  logScale: " (log scale)",
  more: (n) => `+${n} more`,
  classNamed: (k) => `class ${k}`,
  scatterSample: (shown, n, kind) =>
    `${
      kind === "image" ? "Thumbnails" : "Words"
    } at ${shown} of ${n} points (a sample, so that none overlaps); every point is a dot coloured by its label.`,
  gradientFlowTitle: (a, b) => `Gradient flow: |gradient| of each layer's weights (steps ${a}–${b})`,
  layerAxis: "layer (input → output)",
  gradAxis: "|∂loss/∂w|",
  meanAbsGrad: "mean |grad|",
  maxAbsGrad: "max |grad|",
  gradNormTitle: "Gradient norm per layer",
  stepAxis: "training step",
  gradNormAxis: "‖∂loss/∂w‖₂",
  updateRatioTitle: "Update-to-weight ratio per layer",
  updateRatioAxis: "‖Δw‖ / ‖w‖",
  ruleOfThumb: "1e-3 (rule of thumb)",
  lossTitle: "Loss",
  lossAxis: "cross-entropy (nats)",
  lossPerStep: "loss per step",
  movingAverage: "moving average",
  trainEpochMean: "train (epoch mean)",
  testLoss: "test",
  accuracyTitle: "Test accuracy",
  epochAxis: "epoch",
  accuracyAxis: "accuracy (%)",
  testAccuracy: "test accuracy",
  histogramTitle: (name, step) => `${name} (step ${step})`,
  activationValue: "activation value",
  gradientValue: "gradient value",
  weightValue: "weight value",
  count: "count",
  distributionTitle: (p, what) =>
    `Distribution of ${p} ${what === "grad" ? "gradients" : "values"} over training`,
  bandNames: [
    "min – max",
    "6.7th – 93.3rd percentile (±1.5σ)",
    "15.9th – 84.1st percentile (±1σ)",
    "30.9th – 69.1st percentile (±0.5σ)",
  ],
  median: "median",
  confusionTitle: "Confusion matrix",
  predictedClass: "predicted class",
  trueClass: "true class",
  confusionFoot: (m) => [
    "Each cell: how many examples of the row's class got the column's prediction.",
    "Green: the share of the class classified right. Red: the share taken for another class,",
    `darkest at the largest confusion (${m}% of its class).`,
  ],
  reliabilityTitle: "Reliability diagram",
  confidenceAxis: "confidence (probability of the predicted class)",
  binAccuracyAxis: "accuracy in the bin",
  shareOfPredictions: ["share of", "predictions (√)"],
  keyAccuracy: "accuracy",
  keyConfidence: "mean confidence",
  keyGap: "gap between them",
  diagonalNote: ["on the dashed diagonal,", "confidence = accuracy"],
  input: "input",
  allZero: "all zero",
  signedKey: "signed: red raises the explained class's score, blue lowers it",
  magnitudeKey: "magnitude: how much the pixel matters, either way",
  max: "max",
  gridFoot: "each map scaled to its own 99th percentile of |value|; beyond it saturates",
};

const ZH: Strings = {
  htmlLang: "zh",
  logScale: "（对数刻度）",
  more: (n) => `另有 ${n} 项`,
  classNamed: (k) => `类别 ${k}`,
  scatterSample: (shown, n, kind) =>
    `在 ${n} 个点中的 ${shown} 个点上显示${
      kind === "image" ? "缩略图" : "词语"
    }（抽样使其互不重叠）；每个点都是按其标签着色的圆点。`,
  gradientFlowTitle: (a, b) => `梯度流：各层权重的 |梯度|（第 ${a}–${b} 步）`,
  layerAxis: "层（输入 → 输出）",
  gradAxis: "|∂损失/∂w|",
  meanAbsGrad: "平均 |梯度|",
  maxAbsGrad: "最大 |梯度|",
  gradNormTitle: "各层梯度范数",
  stepAxis: "训练步数",
  gradNormAxis: "‖∂损失/∂w‖₂",
  updateRatioTitle: "各层更新量与权重之比",
  updateRatioAxis: "‖Δw‖ / ‖w‖",
  ruleOfThumb: "1e-3（经验值）",
  lossTitle: "损失",
  lossAxis: "交叉熵（奈特）",
  lossPerStep: "每步损失",
  movingAverage: "滑动平均",
  trainEpochMean: "训练集（每轮平均）",
  testLoss: "测试集",
  accuracyTitle: "测试准确率",
  epochAxis: "训练轮次",
  accuracyAxis: "准确率（%）",
  testAccuracy: "测试准确率",
  histogramTitle: (name, step) => `${name}（第 ${step} 步）`,
  activationValue: "激活值",
  gradientValue: "梯度值",
  weightValue: "权重值",
  count: "个数",
  distributionTitle: (p, what) => `${p} 的${what === "grad" ? "梯度" : "取值"}在训练中的分布`,
  bandNames: [
    "最小值 – 最大值",
    "第 6.7 – 93.3 百分位（±1.5σ）",
    "第 15.9 – 84.1 百分位（±1σ）",
    "第 30.9 – 69.1 百分位（±0.5σ）",
  ],
  median: "中位数",
  confusionTitle: "混淆矩阵",
  predictedClass: "预测类别",
  trueClass: "真实类别",
  confusionFoot: (m) => [
    "每个格子：该行类别的样本中被预测为该列类别的数量。",
    "绿色：该类别被正确分类的比例。红色：被误判为其他类别的比例，",
    `颜色最深处是最大的混淆（占其类别的 ${m}%）。`,
  ],
  reliabilityTitle: "可靠性图",
  confidenceAxis: "置信度（预测类别的概率）",
  binAccuracyAxis: "该区间内的准确率",
  shareOfPredictions: ["预测所占", "比例（√）"],
  keyAccuracy: "准确率",
  keyConfidence: "平均置信度",
  keyGap: "两者之差",
  diagonalNote: ["在虚线对角线上，", "置信度 = 准确率"],
  input: "输入",
  allZero: "全为零",
  signedKey: "有符号：红色提高被解释类别的得分，蓝色降低它",
  magnitudeKey: "幅度：像素的重要程度（不分方向）",
  max: "最大",
  gridFoot: "每张图按其自身 |值| 的第 99 百分位缩放，超出部分饱和",
};

/** The words of each language. */
export const STRINGS: Record<Language, Strings> = { en: EN, zh: ZH };

/**
 * The table of one language; anything else is an error that names the value.
 *
 * @example
 * ```ts
 * import { strings } from "glassbox";
 * if (strings("zh").lossTitle !== "损失") throw new Error("not Chinese");
 * ```
 */
export function strings(lang: Language = "en"): Strings {
  const s = STRINGS[lang];
  if (!s || !Object.hasOwn(STRINGS, lang)) throw new Error(`language must be "en" or "zh", got "${lang}"`);
  return s;
}

/** The Chinese names of attribution methods; a name not listed (Grad-CAM, SmoothGrad) is a proper name, kept. */
const METHODS_ZH: Record<string, string> = {
  "Integrated Gradients": "积分梯度",
  Saliency: "显著图",
  "Input×Gradient": "输入乘梯度",
  "Guided Backprop": "引导反向传播",
  Occlusion: "遮挡",
  "Feature ablation": "特征消融",
  "Layer Integrated Gradients": "层积分梯度",
  Deconvolution: "反卷积",
};

/**
 * An attribution method's name in a language.
 *
 * @example
 * ```ts
 * import { methodName } from "glassbox";
 * if (methodName("Saliency", "zh") !== "显著图" || methodName("Grad-CAM", "zh") !== "Grad-CAM") throw new Error();
 * if (methodName("Occlusion 2×2", "zh") !== "遮挡 2×2") throw new Error("the window is kept");
 * ```
 */
export function methodName(name: string, lang: Language = "en"): string {
  if (lang !== "zh") return name;
  const window = /^Occlusion (\d+×\d+)$/.exec(name); // the window's size, as the registry's title gives it
  return window ? `遮挡 ${window[1]}` : METHODS_ZH[name] ?? name;
}
