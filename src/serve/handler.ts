/**
 * The dashboard's HTTP API as a function from a web-standard Request to a Response (so it is
 * tested without a socket and could sit behind any server). A bad request gets a 4xx with a
 * reason in JSON, never a crash; static files come only from the names the caller's reader
 * allows; explanations stream their progress as NDJSON lines and end with the result.
 *
 * It is a local server and guards itself as one: a `Host` header other than the addresses it
 * listens on is refused (421; a page on another site could otherwise reach it by DNS rebinding);
 * a POST body must be `application/json` (415; a plain form post from any page needs no CORS
 * preflight); the explanation queue is bounded (503 with `Retry-After`); a queued request whose
 * client went away is dropped unrun; a body that stalls is cut off (408); `HEAD` answers every
 * GET route and a 405 carries `Allow`.
 */
import { poolStats } from "../tensor/mod.ts";
import { PAD } from "../data/fortunes.ts";
import type { Dataset } from "../nn/evaluate.ts";
import { dashboardInfo, type Explainer, type ExplainRequest } from "./explainer.ts";
import type { TrainingBank, TrainingSet } from "../report/neighbours.ts";
import { argmax, noGrad, scope } from "../tensor/mod.ts";
import { greyImage, rgbImage } from "../viz/attribution.ts";
import { pngDataUri } from "../viz/png.ts";

/** What the handler needs besides the explainer. */
export interface HandlerOptions {
  /** Reads a static file by name (e.g. "app.js"), or null when there is none. */
  readStatic: (name: string) => Promise<Uint8Array | null>;
  /**
   * Examples the page can pick from, each as a request's `input` takes it (image: raw pixel values
   * in [0, 1]; tabular: feature values; tokens: token ids), shaped as the model's profile says;
   * none when absent.
   */
  examples?: Dataset;
  /**
   * Largest request body accepted, in bytes (default 64 KiB, or 16 bytes a value of the model's
   * input and 4 KiB more when that is larger: a 3×64×64 image's pixels written to 4 decimals need
   * about 90 KB).
   */
  maxBody?: number;
  /**
   * The `Host` header values accepted, exactly (e.g. "127.0.0.1:8000", "localhost:8000"): the
   * addresses the server listens on. Default: the loopback names 127.0.0.1, localhost and [::1]
   * on any port. Anything else gets 421.
   */
  allowedHosts?: string[];
  /** How many explanations may wait behind the running one (default 8); more get 503. */
  maxQueued?: number;
  /** Milliseconds a request body may take to arrive in full (default 10000); slower gets 408. */
  bodyTimeout?: number;
  /**
   * Training examples for explanation by example (POST /api/neighbours): called once, on the
   * first such request, to build the searchable bank of their representations (so a server
   * nobody asks pays nothing). Absent: the endpoint answers 404.
   */
  neighbours?: () => Promise<{ bank: TrainingBank; train: TrainingSet }>;
  /** Nearest training examples per class in /api/neighbours (default 5, at most 16). */
  neighbourCount?: number;
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
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/;

/** The request's Host (its header, or the URL's host when a caller built the Request without one). */
function hostOf(req: Request): string {
  return (req.headers.get("host") ?? new URL(req.url).host).toLowerCase();
}

/** The media type of a Content-Type header, checked to be JSON in UTF-8. */
function checkJsonType(req: Request): void {
  const raw = req.headers.get("content-type");
  const [type, ...params] = (raw ?? "").split(";").map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith("charset="))?.slice("charset=".length).replace(/"/g, "");
  if (type !== "application/json" || (charset !== undefined && charset !== "utf-8")) {
    throw new HttpError(
      415,
      `the body must be sent as Content-Type: application/json (UTF-8), got ${
        raw === null ? "no Content-Type" : JSON.stringify(raw)
      }`,
    );
  }
}

async function readBody(req: Request, limit: number, timeout: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    throw new HttpError(413, `the body is ${declared} bytes; at most ${limit} are accepted`);
  }
  if (!req.body) throw new HttpError(400, "the request has no body; send JSON");
  const reader = req.body.getReader(), parts: Uint8Array[] = [];
  let n = 0, timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new HttpError(408, `the body did not arrive within ${timeout / 1000} s (${n} bytes came)`)),
      timeout,
    );
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), late]);
      if (done) break;
      n += value.length;
      if (n > limit) throw new HttpError(413, `the body is over ${limit} bytes`);
      parts.push(value);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
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

