/**
 * Resizing images: `interpolate` (bilinear or nearest), as PyTorch's
 * `torch.nn.functional.interpolate` with a `size`. Resizing is separable, so it is two matrix
 * products with small interpolation matrices built on the CPU, Y = Rh · X · Rwᵀ per channel;
 * the gradient comes from the matmul's, Rhᵀ · dY · Rw. (Grad-CAM upsamples with this.)
 */
import { tensor } from "../create.ts";
import { assertFloat, own, type Tensor } from "../tensor.ts";
import { matmul } from "./matmul.ts";
import { reshape } from "./shape.ts";

/** Options for `interpolate`. */
export interface InterpolateOptions {
  /** Output [height, width]. Give this or `scaleFactor`. */
  size?: [number, number];
  /** Output size = floor(input size × factor), per axis or for both. */
  scaleFactor?: number | [number, number];
  /** "bilinear" (default) or "nearest". */
  mode?: "bilinear" | "nearest";
  /** Bilinear only: align the corner pixels' centres (PyTorch's align_corners; default false). */
  alignCorners?: boolean;
}

/**
 * The [out, in] matrix that resizes one axis, with PyTorch's sampling positions: for
 * align_corners false, source = (dst + 0.5)·in/out − 0.5 clamped at 0; for true,
 * dst·(in − 1)/(out − 1); nearest takes floor(dst·in/out).
 */
export function resizeMatrix(
  n: number,
  out: number,
  mode: "bilinear" | "nearest",
  alignCorners = false,
): Float32Array {
  const m = new Float32Array(out * n);
  for (let d = 0; d < out; d++) {
    if (mode === "nearest") {
      m[d * n + Math.min(n - 1, Math.floor((d * n) / out))] = 1;
      continue;
    }
    let src = alignCorners
      ? (out > 1 ? (d * (n - 1)) / (out - 1) : 0)
      : Math.max(0, ((d + 0.5) * n) / out - 0.5);
    src = Math.min(src, n - 1);
    const i0 = Math.floor(src), i1 = Math.min(i0 + 1, n - 1), w1 = src - i0;
    m[d * n + i0] += 1 - w1;
    m[d * n + i1] += w1;
  }
  return m;
}

/**
 * Resizes [N, C, H, W] images to [N, C, OH, OW].
 *
 * @example
 * ```ts
 * import { interpolate, randn } from "glassbox";
 * const cam = randn([2, 1, 7, 7]);
 * interpolate(cam, { size: [28, 28] }).shape; // [2, 1, 28, 28], bilinear
 * ```
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  assertFloat("interpolate", x);
  if (x.ndim !== 4) throw new Error(`interpolate: expected [N, C, H, W], got [${x.shape.join(", ")}]`);
  const [N, C, H, W] = x.shape;
  let size = options.size;
  if (!size && options.scaleFactor !== undefined) {
    const [fh, fw] = typeof options.scaleFactor === "number"
      ? [options.scaleFactor, options.scaleFactor]
      : options.scaleFactor;
    size = [Math.floor(H * fh), Math.floor(W * fw)];
  }
  if (!size || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(
      `interpolate: give size [height, width] of positive integers or a positive scaleFactor, got ${
        JSON.stringify(options.size ?? options.scaleFactor)
      }`,
    );
  }
  const mode = options.mode ?? "bilinear";
  if (mode !== "bilinear" && mode !== "nearest") throw new Error(`interpolate: unknown mode "${mode}"`);
  const [OH, OW] = size;
  const rh = tensor(resizeMatrix(H, OH, mode, options.alignCorners), [OH, H]);
  const rw = resizeMatrix(W, OW, mode, options.alignCorners);
  const rwT = tensor(Float32Array.from({ length: W * OW }, (_, k) => rw[(k % OW) * W + Math.floor(k / OW)]), [
    W,
    OW,
  ]);
  const x3 = reshape(x, [N * C, H, W]);
  const rows = matmul(rh, x3); // [NC, OH, W]
  const out = matmul(rows, rwT); // [NC, OH, OW]
  const y = reshape(out, [N, C, OH, OW]);
  // the intermediates live as long as the result (its backward reads them)
  for (const t of [rh, rwT, x3, rows, out]) own(y, t);
  return y;
}
