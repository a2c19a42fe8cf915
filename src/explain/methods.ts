/**
 * The method registry: every attribution method glassbox offers to its programs, declared once —
 * its command-line name, its label, whether its maps are signed, its default settings, what it
 * costs, which kinds of input it suits, whether it looks at a layer, and how to run it. The
 * explain CLI, the report's gallery, the dashboard and compress's drift study all read it, so a
 * method means the same computation everywhere. Everything model-specific (the baseline, the
 * CAM layer, the input's shape) comes from the model's explanation profile, never from here.
 */
import {
  AblationCAM,
  type CamAttribution,
  EigenCAM,
  GradCAM,
  GradCAMPlusPlus,
  GuidedGradCAM,
  HiResCAM,
  LayerCAM,
  ScoreCAM,
  XGradCAM,
} from "./cam.ts";
import { DeepLift } from "./deeplift.ts";
import { InputXGradient, Saliency } from "./gradient.ts";
import { GradientShap } from "./gradient_shap.ts";
import { IntegratedGradients } from "./integrated_gradients.ts";
import { LayerIntegratedGradients } from "./layer_integrated.ts";
import { NoiseTunnel } from "./noise_tunnel.ts";
import { FeatureAblation, Occlusion } from "./perturbation.ts";
import { Deconvolution, GuidedBackprop } from "./relu_rules.ts";
import { KernelShap, Lime } from "./surrogate.ts";
import type { Target } from "./target.ts";
import type { ExplanationProfile, Modality } from "../models/profile.ts";
import type { Module } from "../nn/module.ts";
import { full, tensor, zeros } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { scope } from "../tensor/scope.ts";
import { sum } from "../tensor/ops/reduce.ts";
import { concat } from "../tensor/ops/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * What a method costs: "fast" is one forward and backward pass, "steps" one pass per
 * integration step or noise sample, "perturbation" one forward pass per perturbed input (many).
 */
export type CostClass = "fast" | "steps" | "perturbation";

/** Settings of a registered method; each one overrides the method's default or the profile's value. */
export interface MethodOptions {
  /** Integration steps (Integrated Gradients, Layer Integrated Gradients). */
  steps?: number;
  /** Noise samples or coalitions (SmoothGrad, GradientSHAP, KernelSHAP, LIME). */
  samples?: number;
  /** SmoothGrad's noise, in units of each input's range. */
  stdevs?: number;
  /** Image methods that cover patches (Occlusion, KernelSHAP, LIME): the side of a square patch in pixels. */
  window?: number;
  /** Occlusion on images: the step between windows in pixels. */
  stride?: number;
  /** The baseline in the model's input units (default: the profile's `baseline`, else 0). */
  baseline?: number;
  /** The layer of CAMs and layer methods, as a `model.get` path (default: the profile's `camLayer`). */
  layer?: string;
  /** CAMs: upsample to the input's height and width (default true); false keeps the layer's resolution. */
  upsample?: boolean;
  /** Model inputs per internal batch (default: the method's own). */
  internalBatchSize?: number;
  /** Hears how many rows of the method's work are done. */
  onProgress?: (done: number, total: number) => void;
}

/** One attribution method as the programs see it. */
export interface MethodSpec {
  /** The name on the command line, in requests and in files (`ig`, `gradcam`, …). */
  readonly name: string;
  /** The method's name for people ("Integrated Gradients"). */
  readonly label: string;
  /** Whether its maps are signed (diverging colours) or magnitudes. */
  readonly signed: boolean;
  /** What it costs (see `CostClass`). */
  readonly cost: CostClass;
  /** The kinds of input it suits. */
  readonly modalities: readonly Modality[];
  /** Whether it looks at a layer (CAMs, layer methods): the profile's `camLayer` or `options.layer`. */
  readonly needsLayer: boolean;
  /** Its default settings (what `run` uses for an option not given). */
  readonly defaults: Readonly<MethodOptions>;
  /** The label with the settings a reader needs for `profile`'s input ("Occlusion 4×4" on images). */
  title(profile: ExplanationProfile, options?: MethodOptions): string;
  /**
   * The maps of `target` for the batch `x` ([N, ...profile.inputShape]), shaped like `x` (tokens:
   * [N, T], one value a token); CAMs give one channel ([N, 1, H, W]).
   */
  run(
    model: Module,
    x: Tensor,
    target: Target,
    profile: ExplanationProfile,
    options?: MethodOptions,
  ): Promise<Tensor>;
}

