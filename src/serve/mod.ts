/** The live dashboard: the queued explainer, the HTTP handler, and the server. */
export * from "./portable.ts";
export { dashboardExamples, trainingExamples } from "./examples.ts";
export { createHandler, type HandlerOptions } from "./handler.ts";
export { type Dashboard, dashboardHost, type DashboardOptions, serveDashboard } from "./server.ts";
export {
  type StaticDashboardFiles,
  type StaticDashboardOptions,
  staticDashboardPage,
  type StaticPageParts,
  writeStaticDashboard,
} from "./static_site.ts";
