"""PyTorch CPU, the physical reference for `deno task bench` (bench/run.ts).

Mirrors every workload of bench/run.ts's full run (bench/core.ts, cnn.ts, tracking.ts,
explain.ts, sequence.ts, compress.ts) in PyTorch on this machine's CPU: float32, the same
shapes, batches and inputs (the same sin() data where the bench uses it), the same number of
warm-up and timed runs as glassbox's side of each workload, the median wall time in ms. Every
timed region ends with its result in a host array (`.numpy()`), as the bench's readback does.
Attribution uses plain autograd: Integrated Gradients with the same 50 Gauss–Legendre points on
[0, 1] (zero baseline, weights summing to 1), Saliency as |∂ logit / ∂ x|, and Occlusion as the
bench's tfjs peer computes it (169 windows 4×4 at stride 2 with zero baseline plus the original
in one batch of 170, the logit drop averaged over the windows covering each pixel).

Differences, stated: gradient tracking prints only the untracked seed CNN step (PyTorch has no
tracker to compare); the compressed variants are run as PyTorch runs them (pruned weights are
still dense; int8 is PyTorch's own static quantisation on oneDNN, one row for both of glassbox's
int8 paths).

Run it on an otherwise idle machine, never at the same time as `deno task bench`:

    python3 bench/pytorch_cpu.py

Debian's torch (the /usr/bin/python3 one here) does its matmuls through the system's
libblas.so.3, which on this machine is the reference (netlib) BLAS: a 1024³ matmul takes ~400 ms
there against ~14 ms with OpenBLAS, so that is not the physical reference. Without touching the
system, run it against OpenBLAS unpacked from Debian's package:

    mkdir -p /tmp/oblas && cd /tmp/oblas && apt-get download libopenblas0-pthread \
      && dpkg -x libopenblas0-pthread_*.deb root && cd -
    LD_LIBRARY_PATH=/tmp/oblas/root/usr/lib/x86_64-linux-gnu/openblas-pthread \
      OPENBLAS_NUM_THREADS=2 python3 bench/pytorch_cpu.py

The first line printed names the BLAS library actually loaded.
It prints one line per workload, `name: median ms`, in the order and with the names bench/run.ts
prints. Tests never run it; it is a measurement script.
"""

import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


