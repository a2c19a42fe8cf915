/**
 * The buffer pool: every storage buffer glassbox allocates comes from here.
 *
 * Sizes are rounded up to size classes (powers of two, with three steps between them above
 * 4 KiB), so a training loop that allocates the same shapes every step reuses the same
 * buffers and the device never sees a new allocation after the first step.
 *
 * Reuse is safe under command batching: a buffer released while commands that read it are
 * still recorded (not yet submitted) is "dirty". A dirty buffer may be reused as the output
 * of another dispatch in the same batch, since commands in one encoder run in order, but
 * never as the target of `queue.writeBuffer`, which would run before the batch. Dirty
 * buffers become clean when the batch is submitted.
 */
import { device } from "./device.ts";

/** Counters a test or a dashboard can read. */
export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  /** Bytes in live buffers (size-class bytes, what the device holds). */
  liveBytes: number;
  /** Buffers kept for reuse. */
  freeBuffers: number;
  /** Bytes kept for reuse. */
  freeBytes: number;
  /** Requests served from the pool. */
  hits: number;
  /** Requests that created a new device buffer. */
  misses: number;
}

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Rounds a byte count up to its size class. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 4096) return 2 ** Math.ceil(Math.log2(b));
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

const clean = new Map<number, GPUBuffer[]>();
const dirty = new Map<number, GPUBuffer[]>();
const stats: PoolStats = { liveBuffers: 0, liveBytes: 0, freeBuffers: 0, freeBytes: 0, hits: 0, misses: 0 };

function take(map: Map<number, GPUBuffer[]>, size: number): GPUBuffer | undefined {
  const list = map.get(size);
  return list && list.length > 0 ? list.pop() : undefined;
}

/**
 * A storage buffer of at least `bytes` bytes. `forUpload` asks for one that is safe to
 * fill with `queue.writeBuffer` now (not read by any recorded, unsubmitted command).
 */
export function acquireBuffer(bytes: number, forUpload = false): GPUBuffer {
  const size = sizeClass(bytes);
  const limit = device().limits.maxStorageBufferBindingSize;
  if (size > limit) {
    throw new Error(
      `a tensor of ${bytes} bytes exceeds this adapter's largest storage binding (${limit} bytes); use smaller batches`,
    );
  }
  let buf = take(clean, size);
  if (!buf && !forUpload) buf = take(dirty, size);
  if (buf) {
    stats.hits++;
    stats.freeBuffers--;
    stats.freeBytes -= size;
  } else {
    stats.misses++;
    buf = device().createBuffer({ size, usage: USAGE });
  }
  stats.liveBuffers++;
  stats.liveBytes += size;
  return buf;
}

/** Gives a buffer back to the pool; it is reusable at once by later dispatches. */
export function releaseBuffer(buf: GPUBuffer): void {
  const size = buf.size;
  let list = dirty.get(size);
  if (!list) dirty.set(size, list = []);
  list.push(buf);
  stats.liveBuffers--;
  stats.liveBytes -= size;
  stats.freeBuffers++;
  stats.freeBytes += size;
}

/** Called after each submit: everything released so far is now safe for uploads too. */
export function markSubmitted(): void {
  for (const [size, list] of dirty) {
    if (list.length === 0) continue;
    let c = clean.get(size);
    if (!c) clean.set(size, c = []);
    c.push(...list);
    list.length = 0;
  }
}

/** A snapshot of the pool's counters. */
export function poolStats(): PoolStats {
  return { ...stats };
}

let placeholder: GPUBuffer | null = null;
/** A small buffer to bind where a kernel's optional input is unused (never written). */
export function placeholderBuffer(): GPUBuffer {
  if (!placeholder) placeholder = device().createBuffer({ size: 256, usage: USAGE });
  return placeholder;
}