type Run = (
  model: Module,
  x: Tensor,
  target: Target,
  profile: ExplanationProfile,
  o: MethodOptions,
) => Promise<Tensor>;

const baselineOf = (p: ExplanationProfile, o: MethodOptions) => o.baseline ?? p.baseline ?? 0;

function layerOf(name: string, model: Module, p: ExplanationProfile, o: MethodOptions): Module {
  const path = o.layer ?? p.camLayer;
  if (path === undefined) {
    throw new Error(
      `${name} needs a layer: the model's profile names no camLayer; give one in the profile or as options.layer`,
    );
  }
  return model.get(path);
}

function modality(name: string, p: ExplanationProfile, allowed: readonly Modality[]): void {
  if (!allowed.includes(p.modality)) {
    throw new Error(`${name} does not suit ${p.modality} inputs; it is for ${allowed.join(", ")}`);
  }
}

/** Square patches of `side` pixels of a [C, H, W] image, the same group in every channel (one id per input value). */
function patchMask(inputShape: readonly number[], side: number): Int32Array {
  const [C, H, W] = inputShape, across = Math.ceil(W / side);
  const mask = new Int32Array(C * H * W);
  for (let c = 0; c < C; c++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        mask[(c * H + h) * W + w] = Math.floor(h / side) * across + Math.floor(w / side);
      }
    }
  }
  return mask;
}

/** The surrogate methods' feature groups: patches of an image, each feature or token its own. */
const groups = (p: ExplanationProfile, o: MethodOptions) =>
  p.modality === "image" ? patchMask(p.inputShape, o.window!) : undefined;

/** A baseline tensor like a token batch (token ids are int32), or the number for the other modalities. */
const fill = (x: Tensor, p: ExplanationProfile, o: MethodOptions): number | Tensor =>
  p.modality === "tokens" ? full(x.shape, baselineOf(p, o), { dtype: "int32" }) : baselineOf(p, o);

/**
 * Token ablation: each position's token replaced by the baseline token, one position at a time;
 * a position's attribution is F(x) − F(x with it replaced) for the target (Captum's
 * FeatureAblation, on token ids, which are not a float input). A position already holding the
 * baseline token gets 0. Inputs [N, T] int32; the target one class or one per example.
 */
async function tokenAblation(
  model: Module,
  x: Tensor,
  target: Target,
  p: ExplanationProfile,
  o: MethodOptions,
) {
  const [N, T] = x.shape, id = baselineOf(p, o);
  if (typeof target !== "number" && !(Array.isArray(target) && target.every((t) => typeof t === "number"))) {
    throw new Error("Feature ablation on tokens takes one target class, or one per example");
  }
  const cls = (n: number) => (typeof target === "number" ? target : (target as number[])[n]);
  const ids = await x.toArray();
  const rows = new Int32Array(N * (T + 1) * T); // per example: itself, then each position replaced
  for (let n = 0; n < N; n++) {
    for (let r = 0; r <= T; r++) {
      const at = (n * (T + 1) + r) * T;
      rows.set(ids.subarray(n * T, (n + 1) * T), at);
      if (r > 0) rows[at + r - 1] = id;
    }
  }
  const total = N * (T + 1), batch = Math.max(1, o.internalBatchSize ?? 256);
  let K = 0, scores = new Float32Array(0);
  for (let s = 0; s < total; s += batch) {
    const e = Math.min(total, s + batch);
    const out = await scope(async () =>
      await noGrad(() => model.forward(tensor(rows.subarray(s * T, e * T), [e - s, T], { dtype: "int32" })))
        .toArray()
    );
    if (!K) {
      K = out.length / (e - s);
      scores = new Float32Array(total * K);
    }
    scores.set(out, s * K);
    o.onProgress?.(e, total);
  }
  const attr = new Float32Array(N * T);
  for (let n = 0; n < N; n++) {
    const c = cls(n), base = scores[n * (T + 1) * K + c];
    if (!Number.isInteger(c) || c < 0 || c >= K) {
      throw new Error(`Feature ablation: target ${c} is out of range for a model with ${K} outputs`);
    }
    for (let t = 0; t < T; t++) attr[n * T + t] = base - scores[(n * (T + 1) + t + 1) * K + c];
  }
  return tensor(attr, [N, T]);
}

