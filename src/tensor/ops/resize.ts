/**
 * Resizing images: `interpolate` (bilinear or nearest), as PyTorch's
 * `torch.nn.functional.interpolate` (and `nn.Upsample`). Resizing is separable: the host computes
 * each axis's sampling table with PyTorch's positions (in float32, as PyTorch's CPU kernels do),
 * and shaders/resize.wgsl gathers the output from it; the backward pass is a gather too, each input
 * cell summing the output cells that read it, weighted. (Grad-CAM upsamples with this.)
 */
import { checkLoopSteps } from "../../gpu/loops.ts";
import { dispatch } from "../../gpu/queue.ts";
import { tensor } from "../create.ts";
import { record } from "../graph.ts";
import { assertFloat, empty, own, type Tensor } from "../tensor.ts";

/** Options for `interpolate`. */
export interface InterpolateOptions {
  /** Output [height, width]. Give this or `scaleFactor`. */
  size?: [number, number];
  /**
   * Output size = floor(input size × factor), per axis or for both; the sampling positions use
   * 1/factor, as PyTorch's (with recompute_scale_factor unset).
   */
  scaleFactor?: number | [number, number];
  /** "bilinear" (default) or "nearest". */
  mode?: "bilinear" | "nearest";
  /** Bilinear only: align the corner pixels' centres (PyTorch's align_corners; default false). */
  alignCorners?: boolean;
}

/** How one output index reads one axis: input indices i0, i1 with weights w0, w1. */
interface Tap {
  i0: number;
  i1: number;
  w0: number;
  w1: number;
}

const f32 = Math.fround;

/**
 * The sampling of one axis of n inputs by `out` outputs, PyTorch 1.13's CPU arithmetic (float32):
 * nearest takes min(floor(dst·s), n − 1) with s = 1/factor or n/out; bilinear with align_corners
 * false reads source max(0, s·(dst + 0.5) − 0.5), with true dst·(n − 1)/(out − 1), between its
 * floor and the next index (clamped to n − 1). Equal sizes copy.
 */
function axisTaps(
  n: number,
  out: number,
  mode: "bilinear" | "nearest",
  alignCorners: boolean,
  factor?: number,
): Tap[] {
  const taps: Tap[] = [];
  const scale = factor !== undefined && factor > 0 ? f32(1 / factor) : f32(n / out);
  for (let d = 0; d < out; d++) {
    if (n === out || (mode === "nearest" && out === 2 * n)) {
      const i = n === out ? d : d >> 1;
      taps.push({ i0: i, i1: i, w0: 1, w1: 0 });
      continue;
    }
    if (mode === "nearest") {
      const i = Math.min(Math.floor(f32(f32(d) * scale)), n - 1);
      taps.push({ i0: i, i1: i, w0: 1, w1: 0 });
      continue;
    }
    let src: number;
    if (alignCorners) src = out > 1 ? f32(f32((n - 1) / (out - 1)) * f32(d)) : 0;
    else src = Math.max(0, f32(scale * (d + 0.5) - 0.5));
    const i0 = Math.min(Math.floor(src), n - 1);
    const i1 = i0 < n - 1 ? i0 + 1 : i0;
    const w1 = f32(Math.min(Math.max(src - i0, 0), 1));
    taps.push({ i0, i1, w0: f32(1 - w1), w1 });
  }
  return taps;
}

/**
 * The [out, in] matrix that resizes one axis, with PyTorch's sampling positions (see
 * `interpolate`); `factor` is the scale factor when the size came from one.
 *
 * @example
 * ```ts
 * import { resizeMatrix } from "glassbox";
 * // 2 → 4, bilinear, align_corners false: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25
 * const m = resizeMatrix(2, 4, "bilinear");
 * if (m.join() !== [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1].join()) throw new Error(`${m}`);
 * ```
 */
export function resizeMatrix(
  n: number,
  out: number,
  mode: "bilinear" | "nearest",
  alignCorners = false,
  factor?: number,
): Float32Array {
  const m = new Float32Array(out * n);
  axisTaps(n, out, mode, alignCorners, factor).forEach((t, d) => {
    m[d * n + t.i0] += t.w0;
    m[d * n + t.i1] += t.w1;
  });
  return m;
}

/** The table shaders/resize.wgsl reads: both axes' taps, then which outputs read each input. */
function resizeTable(
  rows: Tap[],
  cols: Tap[],
  H: number,
  W: number,
): { tab: Float32Array; offsets: number[] } {
  const colT = 4 * rows.length, rowR = colT + 4 * cols.length, colR = rowR + 2 * H;
  const tab = new Float32Array(colR + 2 * W);
  const put = (taps: Tap[], at: number, ranges: number, n: number) => {
    for (let i = 0; i < n; i++) tab[ranges + 2 * i] = tab[ranges + 2 * i + 1] = 0;
    const first = new Array(n).fill(-1), last = new Array(n).fill(-1);
    taps.forEach((t, d) => {
      tab.set([t.i0, t.i1, t.w0, t.w1], at + 4 * d);
      for (const i of [t.i0, t.i1]) {
        if (first[i] < 0) first[i] = d;
        last[i] = d;
      }
    });
    for (let i = 0; i < n; i++) {
      if (first[i] >= 0) tab.set([first[i], last[i] + 1], ranges + 2 * i);
    }
  };
  put(rows, 0, rowR, H);
  put(cols, colT, colR, W);
  return { tab, offsets: [colT, rowR, colR] };
}

