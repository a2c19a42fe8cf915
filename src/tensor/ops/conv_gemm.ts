/**
 * @internal The implicit-GEMM convolution kernel (shaders/conv_gemm.wgsl) for the "cpu" kernel
 * path (a software adapter such as llvmpipe): the whole batch as one GEMM of N·OH·OW pixels by
 * Cout channels over K = C·KH·KW, with no patch matrix, written as NCHW, with an optional
 * epilogue (activation, 2×2 max pool). `conv2d`'s forward pass and `conv2dFused` launch it;
 * neither records autograd here. `convGemmChain` runs two, the first writing the second's
 * packed input (`conv2dFusedChain`, for a Sequential's consecutive fused conv runs). Also the epilogue alone (shaders/conv_act_pool.wgsl).
 */
import { loopStepLimit } from "../../gpu/loops.ts";
import { device } from "../../gpu/device.ts";
import { placeholderBuffer } from "../../gpu/pool.ts";
import { specialiseFor } from "../../gpu/specialise.ts";
import { dispatch } from "../../gpu/queue.ts";
import { launchCopy, launchFill } from "../kernels.ts";
import { derivedForm, empty, type Tensor } from "../tensor.ts";

/** The geometry of one convolution (one stride, padding and dilation for both axes). */
export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  Cout: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  stride: number;
  pad: number;
  dil: number;
}

/** The activation an epilogue applies: none, relu, or leaky relu (with a slope > 0 when pooling). */
export type ConvActivation = "none" | "relu" | "leakyRelu";

/** What follows the convolution inside the kernel. */
export interface ConvEpilogue {
  activation: ConvActivation;
  /** The leaky relu's negative slope. */
  slope: number;
  /** Whether a 2×2 stride-2 max pool follows the activation. */
  pool: boolean;
  /** With a pool: whether to write the winners' codes too (for a backward pass). */
  winners?: boolean;
}

const ACT_CODE: Record<ConvActivation, number> = { none: 0, relu: 1, leakyRelu: 2 };

/** The register tile: TR×TW output pixels × TC output channels per invocation. */
export interface ConvTile {
  TR: number;
  TW: number;
  TC: number;
  /** Images per tile (default 1): their pixels share the weights' loads. */
  TN?: number;
}

const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/** The patch rows (or columns) a tile of `t` outputs reads. */
const patchSpan = (t: number, k: number, stride: number, dil: number) => (t - 1) * stride + (k - 1) * dil + 1;

/** n split into the fewest parts of at most `most`, as even as can be: the part size. */
const evenPart = (n: number, most: number) => Math.ceil(n / Math.ceil(n / Math.max(1, most)));

/**
 * The tile for a shape: TC = 16 channels (8 or 4 for a narrow layer), and about `pixels`
 * (default 33; 64 for a small K, see `smallK`) output pixels as whole rows when they fit (so a row's taps share their loads), split evenly.
 * With a pool, two rows and an even width. Measured on lavapipe (CPU time, side by side):
 * 256×32×13×13→64 (11×11 out) 3×11 pixels × 16 channels 12.3 GFLOP per CPU-second, 2×11 10.6,
 * 4×11 10.4, 4×11 × 8 channels 11.2; 64×32×14×14→64 padded: 2×14 9.8, 1×14 7.7, 3×14 8.5.
 * One pixel per invocation with 16 taps loaded per tile (no row sharing) reached about half.
 */
