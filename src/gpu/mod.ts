/** The GPU runtime's public face: which adapter, memory counters, synchronisation. */
export { type AdapterInfo, adapterInfo, hasPackedIntegerDot, kernelPath } from "./device.ts";
export { type PoolStats, poolStats } from "./pool.ts";
export { flush, queueStats, sync } from "./queue.ts";
export { defineShader, pipelineCount, type PipelineStats, pipelineStats } from "./shaders.ts";
export { type Dispatch, dispatch, type DispatchCost, type NamedParams, type Param } from "./queue.ts";
export { KERNEL_SPECS, type KernelSpec, type ParamType } from "./kernel_specs.ts";
export { configureGpu, type GpuSettings, gpuSettings } from "./settings.ts";
export { SPECIALISE_MIN_FLOPS, specialiseFor } from "./specialise.ts";
