/**
 * Pictures, with no GPU and no files: colormaps (viridis for magnitudes, a diverging blue-white-red
 * for signed values), PNG bytes and image grids, SVG charts (lines, bars, histograms, scatter
 * plots), the charts of a training run, attribution heatmaps and attention maps, in English or
 * Chinese.
 *
 * @example
 * ```ts
 * import { css, diverging, encodePng } from "glassbox/viz";
 * // the diverging map's ends and centre are ColorBrewer RdBu's: dark blue, white, dark red
 * if (css(diverging(-1)) !== "rgb(5,48,97)") throw new Error(css(diverging(-1)));
 * if (css(diverging(0)) !== "rgb(247,247,247)") throw new Error(css(diverging(0)));
 * if (css(diverging(1)) !== "rgb(103,0,31)") throw new Error(css(diverging(1)));
 * // a 1×1 RGBA image as a PNG file: the 8-byte signature, then the header chunk
 * const png = encodePng({ width: 1, height: 1, data: new Uint8Array([255, 0, 0, 255]) });
 * if (png.subarray(0, 8).join() !== "137,80,78,71,13,10,26,10") throw new Error("not a PNG");
 * ```
 * @module
 */
export { css, diverging, type RGB, SERIES, viridis } from "./colormap.ts";
export { encodePng, type GridOptions, type Image, imageGrid } from "./png.ts";
export {
  bandChart,
  barChart,
  type Box,
  type ChartOptions,
  gridOfCharts,
  histogramChart,
  type LegendPlace,
  lineChart,
  segmentMeetsBox,
  type Series,
  textWidth,
} from "./svg.ts";
export { type Language, methodName, STRINGS, type Strings, strings } from "./strings.ts";
export {
  accuracyChart,
  type ChartRecord,
  type ChartStats,
  distributionChart,
  GRADIENT_FLOW_WINDOW,
  type GradientFlow,
  gradientFlow,
  gradientFlowChart,
  gradNormChart,
  histogramPercentiles,
  histogramsChart,
  type History,
  lossChart,
  updateRatioChart,
} from "./training.ts";
export {
  absQuantile,
  attentionHeatmap,
  attributionGrid,
  colorKey,
  greyImage,
  heatmapImage,
  type HeatmapOptions,
  type InputRow,
  labelledImages,
  type MethodColumn,
} from "./attribution.ts";
export { attentionGrid, type AttentionPanel, headView } from "./attention.ts";
export { confusionMatrixChart, type ReliabilityBinView, reliabilityDiagram } from "./diagnosis.ts";
export { type ClassWords, tokenAttributionSvg, type TokenRow, topWordsSvg } from "./text.ts";
export { rgbImage } from "./attribution.ts";
export { type ScatterOptions, scatterPlot, type ScatterPoint } from "./scatter.ts";
export { type ImageCell, imageTable, type ImageTableOptions, rangeImage, tileImages } from "./image_table.ts";
export { type RooflineOptions, type RooflinePoint, rooflineSvg } from "./roofline.ts";
