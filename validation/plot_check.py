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
import matplotlib.ticker  # noqa: E402
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
    ax[0].errorbar(eta, meas, yerr=se, fmt="o", label="measured (crossing rates, ±1 SE)")
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
    # Ticks at the measured eta only, in plain numbers (log-axis minor labels overlap otherwise).
    for a in ax:
        a.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(eta))
        a.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        a.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    fig.savefig(os.path.join(out, "eq9_delta_vs_eta.png"), dpi=110)
    plt.close(fig)


def plot_flux(f, out):
    rows = dict(eta_groups(f))
    g = rows[0.04]
    q = g["faces"][()]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].errorbar(q, g["J_measured"][()], yerr=g["J_se"][()], fmt="o", ms=3, label="measured (face crossings, ±1 SE)")
    ax[0].plot(q, g["J_exact"][()], "-", label="exact one-step")
    ax[0].plot(q, g["J_eq10"][()], "--", label=r"Eq. 10 thermophoretic: $-\eta^2 g g' \rho$")
    ax[0].set(xlabel="q", ylabel="J per walker per step", title=r"thermophoretic flux, uniform start, $\eta=0.04$")
    ax[0].legend(fontsize=8)
    d = f["diffusion"]
    q = d["faces"][()]
    ax[1].errorbar(q, d["J_measured"][()], yerr=d["J_se"][()], fmt="o", ms=3, label="measured (±1 SE)")
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
        a.errorbar(x, B * g["p_measured"][()], yerr=B * g["p_se"][()], fmt="o", ms=3, label="measured (±1 SE)")
        a.plot(x, B * g["p_exact"][()], "-", label="exact discrete law")
        a.plot(x, B * g["p_ito"][()], ":", label=r"walk (Itô): $\rho \propto g^{-2}$")
        a.plot(x, B * g["p_eq10"][()], "--", label=r"Eq. 10 zero flux: $\rho \propto g^{-1}$")
        a.set(xlabel="q", ylabel=r"$\rho$", title=f"stationary density, {name}, g = {gl}, η = 0.05")
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "stationary_density.png"), dpi=110)
    plt.close(fig)


NOISE = {0: "Rademacher", 1: "Gaussian", 2: "uniform"}


def plot_shared(f, out):
    """Shared-sign walks: plane fluxes measured against the walk's 1-D solve and the paper's Eqs. 9-10."""
    cases = sorted(f["shared"].keys())
    fig, axes = plt.subplots(1, len(cases), figsize=(5.2 * len(cases), 3.8), squeeze=False)
    for ax, case in zip(axes[0], cases):
        g = f["shared/" + case]
        n = len(g["J_measured"])
        x = np.arange(n)
        ax.errorbar(x, g["delta_diff_measured"][()], yerr=g["delta_diff_se"][()], fmt="o", capsize=3,
                    label="measured (±1 SE)")
        ax.plot(x, g["delta_diff_plane"][()], "s", mfc="none", label="walk: 1-D solve along axis i")
        ax.plot(x, g["delta_diff_eq9"][()], "x", ms=8, label=r"Eq. 9: $2\eta^2 \sum_j g_j \partial_j g_i$")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_xticks(x, [f"axis {i}" for i in x])
        ax.set(ylabel=r"$\langle\Delta^+ - \Delta^-\rangle$ over the plane $q_i = 0$",
               title=f"shared sign, {case.replace('U=', '|U| = ')}, η = 0.05")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "shared_sign.png"), dpi=110)
    plt.close(fig)


def plot_conventions(f, out):
    """Noise laws and conventions: the one-step flux at q = 0 and the stationary densities for alpha = 1/2, 1."""
    g = f["noise"]
    n = len(g["alpha"])
    labels = [f"{NOISE.get(int(k), '?')}\nα = {a:g}" for k, a in zip(g["noise"][()], g["alpha"][()])]
    conv = sorted(k for k in f["conventions"].keys()) if "conventions" in f else []
    fig, axes = plt.subplots(1, 1 + len(conv), figsize=(5.2 * (1 + len(conv)), 3.8), squeeze=False)
    ax = axes[0][0]
    x = np.arange(n)
    ax.errorbar(x, g["J_measured"][()], yerr=g["J_se"][()], fmt="o", capsize=3, label="measured (±1 SE)")
    ax.plot(x, g["J_controlled"][()], "s", mfc="none", label=r"walk: $-(1-\alpha)\eta^2 g g'\rho$ (+$\eta^4$ at α = 0)")
    ax.plot(x, g["J_eq10"][()], "x", ms=8, label=r"Eq. 10: $-\eta^2 g g' \rho$")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set(ylabel="J at q = 0 per walker per step", title="one step from a flat density, η = 0.02")
    ax.legend(fontsize=7)
    for a, name in zip(axes[0][1:], conv):
        c = f["conventions/" + name]
        xq = c["centers"][()]
        B = len(xq)
        a.errorbar(xq, B * c["p_measured"][()], yerr=B * c["p_se"][()], fmt="o", ms=3, label="measured (±1 SE)")
        a.plot(xq, B * c["p_exact"][()], "-", label="exact discrete law")
        a.plot(xq, B * c["p_continuum"][()], ":", label=r"continuum: $\rho \propto g^{2\alpha-2}$")
        a.set(xlabel="q", ylabel=r"$\rho$", title=f"stationary density, {name.replace('alpha=', 'α = ')}, η = 0.025")
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "conventions.png"), dpi=110)
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
        if "shared" in f:
            plot_shared(f, out)
        if "noise" in f:
            plot_conventions(f, out)
    print("plots written to", out)


if __name__ == "__main__":
    main()
