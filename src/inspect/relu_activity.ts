/**
 * Which ReLU units were ever active over a window of steps: one GPU flag per unit, set by a
 * kernel on the steps the tracker inspects (shaders/track.wgsl, mark_active), read back at a
 * flush. A unit never active over a window is dead. A layer that was not inspected in a window
 * is not judged for it: all-zero flags would only mean "not looked at".
 */
import { device } from "../gpu/device.ts";
import { acquireBuffer, placeholderBuffer, releaseBuffer } from "../gpu/pool.ts";
import { LOOP_STEPS_PER_INVOCATION } from "../gpu/loops.ts";
import { copyBuffer, dispatch, readBuffer } from "../gpu/queue.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { DeadUnits } from "./records.ts";

interface Layer {
  label: string;
  units: number;
  offset: number;
  /** steps inspected in the current window, and the first of them */
  marked: number;
  from: number;
}

/** Activity flags for the ReLU layers of a model. */
export class ReluActivity {
  #layers: Layer[] = [];
  #flags: GPUBuffer | null = null;
  #units = 0;

  /** Marks the units of a ReLU output [N, U, ...] that are > 0 anywhere, at `step` (no readback). */
  mark(label: string, out: Tensor, step: number): void {
    if (out.ndim < 2) return;
    const N = out.shape[0], U = out.shape[1], S = out.size / (N * U);
    let l = this.#layers.find((x) => x.label === label);
    if (!l) {
      l = { label, units: U, offset: this.#units, marked: 0, from: step };
      this.#layers.push(l);
      this.#units += U;
      const bigger = acquireBuffer(this.#units * 4, true);
      device().queue.writeBuffer(bigger, 0, new Uint32Array(this.#units));
      if (this.#flags) {
        copyBuffer(this.#flags, 0, bigger, 0, l.offset * 4);
        releaseBuffer(this.#flags);
      }
      this.#flags = bigger;
    }
    if (l.units !== U) return; // the same module called on another width: not comparable
    if (l.marked++ === 0) l.from = step;
    // an invocation loops over the batch: blocks of rows keep it within llvmpipe's loop budget
    for (let n0 = 0; n0 < N; n0 += LOOP_STEPS_PER_INVOCATION) {
      dispatch({
        shader: "track",
        entry: "mark_active",
        buffers: [out.buffer, placeholderBuffer(), this.#flags!],
        params: {
          n: 0,
          dst_off: 0,
          src_off: n0 * U * S,
          N: Math.min(LOOP_STEPS_PER_INVOCATION, N - n0),
          U,
          S,
          unit_off: l.offset,
        },
        invocations: U * S,
      });
    }
  }

  /**
   * Reads the flags (one readback) and closes each layer's window at `step`: returns the dead
   * fraction of each layer inspected since the last call (its window runs from the first step
   * inspected), and starts new windows. Layers not inspected since are left out.
   */
  async close(step: number): Promise<DeadUnits[]> {
    const judged = this.#layers.filter((l) => l.marked > 0);
    if (!this.#flags || judged.length === 0) return [];
    const flags = new Uint32Array(await readBuffer(this.#flags, this.#units * 4));
    const out = judged.map((l) => {
      let dead = 0;
      for (let u = 0; u < l.units; u++) if (flags[l.offset + u] === 0) dead++;
      return { layer: l.label, fromStep: l.from, toStep: step, units: l.units, deadFraction: dead / l.units };
    });
    // reset the judged layers' flags (the others keep accumulating)
    for (const l of judged) {
      device().queue.writeBuffer(this.#flags, l.offset * 4, new Uint32Array(l.units));
      l.marked = 0;
    }
    return out;
  }

  /** Frees the flags. */
  dispose(): void {
    if (this.#flags) releaseBuffer(this.#flags);
    this.#flags = null;
  }
}