/**
 * Resizes [N, C, H, W] images to [N, C, OH, OW], as PyTorch's `F.interpolate` (give `size` or
 * `scaleFactor`, not both). Nearest copies the pixel at floor(dst·in/out); bilinear blends the
 * two nearest pixels per axis at source (dst + 0.5)·in/out − 0.5 (pixel centres), or
 * dst·(in − 1)/(out − 1) with `alignCorners`. Differentiable.
 *
 * @example
 * ```ts
 * import { interpolate, randn, tensor } from "glassbox";
 * const cam = randn([2, 1, 7, 7]);
 * interpolate(cam, { size: [28, 28] }).shape; // [2, 1, 28, 28], bilinear
 * const y = interpolate(tensor([[[[1, 2], [3, 4]]]]), { scaleFactor: 2, mode: "nearest" });
 * if ((await y.toArray()).join() !== "1,1,2,2,1,1,2,2,3,3,4,4,3,3,4,4") throw new Error("nearest");
 * ```
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  return resize("interpolate", x, options, "bilinear");
}

/**
 * @internal Checks resize options without an input: exactly one of size ([height, width] of
 * positive integers) and scaleFactor (positive, one or a pair), a known mode. Returns them as pairs.
 */
export function checkResizeOptions(
  op: string,
  options: InterpolateOptions,
): { size?: [number, number]; factors?: [number, number] } {
  const { size, scaleFactor, mode } = options;
  if ((size === undefined) === (scaleFactor === undefined)) {
    throw new Error(
      `${op}: give size or scaleFactor (exactly one of them), got ${
        size === undefined
          ? "neither"
          : `both (size ${JSON.stringify(size)}, scaleFactor ${JSON.stringify(scaleFactor)})`
      }`,
    );
  }
  if (mode !== undefined && mode !== "bilinear" && mode !== "nearest") {
    throw new Error(`${op}: unknown mode ${JSON.stringify(mode)} (use "nearest" or "bilinear")`);
  }
  if (scaleFactor !== undefined) {
    const fs = typeof scaleFactor === "number" ? [scaleFactor, scaleFactor] : scaleFactor;
    if (
      !Array.isArray(fs) || fs.length !== 2 ||
      !fs.every((v) => typeof v === "number" && Number.isFinite(v) && v > 0)
    ) {
      throw new Error(
        `${op}: scaleFactor must be a positive number or a pair of them, got ${JSON.stringify(scaleFactor)}`,
      );
    }
    return { factors: [fs[0], fs[1]] };
  }
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`${op}: size must be [height, width] of positive integers, got ${JSON.stringify(size)}`);
  }
  return { size: [size[0], size[1]] };
}

/** @internal `interpolate` under another name and default mode (nn.Upsample's is nearest). */
export function resize(
  op: string,
  x: Tensor,
  options: InterpolateOptions,
  defaultMode: "bilinear" | "nearest",
): Tensor {
  assertFloat(op, x);
  if (x.ndim !== 4) throw new Error(`${op}: expected [N, C, H, W], got [${x.shape.join(", ")}]`);
  const [N, C, H, W] = x.shape;
  const { size, factors } = checkResizeOptions(op, options);
  let OH: number, OW: number;
  if (factors) {
    [OH, OW] = [Math.floor(H * factors[0]), Math.floor(W * factors[1])];
    if (OH < 1 || OW < 1) {
      throw new Error(
        `${op}: scaleFactor ${JSON.stringify(options.scaleFactor)} makes a ${H}×${W} input ${OH}×${OW}`,
      );
    }
  } else [OH, OW] = size!;
  const mode = options.mode ?? defaultMode;
  const align = options.alignCorners ?? false;
  const rows = axisTaps(H, OH, mode, align, factors?.[0]);
  const cols = axisTaps(W, OW, mode, align, factors?.[1]);
  const { tab, offsets: [colT, rowR, colR] } = resizeTable(rows, cols, H, W);
  const table = tensor(tab, [tab.length]);
  const params = (total: number) => ({
    H,
    W,
    OH,
    OW,
    total,
    col_t: colT,
    row_r: rowR,
    col_r: colR,
    linear: mode === "bilinear" ? 1 : 0,
  });
  const y = empty([N, C, OH, OW]);
  if (y.size > 0) {
    dispatch({
      shader: "resize",
      entry: "forward",
      buffers: [x.buffer, table.buffer, y.buffer],
      params: params(y.size),
      invocations: y.size,
    });
  }
  // the backward's invocation walks the outputs its input pixel feeds (rows × columns)
  const span = (at: number, n: number) => {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, tab[at + 2 * i + 1] - tab[at + 2 * i]);
    return m;
  };
  const backwardSteps = span(rowR, H) * (span(colR, W) + 1);
  const out = record(y, op, [x], (dy) => {
    checkLoopSteps(`${op} (backward)`, backwardSteps, `a ${H}×${W} to ${OH}×${OW} resize`);
    const dx = empty(x.shape);
    if (dx.size > 0) {
      dispatch({
        shader: "resize",
        entry: "backward",
        buffers: [dy.buffer, table.buffer, dx.buffer],
        params: params(dx.size),
        invocations: dx.size,
      });
    }
    return [dx];
  }, []); // linear: the backward reads only the table, which the output owns
  if (out.requiresGrad) own(out, table);
  else table.dispose();
  return out;
}
