#!/usr/bin/python3
"""P(k) and ratio panels (PNG) from hydrobridge validation reports (report.h5)
or power-spectrum text files (hydrobridge pk / linear).

  plot_pk.py report.h5 --out pk.png
  plot_pk.py truth_pk.txt emulated_pk.txt [--labels a b] --out pk.png
"""
import argparse
import sys

import numpy as np

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_pk.py needs matplotlib: apt-get install python3-matplotlib")


def from_report(path, out):
    import h5py
    fields = [f for f in ("gas_density", "gas_temperature", "total_matter")]
    with h5py.File(path, "r") as h:
        fields = [f for f in fields if f in h]
        kny = h.attrs.get("k_nyquist", None)
        fig, ax = plt.subplots(3, len(fields), figsize=(4.2 * len(fields), 9), sharex="col", squeeze=False)
        for c, f in enumerate(fields):
            g = h[f]
            k = g["k"][...]
            ax[0, c].loglog(k, g["p_truth"][...], "k-", label="truth")
            ax[0, c].loglog(k, g["p_emulated"][...], "C1--", label="emulated")
            ax[0, c].set_title(f.replace("_", " "))
            ax[0, c].set_ylabel(r"$P(k)$ [(Mpc/h)$^3$]")
            ax[0, c].legend(frameon=False)
            m, s = g["ratio_mean"][...], g["ratio_std"][...]
            ax[1, c].semilogx(k, m, "C1-", label="ensemble mean (band: sample scatter)")
            ax[1, c].fill_between(k, m - s, m + s, color="C1", alpha=0.3, lw=0)
            if "ratio_floor" in g and np.isfinite(g["ratio_floor"][...]).any():
                ax[1, c].semilogx(k, g["ratio_floor"][...], "k:", label="floor: mock repaints / truth")
            ax[1, c].legend(frameon=False, fontsize=7)
            ax[1, c].axhline(1, color="k", lw=0.8)
            ax[1, c].axhspan(0.9, 1.1, color="0.9", zorder=0)
            below = k < kny / 2 if kny else np.ones_like(k, bool)
            hi = max(1.5, 1.1 * float(np.max(m[below]))) if below.any() else 1.5
            lo = min(0.5, 0.9 * float(np.min(m[below]))) if below.any() else 0.5
            ax[1, c].set_ylim(max(lo, 0), hi)
            ax[1, c].set_ylabel(r"$P_{\rm emu}/P_{\rm truth}$")
            rm, rs = g["r_mean"][...], g["r_std"][...]
            ax[2, c].semilogx(k, rm, "C2-", label="emulated")
            ax[2, c].fill_between(k, rm - rs, rm + rs, color="C2", alpha=0.3, lw=0)
            if "r_floor" in g and np.isfinite(g["r_floor"][...]).any():
                ax[2, c].semilogx(k, g["r_floor"][...], "k:", label="floor")
            ax[2, c].legend(frameon=False, fontsize=7)
            ax[2, c].axhline(0.9, color="k", lw=0.8, ls=":")
            ax[2, c].set_ylim(0, 1.05)
            ax[2, c].set_ylabel(r"$r(k)$")
            ax[2, c].set_xlabel(r"$k$ [$h$/Mpc]")
            if kny:
                for r in range(3):
                    ax[r, c].axvline(kny / 2, color="0.5", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def from_text(paths, labels, out):
    fig, ax = plt.subplots(2, 1, figsize=(6, 7), sharex=True)
    ref = None
    for p, lab in zip(paths, labels):
        d = np.loadtxt(p)
        k, pk = d[:, 0], d[:, 1]
        ax[0].loglog(k, pk, label=lab)
        if ref is None:
            ref = (k, pk)
        else:
            ax[1].semilogx(k, pk / np.interp(k, ref[0], ref[1]), label=lab)
    ax[0].set_ylabel(r"$P(k)$ [(Mpc/h)$^3$]")
    ax[0].legend(frameon=False)
    ax[1].axhline(1, color="k", lw=0.8)
    ax[1].set_ylabel("ratio to " + labels[0])
    ax[1].set_xlabel(r"$k$ [$h$/Mpc]")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--labels", nargs="*")
    ap.add_argument("--out", default="pk.png")
    a = ap.parse_args()
    if a.inputs[0].endswith(".h5"):
        from_report(a.inputs[0], a.out)
    else:
        from_text(a.inputs, a.labels or a.inputs, a.out)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
