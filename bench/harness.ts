/**
 * Timing helpers shared by the benchmarks: medians over repeated runs, repeat passes interleaving
 * glassbox and its peers (`--repeat`), row selection (`--only`), the tables, the seed CNN step, and
 * "What bounds each row" (each glassbox row profiled once after its timing).
 */
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
// deno-lint-ignore no-import-prefix
import { setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import * as gb from "../mod.ts";
import { seedCnn } from "../mod.ts";

/** One workload: glassbox (`ours`) against one other (`peer`), medians in ms. */
export interface Row {
  name: string;
  ours: number;
  peer: number;
  unit?: string;
  /** Every pass's times, when there were several (`--repeat`). */
  samples?: { ours: number[]; peer: number[] };
}

/** One workload timed on glassbox and on two peers, medians in ms. */
export interface Row2 {
  name: string;
  ours: number;
  webgpu: number;
  wasm: number;
  /** Every pass's times, when there were several (`--repeat`). */
  samples?: { ours: number[]; webgpu: number[]; wasm: number[] };
}

/** One glassbox workload's time, by name (NaN when `--only` left it out). */
export interface Timed {
  name: string;
  ms: number;
}

/**
 * The command line's settings for every bench file: `repeat` passes of each table (glassbox and its
 * peers interleaved), and `only` a substring: only the rows whose name contains it are timed.
 */
export const benchOptions: { repeat: number; only: string | null } = { repeat: 1, only: null };

/** The row names `wanted` has said yes to (so a run can tell that `--only` matched nothing). */
export const wantedRows = new Set<string>();

/** Whether the row `name` is timed (`--only`). */
export function wanted(name: string): boolean {
  const yes = benchOptions.only === null || name.includes(benchOptions.only);
  if (yes) wantedRows.add(name);
  return yes;
}

/** Whether this is the last repeat pass (the one whose glassbox rows are profiled after their timing). */
let lastPass = true;
/** During a peer's pass: which of its rows (its `time` calls, in order) are timed. */
let peerRows: { wanted: boolean[]; calls: number } | null = null;

/** Switches TensorFlow.js to `backend` (tfjs-wasm's .wasm files come from its npm package). */
export async function useTfBackend(backend: "wasm" | "webgpu"): Promise<void> {
  if (backend === "wasm") {
    setWasmPaths(new URL("./", import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0")).href);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend ${backend} is not available`);
  await tf.ready();
}

/** Median wall time (ms) of `run` after `warmup` untimed runs. `run` must include its readback. */
export async function time(run: () => Promise<unknown>, reps = 7, warmup = 2): Promise<number> {
  if (peerRows) {
    const i = peerRows.calls++;
    if (!peerRows.wanted[i]) return NaN;
  }
  for (let i = 0; i < warmup; i++) await run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/**
 * Times the glassbox row `name` (median of `reps` runs after `warmup`, as `time`) and then, on the
 * last repeat pass, runs it once more under the profiler for "What bounds each row" (unless
 * `bound` is false). A row `--only` leaves out is not run (NaN).
 */
export async function timeRow(
  name: string,
  run: () => Promise<unknown>,
  reps = 7,
  warmup = 2,
  options: { bound?: boolean } = {},
): Promise<Timed> {
  if (!wanted(name)) return { name, ms: NaN };
  const ms = await time(run, reps, warmup);
  if (lastPass && options.bound !== false) await profileRow(name, run);
  return { name, ms };
}

/** The median of the numbers that are not NaN (the mean of the middle two for an even count; NaN when none). */
function median(a: number[]): number {
  const s = a.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y), m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A peer's pass: `peer` calls `time` once per row, in the glassbox rows' order; rows not wanted give NaN. */
async function peerPass(
  backend: "wasm" | "webgpu",
  peer: () => Promise<number[]>,
  want: boolean[],
): Promise<number[]> {
  await useTfBackend(backend);
  const state = { wanted: want, calls: 0 };
  peerRows = state;
  let out: number[];
  try {
    out = await peer();
  } finally {
    peerRows = null;
  }
  if (out.length !== want.length || state.calls !== want.length) {
    throw new Error(
      `bench: the ${backend} peer made ${state.calls} time() calls and returned ${out.length} times for ` +
        `${want.length} glassbox rows (each row must be one time() call, in the glassbox rows' order)`,
    );
  }
  return out;
}

/**
 * Times workloads on glassbox (`ours`: rows with their names, timed with `timeRow`) and on
 * tfjs-webgpu and tfjs-wasm (`peer`, called once per backend: one `time` call per row, in the same
 * order), in `benchOptions.repeat` interleaved passes (glassbox first on even passes, last on odd
 * ones, so that the machine's slow drifts cancel): one row per wanted workload, with the median
 * times (and every pass's when there were several).
 */
export async function withTfPeers(
  ours: () => Promise<Timed[]>,
  peer: () => Promise<number[]>,
): Promise<Row2[]> {
  const n = benchOptions.repeat;
  const s: { ours: number[]; webgpu: number[]; wasm: number[] }[] = [];
  let names: string[] = [];
  for (let r = 0; r < n; r++) {
    const sides: ["ours" | "webgpu" | "wasm", () => Promise<number[]>][] = [
      ["ours", async () => {
        const rows = await ours();
        names = rows.map((x) => x.name);
        return rows.map((x) => x.ms);
      }],
      ["webgpu", () => peerPass("webgpu", peer, names.map(wanted))],
      ["wasm", () => peerPass("wasm", peer, names.map(wanted))],
    ];
    // glassbox first on the first pass: the peers need its row names
    if (r % 2 === 1) sides.reverse();
    lastPass = r === n - 1;
    try {
      for (const [side, f] of sides) {
        const times = await f();
        times.forEach((t, i) => (s[i] ??= { ours: [], webgpu: [], wasm: [] })[side].push(t));
        if (!names.some(wanted)) return [];
      }
    } finally {
      lastPass = true;
    }
  }
  const rows = names.flatMap((name, i) =>
    wanted(name)
      ? [{
        name,
        ours: median(s[i].ours),
        webgpu: median(s[i].webgpu),
        wasm: median(s[i].wasm),
        ...(n > 1 ? { samples: s[i] } : {}),
      }]
      : []
  );
  setWalls(rows);
  return rows;
}

/**
 * Glassbox against glassbox (`ours` against `other`: one kernel against another, say), both timed
 * with `timeRow` under the same names, in `benchOptions.repeat` interleaved passes: one row per
 * wanted name, `peer` being `other`'s median.
 */
export async function versus(ours: () => Promise<Timed[]>, other: () => Promise<Timed[]>): Promise<Row[]> {
  const n = benchOptions.repeat;
  const s: { ours: number[]; peer: number[] }[] = [];
  let names: string[] = [];
  for (let r = 0; r < n; r++) {
    let a: Timed[], b: Timed[];
    if (r % 2 === 0) {
      a = await ours();
      b = await other();
    } else {
      b = await other();
      a = await ours();
    }
    names = a.map((x) => x.name);
    a.forEach((x, i) => {
      (s[i] ??= { ours: [], peer: [] }).ours.push(x.ms);
      s[i].peer.push(b[i].ms);
    });
  }
  return names.flatMap((name, i) =>
    wanted(name)
      ? [{ name, ours: median(s[i].ours), peer: median(s[i].peer), ...(n > 1 ? { samples: s[i] } : {}) }]
      : []
  );
}

/** " 1.23×", or with several passes " 1.23× (1.10–1.40)": the ratio of the medians, and the range of the passes' ratios. */
function ratio(peer: number, ours: number, peers?: number[], ourss?: number[]): string {
  if (Number.isNaN(peer) || Number.isNaN(ours)) return "n/a";
  const main = `${(peer / ours).toFixed(2)}×`;
  if (!peers || !ourss || peers.length < 2) return main;
  const rs = peers.map((p, i) => p / ourss[i]).filter((x) => !Number.isNaN(x));
  return `${main} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
}

/** Prints a table with the peer's time, ours, and the speed-up (peer / ours). */
export function printTable(title: string, peerName: string, rows: Row[]): void {
  if (!rows.length) return;
  console.log(`\n${title}${repeatNote(rows[0].samples?.ours.length)}`);
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  const rw = rows.some((r) => r.samples) ? 20 : 8;
  console.log(
    `| ${"workload".padEnd(w)} | ${peerName.padStart(14)} | ${"glassbox".padStart(10)} | ${
      "speed-up".padStart(rw)
    } |`,
  );
  console.log(`| ${"-".repeat(w)} | ${"-".repeat(14)}:| ${"-".repeat(10)}:| ${"-".repeat(rw)}:|`);
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(w)} | ${(r.peer.toFixed(1) + " ms").padStart(14)} | ${
        (r.ours.toFixed(1) + " ms").padStart(10)
      } | ${ratio(r.peer, r.ours, r.samples?.peer, r.samples?.ours).padStart(rw)} |`,
    );
  }
}

/** The title's note on repeats. */
function repeatNote(passes: number | undefined): string {
  return passes && passes > 1
    ? ` — median of ${passes} interleaved passes; speed-ups: ratio of the medians (min–max over the passes)`
    : "";
}

/** Prints glassbox against TensorFlow.js's WebGPU and WASM backends, with both speed-ups. */
export function printTable2(title: string, rows: Row2[]): void {
  if (!rows.length) return;
  console.log(`\n${title}${repeatNote(rows[0].samples?.ours.length)}`);
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  const rw = rows.some((r) => r.samples) ? 20 : 9;
  const ms = (v: number) => (Number.isNaN(v) ? "n/a" : v.toFixed(1) + " ms").padStart(12);
  console.log(
    `| ${"workload".padEnd(w)} | ${"tfjs-webgpu".padStart(12)} | ${"tfjs-wasm".padStart(12)} | ${
      "glassbox".padStart(12)
    } | ${"vs webgpu".padStart(rw)} | ${"vs wasm".padStart(rw)} |`,
  );
  console.log(
    `| ${"-".repeat(w)} | ${"-".repeat(12)}:| ${"-".repeat(12)}:| ${"-".repeat(12)}:| ${"-".repeat(rw)}:| ${
      "-".repeat(rw)
    }:|`,
  );
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(w)} | ${ms(r.webgpu)} | ${ms(r.wasm)} | ${ms(r.ours)} | ${
        ratio(r.webgpu, r.ours, r.samples?.webgpu, r.samples?.ours).padStart(rw)
      } | ${ratio(r.wasm, r.ours, r.samples?.wasm, r.samples?.ours).padStart(rw)} |`,
    );
  }
}

/** The cost of one readback: a 4-element op and its readback, median of 15 runs after 3 (the core bench's first row). */
export async function readbackFloor(): Promise<number> {
  const x = gb.tensor([1, 2, 3, 4]);
  try {
    return await time(
      async () => {
        const y = gb.add(x, 1);
        await y.toArray();
        y.dispose();
      },
      15,
      3,
    );
  } finally {
    x.dispose();
  }
}

/** Per profiled glassbox row: its profile, and its measured (median) wall time once known. */
const profiled = new Map<string, { profile: gb.KernelProfile; wallMs?: number }>();

/**
 * Runs the glassbox row `name` once more under `profile()` (after one plain run, so that nothing
 * compiled on a first call is in it) for "What bounds each row" (`printBounds`); `wallMs` is its
 * measured time (`withTfPeers` sets the median over the passes itself). Other bench files call it
 * with one line per row, after timing the row.
 */
export async function profileRow(name: string, run: () => Promise<unknown>, wallMs?: number): Promise<void> {
  await run();
  const profile = await gb.profile(run);
  profiled.set(name, { profile, wallMs: wallMs ?? profiled.get(name)?.wallMs });
}

/** Sets the measured wall time of the profiled rows among `rows`. */
function setWalls(rows: { name: string; ours: number }[]): void {
  for (const r of rows) {
    const p = profiled.get(r.name);
    if (p && !Number.isNaN(r.ours)) p.wallMs = r.ours;
  }
}

/**
 * Prints "What bounds each row" for every row profiled so far whose time is known: launches, kernel
 * ms (profiled), readback waits and readbacks, MB moved, GFLOP, the lower bound (readback waits × `floorMs` + Σ over
 * launches of max(bytes ÷ copy ceiling, flops ÷ matmul ceiling): `gb.workBound`), its dominant
 * term, measured ÷ bound, and kernel ms ÷ the kernels' part of the bound.
 */
export function printBounds(ceilings: gb.Ceilings, floorMs: number): void {
  const rows = [...profiled].filter(([, p]) => p.wallMs !== undefined);
  if (!rows.length) return;
  console.log(
    `\nWhat bounds each row (glassbox; each row profiled once after its timing; readback floor ${
      floorMs.toFixed(2)
    } ms, copy ${ceilings.gbPerS.toFixed(1)} GB/s, matmul ${ceilings.gflopPerS.toFixed(1)} GFLOP/s)`,
  );
  const head = ["measured ms", "launches", "kernel ms", "waits/readbacks", "MB", "GFLOP", "bound ms"];
  const cells = rows.map(([name, { profile, wallMs }]) => {
    const b = gb.workBound(profile, ceilings, floorMs, wallMs);
    return [
      name,
      b.wallMs.toFixed(1),
      String(b.launches),
      b.kernelMs.toFixed(1),
      `${b.readbackWaits}/${b.readbacks}`,
      (b.bytes / 1e6).toFixed(1) + (b.bytesFromBuffers ? "*" : ""),
      (b.flops / 1e9).toFixed(3),
      b.boundMs.toFixed(2),
      b.dominant,
      b.ratio.toFixed(1) + "×",
      Number.isFinite(b.kernelRatio) ? b.kernelRatio.toFixed(1) + "×" : "—", // no bytes or flops counted
    ];
  });
  const titles = ["workload", ...head, "dominant term", "measured ÷ bound", "kernels ÷ roof"];
  const widths = titles.map((t, k) => Math.max(t.length, ...cells.map((r) => r[k].length)));
  // workload and dominant term left-aligned, the numbers right-aligned
  const left = (k: number) => k === 0 || k === titles.length - 3;
  const line = (r: string[]) =>
    `| ${r.map((v, k) => (left(k) ? v.padEnd(widths[k]) : v.padStart(widths[k]))).join(" | ")} |`;
  console.log(line(titles));
  console.log(`|${widths.map((w, k) => (left(k) ? ` ${"-".repeat(w)} ` : ` ${"-".repeat(w)}:`)).join("|")}|`);
  for (const r of cells) console.log(line(r));
  console.log(
    "bound = readback waits (concurrent readbacks wait once) × floor + Σ over launches of max(bytes ÷ copy ceiling, flops ÷ matmul ceiling); dominant term:" +
      " the largest of the readback term, the memory and compute parts of that sum, and dispatch overhead" +
      " (measured − kernel ms − readback term); kernels ÷ roof: kernel ms ÷ (memory + compute parts);" +
      " * = some bytes counted at the bound buffers' sizes (over-counted)",
  );
}

/**
 * The seed CNN with Adam, and one full training step at batch 64 on fixed data: upload,
 * forward, backward, Adam update, loss readback.
 */
export function seedCnnStep(): { model: gb.Sequential; step: () => Promise<number> } {
  gb.manualSeed(0);
  const model = seedCnn();
  const opt = new gb.Adam(model.parameters(), { lr: 1e-3 });
  const { xs, ys } = seedCnnData();
  const step = () =>
    gb.scope(async () => {
      const x = gb.tensor(xs, [64, 1, 28, 28]);
      const y = gb.tensor(ys, [64], { dtype: "int32" });
      opt.zeroGrad();
      const loss = gb.crossEntropy(model.forward(x), y);
      await loss.backward();
      opt.step();
      return await loss.item();
    });
  return { model, step };
}

/** The seed CNN's input and labels as used by `seedCnnStep`, for a peer engine. */
export function seedCnnData(): { xs: Float32Array; ys: Int32Array } {
  return {
    xs: new Float32Array(64 * 784).map((_, i) => Math.sin(i) * 0.5),
    ys: Int32Array.from({ length: 64 }, (_, i) => i % 10),
  };
}

/** The seed CNN in TensorFlow.js (NHWC), for the peers. */
export function tfSeedCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: "relu" }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}
