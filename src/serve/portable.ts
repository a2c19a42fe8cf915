/**
 * The dashboard's part that runs in a page: the explainer (prediction, heatmaps, feature maps,
 * words, one request at a time), the page's description of the model, and the request check the
 * server applies. No HTTP server and no files: the static dashboard (`deno task serve --static`)
 * runs these in the visitor's browser, the live one under Deno.
 */
export {
  type AttributionMap,
  type DashboardInfo,
  dashboardInfo,
  Explainer,
  type ExplainRequest,
  type ExplainResult,
  type OfferedMethod,
} from "./explainer.ts";
export { parseExplainRequest } from "./handler.ts";
