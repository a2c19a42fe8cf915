/**
 * Batched tensor statistics on the GPU (shaders/stats.wgsl).
 *
 * A record is a set of tensors captured at one moment (a training step). Each tensor is copied
 * into a staging buffer (a buffer-to-buffer copy, no kernel), three kernels reduce all of them
 * at once, and the results accumulate on the GPU until `read()`: one readback for many steps
 * and many tensors.
 */
import { device } from "../gpu/device.ts";
import { acquireBuffer, placeholderBuffer, releaseBuffer } from "../gpu/pool.ts";
import { copyBuffer, dispatch, readBuffer } from "../gpu/queue.ts";
import { KERNEL_SPECS } from "../gpu/kernel_specs.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** Statistics of one tensor at one step. */
export interface TensorStats {
  /** What the tensor is, e.g. "grad:0.weight". */
  key: string;
  /** Finite elements counted. */
  count: number;
  /** Mean of the finite elements. */
  mean: number;
  /** Population standard deviation of the finite elements (computed stably). */
  std: number;
  /** L2 norm of the finite elements. */
  norm: number;
  /** Smallest finite element. */
  min: number;
  /** Largest finite element. */
  max: number;
  /** Largest |x|. */
  maxAbs: number;
  /** Mean |x|. */
  meanAbs: number;
  /** NaN and ±Inf elements. */
  nonFinite: number;
  /** Fraction of elements exactly 0. */
  zeroFraction: number;
  /** Fraction of elements with |x - center| >= threshold (saturation of sigmoid/tanh). */
  saturatedFraction: number;
  /**
   * Histogram counts over `bins` equal bins from min to max (empty when not computed for this
   * record). Bin k holds edge_k <= x < edge_k+1 (the last also x = max), with the float32 edges
   * `histogramEdges(min, max, bins)`.
   */
  histogram: number[];
}

/** Optional saturation test for a tensor: counts |x - center| >= threshold. */
export interface Saturation {
  /** The value saturation is measured from (0.5 for sigmoid, 0 for tanh). */
  center: number;
  /** |x - center| at or above this counts as saturated. */
  threshold: number;
}

const REC = 12;
const MAX_GROUPS_PER_SEGMENT = 64;
const ELEMENTS_PER_GROUP = 32768;

/** Statistics under a key of any type (the tracker's keys are structured). */
export type KeyedStats<K> = Omit<TensorStats, "key"> & { key: K };

interface Segment<K> {
  key: K;
  offset: number;
  length: number;
  sat: Saturation;
}

/** One record in flight: its segments and where its results are in the ring. */
interface PendingRecord<K> {
  tag: number;
  segments: Segment<K>[];
  outBase: number;
  histBase: number;
}

/**
 * Collects tensors step by step and reduces them on the GPU; `read()` brings results back.
 * `K` is the type of the key each tensor is added under.
 */
export class StatsBatch<K = string> {
  /** Histogram bins per tensor. */
  readonly bins: number;
  #data: [GPUBuffer | null, GPUBuffer | null] = [null, null];
  #dataBytes = [0, 0];
  #flip = 0;
  #current: Segment<K>[] | null = null;
  #currentTag = 0;
  #segBuf: GPUBuffer | null = null;
  #segKey = "";
  #part: GPUBuffer | null = null;
  #out: GPUBuffer | null = null;
  #hist: GPUBuffer | null = null;
  #outUsed = 0;
  #histUsed = 0;
  #outCap = 0;
  #histCap = 0;
  #pending: PendingRecord<K>[] = [];

  /** A batch with `bins` histogram bins per tensor (1 to 64). */
  constructor(bins = 30) {
    if (bins < 1 || bins > 64) throw new Error(`StatsBatch: bins must be 1..64, got ${bins}`);
    this.bins = bins;
  }

