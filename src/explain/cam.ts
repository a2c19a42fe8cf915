/**
 * The CAM family on a convolutional layer A [N, K, h, w]: each method weighs the channels (or
 * positions) of A and returns ReLU(Σ_k weights ⊙ A^k) as [N, 1, H, W], upsampled bilinearly to
 * the input's resolution (or at the layer's with `{ upsample: false }`), not normalised.
 * Definitions follow pytorch-grad-cam; each class names its paper.
 */
import { tensor } from "../tensor/create.ts";
import { symmetricEigen } from "../tensor/linalg.ts";
import { defineBinary, noGrad } from "../tensor/mod.ts";
import { add, div, mul, relu, sub } from "../tensor/ops/elementwise.ts";
import { max, mean, sum } from "../tensor/ops/reduce.ts";
import { interpolate } from "../tensor/ops/resize.ts";
import { expand, reshape, slice } from "../tensor/ops/shape.ts";
import { softmax } from "../tensor/ops/softmax.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type AttributeOptions, perTarget, repeatRows } from "./attribution.ts";
import { LayerAttribution } from "./layer.ts";
import { GuidedBackprop } from "./relu_rules.ts";
import { targetScores } from "./target.ts";

/** Options for the CAM methods. */
export interface CamOptions extends AttributeOptions {
  /** Upsample to the input's height and width (default true); false keeps the layer's resolution. */
  upsample?: boolean;
}

/** Checks that a layer output has spatial dimensions. */
function spatial(op: string, layer: string, a: Tensor): void {
  if (a.ndim !== 4) {
    throw new Error(
      `${op}: a CAM needs a layer with spatial dimensions [N, C, H, W]; layer ${layer} gives [${
        a.shape.join(", ")
      }]`,
    );
  }
}

/** The base of the CAM methods: channel weights (or a map) from the layer's activation A and gradient G. */
export abstract class CamAttribution extends LayerAttribution {
  /** Whether the method needs ∂F/∂A (the gradient-free ones do not). */
  protected needsGradient = true;

  /** The map before the final ReLU: [B, 1, h, w]. */
  protected abstract map(
    act: Tensor,
    grad: Tensor | null,
    rows: Tensor,
    index: Int32Array,
  ): Tensor | Promise<Tensor>;

  /** The CAM of each example: [N, 1, H, W] ([N, T, 1, H, W] for several targets per example). */
  attribute(x: Tensor, options: CamOptions = {}): Promise<Tensor> {
    return this.run(x, async () => {
      const table = await this.targets(x, options.target);
      const cams = await this.perRows(x, table, options, async (r, index) => {
        let act: Tensor, grad: Tensor | null = null;
        if (this.needsGradient) ({ act, grad } = this.activationAndGradient(r, index));
        else act = this.activation(r);
        spatial(this.constructor.name, this.layerName, act);
        const cam = relu(await this.map(act, grad, r, index));
        if (options.upsample === false) return cam;
        return interpolate(cam, { size: [x.shape[2] ?? 1, x.shape[3] ?? 1] });
      }, this.rowsPerInput(x));
      return perTarget(cams, table);
    });
  }

  /** Model evaluations per input (ScoreCAM and AblationCAM run one per channel). */
  protected rowsPerInput(_x: Tensor): number {
    return 1;
  }
}

/** Σ_k w_k A^k for weights [B, K]: [B, 1, h, w]. */
function weighted(act: Tensor, w: Tensor): Tensor {
  const [B, K] = act.shape;
  return sum(mul(act, reshape(w, [B, K, 1, 1])), 1, true);
}

/**
 * Grad-CAM: weights are the spatial mean of ∂F/∂A^k. Selvaraju et al., 2017, "Grad-CAM: Visual
 * Explanations from Deep Networks via Gradient-based Localization" (ICCV, arXiv:1610.02391).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, GradCAM, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new GradCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 2 }); // [2, 1, 8, 8]
 * ```
 */
export class GradCAM extends CamAttribution {
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, grad: Tensor | null): Tensor {
    return weighted(act, mean(grad!, [2, 3]));
  }
}

