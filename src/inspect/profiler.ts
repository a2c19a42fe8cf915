/**
 * A profiler people can read: which kernels a piece of work launched, how often, for how long,
 * and how fast they went (GB/s, GFLOP/s), as a table sorted by time and as a Chrome trace
 * (Trace Event Format) that Perfetto and chrome://tracing open.
 *
 * `profile(fn)` runs `fn` in the engine's profiling mode (src/gpu/queue.ts): every dispatch is
 * recorded with its kernel and timed, by GPU timestamp queries when the device offers
 * "timestamp-query", else by submitting each dispatch alone and noting when the GPU reports it
 * done ("submit-wait"; it includes the submit's overhead). The numbers `fn` computes are the same.
 */
import { adapterInfo } from "../gpu/device.ts";
import {
  flush,
  type KernelEvent,
  type ProfileClock,
  queueStats,
  startProfiling,
  stopProfiling,
} from "../gpu/queue.ts";
import { randn } from "../tensor/create.ts";
import { mul } from "../tensor/ops/elementwise.ts";
import { matmul } from "../tensor/ops/matmul.ts";
import { rooflineSvg } from "../viz/roofline.ts";

export type { KernelEvent, ProfileClock, ProfiledBuffer } from "../gpu/queue.ts";

/** One kernel (shader, entry point and short constants) summed over its launches. */
export interface KernelRow {
  /** "shader:entry [constants]", e.g. "unary:main [APPLY=…, OP=exp(x), T=f32]". */
  kernel: string;
  /** How many times it was launched. */
  dispatches: number;
  /** GPU time over all its launches, ms. */
  totalMs: number;
  /** Mean time per launch, ms. */
  meanMs: number;
  /** Bytes moved over all launches (see `KernelEvent.bytes` for how they are counted). */
  bytes: number;
  /** "launcher" when every launch's launcher counted its bytes, else "buffers" (sizes of the bound buffers). */
  bytesFrom: "launcher" | "buffers";
  /** Floating-point operations over all launches, when the launcher says (matmul: 2·M·N·K). */
  flops?: number;
  /** Achieved bandwidth, bytes / time, in GB/s (10⁹ bytes per second). */
  gbPerS: number;
  /** Achieved arithmetic rate, flops / time, in GFLOP/s; undefined without flops. */
  gflopPerS?: number;
}

/** What `profile` returns. */
export interface KernelProfile<T = unknown> {
  /** What `fn` returned. */
  result: T;
  /** Which clock timed the kernels. */
  clock: ProfileClock;
  /** The adapter's description. */
  adapter: string;
  /** Host wall time of the whole call, ms (includes the profiling's own waits). */
  wallMs: number;
  /** GPU time summed over every launch, ms. */
  kernelMs: number;
  /** Per kernel, the most time first. */
  rows: KernelRow[];
  /** Every launch in order. */
  events: KernelEvent[];
  /** How many readbacks (data copied back to the CPU) the call made. */
  readbacks?: number;
  /** How many times it waited for a readback: readbacks begun while others were in flight wait with them. */
  readbackWaits?: number;
}

/** Options of `profile`. */
export interface ProfileOptions {
  /** Force a clock (default: "timestamp-query" when the device has it, else "submit-wait"). */
  clock?: ProfileClock;
}

/** The table key of a launch: shader, entry point and its short constants. */
export function kernelName(e: Pick<KernelEvent, "shader" | "entry" | "constants">): string {
  return `${e.shader}:${e.entry}${e.constants ? ` [${e.constants}]` : ""}`;
}

