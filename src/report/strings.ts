/**
 * The report's words, one table per language, on top of the pictures' table (`strings` in
 * viz): headings, the sentence under each heading that says what the section shows and how to
 * read it, table headers, captions, colour keys and where a borrowed section came from.
 */
import { type Language, type Strings, strings } from "../viz/strings.ts";

/** A section's heading and the sentence that says what it shows and how to read it. */
export interface SectionWords {
  /** The heading. */
  title: string;
  /** What the section shows and how to read it. */
  intro: string;
}

/** The numbers of the calibration paragraph, ready to print. */
export interface CalibrationWords {
  /** Images judged. */
  count: number;
  /** ECE before scaling. */
  before: string;
  /** ECE after cross-fitted scaling. */
  after: string;
  /** One sentence per half (from `calibrationFold`). */
  folds: string[];
  /** Whether scaling lowered the ECE. */
  lowered: boolean;
  /** The temperature fitted on all images. */
  temperature: string;
  /** NLL before that temperature. */
  nllBefore: string;
  /** NLL after it. */
  nllAfter: string;
}

/** The report's words in one language (with the pictures' words: `Strings`). */
export interface ReportStrings extends Strings {
  /** The page's title. */
  pageTitle: string;
  /** The line under the title. */
  subtitle: (dir: string, when: string) => string;
  /** The subtitle of a report about a checkpoint without its training run. */
  subtitleModel: (checkpoint: string, when: string) => string;
  /** The words section's introduction when no training run was tracked (no gradient figures). */
  wordsIntroNoRun: string;
  /** Every section's heading and introduction. */
  sections: Record<
    | "model"
    | "training"
    | "gradients"
    | "distributions"
    | "errors"
    | "calibration"
    | "mistakes"
    | "gallery"
    | "importance"
    | "words"
    | "attention"
    | "compression",
    SectionWords
  >;
  /** Which checkpoint the page is about. */
  checkpointLine: (path: string, arch: string, epoch: string | undefined, sha256: string) => string;
  /** The layer table's headers. */
  summaryHeaders: string[];
  /** The line under the layer table. */
  summaryTotals: (total: number, trainable: number, macs: number, input: string) => string;
  /** The model graph's title. */
  graphTitle: string;
  /** How to read the model graph. */
  graphCaption: string;
  /** Why a token model has no graph. */
  noGraph: string;
  /** No history.json in the run. */
  noHistory: (dir: string) => string;
  /** No tracker records in the run. */
  noRecords: (dir: string) => string;
  /** One alarm. */
  alarmLine: (step: number, kind: string, layer: string, value: number, threshold: number) => string;
  /** No alarm. */
  noAlarm: string;
  /** Caption of the first conv's filters. */
  filtersCaption: (layer: string, count: number) => string;
  /** The filters' colour key. */
  filtersKey: string;
  /** Caption of a layer's feature maps. */
  featureMapsCaption: (label: string, channels: number) => string;
  /** The feature maps' colour key. */
  featureMapsKey: string;
  /** The ends of the feature maps' key. */
  tileMin: string;
  /** The ends of the feature maps' key. */
  tileMax: string;
  /** A slice of one class. */
  classSlice: (name: string) => string;
  /** The ink slices' name. */
  inkSlice: string;
  /** The stroke-width slices' name. */
  strokeSlice: string;
  /** A confidence slice. */
  confidenceSlice: (lo: string, hi: string) => string;
  /** The test accuracy line. */
  testAccuracyLine: (percent: string, count: number) => string;
  /** The confusion matrix's title. */
  confusionTitleTest: string;
  /** Heading of the per-class table. */
  perClassHeading: string;
  /** Its headers. */
  perClassHeaders: string[];
  /** Heading of the confused pairs. */
  confusedHeading: string;
  /** Its headers. */
  confusedHeaders: string[];
  /** Heading of the weakest slices. */
  weakestHeading: string;
  /** What the slices are. */
  slicesNote: (minCount: number, grey: boolean) => string;
  /** The slices' headers. */
  sliceHeaders: string[];
  /** One half of the cross-fitted calibration. */
  calibrationFold: (from: number, to: number, t: string, before: string, after: string) => string;
  /** The calibration paragraph. */
  calibrationText: (c: CalibrationWords) => string;
  /** The first reliability diagram's title. */
  beforeScaling: string;
  /** The second one's. */
  afterScaling: (temperatures: string) => string;
  /** A row of a mistake's card (r = 0 the mistake, 1 its true class, 2 its predicted class). */
  cardCaption: (r: number, index: number, label: string, predicted: string, confidence: string) => string;
  /** A mistake's grid title. */
  mistakeGridTitle: (index: number, actual: string, predicted: string) => string;
  /** A row of the gallery. */
  galleryCaption: (index: number, label: string, predicted: string, confidence: string) => string;
  /** The weights-and-activations section's introduction for a model without convolutions. */
  distributionsIntroPlain: string;
  /** The mistakes section's introduction for tabular models. */
  mistakesIntroTabular: string;
  /** The mistakes section's introduction for token models. */
  mistakesIntroTokens: string;
  /** The methods section's introduction for tabular models. */
  galleryIntroTabular: string;
  /** The methods section's introduction for token models. */
  galleryIntroTokens: string;
  /** No test example is wrong. */
  noMistakes: string;
  /** A row of nearest training examples: of the mistake's true class, or of the class it was taken for. */
  neighboursTitle: (which: "true" | "predicted", cls: string, layer: string) => string;
  /** Under each neighbour: its label and distance. */
  neighbourLabel: (label: string, distance: string) => string;
  /** Under a neighbours row: how to read it. */
  neighboursNote: (metric: string) => string;
  /** The mistakes section's sentence on the neighbour rows (k, layer, training examples searched, seconds). */
  neighboursIntro: (k: number, layer: string, n: number, seconds: string) => string;
  /** Why the neighbour rows are absent. */
  neighboursAbsent: string;
  /** The first header of the importance table. */
  featureHeader: string;
  /** The importance chart's title. */
  importanceTitle: (rows: number) => string;
  /** Its y axis. */
  importanceAxis: string;
  /** The x axis of feature charts. */
  featureAxis: string;
  /** The y axis of a row's attribution bars. */
  attributionAxis: string;
  /** A tabular row's attribution bars: title. */
  rowBarsTitle: (index: number, label: string, predicted: string, confidence: string) => string;
  /** Under a row's bars: which features are drawn. */
  rowBarsNote: (shown: number, total: number) => string;
  /** A token picture's title: the method. */
  tokensTitle: (method: string) => string;
  /** The colour key under a token picture. */
  tokenLegend: string;
  /** The gallery's title. */
  galleryTitle: (methods: number) => string;
  /** Where the attention section comes from. */
  attentionSource: (dir: string, checkpoint: string, sha256?: string) => string;
  /** A borrowed run without its pictures. */
  noPictures: (dir: string) => string;
  /** A compression study that does not record its checkpoint's hash. */
  compressUnknown: (dir: string, theirs: string, mine: string) => string;
  /** A compression study of this checkpoint. */
  compressSame: (dir: string, theirs: string, sha256: string) => string;
  /** A compression study of another checkpoint. */
  compressDifferent: (dir: string, theirs: string, theirSha: string, mine: string, mySha: string) => string;
  /** The compression table's headers. */
  compressHeaders: string[];
}