/**
 * HiResCAM: Σ_k ∂F/∂A^k ⊙ A^k with no spatial averaging (faithful to the model for CNNs ending
 * in one linear layer). Draelos & Carin, 2020 (arXiv:2011.08891).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, HiResCAM, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new HiResCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class HiResCAM extends CamAttribution {
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, grad: Tensor | null): Tensor {
    return sum(mul(grad!, act), 1, true);
  }
}

/**
 * XGrad-CAM: weights Σ_ij (A^k_ij / Σ_ij A^k_ij) ∂F/∂A^k_ij. Fu et al., 2020, "Axiom-based
 * Grad-CAM" (BMVC, arXiv:2008.02312).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, Linear, randn, ReLU, Sequential, XGradCAM } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new XGradCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class XGradCAM extends CamAttribution {
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, grad: Tensor | null): Tensor {
    const total = add(sum(act, [2, 3], true), 1e-7);
    return weighted(act, sum(mul(grad!, div(act, total)), [2, 3]));
  }
}

/**
 * Grad-CAM++: weights from the positive gradients with the second- and third-order terms,
 * α = g² / (2g² + Σ_ij A · g³). Chattopadhyay et al., 2018 (WACV, arXiv:1710.11063).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, GradCAMPlusPlus, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new GradCAMPlusPlus(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class GradCAMPlusPlus extends CamAttribution {
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, grad: Tensor | null): Tensor {
    const g = grad!;
    const sumA = expand(sum(act, [2, 3], true), act.shape);
    // α_ij = g² / (2g² + ΣA·g³ + 1e-6), 0 where g = 0 (as pytorch-grad-cam)
    const g2 = mul(g, g);
    const denom = plusPlusDenominator(g2, mul(sumA, mul(g2, g)));
    const alpha = zeroWhereZero(div(g2, denom), g);
    return weighted(act, sum(mul(relu(g), alpha), [2, 3]));
  }
}

/** 2a + b + 1e-6 (Grad-CAM++'s denominator, 2g² + ΣA·g³ + 1e-6, as pytorch-grad-cam). */
const plusPlusDenominator = defineBinary({
  name: "GradCAMPlusPlus.denominator",
  forward: "2.0 * a + b + 1e-6",
});
/** a, or 0 where b = 0. */
const zeroWhereZero = defineBinary({ name: "GradCAMPlusPlus.alpha", forward: "select(a, 0.0, b == 0.0)" });

/**
 * LayerCAM: Σ_k ReLU(∂F/∂A^k) ⊙ A^k per position (useful in shallow layers too). Jiang, Zhang,
 * Hou, Cheng & Wei, 2021 (IEEE TIP 30).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, LayerCAM, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new LayerCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class LayerCAM extends CamAttribution {
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, grad: Tensor | null): Tensor {
    return sum(mul(relu(grad!), act), 1, true);
  }
}

/**
 * The projection of the centred [P, K] matrix M (positions × channels) on its first principal
 * component, in float64: M·v₁ for the top right-singular vector v₁, found exactly (Jacobi on the
 * smaller of the K×K matrix MᵀM and the P×P matrix MMᵀ, where M·v₁ = σ₁·u₁). The sign: the
 * projection correlates positively with `total` (the channel-summed activation at each
 * position); where that correlation is zero, the channel with the largest |loading| (the first
 * on a tie) gets a positive loading.
 */
function firstComponentProjection(
  M: Float64Array,
  P: number,
  K: number,
  total: ArrayLike<number>,
): Float64Array {
  const proj = new Float64Array(P);
  if (K <= P) {
    const C = new Float64Array(K * K);
    for (let p = 0; p < P; p++) {
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) C[i * K + j] += M[p * K + i] * M[p * K + j];
    }
    const { values, vectors } = symmetricEigen(C, K);
    const top = values.indexOf(Math.max(...values));
    for (let p = 0; p < P; p++) for (let k = 0; k < K; k++) proj[p] += M[p * K + k] * vectors[top * K + k];
  } else {
    const G = new Float64Array(P * P);
    for (let p = 0; p < P; p++) {
      for (let q = 0; q < P; q++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += M[p * K + k] * M[q * K + k];
        G[p * P + q] = s;
      }
    }
    const { values, vectors } = symmetricEigen(G, P);
    const top = values.indexOf(Math.max(...values));
    const sigma = Math.sqrt(Math.max(values[top], 0));
    for (let p = 0; p < P; p++) proj[p] = sigma * vectors[top * P + p];
  }
  let corr = 0, nt = 0, np = 0;
  for (let p = 0; p < P; p++) {
    corr += total[p] * proj[p];
    nt += total[p] * total[p];
    np += proj[p] * proj[p];
  }
  let flip = corr < 0;
  if (Math.abs(corr) <= 1e-6 * Math.sqrt(nt * np)) {
    // no correlation to go by: the largest loading Mᵀ·proj (∝ v₁) is made positive
    const load = new Float64Array(K);
    for (let p = 0; p < P; p++) for (let k = 0; k < K; k++) load[k] += M[p * K + k] * proj[p];
    const maxAbs = Math.max(...load.map(Math.abs));
    const best = load.findIndex((v) => Math.abs(v) >= maxAbs * (1 - 1e-9));
    flip = load[best] < 0;
  }
  if (flip) { for (let p = 0; p < P; p++) proj[p] = -proj[p]; }
  return proj;
}

