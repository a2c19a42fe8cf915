/**
 * The GPU runtime as features see it: waiting for submitted work, the memory counters, and which
 * adapter runs the work.
 * Features (explain, compress, serve, apps, …) use these instead of reaching into src/gpu.
 */
import { sync } from "../gpu/queue.ts";
export { type PoolStats, poolStats } from "../gpu/pool.ts";
export { type AdapterInfo, adapterInfo } from "../gpu/device.ts";
// the engine's switches (fusion, kernel family, specialisation), for features that follow them
export { gpuSettings } from "../gpu/settings.ts";

/**
 * Waits until all GPU work submitted so far (and everything recorded but not yet submitted,
 * which it submits) has finished; throws the first GPU error seen. Use it before a progress
 * line or a timing that must report work really done: ops only record work, and the GPU runs
 * it later. Reading a tensor (`toArray`) waits too, but also copies data back.
 *
 * @example
 * ```ts
 * import { queueStats, settle, tensor } from "glassbox";
 * const before = queueStats.readbacks;
 * const y = tensor([1, 2, 3]).mul(2); // recorded, not yet run
 * await settle(); // now it has run, and nothing was read back
 * if (queueStats.readbacks !== before) throw new Error("settle read data back");
 * y.dispose();
 * ```
 */
export function settle(): Promise<void> {
  return sync();
}