const short = (sha: string) => sha.slice(0, 12);

const EN: Omit<ReportStrings, keyof Strings> = {
  pageTitle: "glassbox report",
  subtitle: (dir, when) => `Run ${dir}; written ${when} UTC.`,
  subtitleModel: (checkpoint, when) => `Model ${checkpoint}; written ${when} UTC.`,
  wordsIntroNoRun:
    "A summary of the sections above in sentences, every number taken from them: accuracy, calibration, the main confusions and the weakest slices.",
  sections: {
    model: {
      title: "Model",
      intro:
        "What was trained: the checkpoint this page is about, its layers (output shape, parameters, multiply-accumulates and activation memory for one example) and its graph, read from top (input) to bottom (output).",
    },
    training: {
      title: "Training",
      intro:
        "How training went: the loss per step (pale), its moving average, and the train and test loss after each epoch, on a log scale; then the test accuracy after each whole epoch. Falling curves that level off are healthy; a test loss rising while the train loss falls is overfitting.",
    },
    gradients: {
      title: "Gradient flow and alarms",
      intro:
        "How the gradients reached each layer: the mean and largest |gradient| of each layer's weights averaged over the last tracked steps (bars, log scale), each layer's gradient norm and update-to-weight ratio over training (around 1e-3 is usual), and the gradient histograms at the last tracked step. A staircase of bars falling towards the input means vanishing gradients; the alarms below name any step and layer where tracking saw a problem.",
    },
    distributions: {
      title: "Weights and activations",
      intro:
        "What the layers hold: each weight's distribution over training (bands of percentiles around the median: the key beside each chart names them; bands that stay put mean a layer that barely learns), weight and activation histograms at the last tracked step, the first convolution's filters and two layers' feature maps for the first test image, each with its colour key.",
    },
    errors: {
      title: "Errors",
      intro:
        "Where the model is wrong on the test set: the confusion matrix (rows are the true classes, columns the predictions; the diagonal is right), the accuracy of each class, the pairs it confuses most, and the slices of the test set where it does worst.",
    },
    calibration: {
      title: "Calibration",
      intro:
        "Whether the model's confidence can be taken at its word: in each reliability diagram a bar is the accuracy of the predictions in a confidence bin, the black tick their mean confidence; bars on the dashed diagonal are perfectly calibrated, and the expected calibration error (ECE) is the average gap, weighted by how many predictions each bin holds.",
    },
    mistakes: {
      title: "Most confident mistakes",
      intro:
        "The test images the model got wrong with the highest confidence. In each card the top row is the mistake, the middle row the most confidently right example of its true class, the bottom row that of the class it was taken for; every map explains the row's predicted class (red raises its score, blue lowers it), in the columns of the methods the text cites. The text is generated from the computed numbers only.",
    },
    gallery: {
      title: "Attribution methods compared",
      intro:
        "The attribution methods on the same test images, each explaining the predicted class: where the methods agree, the evidence is easier to trust. Signed maps are blue-white-red, magnitudes viridis; each map is scaled to its own 99th percentile.",
    },
    importance: {
      title: "Global feature importance",
      intro:
        "Which features the model leans on across the test set: for each method, the mean |attribution| of each feature over the first test rows, each explaining its predicted class (a sign cancels across rows, so magnitudes are averaged). Long bars are features the model uses; methods that agree make the ranking easier to trust.",
    },
    words: {
      title: "The model in words",
      intro:
        "A summary of the sections above in sentences, every number taken from them: accuracy, calibration, the main confusions, the weakest slices and what gradient tracking found, over the same steps as the gradient-flow chart.",
    },
    attention: {
      title: "Attention (deno task reverse)",
      intro:
        "Borrowed from another run: the attention maps of the small transformer that learns to reverse sequences. Each map is how much each query position (row) attends to each key position (column); a clean anti-diagonal is the reversal learnt.",
    },
    compression: {
      title: "Compression (deno task compress)",
      intro:
        "Borrowed from a compression study: each variant of the model (pruned, quantized, distilled) with its size, test accuracy and speed, and how far its attributions drifted from the original's (rank correlation ρ; 1 means unchanged).",
    },
  },
  checkpointLine: (path, arch, epoch, sha) =>
    `Checkpoint ${path} (${arch}${epoch === undefined ? "" : `, epoch ${epoch}`}; SHA-256 ${short(sha)}…).`,
  summaryHeaders: [
    "layer",
    "type",
    "output shape",
    "parameters",
    "multiply-accumulates",
    "activation memory",
  ],
  summaryTotals: (total, trainable, macs, input) =>
    `${total} parameters (${trainable} trainable); ${macs} multiply-accumulates for one input of shape ${input}.`,
  graphTitle: "Model graph",
  noGraph:
    "The graph is traced from the gradient of the input, and token ids (integers) have none: for this model it is not drawn.",
  graphCaption:
    "Drawn from the autograd graph of one forward pass: each box is a layer call with its output shape; arrows follow the data from the input down.",
  noHistory: (dir) => `(no history.json in ${dir})`,
  noRecords: (dir) => `(no gradient-tracking records in ${dir})`,
  alarmLine: (step, kind, layer, value, threshold) =>
    `step ${step}: ${kind} in ${layer} (${value} against ${threshold})`,
  noAlarm: "Gradient tracking raised no alarm.",
  filtersCaption: (layer, count) =>
    `The ${count} filters of the first convolution (layer ${layer}), on its first input channel, all on one colour scale.`,
  filtersKey: "blue: negative weight, white: 0, red: positive (one scale for all filters)",
  featureMapsCaption: (label, channels) =>
    `Feature maps of layer ${label} for the first test image: one tile for each of its ${channels} channels.`,
  featureMapsKey:
    "each tile scaled from its own minimum (dark) to its own maximum (yellow); a constant tile is teal",
  tileMin: "tile minimum",
  tileMax: "tile maximum",
  classSlice: (name) => `class ${name}`,
  inkSlice: "ink",
  strokeSlice: "stroke width",
  confidenceSlice: (lo, hi) => `confidence ${lo}–${hi}`,
  testAccuracyLine: (pc, n) => `Test accuracy ${pc}% on ${n} examples.`,
  confusionTitleTest: "Confusion matrix, test set",
  perClassHeading: "Accuracy per class",
  perClassHeaders: ["class", "examples", "accuracy"],
  confusedHeading: "Most confused pairs",
  confusedHeaders: ["true", "predicted as", "examples", "share of the class"],
  weakestHeading: "Where the model is weakest",
  slicesNote: (n, grey) =>
    `Slices by class, ${
      grey
        ? "by ink (share of pixels above half intensity), by stroke width (2 × ink area / ink perimeter, in pixels) and "
        : "and "
    }by confidence; only slices of ${n} examples or more.`,
  sliceHeaders: ["slice", "examples", "accuracy"],
  calibrationFold: (a, b, tt, e0, e1) =>
    `examples ${a}–${b} with T = ${tt} (fitted on the other half): ECE ${e0} → ${e1}`,
  calibrationText: (c) =>
    `Temperature scaling (Guo et al. 2017), cross-fitted: each half of the test set is scaled by the temperature that minimises the negative log-likelihood on the other half, so every example is judged by a temperature that never saw it. Expected calibration error over all ${c.count} examples (15 equal-width bins): ${c.before} before, ${c.after} after. Per half: ${
      c.folds.join("; ")
    }. ${
      c.lowered
        ? "Temperature scaling lowered it."
        : "Here it did not lower the ECE: the model was already this close to calibrated."
    } (Fitted on all examples, T = ${c.temperature}, NLL ${c.nllBefore} → ${c.nllAfter}.)`,
  beforeScaling: "Before temperature scaling",
  afterScaling: (ts) => `After (T = ${ts}, cross-fitted)`,
  cardCaption: (r, k, y, pr, conf) =>
    `${
      r === 0 ? "mistake" : r === 1 ? "true class, right" : "predicted class, right"
    }: test ${k}, label ${y}, predicted ${pr} (${conf}%)`,
  mistakeGridTitle: (i, a, pr) =>
    `Test ${i}: a ${a} taken for a ${pr}, each map for the row's predicted class`,
  galleryCaption: (i, y, pr, conf) => `test ${i}: label ${y}, predicted ${pr} (${conf}%)`,
  galleryTitle: (m) => `Why the predicted class? ${m} methods on the same images`,
  distributionsIntroPlain:
    "What the layers hold: each weight's distribution over training (bands of percentiles around the median: the key beside each chart names them; bands that stay put mean a layer that barely learns), and the weight and activation histograms at the last tracked step.",
  mistakesIntroTabular:
    "The test rows the model got wrong with the highest confidence. Each card shows the row's features with their attribution to the predicted class (bars above zero raise its score, below lower it), one bar per method, and the prediction in words from Integrated Gradients against the baseline row.",
  mistakesIntroTokens:
    "The test texts the model got wrong with the highest confidence, each token coloured by its attribution to the predicted class (red raises its score, blue lowers it), one picture per method.",
  galleryIntroTabular:
    "The attribution methods on the same test rows, each explaining the predicted class: for every row, each feature's attribution by each method (the features with the largest |attribution| are drawn). Where the methods agree, the evidence is easier to trust.",
  galleryIntroTokens:
    "The attribution methods on the same test texts, each explaining the predicted class: every token coloured by its attribution (red raises the class's score, blue lowers it; each text on its own scale). Where the methods agree, the evidence is easier to trust.",
  noMistakes: "The model gets every test example right: there is no mistake to show.",
  neighboursTitle: (w, c, l) =>
    `Nearest training examples of the ${w === "true" ? "true class" : "predicted class"} ${c} (layer ${l})`,
  neighbourLabel: (y, d) => `${y} · d ${d}`,
  neighboursNote: (m) => `${m} distance in the layer's representation; nearest first`,
  neighboursIntro: (k, l, n, sec) =>
    `Under each card, explanation by example (Deep k-NN, Papernot & McDaniel 2018): the ${k} training images nearest to the mistake in layer ${l}'s representation, first of its true class, then of the class it was taken for, with their labels and Euclidean distances (exact search over all ${n} training images; their representations took ${sec} s). A mistake nearer to the predicted class's examples than to its own class's looks like them to the model.`,
  neighboursAbsent:
    "No training data was given (the report's --train flag, or MNIST's training set for an MNIST model), so the nearest training examples of each mistake are not shown.",
  featureHeader: "feature",
  importanceTitle: (rows) => `Mean |attribution| per feature over ${rows} test rows`,
  importanceAxis: "mean |attribution|",
  featureAxis: "feature",
  attributionAxis: "attribution to the predicted class",
  rowBarsTitle: (i, y, pr, conf) => `Test row ${i}: label ${y}, predicted ${pr} (${conf}%)`,
  rowBarsNote: (shown, total) =>
    shown < total
      ? `The ${shown} features with the largest |attribution| of ${total}; above zero raises the predicted class's score.`
      : "Above zero raises the predicted class's score, below lowers it.",
  tokensTitle: (m) => `${m}: each token coloured by its attribution`,
  tokenLegend: "blue: against the class · white: nothing · red: for the class (each text on its own scale)",
  attentionSource: (dir, ckpt, sha) =>
    `Source: run ${dir}, checkpoint ${ckpt}${
      sha ? ` (SHA-256 ${short(sha)}…)` : " (not found)"
    }. This is a different model from the one this page is about; its pictures are the ones that run drew.`,
  noPictures: (dir) => `(no pictures in ${dir})`,
  compressUnknown: (dir, theirs, mine) =>
    `Source: run ${dir}, made from ${theirs} by its own account, but it does not record which checkpoint bytes: it cannot be matched to this page's checkpoint ${mine}. Its "original" row may be another model.`,
  compressSame: (dir, theirs, sha) =>
    `Source: run ${dir}, made from ${theirs}: the same checkpoint as this page (SHA-256 ${short(sha)}…).`,
  compressDifferent: (dir, theirs, theirSha, mine, mySha) =>
    `Made from a different checkpoint: run ${dir} compressed ${theirs} (SHA-256 ${
      short(theirSha)
    }…), not this page's ${mine} (SHA-256 ${
      short(mySha)
    }…). Its numbers, the "original" row too, are not this model's.`,
  compressHeaders: [
    "variant",
    "parameters",
    "non-zero",
    "file KiB",
    "test accuracy",
    "ms / 256",
    "IG ρ",
    "Grad-CAM ρ",
  ],
};

