/* hb/smooth.h: the smoothed-DM conditioning channels (train --dm-smooth
 * R[,R2]: one channel per radius; --dm-halo T,R: one more, of the DM above
 * T times the mean).
 *
 * The DM density (rho/mean) convolved with a periodic Gaussian of r cells,
 * exp(-k^2 r^2 / 2) in Fourier space (k in radians per cell), then log10,
 * floored at HB_SMOOTH_FLOOR, and standardised with the training set's mean
 * and std (hb_interp.smooth_*). It carries the mean density over the few
 * cells around a cell, which the DM channel, floored at 0.05 of the mean in
 * the demo, has lost in the voids (docs/fidelity.md, "The voids'
 * information is in the smoothed DM"). A channel with a threshold T > 0
 * smooths max(rho - T, 0) instead: the mass of the halos alone, spread
 * over r, where feedback carries their gas (docs/fidelity.md, "A halo
 * channel").
 *
 * One rank smooths a whole box (serial FFTW, float): the training loader
 * smooths the original box and then applies the sample's cube symmetry and
 * periodic shift, which commute with an isotropic periodic Gaussian; the
 * emulator and the likelihood smooth the whole box on every rank and keep
 * their planes. The same code path everywhere makes the channel identical
 * for every rank count. Memory: 2 N^3 floats per smoother.
 * hb_smoother_init plans (FFTW's planner is not thread-safe: call it from
 * one thread); hb_smoother_apply may run in another thread. Collective over
 * the file's comm: hb_smooth_read. */
#ifndef HB_SMOOTH_H
#define HB_SMOOTH_H

#include <fftw3.h>
#include <stddef.h>

#include "hb/err.h"
#include "hb/h5io.h"
#include "hb/interp.h"

#define HB_SMOOTH_FLOOR 1e-3   /* of the mean, before log10 (a smoothed field is rarely below it) */
#define HB_SMOOTH_MAX_R 8.0    /* cells: --dm-smooth within (0, 8] */

typedef struct hb_smoother {
    int            N;
    double         r;        /* cells */
    float          thr;      /* of the mean: smooths max(in - thr, 0); 0: in itself */
    float         *real;     /* N^3, FFTW-aligned */
    fftwf_complex *cplx;     /* N^2 (N/2 + 1) */
    float         *kernel;   /* N^2 (N/2 + 1): the Gaussian over N^3 (FFTW's inverse is unnormalised) */
    fftwf_plan     fwd, bwd;
} hb_smoother;

/* A smoother of r cells for the DM above thr (0: the DM itself). */
hb_status hb_smoother_init(hb_smoother *s, int N, double r, double thr);
void      hb_smoother_free(hb_smoother *s);   /* safe on a zeroed struct */
/* out (N^3, C order; may be in) = max(in - thr, 0) (in itself for thr 0) smoothed. */
void      hb_smoother_apply(hb_smoother *s, const float *in, float *out);

#define HB_SMOOTH_MAX_THR 1e4   /* of the mean: --dm-halo's threshold within (0, 1e4] */
/* The rule of --dm-smooth and --dm-halo, for the command lines' messages (its numbers are
 * HB_SMOOTH_MAX_R, HB_SMOOTH_MAX_THR and HB_SMOOTH_MAX_CH). */
#define HB_SMOOTH_OPTIONS_RULE "--dm-smooth 0 or distinct radii within (0, 8] cells, --dm-halo T,R with 0 < T <= 1e4 " \
                               "and R within (0, 8], up to 3 smoothed channels in all"

/* 1 when r is a usable radius: 0 (off) or within (0, HB_SMOOTH_MAX_R]. */
int   hb_smooth_radius_ok(double r);
/* 1 when (r, thr)[0..n) are n usable channels: n = 0, or n within
 * [1, HB_SMOOTH_MAX_CH], each radius within (0, HB_SMOOTH_MAX_R], each
 * threshold within [0, HB_SMOOTH_MAX_THR] (thr NULL: all 0), no two alike. */
int   hb_smooth_channels_ok(int n, const double *r, const double *thr);
/* Set ic's smoothed-DM channels as the command lines give them: n radii
 * r (--dm-smooth; a single 0: none), then nh values halo (--dm-halo: 0
 * values or a single 0: none; 2: one more channel of the DM above halo[0]
 * times the mean smoothed by halo[1] cells, halo[0] > 0); 1 when they are
 * usable (hb_smooth_channels_ok), else 0 and ic unchanged. */
int   hb_smooth_set(hb_interp *ic, int n, const double *r, int nh, const double *halo);
/* The inverse: ic's radii without a threshold into r[0..*n) and its halo
 * channel's threshold and radius into halo (*nh = 2; 0 without one), so
 * that --dm-smooth and --dm-halo can each replace their own part of a
 * recipe (r: HB_SMOOTH_MAX_CH values). */
void  hb_smooth_split(const hb_interp *ic, double *r, int *n, double halo[2], int *nh);
/* "none", "2 cells", "1, 2 cells" or "1 cells, 1.5 cells of the DM above 3": for log lines. */
const char *hb_smooth_describe(const hb_interp *ic, char *buf, size_t size);
/* Channel j's value of a smoothed density v (floored, log10, standardised). */
float hb_smooth_to_std(const hb_interp *ic, int j, float v);
/* The whole DM field of an open box file (N^3), read on every rank of the
 * file's comm and checked, smoothed by each of ic->smooth_r[0..n_smooth);
 * this rank's planes [x0, x0 + nx) of the standardised channels into xs
 * (nx N^2 cells x n_smooth, channels last). */
hb_status hb_smooth_read(const hb_interp *ic, hb_h5 *f, int N, long x0, long nx, float *xs);

#endif
