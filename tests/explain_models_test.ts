/**
 * The attribution benchmark by model (bench/explain_models.ts) compares glassbox with tfjs ports
 * of the same models: this checks that the ports compute the same numbers as glassbox's registry
 * methods on small inputs (tfjs-wasm), and that the check notices a port that is plausibly wrong.
 * It never times anything.
 */
import {
  batchOf,
  examplesOff,
  gbAttribute,
  maxRelDiff,
  type ModelCase,
  modelCases,
  nchwToNhwc,
  nhwcToNchw,
  type Plant,
  tfAttribute,
  useBackend,
} from "../bench/explain_models.ts";

const TOL = 1e-4;

let cases: ModelCase[] | undefined;
async function setup(): Promise<ModelCase[]> {
  if (!cases) {
    await useBackend("wasm");
    cases = await modelCases(true);
  }
  return cases;
}

/** max rel diff of glassbox and the tfjs port (with `plant`) on `model`'s method `kind`. */
async function diff(model: string, kind: "grad" | "path", plant?: Plant): Promise<number> {
  const c = (await setup()).find((c) => c.name.startsWith(model))!;
  const m = c.methods.find((m) => m.kind === kind)!;
  const batch = batchOf(c, m.n);
  const port = c.port(plant);
  try {
    const ours = await gbAttribute(c, m, batch), theirs = await tfAttribute(c, m, port, batch, plant);
    if (!ours.some((v) => Math.abs(v) > 1e-6)) throw new Error(`${c.name} ${m.name}: all attributions ~0`);
    return maxRelDiff(ours, theirs);
  } finally {
    port.dispose();
  }
}

Deno.test("NCHW ↔ NHWC round trip puts channel c of pixel (h, w) where tfjs expects it", () => {
  const shape = [2, 3, 2, 4], a = Float32Array.from({ length: 48 }, (_, i) => i);
  const b = nchwToNhwc(a, shape);
  // example 1, channel 2, h 1, w 3: NCHW index ((1·3+2)·2+1)·4+3 = 47; NHWC ((1·2+1)·4+3)·3+2 = 47
  if (b[((1 * 2 + 0) * 4 + 1) * 3 + 2] !== ((1 * 3 + 2) * 2 + 0) * 4 + 1) throw new Error("nchwToNhwc");
  const back = nhwcToNchw(b, shape);
  if (back.some((v, i) => v !== a[i])) throw new Error("round trip");
});

Deno.test("examplesOff counts the examples whose map is off by more than tol of the largest value", () => {
  const a = Float32Array.from([2, 0, 0, 1, 1, 1]), b = Float32Array.from([2, 0, 0.001, 1.001, 1, 1]);
  // two values of example 1 are off by 0.001 > 1e-4·2 (one example); 0.001 < 6e-4·2 (none)
  if (examplesOff(a, b, 3) !== 1 || examplesOff(a, b, 3, 6e-4) !== 0) throw new Error("examplesOff");
});

for (
  const [model, kind] of [
    ["seed CNN", "grad"],
    ["seed CNN", "path"],
    ["SmallResNet", "grad"],
    ["SmallResNet", "path"],
    ["tabular MLP", "grad"],
    ["tabular MLP", "path"],
    ["text classifier", "grad"],
    ["text classifier", "path"],
  ] as const
) {
  Deno.test(`tfjs-wasm port agrees with glassbox: ${model}, ${kind === "grad" ? "gradient" : "path"} method`, async () => {
    const d = await diff(model, kind);
    if (!(d < TOL)) throw new Error(`${model} ${kind}: max rel diff ${d} ≥ ${TOL}`);
  });
}

for (
  const [model, kind, plant] of [
    ["SmallResNet", "grad", "bn-batch-stats"],
    ["tabular MLP", "path", "ig-unweighted"],
    ["seed CNN", "grad", "flatten-order"],
    ["text classifier", "grad", "no-pad-mask"],
  ] as const
) {
  Deno.test(`the agreement check catches a wrong port: ${plant} (${model})`, async () => {
    const d = await diff(model, kind, plant);
    if (!(d > 100 * TOL)) throw new Error(`${plant}: max rel diff only ${d}, the check would miss it`);
  });
}