/** How the request's input is written for this model, in words (for error messages). */
function expectedInput(e: Explainer): string {
  const p = e.profile, n = e.inputSize;
  if (p.modality === "image") {
    const [C, H, W] = p.inputShape;
    return `an array of ${n} numbers (${C === 1 ? `${H}×${W}` : `${C}×${H}×${W}`})`;
  }
  if (p.modality === "tabular") {
    const names = p.featureNames;
    return names
      ? `an array of ${n} numbers (one per feature: ${names.join(", ")}) or an object with those keys`
      : `an array of ${n} numbers (one per feature)`;
  }
  return `a text or an array of ${n} token ids (integers 0 to ${(p.vocabulary?.length ?? 1) - 1})`;
}

const got = (v: unknown) =>
  Array.isArray(v) ? `${v.length}` : v === null ? "null" : typeof v === "object" ? "an object" : typeof v;

/** The request's input (or old clients' `pixels`) as the model's positions take it, or a 400 naming what is wrong. */
function parseInput(o: Record<string, unknown>, e: Explainer): { input: number[]; truncated?: number } {
  const p = e.profile, n = e.inputSize;
  if (o.input !== undefined && o.pixels !== undefined) {
    throw new HttpError(400, "send the input as input or as pixels, not both");
  }
  const field = o.pixels !== undefined ? "pixels" : "input", v = o[field];
  if (v === undefined) throw new HttpError(400, `input is missing: this model takes ${expectedInput(e)}`);
  if (field === "pixels" && p.modality !== "image") {
    throw new HttpError(
      400,
      `pixels is for image models; this ${p.modality} model takes input: ${expectedInput(e)}`,
    );
  }
  const wrong = () =>
    new HttpError(
      400,
      `${field} must be ${expectedInput(e)}, got ${got(v)}${
        p.modality === "image" ? "; each is a pixel value in [0, 1], channel by channel, row by row" : ""
      }`,
    );
  if (p.modality === "tokens") {
    if (typeof v === "string") {
      try {
        const { ids, truncated } = e.encodeText(v);
        return { input: ids, truncated };
      } catch (err) {
        throw new HttpError(400, `input: ${(err as Error).message}`);
      }
    }
    if (!Array.isArray(v) || v.length !== n) throw wrong();
    const V = p.vocabulary?.length ?? Infinity;
    const bad = v.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad >= 0) {
      throw new HttpError(
        400,
        `input[${bad}] is ${JSON.stringify(v[bad])}; a token id is an integer from 0 to ${V - 1}`,
      );
    }
    return { input: v as number[] };
  }
  let values: unknown[];
  if (p.modality === "tabular" && typeof v === "object" && v !== null && !Array.isArray(v)) {
    const names = p.featureNames;
    if (!names) {
      throw new HttpError(400, `input: this model's features have no names; send ${expectedInput(e)}`);
    }
    const obj = v as Record<string, unknown>;
    const unknown = Object.keys(obj).find((k) => !names.includes(k));
    if (unknown !== undefined) {
      throw new HttpError(
        400,
        `input has no feature ${JSON.stringify(unknown)}; the features are ${names.join(", ")}`,
      );
    }
    const missing = names.filter((k) => !(k in obj));
    if (missing.length) {
      throw new HttpError(
        400,
        `input is missing feature${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
      );
    }
    values = names.map((k) => obj[k]);
  } else {
    if (!Array.isArray(v) || v.length !== n) throw wrong();
    values = v;
  }
  const image = p.modality === "image";
  const bad = values.findIndex((x) =>
    typeof x !== "number" || !Number.isFinite(x) || (image && (x < 0 || x > 1))
  );
  if (bad >= 0) {
    const name = p.featureNames?.[bad];
    throw new HttpError(
      400,
      `${field}[${bad}]${name ? ` (${name})` : ""} is ${JSON.stringify(values[bad])}; ${
        image ? "every pixel must be a number in [0, 1]" : "every feature must be a finite number"
      }`,
    );
  }
  return { input: values as number[] };
}

/**
 * Checks an explanation request and names what is wrong (an error with an HTTP status). The
 * input is `input` (its meaning follows the model's modality: image pixels in [0, 1], one value
 * per feature or an object keyed by feature name, a text or token ids); `pixels` is its old
 * name for image models.
 *
 * @example
 * ```ts
 * import { createModel, Explainer, parseExplainRequest, setProfile } from "glassbox";
 * const model = createModel("tabular-mlp", { features: 2 });
 * setProfile(model, { modality: "tabular", inputShape: [2], classes: ["default"], featureNames: ["age", "income"] });
 * const e = new Explainer(model);
 * const r = parseExplainRequest('{"input": {"income": 3, "age": 40}}', e);
 * if (r.input.join() !== "40,3") throw new Error("features in the profile's order");
 * let message = "";
 * try { parseExplainRequest('{"input": [1]}', e); } catch (err) { message = (err as Error).message; }
 * if (!message.startsWith("input must be an array of 2 numbers (one per feature: age, income)")) throw new Error(message);
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
  const { input, truncated } = parseInput(o, explainer);
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
        `unknown layer ${JSON.stringify(o.layer)}; ${
          layers.length
            ? `layers with feature maps: ${layers.join(", ")}`
            : "this model shows no feature maps"
        }`,
      );
    }
    layer = o.layer;
  }
  const lang = o.lang ?? "en";
  if (lang !== "en" && lang !== "zh") {
    throw new HttpError(400, `lang must be "en" or "zh", got ${JSON.stringify(lang)}`);
  }
  return { input, truncated, methods: methods as string[], layer, lang };
}

