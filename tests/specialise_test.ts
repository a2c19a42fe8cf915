/**
 * The specialisation policy (src/gpu/specialise.ts) and the pipeline cache's counters
 * (src/gpu/shaders.ts): "auto" compiles a shape's own kernel only for launches with the work to
 * pay for it, the switch forces either side and refuses a bad value by name, and the counters
 * count what was compiled and what was reused.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";

Deno.test("pipelineStats counts one compile per shader and constants, and every reuse", async () => {
  gb.defineShader(
    "specialise_probe",
    `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
     @compute @workgroup_size(1) fn main() { Y[0] = {{V}}.0; }`,
  );
  const y = gb.zeros([4]);
  const run = (v: number) =>
    gb.dispatch({ shader: "specialise_probe", constants: { V: v }, buffers: [y.buffer], workgroups: [1] });
  const s0 = gb.pipelineStats();
  run(3);
  run(3);
  run(5);
  run(3);
  assert.equal((await y.toArray())[0], 3);
  const s1 = gb.pipelineStats();
  assert.equal(s1.pipelines - s0.pipelines, 2, "two constants, two pipelines");
  assert.equal(s1.hits - s0.hits, 2, "the third and fourth launch reuse");
  assert.deepEqual(s1.byShader.specialise_probe.pipelines, 2);
  assert.ok(s1.compileMs > s0.compileMs, "compiling takes time");
  assert.ok(s1.byShader.specialise_probe.compileMs > 0);
  y.dispose();
});

Deno.test("specialise: a bad value is an error that names it; specialiseFor follows the switch and the threshold", () => {
  assert.throws(
    () => gb.configureGpu({ specialise: "sometimes" as "auto" }),
    /specialise must be one of auto, always, never, got sometimes/,
  );
  const before = gb.gpuSettings().specialise;
  try {
    gb.configureGpu({ specialise: "auto" });
    assert.equal(gb.specialiseFor(gb.SPECIALISE_MIN_FLOPS), true);
    assert.equal(gb.specialiseFor(gb.SPECIALISE_MIN_FLOPS - 1), false);
    gb.configureGpu({ specialise: "always" });
    assert.equal(gb.specialiseFor(0), true);
    gb.configureGpu({ specialise: "never" });
    assert.equal(gb.specialiseFor(1e15), false);
  } finally {
    gb.configureGpu({ specialise: before });
  }
});

Deno.test("auto: a small convolution compiles no kernel of its own, a bench-size one does; both are the float64 convolution", async () => {
  const convGemm = () => gb.pipelineStats().byShader.conv_gemm?.pipelines ?? 0;
  const before = gb.gpuSettings().specialise;
  gb.configureGpu({ specialise: "auto" });
  try {
    // 1×1 kernels (the implicit GEMM's smallest unrolled code, the cheapest to compile): 2·N·Cout·C·OH·OW
    // = 2·2·4·3·81 = 3.9 kFLOP, and 2·16·32·16·784 = 12.8 MFLOP (over the 6 MFLOP threshold)
    const cases = [[[2, 3, 9, 9], [4, 3, 1, 1], false], [[16, 16, 28, 28], [32, 16, 1, 1], true]] as const;
    for (const [xs, ws, big] of cases) {
      const r = ref.rng(xs[0]);
      const [x, w] = [xs, ws].map((s) => ref.randArr([...s], r));
      const n0 = convGemm();
      const y = gb.conv2d(
        gb.tensor(Float32Array.from(x.data), x.shape),
        gb.tensor(Float32Array.from(w.data), w.shape),
      );
      ref.assertClose(await y.toArray(), ref.conv2d(x, w, null, 1, 0, 1).data, {
        rtol: 1e-4,
        atol: 1e-4,
        msg: `conv2d x${xs}`,
      });
      // the specialised side compiles the forward only: an unpadded 28-wide input's rows already are the
      // packed rows (one column block, a multiple of 4), so it is read in place with no pack pipeline
      assert.equal(convGemm() - n0, big ? 1 : 0, `conv_gemm pipelines compiled for x${xs}`);
    }
  } finally {
    gb.configureGpu({ specialise: before });
  }
});

Deno.test("GLASSBOX_SPECIALISE: a bad value is reported at the first GPU use, naming it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import * as gb from "${new URL("../mod.ts", import.meta.url).href}";
      let message = "";
      try { gb.tensor([1]); } catch (e) { message = e.message; }
      console.log(message);`,
    ],
    env: { GLASSBOX_SPECIALISE: "yes", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.equal(dec.decode(out.stdout), 'GLASSBOX_SPECIALISE must be auto, always or never, got "yes"\n');
});

Deno.test("auto: a small attention composes from the generic kernels (no attention_rows pipeline) and equals the float64 attention", async () => {
  if (gb.kernelPath() !== "cpu") return; // the policy applies to the software adapters' rows kernel
  const rows = () => gb.pipelineStats().byShader.attention_rows?.pipelines ?? 0;
  const before = gb.gpuSettings().specialise;
  gb.configureGpu({ specialise: "auto" });
  try {
    // [1, 2, 8, 16]: 2·(2·8·8)·(16 + 16) = 8.2 kFLOP, far under the threshold; a shape the rows kernel covers
    const r = ref.rng(7);
    const [q, k, v] = [0, 1, 2].map(() => ref.randArr([1, 2, 8, 16], r));
    const n0 = rows();
    const y = gb.scaledDotProductAttention(
      ...([q, k, v].map((a) => gb.tensor(Float32Array.from(a.data), a.shape)) as [
        gb.Tensor,
        gb.Tensor,
        gb.Tensor,
      ]),
    );
    const want = new Float64Array(2 * 8 * 16);
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 8; i++) {
        const s = Array.from({ length: 8 }, (_, j) => {
          let d = 0;
          for (let c = 0; c < 16; c++) d += q.data[(h * 8 + i) * 16 + c] * k.data[(h * 8 + j) * 16 + c];
          return d / 4;
        });
        const m = Math.max(...s), e = s.map((x) => Math.exp(x - m)), z = e.reduce((a, b) => a + b, 0);
        for (let c = 0; c < 16; c++) {
          want[(h * 8 + i) * 16 + c] = e.reduce((a, w, j) => a + (w / z) * v.data[(h * 8 + j) * 16 + c], 0);
        }
      }
    }
    ref.assertClose(await y.toArray(), want, { rtol: 1e-5, atol: 1e-5, msg: "attention [1, 2, 8, 16]" });
    assert.equal(rows() - n0, 0, "attention_rows pipelines compiled for 8.2 kFLOP");
  } finally {
    gb.configureGpu({ specialise: before });
  }
});

Deno.test("auto: a short LSTM and GRU run per step (no sequence pipeline), a bench-size one compiles its fused kernel; both equal the other side of the switch", async () => {
  const seq = (name: string) => gb.pipelineStats().byShader[name]?.pipelines ?? 0;
  const before = gb.gpuSettings().specialise;
  try {
    // hidden 28, 4 or 3 gates: 2·G·28²·B·T flops = 50 kFLOP for the LSTM at B 2, T 4 (per step), and
    // 6.4 MFLOP (LSTM) / 4.8 MFLOP (GRU, under the line) at B 16, T 64
    for (const [B, T] of [[2, 4], [16, 64]] as const) {
      gb.manualSeed(B);
      const layers = { lstm_sequence: new gb.LSTM(6, 28), gru_sequence: new gb.GRU(6, 28) };
      const x = gb.randn([B, T, 6]);
      for (const [shader, layer] of Object.entries(layers)) {
        gb.configureGpu({ specialise: "auto" });
        const n0 = seq(shader);
        const auto = await layer.forward(x).toArray();
        const compiled = seq(shader) - n0;
        const fused = shader === "lstm_sequence" && B === 16;
        assert.equal(
          compiled > 0,
          fused,
          `${shader} B ${B} T ${T}: ${compiled} pipelines compiled under auto`,
        );
        // the other side of the switch gives the same numbers
        gb.configureGpu({ specialise: fused ? "never" : "always" });
        ref.assertClose(await layer.forward(x).toArray(), auto, {
          rtol: 1e-5,
          atol: 1e-5,
          msg: `${shader} B ${B} T ${T}: auto against ${fused ? "never" : "always"}`,
        });
      }
    }
  } finally {
    gb.configureGpu({ specialise: before });
  }
});
