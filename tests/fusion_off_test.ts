/**
 * The op tests (ops, autograd, optim, define, select, batchnorm) again with fusion off (every op its own kernel, as with GLASSBOX_FUSION=0): the
 * rest of the suite runs them with fusion on (the default), so fused and unfused paths are both
 * checked against the float64 references. The test modules are imported after the switch is
 * set, so their Deno.test cases register here and run in this module's isolate with fusion off
 * (cheaper than a subprocess: no second type-check or adapter start).
 */
import { configureGpu, gpuSettings } from "../mod.ts";
import { fusionStats } from "../src/tensor/fusion.ts";

configureGpu({ fusion: false });
await import("./ops_test.ts");
await import("./autograd_test.ts");
await import("./optim_test.ts");
await import("./define_test.ts");
await import("./select_test.ts");
await import("./batchnorm_test.ts");

Deno.test("fusion stayed off for the imported op tests: no fused kernel ran", () => {
  if (gpuSettings().fusion) throw new Error("an imported test turned fusion back on");
  if (fusionStats.fusedKernels !== 0) throw new Error(`${fusionStats.fusedKernels} fused kernels ran`);
});
