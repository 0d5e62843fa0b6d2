#!/usr/bin/python3
"""Plots of a `soret check` report (fields.h5) -> PNG files.

Usage: /usr/bin/python3 validation/plot_check.py REPORT_DIR [OUT_DIR]
Needs Debian's python3-h5py, python3-numpy and python3-matplotlib (scripts/setup-deps.sh --with-python).
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def eta_groups(f):
    g = f["eq9_thermophoresis"]
    return sorted(((float(k.split("=")[1]), g[k]) for k in g), key=lambda x: x[0])


def plot_eq9(f, out):
    rows = eta_groups(f)
    eta = np.array([e for e, _ in rows])
    meas = np.array([g["delta_diff_measured"][0] for _, g in rows])
    se = np.array([g["delta_diff_se"][0] for _, g in rows])
    exact = np.array([g["delta_diff_exact"][0] for _, g in rows])
    lead = np.array([g["delta_diff_eq9"][0] for _, g in rows])
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].errorbar(eta, meas, yerr=se, fmt="o", label="measured (one-directional crossing rates)")
    ax[0].plot(eta, exact, "-", label="exact implicit solve")
    ax[0].plot(eta, lead, "--", label=r"Eq. 9: $2\eta^2 g g'$")
    ax[0].set(xscale="log", yscale="log", xlabel=r"$\eta$", ylabel=r"$\Delta^+ - \Delta^-$ at $q=0$",
              title="Eq. 9, g = 1 + 0.5 sin 2πq")
    ax[0].legend(fontsize=8)
    rem = np.abs(exact - lead)
    ax[1].loglog(eta, rem, "o-", label="|exact − Eq. 9| (theory)")
    ax[1].loglog(eta, rem[-1] * (eta / eta[-1]) ** 4, ":", label=r"$\propto \eta^4$")
    ax[1].loglog(eta, se, "s", label="Monte Carlo SE of the measurement")
    ax[1].set(xlabel=r"$\eta$", ylabel="remainder", title="Eq. 9 is exact to leading order")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "eq9_delta_vs_eta.png"), dpi=110)
    plt.close(fig)


def plot_flux(f, out):
    rows = dict(eta_groups(f))
    g = rows[0.04]
    q = g["faces"][()]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].errorbar(q, g["J_measured"][()], yerr=g["J_se"][()], fmt="o", ms=3, label="measured (face crossings)")
    ax[0].plot(q, g["J_exact"][()], "-", label="exact one-step")
    ax[0].plot(q, g["J_eq10"][()], "--", label=r"Eq. 10 thermophoretic: $-\eta^2 g g' \rho$")
    ax[0].set(xlabel="q", ylabel="J per walker per step", title=r"thermophoretic flux, uniform start, $\eta=0.04$")
    ax[0].legend(fontsize=8)
    d = f["diffusion"]
    q = d["faces"][()]
    ax[1].errorbar(q, d["J_measured"][()], yerr=d["J_se"][()], fmt="o", ms=3, label="measured")
    ax[1].plot(q, d["J_exact"][()], "-", label="exact one-step")
    ax[1].plot(q, d["J_controlled"][()], ":", label=r"walk: $-\eta^2 g^2 \rho'/2$ (+$\eta^4$)")
    ax[1].plot(q, d["J_eq10"][()], "--", label=r"Eq. 10 diffusion: $-\eta^2 g^2 \rho'$")
    ax[1].set(xlabel="q", ylabel="J per walker per step", title=r"diffusion flux, g = 1, $\rho = 1 + 0.5\cos 2\pi q$")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "flux_profiles.png"), dpi=110)
    plt.close(fig)


def plot_stationary(f, out):
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for a, name, gl in zip(ax, ["periodic", "reflecting"], ["1 + 0.5 sin 2πq", "0.5 + q"]):
        g = f["soret_equilibrium/" + name]
        x = g["centers"][()]
        B = len(x)
        a.errorbar(x, B * g["p_measured"][()], yerr=B * g["p_se"][()], fmt="o", ms=3, label="measured")
        a.plot(x, B * g["p_exact"][()], "-", label="exact discrete law")
        a.plot(x, B * g["p_ito"][()], ":", label=r"walk (Itô): $\rho \propto g^{-2}$")
        a.plot(x, B * g["p_eq10"][()], "--", label=r"Eq. 10 zero flux: $\rho \propto g^{-1}$")
        a.set(xlabel="q", ylabel=r"$\rho$", title=f"stationary density, {name}, g = {gl}, η = 0.05")
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "stationary_density.png"), dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else src
    os.makedirs(out, exist_ok=True)
    with h5py.File(os.path.join(src, "fields.h5"), "r") as f:
        if "eq9_thermophoresis" in f:
            plot_eq9(f, out)
            plot_flux(f, out) if "diffusion" in f else None
        if "soret_equilibrium" in f:
            plot_stationary(f, out)
    print("plots written to", out)


if __name__ == "__main__":
    main()