export function convTile(g: ConvGeometry, pool: boolean, pixels?: number): ConvTile {
  if (pixels === undefined) {
    // twice the pixels for a small K, unless a padded tile's patch would outgrow its 32-bit masks
    const t = smallK(g) ? convTile(g, pool, 64) : null;
    const masks = (t: ConvTile) =>
      g.pad === 0 ||
      (patchSpan(t.TR, g.KH, g.stride, g.dil) <= 32 && patchSpan(t.TW, g.KW, g.stride, g.dil) <= 32);
    return t && masks(t) ? t : convTile(g, pool, 33);
  }
  const c4 = ceil4(g.Cout);
  const TC = c4 % 16 === 0 ? 16 : c4 % 8 === 0 ? 8 : 4;
  // two images per tile (their pixels share every weight load) for large work, where the
  // doubled straight-line code's compile time (~0.2 → 0.45 s, 0.5 → 1.6 s measured) pays off,
  // or for a quarter of that work with a small tile (at most 256 pixel-channels: doubled, still
  // smaller than a large work's; Occlusion's conv2, 169×32×8×8→64 pooled, 2×6 × 16 channels,
  // CPU time per launch ~12.5 against ~14.8 ms); and not for an odd batch whose lone last image
  // would waste much of a tile
  const macs = g.N * g.Cout * g.C * g.KH * g.KW * g.OH * g.OW;
  const twice = (TR: number, TW: number) =>
    (macs >= 2 ** 27 || (macs >= 2 ** 25 && TR * TW * TC <= 256)) && (g.N % 2 === 0 || g.N >= 16) ? 2 : 1;
  if (pool) {
    const TW = 2 * evenPart(Math.floor(g.OW / 2), Math.floor(pixels / 4));
    return { TR: 2, TW, TC, TN: twice(2, TW) };
  }
  const TW = evenPart(g.OW, pixels);
  const TR = evenPart(g.OH, Math.floor(pixels / TW));
  return { TR, TW, TC, TN: twice(TR, TW) };
}

/**
 * Whether a convolution's K = C·KH·KW is small (at most 16): with so few products per output
 * the stores are most of the kernel's time, and a tile of twice the pixels (whole rows) pays:
 * seed-CNN conv1 (256×1×28×28→32, relu, pool) 2×26 pixels × 16 channels against 2×14, kernel
 * time ~8.5-8.9 against ~10.8 ms side by side.
 */
function smallK(g: ConvGeometry): boolean {
  return g.C * g.KH * g.KW <= 16;
}

/** The multiply-adds of a convolution, ×2 (its floating-point work before any epilogue). */
export function convFlops(g: ConvGeometry): number {
  return 2 * g.N * g.Cout * g.C * g.KH * g.KW * g.OH * g.OW;
}

/**
 * Whether the kernel runs a convolution: it covers the shape (`convGemmCovers`) and the launch
 * has the work to pay for compiling a kernel for its shape (`specialiseFor`: the kernel is
 * specialised per geometry; otherwise im2col + the matmul, generic kernels, do it).
 */
export function convGemmRuns(g: ConvGeometry, pool = false): boolean {
  return specialiseFor(convFlops(g)) && convGemmCovers(g, pool);
}

/**
 * Whether the kernel covers a convolution: the c loop fits llvmpipe's loop budget, a padded
 * tile's patch masks fit 32 bits, the kernel window is at most 7×7 (the unrolled code grows
 * with it), and the input and output each fit one storage binding.
 */
export function convGemmCovers(g: ConvGeometry, pool = false): boolean {
  const maxBind = device().limits.maxStorageBufferBindingSize;
  const inBytes = g.N * g.C * g.H * g.W * 4, outBytes = g.N * g.Cout * g.OH * g.OW * 4;
  const t = convTile(g, pool);
  return g.C + 8 <= loopStepLimit() && g.KH * g.KW <= 49 &&
    (g.pad === 0 ||
      (patchSpan(t.TR, g.KH, g.stride, g.dil) <= 32 && patchSpan(t.TW, g.KW, g.stride, g.dil) <= 32)) &&
    inBytes <= maxBind && outBytes <= maxBind;
}

const unrolled = new Map<string, Record<string, string>>();

