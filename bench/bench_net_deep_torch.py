#!/usr/bin/python3
"""The workloads of bench_net_deep in PyTorch (CPU), as a skilled user writes an ensemble: the E
networks as batched weights (torch.baddbmm over the ensemble), the CNN as one grouped convolution
with groups = E, autograd for the gradients, the SGD step by torch._foreach_add_.

FC: fc:100,100,100,100,100 on fresh Gaussian inputs (M = 100) with random labels, BCE with logits.
CNN: 6 x [conv 10 channels 5x5, stride 1, no padding, ReLU] -> 160 -> 10 logits, cross-entropy, on
Fashion-MNIST (pixel / 255, examples drawn with replacement). PyTorch's default initialisation
(uniform in +-1/sqrt(fan_in)). Prints one line per (arch, |B|, threads, dtype): network-steps/s.

Usage: /usr/bin/python3 bench/bench_net_deep_torch.py [fc|cnn|all] [steps_fc=200] [steps_cnn=20] [reps=3]
Needs Debian's python3-torch (the comparison is skipped without it) and, for the CNN,
dataset-fashion-mnist.
"""
import gzip
import math
import os
import subprocess
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    print("bench_net_deep_torch: python3-torch is not installed; skipped")
    sys.exit(0)


def fashion_mnist():
    out = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True).stdout.split()
    path = next((p for p in out if p.endswith("train-images-idx3-ubyte.gz")),
                "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    d = os.path.dirname(path)
    with gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(d, "train-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(x.astype(np.float64) / 255.0), torch.from_numpy(y.astype(np.int64))


def uniform(fan_in, shape, dt):
    return ((torch.rand(shape, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)).to(dt).requires_grad_()


def fc_step_fn(E, B, dt):
    widths, fan, Ws, bs = [100] * 5 + [1], 100, [], []
    for w in widths:
        Ws.append(uniform(fan, (E, fan, w), dt))
        bs.append(uniform(fan, (E, 1, w), dt))
        fan = w

    def loss():
        a = torch.randn((E, B, 100), dtype=dt)
        y = torch.randint(0, 2, (E, B, 1)).to(dt)
        for i, (W, b) in enumerate(zip(Ws, bs)):
            a = torch.baddbmm(b, a, W)
            if i + 1 < len(Ws):
                a = F.relu(a)
        return F.binary_cross_entropy_with_logits(a, y, reduction="sum") / B

    return loss, Ws + bs


def cnn_step_fn(E, B, dt, data):
    X, Y = data
    X = X.to(dt)
    Ws, bs, cin = [], [], 1
    for _ in range(6):
        Ws.append(uniform(cin * 25, (E * 10, cin, 5, 5), dt))
        bs.append(uniform(cin * 25, (E * 10,), dt))
        cin = 10
    Wo, bo = uniform(160, (E, 160, 10), dt), uniform(160, (E, 1, 10), dt)

    def loss():
        idx = torch.randint(0, X.shape[0], (B * E,))
        a = X[idx].reshape(B, E, 28, 28)      # the E networks as E input channels (groups)
        y = Y[idx].reshape(B, E)
        for W, b in zip(Ws, bs):
            a = F.relu(F.conv2d(a, W, b, groups=E))
        a = a.reshape(B, E, 160).transpose(0, 1)
        logits = torch.baddbmm(bo, a, Wo)
        return F.cross_entropy(logits.reshape(E * B, 10), y.T.reshape(-1), reduction="sum") / B

    return loss, Ws + bs + [Wo, bo]


def measure(make, E, steps, reps=3, lr=0.01):
    loss, params = make()

    def run(T):
        for _ in range(T):
            g = torch.autograd.grad(loss(), params)
            with torch.no_grad():
                torch._foreach_add_(params, g, alpha=-lr)

    run(max(2, steps // 10))
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        run(steps)
        best = max(best, E * steps / (time.perf_counter() - t))
    return best


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    steps_fc = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    steps_cnn = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    print(f"bench_net_deep_torch: PyTorch {torch.__version__}, best of {reps}")
    print(f"{'arch':>5} {'|B|':>5} {'threads':>8} {'dtype':>8} {'net-steps/s':>12}")
    data = fashion_mnist() if what in ("cnn", "all") else None
    for arch in ("fc", "cnn"):
        if what not in (arch, "all"):
            continue
        E = 64 if arch == "fc" else 16
        for B in (1, 16):
            for th in (1, 2):
                torch.set_num_threads(th)
                for dt in (torch.float32, torch.float64):
                    torch.manual_seed(1)
                    if arch == "fc":
                        r = measure(lambda: fc_step_fn(E, B, dt), E, steps_fc, reps)
                    else:
                        r = measure(lambda: cnn_step_fn(E, B, dt, data), E, steps_cnn, reps)
                    print(f"{arch:>5} {B:>5} {th:>8} {str(dt).split('.')[-1]:>8} {r:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
