/**
 * The dashboard's server (the Deno edge): loads a checkpoint and its explanation profile (an old
 * MNIST checkpoint without one gets `mnistProfile()`), the examples to offer (a file of the
 * user's data, or MNIST's test images and novelty reference for MNIST's model), and serves the page and the API with `Deno.serve` on 127.0.0.1 by default. Static
 * files come only from src/serve/static/, by names the handler has already checked.
 */
import { loadModel } from "../io/checkpoint.ts";
import { loadMnist, mnistDataset, mnistProfile } from "../data/mnist.ts";
import type { Dataset } from "../nn/evaluate.ts";
import { fitNovelty, type InputNovelty } from "../report/novelty.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import { dashboardExamples, trainingExamples } from "./examples.ts";
import { TrainingBank } from "../report/neighbours.ts";
import { Explainer } from "./explainer.ts";
import { createHandler } from "./handler.ts";
import { headerDeadline } from "./front.ts";

const STATIC = new URL("./static/", import.meta.url);

/** A running dashboard. */
export interface Dashboard {
  /** e.g. "http://127.0.0.1:8000/" (or "http://[::1]:8000/"). */
  url: string;
  /** The explainer behind it (its queue, its methods). */
  explainer: Explainer;
  /** Stops the server (waits for open requests). */
  shutdown(): Promise<void>;
}

/**
 * The request without Deno.serve's `signal`, whose first use prints a warning about its legacy
 * behaviour (it also aborts once a response is delivered): a client that goes away is seen by the
 * response stream's cancel, or by the failed body read, instead.
 */
function unsignalled(req: Request): Request {
  return new Request(
    req.url,
    { method: req.method, headers: req.headers, body: req.body, duplex: "half" } as RequestInit,
  );
}

/** What `serveDashboard` takes. */
export interface DashboardOptions {
  /**
   * A checkpoint saved with its explanation profile (`saveModel` with `profileMetadata`), or one
   * of `deno task train` from before profiles (taken as the MNIST model).
   */
  checkpoint: string;
  /**
   * A safetensors file of examples the page offers: "x" [N, ...input shape] in the model's input
   * units (as `deno task explain --data` reads) and optional "y" [N] labels. Without it, MNIST's
   * model gets MNIST's test images and any other model none.
   */
  examples?: string;
  /**
   * A safetensors file of training examples ("x" in the model's input units, "y" labels) whose
   * nearest ones the page shows under a prediction. Without it, MNIST's model searches MNIST's
   * 60,000 training images and any other model none. Read and searched on first use.
   */
  train?: string;
  /**
   * The loopback address to listen on: "127.0.0.1" (default) or "::1". The dashboard runs models
   * for whoever asks and has no login, so it is for this machine only; any other address is an error.
   */
  host?: string;
  /** The port (default 8000; 0 picks a free one). */
  port?: number;
  /** Hears the URL once the server listens. */
  onListen?: (url: string) => void;
  /** How many explanations may wait behind the running one (default 8); more get 503 with Retry-After. */
  maxQueued?: number;
  /** Milliseconds a request body may take to arrive (default 10000); slower gets 408. */
  bodyTimeout?: number;
  /** Milliseconds a request's headers may take to arrive (default 10000); slower gets 408. */
  headerTimeout?: number;
}

/**
 * Checks that `host` is a loopback address the dashboard may listen on and returns it as
 * Deno.serve takes it ("127.0.0.1" or "::1"), or throws an error that names it.
 *
 * @example
 * ```ts
 * import { dashboardHost } from "glassbox";
 * if (dashboardHost("[::1]") !== "::1") throw new Error("brackets are accepted");
 * try {
 *   dashboardHost("0.0.0.0");
 *   throw new Error("accepted 0.0.0.0");
 * } catch (e) {
 *   if (!/loopback/.test((e as Error).message)) throw e;
 * }
 * ```
 */
export function dashboardHost(host: string): "127.0.0.1" | "::1" {
  if (host === "127.0.0.1") return host;
  if (host === "::1" || host === "[::1]") return "::1";
  throw new Error(
    `the dashboard listens only on a loopback address, 127.0.0.1 or ::1, got ${JSON.stringify(host)}: ` +
      `it runs models for whoever asks and has no login`,
  );
}