/** The straight-line code for a tile (see the header of shaders/conv_gemm.wgsl). */
function unroll(
  t: ConvTile,
  g: ConvGeometry,
  pool: boolean,
  packed: boolean,
  vec = 0,
): Record<string, string> {
  const { TR, TW, TC } = t, J = TC / 4, TN = t.TN ?? 1;
  const { KH, KW, stride: S, dil: D, W } = g;
  const pad = g.pad > 0;
  const c4 = ceil4(g.Cout) / 4;
  const key = `${TN}|${TR}x${TW}x${TC}|${KH}x${KW}|${S}|${D}|${W}|${c4}|${pad}|${pool}|${packed}|${vec}`;
  let u = unrolled.get(key);
  if (u) return u;
  const decl: string[] = [], step: string[] = [], store: string[] = [];
  for (let r = 0; r < TR; r++) {
    for (let x = 0; x < TW; x++) {
      for (let i = 0; i < TN; i++) {
        for (let j = 0; j < J; j++) decl.push(`  var a${i}_${r}_${x}_${j} = vec4f(0.0);`);
      }
    }
  }
  const rows = new Set<number>(), cols = new Set<number>();
  for (let r = 0; r < TR; r++) for (let ky = 0; ky < KH; ky++) rows.add(r * S + ky * D);
  for (let x = 0; x < TW; x++) for (let kx = 0; kx < KW; kx++) cols.add(x * S + kx * D);
  const sorted = (set: Set<number>) => [...set].sort((a, b) => a - b);
  for (let i = 0; i < TN; i++) {
    for (const ir of sorted(rows)) {
      if (packed) {
        // the vec4s of the packed row holding the columns read, then the columns from them
        const quads = [...new Set(sorted(cols).map((ic) => ic >> 2))];
        for (const q of quads) {
          step.push(`    let xv${i}_${ir}_${q} = XV[xo + ${i}u * CIN * HP * ROW4 + ${ir}u * ROW4 + ${q}u];`);
        }
        for (const ic of sorted(cols)) {
          step.push(`    let x${i}_${ir}_${ic} = xv${i}_${ir}_${ic >> 2}[${ic & 3}];`);
        }
        continue;
      }
      for (const ic of sorted(cols)) {
        const load = `X[xo + ${i}u * CIN * H * W + ${ir * W + ic}u]`;
        step.push(
          pad
            ? `    let x${i}_${ir}_${ic} = select(0.0, ${load}, ((rows >> ${ir}u) & (cols >> ${ic}u) & 1u) != 0u);`
            : `    let x${i}_${ir}_${ic} = ${load};`,
        );
      }
    }
  }
  // every tap's weights first, then the FMAs accumulator by accumulator (all taps of one
  // a_r_x_j in a row): llvmpipe cannot keep the TR·TW·TC accumulators (one SIMD register per
  // float) in registers, and this order loads and stores each once per c step instead of once
  // per tap, reading the weights (also spilled) as memory operands. Seed-CNN conv2
  // (256×32×13×13→64, relu, pool) ~63-69 → ~52-58 ms CPU per forward, vs tfjs-wasm 2.3-2.6× → 1.9-2.0×.
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const tap = ky * KW + kx;
      for (let j = 0; j < J; j++) step.push(`    let w${tap}_${j} = WT[wi + ${tap * c4 + j}u];`);
    }
  }
  for (let i = 0; i < TN; i++) {
    for (let r = 0; r < TR; r++) {
      for (let x = 0; x < TW; x++) {
        for (let j = 0; j < J; j++) {
          const a = `a${i}_${r}_${x}_${j}`;
          for (let ky = 0; ky < KH; ky++) {
            for (let kx = 0; kx < KW; kx++) {
              const xv = `x${i}_${r * S + ky * D}_${x * S + kx * D}`;
              step.push(`    ${a} = fma(vec4f(${xv}), w${ky * KW + kx}_${j}, ${a});`);
            }
          }
        }
      }
    }
  }
  // each channel vec4's bias, loaded once per tile, not once per store (see store_px)
  for (let j = 0; j < J; j++) store.push(`  let b${j} = bias4(co0 + ${4 * j}u);`);
  for (let i = 0; i < TN; i++) {
    if (vec > 0) {
      // the chained vec4 store (see the shader's header): pooled row ty of image n + i, whole, as
      // `vec` vec4s per channel of the next conv's packed row ty (columns past TW/2 get zeros)
      store.push(`  if (n + ${i}u < NIMG && ty < Q_HP) {`);
      for (let j = 0; j < J; j++) {
        for (let p = 0; p < Math.min(TW / 2, 4 * vec); p++) {
          const v = [[0, 2 * p], [0, 2 * p + 1], [1, 2 * p], [1, 2 * p + 1]].map(([r, x]) =>
            `a${i}_${r}_${x}_${j}`
          );
          store.push(`    let r${p}_${j} = pooled(b${j}, ${v.join(", ")});`);
        }
        store.push(`    let o${j} = ((n + ${i}u) * COUT + co0 + ${4 * j}u) * Q_HP * Q_ROW4 + ty * Q_ROW4;`);
        for (let c = 0; c < 4; c++) {
          const q4 = [];
          for (let q = 0; q < vec; q++) {
            const comp = [0, 1, 2, 3].map((e) => 4 * q + e < TW / 2 ? `r${4 * q + e}_${j}[${c}]` : "0.0");
            q4.push(`YV[o${j} + ${c}u * Q_HP * Q_ROW4 + ${q}u] = vec4f(${comp.join(", ")});`);
          }
          store.push(`    if (FULL_C == 1u || co0 + ${4 * j + c}u < COUT) { ${q4.join(" ")} }`);
        }
      }
      store.push(`  }`);
    } else if (pool) {
      for (let p = 0; p < TW / 2; p++) {
        for (let j = 0; j < J; j++) {
          const v = [[0, 2 * p], [0, 2 * p + 1], [1, 2 * p], [1, 2 * p + 1]].map(([r, x]) =>
            `a${i}_${r}_${x}_${j}`
          );
          store.push(
            `  store_pool(n + ${i}u, ty, tx * ${TW / 2}u + ${p}u, co0 + ${4 * j}u, b${j}, ${v.join(", ")});`,
          );
        }
      }
    } else {
      for (let r = 0; r < TR; r++) {
        for (let x = 0; x < TW; x++) {
          for (let j = 0; j < J; j++) {
            store.push(
              `  store_px(n + ${i}u, oy0 + ${r}u, ox0 + ${x}u, co0 + ${
                4 * j
              }u, b${j}, a${i}_${r}_${x}_${j});`,
            );
          }
        }
      }
    }
  }
  u = { ACC_DECL: decl.join("\n"), LOAD_STEP: step.join("\n"), STORE: store.join("\n") };
  unrolled.set(key, u);
  return u;
}

