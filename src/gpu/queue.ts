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
import { checkCompileErrors, pipeline } from "./shaders.ts";
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
}

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

/** Counters: dispatches recorded and submits made since start. */
export const queueStats = { dispatches: 0, submits: 0, readbacks: 0 };

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

/** Records one kernel launch into the current batch. */
export function dispatch(d: Dispatch): void {
  if (slotsUsed >= SLOTS) flush();
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
  const pass = enc.beginComputePass();
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
}

/** Records a buffer-to-buffer copy into the current batch. */
export function copyBuffer(
  src: GPUBuffer,
  srcOffset: number,
  dst: GPUBuffer,
  dstOffset: number,
  bytes: number,
) {
  getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
}

/** Submits everything recorded so far. Cheap when nothing is recorded. */
export function flush(): void {
  if (!encoder) return;
  checkDevice();
  const dev = device();
  if (slotsUsed > 0) dev.queue.writeBuffer(arena!, 0, arenaBytes, 0, slotsUsed * SLOT);
  dev.queue.submit([encoder.finish()]);
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

/** Throws the first compile or validation error seen so far (with the shader's name). */
export async function checkErrors(): Promise<void> {
  await checkCompileErrors();
  const list = batchErrors.splice(0);
  await Promise.all(list);
}

const stagingPool = new Map<number, GPUBuffer[]>();

/**
 * Copies `bytes` bytes of a buffer to the CPU. This is the only way data leaves the GPU:
 * it submits the current batch and waits for it, so call it rarely.
 */
export async function readBuffer(src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const list = stagingPool.get(size) ?? [];
  stagingPool.set(size, list);
  const staging = list.pop() ??
    device().createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  copyBuffer(src, offset, staging, 0, Math.ceil(bytes / 4) * 4);
  // a staging buffer of its own per readback: concurrent readbacks must not share a mapping
  const flagStaging = flagsPending()
    ? device().createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    : null;
  if (flagStaging) copyBuffer(errorFlags(), 0, flagStaging, 0, 16);
  flush();
  queueStats.readbacks++;
  try {
    await Promise.race([staging.mapAsync(GPUMapMode.READ), whenLost()]);
    const out = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
    staging.unmap();
    list.push(staging);
    await checkErrors();
    if (flagStaging) {
      await flagStaging.mapAsync(GPUMapMode.READ);
      const words = new Uint32Array(flagStaging.getMappedRange().slice(0));
      flagStaging.destroy();
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