/** Sums launches per kernel, the most time first. */
export function kernelRows(events: readonly KernelEvent[]): KernelRow[] {
  const by = new Map<string, KernelEvent[]>();
  for (const e of events) {
    const k = kernelName(e);
    by.set(k, [...(by.get(k) ?? []), e]);
  }
  const rows: KernelRow[] = [];
  for (const [kernel, list] of by) {
    const totalMs = list.reduce((s, e) => s + e.durationMs, 0);
    const bytes = list.reduce((s, e) => s + e.bytes, 0);
    const hasFlops = list.every((e) => e.flops !== undefined);
    const flops = hasFlops ? list.reduce((s, e) => s + e.flops!, 0) : undefined;
    const sec = totalMs / 1e3;
    rows.push({
      kernel,
      dispatches: list.length,
      totalMs,
      meanMs: totalMs / list.length,
      bytes,
      bytesFrom: list.every((e) => e.bytesFrom === "launcher") ? "launcher" : "buffers",
      flops,
      gbPerS: sec > 0 ? bytes / sec / 1e9 : 0,
      gflopPerS: flops === undefined ? undefined : sec > 0 ? flops / sec / 1e9 : 0,
    });
  }
  return rows.sort((a, b) => b.totalMs - a.totalMs || a.kernel.localeCompare(b.kernel));
}

/**
 * Runs `fn` with every GPU kernel launch recorded and timed; returns its result with a table of
 * kernels (sorted by time) and every launch. Calls do not nest.
 *
 * @example
 * ```ts
 * import { matmul, profile, randn } from "glassbox";
 * const a = randn([64, 32]), b = randn([32, 16]);
 * const p = await profile(() => matmul(a, b).toArray());
 * const mm = p.rows.find((r) => r.kernel.startsWith("matmul"))!;
 * if (mm.dispatches !== 1 || mm.flops !== 2 * 64 * 16 * 32) throw new Error("unexpected profile");
 * ```
 */
export async function profile<T>(
  fn: () => T | Promise<T>,
  options: ProfileOptions = {},
): Promise<KernelProfile<T>> {
  const t0 = performance.now();
  const readbacks0 = queueStats.readbacks, waits0 = queueStats.readbackWaits;
  const clock = startProfiling(options.clock);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    // fn's error is the one to report; profiling mode ends either way
    await stopProfiling().catch(() => {});
    throw e;
  }
  const events = await stopProfiling();
  const wallMs = performance.now() - t0;
  return {
    result,
    clock,
    adapter: adapterInfo().description,
    wallMs,
    kernelMs: events.reduce((s, e) => s + e.durationMs, 0),
    rows: kernelRows(events),
    events,
    readbacks: queueStats.readbacks - readbacks0,
    readbackWaits: queueStats.readbackWaits - waits0,
  };
}

const fmtBytes = (b: number) =>
  b >= 1e9
    ? `${(b / 1e9).toFixed(2)} GB`
    : b >= 1e6
    ? `${(b / 1e6).toFixed(2)} MB`
    : `${(b / 1e3).toFixed(1)} kB`;

/** A kernel key's parts: "shader:entry" and its "NAME=value" constants (values may hold ", "). */
function splitKernel(kernel: string): { base: string; constants: string[] } {
  const m = /^([^ ]+) \[(.*)\]$/.exec(kernel);
  return m
    ? { base: m[1], constants: m[2].split(/, (?=[A-Za-z_][A-Za-z0-9_]*=)/) }
    : { base: kernel, constants: [] };
}

/**
 * The table's names: where several rows share a shader and entry point, the constants that tell
 * them apart come first (a long name is cut to the column's width, and rows cut before their
 * difference would read alike).
 */
function displayNames(rows: KernelRow[]): string[] {
  const parts = rows.map((r) => splitKernel(r.kernel));
  const groups = new Map<string, string[][]>();
  for (const x of parts) groups.set(x.base, [...(groups.get(x.base) ?? []), x.constants]);
  return parts.map(({ base, constants }) => {
    const all = groups.get(base)!;
    if (all.length < 2) return constants.length ? `${base} [${constants.join(", ")}]` : base;
    const differs = (c: string) => all.some((cs) => !cs.includes(c));
    const ordered = [...constants.filter(differs), ...constants.filter((c) => !differs(c))];
    return `${base} [${ordered.join(", ")}]`;
  });
}

/**
 * The profile as a plain-text table, the most time first, with a header saying which clock timed
 * it and how bytes are counted. Rows of one shader and entry point list the constants that
 * differ between them first.
 *
 * @example
 * ```ts
 * import { formatProfile, profile, randn, relu } from "glassbox";
 * const p = await profile(() => relu(randn([1000])).toArray());
 * const text = formatProfile(p);
 * if (!text.includes("unary:main")) throw new Error("the relu kernel is missing");
 * ```
 */
