/**
 * ConvTranspose2d and Upsample through ONNX: saved by glassbox and run in ONNX Runtime (its
 * WebAssembly build, a real external client) with glassbox's outputs; and read back by
 * `loadOnnx` (ConvTranspose, Resize) with the same outputs.
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import * as ort from "npm:onnxruntime-web@1.23.0";
// deno-lint-ignore no-import-prefix
import onnxproto from "npm:onnx-proto@8.0.1";
import * as gb from "../mod.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";

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

Deno.test("loadOnnx reads PyTorch 1.13's own ONNX export of ConvTranspose2d and Upsample (scales, and sizes from Shape/Slice/Concat): PyTorch's outputs and input gradient", async () => {
  const dir = new URL("./fixtures/torch/", import.meta.url);
  const f = decodeSafetensors(
    await Deno.readFile(new URL("upsample.safetensors", dir)),
    "upsample.safetensors",
  );
  const t = (n: string, requiresGrad = false) => {
    const h = f.tensors.get(n)!;
    return gb.tensor(h.data as Float32Array, h.shape, { requiresGrad });
  };
  const seq = await gb.loadOnnx(new URL("upsample_seq.onnx", dir).pathname);
  await gb.scope(async () => {
    const x = t("seq/x", true);
    const y = seq.model.forward(x);
    const [gx] = gb.grad(gb.sum(gb.mul(y, t("seq/R"))), [x]);
    const e1 = relErr(await y.toArray(), f.tensors.get("seq/output")!.data);
    const e2 = relErr(await gx.toArray(), f.tensors.get("seq/grad.x")!.data);
    assert.ok(e1 <= 1e-5 && e2 <= 1e-5, `output ${e1}, ∂/∂x ${e2} relative to PyTorch`);
  });
  const sized = await gb.loadOnnx(new URL("upsample_sized.onnx", dir).pathname);
  const y = gb.noGrad(() => sized.model.forward(t("sized/x")));
  assert.deepEqual(y.shape, [2, 2, 11, 10]);
  const e = relErr(await y.toArray(), f.tensors.get("sized/output")!.data);
  assert.ok(e <= 1e-6, `sized: ${e} relative to PyTorch`);
});

Deno.test("loadOnnx refuses a Resize it would compute differently, naming the attribute", async () => {
  const dir = await Deno.makeTempDir({ prefix: "glassbox-onnx-up-" });
  try {
    const path = `${dir}/m.onnx`;
    const onnx = onnxproto.onnx;
    for (
      const [attrs, re] of [
        [
          { mode: "nearest" },
          /coordinate_transformation_mode and nearest_mode="half_pixel, round_prefer_floor" is not supported/,
        ],
        [{ mode: "cubic" }, /mode="cubic" is not supported \(only nearest and linear\)/],
        [
          { mode: "linear", coordinate_transformation_mode: "asymmetric" },
          /coordinate_transformation_mode="asymmetric" is not supported/,
        ],
      ] as [Record<string, string>, RegExp][]
    ) {
      const scales: onnxproto.onnx.ITensorProto = {
        name: "scales",
        dims: [4],
        dataType: onnx.TensorProto.DataType.FLOAT,
        floatData: [1, 1, 2, 2],
      };
      const model = onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        graph: {
          name: "g",
          node: [{
            opType: "Resize",
            name: "r",
            input: ["input", "", "scales"],
            output: ["output"],
            attribute: Object.entries(attrs).map(([name, v]) => ({
              name,
              type: onnx.AttributeProto.AttributeType.STRING,
              s: new TextEncoder().encode(v),
            })),
          }],
          initializer: [scales],
          input: [{
            name: "input",
            type: {
              tensorType: {
                elemType: 1,
                shape: { dim: [{ dimValue: 1 }, { dimValue: 1 }, { dimValue: 2 }, { dimValue: 2 }] },
              },
            },
          }],
          output: [{ name: "output", type: { tensorType: { elemType: 1 } } }],
        },
      });
      await Deno.writeFile(path, onnx.ModelProto.encode(model).finish());
      await assert.rejects(() => gb.loadOnnx(path), re);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