/**
 * Eigen-CAM: the projection of A on its first principal component (class-agnostic, no
 * gradients), as pytorch-grad-cam's `get_2d_projection`: positions × channels, centred per
 * channel, projected on the top right-singular vector, computed exactly in float64 (Jacobi
 * eigen-decomposition of the smaller Gram matrix). An SVD leaves the component's sign arbitrary
 * (pytorch-grad-cam keeps whatever `torch.linalg.svd` returns); glassbox chooses it so the map
 * correlates positively with the channel-summed activation, and where that correlation is zero
 * (channels x and −x) so that the channel with the largest |loading| loads positively.
 * Muhammad & Yeasin, 2020 (IJCNN, arXiv:2008.00299).
 *
 * @example
 * ```ts
 * import { Conv2d, EigenCAM, Flatten, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new EigenCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class EigenCAM extends CamAttribution {
  /** Gradient-free: only the activation is captured. */
  protected override needsGradient = false;
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected async map(act: Tensor): Promise<Tensor> {
    const [B, K, h, w] = act.shape;
    const P = h * w;
    const a = await act.toArray();
    const out = new Float32Array(B * P);
    for (let b = 0; b < B; b++) {
      // rows: positions, columns: channels, centred per channel
      const M = new Float64Array(P * K), total = new Float64Array(P);
      for (let k = 0; k < K; k++) {
        let m = 0;
        for (let p = 0; p < P; p++) m += a[(b * K + k) * P + p];
        m /= P;
        for (let p = 0; p < P; p++) {
          M[p * K + k] = a[(b * K + k) * P + p] - m;
          total[p] += a[(b * K + k) * P + p];
        }
      }
      out.set(firstComponentProjection(M, P, K, total), b * P);
    }
    return tensor(out, [B, 1, h, w]);
  }
}

/**
 * Each channel of A, upsampled to the input and min-max normalised to [0, 1]: [B, K, H, W]. The
 * upsampling is bilinear with aligned corners, as pytorch-grad-cam's `UpsamplingBilinear2d`.
 */
function channelMasks(act: Tensor, H: number, W: number): Tensor {
  const up = interpolate(act, { size: [H, W], alignCorners: true });
  const [B, K] = act.shape;
  const flat = reshape(up, [B, K, H * W]);
  const hi = max(flat, 2, true), lo = neg(max(neg(flat), 2, true));
  const norm = div(sub(flat, lo), add(sub(hi, lo), 1e-8)); // eps as pytorch-grad-cam
  return reshape(norm, [B, K, H, W]);
}

function neg(t: Tensor): Tensor {
  return mul(t, -1);
}

