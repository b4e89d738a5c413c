#!/usr/bin/env python3
"""Plot the posterior written by `hydrobridge infer --out OUT`.

Reads OUT.txt (one row per grid point or chain step) and OUT_summary.txt
(maximum, intervals, the gas box's own parameters), writes OUT.png: for each
varied parameter its marginal with the 68% and 95% intervals and the truth
marked; for two or more, the joint of the first two (grid: the posterior
image; chain: the samples).

usage: plot_posterior.py OUT [--out FILE.png]
"""
import argparse
import sys

import numpy as np

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LOG_PARAMS = {"a_sn1", "a_agn1", "a_sn2", "a_agn2"}


def read_table(path):
    header, names, rows = None, None, []
    with open(path) as f:
        for line in f:
            if line.startswith("# hydrobridge infer:"):
                header = line[2:].strip()
            elif line.startswith("# point"):
                names = line[2:].split()[1:]
            elif line.strip() and not line.startswith("#"):
                rows.append([float(v) for v in line.split()])
    if header is None or names is None or not rows:
        sys.exit(f"{path}: not a table written by hydrobridge infer")
    data = np.array(rows)
    return header, names[:-3], data[:, 1:1 + len(names) - 3], data[:, -3]


def read_summary(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            p = line.split()
            out[p[0]] = dict(zip(["truth", "maximum", "mode", "median", "lo68", "hi68", "lo95", "hi95"],
                                 map(float, p[1:9])))
    return out


def grid_marginal(x, w, j):
    """Cell centres of coordinate j and their marginal probability."""
    centres = np.unique(x[:, j])
    p = np.array([w[x[:, j] == c].sum() for c in centres])
    return centres, p / p.sum()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the --out of hydrobridge infer")
    ap.add_argument("--out", dest="png", default=None)
    a = ap.parse_args()
    header, names, x, logp = read_table(a.out + ".txt")
    summ = read_summary(a.out + "_summary.txt")
    chain = " mcmc=" in header
    if chain:
        x, logp = x[len(x) // 5:], logp[len(x) // 5:]
    w = np.exp(logp - logp.max())
    nv = len(names)
    ncol = nv + (1 if nv >= 2 else 0)
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 3.6), squeeze=False)
    for j, name in enumerate(names):
        ax, s = axes[0, j], summ[name]
        if chain:
            bins = np.geomspace(x[:, j].min(), x[:, j].max(), 30) if name in LOG_PARAMS else 30
            ax.hist(x[:, j], bins=bins, density=True, color="0.6")
        else:
            c, p = grid_marginal(x, w, j)
            ax.plot(c, p, "o-", color="k", ms=3)
            ax.set_ylabel("marginal probability per cell")
            # the profile log-likelihood: informative where the posterior is one cell wide
            prof = np.array([logp[x[:, j] == ci].max() for ci in c]) - logp.max()
            tw = ax.twinx()
            tw.plot(c, prof, "s:", color="C2", ms=3)
            tw.set_ylabel("profile log p - max [nats]", color="C2", fontsize=8)
            tw.tick_params(axis="y", labelcolor="C2", labelsize=7)
        ax.axvspan(s["lo95"], s["hi95"], color="C0", alpha=0.15, label="95%")
        ax.axvspan(s["lo68"], s["hi68"], color="C0", alpha=0.3, label="68%")
        ax.axvline(s["truth"], color="C3", lw=2, label="truth (gas box)")
        ax.axvline(s["maximum"], color="k", ls="--", lw=1, label="maximum")
        if name in LOG_PARAMS:
            ax.set_xscale("log")
        ax.set_xlabel(name)
        if j == 0:
            ax.legend(fontsize=7)
    if nv >= 2:
        ax = axes[0, nv]
        if chain:
            ax.plot(x[:, 0], x[:, 1], ".", ms=2, color="0.4")
        else:
            # log p - max over the first two coordinates (maximised over any others)
            c0, c1 = np.unique(x[:, 0]), np.unique(x[:, 1])
            img = np.full((len(c1), len(c0)), -np.inf)
            for (u, v), li in zip(x[:, :2], logp - logp.max()):
                i, k = np.searchsorted(c1, v), np.searchsorted(c0, u)
                img[i, k] = max(img[i, k], li)
            pc = ax.pcolormesh(c0, c1, img, shading="nearest", cmap="viridis")
            fig.colorbar(pc, ax=ax).set_label("log p - max [nats]", fontsize=8)
            ax.contour(c0, c1, img, levels=[-3.09, -1.15], colors="w", linewidths=1)   # 95%, 68% (2 parameters)
            best = x[np.argmax(logp)]
            ax.plot(best[0], best[1], "x", color="w", ms=10, label="maximum")
        ax.plot(summ[names[0]]["truth"], summ[names[1]]["truth"], "*", color="C3", ms=14, label="truth")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        for name, setter in ((names[0], ax.set_xscale), (names[1], ax.set_yscale)):
            if name in LOG_PARAMS:
                setter("log")
        ax.legend(fontsize=7)
    fig.suptitle("posterior: the model's likelihood,\nuniform prior in the normalised parameters", fontsize=8)
    fig.tight_layout()
    png = a.png or a.out + ".png"
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


if __name__ == "__main__":
    main()
