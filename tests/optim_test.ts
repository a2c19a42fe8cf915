import * as gb from "../mod.ts";
import { assertClose } from "./cpu_ref.ts";

/** Runs 3 steps on f(p) = sum(p² · c) with the GPU optimizer and a float64 CPU reference. */
async function compare(
  name: string,
  make: (p: gb.Tensor[]) => gb.Optimizer,
  cpuStep: (p: Float64Array, g: Float64Array, state: Record<string, Float64Array>, t: number) => void,
) {
  const init = [0.5, -1.5, 2.0, -0.25, 1.0];
  const c = [1, 2, 0.5, 3, -1];
  const p = gb.tensor(init, undefined, { requiresGrad: true });
  const ct = gb.tensor(c);
  const opt = make([p]);
  const ref = Float64Array.from(init.map(Math.fround));
  const state: Record<string, Float64Array> = {};
  for (let t = 1; t <= 3; t++) {
    opt.zeroGrad();
    await gb.scope(async () => {
      await gb.mul(gb.mul(p, p), ct).sum().backward();
      opt.step();
    });
    const g = Float64Array.from(ref.map((v, i) => 2 * v * c[i]));
    cpuStep(ref, g, state, t);
  }
  assertClose(await p.toArray(), ref, { rtol: 1e-5, atol: 1e-7, msg: name });
}

Deno.test("SGD (plain, momentum, Nesterov, weight decay): 3 steps match a CPU reference to 1e-5", async () => {
  for (
    const [momentum, nesterov, wd, dampening] of [
      [0, false, 0, 0],
      [0.9, false, 0, 0],
      [0.9, true, 0.01, 0],
      [0.5, false, 0.1, 0.3],
    ] as const
  ) {
    const lr = 0.1;
    await compare(
      `sgd m=${momentum} n=${nesterov} wd=${wd}`,
      (ps) => new gb.SGD(ps, { lr, momentum, nesterov, weightDecay: wd, dampening }),
      (p, g, s, t) => {
        s.buf ??= new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) {
          let gi = g[i] + wd * p[i];
          if (momentum) {
            s.buf[i] = t === 1 ? gi : momentum * s.buf[i] + (1 - dampening) * gi;
            gi = nesterov ? gi + momentum * s.buf[i] : s.buf[i];
          }
          p[i] -= lr * gi;
        }
      },
    );
  }
});

Deno.test("Adam and AdamW: 3 steps match a CPU reference to 1e-5", async () => {
  for (const decoupled of [false, true]) {
    for (const wd of [0, 0.05]) {
      const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
      await compare(
        `${decoupled ? "AdamW" : "Adam"} wd=${wd}`,
        (ps) =>
          decoupled ? new gb.AdamW(ps, { lr, weightDecay: wd }) : new gb.Adam(ps, { lr, weightDecay: wd }),
        (p, g, s, t) => {
          s.m ??= new Float64Array(p.length);
          s.v ??= new Float64Array(p.length);
          for (let i = 0; i < p.length; i++) {
            let gi = g[i];
            if (decoupled) p[i] -= lr * wd * p[i];
            else gi += wd * p[i];
            s.m[i] = b1 * s.m[i] + (1 - b1) * gi;
            s.v[i] = b2 * s.v[i] + (1 - b2) * gi * gi;
            p[i] -= (lr * (s.m[i] / (1 - b1 ** t))) / (Math.sqrt(s.v[i] / (1 - b2 ** t)) + eps);
          }
        },
      );
    }
  }
});

Deno.test("learning-rate schedules: step and cosine", () => {
  const opt = new gb.SGD([gb.zeros([1], { requiresGrad: true })], { lr: 1 });
  const s = new gb.StepLR(opt, 2, 0.5);
  const lrs = [1, 2, 3, 4, 5].map(() => s.step());
  assertClose(lrs, [1, 0.5, 0.5, 0.25, 0.25]);
  const opt2 = new gb.SGD([gb.zeros([1], { requiresGrad: true })], { lr: 1 });
  const c = new gb.CosineAnnealingLR(opt2, 4, 0);
  assertClose([1, 2, 3, 4].map(() => c.step()), [0.8535533905932737, 0.5, 0.14644660940672627, 0]);
});

Deno.test("cosine schedule past T_max follows PyTorch's cosine (the rate rises again), and etaMin", () => {
  const opt = new gb.SGD([gb.zeros([1], { requiresGrad: true })], { lr: 1 });
  const c = new gb.CosineAnnealingLR(opt, 4, 0.1);
  const want = (t: number) => 0.1 + 0.9 * (1 + Math.cos((Math.PI * t) / 4)) / 2;
  assertClose(Array.from({ length: 9 }, () => c.step()), [1, 2, 3, 4, 5, 6, 7, 8, 9].map(want), {
    rtol: 1e-12,
  });
});

Deno.test("optimizers with several parameters, one of which skips steps: each keeps its own step count (as PyTorch)", async () => {
  // p1 gets a gradient every step; p2 only on steps 1 and 3 (its grad is null on step 2, so it is skipped)
  for (const kind of ["adam", "sgd-momentum"] as const) {
    const p1 = gb.tensor([0.5, -1, 2], undefined, { requiresGrad: true });
    const p2 = gb.tensor([[1, -2], [0.25, 3]], undefined, { requiresGrad: true });
    const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, mom = 0.9;
    const opt = kind === "adam" ? new gb.Adam([p1, p2], { lr }) : new gb.SGD([p1, p2], { lr, momentum: mom });
    const ref = [Float64Array.from([0.5, -1, 2]), Float64Array.from([1, -2, 0.25, 3])];
    const st = ref.map((r) => ({ t: 0, m: new Float64Array(r.length), v: new Float64Array(r.length) }));
    for (let step = 1; step <= 3; step++) {
      opt.zeroGrad();
      const use2 = step !== 2;
      await gb.scope(async () => {
        let loss = p1.mul(p1).sum(); // grad 2·p1
        if (use2) loss = loss.add(p2.mul(p2).mul(p2).sum()); // grad 3·p2²
        await loss.backward();
        opt.step();
      });
      for (let k = 0; k < 2; k++) {
        if (k === 1 && !use2) continue;
        const s = st[k], r = ref[k];
        s.t++;
        for (let i = 0; i < r.length; i++) {
          const g = k === 0 ? 2 * r[i] : 3 * r[i] * r[i];
          if (kind === "adam") {
            s.m[i] = b1 * s.m[i] + (1 - b1) * g;
            s.v[i] = b2 * s.v[i] + (1 - b2) * g * g;
            r[i] -= (lr * (s.m[i] / (1 - b1 ** s.t))) / (Math.sqrt(s.v[i] / (1 - b2 ** s.t)) + eps);
          } else {
            s.m[i] = s.t === 1 ? g : mom * s.m[i] + g;
            r[i] -= lr * s.m[i];
          }
        }
      }
    }
    assertClose(await p1.toArray(), ref[0], { rtol: 1e-5, atol: 1e-7, msg: `${kind} p1` });
    assertClose(await p2.toArray(), ref[1], { rtol: 1e-5, atol: 1e-7, msg: `${kind} p2 (skipped step 2)` });
  }
});
