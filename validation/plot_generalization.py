#!/usr/bin/python3
"""Plots of `soret net --study generalization --out DIR` (Debian's python3-h5py, python3-matplotlib).

Usage: /usr/bin/python3 validation/plot_generalization.py DIR

Writes into DIR:
  generalization_vs_noise.png  per part: test error and Tr H (exact) at matched training loss
                               against eta^2/|B| (run means +- SE over the matched networks;
                               dots: networks), and the activation rate and last-layer weight norm
  eq62_bound_over_time.png     per part: the Eq. 62 bound (validation/THEORY.md) and the measured
                               trace over training (median over networks, per run; log scale)
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def run_means(x_run, run, y):
    m, s = [], []
    for r in range(len(x_run)):
        v = y[run == r]
        v = v[np.isfinite(v)]
        m.append(v.mean() if v.size else np.nan)
        s.append(v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan)
    return np.array(m), np.array(s)


def main(d):
    g = h5py.File(f"{d}/generalization.h5", "r")
    parts = [p for p in g.keys() if "target_loss" in g[p].attrs]
    quantities = [("test_error", "test error"), ("hessian_trace_exact", "Tr H (exact)"),
                  ("activation_rate", "activation rate"), ("weight_norm_last", "|W_last|_F")]
    fig, ax = plt.subplots(len(parts), len(quantities), figsize=(4 * len(quantities), 3.2 * len(parts)), squeeze=False)
    for i, p in enumerate(parts):
        grp = g[p]
        x_run = grp["run_eta2_over_B"][()]
        run = grp["run"][()]
        x = np.exp(grp["log_eta2_over_B"][()])
        for j, (name, label) in enumerate(quantities):
            y = grp[name][()]
            m, s = run_means(x_run, run, y)
            a = ax[i, j]
            a.scatter(x, y, s=6, alpha=0.3, color="C0")
            a.errorbar(x_run, m, yerr=s, fmt="o", color="C1", capsize=3)
            a.set_xscale("log")
            if name == "hessian_trace_exact":
                a.set_yscale("log")
            sl = grp.attrs.get("slope_" + {"hessian_trace_exact": "hessian_trace", "weight_norm_last": "weight_norm_last"}.get(name, name))
            title = f"{p}: {label}"
            if sl is not None:
                title += f"\nslope {sl[0]:.3g} +- {sl[1]:.2g} per log unit"
            a.set_title(title, fontsize=8)
            a.set_xlabel("eta^2 / |B|")
    fig.suptitle(f"at matched training loss (L* per part: {', '.join(f'{q:.3g}' for q in [g[p].attrs['target_loss'] for p in parts])})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(f"{d}/generalization_vs_noise.png", dpi=120)

    fig, ax = plt.subplots(1, len(parts), figsize=(5.5 * len(parts), 4), squeeze=False)
    for i, p in enumerate(parts):
        a = ax[0, i]
        with h5py.File(f"{d}/{p}.h5", "r") as f:
            for k, name in enumerate(f["runs"]):
                r = f["runs"][name]
                t = r["step"][()]
                tr = r["gauss_newton_trace"][()]
                bd = r["eq62_bound"][()]
                ok = np.isfinite(tr).all(axis=1)
                a.plot(t[ok], np.median(bd[ok], axis=1), "-", color=f"C{k % 10}", label=f"{name} bound")
                a.plot(t[ok], np.median(tr[ok], axis=1), "--", color=f"C{k % 10}")
        a.set_yscale("log")
        a.set_xlabel("step")
        a.set_title(f"{p}: Eq. 62 bound (solid) and Tr H (dashed), medians over networks", fontsize=8)
        a.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(f"{d}/eq62_bound_over_time.png", dpi=120)
    print(f"wrote {d}/generalization_vs_noise.png, {d}/eq62_bound_over_time.png")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
