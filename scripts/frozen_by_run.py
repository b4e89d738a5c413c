#!/usr/bin/python3
"""Is an emulator's per-cell error its training's draw or the recipe's own?
(a diagnostic; hydrobridge box files)

Several runs (trainings with other seeds, or other recipes) emulate the same
held-out box. For each run the per-cell error is the mean of its samples'
log10 minus the truths' mean (the held-out truth and its mock repaints).
Within bins of the DM density's quantile the table gives the rms error of
one run, its frozen part (the rms less what the finite sample counts
explain, the runs' and the truths', as in scatter_by_dm.py), the rms error
of the runs' mean, and the correlation of the errors between pairs of runs
(each bin's mean error removed): raw, and of the frozen parts (the pairs'
covariance less the truths' sampling variance, which every run shares, over
the frozen variances). A
correlation near 1 says the error is the same in every run, so averaging
runs or retraining with other seeds will not remove it; near 0, it is each
training's own draw.

  frozen_by_run.py --truth T.h5 --repaints R1.h5 ... --run E1.h5 E2.h5 ... --run F1.h5 ... [--run ...]

Runs should be emulated with different sampler seeds (`emulate --seed`):
runs sharing them (the demo's samples are seeds 1-4 in every run) share
their sampler noise as far as their networks map it alike, which the raw
correlation counts as agreement and the frozen one shows as a value above 1.

Needs at least one repaint, two runs and two samples per run.
"""
import sys

import numpy as np

from scatter_by_dm import logs, read

EDGES = [0, 0.5, 0.9, 0.98, 1]
FIELDS = ("gas_density", "gas_temperature")


def parse(argv):
    """--truth T --repaints R... --run E... --run ... -> (truth, repaints, [runs])."""
    truth, reps, runs, key = [], [], [], None
    for a in argv:
        if a in ("--truth", "--repaints", "--run"):
            key = a[2:]
            if key == "run":
                runs.append([])
        elif key == "truth":
            truth.append(a)
        elif key == "repaints":
            reps.append(a)
        elif key == "run":
            runs[-1].append(a)
        else:
            sys.exit("frozen_by_run.py: unexpected argument %s" % a)
    if len(truth) != 1 or len(reps) < 1 or len(runs) < 2 or min(len(r) for r in runs) < 2:
        sys.exit("frozen_by_run.py: expected one --truth, at least one repaint, and at least two --run of two "
                 "samples each (got %d truth, %d repaints, runs of %s samples)"
                 % (len(truth), len(reps), [len(r) for r in runs]))
    return truth[0], reps, runs


def table(truth, reps, runs, field):
    dm = read(truth, "dm_density").ravel()
    q = np.argsort(np.argsort(dm, kind="stable"), kind="stable") / (dm.size - 1.0)
    T = logs([truth] + reps, field).reshape(-1, dm.size)
    tm, tv = T.mean(axis=0), T.var(axis=0, ddof=1) / len(T)
    err, noise = [], []
    for r in runs:
        E = logs(r, field).reshape(-1, dm.size)
        err.append(E.mean(axis=0) - tm)
        noise.append(E.var(axis=0, ddof=1) / len(E))   # the variance of this run's finite-sample mean
    err, noise = np.array(err), np.array(noise)
    n = len(runs)
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    print("# %s: per-cell error of %d runs' sample means [dex] against the truths' mean, by DM-density quantile"
          % (field, n))
    print("# rms_run, frozen_run: one run's (mean over runs); rms_mean: the runs' mean; corr: between pairs of runs,")
    print("# mean, min and max; corr_frozen: the mean with the sampling noise taken out")
    print("# %-13s %8s %9s %10s %9s %7s %7s %7s %11s" % ("dm_quantile", "cells", "rms_run", "frozen_run", "rms_mean",
                                                        "corr", "min", "max", "corr_frozen"))
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        m = (q >= lo) & ((q < hi) if hi < 1 else (q <= hi))
        e = err[:, m] - err[:, m].mean(axis=1, keepdims=True)
        ms = (e ** 2).mean(axis=1)
        # the frozen part: less the run's sampling noise and the truths' (which every run shares, so it is
        # also taken out of the pairs' covariance)
        t = tv[m].mean()
        fz = np.maximum(ms - noise[:, m].mean(axis=1) - t, 0.0)
        cov = [(e[a] * e[b]).mean() for a, b in pairs]
        c = [cv / np.sqrt(ms[a] * ms[b]) for cv, (a, b) in zip(cov, pairs)]
        cf = [(cv - t) / np.sqrt(fz[a] * fz[b]) if fz[a] * fz[b] > 0 else np.nan for cv, (a, b) in zip(cov, pairs)]
        print("%-15s %8d %9.4f %10.4f %9.4f %7.3f %7.3f %7.3f %11.3f"
              % ("%.2f-%.2f" % (lo, hi), m.sum(), np.sqrt(ms).mean(), np.sqrt(fz).mean(),
                 np.sqrt((e.mean(axis=0) ** 2).mean()), np.mean(c), np.min(c), np.max(c), np.nanmean(cf)))


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    truth, reps, runs = parse(sys.argv[1:])
    for field in FIELDS:
        table(truth, reps, runs, field)


if __name__ == "__main__":
    main()
