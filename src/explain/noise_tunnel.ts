/**
 * NoiseTunnel: any attribution method averaged over noisy copies of the input. SmoothGrad
 * (Smilkov et al., 2017, arXiv:1706.03825), SmoothGrad² (Hooker et al., 2019,
 * arXiv:1806.10758) and VarGrad (Adebayo et al., 2018, arXiv:1810.03307).
 */
import { tensor } from "../tensor/create.ts";
import { Generator } from "../tensor/random.ts";
import { mul, sub } from "../tensor/ops/elementwise.ts";
import { mean } from "../tensor/ops/reduce.ts";
import { reshape } from "../tensor/ops/shape.ts";
import { scope } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { type AttributeOptions, type Attribution, repeatRows } from "./attribution.ts";
import { GradientShap } from "./gradient_shap.ts";
import type { Target } from "./target.ts";

/** A method NoiseTunnel can wrap: anything with Captum's `attribute(x, options)`. */
export interface AttributionMethod<O extends AttributeOptions = AttributeOptions> {
  /** The model the method explains. */
  readonly model: Attribution["model"];
  /** Attributions shaped like x. */
  attribute(x: Tensor, options?: O): Promise<Tensor>;
}

/** Options for `NoiseTunnel.attribute`: the wrapped method's, plus the noise. */
export type NoiseTunnelOptions<O extends AttributeOptions> = O & {
  /** "smoothgrad" (mean, default), "smoothgrad_sq" (mean of squares) or "vargrad" (variance). */
  ntType?: "smoothgrad" | "smoothgrad_sq" | "vargrad";
  /** Noisy copies per input (default 5, as Captum). */
  ntSamples?: number;
  /** Standard deviation of the Gaussian noise (default 1, as Captum). */
  stdevs?: number;
  /** Seed of the noise (default 0: the same noise every call). */
  seed?: number;
};

/** Repeats the target of each of `N` examples for its `S` noisy copies (Captum's repeat_interleave). */
function repeatTarget(target: Target | undefined, N: number, S: number): Target | undefined {
  if (target === undefined || typeof target === "number") return target;
  const n = target instanceof Tensor ? target.shape[0] : target.length;
  if (n !== N) throw new Error(`NoiseTunnel: ${n} targets given for ${N} examples`);
  if (target instanceof Tensor) return repeatRows(target, S);
  return (target as (number | number[])[]).flatMap((t) => new Array(S).fill(t));
}

/**
 * Wraps a method, as Captum's NoiseTunnel: its attributions over `ntSamples` copies of x plus
 * N(0, stdevs²) noise, combined as SmoothGrad (the mean), SmoothGrad² (the mean of squares) or
 * VarGrad (the mean of squares minus the square of the mean). All copies go through the
 * wrapped method together (it batches them, in `internalBatchSize` rows); per-example
 * `baselines` [N, ...] and targets are repeated for each example's copies.
 *
 * @example
 * ```ts
 * import { Linear, NoiseTunnel, randn, Saliency } from "glassbox";
 * const nt = new NoiseTunnel(new Saliency(new Linear(4, 2)));
 * const attr = await nt.attribute(randn([3, 4]), { target: 0, ntType: "smoothgrad", ntSamples: 10, stdevs: 0.1 });
 * ```
 */
export class NoiseTunnel<O extends AttributeOptions = AttributeOptions> {
  /** The wrapped method. */
  readonly method: AttributionMethod<O>;
  /** Wraps `method`. */
  constructor(method: AttributionMethod<O>) {
    this.method = method;
  }

  /** Attributions shaped like the wrapped method's. */
  async attribute(x: Tensor, options: NoiseTunnelOptions<O> = {} as NoiseTunnelOptions<O>): Promise<Tensor> {
    const S = options.ntSamples ?? 5, sd = options.stdevs ?? 1, type = options.ntType ?? "smoothgrad";
    if (!Number.isInteger(S) || S < 1) {
      throw new Error(`NoiseTunnel: ntSamples must be a positive integer, got ${S}`);
    }
    if (!["smoothgrad", "smoothgrad_sq", "vargrad"].includes(type)) {
      throw new Error(`NoiseTunnel: unknown ntType "${type}" (smoothgrad, smoothgrad_sq, vargrad)`);
    }
    // the noisy copies and the wrapped method's maps are freed here; only the result stays live
    return await scope(async () => {
      const [N, ...rest] = x.shape;
      const g = new Generator(options.seed ?? 0);
      const host = await x.toArray();
      const noisy = new Float32Array(N * S * host.length / N);
      const row = host.length / N;
      for (let n = 0; n < N; n++) {
        for (let s = 0; s < S; s++) {
          const o = (n * S + s) * row;
          for (let i = 0; i < row; i++) noisy[o + i] = host[n * row + i] + sd * g.normal();
        }
      }
      const xs = tensor(noisy, [N * S, ...rest]);
      const { ntType: _t, ntSamples: _s, stdevs: _d, seed: _seed, ...inner } = options;
      // as Captum: one baseline per example goes with each of its S noisy copies (GradientShap's
      // baselines are a distribution it draws from, and stay as they are)
      const b = (inner as { baselines?: unknown }).baselines;
      const baselines = b instanceof Tensor && b.ndim === x.ndim && b.shape[0] === N && N > 1 &&
          !(this.method instanceof GradientShap)
        ? { baselines: repeatRows(b, S) }
        : {};
      const attr = await this.method.attribute(
        xs,
        { ...inner, ...baselines, target: repeatTarget(options.target, N, S) } as O,
      );
      const grouped = reshape(attr, [N, S, ...attr.shape.slice(1)]);
      if (type === "smoothgrad") return mean(grouped, 1);
      const sq = mean(mul(grouped, grouped), 1);
      if (type === "smoothgrad_sq") return sq;
      const m = mean(grouped, 1);
      return sub(sq, mul(m, m)); // E[a²] − E[a]²: the variance over the noise samples
    });
  }
}
