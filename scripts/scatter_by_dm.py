#!/usr/bin/python3
"""The conditional scatter of an emulator against the truth's, cell by cell,
in bins of the DM density (a diagnostic; hydrobridge box files).

For each cell, the spread of log10 gas density (and temperature) over the
truth realisations (the held-out truth and its mock repaints) is the truth's
scatter at fixed DM; the spread over the emulated samples is the emulator's.
Binned by the DM density's quantile, the table shows where an emulator adds
noise the truth does not have (voids) or lacks it (halos), and the rms and
mean offset of the emulated per-cell mean from the truths' per-cell mean.

  scatter_by_dm.py [--dm-floor F] --truth T.h5 --repaints R1.h5 ... --emulated E1.h5 ... [--truth ... ]

For each emulated sample with the attribute gas_mean_before_normalisation
(written by `hydrobridge emulate`), the shift in dex its normalisation to
mean 1 applied to every cell: the emulator's error in the gas mass of its
dense tail, seen as a bias of the whole PDF (the mean_bias column).

A second table gives the power spectrum of the same residuals (each
realisation's log10 field minus its set's per-cell mean, scaled by
n/(n-1)) per k band, averaged over the --truth groups: how white the
stochastic part is, against the truth's.

A third table asks what the per-cell mean depends on: within bands of the
DM quantile, how much of the variance of the truths' per-cell mean log10 a
cubic in log10 of the DM explains, the cell's own DM (floored at
--dm-floor of the mean, 0.05 as in the demo's conditioning) or the DM
smoothed by a Gaussian of r cells (r = 1, 2, 4; all four together in the
column "all"); fitted by least squares per --truth box, pooled over boxes.
The last column is the same r2 for the emulated per-cell mean (its mean
offset in the band removed, as the fits' constant does): an emulator
below what a smoothed-DM cubic reaches leaves information in its
conditioning unused.

Needs at least two truth realisations and two samples per truth; several
--truth groups are pooled cell by cell.
"""
import functools
import sys

import numpy as np

try:
    import h5py
except ImportError:
    sys.exit("scatter_by_dm.py needs h5py: apt-get install python3-h5py")

EDGES = [0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1]
FIELDS = ("gas_density", "gas_temperature")
BANDS = ("kF..kN/4", "kN/4..kN/2", "kN/2..3kN/4", "3kN/4..kN")
PRED_EDGES = [0, 0.2, 0.8, 0.99, 1]
SMOOTH = (1, 2, 4)   # Gaussian radii of the smoothed DM [cells]


@functools.lru_cache(maxsize=None)   # both tables read every file: once from disk (callers do not modify)
def read(path, name):
    with h5py.File(path, "r") as h:
        return h["/fields/" + name][...].astype(np.float64)


def groups(argv):
    """--truth T --repaints R... --emulated E... [--truth ...] -> [{truth, repaints, emulated}]."""
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
        if len(g["truth"]) != 1 or len(g["repaints"]) < 1 or len(g["emulated"]) < 2:
            sys.exit("scatter_by_dm.py: each --truth needs one file, at least one repaint and two emulated samples")
    if not out:
        sys.exit(__doc__)
    return out


def logs(paths, field):
    return np.array([np.log10(read(p, field)) for p in paths])


def rfft_k2(n):
    """|k|^2 in units of k_F^2 on the rfftn grid of an n^3 box."""
    f = np.fft.fftfreq(n) * n
    fz = np.fft.rfftfreq(n) * n
    return f[:, None, None] ** 2 + f[None, :, None] ** 2 + fz[None, None, :] ** 2