const ZH: Omit<ReportStrings, keyof Strings> = {
  pageTitle: "glassbox 报告",
  subtitle: (dir, when) => `运行目录 ${dir}；生成于 ${when}（UTC）。`,
  subtitleModel: (checkpoint, when) => `模型 ${checkpoint}；生成于 ${when}（UTC）。`,
  wordsIntroNoRun: "用文字概括以上各节，每个数字都取自其中：准确率、校准、主要混淆和最弱的子集。",
  sections: {
    model: {
      title: "模型",
      intro:
        "训练出的模型：本页所依据的检查点、各层（单个样本的输出形状、参数量、乘加次数和激活内存）以及模型图，从上（输入）往下（输出）读。",
    },
    training: {
      title: "训练过程",
      intro:
        "训练的进展：每步损失（浅色）、其滑动平均，以及每轮结束时训练集和测试集的损失（对数刻度）；其后是每个完整轮次后的测试准确率。曲线下降并趋于平稳是健康的；训练损失下降而测试损失上升则是过拟合。",
    },
    gradients: {
      title: "梯度流与警报",
      intro:
        "梯度如何到达各层：最后若干个跟踪步上平均的各层权重平均和最大 |梯度|（柱状，对数刻度）、各层梯度范数和更新量与权重之比在训练中的变化（约 1e-3 为常见值），以及最后一个跟踪步的梯度直方图。柱子朝输入方向逐级降低意味着梯度消失；下方的警报列出跟踪发现问题的步数和层。",
    },
    distributions: {
      title: "权重与激活",
      intro:
        "各层的内容：每个权重在训练中的分布（围绕中位数的百分位带，图旁的图例说明每条带；带几乎不动说明该层几乎没有学习）、最后一个跟踪步的权重和激活直方图、第一个卷积层的滤波器，以及第一张测试图像在两层上的特征图，每张图都附有颜色说明。",
    },
    errors: {
      title: "错误分析",
      intro:
        "模型在测试集上错在哪里：混淆矩阵（行是真实类别，列是预测类别，对角线为正确）、每个类别的准确率、最常混淆的类别对，以及表现最差的测试集子集。",
    },
    calibration: {
      title: "校准",
      intro:
        "模型的置信度是否可信：在每张可靠性图中，柱子是某个置信度区间内预测的准确率，黑色短线是它们的平均置信度；落在虚线对角线上的柱子表示完全校准，期望校准误差（ECE）是按各区间预测数加权的平均差距。",
    },
    mistakes: {
      title: "置信度最高的错误",
      intro:
        "模型以最高置信度判错的测试图像。每张卡片中，第一行是错误样本，第二行是其真实类别中最有把握判对的样本，第三行是被误判成的类别中最有把握判对的样本；每张归因图解释该行的预测类别（红色提高得分，蓝色降低得分），各列正是文字所引用的方法。文字只依据计算出的数值生成。",
    },
    gallery: {
      title: "归因方法比较",
      intro:
        "各种归因方法作用于相同的测试图像，各自解释预测类别：各方法一致之处，证据更可信。有符号的图用蓝-白-红，幅度图用 viridis；每张图按其自身的第 99 百分位缩放。",
    },
    importance: {
      title: "全局特征重要性",
      intro:
        "模型在整个测试集上依赖哪些特征：对每种方法，取前若干个测试行上每个特征的平均 |归因|（每行解释其预测类别；正负号在各行之间会相互抵消，因此平均的是幅度）。柱子越长，模型越依赖该特征；各方法一致时，排序更可信。",
    },
    words: {
      title: "模型概述",
      intro:
        "用文字概括以上各节，每个数字都取自其中：准确率、校准、主要混淆、最弱的子集，以及梯度跟踪的发现（与梯度流图使用相同的训练步）。",
    },
    attention: {
      title: "注意力（deno task reverse）",
      intro:
        "取自另一次运行：学习反转序列的小型 Transformer 的注意力图。每张图表示每个查询位置（行）对每个键位置（列）的关注程度；清晰的反对角线说明模型学会了反转。",
    },
    compression: {
      title: "模型压缩（deno task compress）",
      intro:
        "取自一次压缩实验：模型的各个变体（剪枝、量化、蒸馏）及其大小、测试准确率和速度，以及其归因相对原模型的偏移（秩相关系数 ρ；1 表示不变）。",
    },
  },
  checkpointLine: (path, arch, epoch, sha) =>
    `检查点 ${path}（${arch}${epoch === undefined ? "" : `，第 ${epoch} 轮`}；SHA-256 ${short(sha)}…）。`,
  summaryHeaders: ["层", "类型", "输出形状", "参数量", "乘加次数", "激活内存"],
  summaryTotals: (total, trainable, macs, input) =>
    `共 ${total} 个参数（其中 ${trainable} 个可训练）；形状为 ${input} 的单个输入需 ${macs} 次乘加。`,
  graphTitle: "模型图",
  noGraph: "模型图是沿输入的梯度追踪得到的，而词元编号（整数）没有梯度：因此这个模型不画模型图。",
  graphCaption: "取自一次前向传播的自动求导图：每个方框是一次层调用及其输出形状；箭头沿数据流从输入向下。",
  noHistory: (dir) => `（${dir} 中没有 history.json）`,
  noRecords: (dir) => `（${dir} 中没有梯度跟踪记录）`,
  alarmLine: (step, kind, layer, value, threshold) =>
    `第 ${step} 步：层 ${layer} 出现 ${kind}（${value}，阈值 ${threshold}）`,
  noAlarm: "梯度跟踪没有发出警报。",
  filtersCaption: (layer, count) =>
    `第一个卷积层（层 ${layer}）的 ${count} 个滤波器（第一个输入通道），所有滤波器使用同一色标。`,
  filtersKey: "蓝色：负权重，白色：0，红色：正权重（所有滤波器同一色标）",
  featureMapsCaption: (label, channels) =>
    `第一张测试图像在层 ${label} 上的特征图：每个小图对应 ${channels} 个通道之一。`,
  featureMapsKey: "每个小图按其自身的最小值（深色）到最大值（黄色）缩放；取值恒定的小图为青绿色",
  tileMin: "小图最小值",
  tileMax: "小图最大值",
  classSlice: (name) => `类别 ${name}`,
  inkSlice: "墨量",
  strokeSlice: "笔画宽度",
  confidenceSlice: (lo, hi) => `置信度 ${lo}–${hi}`,
  testAccuracyLine: (pc, n) => `在 ${n} 个测试样本上的准确率为 ${pc}%。`,
  confusionTitleTest: "混淆矩阵（测试集）",
  perClassHeading: "各类别准确率",
  perClassHeaders: ["类别", "样本数", "准确率"],
  confusedHeading: "最常混淆的类别对",
  confusedHeaders: ["真实类别", "被预测为", "样本数", "占该类别比例"],
  weakestHeading: "模型最弱的地方",
  slicesNote: (n, grey) =>
    `按类别、${
      grey ? "墨量（亮度超过一半的像素比例）、笔画宽度（2 × 墨迹面积 / 墨迹周长，单位为像素）" : ""
    }${grey ? "和" : ""}置信度划分的子集；只列出不少于 ${n} 个样本的子集。`,
  sliceHeaders: ["子集", "样本数", "准确率"],
  calibrationFold: (a, b, tt, e0, e1) => `样本 ${a}–${b} 使用 T = ${tt}（在另一半上拟合）：ECE ${e0} → ${e1}`,
  calibrationText: (c) =>
    `温度缩放（Guo 等，2017），交叉拟合：测试集的每一半用在另一半上使负对数似然最小的温度来缩放，因此每个样本都由一个没有见过它的温度来评判。全部 ${c.count} 个样本的期望校准误差（15 个等宽区间）：缩放前 ${c.before}，缩放后 ${c.after}。各半：${
      c.folds.join("；")
    }。${
      c.lowered ? "温度缩放降低了它。" : "这里温度缩放没有降低 ECE：模型本来就已接近校准。"
    }（在全部样本上拟合：T = ${c.temperature}，NLL ${c.nllBefore} → ${c.nllAfter}。）`,
  beforeScaling: "温度缩放前",
  afterScaling: (ts) => `温度缩放后（T = ${ts}，交叉拟合）`,
  cardCaption: (r, k, y, pr, conf) =>
    `${
      r === 0 ? "错误样本" : r === 1 ? "真实类别，判对" : "预测类别，判对"
    }：测试样本 ${k}，标签 ${y}，预测 ${pr}（${conf}%）`,
  mistakeGridTitle: (i, a, pr) => `测试图像 ${i}：${a} 被误判为 ${pr}，每张图解释该行的预测类别`,
  galleryCaption: (i, y, pr, conf) => `测试样本 ${i}：标签 ${y}，预测 ${pr}（${conf}%）`,
  galleryTitle: (m) => `为什么是这个预测类别？${m} 种方法作用于相同的图像`,
  distributionsIntroPlain:
    "各层的内容：每个权重在训练中的分布（围绕中位数的百分位带，图旁的图例说明每条带；带几乎不动说明该层几乎没有学习），以及最后一个跟踪步的权重和激活直方图。",
  mistakesIntroTabular:
    "模型以最高置信度判错的测试行。每张卡片给出该行各特征对预测类别的归因（高于零提高其得分，低于零降低得分），每种方法一根柱子，并用文字说明预测（积分梯度，相对基线行）。",
  mistakesIntroTokens:
    "模型以最高置信度判错的测试文本，每个词元按其对预测类别的归因着色（红色提高得分，蓝色降低得分），每种方法一张图。",
  galleryIntroTabular:
    "各种归因方法作用于相同的测试行，各自解释预测类别：对每一行，给出每种方法下各特征的归因（只画出 |归因| 最大的特征）。各方法一致之处，证据更可信。",
  galleryIntroTokens:
    "各种归因方法作用于相同的测试文本，各自解释预测类别：每个词元按其归因着色（红色提高该类别的得分，蓝色降低得分；每段文本使用各自的色标）。各方法一致之处，证据更可信。",
  noMistakes: "模型对每个测试样本都判断正确：没有可展示的错误。",
  neighboursTitle: (w, c, l) =>
    `${w === "true" ? "真实类别" : "预测类别"} ${c} 中最近的训练样本（第 ${l} 层）`,
  neighbourLabel: (y, d) => `${y} · 距离 ${d}`,
  neighboursNote: (m) => `该层表示中的${m === "Euclidean" ? "欧氏" : m}距离；最近的在前`,
  neighboursIntro: (k, l, n, sec) =>
    `每张卡片下方是基于样本的解释（Deep k-NN，Papernot 与 McDaniel 2018）：在第 ${l} 层的表示中离该错误样本最近的 ${k} 张训练图像，先是其真实类别的，再是被误判成的类别的，附标签和欧氏距离（在全部 ${n} 张训练图像上精确搜索；计算它们的表示用了 ${sec} 秒）。若错误样本离预测类别的样本比离本类别的更近，在模型看来它就像那些样本。`,
  neighboursAbsent:
    "没有提供训练数据（报告的 --train 参数，或 MNIST 模型所用的 MNIST 训练集），因此不显示每个错误样本最近的训练样本。",
  featureHeader: "特征",
  importanceTitle: (rows) => `${rows} 个测试行上各特征的平均 |归因|`,
  importanceAxis: "平均 |归因|",
  featureAxis: "特征",
  attributionAxis: "对预测类别的归因",
  rowBarsTitle: (i, y, pr, conf) => `测试行 ${i}：标签 ${y}，预测 ${pr}（${conf}%）`,
  rowBarsNote: (shown, total) =>
    shown < total
      ? `${total} 个特征中 |归因| 最大的 ${shown} 个；高于零提高预测类别的得分。`
      : "高于零提高预测类别的得分，低于零降低得分。",
  tokensTitle: (m) => `${m}：每个词元按其归因着色`,
  tokenLegend: "蓝色：不利于该类别 · 白色：无影响 · 红色：支持该类别（每段文本使用各自的色标）",
  attentionSource: (dir, ckpt, sha) =>
    `来源：运行目录 ${dir}，检查点 ${ckpt}${
      sha ? `（SHA-256 ${short(sha)}…）` : "（未找到）"
    }。这与本页所讲的是不同的模型；图片由那次运行绘制（图中文字为英文）。`,
  noPictures: (dir) => `（${dir} 中没有图片）`,
  compressUnknown: (dir, theirs, mine) =>
    `来源：运行目录 ${dir}，据其记录由 ${theirs} 生成，但没有记录检查点内容的哈希，无法与本页的检查点 ${mine} 核对。其中“original”一行可能是另一个模型。图片由那次运行绘制（图中文字为英文）。`,
  compressSame: (dir, theirs, sha) =>
    `来源：运行目录 ${dir}，由 ${theirs} 生成：与本页是同一个检查点（SHA-256 ${
      short(sha)
    }…）。图片由那次运行绘制（图中文字为英文）。`,
  compressDifferent: (dir, theirs, theirSha, mine, mySha) =>
    `由另一个检查点生成：运行目录 ${dir} 压缩的是 ${theirs}（SHA-256 ${
      short(theirSha)
    }…），而不是本页的 ${mine}（SHA-256 ${short(mySha)}…）。其中的数字（包括“original”一行）都不是本模型的。`,
  compressHeaders: [
    "变体",
    "参数量",
    "非零参数",
    "文件 KiB",
    "测试准确率",
    "毫秒 / 256",
    "IG ρ",
    "Grad-CAM ρ",
  ],
};

/**
 * The report's words in a language, with the pictures' words: one table a page reads all its
 * text from. Anything but "en" or "zh" is an error naming the value.
 *
 * @example
 * ```ts
 * import { reportStrings } from "glassbox";
 * const zh = reportStrings("zh");
 * if (zh.sections.errors.title !== "错误分析" || zh.lossTitle !== "损失") throw new Error("not Chinese");
 * ```
 */
export function reportStrings(lang: Language = "en"): ReportStrings {
  const base = strings(lang);
  return { ...base, ...(lang === "zh" ? ZH : EN) };
}
