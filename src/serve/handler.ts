/**
 * The dashboard's HTTP API as a function from a web-standard Request to a Response (so it is
 * tested without a socket and could sit behind any server). A bad request gets a 4xx with a
 * reason in JSON, never a crash; static files come only from the names the caller's reader
 * allows; explanations stream their progress as NDJSON lines and end with the result.
 */
import { poolStats } from "../gpu/pool.ts";
import type { Dataset } from "../nn/evaluate.ts";
import type { Explainer, ExplainRequest } from "./explainer.ts";

/** What the handler needs besides the explainer. */
export interface HandlerOptions {
  /** Reads a static file by name (e.g. "app.js"), or null when there is none. */
  readStatic: (name: string) => Promise<Uint8Array | null>;
  /** Test images the page can pick from (raw ink in [0, 1], [1, 28, 28] each). */
  testImages: Dataset;
  /** Largest request body accepted, in bytes (default 64 KiB). */
  maxBody?: number;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** A JSON response with a status. */
function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
const fail = (status: number, error: string) => json(status, { error });

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    throw new HttpError(413, `the body is ${declared} bytes; at most ${limit} are accepted`);
  }
  if (!req.body) throw new HttpError(400, "the request has no body; send JSON");
  const reader = req.body.getReader(), parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > limit) {
      await reader.cancel();
      throw new HttpError(413, `the body is over ${limit} bytes`);
    }
    parts.push(value);
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw new HttpError(400, "the body is not UTF-8 text");
  }
}

/**
 * Checks an explanation request and names what is wrong (an error with an HTTP status).
 *
 * @example
 * ```ts
 * import { createModel, Explainer, parseExplainRequest, type Sequential } from "glassbox";
 * const e = new Explainer(createModel("seed-cnn") as Sequential, { mean: 0.1307, std: 0.3081 });
 * try {
 *   parseExplainRequest('{"pixels": [1]}', e);
 * } catch (err) {
 *   console.log((err as Error).message); // pixels must be an array of 784 numbers (28×28), got 1
 * }
 * ```
 */
export function parseExplainRequest(body: string, explainer: Explainer): ExplainRequest {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new HttpError(400, "the body is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new HttpError(400, "the body must be a JSON object");
  }
  const o = v as Record<string, unknown>;
  const px = o.pixels;
  if (!Array.isArray(px) || px.length !== 784) {
    throw new HttpError(
      400,
      `pixels must be an array of 784 numbers (28×28), got ${Array.isArray(px) ? px.length : typeof px}`,
    );
  }
  const bad = px.findIndex((p) => typeof p !== "number" || !Number.isFinite(p) || p < 0 || p > 1);
  if (bad >= 0) {
    throw new HttpError(
      400,
      `pixels[${bad}] is ${JSON.stringify(px[bad])}; every pixel must be a number in [0, 1]`,
    );
  }
  const methods = o.methods ?? [];
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== "string")) {
    throw new HttpError(400, "methods must be an array of method names");
  }
  const known = Object.keys(explainer.methods);
  const unknown = (methods as string[]).filter((m) => !known.includes(m));
  if (unknown.length) {
    throw new HttpError(400, `unknown method ${unknown.join(", ")}; choose from ${known.join(", ")}`);
  }
  if (new Set(methods).size !== methods.length) throw new HttpError(400, "methods names a method twice");
  let layer: string | undefined;
  if (o.layer !== undefined && o.layer !== null && o.layer !== "") {
    const layers = explainer.featureLayers().map((l) => l.name);
    if (typeof o.layer !== "string" || !layers.includes(o.layer)) {
      throw new HttpError(
        400,
        `unknown layer ${JSON.stringify(o.layer)}; layers with feature maps: ${layers.join(", ")}`,
      );
    }
    layer = o.layer;
  }
  const lang = o.lang ?? "en";
  if (lang !== "en" && lang !== "zh") {
    throw new HttpError(400, `lang must be "en" or "zh", got ${JSON.stringify(lang)}`);
  }
  return { pixels: px as number[], methods: methods as string[], layer, lang };
}

