/** The live dashboard: the queued explainer, the HTTP handler, and the server. */
export { Explainer, type ExplainRequest, type ExplainResult } from "./explainer.ts";
export { createHandler, type HandlerOptions, parseExplainRequest } from "./handler.ts";
export { type Dashboard, dashboardHost, type DashboardOptions, serveDashboard } from "./server.ts";
