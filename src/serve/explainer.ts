/**
 * The live dashboard's work, one request at a time: a prediction with probabilities, attribution
 * maps for the chosen methods, the feature maps of a chosen layer and, for images, the
 * explanation in words — for one input of any model that carries an explanation profile (an
 * image, a row of named features, or a text). Everything model-specific (input shape,
 * normalisation, class names, feature names, vocabulary, baseline, CAM layer, default methods)
 * comes from the profile. GPU work is queued: requests run one after another on the one device,
 * and one request's failure is its own.
 */
import {
  attributionMethod,
  attributionMethods,
  defaultMethods,
  type MethodSpec,
} from "../explain/methods.ts";
import { type ExplanationProfile, modelProfile, validateProfile } from "../models/profile.ts";
import { PAD, tokenizeText, UNK } from "../data/fortunes.ts";
import { featureMapImage } from "../inspect/activations.ts";
import type { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { heatmapImage } from "../viz/attribution.ts";
import { pngDataUri } from "../viz/png.ts";
import { predictionFacts } from "../report/facts.ts";
import type { InputNovelty } from "../report/novelty.ts";
import { describePrediction, type Language } from "../report/words.ts";

/** What one explanation request asks for (already validated). */
export interface ExplainRequest {
  /**
   * The input as the page sends it, one value per input position (the profile's inputShape, row
   * by row): image — raw pixel values in [0, 1], C×H×W (the explainer normalises them with the
   * profile's mean and std); tabular — one value per feature, in the model's units; tokens —
   * token ids (a text is tokenised first, see `Explainer.encodeText`).
   */
  input: number[];
  /** Tokens: words of the text past the input's length, which the model does not read (0 or absent when none). */
  truncated?: number;
  /** Attribution methods by name (keys of `Explainer.methods`). */
  methods: string[];
  /** A layer whose feature maps to show, or none. */
  layer?: string;
  /** The language of the explanation in words. */
  lang: Language;
}

/** One method's attribution of the predicted class. */
export interface AttributionMap {
  /** The method's name in the registry. */
  method: string;
  /** Its label for people ("Integrated Gradients", "Occlusion 4×4"). */
  label: string;
  /** Whether the values are signed (red raised the score, blue lowered it) or magnitudes. */
  signed: boolean;
  /** The map's shape (image: [C, H, W], or [1, H, W] for a CAM; tabular: [F]; tokens: [T]). */
  shape: number[];
  /** The attribution values, row by row (what the method returned, unrounded). */
  values: number[];
  /** Image models: the map summed over its channels as a PNG data URI. */
  png?: string;
}

/** What it answers. */
export interface ExplainResult {
  /** The probability of each class: softmax of the outputs (one output: its sigmoid). */
  probabilities: number[];
  /** The most probable class (with one output, that output: the maps explain it). */
  predicted: number;
  /** The profile's class names. */
  classes: string[];
  /** Per method: its label, its values and, for images, a heatmap. */
  heatmaps: AttributionMap[];
  /** Token models: the word at each position of the input (vocabulary[id]). */
  tokens?: string[];
  /** Token models given a text: how many of its words came past the input's length and were not read. */
  truncated?: number;
  /** The chosen layer's feature maps as a PNG data URI. */
  featureMaps?: { layer: string; png: string };
  /** The explanation in words (image models; empty for the others, which the words do not cover). */
  explanation: string;
  /** Time the request took once it ran. */
  milliseconds: number;
}

/** A method the dashboard offers, as /api/info lists it. */
export interface OfferedMethod {
  /** The registry name. */
  name: string;
  /** The label for this model's inputs. */
  label: string;
  /** Not one forward and backward pass. */
  slow: boolean;
  /** One of the profile's default methods. */
  default: boolean;
  /** Ticked when the page opens: a default method that is not a perturbation of an image. */
  preselected: boolean;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The model, its profile, its methods and the queue that runs their work one request at a time.
 * The profile is the one given, else the one the model carries (`loadModel` attaches it); a model
 * with neither is an error (an old MNIST checkpoint gets `mnistProfile()` from its caller).
 *
 * @example
 * ```ts
 * import { createModel, Explainer, mnistProfile } from "glassbox";
 * const e = new Explainer(createModel("seed-cnn"), mnistProfile());
 * const r = await e.explain({ input: new Array(784).fill(0), methods: ["saliency"], lang: "en" });
 * if (r.classes.length !== 10 || r.heatmaps[0].values.length !== 784) throw new Error("not MNIST's answer");
 * ```
 */
export class Explainer {
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;
  /** The attribution methods offered, by request name (entries of the method registry). */
  readonly methods: Record<string, MethodSpec>;
  /** The model's explanation profile: its input, classes, normalisation, baseline, CAM layer. */
  readonly profile: ExplanationProfile;
  /** A model to explain, its profile (default: the one it carries) and a novelty reference for the words. */
  constructor(readonly model: Module, profile?: ExplanationProfile, readonly novelty?: InputNovelty) {
    const p = profile ?? modelProfile(model);
    if (p === undefined) {
      throw new Error(
        "Explainer: the model carries no explanation profile; pass one (an MNIST checkpoint from before profiles: mnistProfile())",
      );
    }
    this.profile = validateProfile(p);
    const usable = (m: MethodSpec) => !(m.needsLayer && this.profile.camLayer === undefined);
    const defaults = defaultMethods(this.profile).filter((n) => usable(attributionMethod(n)));
    const rest = attributionMethods(this.profile.modality).filter((m) =>
      usable(m) && !defaults.includes(m.name)
    );
    // the profile's default methods first, then the rest of the registry that suits the input
    this.methods = Object.fromEntries(
      [...defaults.map((n) => attributionMethod(n)), ...rest].map((m) => [m.name, m]),
    );
    model.eval();
  }

  /** The methods as /api/info lists them, in `methods`' order. */
  offeredMethods(): OfferedMethod[] {
    const defaults = defaultMethods(this.profile);
    return Object.values(this.methods).map((m) => ({
      name: m.name,
      label: m.title(this.profile),
      slow: m.cost !== "fast",
      default: defaults.includes(m.name),
      preselected: defaults.includes(m.name) &&
        !(this.profile.modality === "image" && m.cost === "perturbation"),
    }));
  }

  /**
   * The colour scales of the image heatmaps as PNG data URIs, low to high (signed: −1 to 1, blue
   * to red; magnitudes: 0 to 1, dark to bright), for the page's key.
   */
  colourKeys(): { signed: string; magnitude: string } {
    const n = 64,
      ramp = (lo: number) => Float32Array.from({ length: n }, (_, i) => lo + (1 - lo) * i / (n - 1));
    const key = (signed: boolean) =>
      pngDataUri(heatmapImage(ramp(signed ? -1 : 0), 1, n, { signed, scale: 1, pixel: 2 }));
    return { signed: key(true), magnitude: key(false) };
  }

  /** How many values one input has (the product of the profile's inputShape). */
  get inputSize(): number {
    return size(this.profile.inputShape);
  }

  /**
   * A text as the model's token ids, as the fortunes data makes them (`tokenizeText`: lower-cased
   * words; a word outside the vocabulary is <unk>; truncated or padded with <pad> to the input's
   * length). Needs a vocabulary with <pad> and <unk>; `truncated` counts the words cut off.
   *
   * @example
   * ```ts
   * import { Explainer, TextClassifier } from "glassbox";
   * const model = new TextClassifier({ vocab: 4, classes: 2, dModel: 8, layers: 1 });
   * const e = new Explainer(model, model.profile(5, ["no", "yes"], ["<pad>", "<unk>", "good", "day"]));
   * const { ids, words } = e.encodeText("Good DAY, sir");
   * if (ids.join() !== "2,3,1,0,0" || words.join() !== "good,day,sir") throw new Error(ids.join());
   * ```
   */
  encodeText(text: string): { ids: number[]; words: string[]; truncated: number } {
    const vocab = this.profile.vocabulary;
    if (this.profile.modality !== "tokens" || !vocab) {
      throw new Error("encodeText: the model takes no tokens");
    }
    const pad = vocab.indexOf(PAD), unk = vocab.indexOf(UNK);
    if (pad < 0 || unk < 0) {
      throw new Error(`the model's vocabulary has no ${pad < 0 ? PAD : UNK}; send token ids instead of text`);
    }
    const index = new Map(vocab.map((w, i) => [w, i] as const));
    const T = this.profile.inputShape[0], words = tokenizeText(text);
    const ids = Array.from({ length: T }, (_, i) => i < words.length ? index.get(words[i]) ?? unk : pad);
    return { ids, words: words.slice(0, T), truncated: Math.max(0, words.length - T) };
  }

  /** The request's input as the model's input tensor [1, ...inputShape] (images normalised). */
  modelInput(input: ArrayLike<number>): Tensor {
    const p = this.profile, shape = [1, ...p.inputShape];
    if (input.length !== this.inputSize) {
      throw new Error(
        `the model takes ${this.inputSize} values [${p.inputShape.join(", ")}], got ${input.length}`,
      );
    }
    if (p.modality === "tokens") return tensor(Int32Array.from(input), shape, { dtype: "int32" });
    if (p.modality === "tabular") return tensor(Float32Array.from(input), shape);
    const plane = p.inputShape[1] * p.inputShape[2];
    return tensor(
      Float32Array.from(input, (v, i) => {
        const c = Math.floor(i / plane);
        return (v - (p.mean?.[c] ?? 0)) / (p.std?.[c] ?? 1);
      }),
      shape,
    );
  }

  /** Layers whose output is a feature map [N, C, H, W], by name (a Sequential image model's layers before its Flatten). */
  featureLayers(): { name: string; type: string }[] {
    const model = this.model;
    if (!(model instanceof Sequential) || this.profile.modality !== "image") return [];
    const flatten = model.layers.findIndex((m) => m.typeName === "Flatten");
    return model.layers.map((m, i) => ({ name: String(i), type: m.typeName })).filter((l) =>
      ["Conv2d", "ReLU", "MaxPool2d", "AvgPool2d", "BatchNorm2d"].includes(l.type) && Number(l.name) < flatten
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
   * import { createModel, Explainer, mnistProfile } from "glassbox";
   * const e = new Explainer(createModel("seed-cnn"), mnistProfile());
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
      const p = this.profile, K = p.classes.length;
      const x = this.modelInput(req.input);
      try {
        const outputs = await scope(async () =>
          Array.from(await noGrad(() => this.model.forward(x)).toArray())
        );
        if (outputs.length !== K) {
          throw new Error(`the model gives ${outputs.length} outputs, its profile names ${K} classes`);
        }
        // one output is a logit (binary): its sigmoid; more are the classes' logits: their softmax
        // (in float64 here: the outputs are already read, so no second trip to the GPU)
        const top = Math.max(...outputs), exps = outputs.map((v) => Math.exp(v - top));
        const total = exps.reduce((a, b) => a + b, 0);
        const probabilities = K === 1 ? [1 / (1 + Math.exp(-outputs[0]))] : exps.map((e) => e / total);
        const predicted = K === 1 ? 0 : probabilities.indexOf(Math.max(...probabilities));
        const heatmaps: AttributionMap[] = [];
        for (const [k, name] of req.methods.entries()) {
          const m = this.methods[name];
          signal?.throwIfAborted(); // the client went away: stop between steps
          const label = m.title(p);
          progress(
            `${label} (${k + 1} of ${req.methods.length})${m.cost !== "fast" ? ", a slower method" : ""}`,
          );
          const [values, shape] = await scope(async () => {
            const a = await m.run(this.model, x, predicted, p);
            return [(await a.toArray()) as Float32Array, a.shape.slice(1)] as const;
          });
          const map: AttributionMap = {
            method: name,
            label,
            signed: m.signed,
            shape,
            values: Array.from(values),
          };
          if (p.modality === "image") {
            const [H, W] = p.inputShape.slice(1), plane = H * W, sum = new Float32Array(plane);
            // Captum's "all": the channels' sum (a CAM has one)
            for (let i = 0; i < values.length; i++) sum[i % plane] += values[i];
            const pixel = Math.max(1, Math.round(168 / Math.max(H, W)));
            map.png = pngDataUri(heatmapImage(sum, H, W, { signed: m.signed, pixel }));
          }
          heatmaps.push(map);
        }
        let featureMaps: ExplainResult["featureMaps"];
        if (req.layer !== undefined) {
          signal?.throwIfAborted();
          progress(`feature maps of layer ${req.layer}`);
          const img = await scope(async () => {
            let h = x;
            for (const [i, m] of (this.model as Sequential).layers.entries()) {
              h = noGrad(() => m.forward(h));
              if (String(i) === req.layer) break;
            }
            return await featureMapImage(h);
          });
          featureMaps = { layer: req.layer, png: pngDataUri(img) };
        }
        let explanation = "";
        if (p.modality === "image" && K > 1) {
          signal?.throwIfAborted();
          progress("the explanation in words");
          const facts = await predictionFacts(this.model, x, {
            baseline: p.baseline ?? 0,
            novelty: this.novelty,
            nSteps: 16,
          });
          explanation = describePrediction(facts, req.lang, p.classes);
        }
        return {
          probabilities,
          predicted,
          classes: [...p.classes],
          heatmaps,
          tokens: p.modality === "tokens"
            ? req.input.map((id) => p.vocabulary?.[id] ?? String(id))
            : undefined,
          truncated: req.truncated,
          featureMaps,
          explanation,
          milliseconds: performance.now() - t0,
        };
      } finally {
        x.dispose();
      }
    }, signal);
  }
}

/** What the dashboard page needs to know about the model before its first request (/api/info). */
export interface DashboardInfo {
  /** The profile's modality: "image", "tabular" or "tokens". */
  modality: ExplanationProfile["modality"];
  /** The profile's input shape (without the batch). */
  inputShape: number[];
  /** The profile's class names. */
  classes: string[];
  /** Tabular models: the profile's feature names. */
  featureNames?: string[];
  /** Token models: the vocabulary's size. */
  vocabularySize?: number;
  /** Token models whose vocabulary has <pad> and <unk>: the page may send a text. */
  acceptsText: boolean;
  /** How many examples the page can load by number. */
  examples: number;
  /** The same count, under its older name. */
  testImages: number;
  /** Whether the answer has an explanation in words (image models with more than one class). */
  words: boolean;
  /** The attribution methods offered. */
  methods: OfferedMethod[];
  /** Image models: the heatmaps' colour keys as PNG data URIs. */
  colourKeys?: { signed: string; magnitude: string };
  /** The layers with feature maps. */
  layers: { name: string; type: string }[];
  /** Nearest training examples per class, when the dashboard has training examples to search. */
  neighbours?: { k: number };
}

/**
 * The dashboard page's description of the model (what /api/info answers, and what the static
 * dashboard computes in the visitor's browser): its input, classes, methods, layers and whether
 * it has words, given how many examples the page can load and how many neighbours it shows.
 *
 * @example
 * ```ts
 * import { createModel, dashboardInfo, Explainer, mnistProfile } from "glassbox";
 * const info = dashboardInfo(new Explainer(createModel("seed-cnn"), mnistProfile()), { examples: 0 });
 * if (!info.words || info.classes.length !== 10 || info.neighbours) throw new Error(JSON.stringify(info));
 * ```
 */
export function dashboardInfo(
  explainer: Explainer,
  options: { examples: number; neighbours?: number },
): DashboardInfo {
  const p = explainer.profile;
  return {
    modality: p.modality,
    inputShape: [...p.inputShape],
    classes: [...p.classes],
    featureNames: p.featureNames,
    vocabularySize: p.vocabulary?.length,
    // the page's text box needs <pad> and <unk> to tokenise as the model's data did
    acceptsText: p.modality === "tokens" && !!p.vocabulary?.includes(PAD) && !!p.vocabulary?.includes(UNK),
    examples: options.examples,
    testImages: options.examples,
    words: p.modality === "image" && p.classes.length > 1,
    methods: explainer.offeredMethods(),
    colourKeys: p.modality === "image" ? explainer.colourKeys() : undefined,
    layers: explainer.featureLayers(),
    neighbours: options.neighbours !== undefined ? { k: options.neighbours } : undefined,
  };
}
