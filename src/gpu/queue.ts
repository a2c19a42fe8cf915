/**
 * Command batching and readback.
 *
 * Every kernel launch is recorded into one command encoder; nothing reaches the GPU until a
 * result is needed (`readBuffer`) or `flush()` is called, so a whole training step is one
 * submit. Kernel parameters go into a uniform arena (one 256-byte slot per dispatch) that is
 * uploaded with a single write at submit time.
 */
import { checkDevice, device, whenLost } from "./device.ts";
import { decodeFlags, errorFlags, flagsPending } from "./errors.ts";
import { markSubmitted } from "./pool.ts";
import { checkCompileErrors, pipeline, shaderSource } from "./shaders.ts";
import { type KernelSpec, kernelSpec } from "./kernel_specs.ts";

/** A positional kernel parameter: plain numbers are u32 (or i32 when negative); `{ f }` is f32. */
export type Param = number | { f: number };

/** Kernel parameters by name, as declared in the kernel's spec (src/gpu/kernel_specs.ts). */
export type NamedParams = Record<string, number | readonly number[]>;

/** One kernel launch. */
export interface Dispatch {
  /** Shader file name in shaders/, without `.wgsl`. */
  shader: string;
  /** Entry point; default "main". */
  entry?: string;
  /** Values for the shader's `{{NAME}}` placeholders. */
  constants?: Record<string, string | number>;
  /** Storage buffers, bound at 0..n-1 in order. */
  buffers: GPUBuffer[];
  /**
   * Uniform parameters, bound at binding n as one struct: by name for the kernels in
   * KERNEL_SPECS (order and types come from the spec), or positional for other shaders.
   */
  params?: NamedParams | Param[];
  /** How many invocations to launch (the grid comes from the entry's workgroup size) ... */
  invocations?: number;
  /** ... or explicit workgroup counts. */
  workgroups?: [number, number?, number?];
  /**
   * What the launch costs, when its launcher can say (read only in profiling mode): floating-point
   * operations (a multiply-add counts 2, so a matmul is 2·M·N·K) and the bytes it must move at
   * least. Without `bytes` the profiler counts every bound storage buffer once at its size.
   */
  cost?: DispatchCost;
}

/** The work of one kernel launch, as its launcher counts it. */
export interface DispatchCost {
  /** Floating-point operations (multiply-add = 2). */
  flops?: number;
  /** Bytes read plus bytes written (each element once). */
  bytes?: number;
}

/** One bound storage buffer of a profiled launch. */
export interface ProfiledBuffer {
  /** The buffer's allocated size in bytes (a pooled buffer's size class). */
  bytes: number;
  /** How the shader declares it ("read", "read_write"), or "unknown". */
  access: "read" | "read_write" | "unknown";
}

/** One kernel launch recorded in profiling mode, with its GPU time. */
export interface KernelEvent {
  /** Shader file name. */
  shader: string;
  /** Entry point. */
  entry: string;
  /** The short constants (values up to 24 characters; generated code is left out), "K=V, ...". */
  constants: string;
  /** Workgroup counts [x, y, z]. */
  workgroups: [number, number, number];
  /** The invocations asked for, when given (else undefined). */
  invocations?: number;
  /** The bound storage buffers in binding order. */
  buffers: ProfiledBuffer[];
  /** Floating-point operations, when the launcher says. */
  flops?: number;
  /** Bytes moved: the launcher's count, else the sum of the bound storage buffers' sizes. */
  bytes: number;
  /** Whether `bytes` came from the launcher ("launcher") or the bound buffers ("buffers"). */
  bytesFrom: "launcher" | "buffers";
  /** Start on the profiling clock, in ms (relative to an arbitrary origin shared by one run). */
  startMs: number;
  /** Duration in ms. */
  durationMs: number;
}

/** Which clock timed the kernels: GPU timestamp queries, or host time around a submit per dispatch. */
export type ProfileClock = "timestamp-query" | "submit-wait";