def residual_power(X):
    """Mean |FFT|^2 of the residuals X - mean(X) (n/(n-1) corrected) in the four BANDS of |k| (units of k_F)."""
    n = X.shape[1]
    kn = n // 2
    k = np.sqrt(rfft_k2(n))
    R = X - X.mean(axis=0)
    P = np.mean([np.abs(np.fft.rfftn(r)) ** 2 for r in R], axis=0) * len(X) / (len(X) - 1.0)
    edges = [0.5, kn / 4, kn / 2, 0.75 * kn, kn + 0.5]
    return [P[(k >= a) & (k < b)].mean() for a, b in zip(edges[:-1], edges[1:])]


def scatter_table(gs, field):
    cols = {k: [] for k in ("q", "st", "se", "d", "tm", "em", "var_means")}
    for g in gs:
        dm = read(g["truth"][0], "dm_density").ravel()
        cols["q"].append(np.argsort(np.argsort(dm, kind="stable"), kind="stable") / (dm.size - 1.0))   # quantiles
        T = logs(g["truth"] + g["repaints"], field).reshape(-1, dm.size)
        E = logs(g["emulated"], field).reshape(-1, dm.size)
        cols["st"].append(T.std(axis=0, ddof=1))
        cols["se"].append(E.std(axis=0, ddof=1))
        cols["d"].append(E.mean(axis=0) - T.mean(axis=0))
        cols["tm"].append(T.mean(axis=0))
        cols["em"].append(E.mean(axis=0))
        cols["var_means"].append(E.var(axis=0, ddof=1) / len(E) + T.var(axis=0, ddof=1) / len(T))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    print("# %s: per-cell scatter [dex] over the truths and over the samples, by DM-density quantile" % field)
    print("# frozen_rms: the part of rms_bias the finite sample counts do not explain (the same in every sample);")
    print("# gain: slope of the emulated per-cell mean on the truths' within the bin (< 1: shrunk toward the mean)")
    print("# %-13s %8s %12s %12s %10s %10s %10s %6s" % ("dm_quantile", "cells", "truth_sd", "emulated_sd", "rms_bias",
                                                       "mean_bias", "frozen_rms", "gain"))
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        m = (c["q"] >= lo) & ((c["q"] < hi) if hi < 1 else (c["q"] <= hi))
        ms = (c["d"][m] ** 2).mean()
        frozen = np.sqrt(max(ms - c["var_means"][m].mean(), 0.0))
        t = c["tm"][m] - c["tm"][m].mean()
        gain = ((c["em"][m] - c["em"][m].mean()) * t).sum() / (t * t).sum()
        print("%-15s %8d %12.4f %12.4f %10.4f %+10.4f %10.4f %6.3f"
              % ("%.3f-%.3f" % (lo, hi), m.sum(), c["st"][m].mean(), c["se"][m].mean(), np.sqrt(ms),
                 c["d"][m].mean(), frozen, gain))


def normalisation_shifts(gs):
    """-log10 of each sample's gas mean before normalisation (the dex added to every cell)."""
    for g in gs:
        shifts = []
        for p in g["emulated"]:
            with h5py.File(p, "r") as h:
                m = h.attrs.get("gas_mean_before_normalisation")
            shifts.append("n/a" if m is None else "%+.4f" % -np.log10(float(np.ravel(m)[0])))
        print("# normalisation shift [dex] of the samples of %s: %s" % (g["truth"][0], " ".join(shifts)))


def spectrum_table(gs, field):
    pt = np.mean([residual_power(logs(g["truth"] + g["repaints"], field)) for g in gs], axis=0)
    pe = np.mean([residual_power(logs(g["emulated"], field)) for g in gs], axis=0)
    print("# %s: power of the per-cell residuals of log10 (each realisation minus its set's mean), by k band"
          % field)
    print("# %-13s %12s %12s %8s" % ("band", "truths", "emulated", "ratio"))
    for name, a, b in zip(BANDS, pt, pe):
        print("%-15s %12.5g %12.5g %8.3f" % (name, a, b, b / a if a > 0 else float("nan")))