def timed(run, reps=7, warmup=2):
    """Median wall time (ms) of `run` after `warmup` untimed runs (bench/harness.ts's `time`)."""
    for _ in range(warmup):
        run()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        t.append((time.perf_counter() - t0) * 1000)
    t.sort()
    return t[len(t) // 2]


def show(name, ms):
    print(f"{name}: {ms:.1f} ms", flush=True)


def sin_data(n, scale, freq=1.0, phase=0.0):
    i = np.arange(n, dtype=np.float64)
    return (np.sin(i * freq + phase) * scale).astype(np.float32)


def seed_cnn(c1=32, c2=64, hidden=128, classes=10):
    return nn.Sequential(
        nn.Conv2d(1, c1, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 25, hidden), nn.ReLU(), nn.Linear(hidden, classes),
    )


def tabular_mlp():
    return nn.Sequential(nn.Linear(100, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))


# ---- engine core (bench/core.ts) ----
def core():
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        show(f"matmul {n}³", timed(lambda: (a @ b).numpy()))
        if n == 512:
            def ten():
                last = None
                for _ in range(10):
                    last = a @ b
                last.numpy()
            show(f"10 × matmul {n}³, one readback", timed(ten, 5, 1))
    n = 4 * 1024 * 1024
    a, b = torch.randn(n), torch.randn(n)
    show("elementwise (a+b)·a, 4M", timed(lambda: ((a + b) * a).numpy()))
    model = tabular_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randn(32, 100)
    y = torch.tensor([float(i % 2) for i in range(32)]).reshape(32, 1)

    def step():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    show("tabular MLP train step (batch 32)", timed(step, 21, 5))


# ---- CNN (bench/cnn.ts) ----
def seed_cnn_step():
    torch.manual_seed(0)
    model = seed_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs = (np.sin(np.arange(64 * 784, dtype=np.float64)) * 0.5).astype(np.float32)
    ys = np.array([i % 10 for i in range(64)], dtype=np.int64)

    def step():
        x = torch.from_numpy(xs.copy()).reshape(64, 1, 28, 28)  # the upload
        y = torch.from_numpy(ys.copy())
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def cnn():
    for n, c, h, o in ((64, 1, 28, 32), (64, 32, 14, 64)):
        x, w = torch.randn(n, c, h, h), torch.randn(o, c, 3, 3)
        label = f"{n}×{c}×{h}×{h}→{o}"
        show(f"conv forward {label}", timed(lambda: F.conv2d(x, w, padding=1).numpy()))
        xg = torch.randn(n, c, h, h, requires_grad=True)
        wg = torch.randn(o, c, 3, 3, requires_grad=True)
        dy = torch.randn(n, o, h, h)

        def bwd():
            gx, gw = torch.autograd.grad(F.conv2d(xg, wg, padding=1), [xg, wg], dy)
            gx[0:1].numpy()
            gw.numpy()
        show(f"conv backward (dx + dW) {label}", timed(bwd))
    show("seed CNN training step, batch 64", timed(seed_cnn_step(), 7, 2))


# ---- gradient tracking (bench/tracking.ts): the untracked step only ----
def tracking():
    step = seed_cnn_step()
    step()
    blocks = []
    for _ in range(12):
        t0 = time.perf_counter()
        for _ in range(10):
            step()
        blocks.append((time.perf_counter() - t0) * 100)
    blocks.sort()
    show("gradient tracking, seed CNN step at batch 64 (untracked)", blocks[len(blocks) // 2])


# ---- attribution (bench/explain.ts) ----
STEPS = 50


def explain():
    torch.manual_seed(0)
    model = seed_cnn().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    xs = torch.from_numpy(sin_data(64 * 784, 0.8, 0.37)).reshape(64, 1, 28, 28)
    targets = torch.tensor([i % 10 for i in range(64)])
    nodes, wts = np.polynomial.legendre.leggauss(STEPS)
    alphas = torch.tensor((nodes + 1) / 2, dtype=torch.float32)
    weights = torch.tensor(wts / 2, dtype=torch.float32)

    def ig(n):
        def run():
            x = xs[:n]
            rows = (x.unsqueeze(1) * alphas.reshape(1, STEPS, 1, 1, 1)).reshape(n * STEPS, 1, 28, 28)
            rows.requires_grad_(True)
            t = targets[:n].repeat_interleave(STEPS)
            out = model(rows).gather(1, t.unsqueeze(1)).sum()
            (g,) = torch.autograd.grad(out, [rows])
            avg = (g.reshape(n, STEPS, 1, 28, 28) * weights.reshape(1, STEPS, 1, 1, 1)).sum(1)
            (avg * x).numpy()
        return run

    def saliency():
        x = xs.clone().requires_grad_(True)
        out = model(x).gather(1, targets.unsqueeze(1)).sum()
        (g,) = torch.autograd.grad(out, [x])
        g.abs().numpy()

    m = torch.zeros(169, 784)
    for gi in range(169):
        y0, x0 = 2 * (gi // 13), 2 * (gi % 13)
        for yy in range(y0, y0 + 4):
            m[gi, yy * 28 + x0:yy * 28 + x0 + 4] = 1
    counts = m.sum(0).clamp(min=1)

    def occlusion():
        with torch.no_grad():
            x = xs[0].reshape(1, 784)
            perturbed = x * (1 - m)
            allx = torch.cat([x, perturbed], 0).reshape(170, 1, 28, 28)
            out = model(allx)[:, int(targets[0])]
            drop = out[0] - out[1:]
            ((drop.reshape(1, 169) @ m) / counts).numpy()

    show("Integrated Gradients, 50 steps, 1 image", timed(ig(1), 5, 1))
    show("Integrated Gradients, 50 steps, 16 images", timed(ig(16), 3, 1))
    show("Saliency, 64 images", timed(saliency, 5, 1))
    show("Occlusion 4×4 stride 2, 1 image", timed(occlusion, 5, 1))


# ---- sequence models (bench/sequence.ts) ----
B, H, D = 8, 4, 16
LB, LT, LI, LH = 32, 64, 32, 64


def sequence():
    def attention(S):
        n, shape = B * H * S * D, (B, H, S, D)
        q, k, v = (torch.from_numpy(sin_data(n, 0.8, 0.37, s)).reshape(shape).requires_grad_(True) for s in (1, 2, 3))
        w = torch.from_numpy(sin_data(n, 0.8, 0.37, 4)).reshape(shape)

        def run():
            scores = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(D))
            out = torch.softmax(scores, -1) @ v
            for g in torch.autograd.grad((out * w).sum(), [q, k, v]):
                g.numpy()
        return timed(run, 5, 1)

    torch.manual_seed(0)
    lstm = nn.LSTM(LI, LH, batch_first=True)
    x = torch.from_numpy(sin_data(LB * LT * LI, 0.8, 0.37, 5)).reshape(LB, LT, LI).requires_grad_(True)

    def lstm_run():
        out, _ = lstm(x)
        for g in torch.autograd.grad(out.sum(), [x, *lstm.parameters()]):
            g.numpy()

    show(f"attention fwd+bwd, B {B}, S 64, {H} heads of {D}", attention(64))
    show(f"attention fwd+bwd, B {B}, S 256, {H} heads of {D}", attention(256))
    show(f"LSTM {LI}→{LH} fwd+bwd, B {LB}, {LT} steps", timed(lstm_run, 3, 1))


# ---- compression (bench/compress.ts) ----
def compress():
    torch.manual_seed(0)
    xs = torch.from_numpy((np.sin(np.arange(256 * 784, dtype=np.float64)) * 0.5).astype(np.float32))
    x = xs.reshape(256, 1, 28, 28)
    original = seed_cnn().eval()
    pruned = seed_cnn().eval()
    pruned.load_state_dict(original.state_dict())
    with torch.no_grad():  # global magnitude pruning, 80%, kept dense as PyTorch's prune does
        allw = torch.cat([p.abs().flatten() for n_, p in pruned.named_parameters() if n_.endswith("weight")])
        cut = allw.kthvalue(int(0.8 * allw.numel())).values
        for n_, p in pruned.named_parameters():
            if n_.endswith("weight"):
                p.mul_((p.abs() > cut).float())
    filters = seed_cnn(c2=32).eval()
    student = seed_cnn(c1=8, c2=16, hidden=64).eval()
    variants = [("float32 seed CNN", original), ("pruned 80% (dense kernels)", pruned),
                ("filters −50% (conv 2)", filters)]
    try:
        import torch.ao.quantization as tq
        torch.backends.quantized.engine = "onednn"
        q = nn.Sequential(tq.QuantStub(), *seed_cnn(), tq.DeQuantStub()).eval()
        q.load_state_dict({f"{int(k.split('.')[0]) + 1}.{k.split('.', 1)[1]}": v
                           for k, v in original.state_dict().items()})
        q.qconfig = tq.get_default_qconfig("onednn")
        tq.prepare(q, inplace=True)
        with torch.no_grad():
            q(x)
        tq.convert(q, inplace=True)
        variants.append(("int8 (PyTorch onednn)", q))
    except Exception as e:  # noqa: BLE001 - a measurement script: say what failed and go on
        print(f"int8 (PyTorch onednn): not measured ({e})")
    variants.append(("student CNN (12% of the parameters)", student))
    for name, m in variants:
        def run(m=m):
            with torch.no_grad():
                m(x).numpy()
        show(f"compressed: {name}, 256 images", timed(run, 5, 2))
    dense, conv = nn.Linear(1600, 128), nn.Conv2d(32, 64, 3)
    xd, xc = torch.randn(256, 1600), torch.randn(256, 32, 13, 13)
    for name, f in (("dense 256×1600→128", lambda: dense(xd)), ("conv 256×32×13×13→64, 3×3", lambda: conv(xc))):
        def run(f=f):
            with torch.no_grad():
                f().numpy()
        show(f"int8 layers alone: {name} (float32)", timed(run, 5, 2))


if __name__ == "__main__":
    with open("/proc/self/maps") as maps:
        blas = sorted({ln.split()[-1] for ln in maps if "blas" in ln.split()[-1]})
    print(f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads, float32, BLAS {blas}")
    core()
    cnn()
    tracking()
    explain()
    sequence()
    compress()
