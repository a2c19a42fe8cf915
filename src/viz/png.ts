/**
 * PNG bytes (through npm:fast-png) and image grids: feature maps, filters, attributions. Pure:
 * pixels in, bytes out (no GPU, no files; `writePng` in io/file.ts writes them).
 */
// A full specifier (pinned like the import map's) so scripts outside this folder can import mod.ts.
// deno-lint-ignore no-import-prefix
import { encode } from "npm:fast-png@8.0.0";
import { diverging, type RGB, viridis } from "./colormap.ts";

/** An RGBA image. */
export interface Image {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA bytes, row by row (width · height · 4). */
  data: Uint8Array;
}

/** Encodes RGBA pixels as PNG bytes. */
export function encodePng(img: Image): Uint8Array {
  return encode({ width: img.width, height: img.height, data: img.data, channels: 4, depth: 8 });
}

/** Base64 of bytes (for data URIs), in chunks so large images do not overflow the call stack. */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** An image as a `data:image/png;base64,…` URI. */
export function pngDataUri(img: Image): string {
  return `data:image/png;base64,${base64(encodePng(img))}`;
}

/** Options for `imageGrid`. */
export interface GridOptions {
  /** Tiles per row (default: about square). */
  columns?: number;
  /** Pixels per value (default: enough for tiles about 48 px wide). */
  scale?: number;
  /** Gap between tiles in pixels (default 2). */
  gap?: number;
  /** "viridis" (magnitudes) or "diverging" (signed, centred on 0). Default viridis. */
  colormap?: "viridis" | "diverging";
  /** Normalise each tile on its own (default) or all tiles together. */
  normalize?: "each" | "shared";
}

/**
 * Lays out equally sized 2-D maps (e.g. the channels of a feature map) as a grid of coloured
 * tiles on a light background.
 *
 * @example
 * ```ts
 * import { encodePng, imageGrid } from "glassbox";
 * const maps = [new Float32Array(64).map(Math.random), new Float32Array(64).map(Math.random)];
 * const png = encodePng(imageGrid(maps, 8, 8)); // PNG bytes (writePng saves them to a file)
 * ```
 */
export function imageGrid(maps: ArrayLike<number>[], h: number, w: number, options: GridOptions = {}): Image {
  const n = maps.length;
  const cols = options.columns ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const scale = options.scale ?? Math.max(1, Math.round(48 / Math.max(h, w)));
  const gap = options.gap ?? 2;
  const W = cols * (w * scale + gap) + gap, H = rows * (h * scale + gap) + gap;
  // light gaps around viridis tiles; dark gaps around diverging ones (whose 0 is white)
  const data = new Uint8Array(W * H * 4).fill(options.colormap === "diverging" ? 90 : 235);
  const range = (m: ArrayLike<number>) => {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < m.length; i++) {
      if (Number.isFinite(m[i])) (lo = Math.min(lo, m[i])), (hi = Math.max(hi, m[i]));
    }
    return [lo, hi];
  };
  let shared = [Infinity, -Infinity];
  if (options.normalize === "shared") {
    for (const m of maps) {
      const [a, b] = range(m);
      shared = [Math.min(shared[0], a), Math.max(shared[1], b)];
    }
  }
  maps.forEach((m, k) => {
    const [lo, hi] = options.normalize === "shared" ? shared : range(m);
    const amax = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    const ox = gap + (k % cols) * (w * scale + gap), oy = gap + Math.floor(k / cols) * (h * scale + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = m[y * w + x];
        const c: RGB = !Number.isFinite(v)
          ? [255, 0, 255]
          : options.colormap === "diverging"
          ? diverging(v / amax)
          : viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5);
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            const p = ((oy + y * scale + dy) * W + ox + x * scale + dx) * 4;
            data[p] = c[0];
            data[p + 1] = c[1];
            data[p + 2] = c[2];
            data[p + 3] = 255;
          }
        }
      }
    }
  });
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width: W, height: H, data };
}
