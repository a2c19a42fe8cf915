/**
 * Ready-made attribution methods for image classifiers, with fixed settings, so the report's
 * gallery and the dashboard offer the same six and compute them the same way.
 */
import { GradCAM } from "./cam.ts";
import { Saliency } from "./gradient.ts";
import { IntegratedGradients } from "./integrated_gradients.ts";
import { NoiseTunnel } from "./noise_tunnel.ts";
import { Occlusion } from "./perturbation.ts";
import { GuidedBackprop } from "./relu_rules.ts";
import type { Module } from "../nn/module.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A ready-made attribution method: a name, how its maps read, and how to run it. */
export interface AttributionPreset {
  /** The name shown on the page. */
  label: string;
  /** Whether its maps are signed (diverging colours) or magnitudes. */
  signed: boolean;
  /** Slow methods report progress before they start. */
  slow: boolean;
  /** Computes the maps of `target` (one class, or one per example) for a batch. */
  run: (model: Module, x: Tensor, target: number | number[]) => Promise<Tensor>;
}

/**
 * Six methods with the settings the report and the dashboard use, by name (Saliency, IG with 32 steps,
 * SmoothGrad with 16 samples, Guided Backprop, Grad-CAM at `camLayer`, Occlusion 4×4 at stride 2); `baseline` is what "no ink" is in the model's input units.
 *
 * @example
 * ```ts
 * import { attributionPresets } from "glassbox";
 * Object.keys(attributionPresets(-0.42, "4")); // ["saliency", "ig", "smoothgrad", "guidedbackprop", "gradcam", "occlusion"]
 * ```
 */
export function attributionPresets(baseline: number, camLayer: string): Record<string, AttributionPreset> {
  return {
    saliency: {
      label: "Saliency",
      signed: false,
      slow: false,
      run: (m, x, t) => new Saliency(m).attribute(x, { target: t }),
    },
    ig: {
      label: "Integrated Gradients",
      signed: true,
      slow: false,
      run: (m, x, t) =>
        new IntegratedGradients(m).attribute(x, { target: t, baselines: baseline, nSteps: 32 }),
    },
    smoothgrad: {
      label: "SmoothGrad",
      signed: false,
      slow: true,
      run: (m, x, t) =>
        new NoiseTunnel(new Saliency(m)).attribute(x, { target: t, ntSamples: 16, stdevs: 0.5 }),
    },
    guidedbackprop: {
      label: "Guided Backprop",
      signed: true,
      slow: false,
      run: (m, x, t) => new GuidedBackprop(m).attribute(x, { target: t }),
    },
    gradcam: {
      label: "Grad-CAM",
      signed: false,
      slow: false,
      run: (m, x, t) => new GradCAM(m, m.get(camLayer)).attribute(x, { target: t }),
    },
    occlusion: {
      label: "Occlusion 4×4",
      signed: true,
      slow: true,
      run: (m, x, t) =>
        new Occlusion(m).attribute(x, {
          target: t,
          slidingWindowShapes: [1, 4, 4],
          strides: [1, 2, 2],
          baselines: baseline,
        }),
    },
  };
}