/**
 * Starts the dashboard for a checkpoint (any model with an explanation profile); port 0 picks a free one. It listens
 * before it loads the model (a busy port is an `AddrInUse` error naming the port, at once);
 * requests that come meanwhile wait. It answers only requests whose `Host` is the address and port
 * it listens on (127.0.0.1:port and localhost:port, or [::1]:port and localhost:port).
 *
 * Timeouts: a request's headers must arrive within `headerTimeout` and its body within
 * `bodyTimeout`, or it gets 408. Deno.serve (Deno 2.9.6) has no header timeout, so a small TCP
 * front (src/serve/front.ts) keeps it and passes each request on, one per connection, to Deno.serve
 * listening on another port of the same address (which refuses requests sent to it directly: their
 * Host names the wrong port).
 *
 * @example
 * ```ts ignore
 * import { serveDashboard } from "glassbox";
 * const d = await serveDashboard({ checkpoint: "out/mnist/checkpoint.safetensors", port: 8000 });
 * console.log(`open ${d.url}`);
 * ```
 */
export async function serveDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = dashboardHost(options.host ?? "127.0.0.1");
  const port = options.port ?? 8000;
  let ready!: (h: (req: Request) => Promise<Response>) => void, failed!: (e: unknown) => void;
  const handlerReady = new Promise<(req: Request) => Promise<Response>>((res, rej) => {
    ready = res;
    failed = rej;
  });
  handlerReady.catch(() => {});
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: host, port });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Deno.errors.AddrInUse(
        `port ${port} on ${host} is in use: stop what uses it, or pick another port (0 picks a free one)`,
      );
    }
    throw e;
  }
  const bound = (listener.addr as Deno.NetAddr).port;
  // Deno.serve listens behind, on another port of the same loopback address; the TCP front gives
  // each request's headers a deadline, which Deno.serve has not. Requests sent to that port
  // directly are refused by the Host check (they name the wrong port), so the front is the way in.
  const server = Deno.serve(
    { hostname: host, port: 0, onListen: () => {} },
    async (req) => (await handlerReady)(unsignalled(req)),
  );
  const inner = server.addr.port;
  const front = headerDeadline(listener, () => Deno.connect({ hostname: host, port: inner }), {
    headerTimeout: options.headerTimeout ?? 10000,
  });
  const shutdown = async () => {
    front.close();
    await server.shutdown();
  };
  const name = host === "::1" ? `[::1]:${bound}` : `127.0.0.1:${bound}`;
  try {
    const { model, profile: saved } = await loadModel(options.checkpoint);
    // a checkpoint from before profiles travelled with the model is the MNIST model
    const profile = saved ?? mnistProfile();
    let examples: Dataset | undefined, novelty: InputNovelty | undefined;
    if (options.examples !== undefined) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(options.examples);
      } catch (e) {
        throw new Error(`cannot read the examples ${options.examples}: ${(e as Error).message}`);
      }
      examples = dashboardExamples(bytes, options.examples, profile);
    }
    if (isMnist(profile)) {
      const test = await loadMnist("test");
      examples ??= { x: test.images, y: test.labels, sampleShape: profile.inputShape };
      novelty = await dashboardNovelty(profile);
    }
    const explainer = new Explainer(model, profile, novelty);
    const trainPath = options.train;
    const readTrain = trainPath !== undefined
      ? async () => trainingExamples(await Deno.readFile(trainPath), trainPath, profile)
      : isMnist(profile)
      ? async () => {
        const d = mnistDataset(await loadMnist("train"));
        return { x: d.x, y: d.y };
      }
      : undefined;
    ready(createHandler(explainer, {
      examples,
      neighbours: readTrain && (async () => {
        const train = await readTrain();
        return { bank: await TrainingBank.build(model, profile, train), train };
      }),
      readStatic: async (name) => {
        try {
          return await Deno.readFile(new URL(name, STATIC));
        } catch {
          return null;
        }
      },
      // a browser leaves out the port when it is 80
      allowedHosts: [
        name,
        `localhost:${bound}`,
        ...(bound === 80 ? [name.replace(/:80$/, ""), "localhost"] : []),
      ],
      maxQueued: options.maxQueued,
      bodyTimeout: options.bodyTimeout,
    }));
    const url = `http://${name}/`;
    options.onListen?.(url);
    return { url, explainer, shutdown };
  } catch (e) {
    failed(e);
    await shutdown();
    throw e;
  }
}

/**
 * The reference the dashboard's words judge an input's novelty by: for MNIST's model, class means
 * and threshold fitted on 10,000 of MNIST's training images; none for other models.
 */
export async function dashboardNovelty(profile: ExplanationProfile): Promise<InputNovelty | undefined> {
  return isMnist(profile) ? fitNovelty(mnistDataset(await loadMnist("train")), { limit: 10000 }) : undefined;
}

/** Whether a profile is MNIST's (its input, normalisation and classes), so MNIST's test images fit it. */
function isMnist(p: ExplanationProfile): boolean {
  const m = mnistProfile();
  return JSON.stringify([p.modality, p.inputShape, p.classes, p.mean, p.std]) ===
    JSON.stringify([m.modality, m.inputShape, m.classes, m.mean, m.std]);
}
