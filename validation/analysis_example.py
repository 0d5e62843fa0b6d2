#!/usr/bin/python3
"""Example analysis of soret's HDF5 files from the files alone: labelled arrays and one README figure.

Usage: /usr/bin/python3 validation/analysis_example.py WALK.h5 NET.h5 [OUT_DIR]

- Opens a `soret walk` file and builds the density as a labelled array rho(t, q) (coordinates from
  /density/t and the bin centres of /density/edges_0), and checks it against the stored counts.
- Opens a `soret net` file (two-layer backend) and builds every records x networks dataset of each
  run as a labelled array (step, network) whose coordinates are the HDF5 dimension scales attached
  to the dataset (H5DS), with the dataset's `unit` and `description` attributes.
- Reproduces the first row of the README's η-sweep figure (validation/net-study/gaussian_eta.png):
  the ensemble-mean activation rate against t, t η/η₀ and t (η/η₀)² (η₀ the smallest η), bands ±1
  standard error over networks -> OUT_DIR/activation_rate_eta.png.

Uses xarray (Debian's python3-xarray) where installed, else a small stand-in with the same
fields (values, dims, coords, attrs). Needs python3-h5py, -numpy, -matplotlib. Exit status 0 on
success; the checks below raise on a file that does not describe itself.
"""
import os
import sys

import h5py
import numpy as np

try:
    import xarray as xr
except ImportError:  # the stand-in: enough for this script
    xr = None


class Labelled:
    """values with named dims, coordinates and attributes (xarray.DataArray's fields)."""

    def __init__(self, values, dims, coords, attrs):
        self.values, self.dims, self.coords, self.attrs = values, tuple(dims), coords, attrs


def labelled(values, dims, coords, attrs):
    if xr is not None:
        return xr.DataArray(values, dims=dims, coords=coords, attrs=attrs)
    return Labelled(values, dims, coords, attrs)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def from_dataset(ds):
    """A labelled array from an HDF5 dataset: dims and coordinates from its dimension scales."""
    dims, coords = [], {}
    for i, dim in enumerate(ds.dims):
        if len(dim) == 0:
            raise ValueError(f"{ds.name}: dimension {i} has no dimension scale")
        scale = dim[0]
        name = text(dim.label) if dim.label else os.path.basename(scale.name)
        dims.append(name)
        coords[name] = scale[()]
    for key in ("unit", "description"):
        if key not in ds.attrs:
            raise ValueError(f"{ds.name}: no '{key}' attribute")
    attrs = {k: text(ds.attrs[k]) for k in ("unit", "description")}
    return labelled(ds[()], dims, coords, attrs)


def walk_density(path):
    with h5py.File(path, "r") as f:
        edges = f["density/edges_0"][()]
        q = 0.5 * (edges[1:] + edges[:-1])
        t = f["density/t"][()]
        rho = f["density/rho"][()]
        counts = f["density/counts"][()]
        walkers = int(np.asarray(f["parameters"].attrs["walkers"]).ravel()[0])
        unit = text(f["density/rho"].attrs.get("unit", ""))
    # The stored density is counts / (walkers x bin width): checked from the file alone.
    if not np.allclose(rho, counts / (walkers * np.diff(edges))[None, :], rtol=1e-12, atol=0):
        raise ValueError("density/rho is not counts / (N x bin width)")
    return labelled(rho, ("t", "q"), {"t": t, "q": q}, {"unit": unit, "description": "walker density"})


def net_runs(path):
    """{run name: (eta, batch, {quantity: labelled (step, network)})} of the SGD runs."""
    out = {}
    with h5py.File(path, "r") as f:
        params = f["parameters"].attrs
        eta_list = np.asarray(params["eta"])  # numbers, not a string
        if eta_list.dtype.kind not in "fi":
            raise ValueError("/parameters/eta is not numeric")
        for name, g in f["runs"].items():
            if text(g.attrs["mode"]) != "sgd":
                continue
            arrays = {}
            for q, ds in g.items():
                if isinstance(ds, h5py.Dataset) and ds.ndim == 2 and q.startswith(("activation", "v_norm", "bias")):
                    arrays[q] = from_dataset(ds)
            out[name] = (float(g.attrs["eta"]), int(g.attrs["batch"]), arrays)
    return out


def mean_se(a):
    v = np.asarray(a.values, dtype=float)
    n = np.sum(np.isfinite(v), axis=1)
    return np.nanmean(v, axis=1), np.nanstd(v, axis=1, ddof=1) / np.sqrt(np.maximum(n, 1))


def figure(runs, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sgd = sorted((eta, b, name, arrays) for name, (eta, b, arrays) in runs.items() if b == 1)
    eta0 = sgd[0][0]
    scalings = [("steps t", lambda e: 1.0), (r"$t\,\eta/\eta_0$", lambda e: e / eta0),
                (r"$t\,(\eta/\eta_0)^2$", lambda e: (e / eta0) ** 2)]
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 3.4))
    for ax, (xl, sc) in zip(axes, scalings):
        for eta, _, name, arrays in sgd:
            a = arrays["activation_rate"]
            step = np.asarray(a.coords["step"].values if xr is not None else a.coords["step"], dtype=float)
            m, se = mean_se(a)
            line, = ax.plot(step * sc(eta), m, label=f"η = {eta:g}")
            ax.fill_between(step * sc(eta), m - se, m + se, color=line.get_color(), alpha=0.25, lw=0)
        ax.set_xlabel(xl)
        ax.set_ylabel("activation rate")
    axes[0].legend(fontsize=8, title="bands: ±1 SE over networks", title_fontsize=7)
    fig.suptitle(f"activation rate, time rescaled by η (η₀ = {eta0:g}), from {len(sgd)} runs of the file alone",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    out_dir = argv[3] if len(argv) > 3 else "."
    os.makedirs(out_dir, exist_ok=True)
    rho = walk_density(argv[1])
    print(f"walk: rho{rho.dims} shape {np.shape(rho.values)}, t = {list(np.asarray(rho.coords['t']))[:3]}...")
    runs = net_runs(argv[2])
    for name, (eta, batch, arrays) in sorted(runs.items()):
        a = arrays["activation_rate"]
        print(f"net: {name}: activation_rate{a.dims} shape {np.shape(a.values)}, unit '{a.attrs['unit']}': "
              f"{a.attrs['description']}")
    png = os.path.join(out_dir, "activation_rate_eta.png")
    figure(runs, png)
    print(f"wrote {png} ({'xarray' if xr is not None else 'stand-in labelled arrays'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