def smoothed(dm, r):
    """The periodic field dm convolved with a Gaussian of r cells (FFT)."""
    k2 = rfft_k2(dm.shape[0]) * (2 * np.pi / dm.shape[0]) ** 2   # radians per cell
    return np.fft.irfftn(np.fft.rfftn(dm) * np.exp(-0.5 * k2 * r * r), s=dm.shape)


def cubic_ss(y, xs):
    """Residual sum of squares of y after a least-squares fit of 1 and a cubic in each of xs."""
    A = np.column_stack([np.ones_like(y)] + [x ** p for x in xs for p in (1, 2, 3)])
    c = np.linalg.lstsq(A, y, rcond=None)[0]
    return ((y - A @ c) ** 2).sum()


def predictability_table(gs, field, floor):
    nb = len(PRED_EDGES) - 1
    ss = np.zeros((nb, len(SMOOTH) + 4))   # total, local, each smoothing, all, emulated
    cells = np.zeros(nb, dtype=int)
    for g in gs:
        dm3 = read(g["truth"][0], "dm_density")
        dm = dm3.ravel()
        q = np.argsort(np.argsort(dm, kind="stable"), kind="stable") / (dm.size - 1.0)
        mean = dm.mean()
        xs = [np.log10(np.maximum(dm, floor * mean))] + \
             [np.log10(np.maximum(smoothed(dm3, r).ravel(), 1e-3 * mean)) for r in SMOOTH]
        T = logs(g["truth"] + g["repaints"], field).reshape(-1, dm.size).mean(axis=0)
        E = logs(g["emulated"], field).reshape(-1, dm.size).mean(axis=0)
        for i, (lo, hi) in enumerate(zip(PRED_EDGES[:-1], PRED_EDGES[1:])):
            m = (q >= lo) & ((q < hi) if hi < 1 else (q <= hi))
            y, d = T[m], E[m] - T[m]
            cells[i] += m.sum()
            ss[i] += [((y - y.mean()) ** 2).sum()] + [cubic_ss(y, [x[m]]) for x in xs] + \
                     [cubic_ss(y, [x[m] for x in xs]), ((d - d.mean()) ** 2).sum()]
    print("# %s: r2 of the truths' per-cell mean log10 by a cubic in log10 DM, the cell's own (floored at %g of"
          % (field, floor))
    print("# the mean) or smoothed by a Gaussian of r cells, fitted per box; and of the emulated per-cell mean")
    print("# %-13s %8s %9s %7s %s %7s %9s" % ("dm_quantile", "cells", "truth_sd", "local",
                                            " ".join("%7s" % ("r=%g" % r) for r in SMOOTH), "all", "emulated"))
    for i, (lo, hi) in enumerate(zip(PRED_EDGES[:-1], PRED_EDGES[1:])):
        r2 = 1 - ss[i, 1:] / ss[i, 0] if ss[i, 0] > 0 else np.full(ss.shape[1] - 1, np.nan)
        print("%-15s %8d %9.4f %s %9.3f" % ("%.3f-%.3f" % (lo, hi), cells[i], np.sqrt(ss[i, 0] / cells[i]),
                                           " ".join("%7.3f" % v for v in r2[:-1]), r2[-1]))


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    argv, floor = sys.argv[1:], 0.05
    if argv[0] == "--dm-floor":
        try:
            floor = float(argv[1]) if len(argv) > 1 else float("nan")
        except ValueError:
            floor = float("nan")
        if not floor > 0:
            sys.exit("scatter_by_dm.py: --dm-floor expects a number > 0 (a fraction of the mean DM density), got %s"
                     % (argv[1] if len(argv) > 1 else "nothing"))
        argv = argv[2:]
    gs = groups(argv)
    normalisation_shifts(gs)
    for field in FIELDS:
        scatter_table(gs, field)
    for field in FIELDS:
        spectrum_table(gs, field)
    for field in FIELDS:
        predictability_table(gs, field, floor)


if __name__ == "__main__":
    main()
