/**
 * Plain-TypeScript float64 reference implementations, the independent truth the GPU kernels
 * are tested against, plus a central-difference gradient checker.
 */

export interface Arr {
  data: Float64Array;
  shape: number[];
}

export function arr(data: ArrayLike<number>, shape: number[]): Arr {
  return { data: Float64Array.from(data), shape };
}

export function strides(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function broadcast(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    return x === 1 ? y : x;
  });
}

function index(shape: number[], flat: number): number[] {
  const idx = new Array(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

function at(a: Arr, idx: number[]): number {
  const off = idx.length - a.shape.length;
  const st = strides(a.shape);
  let k = 0;
  a.shape.forEach((d, i) => (k += (d === 1 ? 0 : idx[i + off]) * st[i]));
  return a.data[k];
}

export function binary(a: Arr, b: Arr, f: (x: number, y: number) => number): Arr {
  const shape = broadcast(a.shape, b.shape);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = index(shape, i);
    out[i] = f(at(a, idx), at(b, idx));
  }
  return { data: out, shape };
}

export function unary(a: Arr, f: (x: number) => number): Arr {
  return { data: a.data.map(f), shape: [...a.shape] };
}

export function sumAxes(a: Arr, axes: number[] | undefined, keepdim = false): Arr {
  const ax = axes ?? a.shape.map((_, i) => i);
  const outShapeKeep = a.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const out = new Float64Array(size(outShapeKeep));
  const ost = strides(outShapeKeep);
  for (let i = 0; i < a.data.length; i++) {
    const idx = index(a.shape, i);
    let k = 0;
    idx.forEach((v, d) => (k += (ax.includes(d) ? 0 : v) * ost[d]));
    out[k] += a.data[i];
  }
  return { data: out, shape: keepdim ? outShapeKeep : a.shape.filter((_, i) => !ax.includes(i)) };
}

export function maxAxis(a: Arr, axis: number): Arr {
  const O = size(a.shape.slice(0, axis)), R = a.shape[axis], I = size(a.shape.slice(axis + 1));
  const out = new Float64Array(O * I);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      let m = -Infinity;
      for (let r = 0; r < R; r++) m = Math.max(m, a.data[(o * R + r) * I + i]);
      out[o * I + i] = m;
    }
  }
  return { data: out, shape: a.shape.filter((_, d) => d !== axis) };
}

export function matmul(a: Arr, b: Arr): Arr {
  const [M, K] = a.shape.slice(-2), N = b.shape[b.shape.length - 1];
  const batchShape = broadcast(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const B = size(batchShape);
  const aB = size(a.shape.slice(0, -2)), bB = size(b.shape.slice(0, -2));
  const out = new Float64Array(B * M * N);
  for (let t = 0; t < B; t++) {
    const ao = (aB === 1 ? 0 : t) * M * K, bo = (bB === 1 ? 0 : t) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ao + m * K + k] * b.data[bo + k * N + n];
        out[t * M * N + m * N + n] = s;
      }
    }
  }
  return { data: out, shape: [...batchShape, M, N] };
}

export function permute(a: Arr, dims: number[]): Arr {
  const shape = dims.map((d) => a.shape[d]);
  const st = strides(a.shape);
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = index(shape, i);
    let k = 0;
    idx.forEach((v, d) => (k += v * st[dims[d]]));
    out[i] = a.data[k];
  }
  return { data: out, shape };
}

export function softmax(a: Arr, axis: number, log = false): Arr {
  const O = size(a.shape.slice(0, axis)), R = a.shape[axis], I = size(a.shape.slice(axis + 1));
  const out = new Float64Array(a.data.length);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) {
      let m = -Infinity;
      for (let r = 0; r < R; r++) m = Math.max(m, a.data[(o * R + r) * I + i]);
      let s = 0;
      for (let r = 0; r < R; r++) s += Math.exp(a.data[(o * R + r) * I + i] - m);
      for (let r = 0; r < R; r++) {
        const k = (o * R + r) * I + i;
        out[k] = log ? a.data[k] - m - Math.log(s) : Math.exp(a.data[k] - m) / s;
      }
    }
  }
  return { data: out, shape: [...a.shape] };
}

export function crossEntropy(logits: Arr, targets: number[], eps = 0): number {
  const [N, C] = logits.shape;
  const ls = softmax(logits, 1, true);
  let total = 0;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const q = (c === targets[n] ? 1 - eps : 0) + eps / C;
      total -= q * ls.data[n * C + c];
    }
  }
  return total / N;
}

export function erf(x: number): number {
  // high-precision series / continued fraction via Math functions (float64)
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y = 1 - t * Math.exp(
        -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                          t *
                            (0.27886807 +
                              t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}

/**
 * Central-difference gradient of f at x (float64), step h relative to max(1, |x|).
 */
export function numericGrad(f: (x: Float64Array) => number, x: Float64Array, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  const xp = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const step = h * Math.max(1, Math.abs(x[i]));
    xp[i] = x[i] + step;
    const fp = f(xp);
    xp[i] = x[i] - step;
    const fm = f(xp);
    xp[i] = x[i];
    g[i] = (fp - fm) / (2 * step);
  }
  return g;
}

/** n values in [-1, 1) from a 32-bit linear congruential generator started at `seed` (the conv kernels' tests). */
export function seeded(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = (s / 2 ** 32) * 2 - 1;
  }
  return a;
}

