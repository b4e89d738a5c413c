#!/usr/bin/python3
"""The conditional scatter of an emulator against the truth's, cell by cell,
in bins of the DM density (a diagnostic; hydrobridge box files).

For each cell, the spread of log10 gas density (and temperature) over the
truth realisations (the held-out truth and its mock repaints) is the truth's
scatter at fixed DM; the spread over the emulated samples is the emulator's.
Binned by the DM density's quantile, the table shows where an emulator adds
noise the truth does not have (voids) or lacks it (halos), and the rms and
mean offset of the emulated per-cell mean from the truths' per-cell mean.

  scatter_by_dm.py --truth T.h5 --repaints R1.h5 ... --emulated E1.h5 ... [--truth ... ]

Needs at least two truth realisations and two samples per truth; several
--truth groups are pooled cell by cell.
"""
import argparse
import sys

import numpy as np

try:
    import h5py
except ImportError:
    sys.exit("scatter_by_dm.py needs h5py: apt-get install python3-h5py")

EDGES = [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1]
FIELDS = ("gas_density", "gas_temperature")


def read(path, name):
    with h5py.File(path, "r") as h:
        return h["/fields/" + name][...].astype(np.float64).ravel()


def groups(argv):
    """--truth T --repaints R... --emulated E... [--truth ...] -> [(T, [R], [E])]."""
    out, key = [], None
    for a in argv:
        if a in ("--truth", "--repaints", "--emulated"):
            key = a[2:]
            if key == "truth":
                out.append({"truth": [], "repaints": [], "emulated": []})
            elif not out:
                sys.exit("scatter_by_dm.py: %s before the first --truth" % a)
        elif key is None:
            sys.exit("scatter_by_dm.py: unexpected argument %s" % a)
        else:
            out[-1][key].append(a)
    for g in out:
        if len(g["truth"]) != 1 or len(g["truth"]) + len(g["repaints"]) < 2 or len(g["emulated"]) < 2:
            sys.exit("scatter_by_dm.py: each --truth needs one file, at least one repaint and two emulated samples")
    if not out:
        sys.exit(__doc__)
    return out


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    gs = groups(sys.argv[1:])
    for field in FIELDS:
        cols = {k: [] for k in ("q", "st", "se", "d")}
        for g in gs:
            dm = read(g["truth"][0], "dm_density")
            q = np.argsort(np.argsort(dm, kind="stable"), kind="stable") / (dm.size - 1.0)   # quantile of each cell
            T = np.array([np.log10(read(p, field)) for p in g["truth"] + g["repaints"]])
            E = np.array([np.log10(read(p, field)) for p in g["emulated"]])
            cols["q"].append(q)
            cols["st"].append(T.std(axis=0, ddof=1))
            cols["se"].append(E.std(axis=0, ddof=1))
            cols["d"].append(E.mean(axis=0) - T.mean(axis=0))
        c = {k: np.concatenate(v) for k, v in cols.items()}
        print("# %s: per-cell scatter [dex] over the truths and over the samples, by DM-density quantile" % field)
        print("# %-13s %8s %12s %12s %10s %10s" % ("dm_quantile", "cells", "truth_sd", "emulated_sd", "rms_bias",
                                                    "mean_bias"))
        for lo, hi in zip(EDGES[:-1], EDGES[1:]):
            m = (c["q"] >= lo) & ((c["q"] < hi) if hi < 1 else (c["q"] <= hi))
            print("%-15s %8d %12.4f %12.4f %10.4f %+10.4f" % ("%.3f-%.3f" % (lo, hi), m.sum(), c["st"][m].mean(),
                                                              c["se"][m].mean(), np.sqrt((c["d"][m] ** 2).mean()),
                                                              c["d"][m].mean()))


if __name__ == "__main__":
    main()
