/** Pictures: colormaps, PNG image grids, SVG charts, and the charts of a training run. */
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
