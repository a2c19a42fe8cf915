/**
 * ConvTranspose2d and Upsample through ONNX: saved by glassbox and run in ONNX Runtime (its
 * WebAssembly build, a real external client) with glassbox's outputs; and read back by
 * `loadOnnx` (ConvTranspose, Resize) with the same outputs.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-web";
import * as gb from "../mod.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** max |got − want| / max |want| */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, `${got.length} outputs, expected ${want.length}`);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  assert.ok(scale > 1e-6, "a degenerate (all-zero) output proves nothing");
  return err / scale;
}

const DECODERS: [string, gb.LayerSpec[], number[]][] = [
  ["ConvTranspose2d with outputPadding and dilation, nearest ×2", [
    {
      type: "ConvTranspose2d",
      in: 3,
      out: 4,
      kernel: 3,
      stride: 2,
      padding: 1,
      outputPadding: 1,
      bias: true,
    },
    { type: "ReLU" },
    { type: "Upsample", scaleFactor: 2, mode: "nearest" },
    {
      type: "ConvTranspose2d",
      in: 4,
      out: 2,
      kernel: 3,
      stride: 2,
      padding: 2,
      outputPadding: 1,
      dilation: 2,
      bias: false,
    },
  ], [3, 3, 4]],
  ["bilinear by a non-integer factor per axis, then by size with aligned corners", [
    { type: "Upsample", scaleFactor: [1.5, 2], mode: "bilinear" },
    { type: "ConvTranspose2d", in: 2, out: 3, kernel: 4, stride: 2, padding: 1, bias: true },
    { type: "Upsample", size: [13, 11], mode: "bilinear", alignCorners: true },
  ], [2, 4, 5]],
  ["nearest to a size, bilinear to a size", [
    { type: "Upsample", size: [7, 9], mode: "nearest" },
    { type: "ConvTranspose2d", in: 2, out: 2, kernel: 2, bias: true },
    { type: "Upsample", size: [12, 6], mode: "bilinear" },
  ], [2, 3, 4]],
];

Deno.test("saveOnnx: ConvTranspose2d and Upsample (nearest, bilinear, by factor and by size) run in ONNX Runtime with glassbox's outputs, and loadOnnx reads them back", async () => {
  gb.manualSeed(21);
  const dir = await Deno.makeTempDir({ prefix: "glassbox-onnx-up-" });
  try {
    for (const [name, layers, inputShape] of DECODERS) {
      const model = gb.sequentialModel(layers);
      model.eval();
      const path = `${dir}/m.onnx`;
      await gb.saveOnnx(model, path, { inputShape });
      const x = gb.randn([2, ...inputShape]);
      const y = gb.noGrad(() => model.forward(x));
      const want = await y.toArray();
      const session = await ort.InferenceSession.create(await Deno.readFile(path));
      const result = await session.run({
        input: new ort.Tensor("float32", await x.toArray(), [2, ...inputShape]),
      });
      await session.release();
      assert.deepEqual([...result.output.dims], y.shape, `${name}: ONNX Runtime's output shape`);
      const ortErr = relErr(result.output.data as Float32Array, want);
      assert.ok(ortErr <= 1e-5, `${name}: ONNX Runtime differs by ${ortErr} relative`);
      const loaded = await gb.loadOnnx(path);
      const back = await gb.noGrad(() => loaded.model.forward(x)).toArray();
      const backErr = relErr(back, want);
      assert.ok(backErr <= 1e-6, `${name}: loadOnnx differs by ${backErr} relative`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
