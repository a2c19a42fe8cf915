/**
 * The live dashboard's work, one request at a time: a prediction with probabilities,
 * attribution heatmaps for the chosen methods, the feature maps of a chosen layer and the
 * explanation in words, for one 28×28 image. GPU work is queued: requests run one after
 * another on the one device, and one request's failure is its own.
 */
import { attributionMethod, type MethodSpec } from "../explain/methods.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import { featureMapImage } from "../inspect/activations.ts";
import type { Sequential } from "../nn/sequential.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import { scope } from "../tensor/scope.ts";
import { heatmapImage } from "../viz/attribution.ts";
import { pngDataUri } from "../viz/png.ts";
import { predictionFacts } from "../report/facts.ts";
import type { InputNovelty } from "../report/novelty.ts";
import { describePrediction, type Language } from "../report/words.ts";

/** The dashboard's methods, by their names in the method registry. */
const DASHBOARD_METHODS = ["saliency", "ig", "smoothgrad", "guidedbackprop", "gradcam", "occlusion"];

/** What one explanation request asks for (already validated). */
export interface ExplainRequest {
  /** 784 values in [0, 1] (ink = 1), row by row. */
  pixels: number[];
  /** Attribution methods by name (keys of `Explainer.methods`). */
  methods: string[];
  /** A layer whose feature maps to show, or none. */
  layer?: string;
  /** The language of the explanation. */
  lang: Language;
}

/** What it answers. */
export interface ExplainResult {
  /** Softmax probabilities of the classes. */
  probabilities: number[];
  /** The most probable class. */
  predicted: number;
  /** Per method: its label and a PNG data URI of the heatmap. */
  heatmaps: { method: string; label: string; png: string }[];
  /** The chosen layer's feature maps as a PNG data URI. */
  featureMaps?: { layer: string; png: string };
  /** The explanation in words. */
  explanation: string;
  /** Time the request took once it ran. */
  milliseconds: number;
}

/**
 * The model, its methods and the queue that runs their work one request at a time.
 *
 * @example
 * ```ts
 * import { createModel, Explainer, type Sequential } from "glassbox";
 * const e = new Explainer(createModel("seed-cnn") as Sequential, { mean: 0.1307, std: 0.3081 });
 * const r = await e.explain({ pixels: new Array(784).fill(0), methods: ["saliency"], lang: "en" });
 * r.predicted; // the class, with r.heatmaps and r.explanation
 * ```
 */
export class Explainer {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  /** The attribution methods offered, by request name (entries of the method registry). */
  readonly methods: Record<string, MethodSpec>;
  /** What the methods read about the model: its baseline and CAM layer. */
  readonly profile: ExplanationProfile;
  /** A model to explain, the normalisation of its input, a novelty reference and the model's profile. */
  constructor(
    readonly model: Sequential,
    /** Maps raw ink in [0, 1] to the model's input units (e.g. MNIST normalisation). */
    readonly normalize: { mean: number; std: number },
    readonly novelty?: InputNovelty,
    profile?: ExplanationProfile,
  ) {
    // known gap (issue 18): without a profile the dashboard still assumes the MNIST model
    this.profile = profile ?? {
      modality: "image",
      inputShape: [1, 28, 28],
      classes: Array.from({ length: 10 }, (_, c) => String(c)),
      baseline: -normalize.mean / normalize.std,
      camLayer: "4",
    };
    this.methods = Object.fromEntries(
      DASHBOARD_METHODS.filter((n) => attributionMethod(n).modalities.includes(this.profile.modality))
        .map((n) => [n, attributionMethod(n)]),
    );
    model.eval();
  }

  /** Layers whose output is a feature map [N, C, H, W], by name. */
  featureLayers(): { name: string; type: string }[] {
    return this.model.layers.map((m, i) => ({ name: String(i), type: m.typeName })).filter((l) =>
      ["Conv2d", "ReLU", "MaxPool2d", "AvgPool2d", "BatchNorm2d"].includes(l.type) &&
      Number(l.name) < this.model.layers.findIndex((m) => m.typeName === "Flatten")
    );
  }

  /** Requests waiting for the GPU (not counting the one running); a dropped request stops counting at once. */
  get queued(): number {
    return this.#waiting;
  }

  /** Whether a job is running now. */
  get running(): boolean {
    return this.#running;
  }

  #running = false;

