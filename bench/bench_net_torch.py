#!/usr/bin/python3
"""The same ensemble SGD workload as bench_net, vectorised in PyTorch (CPU, float64).

An ensemble of E two-layer ReLU nets f(x) = V.relu(Wx + b), BCE with logits, Gaussian inputs and
random labels drawn fresh every step, trained by plain SGD with a hand-written backward batched
over the ensemble (torch.bmm), no autograd. Prints network-steps per second.
Usage: /usr/bin/python3 bench/bench_net_torch.py [steps=500] [threads=1,2]
Needs Debian's python3-torch (not required by soret; the comparison is skipped without it).
"""
import sys
import time

try:
    import torch
except ImportError:
    print("bench_net_torch: python3-torch is not installed; skipped")
    sys.exit(0)


def run(E, M, N, B, steps, eta=0.05):
    torch.manual_seed(1)
    dt = torch.float64
    W = (torch.rand(E, N, M, dtype=dt) * 2 - 1) / M ** 0.5
    b = (torch.rand(E, N, 1, dtype=dt) * 2 - 1) / M ** 0.5
    V = (torch.rand(E, 1, N, dtype=dt) * 2 - 1) / N ** 0.5
    t0 = time.perf_counter()
    for _ in range(steps):
        X = torch.randn(E, M, B, dtype=dt)
        y = torch.randint(0, 2, (E, 1, B)).to(dt)
        H = torch.bmm(W, X) + b               # E x N x B
        A = torch.relu(H)
        f = torch.bmm(V, A)                   # E x 1 x B
        d = (torch.sigmoid(f) - y) / B        # dL/df, mean over the batch
        gV = torch.bmm(d, A.transpose(1, 2))  # E x 1 x N
        U = (H > 0).to(dt) * (V.transpose(1, 2) * d)  # E x N x B
        gW = torch.bmm(U, X.transpose(1, 2))  # E x N x M
        gb = U.sum(dim=2, keepdim=True)
        W -= eta * gW
        b -= eta * gb
        V -= eta * gV
    return E * steps / (time.perf_counter() - t0)


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    threads = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
    print(f"bench_net_torch: torch {torch.__version__}, M = N = 100, 64 networks, {steps} steps, float64")
    print(f"{'|B|':>6} {'threads':>8} {'k network-steps/s':>18}")
    for B in (1, 16):
        for th in threads:
            torch.set_num_threads(th)
            run(64, 100, 100, B, 20)  # warm-up
            print(f"{B:>6} {th:>8} {run(64, 100, 100, B, steps) / 1e3:>18.1f}")


if __name__ == "__main__":
    main()