/** What the kernel is computing, for the shader's first line. */
function what(g: ConvGeometry, bias: boolean, epi: ConvEpilogue): string {
  const ops = [`conv2d ${g.KH}×${g.KW}${bias ? " + bias" : ""}`];
  if (epi.activation !== "none") ops.push(epi.activation);
  if (epi.pool) ops.push("maxPool2d(2, 2)");
  return ops.length > 1 ? `fused ${ops.join(" + ")}` : ops[0];
}

/**
 * The weight [Cout, C, KH, KW] as WT[k][ceil4(Cout)], k = (c, ky, kx): K-major, vec4 along Cout
 * (the padding columns hold whatever the buffer held; they are computed and never stored): a
 * temporary (`temp`, to dispose), or for a parameter the one kept on its storage
 * (`Storage.derived`, as matmul keeps packed weights), transposed again only when the storage's
 * version has moved on, so not on every forward pass.
 */
function transposedWeight(weight: Tensor, Cout: number, K: number): { buf: GPUBuffer; temp: Tensor | null } {
  const c4 = ceil4(Cout);
  return derivedForm(
    weight,
    `conv_gemm_wt ${Cout} ${K}`,
    K * c4,
    (buf) => launchCopy(weight, buf, "float32", [Cout, K], [K, 1], [1, c4]),
  );
}

