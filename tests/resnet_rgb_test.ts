/**
 * The residual CNN with BatchNorm (SmallResNet, torchvision's BasicBlock layout) against PyTorch 1.13's
 * numbers (tests/fixtures/torch/resnet.safetensors, made by make_resnet_fixtures.py there).
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";

/** max |got − want| ≤ rel · max |want|; returns the measured ratio. */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, msg: string): number {
  assert.equal(got.length, want.length, `${msg}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    const e = Math.abs(got[i] - want[i]);
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
  }
  assert.ok(scale > 0, `${msg}: PyTorch's values are all zero`);
  assert.ok(
    err <= rel * scale,
    `${msg}: max error ${err.toExponential(2)} > ${rel} × ${scale.toPrecision(3)}`,
  );
  return err / scale;
}

Deno.test("SmallResNet (torchvision's BasicBlock layout) loads PyTorch 1.13's state_dict unchanged and gives its outputs, input and parameter gradients and running statistics, in eval and train mode", async () => {
  const name = "resnet.safetensors";
  const file = decodeSafetensors(
    await Deno.readFile(new URL(`./fixtures/torch/${name}`, import.meta.url)),
    name,
  );
  const data = (n: string) => {
    const h = file.tensors.get(n);
    if (!h) throw new Error(`fixture has no "${n}"`);
    return h;
  };
  const t = (n: string, requiresGrad = false) =>
    gb.tensor(data(n).data as Float32Array, data(n).shape, { requiresGrad });
  const torchNames: string[] = JSON.parse(file.metadata.state);
  const model = new gb.SmallResNet({ channels: 3, width: 4, classes: 5 });
  // the same names, in the same order, as PyTorch's state_dict (num_batches_tracked aside)
  const ours = [...model.namedParameters(), ...model.namedBuffers()].map(([n]) => n);
  assert.deepEqual([...ours].sort(), [...torchNames].sort());
  const worst: Record<string, number> = {};
  const note = (k: string, r: number) => (worst[k] = Math.max(worst[k] ?? 0, r));
  for (const mode of ["eval", "train"] as const) {
    model.loadStateDict(Object.fromEntries(torchNames.map((n) => [n, t(`state/${n}`)])));
    model.train(mode === "train");
    const params = model.namedParameters();
    await gb.scope(async () => {
      const x = t("x", true);
      const y = model.forward(x);
      const grads = gb.grad(gb.sum(gb.mul(y, t("R"))), [x, ...params.map(([, p]) => p)]);
      note(`${mode} output`, close(await y.toArray(), data(`${mode}/output`).data, 1e-5, `${mode}: output`));
      note(
        `${mode} gradient`,
        close(await grads[0].toArray(), data(`${mode}/grad.x`).data, 1e-4, `${mode}: ∂/∂x`),
      );
      for (const [i, [n]] of params.entries()) {
        note(
          `${mode} gradient`,
          close(await grads[i + 1].toArray(), data(`${mode}/grad.${n}`).data, 1e-4, `${mode}: ∂/∂${n}`),
        );
      }
      if (mode === "train") {
        for (const [n, b] of model.namedBuffers()) {
          note(
            "running statistics",
            close(await b.toArray(), data(`train/running.${n}`).data, 1e-5, `running ${n}`),
          );
        }
      }
    });
  }
  console.log(`worst relative errors against PyTorch: ${JSON.stringify(worst)}`);
});
