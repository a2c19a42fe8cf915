/**
 * What the browser IG benchmark's page gets of TensorFlow.js 4.22: tfjs with its WebGPU backend
 * registered, the seed CNN's tfjs port (bench/tf_ports.ts, the one bench/explain_models.ts uses)
 * and Integrated Gradients written with tf.grad. bench/browser_ig.ts bundles this module into
 * out/igbench/tfjs.js; nothing here imports glassbox.
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { type ImagePort, nchwToNhwc, nhwcToNchw, seedCnnPort } from "../tf_ports.ts";

export { nchwToNhwc, nhwcToNchw, seedCnnPort, tf };

/**
 * Integrated Gradients of one NHWC image `x` (shape [1, H, W, C]) for class `target` of
 * `classes`, baseline zero: the rows α_k·x through the port in one batch, tf.grad of the target
 * logit summed over them, the gradients weighted by the quadrature `weights` and summed, times x.
 * With glassbox's `integrationPoints("gausslegendre", n)` as `alphas` and `weights` this is
 * Captum's default IG, as glassbox's IntegratedGradients computes it.
 */
export function tfIntegratedGradients(
  port: ImagePort,
  x: Float32Array,
  shape: [number, number, number, number],
  target: number,
  classes: number,
  alphas: number[],
  weights: number[],
): tf.Tensor {
  const S = alphas.length;
  if (weights.length !== S) {
    throw new Error(`tfIntegratedGradients: ${S} points but ${weights.length} weights`);
  }
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, shape);
    const rows = tf.mul(xt, tf.tensor4d(alphas, [S, 1, 1, 1]));
    const sel = tf.oneHot(tf.fill([S], target, "int32") as tf.Tensor1D, classes);
    const g = tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(port.forward(inp), sel)))(rows);
    return tf.mul(tf.sum(tf.mul(g, tf.tensor4d(weights, [S, 1, 1, 1])), 0, true), xt);
  });
}