/**
 * How convGemm packs a convolution's input (see pack in the shader): HP padded rows of TILES_W
 * column blocks of NCP columns (NCOLS read) per channel; `size` floats in all.
 */
interface PackedLayout {
  tile: ConvTile;
  tilesH: number;
  tilesW: number;
  HP: number;
  NCP: number;
  NCOLS: number;
  size: number;
}

function packedLayout(g: ConvGeometry, pool: boolean, tile: ConvTile): PackedLayout {
  const PH = Math.floor(g.OH / 2), PW = Math.floor(g.OW / 2);
  const tilesH = pool ? PH : Math.ceil(g.OH / tile.TR);
  const tilesW = pool ? Math.ceil(PW / (tile.TW / 2)) : Math.ceil(g.OW / tile.TW);
  const HP = patchSpan(tilesH * tile.TR, g.KH, g.stride, g.dil);
  const NCOLS = patchSpan(tile.TW, g.KW, g.stride, g.dil);
  const NCP = ceil4(NCOLS);
  return { tile, tilesH, tilesW, HP, NCP, NCOLS, size: g.N * g.C * HP * tilesW * NCP };
}

/** The next convolution whose packed input a chained convGemm writes. */
interface ChainTarget {
  g: ConvGeometry;
  layout: PackedLayout;
}

/**
 * Launches the convolution with its epilogue: returns y ([N, Cout, OH, OW], or pooled
 * [N, Cout, ⌊OH/2⌋, ⌊OW/2⌋]) and, when pooling with `winners`, the winners' codes (int32,
 * y's shape; see the shader), the format `actPoolBackward` reads. The input is first packed
 * (the shader's pack entry) unless `pack` is false or the packed copy would not fit one
 * binding; then the kernel reads it in place, with padding masks. With `prepacked`, x is
 * already that packed input (see `convGemmChain`); with `next`, y is the next convolution's
 * packed input instead (flat, `next.layout.size` floats).
 */