/**
 * Score-CAM: the weight of channel k is the target score of the input masked by the
 * normalised A^k upsampled to the input (bilinear, corners aligned, as pytorch-grad-cam),
 * softmaxed over channels; no gradients. Wang et al., 2020
 * (CVPR-W, arXiv:1910.01279). The K masked copies of each input go through the model in
 * internal batches.
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, Linear, randn, ReLU, ScoreCAM, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new ScoreCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class ScoreCAM extends CamAttribution {
  /** Gradient-free: only the activation is captured. */
  protected override needsGradient = false;
  /** One model evaluation per channel (and the unablated one). */
  protected override rowsPerInput(x: Tensor): number {
    return this.channels(x);
  }
  /** channels of the layer, found on first use */
  #k = 0;
  /** The number of channels of the layer (one forward pass on one example, once). */
  private channels(x: Tensor): number {
    if (!this.#k) this.#k = this.activation(slice(x, 0, 1)).shape[1];
    return this.#k;
  }
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, _g: Tensor | null, rows: Tensor, index: Int32Array): Tensor {
    const [B, K] = act.shape;
    const [, C, H, W] = rows.shape;
    const masks = channelMasks(act, H, W); // [B, K, H, W]
    const masked = mul(reshape(rows, [B, 1, C, H, W]), reshape(masks, [B, K, 1, H, W]));
    const idx = new Int32Array(B * K);
    for (let b = 0; b < B; b++) idx.fill(index[b], b * K, (b + 1) * K);
    const scores = noGrad(() => targetScores(this.model.forward(reshape(masked, [B * K, C, H, W])), idx));
    return weighted(act, softmax(reshape(scores, [B, K]), 1));
  }
}

/**
 * Ablation-CAM: the weight of channel k is the relative drop of the target score when A^k is
 * set to zero, (y − y_k) / y. Desai & Ramaswamy, 2020 (WACV). The K ablated passes of each
 * input run in internal batches. glassbox always zeroes the channel, as the paper;
 * pytorch-grad-cam zeroes it when the layer's smallest activation is 0 (after a ReLU: the same
 * numbers) and otherwise sets it to that minimum − 10⁷.
 *
 * @example
 * ```ts
 * import { AblationCAM, Conv2d, Flatten, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const cam = await new AblationCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class AblationCAM extends CamAttribution {
  /** Gradient-free: only the activation is captured. */
  protected override needsGradient = false;
  /** channels of the layer, found on first use */
  #k = 0;
  /** One model evaluation per channel (and the unablated one). */
  protected override rowsPerInput(x: Tensor): number {
    if (!this.#k) this.#k = this.activation(slice(x, 0, 1)).shape[1];
    return this.#k + 1;
  }
  /** The map before the final ReLU: [B, 1, h, w] (see the class comment). */
  protected map(act: Tensor, _g: Tensor | null, rows: Tensor, index: Int32Array): Tensor {
    const [B, K] = act.shape;
    const base = this.scores(rows, index); // [B]
    // B·K copies, copy (b, k) with channel k of the layer zeroed
    const keepMask = new Float32Array(B * K * K).fill(1);
    for (let r = 0; r < B * K; r++) keepMask[r * K + (r % K)] = 0;
    const mask = tensor(keepMask, [B * K, K, 1, 1]);
    const h = this.layer.registerForwardHook((_m, _in, out) => mul(out, mask));
    let ablated: Tensor;
    try {
      const reps = repeatRows(rows, K);
      const idx = new Int32Array(B * K);
      for (let b = 0; b < B; b++) idx.fill(index[b], b * K, (b + 1) * K);
      ablated = this.scores(reps, idx);
    } finally {
      h.remove();
    }
    const y = reshape(base, [B, 1]);
    const drop = div(sub(y, reshape(ablated, [B, K])), y);
    return weighted(act, drop);
  }
}

/**
 * Guided Grad-CAM: Guided Backpropagation times the upsampled Grad-CAM, shaped like the input.
 * Selvaraju et al., 2017 (arXiv:1610.02391).
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, GuidedGradCAM, Linear, randn, ReLU, Sequential } from "glassbox";
 * const model = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Flatten(), new Linear(4 * 6 * 6, 3));
 * const attr = await new GuidedGradCAM(model, model.get("1")).attribute(randn([2, 1, 8, 8]), { target: 0 });
 * ```
 */
export class GuidedGradCAM extends LayerAttribution {
  /** Attributions shaped like `x` ([N, T, ...] for several targets per example). */
  async attribute(x: Tensor, options: AttributeOptions = {}): Promise<Tensor> {
    const cam = await new GradCAM(this.model, this.layer).attribute(x, { ...options, upsample: true });
    const gb = await new GuidedBackprop(this.model).attribute(x, options);
    const r = mul(gb, cam);
    cam.dispose();
    gb.dispose();
    return r;
  }
}