/** A small seeded generator for test data, independent of the engine's. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function randArr(shape: number[], r: () => number, lo = -1, hi = 1): Arr {
  const n = size(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = lo + (hi - lo) * r();
  return { data: d, shape };
}

/** Asserts |a - b| <= atol + rtol·|b| elementwise, reporting the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: { rtol?: number; atol?: number; msg?: string } = {},
): void {
  const rtol = opts.rtol ?? 1e-4, atol = opts.atol ?? 1e-5;
  if (actual.length !== expected.length) {
    throw new Error(`${opts.msg ?? ""}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = atol + rtol * Math.abs(expected[i]);
    if (!(err <= tol) && (worst < 0 || err - tol > worstErr)) {
      worst = i;
      worstErr = err - tol;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${opts.msg ?? "values differ"}: element ${worst}: got ${actual[worst]}, expected ${
        expected[worst]
      } (rtol ${rtol}, atol ${atol})`,
    );
  }
}

export function conv2d(x: Arr, w: Arr, b: Arr | null, stride: number, pad: number, dil: number): Arr {
  const [N, C, H, W] = x.shape, [O, , KH, KW] = w.shape;
  const OH = Math.floor((H + 2 * pad - dil * (KH - 1) - 1) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - dil * (KW - 1) - 1) / stride) + 1;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let s = b ? b.data[o] : 0;
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < KH; ky++) {
              for (let kx = 0; kx < KW; kx++) {
                const iy = oy * stride + ky * dil - pad, ix = ox * stride + kx * dil - pad;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += x.data[((n * C + c) * H + iy) * W + ix] * w.data[((o * C + c) * KH + ky) * KW + kx];
              }
            }
          }
          out[((n * O + o) * OH + oy) * OW + ox] = s;
        }
      }
    }
  }
  return { data: out, shape: [N, O, OH, OW] };
}

export function pool2d(
  x: Arr,
  kernel: number | [number, number],
  strides: number | [number, number],
  padding: number | [number, number],
  op: "max" | "avg",
): Arr {
  const two = (v: number | [number, number]) => (typeof v === "number" ? [v, v] : v);
  const [KH, KW] = two(kernel), [SH, SW] = two(strides), [PH, PW] = two(padding);
  const [N, C, H, W] = x.shape;
  const OH = Math.floor((H + 2 * PH - KH) / SH) + 1, OW = Math.floor((W + 2 * PW - KW) / SW) + 1;
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let m = -Infinity, s = 0;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * SH + ky - PH, ix = ox * SW + kx - PW;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x.data[(p * H + iy) * W + ix];
            m = Number.isNaN(m) || Number.isNaN(v) ? NaN : Math.max(m, v);
            s += v;
          }
        }
        out[(p * OH + oy) * OW + ox] = op === "max" ? m : s / (KH * KW);
      }
    }
  }
  return { data: out, shape: [N, C, OH, OW] };
}

/**
 * Transposed convolution written as a scatter (each input pixel adds weight·x into the window it
 * spreads to): x [N, Cin, H, W], w [Cin, Cout, KH, KW], PyTorch's output size rule.
 */
export function convTranspose2d(
  x: Arr,
  w: Arr,
  b: Arr | null,
  stride: number,
  pad: number,
  outPad: number,
  dil: number,
): Arr {
  const [N, C, H, W] = x.shape, [, O, KH, KW] = w.shape;
  const OH = (H - 1) * stride - 2 * pad + dil * (KH - 1) + outPad + 1;
  const OW = (W - 1) * stride - 2 * pad + dil * (KW - 1) + outPad + 1;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < OH * OW; i++) out[(n * O + o) * OH * OW + i] = b ? b.data[o] : 0;
    }
    for (let c = 0; c < C; c++) {
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = x.data[((n * C + c) * H + iy) * W + ix];
          for (let o = 0; o < O; o++) {
            for (let ky = 0; ky < KH; ky++) {
              const oy = iy * stride - pad + ky * dil;
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = ix * stride - pad + kx * dil;
                if (ox < 0 || ox >= OW) continue;
                out[((n * O + o) * OH + oy) * OW + ox] += v * w.data[((c * O + o) * KH + ky) * KW + kx];
              }
            }
          }
        }
      }
    }
  }
  return { data: out, shape: [N, O, OH, OW] };
}

/**
 * Resizing with PyTorch's formulas, in float64, pixel by pixel: nearest reads
 * min(floor(dst·scale), n − 1); bilinear blends at max(0, (dst + 0.5)·scale − 0.5), or
 * dst·(n − 1)/(out − 1) with alignCorners; scale = 1/factor when a factor is given, else n/out.
 */
export function resize2d(
  x: Arr,
  OH: number,
  OW: number,
  mode: "nearest" | "bilinear",
  alignCorners = false,
  factors?: [number, number],
): Arr {
  const [N, C, H, W] = x.shape;
  const taps = (n: number, out: number, d: number, factor?: number): [number, number, number] => {
    const scale = factor ? 1 / factor : n / out;
    if (mode === "nearest") return [Math.min(Math.floor(d * scale), n - 1), 0, 0];
    const src = alignCorners
      ? (out > 1 ? (d * (n - 1)) / (out - 1) : 0)
      : Math.max(0, (d + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), n - 1);
    return [i0, Math.min(i0 + 1, n - 1), Math.min(src - i0, 1)];
  };
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++) {
    for (let oy = 0; oy < OH; oy++) {
      const [y0, y1, ly] = taps(H, OH, oy, factors?.[0]);
      for (let ox = 0; ox < OW; ox++) {
        const [x0, x1, lx] = taps(W, OW, ox, factors?.[1]);
        const at = (iy: number, ix: number) => x.data[(p * H + iy) * W + ix];
        out[(p * OH + oy) * OW + ox] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
          ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
      }
    }
  }
  return { data: out, shape: [N, C, OH, OW] };
}
