#!/usr/bin/python3
"""How much of an emulator's gas P(k) error its densest cells make
(a diagnostic; hydrobridge box files)

The gas-density power spectrum of a small box is made by a few cells: in the
demo's 32^3 boxes the densest 0.1% (33 cells, the halos' cores) set the
P(k) between k_Nyq/4 and k_Nyq/2. For each held-out box the cells are
ranked by the truths' mean log10 gas density (the held-out truth and its
repaints), every field divided by its own mean as P(k) of the overdensity
does, and for the densest fraction --top (0.001 unless given) the table
gives:

  rho2_ratio   sum of rho^2 over those cells, mean over the samples against
               the mean over the truths (1 is right)
  bias_dex     the samples' mean log10 rho there minus the truths' mean
  rms_samples  rms of the samples' log10 rho about the truths' mean there
  rms_truths   the same for the truths (n/(n-1) corrected): one truth's
               distance from the others' mean, the floor
  sd_samples   each cell's standard deviation over the samples (n - 1 in
               the denominator), rms over those cells: the samples' own
               scatter, without their mean's error
  sd_truths    the same over the truths: the scatter a perfect emulator's
               samples would have (rms_truths again: about their own
               mean, n - 1 in the denominator, the two are one number;
               printed beside sd_samples for the comparison)
  pk_mid_ratio the gas P(k) of the samples over the truths' (means over
               the files) in the modes with N/8 <= |k|/k_F < N/4
  level_truths the truths' mean log10 rho there: where bias_dex is
               measured from (scripts/probe.sh follows it as a parameter
               varies)

and over three or more boxes the correlation of the logs of rho2_ratio
and pk_mid_ratio (near 1 says the mid-band gas P(k) error is these cells')
and the least-squares slope of sd_samples on sd_truths (1: the samples'
scatter follows the truths' from box to box, as the mock's grows with
A_AGN2; 0: one scatter for every box).

  cores.py [--top Q] --truth T.h5 --repaints R1.h5 ... --emulated E1.h5 E2.h5 ... [--truth ...]
"""
import os
import sys

import numpy as np

from scatter_by_dm import groups, read, rfft_k2


def normalised(paths):
    """The files' gas densities, each divided by its own mean."""
    out = []
    for p in paths:
        g = read(p, "gas_density")
        out.append(g / g.mean())
    return np.array(out)


def mid_band_power(fields):
    """Mean over the fields of |FFT(rho - 1)|^2 over the modes with N/8 <= |k|/k_F < N/4 (rfftn's half)."""
    n = fields.shape[1]
    k = np.sqrt(rfft_k2(n))
    band = (k >= n / 8) & (k < n / 4)
    return np.mean([(np.abs(np.fft.rfftn(f - 1)) ** 2)[band].mean() for f in fields])


def box_row(g, top):
    T = normalised(g["truth"] + g["repaints"])
    S = normalised(g["emulated"])
    lt, ls = np.log10(T), np.log10(S)
    tm = lt.mean(axis=0)
    cells = np.argsort(tm, axis=None, kind="stable")[::-1][:max(1, int(round(top * tm.size)))]
    t_c, s_c = lt.reshape(len(T), -1)[:, cells], ls.reshape(len(S), -1)[:, cells]
    tm_c = tm.ravel()[cells]
    rho2 = np.mean((10 ** (2 * s_c)).sum(axis=1)) / np.mean((10 ** (2 * t_c)).sum(axis=1))
    rms_s = np.sqrt(np.mean((s_c - tm_c) ** 2))
    rms_t = np.sqrt(np.mean((t_c - tm_c) ** 2) * len(T) / (len(T) - 1))
    sd_s = np.sqrt(np.mean(s_c.var(axis=0, ddof=1))) if len(S) > 1 else np.nan
    return (len(cells), rho2, np.mean(s_c - tm_c), rms_s, rms_t, sd_s, rms_t, mid_band_power(S) / mid_band_power(T),
            np.mean(tm_c))


def main():
    argv, top = sys.argv[1:], 0.001
    if argv[:1] == ["--top"]:
        if len(argv) < 2:
            sys.exit("cores.py: --top expects a fraction in (0, 1)")
        try:
            top = float(argv[1])
        except ValueError:
            top = -1
        if not 0 < top < 1:
            sys.exit("cores.py: --top expects a fraction in (0, 1), found %s" % argv[1])
        argv = argv[2:]
    gs = groups(argv)
    print("# the densest %.3g%% of cells by the truths' mean log10 gas density, each field over its own mean" % (100 * top))
    print("# %-22s %6s %10s %9s %11s %10s %10s %9s %12s %12s" % ("box", "cells", "rho2_ratio", "bias_dex", "rms_samples",
                                                                  "rms_truths", "sd_samples", "sd_truths", "pk_mid_ratio",
                                                                  "level_truths"))
    rows = []
    for g in gs:
        r = box_row(g, top)
        rows.append(r)
        print("%-24s %6d %10.3f %+9.4f %11.4f %10.4f %10.4f %9.4f %12.3f %12.4f" % ((os.path.basename(g["truth"][0]),) + r))
    if len(rows) >= 3:
        a = np.log([r[1] for r in rows])
        b = np.log([r[7] for r in rows])
        print("# correlation of log rho2_ratio and log pk_mid_ratio over %d boxes: %.3f" % (len(rows),
                                                                                       np.corrcoef(a, b)[0, 1]))
        sd_s, sd_t = np.array([r[5] for r in rows]), np.array([r[6] for r in rows])
        if np.all(np.isfinite(sd_s)) and np.ptp(sd_t) > 0:
            print("# slope of sd_samples on sd_truths over %d boxes: %.3f" % (len(rows), np.polyfit(sd_t, sd_s, 1)[0]))


if __name__ == "__main__":
    main()