/**
 * The request handler.
 *
 * @example
 * ```ts
 * import { createHandler, createModel, Explainer, mnistProfile } from "glassbox";
 * const explainer = new Explainer(createModel("seed-cnn"), mnistProfile());
 * const handle = createHandler(explainer, { readStatic: async () => null, examples: { x: new Float32Array(784), y: new Int32Array(1), sampleShape: [1, 28, 28] } });
 * if ((await handle(new Request("http://127.0.0.1/api/nothing"))).status !== 404) throw new Error("found nothing");
 * const info = await (await handle(new Request("http://127.0.0.1/api/info"))).json();
 * if (info.modality !== "image" || info.classes.length !== 10 || info.examples !== 1) throw new Error(JSON.stringify(info));
 * ```
 */
export function createHandler(
  explainer: Explainer,
  options: HandlerOptions,
): (req: Request) => Promise<Response> {
  const per = explainer.inputSize, p = explainer.profile;
  const limit = options.maxBody ?? Math.max(65536, 16 * per + 4096);
  const test = options.examples ??
    { x: new Float32Array(0), y: new Int32Array(0), sampleShape: p.inputShape };
  if (test.sampleShape.join() !== p.inputShape.join() || test.x.length !== test.y.length * per) {
    throw new Error(
      `the examples are ${test.y.length} of [${
        test.sampleShape.join(", ")
      }] in ${test.x.length} values; the model takes [${p.inputShape.join(", ")}]`,
    );
  }
  const maxQueued = options.maxQueued ?? 8, bodyTimeout = options.bodyTimeout ?? 10000;
  const hosts = options.allowedHosts?.map((h) => h.toLowerCase());
  for (
    const [name, v] of [["maxQueued", maxQueued], ["bodyTimeout", bodyTimeout], ["maxBody", limit]] as const
  ) {
    if (!Number.isSafeInteger(v) || v < (name === "maxQueued" ? 0 : 1)) {
      throw new Error(`${name} must be a whole number${name === "maxQueued" ? " ≥ 0" : " ≥ 1"}, got ${v}`);
    }
  }
  // a longer timer would overflow setTimeout's 32 bits and fire at once
  if (bodyTimeout > 2 ** 31 - 1) {
    throw new Error(`bodyTimeout must be at most ${2 ** 31 - 1} ms, got ${bodyTimeout}`);
  }
  const busy = () => {
    const seconds = Math.max(1, Math.ceil((explainer.queued + 1) * explainer.meanJobMilliseconds / 1000));
    return new HttpError(
      503,
      `busy: ${explainer.queued} explanations are waiting (at most ${maxQueued}); retry in ${seconds} s`,
      { "retry-after": String(seconds) },
    );
  };

  const isGetRoute = (path: string) =>
    path === "/" || path.startsWith("/static/") || path === "/api/info" || path === "/api/stats" ||
    /^\/api\/test\/[^/]+$/.test(path);

  /** The answer to a GET (or HEAD) of a GET route's `path`. */
  const getRoute = async (method: string, path: string): Promise<Response> => {
    if (method !== "GET" && method !== "HEAD") {
      throw new HttpError(405, `${path} takes GET or HEAD, not ${method}`, { allow: "GET, HEAD" });
    }
    if (path === "/" || path.startsWith("/static/")) {
      const name = path === "/" ? "index.html" : path.slice("/static/".length);
      if (!/^[a-z0-9_-]+\.(html|js|css)$/.test(name)) {
        throw new HttpError(404, `no static file ${JSON.stringify(name)}`);
      }
      const bytes = await options.readStatic(name);
      if (!bytes) throw new HttpError(404, `no static file ${JSON.stringify(name)}`);
      return new Response(bytes as BodyInit, { headers: { "content-type": TYPES[name.split(".").pop()!] } });
    }
    if (path === "/api/info") {
      return json(
        200,
        dashboardInfo(explainer, { examples: test.y.length, neighbours: options.neighbours ? k : undefined }),
      );
    }
    if (path === "/api/stats") {
      return json(200, { pool: poolStats(), queued: explainer.queued, maxQueued, ...explainer.counts });
    }
    const m = /^\/api\/test\/([^/]+)$/.exec(path);
    if (m) {
      const i = Number(m[1]);
      if (!/^\d+$/.test(m[1]) || i >= test.y.length) {
        throw new HttpError(
          404,
          `no test image ${JSON.stringify(m[1])}; there are ${test.y.length} (0 to ${test.y.length - 1})`,
        );
      }
      const input = Array.from(
        test.x.subarray(i * per, (i + 1) * per),
        (v) => p.modality === "image" ? +v.toFixed(4) : v,
      );
      return json(200, {
        index: i,
        label: test.y[i],
        labelName: p.classes[test.y[i]],
        input,
        pixels: p.modality === "image" ? input : undefined,
        text: p.modality === "tokens"
          ? input.map((id) => p.vocabulary?.[id] ?? String(id)).filter((w) => w !== PAD).join(" ")
          : undefined,
      });
    }
    throw new HttpError(404, `unknown path ${path}`);
  };

  const explain = async (req: Request): Promise<Response> => {
    checkJsonType(req);
    if (explainer.queued >= maxQueued) throw busy(); // refuse before reading the body
    const request = parseExplainRequest(await readBody(req, limit, bodyTimeout), explainer);
    req.signal.throwIfAborted();
    if (explainer.queued >= maxQueued) throw busy();
    const enc = new TextEncoder();
    const queuedAhead = explainer.queued + (explainer.running ? 1 : 0);
    // the client goes away: Deno.serve aborts req.signal, or the response stream is cancelled
    const gone = new AbortController();
    const signal = AbortSignal.any([req.signal, gone.signal]);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (o: unknown) => {
          try {
            controller.enqueue(enc.encode(JSON.stringify(o) + "\n"));
          } catch {
            // the client went away
          }
        };
        send({ progress: queuedAhead ? `waiting for ${queuedAhead} request(s) ahead` : "started" });
        explainer.explain(request, (p) => send({ progress: p }), signal)
          .then((result) => send({ result }))
          .catch((e) => {
            if (!signal.aborted) send({ error: `the explanation failed: ${(e as Error).message}` });
          })
          .finally(() => {
            try {
              controller.close();
            } catch { /* closed by the client */ }
          });
      },
      cancel(reason) {
        gone.abort(reason ?? new Error("the client went away"));
      },
    });
    return new Response(stream, { headers: { "content-type": "application/x-ndjson; charset=utf-8" } });
  };

  const k = options.neighbourCount ?? 5;
  if (!Number.isInteger(k) || k < 1 || k > 16) throw new Error(`neighbourCount must be 1 to 16, got ${k}`);
  let source: Promise<{ bank: TrainingBank; train: TrainingSet }> | null = null;
  /** A training example as the page shows it: a PNG for an image (normalisation undone), text for tokens. */
  const shown = (train: TrainingSet, i: number): { png?: string; text?: string } => {
    const v = train.x.subarray(i * per, (i + 1) * per);
    if (p.modality === "tokens") {
      return {
        text: Array.from(v, (id) => p.vocabulary?.[id] ?? String(id)).filter((w) => w !== PAD).join(" "),
      };
    }
    if (p.modality !== "image") return {};
    const [C, H, W] = p.inputShape, plane = H * W;
    const raw = Float32Array.from(v, (x, j) => {
      const c = Math.floor(j / plane);
      return x * (p.std?.[c] ?? 1) + (p.mean?.[c] ?? 0);
    });
    const px = Math.max(1, Math.round(56 / H));
    if (C === 3) return { png: pngDataUri(rgbImage(raw, H, W, px)) };
    const grey = new Float32Array(plane);
    for (let c = 0; c < C; c++) for (let j = 0; j < plane; j++) grey[j] += raw[c * plane + j] / C;
    return { png: pngDataUri(greyImage(grey, H, W, px)) };
  };
  /** POST /api/neighbours: the nearest training examples of the predicted (and the true) class. */
  const neighbours = async (req: Request): Promise<Response> => {
    if (!options.neighbours) {
      throw new HttpError(404, "this dashboard has no training examples to search (serve it with --train)");
    }
    checkJsonType(req);
    if (explainer.queued >= maxQueued) throw busy();
    const body = await readBody(req, limit, bodyTimeout);
    const { input } = parseExplainRequest(body, explainer);
    const label = (JSON.parse(body) as { label?: unknown }).label;
    if (
      label !== undefined && label !== null && !(Number.isInteger(label) && (label as number) >= 0 &&
        (label as number) < p.classes.length)
    ) {
      throw new HttpError(
        400,
        `label must be a class index 0 to ${p.classes.length - 1}, got ${JSON.stringify(label)}`,
      );
    }
    if (explainer.queued >= maxQueued) throw busy();
    const answer = await explainer.enqueue(async () => {
      const t0 = performance.now();
      source ??= options.neighbours!();
      let got;
      try {
        got = await source;
      } catch (e) {
        source = null;
        throw e;
      }
      const { bank, train } = got;
      const { x, predicted } = await scope(async () => {
        const t = explainer.modelInput(input);
        const out = noGrad(() => explainer.model.forward(t));
        const flat = out.reshape([1, out.size]);
        return {
          x: await t.toArray(),
          predicted: out.size === 1 ? 0 : (await argmax(flat, 1).toArray())[0],
        };
      });
      const classes = [predicted, ...(typeof label === "number" && label !== predicted ? [label] : [])];
      // one query per class searched: the same input twice when both classes are asked for
      const xs = x instanceof Int32Array
        ? new Int32Array(classes.length * per)
        : new Float32Array(classes.length * per);
      classes.forEach((_, i) => xs.set(x, i * per));
      const rows = await bank.nearest(xs, classes, k);
      return {
        layer: bank.layer,
        metric: "euclidean",
        searched: bank.n,
        predicted,
        rows: rows.map((row, r) => ({
          which: r === 0 ? "predicted" : "true",
          class: classes[r],
          className: p.classes[classes[r]],
          neighbours: row.map((nb) => ({
            index: nb.index,
            label: nb.label,
            labelName: p.classes[nb.label],
            distance: nb.distance,
            ...shown(train, nb.index),
          })),
        })),
        milliseconds: performance.now() - t0,
      };
    }, req.signal);
    return json(200, answer);
  };

  return async (req: Request): Promise<Response> => {
    try {
      const host = hostOf(req);
      if (hosts ? !hosts.includes(host) : !LOOPBACK.test(host)) {
        throw new HttpError(
          421,
          `this server answers only to ${hosts ? hosts.join(", ") : "127.0.0.1, localhost and [::1]"}, not ` +
            `Host ${JSON.stringify(host)} (a page on another site may be reaching it through DNS rebinding)`,
        );
      }
      const path = new URL(req.url).pathname;
      if (path === "/api/explain") {
        if (req.method !== "POST") {
          throw new HttpError(405, `${path} takes POST, not ${req.method}`, { allow: "POST" });
        }
        return await explain(req);
      }
      if (path === "/api/neighbours") {
        if (req.method !== "POST") {
          throw new HttpError(405, `${path} takes POST, not ${req.method}`, { allow: "POST" });
        }
        return await neighbours(req);
      }
      const r = isGetRoute(path) ? await getRoute(req.method, path) : null;
      if (!r) throw new HttpError(404, `unknown path ${path}`);
      if (req.method === "GET") return r;
      const headers = new Headers(r.headers);
      headers.set("content-length", String((await r.arrayBuffer()).byteLength));
      return new Response(null, { status: r.status, headers });
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : `internal error: ${(e as Error).message}`;
      const r = fail(status, message);
      if (e instanceof HttpError) { for (const [k, v] of Object.entries(e.headers)) r.headers.set(k, v); }
      if (req.method === "HEAD") return new Response(null, { status, headers: r.headers });
      return r;
    }
  };
}
