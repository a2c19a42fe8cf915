/**
 * The one place that finds the WebGPU adapter and device.
 *
 * The device is requested when this module is first imported (top-level await), but a
 * missing adapter is not an import error: it is thrown, with instructions, the first time
 * anything needs the GPU. A lost device is recorded and reported by every later GPU call.
 */
import { gpuSettings } from "./settings.ts";

/** What the adapter says about itself, plus the limits glassbox relies on. */
export interface AdapterInfo {
  /** The adapter's own description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)" (may be empty in a browser). */
  description: string;
  /** The vendor's name as the adapter gives it (browsers may leave it empty for privacy). */
  vendor: string;
  /** The architecture family as the adapter gives it (may be empty). */
  architecture: string;
  /** Whether the adapter says it is a fallback (software) adapter. */
  isFallbackAdapter: boolean;
  /** The backend the host chose, from `gpuSettings().backend` (Deno: DENO_WEBGPU_BACKEND; "default"). */
  backend: string;
  /** The largest storage buffer one binding may hold, in bytes (the device asks for all of it). */
  maxStorageBufferBindingSize: number;
  /** The optional WebGPU features the adapter offers (e.g. "timestamp-query"). */
  features: string[];
}

const NO_ADAPTER_HELP =
  "No WebGPU adapter is available. glassbox runs its kernels on WebGPU: use a machine " +
  "with a GPU, or on headless Linux install Mesa's software Vulkan driver " +
  "(`apt-get install -y mesa-vulkan-drivers`, which provides lavapipe) and set XDG_RUNTIME_DIR " +
  "(e.g. `export XDG_RUNTIME_DIR=/tmp`). DENO_WEBGPU_BACKEND=gl selects Mesa's OpenGL path instead.";

let adapter: GPUAdapter | null = null;
let gpuDevice: GPUDevice | null = null;
let initError: Error | null = null;
let lostReason: string | null = null;
let lostPromise: Promise<never> | null = null;

async function acquire(): Promise<void> {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) {
    initError = new Error(NO_ADAPTER_HELP + " (navigator.gpu is not defined in this runtime)");
    return;
  }
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    initError = new Error(`${NO_ADAPTER_HELP} (requestAdapter failed: ${(e as Error).message})`);
    return;
  }
  if (!adapter) {
    initError = new Error(NO_ADAPTER_HELP);
    return;
  }
  const lim = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    maxBufferSize: lim.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
    maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
  };
  try {
    // timestamps time kernels in profiling mode (src/gpu/queue.ts); asked for only when offered
    const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
      ? ["timestamp-query"]
      : [];
    gpuDevice = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    initError = new Error(`The WebGPU adapter refused to create a device: ${(e as Error).message}`);
    return;
  }
  gpuDevice.lost.then((info) => {
    lostReason = `${info.reason ?? "unknown"}: ${info.message}`;
  });
}

await acquire();

/** The GPU device; throws a clear error when there is none or it was lost. */
export function device(): GPUDevice {
  if (initError) throw initError;
  if (lostReason) throw new Error(`The WebGPU device was lost (${lostReason}); glassbox cannot continue.`);
  return gpuDevice!;
}

/** Throws if the device was lost. Cheap; called at every submit and readback. */
export function checkDevice(): void {
  device();
}

/** Rejects when the device is lost, so waits never hang on a dead device. */
export function whenLost(): Promise<never> {
  const d = device();
  if (!lostPromise) {
    lostPromise = d.lost.then((info) => {
      throw new Error(
        `The WebGPU device was lost (${info.reason}: ${info.message}) while waiting on the GPU.`,
      );
    });
    lostPromise.catch(() => {}); // reported through the races that use it
  }
  return lostPromise;
}

/**
 * Which adapter glassbox is running on.
 *
 * @example
 * ```ts
 * import { adapterInfo } from "glassbox";
 * console.log(adapterInfo().description); // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
 * ```
 */
export function adapterInfo(): AdapterInfo {
  device();
  const info = adapter!.info;
  return {
    description: info.description,
    vendor: info.vendor,
    architecture: info.architecture,
    isFallbackAdapter: (info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    backend: gpuSettings().backend,
    maxStorageBufferBindingSize: adapter!.limits.maxStorageBufferBindingSize,
    features: [...adapter!.features],
  };
}

/**
 * Whether WGSL here has the packed 4×8-bit integer dot products (`dot4I8Packed`; the
 * "packed_4x8_integer_dot_product" language feature). The int8 kernels use them when it does
 * and unpack the bytes themselves when it does not.
 *
 * @example
 * ```ts
 * import { hasPackedIntegerDot } from "glassbox";
 * hasPackedIntegerDot(); // true on Deno 2.9's WebGPU
 * ```
 */
export function hasPackedIntegerDot(): boolean {
  device();
  const f = (navigator.gpu as unknown as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures;
  return f?.has("packed_4x8_integer_dot_product") ?? false;
}

/**
 * The kernel family in effect: the one `configureGpu({ kernels })` (Deno: GLASSBOX_KERNELS) forces,
 * else "cpu" on a software adapter (Mesa's llvmpipe/lavapipe, SwiftShader, or any adapter that
 * says it is a fallback: they run a workgroup's invocations as SIMD lanes of a CPU, where large
 * register tiles pay and workgroup memory does not) or on a device whose limits are below what
 * the "gpu" kernels need (e.g. a WebGPU compatibility-mode device: 128 invocations per
 * workgroup), and "gpu" on anything else.
 *
 * @example
 * ```ts
 * import { kernelPath } from "glassbox";
 * const path = kernelPath(); // "cpu" on lavapipe
 * if (path !== "cpu" && path !== "gpu") throw new Error(path);
 * ```
 */
export function kernelPath(): "cpu" | "gpu" {
  const forced = gpuSettings().kernels;
  if (forced !== "auto") return forced;
  return autoKernelPath(adapterInfo(), device().limits);
}

/** What the "gpu" kernels need of a device (shaders/matmul_tiled.wgsl: 16×16 invocations, 8 KiB). */
export const GPU_PATH_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 8192,
} as const;

/**
 * @internal The automatic choice of `kernelPath()` for an adapter and its device's limits:
 * "cpu" for a software adapter or limits below `GPU_PATH_LIMITS`, else "gpu".
 */
export function autoKernelPath(
  info: Pick<AdapterInfo, "description" | "vendor" | "architecture" | "isFallbackAdapter">,
  limits: Partial<Record<keyof typeof GPU_PATH_LIMITS, number>>,
): "cpu" | "gpu" {
  const text = `${info.description} ${info.vendor} ${info.architecture}`.toLowerCase();
  if (info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/.test(text)) return "cpu";
  for (const [k, need] of Object.entries(GPU_PATH_LIMITS)) {
    if ((limits[k as keyof typeof GPU_PATH_LIMITS] ?? 0) < need) return "cpu";
  }
  return "gpu";
}
