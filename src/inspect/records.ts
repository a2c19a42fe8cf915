/**
 * What the gradient tracker records, as plain data: the types shared by the tracker, the alarm
 * rules, the run log and the pictures (no GPU, no Deno).
 */
import type { TensorStats } from "./gpu_stats.ts";

/** One parameter at one recorded step. */
export interface ParamRecord {
  /** Dotted parameter name, e.g. "3.weight". */
  name: string;
  /** The layer (module) it belongs to, e.g. "3 Conv2d". */
  layer: string;
  /** Statistics of its gradient at this step. */
  grad: TensorStats;
  /** Statistics of its values at this step (before the optimizer's update). */
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
  /** Module name, e.g. "3". */
  name: string;
  /** Module type, e.g. "Conv2d". */
  type: string;
  /** The op that produced the layer's output, e.g. "linear". */
  op?: string;
  /** Statistics of its output (over `layerSamples` samples). */
  activation?: TensorStats;
  /** Statistics of the gradient arriving at its output. */
  gradOutput?: TensorStats;
}

/** Everything recorded at one step. */
export interface StepRecord {
  /** The training step (1-based count of training forward passes). */
  step: number;
  /** Every parameter that received a gradient, in model order. */
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
  /** ReLU layer label, e.g. "1 ReLU". */
  layer: string;
  /** First step inspected in the window. */
  fromStep: number;
  /** Last step of the window. */
  toStep: number;
  /** Units (channels or features) in the layer. */
  units: number;
  /** Fraction of units never active (> 0) on any inspected step of the window. */
  deadFraction: number;
}
