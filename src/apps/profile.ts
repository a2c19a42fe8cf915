/**
 * The profile program as library code: a named workload (one training step of the seed CNN, one
 * inference of a batch, one Integrated Gradients or Occlusion call) run once to warm up and once under `profile`, returned as the
 * kernel table (text) and the Chrome trace (JSON) to write. The model's input shape and classes
 * come from its explanation profile (the seed CNN's is MNIST's).
 */
import { mnistProfile } from "../data/mnist.ts";
import { IntegratedGradients } from "../explain/integrated_gradients.ts";
import { Occlusion } from "../explain/perturbation.ts";
import {
  type Ceilings,
  chromeTrace,
  formatProfile,
  type KernelProfile,
  profile,
  rooflineOf,
} from "../inspect/profiler.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import { seedCnn } from "../models/zoo.ts";
import type { Module } from "../nn/module.ts";
import { Adam } from "../optim/adam.ts";
import { randn, tensor } from "../tensor/create.ts";
import { noGrad } from "../tensor/mod.ts";
import { crossEntropy } from "../tensor/ops/loss.ts";
import { manualSeed } from "../tensor/random.ts";
import { scope } from "../tensor/scope.ts";
import type { OutputFile } from "./explain.ts";

/** The workloads `deno task profile` knows, with what each runs. */
export const PROFILE_WORKLOADS: Readonly<Record<string, string>> = {
  "train-step":
    "one training step of the seed CNN (Adam, cross-entropy) on a random batch, after a warm-up step",
  "inference": "the seed CNN's forward pass on a random batch, read back, after a warm-up pass",
  "ig": "Integrated Gradients on one image of the seed CNN (Gauss-Legendre steps), after a warm-up call",
  "occlusion":
    "Occlusion on one image of the seed CNN (4×4 windows, stride 2, as the bench), after a warm-up call",
};

/** Options of `profileWorkload`. */
export interface ProfileWorkloadOptions {
  /** train-step and inference: the batch size (default 64 for a training step, 256 for inference). */
  batch?: number;
  /** ig: integration steps (default 50). */
  steps?: number;
  /** Rows of the table (default: all). */
  rows?: number;
  /** Also draw `<workload>.roofline.svg` against these ceilings (from `measureCeilings`). */
  ceilings?: Ceilings;
}

/** What `profileWorkload` returns: the profile, its table, and the files to write. */
export interface ProfileRun {
  /** The workload's name. */
  workload: string;
  /** One line on what ran. */
  description: string;
  /** The profile of the timed run. */
  profile: KernelProfile<unknown>;
  /** The kernel table (formatProfile). */
  table: string;
  /** `<workload>.trace.json`: the Chrome trace; with ceilings, `<workload>.roofline.svg` too. */
  files: OutputFile[];
}

function trainStep(model: Module, profile: ExplanationProfile, batch: number): () => Promise<number> {
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const k = profile.classes.length;
  const y = Int32Array.from({ length: batch }, (_, i) => i % k);
  return () =>
    scope(async () => {
      const xb = randn([batch, ...profile.inputShape]);
      const yb = tensor(y, [batch], { dtype: "int32" });
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(xb), yb);
      await loss.backward();
      opt.step();
      return await loss.item();
    });
}

function inference(model: Module, profile: ExplanationProfile, batch: number): () => Promise<number> {
  model.eval();
  return () =>
    scope(async () =>
      (await noGrad(() => model.forward(randn([batch, ...profile.inputShape]))).toArray()).length
    );
}

function occlusionCall(model: Module, profile: ExplanationProfile): () => Promise<number> {
  const occlusion = new Occlusion(model);
  const window = profile.inputShape.map((d, i) => (i === 0 ? d : Math.min(4, d)));
  const strides = profile.inputShape.map((d, i) => (i === 0 ? d : Math.min(2, d)));
  return () =>
    scope(async () => {
      const x = randn([1, ...profile.inputShape]);
      const a = await occlusion.attribute(x, { target: 0, slidingWindowShapes: window, strides });
      return (await a.toArray()).length;
    });
}

function igCall(model: Module, profile: ExplanationProfile, steps: number): () => Promise<number> {
  const ig = new IntegratedGradients(model);
  return () =>
    scope(async () => {
      const x = randn([1, ...profile.inputShape]);
      const a = await ig.attribute(x, { target: 0, baselines: profile.baseline ?? 0, nSteps: steps });
      return (await a.toArray()).length;
    });
}

/**
 * Runs a workload of PROFILE_WORKLOADS once to warm up (pipelines compiled, buffers pooled) and
 * once under `profile`; returns the table and the Chrome trace.
 *
 * @example
 * ```ts
 * import { profileWorkload } from "glassbox";
 * const run = await profileWorkload("ig", { steps: 4 });
 * if (!run.table.includes("matmul") || run.files[0].name !== "ig.trace.json") throw new Error("profile");
 * ```
 */
export async function profileWorkload(
  workload: string,
  options: ProfileWorkloadOptions = {},
): Promise<ProfileRun> {
  const description = PROFILE_WORKLOADS[workload];
  if (description === undefined) {
    throw new Error(
      `unknown workload "${workload}"; the known ones are ${Object.keys(PROFILE_WORKLOADS).join(", ")}`,
    );
  }
  const batch = options.batch ?? (workload === "inference" ? 256 : 64), steps = options.steps ?? 50;
  for (const [name, v] of [["batch", batch], ["steps", steps]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`profileWorkload: ${name} must be a positive integer, got ${v}`);
    }
  }
  manualSeed(0);
  const mp = mnistProfile();
  const model = seedCnn({ classes: mp.classes.length });
  const run = workload === "train-step"
    ? trainStep(model, mp, batch)
    : workload === "inference"
    ? inference(model, mp, batch)
    : workload === "ig"
    ? igCall(model, mp, steps)
    : occlusionCall(model, mp);
  await run(); // warm-up
  const p = await profile(run);
  for (const q of model.parameters()) q.dispose();
  const what = workload === "train-step" || workload === "inference"
    ? `${description}; batch ${batch}`
    : workload === "ig"
    ? `${description}; ${steps} steps`
    : description;
  return {
    workload,
    description: what,
    profile: p,
    table: formatProfile(p, { maxRows: options.rows }),
    files: [
      { name: `${workload}.trace.json`, data: JSON.stringify(chromeTrace(p)) },
      ...(options.ceilings
        ? [{
          name: `${workload}.roofline.svg`,
          data: rooflineOf(
            p,
            options.ceilings,
            `Roofline of ${workload}: its kernels against this adapter's ceilings`,
            what,
          ),
        }]
        : []),
    ],
  };
}