export function formatProfile(
  p: KernelProfile,
  options: { maxRows?: number; kernelWidth?: number } = {},
): string {
  const width = options.kernelWidth ?? 56;
  const rows = p.rows.slice(0, options.maxRows ?? p.rows.length);
  const cut = (s: string) => (s.length > width ? s.slice(0, width - 1) + "…" : s.padEnd(width));
  const head = `${"kernel".padEnd(width)} ${"calls".padStart(6)} ${"total ms".padStart(9)} ${
    "mean ms".padStart(8)
  } ${"share".padStart(6)} ${"bytes".padStart(10)} ${"GB/s".padStart(7)} ${"GFLOP/s".padStart(8)}`;
  const names = displayNames(rows);
  const lines = rows.map((r, i) =>
    `${cut(names[i])} ${String(r.dispatches).padStart(6)} ${r.totalMs.toFixed(3).padStart(9)} ${
      r.meanMs.toFixed(3).padStart(8)
    } ${(p.kernelMs > 0 ? (100 * r.totalMs / p.kernelMs).toFixed(1) + "%" : "-").padStart(6)} ${
      (fmtBytes(r.bytes) + (r.bytesFrom === "buffers" ? "*" : "")).padStart(10)
    } ${r.gbPerS.toFixed(2).padStart(7)} ${
      (r.gflopPerS === undefined ? "-" : r.gflopPerS.toFixed(2)).padStart(8)
    }`
  );
  const clock = p.clock === "timestamp-query"
    ? "GPU timestamp queries around each compute pass"
    : "host time: each dispatch submitted alone, timed until the GPU reported it done (includes submit overhead)";
  return [
    `${p.events.length} kernel launches, ${p.kernelMs.toFixed(3)} ms of kernel time, ${
      p.wallMs.toFixed(1)
    } ms wall (profiling mode) on ${p.adapter || "an unnamed adapter"}`,
    `clock: ${clock}`,
    `bytes: counted by the launcher, each element read or written once (matmul: A and B read once, C written once); * = every bound buffer counted once at its allocated size`,
    head,
    ...lines,
    ...(rows.length < p.rows.length ? [`… ${p.rows.length - rows.length} more kernels`] : []),
  ].join("\n");
}

/** One event of the Trace Event Format (the "complete" kind, ph "X", or metadata, ph "M"). */
export interface TraceEvent {
  /** The kernel ("shader:entry"), or the metadata's name ("process_name", "thread_name"). */
  name: string;
  /** Category ("kernel"). */
  cat?: string;
  /** Phase: "X" a complete event (start and duration), "M" metadata. */
  ph: "X" | "M";
  /** Start, µs. */
  ts?: number;
  /** Duration, µs. */
  dur?: number;
  /** Process id (1: glassbox). */
  pid: number;
  /** Thread id (1: the GPU queue). */
  tid: number;
  /** Details shown when the event is selected. */
  args?: Record<string, unknown>;
}

/** A Chrome trace (JSON object form of the Trace Event Format). */
export interface ChromeTrace {
  /** The events. */
  traceEvents: TraceEvent[];
  /** The unit the viewer shows times in. */
  displayTimeUnit: "ms" | "ns";
  /** Shown as the trace's metadata: the clock and the adapter. */
  otherData: Record<string, string>;
}

/**
 * The profile as a Chrome trace (Trace Event Format, JSON object form): one complete event
 * ("X") per kernel launch on one track, times in µs on the profiling clock (its origin is the
 * clock's own: the GPU's for timestamp queries, the page's for host time), the kernel's details in
 * `args`. Perfetto (ui.perfetto.dev) and chrome://tracing open it.
 *
 * @example
 * ```ts
 * import { chromeTrace, profile, randn, relu } from "glassbox";
 * const p = await profile(() => relu(randn([1000])).toArray());
 * const t = chromeTrace(p);
 * if (t.traceEvents.filter((e) => e.ph === "X").length !== p.events.length) throw new Error("events lost");
 * ```
 */
