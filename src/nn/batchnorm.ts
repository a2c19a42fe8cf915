/**
 * BatchNorm2d: per-channel normalisation over (N, H, W), with learned scale and shift and
 * running statistics for evaluation (PyTorch's semantics: momentum 0.1, unbiased running
 * variance, biased variance for normalising the batch).
 *
 * Built from the autograd ops (mean, sub, mul, sqrt, div), so its backward pass is derived
 * rather than hand-written.
 */
import { ones, zeros } from "../tensor/create.ts";
import { add, div, mul, sqrt, sub } from "../tensor/ops/elementwise.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { reshape } from "../tensor/ops/shape.ts";
import { noGrad } from "../tensor/graph.ts";
import { launchCopy } from "../tensor/kernels.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * Batch normalisation for NCHW tensors.
 *
 * @example
 * ```ts
 * import { BatchNorm2d, randn } from "glassbox";
 * const bn = new BatchNorm2d(16);
 * bn.forward(randn([8, 16, 5, 5])); // per-channel mean 0, variance 1 (then scale and shift)
 * ```
 */
export class BatchNorm2d extends Module {
  /** Learned per-channel scale γ, [numFeatures], initially 1 (parameter "weight"). */
  weight: Tensor;
  /** Learned per-channel shift β, [numFeatures], initially 0 (parameter "bias"). */
  bias: Tensor;
  /** Running mean of each channel, used in eval mode (buffer "running_mean", initially 0). */
  runningMean: Tensor;
  /** Running unbiased variance of each channel, used in eval mode (buffer "running_var", initially 1). */
  runningVar: Tensor;
  /**
   * Batch norm over `numFeatures` channels: `eps` is added to the variance before the square root; `momentum`
   * is the weight of the new batch in the running statistics (PyTorch's defaults 1e-5 and 0.1).
   */
  constructor(readonly numFeatures: number, readonly eps: number = 1e-5, readonly momentum: number = 0.1) {
    super();
    this.weight = this.addParameter("weight", ones([numFeatures]));
    this.bias = this.addParameter("bias", zeros([numFeatures]));
    this.runningMean = this.addBuffer("running_mean", zeros([numFeatures]));
    this.runningVar = this.addBuffer("running_var", ones([numFeatures]));
  }

  /**
   * In training mode normalises x [N, C, H, W] by its batch statistics per channel and updates the running
   * ones; in eval mode uses the running ones. Then γ·x̂ + β; same shape as x.
   */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.numFeatures) {
      throw new Error(
        `BatchNorm2d(${this.numFeatures}): expected [N, ${this.numFeatures}, H, W], got [${
          x.shape.join(", ")
        }]`,
      );
    }
    const C = this.numFeatures;
    const cshape = [1, C, 1, 1];
    let xhat: Tensor;
    if (this.training) {
      const n = x.size / C;
      const mu = mean(x, [0, 2, 3], true);
      const d = sub(x, mu);
      const v = mean(mul(d, d), [0, 2, 3], true);
      xhat = div(d, sqrt(add(v, this.eps)));
      noGrad(() => {
        const m = this.momentum;
        const rm = add(mul(this.runningMean, 1 - m), mul(reshape(mu, [C]), m));
        const rv = add(mul(this.runningVar, 1 - m), mul(reshape(v, [C]), (m * n) / Math.max(1, n - 1)));
        launchCopy(rm, this.runningMean, "float32", [C], [1], [1]);
        launchCopy(rv, this.runningVar, "float32", [C], [1], [1]);
        this.runningMean._markModified();
        this.runningVar._markModified();
      });
    } else {
      xhat = div(
        sub(x, reshape(this.runningMean, cshape)),
        sqrt(add(reshape(this.runningVar, cshape), this.eps)),
      );
    }
    return add(mul(xhat, reshape(this.weight, cshape)), reshape(this.bias, cshape));
  }
}
