#!/usr/bin/python3
"""Seed sweep of `soret check`: are the z-scores of the scalar gating rows distributed as claimed?

z = (measured - predicted) / SE with the SE of the mean of 16 replicas follows Student's t with
15 degrees of freedom when the prediction is right (check.hpp: kGateFalseAlarm). Over many seeds
the pooled z of the passing scalar rows should show the t_15 tail fractions and E[z^2] = 15/13,
not those of a normal law. Standard library only (no numpy/scipy).

Measured (3 seeds of --fast, 102 z): E[z^2] = 0.69 +- 0.10, tail fractions below t_15's: the
scalar z are under-dispersed, i.e. some SEs are conservative and the false-alarm rate of
check.hpp (1.6e-4 per row) is an upper bound. More seeds are needed for the tails.

Usage: /usr/bin/python3 validation/zscore_sweep.py SORET_BINARY [SEEDS (default 20)] [--full]
Not part of ctest: about SEEDS x 60 s on 2 cores (--fast); --full takes much longer.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

T15_TAIL = {1.0: 0.33317, 2.0: 0.06391, 3.0: 0.00896}  # P(|t_15| > x)
NORMAL_TAIL = {x: math.erfc(x / math.sqrt(2.0)) for x in T15_TAIL}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 20
    fast = "--full" not in sys.argv
    z, fails = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(seeds):
            rep = os.path.join(tmp, str(s))
            args = [binary, "check", "--quiet", "--seed", str(1000 + s), "--report", rep] + (["--fast"] if fast else [])
            subprocess.run(args, check=False)
            with open(os.path.join(rep, "report.json")) as f:
                rows = json.load(f)["rows"]
            for r in rows:
                if r["gating"] and r["se"] is not None and r["se"] > 0 and r["z"] is not None:
                    z.append(r["z"])
                    fails += abs(r["z"]) >= 5
            print(f"seed {1000 + s}: {len(z)} scalar gating z so far", flush=True)
    n = len(z)
    if n == 0:
        sys.exit("no scalar gating rows")
    m2 = sum(v * v for v in z) / n
    m2_se = math.sqrt(sum((v * v - m2) ** 2 for v in z) / (n - 1) / n)
    print(f"\n{n} z-scores of scalar gating rows over {seeds} seeds; |z| >= 5: {fails}")
    print(f"E[z^2] = {m2:.3f} +- {m2_se:.3f}   (t_15: {15 / 13:.3f}, normal: 1.000; deviation "
          f"{(m2 - 15 / 13) / m2_se:+.1f} SE; rows computed from the same replicas are correlated, so the SEs "
          f"here are too small by an unknown factor)")
    ok = abs(m2 - 15 / 13) < 4 * m2_se
    for x, p in T15_TAIL.items():
        frac = sum(abs(v) > x for v in z) / n
        se = math.sqrt(p * (1 - p) / n)
        dev = (frac - p) / se
        ok &= abs(dev) < 4
        print(f"P(|z| > {x:.0f}) = {frac:.4f}   t_15: {p:.4f} (deviation {dev:+.1f} SE)   normal: {NORMAL_TAIL[x]:.4f}")
    print("consistent with t_15" if ok else "NOT consistent with t_15 (E[z^2] < 15/13: some SEs are conservative; "
          "> 15/13: some prediction is biased or some SE too small)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
