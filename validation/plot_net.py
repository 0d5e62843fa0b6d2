#!/usr/bin/python3
"""Plots of `soret net` output files in the paper's three-panel form -> PNG files.

Usage: /usr/bin/python3 validation/plot_net.py DIR_OR_FILE [OUT_DIR]
For an eta sweep: x = steps, steps x eta, steps x eta^2 (paper Fig. 2 top row, Figs. 3, 4, 7, 8);
for a batch sweep: x = steps, steps / |B| (Figs. 5, 6, 9, 10). Lines are ensemble means, bands
+-1 standard error over networks. Needs Debian's python3-h5py, -numpy, -matplotlib.
"""
import glob
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LABELS = {"activation_rate": "activation rate", "v_norm": r"$\|V\|_2$", "bias_mean": r"mean $b$"}


def sgd_runs(f):
    out = []
    for name, g in f["runs"].items():
        if g.attrs["mode"] == b"sgd" or g.attrs["mode"] == "sgd":
            out.append((float(g.attrs["eta"]), int(g.attrs["batch"]), name, g))
    return sorted(out)


def mean_se(a):
    m = np.nanmean(a, axis=1)
    n = np.sum(np.isfinite(a), axis=1)
    se = np.nanstd(a, axis=1, ddof=1) / np.sqrt(np.maximum(n, 1))
    return m, se


def plot_file(path, out):
    base = os.path.splitext(os.path.basename(path))[0]
    with h5py.File(path, "r") as f:
        runs = sgd_runs(f)
        etas = sorted({r[0] for r in runs})
        batches = sorted({r[1] for r in runs})
        sweep = "eta" if len(etas) > 1 else "batch"
        # A panel that is all zero or all NaN (mean b without biases) is dropped.
        quantities = [q for q in ("activation_rate", "v_norm", "bias_mean")
                      if q in runs[0][3] and np.isfinite(runs[0][3][q][()]).any()
                      and np.nanmax(np.abs(runs[0][3][q][()])) > 0]
        if sweep == "eta":
            e0 = f"{etas[0]:g}"
            scalings = [("steps t", lambda e, b: 1.0),
                        (rf"$t\,\eta/\eta_0$ ($\eta_0$ = {e0}, the smallest η)", lambda e, b: e / etas[0]),
                        (rf"$t\,(\eta/\eta_0)^2$ ($\eta_0$ = {e0})", lambda e, b: (e / etas[0]) ** 2)]
        else:
            scalings = [("steps t", lambda e, b: 1.0), (r"$t\,/\,|B|$", lambda e, b: 1.0 / b)]
        fig, axes = plt.subplots(len(quantities), len(scalings), figsize=(4.2 * len(scalings), 3.2 * len(quantities)),
                                 squeeze=False)
        for qi, q in enumerate(quantities):
            for si, (xl, sc) in enumerate(scalings):
                ax = axes[qi][si]
                stable = []
                for eta, batch, name, g in runs:
                    m0, _ = mean_se(g[q][()])
                    stable.append(np.nanmax(np.abs(m0)) < 10 * max(abs(m0[0]), 0.1))
                for (eta, batch, name, g), ok in zip(runs, stable):
                    t = g["step"][()].astype(float)
                    m, se = mean_se(g[q][()])
                    x = t * sc(eta, batch)
                    lab = f"η={eta:g}" if sweep == "eta" else f"|B|={batch}"
                    if not ok:
                        lab += " (unstable, off scale)"
                    ax.plot(x, m, label=lab, lw=1.2)
                    ax.fill_between(x, m - se, m + se, alpha=0.25)
                lims = [mean_se(g[q][()])[0] for (e_, b_, n_, g), ok in zip(runs, stable) if ok]
                if lims and not all(stable):
                    lo, hi = min(np.nanmin(v) for v in lims), max(np.nanmax(v) for v in lims)
                    pad = 0.05 * (hi - lo + 1e-12)
                    ax.set_ylim(lo - pad, hi + pad)
                    # Mark where an off-scale curve leaves the panel (a triangle on the edge).
                    xmax = t[-1] if si == 0 else (t[-1] if sweep == "eta" else t[-1] / max(batches))
                    for (eta, batch, name, g), ok in zip(runs, stable):
                        if ok:
                            continue
                        m, _ = mean_se(g[q][()])
                        out_idx = np.nonzero((m > hi + pad) | (m < lo - pad))[0]
                        if len(out_idx):
                            k = out_idx[0]
                            x0 = g["step"][()].astype(float)[k] * sc(eta, batch)
                            if x0 > xmax:
                                continue
                            up = m[k] > hi + pad
                            ax.plot([x0], [hi + pad if up else lo - pad], "^" if up else "v", color="k", ms=6)
                            if si == 0:
                                ax.annotate(f"η={eta:g}", (x0, hi + pad if up else lo - pad), fontsize=6,
                                            xytext=(3, -9 if up else 3), textcoords="offset points")
                if sweep == "eta" and si > 0:
                    ax.set_xlim(0, t[-1])
                if sweep == "batch" and si > 0:
                    ax.set_xlim(0, t[-1] / max(batches))
                ax.set_xlabel(xl)
                ax.set_ylabel(LABELS[q])
                if qi == 0 and si == 0:
                    ax.legend(fontsize=8)
        p = f["parameters"].attrs
        def txt(v):
            return v.decode() if isinstance(v, bytes) else v
        fig.suptitle(f"{base}: M={p['inputs']}, N={p['hidden']}, {txt(p['data'])} data, {txt(p['labels'])} labels, "
                     f"E={p['ensemble']} networks; lines: ensemble means, bands: ±1 SE over networks", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(out, base + ".png"), dpi=100)
        plt.close(fig)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    files = sorted(glob.glob(os.path.join(src, "*.h5"))) if os.path.isdir(src) else [src]
    out = sys.argv[2] if len(sys.argv) > 2 else (src if os.path.isdir(src) else os.path.dirname(src) or ".")
    os.makedirs(out, exist_ok=True)
    for p in files:
        plot_file(p, out)
    print("plots written to", out)


if __name__ == "__main__":
    main()
