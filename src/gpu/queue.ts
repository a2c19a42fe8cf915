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

/** A scalar kernel parameter: plain numbers are u32 (or i32 when negative); `{ f }` is f32. */
export type Param = number | { f: number };

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
  /** Uniform parameters, bound at binding n as one struct of 4-byte fields. */
  params?: Param[];
  /** Workgroup counts. */
  workgroups: [number, number?, number?];
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
  const pipe = pipeline(d.shader, d.constants ?? {}, d.entry ?? "main");
  const entries: GPUBindGroupEntry[] = d.buffers.map((buffer, i) => ({ binding: i, resource: { buffer } }));
  if (d.params && d.params.length > 0) {
    if (d.params.length > SLOT / 4) throw new Error(`kernel ${d.shader}: too many parameters`);
    const base = (slotsUsed * SLOT) / 4;
    d.params.forEach((p, i) => {
      if (typeof p === "number") {
        if (p < 0) arenaI32[base + i] = p;
        else arenaU32[base + i] = p;
      } else arenaF32[base + i] = p.f;
    });
    entries.push({
      binding: d.buffers.length,
      resource: {
        buffer: arena!,
        offset: slotsUsed * SLOT,
        size: Math.ceil((d.params.length * 4) / 16) * 16,
      },
    });
    slotsUsed++;
  }
  const bindGroup = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
  const pass = enc.beginComputePass();
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bindGroup);
  const [x, y = 1, z = 1] = d.workgroups;
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
