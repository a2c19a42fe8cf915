/**
 * The explanation profile: the model-specific facts every program needs to explain, report on
 * and serve a model — what kind of input it takes, its shape, how it was normalised, what its
 * outputs are called, where a CAM looks and which methods suit it. It travels with the model
 * (in the checkpoint's metadata under `glassbox.profile`), so no program has to know them.
 */
import type { Module } from "../nn/module.ts";

/** The kind of input a model takes. */
export type Modality = "image" | "tabular" | "tokens";

/** The model-specific facts explain, report, serve and compress read (see the module comment). */
export interface ExplanationProfile {
  /** "image" ([C, H, W] inputs), "tabular" ([F] features) or "tokens" ([T] token ids). */
  modality: Modality;
  /** The shape of one example, without the batch axis: [C, H, W], [F] or [T]. */
  inputShape: number[];
  /** A name for each output of the model, in order (its length is the number of outputs). */
  classes: string[];
  /** Image: the per-channel mean the inputs were normalised with (x = (raw − mean) / std). */
  mean?: number[];
  /** Image: the per-channel standard deviation the inputs were normalised with. */
  std?: number[];
  /** Tabular: a name for each feature (length F). */
  featureNames?: string[];
  /** Tokens: the vocabulary, token id → text. */
  vocabulary?: string[];
  /** The default baseline, a value in the model's input space (0 when absent). */
  baseline?: number;
  /** The module path (as `model.get`) of the layer CAMs and layer methods look at by default. */
  camLayer?: string;
  /**
   * The module path whose output is the model's representation in explanation by example
   * (nearest training examples); absent: the penultimate layer (`representationLayerOf`).
   */
  representationLayer?: string;
  /** The attribution methods shown by default, by their names in the method registry. */
  methods?: string[];
  /**
   * The module path (as `model.get`) whose outputs `classes` names, when that is not the whole
   * model: an autoencoder's "encoder", whose outputs are its latent units ("latent 0", …); the
   * model's own output (a reconstruction) has no classes. Absent for a classifier.
   */
  outputModule?: string;
}

/** The metadata key a checkpoint keeps the profile under. */
export const PROFILE_KEY = "glassbox.profile";

const MODALITIES: readonly Modality[] = ["image", "tabular", "tokens"];

