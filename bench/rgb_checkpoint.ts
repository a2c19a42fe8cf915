/**
 * A SmallResNet checkpoint on RGB images for timing `deno task explain` on a second model:
 * trains SmallResNet (width 16) briefly on the planted-pattern images (3×32×32, five classes) and
 * writes out/rgb/checkpoint.safetensors (with its explanation profile) and out/rgb/test.safetensors
 * ("x" [N, 3, 32, 32] normalised as the training set, "y" [N]) for `--data`. Prints the steps and
 * the test accuracy. Usage:
 *
 *   deno run --no-prompt --allow-read --allow-write --allow-env=GLASSBOX_DEBUG,GLASSBOX_PRINT_SHADERS,DENO_WEBGPU_BACKEND \
 *     bench/rgb_checkpoint.ts [--steps N] [--out DIR]
 */
import * as gb from "../mod.ts";

const HELP = `bench/rgb_checkpoint.ts [--steps N] [--out DIR]
Trains a SmallResNet (width 16) on 3×32×32 planted-pattern images for N Adam steps of 32 images
(default 100) and writes DIR/checkpoint.safetensors and DIR/test.safetensors (default DIR out/rgb).`;

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, {
    help: { type: "boolean" },
    steps: { type: "string", default: "100" },
    out: { type: "string", default: "out/rgb" },
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const steps = Number(flags.steps);
  if (!Number.isInteger(steps) || steps < 1) {
    throw new gb.UsageError(`--steps must be a positive integer, got ${flags.steps}`);
  }
  const train = gb.makeRgbPatternImages({ nSamples: 1200, seed: 1 });
  const test = gb.makeRgbPatternImages({ nSamples: 200, seed: 2, mean: train.mean, std: train.std });
  gb.manualSeed(0);
  // built by the registry, so the checkpoint names its architecture and loadModel rebuilds it
  const model = gb.createModel("small-resnet", {
    channels: 3,
    width: 16,
    classes: train.classes,
  }) as gb.SmallResNet;
  const opt = new gb.Adam(model.parameters(), { lr: 3e-3 });
  const S = train.size, D = 3 * S * S, B = 32, g = new gb.Generator(1);
  let order = g.shuffle(Array.from({ length: train.y.length }, (_, i) => i)), at = 0;
  for (let s = 0; s < steps; s++) {
    if (at + B > order.length) [order, at] = [g.shuffle(order), 0];
    const idx = order.slice(at, at += B);
    const loss = await gb.scope(async () => {
      const xb = new Float32Array(B * D), yb = new Int32Array(B);
      idx.forEach((k, i) => {
        xb.set(train.x.subarray(k * D, (k + 1) * D), i * D);
        yb[i] = train.y[k];
      });
      opt.zeroGrad();
      const l = gb.crossEntropy(
        model.forward(gb.tensor(xb, [B, 3, S, S])),
        gb.tensor(yb, [B], { dtype: "int32" }),
      );
      await l.backward();
      opt.step();
      return await l.item();
    });
    if ((s + 1) % 50 === 0 || s === steps - 1) console.log(`step ${s + 1}/${steps}: loss ${loss.toFixed(3)}`);
  }
  const restore = model.enterEval();
  const pred = await gb.scope(async () =>
    await gb.noGrad(() => gb.argmax(model.forward(gb.tensor(test.x, [test.y.length, 3, S, S])), 1)).toArray()
  );
  restore();
  const right = pred.filter((p, i) => p === test.y[i]).length;
  console.log(`test accuracy ${right}/${test.y.length}`);
  await Deno.mkdir(flags.out!, { recursive: true });
  const profile = gb.rgbPatternProfile(train, { camLayer: model.camLayer });
  await gb.saveModel(model, `${flags.out}/checkpoint.safetensors`, gb.profileMetadata(profile));
  await gb.writeAtomic(
    `${flags.out}/test.safetensors`,
    gb.encodeSafetensors([
      ["x", { dtype: "F32", shape: [test.y.length, 3, S, S], data: test.x }],
      ["y", { dtype: "I32", shape: [test.y.length], data: test.y }],
    ]),
  );
  console.log(`wrote ${flags.out}/checkpoint.safetensors and ${flags.out}/test.safetensors`);
}

if (import.meta.main) await gb.runMain("bench/rgb_checkpoint.ts", main);
