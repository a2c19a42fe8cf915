import * as gb from "../mod.ts";
import * as ref from "./cpu_ref.ts";
import { checkOp } from "./check.ts";

function cpuBatchNorm(x: ref.Arr, w: ref.Arr, b: ref.Arr, eps: number): ref.Arr {
  const [N, C, H, W] = x.shape;
  const out = new Float64Array(x.data.length);
  for (let c = 0; c < C; c++) {
    let m = 0, v = 0;
    const idx: number[] = [];
    for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) idx.push((n * C + c) * H * W + i);
    for (const k of idx) m += x.data[k] / idx.length;
    for (const k of idx) v += (x.data[k] - m) ** 2 / idx.length;
    for (const k of idx) out[k] = ((x.data[k] - m) / Math.sqrt(v + eps)) * w.data[c] + b.data[c];
  }
  return { data: out, shape: [...x.shape] };
}

Deno.test("BatchNorm2d (training mode) forward and backward vs the CPU reference and finite differences", async () => {
  for (const shape of [[4, 3, 5, 5], [1, 2, 3, 7], [6, 1, 1, 1]]) {
    await checkOp({
      name: `batchnorm ${shape}`,
      shapes: [shape, [shape[1]], [shape[1]]],
      gpu: (x, w, b) => {
        const bn = new gb.BatchNorm2d(shape[1]);
        bn.weight = w;
        bn.bias = b;
        return bn.forward(x);
      },
      cpu: (x, w, b) => cpuBatchNorm(x, w, b, 1e-5),
      rtol: 1e-3,
      atol: 1e-4,
      gradTol: 5e-3,
    });
  }
});

Deno.test("BatchNorm2d running statistics update (momentum 0.1, unbiased variance) and drive eval mode", async () => {
  const r = ref.rng(9);
  const x = ref.randArr([4, 2, 3, 3], r, -2, 3);
  x.data = x.data.map(Math.fround);
  const bn = new gb.BatchNorm2d(2);
  bn.forward(gb.tensor(Float32Array.from(x.data), x.shape));
  const n = 4 * 9;
  const wantMean: number[] = [], wantVar: number[] = [];
  for (let c = 0; c < 2; c++) {
    const vals: number[] = [];
    for (let b = 0; b < 4; b++) for (let i = 0; i < 9; i++) vals.push(x.data[(b * 2 + c) * 9 + i]);
    const m = vals.reduce((a, v) => a + v, 0) / n;
    const v = vals.reduce((a, u) => a + (u - m) ** 2, 0) / (n - 1);
    wantMean.push(0.1 * m);
    wantVar.push(0.9 + 0.1 * v);
  }
  ref.assertClose(await bn.runningMean.toArray(), wantMean, { rtol: 1e-5, msg: "running mean" });
  ref.assertClose(await bn.runningVar.toArray(), wantVar, { rtol: 1e-5, msg: "running var" });
  bn.eval();
  const y = await bn.forward(gb.tensor(Float32Array.from(x.data), x.shape)).toArray();
  const want = x.data.map((v, k) => {
    const c = Math.floor(k / 9) % 2;
    return (v - wantMean[c]) / Math.sqrt(wantVar[c] + 1e-5);
  });
  ref.assertClose(y, want, { rtol: 1e-4, atol: 1e-5, msg: "eval mode uses running statistics" });
});
