/**
 * The dashboard's server (the Deno edge): loads a checkpoint, the MNIST test images and a novelty
 * reference, and serves the page and the API with `Deno.serve` on 127.0.0.1 by default. Static
 * files come only from src/serve/static/, by names the handler has already checked.
 */
import { loadModel } from "../io/checkpoint.ts";
import { loadMnist, MNIST_MEAN, MNIST_STD, mnistDataset } from "../data/mnist.ts";
import { Sequential } from "../nn/sequential.ts";
import { fitNovelty } from "../report/novelty.ts";
import { Explainer } from "./explainer.ts";
import { createHandler } from "./handler.ts";

const STATIC = new URL("./static/", import.meta.url);

/** A running dashboard. */
export interface Dashboard {
  /** e.g. "http://127.0.0.1:8000/". */
  url: string;
  /** The explainer behind it (its queue, its methods). */
  explainer: Explainer;
  /** Stops the server (waits for open requests). */
  shutdown(): Promise<void>;
}

/**
 * Starts the dashboard for a checkpoint of the seed CNN; port 0 picks a free one.
 *
 * @example
 * ```ts ignore
 * import { serveDashboard } from "glassbox";
 * const d = await serveDashboard({ checkpoint: "out/mnist/checkpoint.safetensors", port: 8000 });
 * console.log(`open ${d.url}`);
 * ```
 */
export async function serveDashboard(
  options: { checkpoint: string; host?: string; port?: number; onListen?: (url: string) => void },
): Promise<Dashboard> {
  const { model } = await loadModel(options.checkpoint);
  if (!(model instanceof Sequential)) {
    throw new Error(`${options.checkpoint}: the dashboard needs a Sequential image classifier`);
  }
  const test = mnistDataset(await loadMnist("test"));
  const train = mnistDataset(await loadMnist("train"));
  const raw = { ...test, x: test.x.map((v) => Math.min(1, Math.max(0, v * MNIST_STD + MNIST_MEAN))) };
  const explainer = new Explainer(
    model,
    { mean: MNIST_MEAN, std: MNIST_STD },
    fitNovelty(train, { limit: 10000 }),
  );
  const handler = createHandler(explainer, {
    testImages: raw,
    readStatic: async (name) => {
      try {
        return await Deno.readFile(new URL(name, STATIC));
      } catch {
        return null;
      }
    },
  });
  const host = options.host ?? "127.0.0.1";
  // the address is known once Deno.serve returns; onListen is silenced so only ours prints
  const server = Deno.serve({ hostname: host, port: options.port ?? 8000, onListen: () => {} }, handler);
  const url = `http://${host}:${(server.addr as Deno.NetAddr).port}/`;
  options.onListen?.(url);
  return { url, explainer, shutdown: () => server.shutdown() };
}