function positiveInts(what: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(
      `profile: ${what} must be a non-empty list of positive integers, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function strings(what: string, v: unknown, length?: number): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw new Error(`profile: ${what} must be a list of strings, got ${JSON.stringify(v)}`);
  }
  if (length !== undefined && v.length !== length) {
    throw new Error(`profile: ${what} has ${v.length} entries, the input needs ${length}`);
  }
  return v;
}

function finite(what: string, v: unknown, length: number, positive = false): number[] {
  if (
    !Array.isArray(v) || v.length !== length ||
    !v.every((n) => typeof n === "number" && Number.isFinite(n) && (!positive || n > 0))
  ) {
    throw new Error(
      `profile: ${what} must be ${length} finite${
        positive ? " positive" : ""
      } numbers (one per channel), got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Checks a profile and returns a clean copy; anything missing or inconsistent is an error that
 * names the field and the value (never a silently coerced one).
 *
 * @example
 * ```ts
 * import { validateProfile } from "glassbox";
 * const p = validateProfile({ modality: "tabular", inputShape: [2], classes: ["no", "yes"], featureNames: ["age", "income"] });
 * if (p.featureNames?.[1] !== "income") throw new Error("lost a name");
 * let message = "";
 * try { validateProfile({ modality: "image", inputShape: [3, 8], classes: ["a"] }); } catch (e) { message = (e as Error).message; }
 * if (!message.includes("[C, H, W]")) throw new Error(message);
 * ```
 */
export function validateProfile(p: unknown): ExplanationProfile {
  if (typeof p !== "object" || p === null || Array.isArray(p)) {
    throw new Error(`profile: expected an object, got ${JSON.stringify(p)}`);
  }
  const o = p as Record<string, unknown>;
  const known = new Set([
    "modality",
    "inputShape",
    "classes",
    "mean",
    "std",
    "featureNames",
    "vocabulary",
    "baseline",
    "camLayer",
    "representationLayer",
    "methods",
    "outputModule",
  ]);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new Error(`profile: unknown field "${k}"`);
  if (!MODALITIES.includes(o.modality as Modality)) {
    throw new Error(
      `profile: modality must be one of ${MODALITIES.join(", ")}, got ${JSON.stringify(o.modality)}`,
    );
  }
  const modality = o.modality as Modality;
  const inputShape = positiveInts("inputShape", o.inputShape);
  const want = modality === "image" ? 3 : 1;
  if (inputShape.length !== want) {
    throw new Error(
      `profile: a ${modality} input has shape ${
        modality === "image" ? "[C, H, W]" : modality === "tabular" ? "[F]" : "[T]"
      }, got [${inputShape.join(", ")}]`,
    );
  }
  const classes = strings("classes", o.classes);
  if (classes.length === 0) throw new Error("profile: classes must name at least one output");
  const out: ExplanationProfile = { modality, inputShape: [...inputShape], classes: [...classes] };
  if (o.mean !== undefined || o.std !== undefined) {
    if (modality !== "image") {
      throw new Error(`profile: mean/std are per image channel; this is a ${modality} model`);
    }
    out.mean = [...finite("mean", o.mean, inputShape[0])];
    out.std = [...finite("std", o.std, inputShape[0], true)];
  }
  if (o.featureNames !== undefined) {
    if (modality !== "tabular") {
      throw new Error(`profile: featureNames are for tabular models; this is ${modality}`);
    }
    out.featureNames = [...strings("featureNames", o.featureNames, inputShape[0])];
  }
  if (o.vocabulary !== undefined) {
    if (modality !== "tokens") {
      throw new Error(`profile: vocabulary is for token models; this is ${modality}`);
    }
    out.vocabulary = [...strings("vocabulary", o.vocabulary)];
    if (out.vocabulary.length === 0) throw new Error("profile: vocabulary is empty");
  }
  if (o.baseline !== undefined) {
    if (typeof o.baseline !== "number" || !Number.isFinite(o.baseline)) {
      throw new Error(`profile: baseline must be a finite number, got ${JSON.stringify(o.baseline)}`);
    }
    out.baseline = o.baseline;
  }
  if (o.camLayer !== undefined) {
    if (typeof o.camLayer !== "string" || o.camLayer === "") {
      throw new Error(`profile: camLayer must be a module path, got ${JSON.stringify(o.camLayer)}`);
    }
    out.camLayer = o.camLayer;
  }
  if (o.representationLayer !== undefined) {
    if (typeof o.representationLayer !== "string" || o.representationLayer === "") {
      throw new Error(
        `profile: representationLayer must be a module path, got ${JSON.stringify(o.representationLayer)}`,
      );
    }
    out.representationLayer = o.representationLayer;
  }
  if (o.methods !== undefined) out.methods = [...strings("methods", o.methods)];
  if (o.outputModule !== undefined) {
    if (typeof o.outputModule !== "string" || o.outputModule === "") {
      throw new Error(`profile: outputModule must be a module path, got ${JSON.stringify(o.outputModule)}`);
    }
    out.outputModule = o.outputModule;
  }
  return out;
}

/**
 * The profile as checkpoint metadata (`{ "glassbox.profile": json }`), after validating it.
 *
 * @example
 * ```ts
 * import { profileFromMetadata, profileMetadata } from "glassbox";
 * const meta = profileMetadata({ modality: "tokens", inputShape: [12], classes: ["neg", "pos"], vocabulary: ["<pad>", "good"] });
 * if (profileFromMetadata(meta)?.vocabulary?.[1] !== "good") throw new Error("round trip lost the vocabulary");
 * ```
 */
export function profileMetadata(profile: ExplanationProfile): Record<string, string> {
  return { [PROFILE_KEY]: JSON.stringify(validateProfile(profile)) };
}

/**
 * The profile a checkpoint's metadata carries, or undefined when it has none; a malformed one
 * is an error naming the key.
 *
 * @example
 * ```ts
 * import { profileFromMetadata } from "glassbox";
 * if (profileFromMetadata({ epoch: "3" }) !== undefined) throw new Error("invented a profile");
 * ```
 */
export function profileFromMetadata(metadata: Record<string, string>): ExplanationProfile | undefined {
  const text = metadata[PROFILE_KEY];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${PROFILE_KEY} in the metadata is not JSON: ${(e as Error).message}`);
  }
  return validateProfile(parsed);
}

const profiles = new WeakMap<Module, ExplanationProfile>();

/**
 * Gives a model its explanation profile (validated first, so a bad one is an error naming the
 * field); `saveModel` writes it into the checkpoint and `loadModel` gives it back. Returns the
 * validated copy the model now carries.
 *
 * @example
 * ```ts
 * import { createModel, modelProfile, setProfile } from "glassbox";
 * const model = createModel("tabular-mlp", { features: 2 });
 * setProfile(model, { modality: "tabular", inputShape: [2], classes: ["yes"], featureNames: ["age", "income"] });
 * if (modelProfile(model)?.featureNames?.[0] !== "age") throw new Error("the model lost its profile");
 * let message = "";
 * try { setProfile(model, { modality: "tabular", inputShape: [2], classes: [], }); } catch (e) { message = (e as Error).message; }
 * if (!message.includes("classes")) throw new Error(message);
 * ```
 */
export function setProfile(model: Module, profile: ExplanationProfile): ExplanationProfile {
  const clean = validateProfile(profile);
  profiles.set(model, clean);
  return clean;
}

/**
 * The explanation profile a model carries (set by `setProfile` or by `loadModel` from its
 * checkpoint), or undefined when it has none.
 *
 * @example
 * ```ts
 * import { Linear, modelProfile } from "glassbox";
 * if (modelProfile(new Linear(2, 2)) !== undefined) throw new Error("invented a profile");
 * ```
 */
export function modelProfile(model: Module): ExplanationProfile | undefined {
  return profiles.get(model);
}

/**
 * The layer whose output represents an input in explanation by example: the profile's
 * `representationLayer`, else the penultimate layer, i.e. the last leaf module before the
 * model's final leaf in `namedModules()` order (what feeds the classifier). A model with one
 * leaf uses its output ("").
 *
 * @example
 * ```ts
 * import { Linear, ReLU, representationLayerOf, Sequential } from "glassbox";
 * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * if (representationLayerOf(model) !== "1") throw new Error("the ReLU feeds the classifier");
 * const p = { modality: "tabular" as const, inputShape: [4], classes: ["a", "b"], representationLayer: "0" };
 * if (representationLayerOf(model, p) !== "0") throw new Error("the profile's layer wins");
 * ```
 */
export function representationLayerOf(model: Module, profile?: ExplanationProfile): string {
  if (profile?.representationLayer !== undefined) return profile.representationLayer;
  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0).map(([p]) => p);
  return leaves.length >= 2 ? leaves[leaves.length - 2] : "";
}
