/**
 * The browser IG benchmark's page logic (bundled by bench/browser_ig.ts into out/igbench/page.js).
 * The page imports glassbox (out/igbench/glassbox.js, bundled from src/web.ts) and TensorFlow.js
 * (out/igbench/tfjs.js, from ./tfjs_entry.ts) and hands both to `runIgBench`, so this file imports
 * only their types: the same seed CNN weights go into glassbox's seedCnn and into the tfjs port,
 * each engine computes Integrated Gradients for the predicted class, and the two take turns,
 * round by round, each timed run ending with its attribution read back.
 */
import type * as GB from "../../src/web.ts";
import type * as TFX from "./tfjs_entry.ts";

/** What the Deno side sends the page. */
export interface PageInput {
  /** The seed CNN's state dict as plain numbers. */
  weights: Record<string, { shape: number[]; data: number[] }>;
  /** One image, NCHW [1, C, H, W]. */
  x: number[];
  shape: [number, number, number, number];
  /**
   * A second image without ties, for the agreement check only: on a digit's flat background
   * max-pooling sees equal (or, after rounding, nearly equal) values, and which of them gets the
   * gradient differs between engines, so the digit's maps differ pixel by pixel while their sums agree.
   */
  xTieFree: number[];
  /** IG's steps (Gauss–Legendre). */
  steps: number;
  /** Untimed runs per engine before the timed rounds. */
  warmup: number;
  /** Timed rounds (one glassbox run and one tfjs run each). */
  reps: number;
}

/** What the page measured. */
export interface PageResult {
  /** Every timed run (ms), in round order. */
  glassboxMs: number[];
  tfjsMs: number[];
  /** The predicted class (glassbox's logits) and tfjs's argmax of the same input. */
  target: number;
  tfjsArgmax: number;
  /** The attributions of the last timed run of each, NCHW. */
  glassbox: number[];
  tfjs: number[];
  /** One untimed run of each on `xTieFree`, NCHW. */
  glassboxTieFree: number[];
  tfjsTieFree: number[];
  /** glassbox's adapter, tfjs's backend and adapter as it reports them, the browser. */
  adapter: { description: string; vendor: string; architecture: string; isFallbackAdapter: boolean };
  tfjsBackend: string;
  tfjsAdapter: string;
  userAgent: string;
}

function argmax(v: ArrayLike<number>): number {
  let k = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[k]) k = i;
  return k;
}

/** Runs the benchmark in the page. */
export async function runIgBench(gb: typeof GB, tfx: typeof TFX, input: PageInput): Promise<PageResult> {
  const { tf } = tfx;
  if (!(await tf.setBackend("webgpu"))) throw new Error("tfjs: the webgpu backend is not available");
  await tf.ready();
  const [, C, H, W] = input.shape;
  const x = Float32Array.from(input.x), xNhwc = tfx.nchwToNhwc(x, input.shape);

  const model = gb.seedCnn();
  model.loadStateDict(
    new Map(
      Object.entries(input.weights).map(([k, v]) => [k, gb.tensor(Float32Array.from(v.data), v.shape)]),
    ),
  );
  model.eval();
  const port = tfx.seedCnnPort(
    new Map(
      Object.entries(input.weights).map(([k, v]) => [k, { data: Float32Array.from(v.data), shape: v.shape }]),
    ),
  );
  const logits = await gb.scope(() => gb.noGrad(() => model.forward(gb.tensor(x, input.shape)).toArray()));
  const target = argmax(logits), classes = logits.length;
  const tl = port.forward(tf.tensor4d(xNhwc, [1, H, W, C]));
  const tfjsArgmax = argmax(await tl.data());
  tl.dispose();

  const { alphas, weights } = gb.integrationPoints("gausslegendre", input.steps);
  const ig = new gb.IntegratedGradients(model);
  const ours = (image = x) =>
    gb.scope(async () => {
      const a = await ig.attribute(gb.tensor(image, input.shape), { target, nSteps: input.steps });
      return Array.from(await a.toArray());
    });
  const theirs = async (image = xNhwc) => {
    const r = tfx.tfIntegratedGradients(port, image, [1, H, W, C], target, classes, alphas, weights);
    const d = (await r.data()) as Float32Array;
    r.dispose();
    return Array.from(tfx.nhwcToNchw(d, input.shape));
  };
  const tieFree = Float32Array.from(input.xTieFree);
  const glassboxTieFree = await ours(tieFree);
  const tfjsTieFree = await theirs(tfx.nchwToNhwc(tieFree, input.shape));
  const timed = async (run: () => Promise<number[]>, into: number[]) => {
    const t0 = performance.now();
    const a = await run();
    into.push(performance.now() - t0);
    return a;
  };
  for (let i = 0; i < input.warmup; i++) {
    await ours();
    await theirs();
  }
  const glassboxMs: number[] = [], tfjsMs: number[] = [];
  let a: number[] = [], b: number[] = [];
  for (let r = 0; r < input.reps; r++) {
    a = await timed(() => ours(), glassboxMs);
    b = await timed(() => theirs(), tfjsMs);
  }
  port.dispose();
  const info = gb.adapterInfo();
  const backend = tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } };
  return {
    glassboxMs,
    tfjsMs,
    target,
    tfjsArgmax,
    glassbox: a,
    tfjs: b,
    glassboxTieFree,
    tfjsTieFree,
    adapter: {
      description: info.description,
      vendor: info.vendor,
      architecture: info.architecture,
      isFallbackAdapter: info.isFallbackAdapter,
    },
    tfjsBackend: tf.getBackend(),
    tfjsAdapter: [backend.adapterInfo?.vendor, backend.adapterInfo?.architecture].filter(Boolean).join(" ") ||
      "(not reported)",
    userAgent: navigator.userAgent,
  };
}