/**
 * The request handler.
 *
 * @example
 * ```ts
 * import { createHandler, createModel, Explainer, type Sequential } from "glassbox";
 * const explainer = new Explainer(createModel("seed-cnn") as Sequential, { mean: 0.1307, std: 0.3081 });
 * const handle = createHandler(explainer, { readStatic: async () => null, testImages: { x: new Float32Array(784), y: new Int32Array(1), sampleShape: [1, 28, 28] } });
 * (await handle(new Request("http://127.0.0.1/api/nothing"))).status; // 404
 * ```
 */
export function createHandler(
  explainer: Explainer,
  options: HandlerOptions,
): (req: Request) => Promise<Response> {
  const limit = options.maxBody ?? 65536, test = options.testImages;
  return async (req: Request): Promise<Response> => {
    try {
      const url = new URL(req.url);
      const path = url.pathname;
      const only = (method: string) => {
        if (req.method !== method) throw new HttpError(405, `${path} takes ${method}, not ${req.method}`);
      };
      if (path === "/" || path.startsWith("/static/")) {
        only("GET");
        const name = path === "/" ? "index.html" : path.slice("/static/".length);
        if (!/^[a-z0-9_-]+\.(html|js|css)$/.test(name)) {
          throw new HttpError(404, `no static file ${JSON.stringify(name)}`);
        }
        const bytes = await options.readStatic(name);
        if (!bytes) throw new HttpError(404, `no static file ${JSON.stringify(name)}`);
        return new Response(bytes as BodyInit, {
          headers: { "content-type": TYPES[name.split(".").pop()!] },
        });
      }
      if (path === "/api/info") {
        only("GET");
        return json(200, {
          classes: 10,
          testImages: test.y.length,
          methods: Object.entries(explainer.methods).map(([name, m]) => ({
            name,
            label: m.label,
            slow: m.slow,
          })),
          layers: explainer.featureLayers(),
        });
      }
      if (path === "/api/stats") {
        only("GET");
        return json(200, { pool: poolStats(), queued: explainer.queued });
      }
      const m = /^\/api\/test\/([^/]+)$/.exec(path);
      if (m) {
        only("GET");
        const i = Number(m[1]);
        if (!/^\d+$/.test(m[1]) || i >= test.y.length) {
          throw new HttpError(
            404,
            `no test image ${JSON.stringify(m[1])}; there are ${test.y.length} (0 to ${test.y.length - 1})`,
          );
        }
        return json(200, {
          index: i,
          label: test.y[i],
          pixels: Array.from(test.x.subarray(i * 784, (i + 1) * 784), (v) => +v.toFixed(4)),
        });
      }
      if (path === "/api/explain") {
        only("POST");
        const request = parseExplainRequest(await readBody(req, limit), explainer);
        const enc = new TextEncoder();
        const queuedAhead = explainer.queued;
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            const send = (o: unknown) => {
              try {
                controller.enqueue(enc.encode(JSON.stringify(o) + "\n"));
              } catch {
                // the client went away; the work finishes and its answer is dropped
              }
            };
            send({ progress: queuedAhead ? `waiting for ${queuedAhead} request(s) ahead` : "started" });
            explainer.explain(request, (p) => send({ progress: p }))
              .then((result) => send({ result }))
              .catch((e) => send({ error: `the explanation failed: ${(e as Error).message}` }))
              .finally(() => {
                try {
                  controller.close();
                } catch { /* closed by the client */ }
              });
          },
        });
        return new Response(stream, { headers: { "content-type": "application/x-ndjson; charset=utf-8" } });
      }
      throw new HttpError(404, `unknown path ${path}`);
    } catch (e) {
      if (e instanceof HttpError) return fail(e.status, e.message);
      return fail(500, `internal error: ${(e as Error).message}`);
    }
  };
}