  /** Starts a record (tagged, e.g. with the step number). */
  begin(tag: number): void {
    if (this.#current) this.end();
    this.#current = [];
    this.#currentTag = tag;
  }

  /** Whether a record is open. */
  get open(): boolean {
    return this.#current !== null;
  }

  /**
   * Adds a tensor to the open record (a GPU copy; the tensor may be freed right after). With
   * `limit`, only the first `limit` elements are counted (e.g. the first samples of a batch).
   */
  add(key: K, t: Tensor, sat: Saturation = { center: 0, threshold: Infinity }, limit = Infinity): void {
    const cur = this.#current;
    if (!cur) throw new Error("StatsBatch.add: call begin() first");
    if (t.dtype !== "float32" || t.size === 0) return;
    const n = Math.min(t.size, limit);
    // segments start at multiples of 4 floats: the kernels read vec4
    const offset = cur.length
      ? Math.ceil((cur[cur.length - 1].offset + cur[cur.length - 1].length) / 4) * 4
      : 0;
    cur.push({ key, offset, length: n, sat });
    const need = (offset + n) * 4;
    const f = this.#flip;
    if (!this.#data[f] || this.#dataBytes[f] < need) {
      // grow: keep what this record already copied
      const bigger = acquireBuffer(Math.max(need + (need >> 2), 1 << 16));
      if (this.#data[f] && offset > 0) copyBuffer(this.#data[f]!, 0, bigger, 0, offset * 4);
      if (this.#data[f]) releaseBuffer(this.#data[f]!);
      this.#data[f] = bigger;
      this.#dataBytes[f] = bigger.size;
    }
    copyBuffer(t.buffer, 0, this.#data[f]!, offset * 4, n * 4);
  }

  /**
   * Adds `t[i] - prev[prevOffset + i]` for several tensors at once (one kernel): e.g. each
   * parameter's update, given copies of the old values laid out end to end in `prev`.
   */
  addDeltas(items: { key: K; t: Tensor; prevOffset: number }[], prev: GPUBuffer): void {
    const cur = this.#current;
    if (!cur) throw new Error("StatsBatch.addDeltas: call begin() first");
    if (items.length === 0) return;
    const first = cur.length;
    for (const it of items) this.add(it.key, it.t);
    // one dispatch per run of items whose old values are also consecutive in `prev`
    let i = 0;
    while (i < items.length) {
      let j = i + 1;
      // consecutive in `prev` and in the staging buffer (segments are padded to 4 floats)
      while (
        j < items.length && items[j].prevOffset === items[j - 1].prevOffset + items[j - 1].t.size &&
        cur[first + j].offset === cur[first + j - 1].offset + cur[first + j - 1].length
      ) j++;
      const a = cur[first + i], b = cur[first + j - 1];
      const n = b.offset + b.length - a.offset;
      dispatch({
        shader: "track",
        entry: "delta",
        buffers: [prev, this.#data[this.#flip]!, placeholderBuffer()],
        params: { n, dst_off: a.offset, src_off: items[i].prevOffset, N: 0, U: 0, S: 0, unit_off: 0 },
        invocations: n,
      });
      i = j;
    }
  }

  /** Closes the open record and records the reduction kernels (no readback); histograms optional. */
  end(histograms = true): void {
    const segs = this.#current;
    this.#current = null;
    if (!segs || segs.length === 0) return;
    const f = this.#flip;
    this.#flip = 1 - f;
    // segment table (uploaded only when the layout changes)
    let groups = 0;
    const table = new Uint32Array(segs.length * 8);
    const fv = new Float32Array(table.buffer);
    segs.forEach((s, i) => {
      const g = Math.min(MAX_GROUPS_PER_SEGMENT, Math.max(1, Math.ceil(s.length / ELEMENTS_PER_GROUP)));
      table.set([s.offset, s.length, groups, g], i * 8);
      fv[i * 8 + 4] = s.sat.center;
      fv[i * 8 + 5] = Math.min(s.sat.threshold, 3.4e38);
      groups += g;
    });
    const key = Array.from(table).join(",");
    const dev = device();
    if (key !== this.#segKey) {
      if (this.#segBuf) releaseBuffer(this.#segBuf);
      this.#segBuf = acquireBuffer(table.byteLength, true);
      dev.queue.writeBuffer(this.#segBuf, 0, table);
      this.#segKey = key;
    }
    const wg = KERNEL_SPECS.stats.workgroup.partial;
    if (!this.#part || this.#part.size < groups * wg * REC * 4) {
      if (this.#part) releaseBuffer(this.#part);
      this.#part = acquireBuffer(groups * wg * REC * 4); // one partial record per invocation
    }
    const histWords = histograms ? segs.length * this.bins : 0;
    this.#ensureRing(segs.length * REC, histWords);
    const rec: PendingRecord<K> = {
      tag: this.#currentTag,
      segments: segs,
      outBase: this.#outUsed,
      histBase: histograms ? this.#histUsed : -1,
    };
    this.#outUsed += segs.length * REC;
    this.#histUsed += histWords;
    const buffers = [this.#data[f]!, this.#segBuf!, this.#part!, this.#out!, this.#hist!];
    const params = {
      nseg: segs.length,
      ngroups: groups,
      bins: this.bins,
      out_base: rec.outBase,
      hist_base: Math.max(0, rec.histBase),
    };
    dispatch({ shader: "stats", entry: "partial", buffers, params, workgroups: [groups] });
    dispatch({
      shader: "stats",
      entry: "finalize",
      buffers,
      params,
      invocations: segs.length,
    });
    if (histograms) dispatch({ shader: "stats", entry: "histogram", buffers, params, workgroups: [groups] });
    this.#pending.push(rec);
  }

  #ensureRing(outFloats: number, histWords: number): void {
    if (
      this.#out && this.#outUsed + outFloats <= this.#outCap && this.#histUsed + histWords <= this.#histCap
    ) return;
    const outCap = Math.max(this.#outCap * 2, (this.#outUsed + outFloats) * 2, 4096);
    const histCap = Math.max(this.#histCap * 2, (this.#histUsed + histWords) * 2, 4096);
    const out = acquireBuffer(outCap * 4);
    const hist = acquireBuffer(histCap * 4, true); // zeroed by writeBuffer: must not be in use
    device().queue.writeBuffer(hist, 0, new Uint32Array(histCap));
    if (this.#out && this.#outUsed) copyBuffer(this.#out, 0, out, 0, this.#outUsed * 4);
    if (this.#hist && this.#histUsed) copyBuffer(this.#hist, 0, hist, 0, this.#histUsed * 4);
    if (this.#out) releaseBuffer(this.#out);
    if (this.#hist) releaseBuffer(this.#hist);
    this.#out = out;
    this.#hist = hist;
    this.#outCap = outCap;
    this.#histCap = histCap;
  }

  /** Number of records waiting to be read. */
  get pending(): number {
    return this.#pending.length + (this.#current?.length ? 1 : 0);
  }

  /**
   * Closes any open record, reads every pending record back (two readbacks in all), and
   * returns them in order with their tags.
   */
  async read(): Promise<{ tag: number; stats: KeyedStats<K>[] }[]> {
    if (this.#current) this.end();
    if (this.#pending.length === 0) return [];
    const recs = this.#pending.splice(0);
    const outUsed = this.#outUsed, histUsed = this.#histUsed;
    const [outBytes, histBytes] = await Promise.all([
      readBuffer(this.#out!, outUsed * 4),
      histUsed > 0 ? readBuffer(this.#hist!, histUsed * 4) : Promise.resolve(new ArrayBuffer(0)),
    ]);
    // reset the ring for the next records (zero the histogram counts)
    this.#outUsed = 0;
    this.#histUsed = 0;
    if (histUsed > 0) device().queue.writeBuffer(this.#hist!, 0, new Uint32Array(histUsed));
    const out = new Float32Array(outBytes);
    const words = new Uint32Array(outBytes);
    const hist = new Uint32Array(histBytes);
    return recs.map((r) => ({
      tag: r.tag,
      stats: r.segments.map((s, i) => {
        const o = r.outBase + i * REC;
        const n = words[o], nonFinite = words[o + 6], total = n + nonFinite;
        return {
          key: s.key,
          count: n,
          mean: n ? out[o + 1] : NaN,
          std: n ? Math.sqrt(Math.max(0, out[o + 2]) / n) : NaN,
          norm: Math.sqrt(out[o + 10]),
          min: n ? out[o + 3] : NaN,
          max: n ? out[o + 4] : NaN,
          maxAbs: n ? out[o + 5] : NaN,
          meanAbs: n ? out[o + 8] / n : NaN,
          nonFinite,
          zeroFraction: total ? words[o + 7] / total : 0,
          saturatedFraction: total ? words[o + 9] / total : 0,
          histogram: r.histBase < 0
            ? []
            : Array.from(hist.subarray(r.histBase + i * this.bins, r.histBase + (i + 1) * this.bins)),
        };
      }),
    }));
  }

  /** Frees the GPU buffers. */
  dispose(): void {
    for (const b of [...this.#data, this.#segBuf, this.#part, this.#out, this.#hist]) if (b) releaseBuffer(b);
    this.#data = [null, null];
    this.#segBuf =
      this.#part =
      this.#out =
      this.#hist =
        null;
    this.#pending = [];
  }
}

/**
 * The float32 bin edges of a histogram from `min` to `max` (bins + 1 values), exactly as the
 * GPU bins: edge_k = min + k·((max - min) / bins) in float32.
 *
 * @example
 * ```ts
 * import { histogramEdges } from "glassbox";
 * histogramEdges(0, 3, 3); // [0, 1, 2, 3]
 * ```
 */
export function histogramEdges(min: number, max: number, bins: number): number[] {
  const f = Math.fround;
  const width = f(f(max - min) / bins);
  return Array.from({ length: bins + 1 }, (_, k) => (k === bins ? max : f(min + f(k * width))));
}

/**
 * Statistics of tensors right now (one readback), e.g. for a weights table.
 *
 * @example
 * ```ts
 * import { randn, tensorStats } from "glassbox";
 * const [s] = await tensorStats({ w: randn([100, 100]) });
 * s.mean; s.std; s.histogram;
 * ```
 */
export async function tensorStats(tensors: Record<string, Tensor>, bins = 30): Promise<TensorStats[]> {
  const b = new StatsBatch(bins);
  b.begin(0);
  for (const [k, t] of Object.entries(tensors)) b.add(k, t);
  const [rec] = await b.read();
  b.dispose();
  return rec?.stats ?? [];
}
