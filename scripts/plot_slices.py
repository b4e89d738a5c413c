#!/usr/bin/python3
"""Slices of a box side by side (PNG): DM | truth gas | emulated gas, and the
temperatures below, from hydrobridge box files.

  plot_slices.py truth.h5 emulated.h5 [--plane 10] [--thickness 2] --out slices.png
"""
import argparse
import sys

import numpy as np

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import h5py
except ImportError:
    sys.exit("plot_slices.py needs matplotlib and h5py: apt-get install python3-matplotlib python3-h5py")


def slab(path, name, plane, thick):
    with h5py.File(path, "r") as h:
        d = h["/fields/" + name][plane:plane + thick].mean(axis=0)
    return np.log10(np.maximum(d, 1e-3))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("truth")
    ap.add_argument("emulated")
    ap.add_argument("--plane", type=int, default=0)
    ap.add_argument("--thickness", type=int, default=2)
    ap.add_argument("--out", default="slices.png")
    a = ap.parse_args()
    rows = [("dm_density", "gas_density", r"$\log_{10}\rho/\bar\rho$"),
            (None, "gas_temperature", r"$\log_{10}T$ [K]")]
    fig, ax = plt.subplots(2, 3, figsize=(12, 8))
    for r, (dm, gas, lab) in enumerate(rows):
        t = slab(a.truth, gas, a.plane, a.thickness)
        e = slab(a.emulated, gas, a.plane, a.thickness)
        lo, hi = np.percentile(t, [1, 99.5])
        if dm:
            im = ax[r, 0].imshow(slab(a.truth, dm, a.plane, a.thickness), vmin=lo, vmax=hi, cmap="magma")
            ax[r, 0].set_title("DM")
        else:
            ax[r, 0].axis("off")
        ax[r, 1].imshow(t, vmin=lo, vmax=hi, cmap="magma" if r == 0 else "inferno")
        ax[r, 1].set_title("truth " + gas.replace("_", " "))
        im = ax[r, 2].imshow(e, vmin=lo, vmax=hi, cmap="magma" if r == 0 else "inferno")
        ax[r, 2].set_title("emulated " + gas.replace("_", " "))
        fig.colorbar(im, ax=ax[r, :].tolist(), shrink=0.8, label=lab)
    for x in ax.ravel():
        x.set_xticks([])
        x.set_yticks([])
    fig.savefig(a.out, dpi=100)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