export function convGemm(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  epi: ConvEpilogue,
  tile: ConvTile = convTile(g, epi.pool),
  pack = true,
  chain: { prepacked?: boolean; next?: ChainTarget } = {},
): { y: Tensor; idx: Tensor | null } {
  const { N, C, H, W, Cout, KH, KW, OH, OW } = g;
  const PH = epi.pool ? Math.floor(OH / 2) : OH, PW = epi.pool ? Math.floor(OW / 2) : OW;
  const next = chain.next;
  // the next conv's packed input, zeros where it pads (its padding is read, never written)
  const y = !next
    ? empty([N, Cout, PH, PW])
    : next.g.pad > 0
    ? zerosFlat(next.layout.size)
    : empty([next.layout.size]);
  const idx = epi.pool && epi.winners && !next ? empty([N, Cout, PH, PW], "int32") : null;
  if (N * Cout * PH * PW === 0) return { y, idx };
  const K = C * KH * KW;
  const wt = transposedWeight(weight, Cout, K);
  const c4 = ceil4(Cout);
  const L = packedLayout(g, epi.pool, tile);
  const { tilesH, tilesW, HP, NCP } = L;
  const tilesM = Math.ceil(N / (tile.TN ?? 1)) * tilesH * tilesW, tilesN = Math.ceil(c4 / tile.TC);
  const packed = chain.prepacked || (pack && L.size * 4 <= device().limits.maxStorageBufferBindingSize);
  // an unpadded input whose rows are already the packed rows (one column block as wide as the
  // image, a multiple of 4, and no row past the image read) is its own packed form, H rows per
  // channel: no pack pass (seed-CNN conv1, 28×28 → 26×26: -0.35 ms of its 0.6 ms of passes)
  const inPlace = packed && !chain.prepacked && g.pad === 0 && tilesW === 1 && NCP === W && HP <= H;
  // the chained vec4 store: a tile is a whole pooled row and the next conv reads one column block
  // from column 0 (the vec4s per channel row; 0 for the scalar put)
  const vec = next && epi.pool && tilesW === 1 && next.layout.tilesW === 1 && next.g.pad === 0
    ? Math.min(Math.ceil(tile.TW / 8), next.layout.NCP / 4)
    : 0;
  const shape = {
    WHAT: what(g, !!bias, epi) + (next ? " → the next conv's packed input" : ""),
    TR: tile.TR,
    TW: tile.TW,
    TC: tile.TC,
    TN: tile.TN ?? 1,
    NIMG: N,
    KH,
    KW,
    DIL: g.dil,
    STRIDE: g.stride,
    PADDING: g.pad,
    CIN: C,
    H,
    W,
    OH,
    OW,
    PH,
    PW,
    COUT: Cout,
    COUT4: c4 / 4,
    TILES_W: tilesW,
    TILES_H: tilesH,
    ACT: ACT_CODE[epi.activation],
    POOL: epi.pool ? 1 : 0,
    PAD: g.pad > 0 ? 1 : 0,
    BIAS: bias ? 1 : 0,
    FULL_C: Cout % tile.TC === 0 ? 1 : 0,
    WINNERS: idx ? 1 : 0,
    PACKED: packed ? 1 : 0,
    NCP4: NCP / 4,
    HP: inPlace ? H : HP,
    CHAIN: next ? 1 : 0,
    Q_PAD: next?.g.pad ?? 0,
    Q_TWS: next ? next.layout.tile.TW * next.g.stride : 0,
    Q_NCOLS: next?.layout.NCOLS ?? 0,
    Q_NCP4: next ? next.layout.NCP / 4 : 0,
    Q_TILES_W: next?.layout.tilesW ?? 0,
    Q_HP: next?.layout.HP ?? 0,
  };
  let xp: Tensor | null = null;
  if (packed && !chain.prepacked && !inPlace) {
    xp = empty([L.size]);
    dispatch({
      shader: "conv_gemm",
      entry: "pack",
      constants: { ...shape, ACC_DECL: "", LOAD_STEP: "", STORE: "" },
      buffers: [x.buffer, xp.buffer],
      params: { tiles_m: L.size / 4, tiles_n: 0, slope: 0 },
      invocations: L.size / 4,
      cost: { bytes: 4 * (x.size + L.size) },
    });
  }
  dispatch({
    shader: "conv_gemm",
    entry: "forward",
    constants: { ...shape, ...unroll(tile, g, epi.pool, packed, vec) },
    buffers: [
      xp ? xp.buffer : x.buffer,
      wt.buf,
      bias ? bias.buffer : wt.buf, // (unread without a bias; the placeholder may be bound to IDX)
      y.buffer,
      idx ? idx.buffer : placeholderBuffer(),
    ],
    params: { tiles_m: tilesM, tiles_n: tilesN, slope: epi.slope },
    invocations: tilesM * tilesN,
    // the multiply-adds of the outputs kept (with a pool: of every window); x and the weights
    // read once, y (and idx) written once
    cost: {
      flops: 2 * N * Cout * K * (epi.pool ? 4 * PH * PW : OH * OW),
      bytes: 4 * (x.size + weight.size + (bias ? Cout : 0) + N * Cout * PH * PW * (idx ? 2 : 1)),
    },
  });
  wt.temp?.dispose();
  xp?.dispose();
  return { y, idx };
}

function zerosFlat(size: number): Tensor {
  const t = empty([size]);
  launchFill(t, 0);
  return t;
}

/**
 * Two convolutions with their epilogues (inference: no winners) as a chain: the first's epilogue
 * writes its output straight into the second's packed input (its pack pass skipped, and with a
 * whole pooled row per tile, as vec4 stores), which the second reads as if packed. The output of
 * the second (as `convGemm`'s y); null when the chain does not apply: the first's output is not
 * the second's input shape, the second would not read its input packed (it would not fit one
 * binding), or the first's output is empty. The intermediate never exists as a tensor, and the
 * first conv computes only the part of it the second reads. `tile1`: the first's register tile
 * (tests force one).
 */