  /** Jobs run so far, and jobs dropped unrun because their signal aborted while they waited. */
  get counts(): { ran: number; dropped: number } {
    return { ran: this.#ran, dropped: this.#dropped };
  }

  #ran = 0;
  #dropped = 0;
  #busyMs = 0;

  /** The mean time a job has taken once it ran, in milliseconds (0 before the first). */
  get meanJobMilliseconds(): number {
    return this.#ran ? this.#busyMs / this.#ran : 0;
  }

  /**
   * Runs `job` after every job queued before it; its failure does not reach the others. When
   * `signal` aborts before the job's turn (its client went away), the job is dropped: it never
   * runs, it stops counting in `queued` at once, and the promise rejects with the signal's reason.
   *
   * @example
   * ```ts
   * import { createModel, Explainer, type Sequential } from "glassbox";
   * const e = new Explainer(createModel("seed-cnn") as Sequential, { mean: 0, std: 1 });
   * let release = () => {};
   * const busy = e.enqueue(() => new Promise<void>((r) => release = r));
   * await new Promise((r) => setTimeout(r, 0)); // busy is running now
   * const gone = new AbortController();
   * let ran = false;
   * const dropped = e.enqueue(() => Promise.resolve(ran = true), gone.signal).catch(() => "dropped");
   * gone.abort();
   * if (e.queued !== 0) throw new Error("an abandoned job still holds its place");
   * release();
   * await busy;
   * if (await dropped !== "dropped" || ran) throw new Error("an abandoned job ran");
   * ```
   */
  enqueue<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let settled = false;
    this.#waiting++;
    const leave = () => {
      if (!settled) this.#waiting--;
      settled = true;
    };
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (settled) return;
        leave();
        this.#dropped++;
        reject(signal!.reason);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      const turn = this.#tail.then(async () => {
        signal?.removeEventListener("abort", onAbort);
        if (settled) return; // dropped while waiting: its turn passes without running it
        leave();
        this.#ran++;
        this.#running = true;
        const t0 = performance.now();
        try {
          resolve(await job());
        } catch (e) {
          reject(e);
        } finally {
          this.#running = false;
          this.#busyMs += performance.now() - t0;
        }
      });
      this.#tail = turn;
    });
  }

  /**
   * Computes the answer to a validated request; `progress` hears what is being done. When `signal`
   * aborts, a queued request is dropped unrun and a running one stops before its next step.
   */
  explain(
    req: ExplainRequest,
    progress: (message: string) => void = () => {},
    signal?: AbortSignal,
  ): Promise<ExplainResult> {
    return this.enqueue(async () => {
      const t0 = performance.now();
      const { mean, std } = this.normalize;
      const x = tensor(Float32Array.from(req.pixels, (v) => (v - mean) / std), [1, 1, 28, 28]);
      try {
        const probabilities = await scope(async () =>
          Array.from(await noGrad(() => softmax(this.model.forward(x), -1)).toArray())
        );
        const predicted = probabilities.indexOf(Math.max(...probabilities));
        const heatmaps: ExplainResult["heatmaps"] = [];
        for (const [k, name] of req.methods.entries()) {
          const m = this.methods[name];
          signal?.throwIfAborted(); // the client went away: stop between steps
          const label = m.title(this.profile);
          progress(
            `${label} (${k + 1} of ${req.methods.length})${m.cost !== "fast" ? ", a slower method" : ""}`,
          );
          const values = await scope(async () =>
            (await (await m.run(this.model, x, predicted, this.profile)).toArray()) as Float32Array
          );
          heatmaps.push({
            method: name,
            label,
            png: pngDataUri(heatmapImage(values, 28, 28, { signed: m.signed, pixel: 6 })),
          });
        }
        let featureMaps: ExplainResult["featureMaps"];
        if (req.layer !== undefined) {
          signal?.throwIfAborted();
          progress(`feature maps of layer ${req.layer}`);
          const img = await scope(async () => {
            let h = x;
            for (const [i, m] of this.model.layers.entries()) {
              h = noGrad(() => m.forward(h));
              if (String(i) === req.layer) break;
            }
            return await featureMapImage(h);
          });
          featureMaps = { layer: req.layer, png: pngDataUri(img) };
        }
        signal?.throwIfAborted();
        progress("the explanation in words");
        const facts = await predictionFacts(this.model, x, {
          baseline: this.profile.baseline ?? 0,
          novelty: this.novelty,
          nSteps: 16,
        });
        return {
          probabilities,
          predicted,
          heatmaps,
          featureMaps,
          explanation: describePrediction(facts, req.lang),
          milliseconds: performance.now() - t0,
        };
      } finally {
        x.dispose();
      }
    }, signal);
  }
}