export function chromeTrace(p: KernelProfile): ChromeTrace {
  const us = (ms: number) => Math.round(ms * 1e6) / 1e3; // ns resolution, in µs
  return {
    traceEvents: [
      { name: "process_name", ph: "M", pid: 1, tid: 1, args: { name: `glassbox (${p.adapter})` } },
      { name: "thread_name", ph: "M", pid: 1, tid: 1, args: { name: `GPU queue (${p.clock})` } },
      ...p.events.map((e): TraceEvent => ({
        name: `${e.shader}:${e.entry}`,
        cat: "kernel",
        ph: "X",
        ts: us(e.startMs),
        dur: us(e.durationMs),
        pid: 1,
        tid: 1,
        args: {
          constants: e.constants,
          workgroups: e.workgroups.join("×"),
          ...(e.invocations !== undefined ? { invocations: e.invocations } : {}),
          bytes: e.bytes,
          bytesFrom: e.bytesFrom,
          ...(e.flops !== undefined ? { flops: e.flops } : {}),
          buffers: e.buffers.map((b) => `${b.bytes} B ${b.access}`).join(", "),
        },
      })),
    ],
    displayTimeUnit: "ms",
    otherData: { clock: p.clock, adapter: p.adapter },
  };
}

const REPEATS = 5;

/** What the adapter can do at best, measured: the memory and the arithmetic ceilings. */
export interface Ceilings {
  /** A copy kernel's GB/s (bytes read + written, best of its runs). */
  gbPerS: number;
  /** The best matmul's GFLOP/s (best of its sizes and runs). */
  gflopPerS: number;
  /** How they were measured. */
  how: string;
}

/**
 * Measures the ceilings a roofline needs: the memory bandwidth of a copy kernel (y = x·1 over
 * 16M floats: 64 MB read, 64 MB written) and the best matmul rate (square matmuls of 256, 512
 * and 1024), each the best of 5 timed runs after a warm-up. Takes a few seconds on a CPU adapter.
 * `copyElements` and `matmulSizes` change what is measured.
 *
 * @example
 * ```ts
 * import { measureCeilings } from "glassbox";
 * // small sizes for a quick look (the defaults take a few seconds on a CPU adapter)
 * const c = await measureCeilings({ copyElements: 1 << 16, matmulSizes: [64] });
 * if (!(c.gbPerS > 0 && c.gflopPerS > 0)) throw new Error("ceilings must be positive");
 * ```
 */
export async function measureCeilings(
  options: { copyElements?: number; matmulSizes?: number[] } = {},
): Promise<Ceilings> {
  const n = options.copyElements ?? 1 << 24;
  const sizes = options.matmulSizes ?? [256, 512, 1024];
  const best = (p: KernelProfile, shader: string) => {
    const ms = p.events.filter((e) => e.shader === shader).map((e) => e.durationMs);
    if (ms.length === 0) throw new Error(`measureCeilings: no ${shader} kernel ran`);
    return Math.min(...ms);
  };
  const x = randn([n]);
  let gbPerS = 0;
  try {
    // flushed while y is alive: an elementwise result disposed before its pending chain runs is
    // never computed (src/tensor/fusion.ts), and nothing would be timed
    const copy = () => {
      const y = mul(x, 1);
      flush();
      y.dispose();
    };
    copy();
    const p = await profile(() => {
      for (let r = 0; r < REPEATS; r++) copy();
    });
    gbPerS = (2 * 4 * n) / (best(p, "unary") / 1e3) / 1e9;
  } finally {
    x.dispose();
  }
  let gflopPerS = 0;
  for (const s of sizes) {
    const a = randn([s, s]), b = randn([s, s]);
    try {
      const mm = () => matmul(a, b).dispose();
      mm();
      const p = await profile(() => {
        for (let r = 0; r < REPEATS; r++) mm();
      });
      gflopPerS = Math.max(gflopPerS, (2 * s * s * s) / (best(p, "matmul") / 1e3) / 1e9);
    } finally {
      a.dispose();
      b.dispose();
    }
  }
  return {
    gbPerS,
    gflopPerS,
    how:
      `memory: a copy kernel (y = x·1) over ${n} floats, best of ${REPEATS}; arithmetic: the best square matmul of ${
        sizes.join(", ")
      }, best of ${REPEATS} each`,
  };
}

