/**
 * The MNIST model's explanation profile, for checkpoints saved before profiles travelled with
 * them. Temporary: `mnistProfile()` of the library replaces it once the train task saves the
 * profile (issue 18, reconciled at merge).
 */
import * as gb from "../mod.ts";

/** The seed CNN's profile: 1×28×28 grey digits normalised with MNIST's mean/std, classes "0" to "9". */
export function mnistProfile(): gb.ExplanationProfile {
  return gb.validateProfile({
    modality: "image",
    inputShape: [1, 28, 28],
    classes: Array.from({ length: 10 }, (_, c) => String(c)),
    mean: [gb.MNIST_MEAN],
    std: [gb.MNIST_STD],
    baseline: -gb.MNIST_MEAN / gb.MNIST_STD, // a black pixel
    camLayer: "4", // the last convolutional ReLU
    methods: ["saliency", "ig", "smoothgrad", "guidedbackprop", "deeplift", "gradcam", "occlusion"],
  });
}