interface Entry {
  label: string;
  signed: boolean;
  cost: CostClass;
  modalities: Modality[];
  needsLayer?: boolean;
  defaults?: MethodOptions;
  title?: (p: ExplanationProfile, o: MethodOptions, d: MethodOptions) => string;
  run: Run;
}

const IMAGE_TABULAR: Modality[] = ["image", "tabular"];

/** A CAM: a layer with spatial dimensions, unsigned maps. */
function cam(
  label: string,
  M: new (model: Module, layer: Module) => CamAttribution,
  cost: CostClass = "fast",
): Entry {
  return {
    label,
    signed: false,
    cost,
    modalities: ["image"],
    needsLayer: true,
    run: (m, x, t, p, o) =>
      new M(m, layerOf(label, m, p, o)).attribute(x, {
        target: t,
        upsample: o.upsample,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  };
}

const ENTRIES: Record<string, Entry> = {
  saliency: {
    label: "Saliency",
    signed: false,
    cost: "fast",
    modalities: IMAGE_TABULAR,
    run: (m, x, t, _p, o) =>
      new Saliency(m).attribute(x, {
        target: t,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  inputxgradient: {
    label: "Input×Gradient",
    signed: true,
    cost: "fast",
    modalities: IMAGE_TABULAR,
    run: (m, x, t, _p, o) =>
      new InputXGradient(m).attribute(x, {
        target: t,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  ig: {
    label: "Integrated Gradients",
    signed: true,
    cost: "steps",
    modalities: IMAGE_TABULAR,
    defaults: { steps: 32 },
    run: (m, x, t, p, o) =>
      new IntegratedGradients(m).attribute(x, {
        target: t,
        baselines: baselineOf(p, o),
        nSteps: o.steps,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  smoothgrad: {
    label: "SmoothGrad",
    signed: false,
    cost: "steps",
    modalities: IMAGE_TABULAR,
    defaults: { samples: 16, stdevs: 0.5 },
    run: (m, x, t, _p, o) =>
      new NoiseTunnel(new Saliency(m)).attribute(x, {
        target: t,
        ntSamples: o.samples,
        stdevs: o.stdevs,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  guidedbackprop: {
    label: "Guided Backprop",
    signed: true,
    cost: "fast",
    modalities: IMAGE_TABULAR,
    run: (m, x, t, _p, o) =>
      new GuidedBackprop(m).attribute(x, {
        target: t,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  deconvolution: {
    label: "Deconvolution",
    signed: true,
    cost: "fast",
    modalities: IMAGE_TABULAR,
    run: (m, x, t, _p, o) =>
      new Deconvolution(m).attribute(x, {
        target: t,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  deeplift: {
    label: "DeepLift",
    signed: true,
    cost: "fast",
    modalities: IMAGE_TABULAR,
    run: (m, x, t, p, o) =>
      new DeepLift(m).attribute(x, {
        target: t,
        baselines: baselineOf(p, o),
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  gradientshap: {
    label: "GradientSHAP",
    signed: true,
    cost: "steps",
    modalities: IMAGE_TABULAR,
    defaults: { samples: 20 },
    // the baseline distribution: the profile's baseline twice and 0 (the data's mean in normalised units) once
    run: async (m, x, t, p, o) => {
      const shape = x.shape.slice(1), b = full([2, ...shape], baselineOf(p, o)), z = zeros([1, ...shape]);
      const baselines = concat([b, z]);
      b.dispose();
      z.dispose();
      try {
        return await new GradientShap(m).attribute(x, {
          target: t,
          baselines,
          nSamples: o.samples,
          internalBatchSize: o.internalBatchSize,
          onProgress: o.onProgress,
        });
      } finally {
        baselines.dispose();
      }
    },
  },
  gradcam: cam("Grad-CAM", GradCAM),
  gradcampp: cam("Grad-CAM++", GradCAMPlusPlus),
  hirescam: cam("HiResCAM", HiResCAM),
  xgradcam: cam("XGrad-CAM", XGradCAM),
  layercam: cam("LayerCAM", LayerCAM),
  scorecam: cam("Score-CAM", ScoreCAM, "perturbation"),
  ablationcam: cam("Ablation-CAM", AblationCAM, "perturbation"),
  eigencam: cam("Eigen-CAM", EigenCAM),
  guidedgradcam: {
    label: "Guided Grad-CAM",
    signed: true,
    cost: "fast",
    modalities: ["image"],
    needsLayer: true,
    run: (m, x, t, p, o) =>
      new GuidedGradCAM(m, layerOf("Guided Grad-CAM", m, p, o)).attribute(x, {
        target: t,
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  occlusion: {
    label: "Occlusion",
    signed: true,
    cost: "perturbation",
    modalities: ["image"],
    defaults: { window: 4, stride: 2 },
    title: (_p, o, d) => `Occlusion ${o.window ?? d.window}×${o.window ?? d.window}`,
    // every channel at once: a window [C, w, w] moved by [C, s, s]
    run: (m, x, t, p, o) => {
      const C = p.inputShape[0], w = o.window!, s = o.stride!;
      return new Occlusion(m).attribute(x, {
        target: t,
        slidingWindowShapes: [C, w, w],
        strides: [C, s, s],
        baselines: baselineOf(p, o),
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      });
    },
  },
  ablation: {
    label: "Feature ablation",
    signed: true,
    cost: "perturbation",
    modalities: ["tabular", "tokens"],
    run: (m, x, t, p, o) =>
      p.modality === "tokens" ? tokenAblation(m, x, t, p, o) : new FeatureAblation(m).attribute(x, {
        target: t,
        baselines: baselineOf(p, o),
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  kernelshap: {
    label: "KernelSHAP",
    signed: true,
    cost: "perturbation",
    modalities: ["image", "tabular"],
    defaults: { samples: 400, window: 4 },
    title: (p, o, d) =>
      p.modality === "image"
        ? `KernelSHAP (${o.window ?? d.window}×${o.window ?? d.window} patches)`
        : "KernelSHAP",
    run: (m, x, t, p, o) =>
      new KernelShap(m).attribute(x, {
        target: t,
        featureMask: groups(p, o),
        nSamples: o.samples,
        baselines: baselineOf(p, o),
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  lime: {
    label: "LIME",
    signed: true,
    cost: "perturbation",
    modalities: ["image", "tabular"],
    defaults: { samples: 400, window: 4 },
    title: (p, o, d) =>
      p.modality === "image" ? `LIME (${o.window ?? d.window}×${o.window ?? d.window} patches)` : "LIME",
    run: (m, x, t, p, o) =>
      new Lime(m).attribute(x, {
        target: t,
        featureMask: groups(p, o),
        nSamples: o.samples,
        baselines: baselineOf(p, o),
        internalBatchSize: o.internalBatchSize,
        onProgress: o.onProgress,
      }),
  },
  lig: {
    label: "Layer Integrated Gradients",
    signed: true,
    cost: "steps",
    modalities: ["tokens"],
    needsLayer: true,
    defaults: { steps: 32 },
    // at the embedding (the profile's camLayer): one value per token, summed over the embedding
    run: async (m, x, t, p, o) => {
      const baselines = fill(x, p, o);
      try {
        const a = await new LayerIntegratedGradients(m, layerOf("Layer Integrated Gradients", m, p, o))
          .attribute(x, {
            target: t,
            baselines,
            nSteps: o.steps,
            internalBatchSize: o.internalBatchSize,
            onProgress: o.onProgress,
          });
        const perToken = sum(a, -1);
        a.dispose();
        return perToken;
      } finally {
        if (typeof baselines !== "number") baselines.dispose();
      }
    },
  },
};

function spec(name: string, e: Entry): MethodSpec {
  const defaults: MethodOptions = Object.freeze({ ...e.defaults });
  return Object.freeze({
    name,
    label: e.label,
    signed: e.signed,
    cost: e.cost,
    modalities: Object.freeze([...e.modalities]),
    needsLayer: e.needsLayer ?? false,
    defaults,
    title: (p: ExplanationProfile, o: MethodOptions = {}) => e.title ? e.title(p, o, defaults) : e.label,
    run: async (
      model: Module,
      x: Tensor,
      target: Target,
      profile: ExplanationProfile,
      o: MethodOptions = {},
    ) => {
      modality(e.label, profile, e.modalities);
      const want = profile.inputShape;
      if (x.ndim !== want.length + 1 || want.some((d, i) => x.shape[i + 1] !== d)) {
        throw new Error(
          `${e.label}: the profile's inputs are [N, ${want.join(", ")}], got [${x.shape.join(", ")}]`,
        );
      }
      // the method's defaults, each replaced by an option given (an option given as undefined keeps the default)
      const settings: MethodOptions = { ...defaults };
      for (const [k, v] of Object.entries(o)) if (v !== undefined) Object.assign(settings, { [k]: v });
      return await e.run(model, x, target, profile, settings);
    },
  });
}

const REGISTRY: ReadonlyMap<string, MethodSpec> = new Map(
  Object.entries(ENTRIES).map(([name, e]) => [name, spec(name, e)]),
);

/**
 * Every registered method in the registry's order, or those that suit `modality`.
 *
 * @example
 * ```ts
 * import { attributionMethods } from "glassbox";
 * const tabular = attributionMethods("tabular").map((m) => m.name);
 * if (!tabular.includes("ig") || tabular.includes("gradcam")) throw new Error("a CAM needs an image");
 * ```
 */
export function attributionMethods(modality?: Modality): MethodSpec[] {
  return [...REGISTRY.values()].filter((m) => modality === undefined || m.modalities.includes(modality));
}

/**
 * The method registered as `name`; an unknown name is an error that lists the names there are.
 *
 * @example
 * ```ts
 * import { attributionMethod, createModel, tensor } from "glassbox";
 * const ig = attributionMethod("ig");
 * if (!ig.signed || ig.cost !== "steps" || ig.defaults.steps !== 32) throw new Error("not IG's entry");
 * const profile = { modality: "image" as const, inputShape: [1, 28, 28], classes: "0123456789".split(""), baseline: 0 };
 * const maps = await ig.run(createModel("seed-cnn"), tensor(new Float32Array(784), [1, 1, 28, 28]), 3, profile);
 * if (maps.shape.join() !== "1,1,28,28") throw new Error("IG maps are shaped like the input");
 * let message = "";
 * try { attributionMethod("magic"); } catch (e) { message = (e as Error).message; }
 * if (!message.startsWith("unknown method magic; choose from saliency")) throw new Error(message);
 * ```
 */
export function attributionMethod(name: string): MethodSpec {
  const m = REGISTRY.get(name);
  if (!m) throw new Error(`unknown method ${name}; choose from ${[...REGISTRY.keys()].join(", ")}`);
  return m;
}

/** The methods shown when none are chosen, per modality (the profile's `methods` overrides them). */
const DEFAULTS: Record<Modality, string[]> = {
  image: ["saliency", "ig", "smoothgrad", "guidedbackprop", "deeplift", "gradcam", "occlusion"],
  tabular: ["saliency", "ig", "deeplift", "ablation", "kernelshap"],
  tokens: ["lig", "ablation"],
};

/**
 * The methods a program shows for a model by default: the profile's `methods`, else the
 * registry's choice for its modality (without a layer method when the profile names no layer).
 *
 * @example
 * ```ts
 * import { defaultMethods } from "glassbox";
 * const p = { modality: "image" as const, inputShape: [3, 8, 8], classes: ["a", "b"] };
 * if (defaultMethods(p).includes("gradcam")) throw new Error("no camLayer, so no CAM");
 * if (defaultMethods({ ...p, methods: ["ig"] }).join() !== "ig") throw new Error("the profile decides");
 * ```
 */
export function defaultMethods(profile: ExplanationProfile): string[] {
  if (profile.methods?.length) return [...profile.methods];
  return DEFAULTS[profile.modality].filter((n) =>
    !(REGISTRY.get(n)!.needsLayer && profile.camLayer === undefined)
  );
}