/** Writes named parameters into the arena at `base` (in words) in the spec's order; returns the word count. */
function writeNamed(shader: string, spec: KernelSpec, params: NamedParams, base: number): number {
  const given = new Set(Object.keys(params));
  let w = base;
  for (const [name, type] of spec.params) {
    const v = params[name] ?? (name.startsWith("_") ? 0 : undefined);
    given.delete(name);
    if (v === undefined) throw new Error(`kernel ${shader}: parameter ${name} was not given`);
    if (type === "u32x8") {
      const arr = v as readonly number[];
      if (!Array.isArray(arr) || arr.length > 8) {
        throw new Error(`kernel ${shader}: ${name} needs up to 8 values`);
      }
      for (let k = 0; k < 8; k++) arenaU32[w + k] = arr[k] ?? 0;
      w += 8;
    } else {
      const x = v as number;
      if (typeof x !== "number") throw new Error(`kernel ${shader}: ${name} must be a number`);
      if (type === "f32") arenaF32[w] = x;
      else if (type === "i32") arenaI32[w] = x;
      else {
        if (!(Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
          throw new Error(`kernel ${shader}: ${name} = ${x} is not a u32`);
        }
        arenaU32[w] = x;
      }
      w++;
    }
  }
  if (given.size) throw new Error(`kernel ${shader}: unknown parameter ${[...given].join(", ")}`);
  return w - base;
}

const SLOT = 256;
const SLOTS = 4096;
const arenaBytes = new ArrayBuffer(SLOT * SLOTS);
const arenaU32 = new Uint32Array(arenaBytes);
const arenaI32 = new Int32Array(arenaBytes);
const arenaF32 = new Float32Array(arenaBytes);
let arena: GPUBuffer | null = null;
let slotsUsed = 0;
let encoder: GPUCommandEncoder | null = null;
let kernelsInBatch = new Set<string>();
const batchErrors: Promise<void>[] = [];

/** A launch recorded in profiling mode, waiting for its times. */
interface Pending {
  ev: KernelEvent;
  /** Host time the submit carrying it was made (submit-wait clock). */
  submittedMs: number;
}

/** Profiling state; null when not profiling (the default: then nothing below runs). */
let prof: {
  clock: ProfileClock;
  events: KernelEvent[];
  /** Launches of the batch being recorded. */
  batch: Pending[];
  querySet: GPUQuerySet | null;
  /** Completions to await before the events are final. */
  waits: Promise<void>[];
  /** Host time the previous submit-wait launch finished. */
  lastDoneMs: number;
} | null = null;
/** Timestamp pairs per query set (the WebGPU limit is 4096 queries). */
const QUERY_PAIRS = 2048;
const accessCache = new Map<string, ProfiledBuffer["access"][]>();

/** How a shader declares its storage bindings, by binding index (from its WGSL source). */
function accessOf(shader: string): ProfiledBuffer["access"][] {
  let a = accessCache.get(shader);
  if (!a) {
    a = [];
    let src = "";
    try {
      src = shaderSource(shader);
    } catch { /* unknown shader: access unknown */ }
    for (const m of src.matchAll(/@binding\((\d+)\)\s*var<storage\s*,\s*(read_write|read)\s*>/g)) {
      a[Number(m[1])] = m[2] as "read" | "read_write";
    }
    accessCache.set(shader, a);
  }
  return a;
}

function constantsSummary(c: Record<string, string | number> | undefined): string {
  if (!c) return "";
  return Object.keys(c).sort().filter((k) => String(c[k]).length <= 24).map((k) => `${k}=${c[k]}`).join(", ");
}

/**
 * @internal Starts profiling mode: from now on every dispatch is recorded with its kernel and timed,
 * by GPU timestamp queries when the device has "timestamp-query" (and `clock` does not ask
 * otherwise), else by submitting each dispatch alone and noting when the GPU reports it done.
 * What is computed does not change. Use `profile()` from src/inspect/profiler.ts.
 */
export function startProfiling(clock?: ProfileClock): ProfileClock {
  if (prof) throw new Error("profiling is already on (profile() calls do not nest)");
  flush();
  const chosen = clock ?? (hasTimestamps() ? "timestamp-query" : "submit-wait");
  if (chosen === "timestamp-query" && !hasTimestamps()) {
    throw new Error('profiling: this device has no "timestamp-query" feature; use the "submit-wait" clock');
  }
  prof = { clock: chosen, events: [], batch: [], querySet: null, waits: [], lastDoneMs: 0 };
  return chosen;
}

/** @internal Ends profiling mode: waits for the GPU and returns the recorded launches in order. */
export async function stopProfiling(): Promise<KernelEvent[]> {
  if (!prof) throw new Error("profiling is not on");
  try {
    await sync();
    await Promise.all(prof.waits);
    return prof.events;
  } finally {
    prof = null;
  }
}

function hasTimestamps(): boolean {
  return device().features.has("timestamp-query");
}

/**
 * Counters since start: dispatches recorded, submits made, readbacks, and readback waits (readbacks
 * begun while no other was in flight: concurrent readbacks wait for the GPU once).
 */
export const queueStats = { dispatches: 0, submits: 0, readbacks: 0, readbackWaits: 0 };
let readbacksInFlight = 0;

function getEncoder(): GPUCommandEncoder {
  if (!encoder) {
    const dev = device();
    if (!arena) {
      arena = dev.createBuffer({
        size: SLOT * SLOTS,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
    }
    dev.pushErrorScope("validation");
    encoder = dev.createCommandEncoder();
  }
  return encoder;
}

/** Work recorded lazily elsewhere (the pending elementwise chain of src/tensor/fusion.ts). */
let pendingWork: (() => void) | null = null;

/**
 * @internal Registers what records deferred work (src/tensor/fusion.ts: the pending elementwise
 * chain). It is called before any other command is recorded (dispatch, copy) and before a flush,
 * so deferred work always runs before whatever follows it; it may itself call `dispatch`.
 */
export function setPendingWork(f: (() => void) | null): void {
  pendingWork = f;
}

/** Records one kernel launch into the current batch. */
export function dispatch(d: Dispatch): void {
  pendingWork?.();
  if (slotsUsed >= SLOTS || (prof && prof.batch.length >= QUERY_PAIRS)) flush();
  const enc = getEncoder();
  const dev = device();
  const entry = d.entry ?? "main";
  const spec = kernelSpec(d.shader);
  const wg = spec?.workgroup[entry];
  if (spec && wg === undefined) throw new Error(`kernel ${d.shader} has no entry point ${entry} in its spec`);
  const pipe = pipeline(d.shader, wg === undefined ? d.constants ?? {} : { ...d.constants, WG: wg }, entry);
  const entries: GPUBindGroupEntry[] = d.buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
  const params = d.params;
  if (params && (!Array.isArray(params) || params.length > 0)) {
    const base = (slotsUsed * SLOT) / 4;
    let words: number;
    if (Array.isArray(params)) {
      if (spec) throw new Error(`kernel ${d.shader}: pass its parameters by name (see its spec)`);
      if (params.length > SLOT / 4) throw new Error(`kernel ${d.shader}: too many parameters`);
      params.forEach((p, i) => {
        if (typeof p === "number") {
          if (p < 0) arenaI32[base + i] = p;
          else arenaU32[base + i] = p;
        } else arenaF32[base + i] = p.f;
      });
      words = params.length;
    } else {
      if (!spec) throw new Error(`kernel ${d.shader} has no spec: pass its parameters as an array`);
      words = writeNamed(d.shader, spec, params as NamedParams, base);
    }
    entries.push({
      binding: d.buffers.length,
      resource: { buffer: arena!, offset: slotsUsed * SLOT, size: Math.ceil((words * 4) / 16) * 16 },
    });
    slotsUsed++;
  }
  const bindGroup = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
  let timestampWrites: GPUComputePassTimestampWrites | undefined;
  if (prof?.clock === "timestamp-query") {
    prof.querySet ??= dev.createQuerySet({ type: "timestamp", count: 2 * QUERY_PAIRS });
    const i = prof.batch.length;
    timestampWrites = {
      querySet: prof.querySet,
      beginningOfPassWriteIndex: 2 * i,
      endOfPassWriteIndex: 2 * i + 1,
    };
  }
  const pass = enc.beginComputePass(timestampWrites ? { timestampWrites } : undefined);
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bindGroup);
  let groups = d.workgroups;
  if (d.invocations !== undefined) {
    if (wg === undefined) {
      throw new Error(`kernel ${d.shader}: invocations needs a spec with a workgroup size`);
    }
    groups = grid(d.invocations, wg);
  }
  if (!groups) throw new Error(`kernel ${d.shader}: give invocations or workgroups`);
  const [x, y = 1, z = 1] = groups;
  pass.dispatchWorkgroups(x, y, z);
  pass.end();
  kernelsInBatch.add(d.shader + (d.entry && d.entry !== "main" ? `:${d.entry}` : ""));
  queueStats.dispatches++;
  if (prof) {
    const access = accessOf(d.shader);
    const buffers = d.buffers.map((b, i) => ({ bytes: b.size, access: access[i] ?? "unknown" }));
    const ev: KernelEvent = {
      shader: d.shader,
      entry,
      constants: constantsSummary(d.constants),
      workgroups: [x, y, z],
      invocations: d.invocations,
      buffers,
      flops: d.cost?.flops,
      bytes: d.cost?.bytes ?? buffers.reduce((s, b) => s + b.bytes, 0),
      bytesFrom: d.cost?.bytes !== undefined ? "launcher" : "buffers",
      startMs: 0,
      durationMs: 0,
    };
    prof.events.push(ev);
    prof.batch.push({ ev, submittedMs: 0 });
    if (prof.clock === "submit-wait") flush();
  }
}

/** Records a buffer-to-buffer copy into the current batch. */
export function copyBuffer(
  src: GPUBuffer,
  srcOffset: number,
  dst: GPUBuffer,
  dstOffset: number,
  bytes: number,
) {
  pendingWork?.();
  getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
}

/** Submits everything recorded so far. Cheap when nothing is recorded. */
export function flush(): void {
  pendingWork?.();
  if (!encoder) return;
  checkDevice();
  const dev = device();
  if (slotsUsed > 0) dev.queue.writeBuffer(arena!, 0, arenaBytes, 0, slotsUsed * SLOT);
  const timed = prof && prof.batch.length > 0 ? profileBatch(dev, encoder) : null;
  dev.queue.submit([encoder.finish()]);
  timed?.();
  const kernels = [...kernelsInBatch].join(", ");
  const check = dev.popErrorScope().then((err) => {
    if (err) throw new Error(`GPU validation error in a batch running [${kernels}]: ${err.message}`);
  });
  check.catch(() => {}); // reported by checkErrors() at the next sync, not as an unhandled rejection
  batchErrors.push(check);
  encoder = null;
  slotsUsed = 0;
  kernelsInBatch = new Set();
  queueStats.submits++;
  markSubmitted();
}

/**
 * Adds what reads the batch's times back (the timestamp queries resolved and copied out) to the
 * encoder; returns what to do once it is submitted.
 */
function profileBatch(dev: GPUDevice, enc: GPUCommandEncoder): () => void {
  const p = prof!;
  const batch = p.batch;
  p.batch = [];
  if (p.clock === "submit-wait") {
    return () => {
      const now = performance.now();
      for (const b of batch) b.submittedMs = now;
      p.waits.push(
        dev.queue.onSubmittedWorkDone().then(() => {
          const done = performance.now();
          // the GPU runs submits in order: this one started when it was submitted or the last finished
          const start = Math.max(batch[0].submittedMs, p.lastDoneMs);
          p.lastDoneMs = done;
          for (const b of batch) {
            b.ev.startMs = start;
            b.ev.durationMs = (done - start) / batch.length;
          }
        }),
      );
    };
  }
  const qs = p.querySet!;
  p.querySet = null;
  const n = 2 * batch.length;
  const resolve = dev.createBuffer({
    size: n * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const read = dev.createBuffer({ size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.resolveQuerySet(qs, 0, n, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
  return () => {
    p.waits.push(
      read.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigUint64Array(read.getMappedRange().slice(0));
        read.unmap();
        read.destroy();
        resolve.destroy();
        qs.destroy();
        batch.forEach((b, i) => {
          b.ev.startMs = Number(t[2 * i]) / 1e6;
          b.ev.durationMs = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
        });
      }),
    );
  };
}

/** Throws the first compile or validation error seen so far (with the shader's name). */
export async function checkErrors(): Promise<void> {
  // taken first: when a compile error is thrown, the invalid batches it caused are reported with it,
  // not again at the next, unrelated readback
  const list = batchErrors.splice(0);
  await checkCompileErrors();
  await Promise.all(list);
}

const stagingPool = new Map<number, GPUBuffer[]>();

/**
 * Copies `bytes` bytes of a buffer to the CPU. This is the only way data leaves the GPU:
 * it submits the current batch and waits for it, so call it rarely.
 */
export async function readBuffer(src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const data = Math.max(16, Math.ceil(bytes / 16) * 16);
  // the error flags ride in the same staging buffer (16 bytes after the data): one map, one wait
  const withFlags = flagsPending();
  const size = withFlags ? data + 16 : data;
  const list = stagingPool.get(size) ?? [];
  stagingPool.set(size, list);
  const staging = list.pop() ??
    device().createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  copyBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
  if (withFlags) copyBuffer(errorFlags(), 0, staging, data, 16);
  flush();
  queueStats.readbacks++;
  if (readbacksInFlight++ === 0) queueStats.readbackWaits++;
  try {
    await Promise.race([staging.mapAsync(GPUMapMode.READ), whenLost()]);
    const out = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
    const words = withFlags ? new Uint32Array(staging.getMappedRange(data, 16).slice(0)) : null;
    staging.unmap();
    list.push(staging);
    await checkErrors();
    if (words) {
      const err = decodeFlags(words);
      if (err) throw err;
    }
    return out;
  } catch (e) {
    // a failed map usually means an invalid batch: prefer the error that names the kernel
    if (
      !(e instanceof Error && e.message.startsWith("shader ")) && !String(e).includes("GPU validation error")
    ) {
      await checkErrors();
    }
    throw e;
  } finally {
    readbacksInFlight--;
  }
}

/** Submits the batch and waits until the GPU has finished it. */
export async function sync(): Promise<void> {
  flush();
  await Promise.race([device().queue.onSubmittedWorkDone(), whenLost()]);
  await checkErrors();
}

/** Workgroup counts for `n` invocations in groups of `wg`, spread over x and y (x ≤ 65535). */
export function grid(n: number, wg: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