/**
 * The profile's kernels on a roofline against measured ceilings (SVG): the kernels whose launcher
 * counts flops (matmul, and so Linear and Conv2d); the others are listed in the table only. `what`
 * (a sentence on what ran) goes into the notes under the plot.
 *
 * @example
 * ```ts
 * import { matmul, profile, randn, rooflineOf } from "glassbox";
 * const a = randn([64, 32]), b = randn([32, 16]);
 * const p = await profile(() => matmul(a, b).toArray());
 * const svg = rooflineOf(p, { gbPerS: 10, gflopPerS: 50, how: "assumed" });
 * if ((svg.match(/<circle/g) ?? []).length !== 2) throw new Error("one point and its list entry");
 * ```
 */
export function rooflineOf(p: KernelProfile, ceilings: Ceilings, title = "Roofline", what?: string): string {
  const withFlops = p.rows.filter((r) => r.flops !== undefined && r.flops > 0 && r.bytes > 0);
  const without = p.rows.length - withFlops.length;
  const roof = (i: number) => Math.min(ceilings.gflopPerS, ceilings.gbPerS * i);
  const above = withFlops.filter((r) => r.gflopPerS! > roof(r.flops! / r.bytes));
  return rooflineSvg(
    withFlops.map((r) => ({
      name: r.kernel,
      intensity: r.flops! / r.bytes,
      gflopPerS: r.gflopPerS!,
      share: p.kernelMs > 0 ? r.totalMs / p.kernelMs : undefined,
    })),
    {
      title,
      gbPerS: ceilings.gbPerS,
      gflopPerS: ceilings.gflopPerS,
      notes: [
        ...(what ? [`Profiled: ${what}.`] : []),
        "Each point is a kernel: how many flops it does per byte it moves, and how fast it ran. The line is the roof:",
        "no kernel can be above the memory slope (left) or the peak (right). Far below the roof = neither limit is reached.",
        `Ceilings measured on ${p.adapter || "this adapter"}: ${ceilings.how}.`,
        `${without} kernel${
          without === 1 ? "" : "s"
        } without a flop count (copies, elementwise, reductions) are in the table only.`,
        ...(above.length
          ? [
            `${above.length} kernel${
              above.length === 1 ? " is" : "s are"
            } above the roof: the ceilings were measured low ` +
            "(another program using the machine at the time, or a kernel faster than the ones measured); measure again.",
          ]
          : []),
      ],
    },
  );
}

/** What bounds a piece of work from below, and how far its measured time is from that bound. */
export interface WorkBound {
  /** Kernel launches. */
  launches: number;
  /** GPU time of its kernels, ms (from the profile). */
  kernelMs: number;
  /** Bytes its kernels moved. */
  bytes: number;
  /** Floating-point operations of its kernels (launches without a count add 0). */
  flops: number;
  /** Readbacks it made. */
  readbacks: number;
  /** Times it waited for readbacks (concurrent readbacks wait once): what the readback term counts. */
  readbackWaits: number;
  /** Whether some launch's bytes are its bound buffers' sizes (an over-count) rather than the launcher's. */
  bytesFromBuffers: boolean;
  /** The readback term: readback waits × the measured cost of one readback, ms. */
  floorMs: number;
  /** The memory term: Σ bytes / copy ceiling over the launches where that exceeds flops / matmul ceiling, ms. */
  memoryMs: number;
  /** The compute term: Σ flops / matmul ceiling over the other launches, ms. */
  computeMs: number;
  /** The lower bound: floorMs + memoryMs + computeMs. */
  boundMs: number;
  /** The measured wall time the bound is compared with, ms. */
  wallMs: number;
  /** Dispatch overhead: wall − kernel time − the readback term (0 when negative), ms. */
  overheadMs: number;
  /** The largest of the readback, memory, compute and dispatch-overhead terms. */
  dominant: "readback floor" | "memory" | "compute" | "dispatch overhead";
  /** wallMs / boundMs: how many times the bound the work took. */
  ratio: number;
  /** kernelMs / (memoryMs + computeMs): how many times their roofline time the kernels took. */
  kernelRatio: number;
}

