#!/usr/bin/python3
"""Plots of `soret net --study deep` (or any `soret net --arch ...` file) in the paper's three-panel
form -> PNG files.

Usage: /usr/bin/python3 validation/plot_net_deep.py DIR_OR_FILE [OUT_DIR]
Rows: the average gradient variance of all parameters (grad_var), then the activation rate of the
first hidden layer and the weight norm of the output layer. For an eta sweep the columns are
x = steps, steps x eta/eta0, steps x (eta/eta0)^2 (paper Fig. 2 middle and bottom rows, Figs. 11,
12); for a batch sweep x = steps, steps / |B| (Figs. 13, 14). Lines are ensemble means, bands +-1
standard error over networks; the fitted collapse exponent (bootstrap 95% interval) is in each
row's title. Needs Debian's python3-h5py, -numpy, -matplotlib.
"""
import glob
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def mean_se(a):
    m = np.nanmean(a, axis=1)
    n = np.sum(np.isfinite(a), axis=1)
    se = np.nanstd(a, axis=1, ddof=1) / np.sqrt(np.maximum(n, 1))
    return m, se


def collapse_text(f, quantity, sweep, suffix):
    name = f"{quantity}{suffix}_vs_{sweep}".replace(":", ".")
    if "scaling/collapse" not in f or name not in f["scaling/collapse"]:
        return ""
    a = f["scaling/collapse"][name].attrs
    k = "k" if sweep == "eta" else "m"
    if int(a["at_edge"]):
        return "no collapse in the range searched"
    return f"{k} = {a['best']:.2f} [{a['ci_lo']:.2f}, {a['ci_hi']:.2f}]"


def plot_file(path, out):
    base = os.path.splitext(os.path.basename(path))[0]
    with h5py.File(path, "r") as f:
        runs = sorted((float(g.attrs["eta"]), int(g.attrs["batch"]), n, g) for n, g in f["runs"].items())
        etas = sorted({r[0] for r in runs})
        batches = sorted({r[1] for r in runs})
        sweep = "eta" if len(etas) > 1 else "batch"
        suffix = f"_B={batches[0]}" if sweep == "eta" else f"_eta={etas[0]:g}"
        g0 = runs[0][3]
        layers = text(g0.attrs["layers"]).split(";")
        hidden = text(g0.attrs["hidden_layers"]).split(";")
        rows = [("grad_var", None, "average gradient variance", "grad_var")]
        if hidden and hidden[0]:
            rows.append(("activation_rate_layer", 0, f"activation rate ({hidden[0]})",
                         f"activation_rate_layer:{hidden[0]}"))
        rows.append(("weight_norm_layer", len(layers) - 1, f"weight norm ({layers[-1]})",
                     f"weight_norm_layer:{layers[-1]}"))
        if sweep == "eta":
            scalings = [("steps", lambda e, b: 1.0), (r"steps $\times\,\eta/\eta_0$", lambda e, b: e / etas[0]),
                        (r"steps $\times\,(\eta/\eta_0)^2$", lambda e, b: (e / etas[0]) ** 2)]
        else:
            scalings = [("steps", lambda e, b: 1.0), (r"steps $/\,(|B|/|B_0|)$", lambda e, b: batches[0] / b)]
        fig, axes = plt.subplots(len(rows), len(scalings), figsize=(4.2 * len(scalings), 3.2 * len(rows)),
                                 squeeze=False)
        for qi, (col, j, label, qname) in enumerate(rows):
            for si, (xl, sc) in enumerate(scalings):
                ax = axes[qi][si]
                for eta, batch, name, g in runs:
                    v = g[col][()]
                    if j is not None:
                        v = v[:, :, j]
                    m, se = mean_se(v)
                    t = g["step"][()] * sc(eta, batch)
                    lab = f"$\\eta$ = {eta:g}" if sweep == "eta" else f"|B| = {batch}"
                    ax.plot(t, m, label=lab, lw=1.2)
                    ax.fill_between(t, m - se, m + se, alpha=0.25)
                ax.set_xlabel(xl)
                ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4))
                if si == 0:
                    ax.set_ylabel(label)
                if si == len(scalings) - 1:
                    ax.set_title(collapse_text(f, qname, sweep, suffix), fontsize=9)
                if qi == 0 and si == 0:
                    ax.legend(fontsize=8)
        fig.suptitle(f"{base}: {text(f['parameters'].attrs['architecture'])}, "
                     f"{text(f['parameters'].attrs['dataset'])}", fontsize=10)
        fig.tight_layout()
        png = os.path.join(out, base + ".png")
        fig.savefig(png, dpi=90)
        plt.close(fig)
        print("wrote", png)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else (src if os.path.isdir(src) else os.path.dirname(src) or ".")
    os.makedirs(out, exist_ok=True)
    files = sorted(glob.glob(os.path.join(src, "*.h5"))) if os.path.isdir(src) else [src]
    for p in files:
        plot_file(p, out)


if __name__ == "__main__":
    main()
