/**
 * What the gradient tracker records, as plain data: the types shared by the tracker, the alarm
 * rules, the run log and the pictures (no GPU, no Deno).
 */
import type { TensorStats } from "./gpu_stats.ts";

/** One parameter at one recorded step. */
export interface ParamRecord {
  name: string;
  /** The layer (module) it belongs to, e.g. "3 Conv2d". */
  layer: string;
  grad: TensorStats;
  weight: TensorStats;
  /** The update the optimizer applied at this step (w_after - w_before), when known. */
  update?: TensorStats;
  /** ‖update‖ / ‖weight‖. */
  updateRatio?: number;
}

/** One layer (leaf module) at one recorded step. */
export interface LayerRecord {
  /** Module name and type, e.g. "3 Conv2d". */
  label: string;
  name: string;
  type: string;
  /** The op that produced the layer's output, e.g. "linear". */
  op?: string;
  activation?: TensorStats;
  gradOutput?: TensorStats;
}

/** Everything recorded at one step. */
export interface StepRecord {
  step: number;
  params: ParamRecord[];
  /** Leaf modules in forward order (empty on steps whose layers were not inspected). */
  layers: LayerRecord[];
  /**
   * How many samples of the batch the layer statistics cover (0: layers not inspected at this
   * step; Infinity: the whole batch).
   */
  layerSamples?: number;
  /** L2 norm of all parameter gradients together. */
  totalGradNorm: number;
}

/** Dead-unit fraction per ReLU layer over a window of steps. */
export interface DeadUnits {
  layer: string;
  fromStep: number;
  toStep: number;
  units: number;
  deadFraction: number;
}