/**
 * What bounds the profiled work from below on this adapter: the readbacks it waited for (readbacks
 * made together wait once; `readbackWaits`, else `readbacks`), each costing at least
 * `readbackFloorMs` (the measured time of a 4-element op and its readback), plus, per kernel
 * launch, the larger of its bytes over the copy ceiling and its flops over the matmul ceiling
 * (`measureCeilings`). Compared with `wallMs` (default: the profile's own wall time, which includes
 * profiling waits; pass the unprofiled time), the rest is dispatch overhead: wall − kernel time − the
 * readback term. `dominant` names the largest of the four terms.
 *
 * @example
 * ```ts
 * import { workBound } from "glassbox";
 * const launch = { bytes: 8e6, flops: 1e6, durationMs: 3 }; // 8 MB at 4 GB/s = 2 ms; 1 MFLOP at 10 GFLOP/s = 0.1 ms
 * const b = workBound({ events: [launch], kernelMs: 3, readbacks: 1 }, { gbPerS: 4, gflopPerS: 10 }, 0.5, 5);
 * if (b.boundMs !== 2.5 || b.dominant !== "memory" || b.ratio !== 2) throw new Error("unexpected bound");
 * ```
 */
export function workBound(
  p: {
    events: readonly { bytes: number; flops?: number; bytesFrom?: KernelEvent["bytesFrom"] }[];
    kernelMs: number;
    readbacks?: number;
    readbackWaits?: number;
    wallMs?: number;
  },
  ceilings: Pick<Ceilings, "gbPerS" | "gflopPerS">,
  readbackFloorMs: number,
  wallMs: number | undefined = p.wallMs,
): WorkBound {
  if (!(ceilings.gbPerS > 0 && ceilings.gflopPerS > 0)) {
    throw new Error(
      `workBound: the ceilings must be positive (got ${ceilings.gbPerS} GB/s, ${ceilings.gflopPerS} GFLOP/s)`,
    );
  }
  if (!(readbackFloorMs >= 0)) {
    throw new Error(`workBound: readbackFloorMs must be ≥ 0 (got ${readbackFloorMs})`);
  }
  if (wallMs === undefined || !(wallMs >= 0)) {
    throw new Error(`workBound: wallMs must be ≥ 0 (got ${wallMs})`);
  }
  const readbacks = p.readbacks ?? 0;
  const readbackWaits = p.readbackWaits ?? readbacks;
  let memoryMs = 0, computeMs = 0, bytes = 0, flops = 0;
  for (const e of p.events) {
    const mem = e.bytes / (ceilings.gbPerS * 1e6); // GB/s = 1e6 bytes per ms
    const cmp = (e.flops ?? 0) / (ceilings.gflopPerS * 1e6);
    if (mem >= cmp) memoryMs += mem;
    else computeMs += cmp;
    bytes += e.bytes;
    flops += e.flops ?? 0;
  }
  const floorMs = readbackWaits * readbackFloorMs;
  const boundMs = floorMs + memoryMs + computeMs;
  const overheadMs = Math.max(0, wallMs - p.kernelMs - floorMs);
  const terms = [
    ["readback floor", floorMs],
    ["memory", memoryMs],
    ["compute", computeMs],
    ["dispatch overhead", overheadMs],
  ] as const;
  const dominant = terms.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  return {
    launches: p.events.length,
    kernelMs: p.kernelMs,
    bytes,
    flops,
    readbacks,
    readbackWaits,
    bytesFromBuffers: p.events.some((e) => e.bytesFrom === "buffers"),
    floorMs,
    memoryMs,
    computeMs,
    boundMs,
    wallMs,
    overheadMs,
    dominant,
    ratio: wallMs / boundMs,
    kernelRatio: p.kernelMs / (memoryMs + computeMs),
  };
}