export function convGemmChain(
  x: Tensor,
  first: { weight: Tensor; bias: Tensor | null; g: ConvGeometry; epi: ConvEpilogue },
  second: { weight: Tensor; bias: Tensor | null; g: ConvGeometry; epi: ConvEpilogue },
  tile1?: ConvTile,
): Tensor | null {
  const g2 = second.g;
  let g1 = first.g;
  const PH = first.epi.pool ? Math.floor(g1.OH / 2) : g1.OH,
    PW = first.epi.pool ? Math.floor(g1.OW / 2) : g1.OW;
  if (g2.N !== g1.N || g2.C !== g1.Cout || g2.H !== PH || g2.W !== PW || g1.N * g1.Cout * PH * PW === 0) {
    return null;
  }
  if (first.epi.winners || second.epi.winners) return null;
  const tile2 = convTile(g2, second.epi.pool);
  const layout = packedLayout(g2, second.epi.pool, tile2);
  if (layout.size * 4 > device().limits.maxStorageBufferBindingSize) return null;
  // the first conv computes only the outputs the second reads: the rows before its packed rows
  // end, the columns before its last block's end (seed-CNN conv1: 12×12 of 13×13 pooled, -15%)
  const rows = Math.min(PH, layout.HP - g2.pad);
  const cols = Math.min(PW, (layout.tilesW - 1) * tile2.TW * g2.stride + layout.NCOLS - g2.pad);
  const P = first.epi.pool ? 2 : 1;
  g1 = { ...g1, OH: rows * P, OW: cols * P };
  tile1 ??= convTile(g1, first.epi.pool);
  const { y: xp } = convGemm(x, first.weight, first.bias, g1, first.epi, tile1, true, {
    next: { g: g2, layout },
  });
  const { y } = convGemm(xp, second.weight, second.bias, g2, second.epi, tile2, true, { prepacked: true });
  xp.dispose();
  return y;
}

/**
 * The epilogue alone over a written-out convolution output z [N, C, OH, OW]: activation then
 * 2×2 stride-2 max pool; returns the pooled output and the winners' codes.
 */
export function actPool(z: Tensor, activation: ConvActivation, slope: number): { y: Tensor; idx: Tensor } {
  const [N, C, OH, OW] = z.shape;
  const PH = Math.floor(OH / 2), PW = Math.floor(OW / 2);
  const y = empty([N, C, PH, PW]);
  const idx = empty([N, C, PH, PW], "int32");
  if (y.size > 0) {
    dispatch({
      shader: "conv_act_pool",
      entry: "act_pool",
      constants: {
        WHAT: `fused ${activation === "none" ? "" : activation + " + "}maxPool2d(2, 2)`,
        ACT: ACT_CODE[activation],
      },
      buffers: [z.buffer, idx.buffer, y.buffer],
      params: { OH, OW, PH, PW, total: y.size, slope },
      invocations: y.size,
      cost: { bytes: 4 * (4 * y.size + 2 * y.size) },
    });
  }
  return { y, idx };
}

/** The gradient of `actPool`'s output dy [N, C, PH, PW] as the gradient of its input [N, C, OH, OW]. */
export function actPoolBackward(
  dy: Tensor,
  idx: Tensor,
  zShape: readonly number[],
  activation: ConvActivation,
  slope: number,
): Tensor {
  const [, , OH, OW] = zShape;
  const [, , PH, PW] = dy.shape;
  const dz = empty(zShape);
  if (dz.size > 0) {
    dispatch({
      shader: "conv_act_pool",
      entry: "act_pool_bwd",
      constants: {
        WHAT: `the backward pass of ${activation === "none" ? "" : activation + " + "}maxPool2d(2, 2)`,
        ACT: ACT_CODE[activation],
      },
      buffers: [dy.buffer, idx.buffer, dz.buffer],
      params: { OH, OW, PH, PW, total: dz.size, slope },
      invocations: dz.size,
      cost: { bytes: 4 * (dz.size + 2 * dy.size) },
    });
  }
  return dz;
}
