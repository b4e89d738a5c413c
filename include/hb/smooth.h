/* hb/smooth.h: the smoothed-DM conditioning channels (train --dm-smooth
 * R[,R2]: one channel per radius).
 *
 * The DM density (rho/mean) convolved with a periodic Gaussian of r cells,
 * exp(-k^2 r^2 / 2) in Fourier space (k in radians per cell), then log10,
 * floored at HB_SMOOTH_FLOOR, and standardised with the training set's mean
 * and std (hb_interp.smooth_*). It carries the mean density over the few
 * cells around a cell, which the DM channel, floored at 0.05 of the mean in
 * the demo, has lost in the voids (docs/fidelity.md, "The voids'
 * information is in the smoothed DM").
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
    float         *real;     /* N^3, FFTW-aligned */
    fftwf_complex *cplx;     /* N^2 (N/2 + 1) */
    float         *kernel;   /* N^2 (N/2 + 1): the Gaussian over N^3 (FFTW's inverse is unnormalised) */
    fftwf_plan     fwd, bwd;
} hb_smoother;

hb_status hb_smoother_init(hb_smoother *s, int N, double r);
void      hb_smoother_free(hb_smoother *s);   /* safe on a zeroed struct */
/* out (N^3, C order; may be in) = in smoothed. */
void      hb_smoother_apply(hb_smoother *s, const float *in, float *out);

/* 1 when r is a usable radius: 0 (off) or within (0, HB_SMOOTH_MAX_R]. */
int   hb_smooth_radius_ok(double r);
/* 1 when r[0..n) are n usable smoothed-DM radii: n = 0, or n within
 * [1, HB_SMOOTH_MAX_CH] radii each within (0, HB_SMOOTH_MAX_R], distinct. */
int   hb_smooth_radii_ok(int n, const double *r);
/* Set ic's smoothed-DM channels from n radii as given on a command line
 * (a single 0: none); 1 when they are usable (hb_smooth_radii_ok), else 0
 * and ic unchanged. */
int   hb_smooth_set(hb_interp *ic, int n, const double *r);
/* "none", "2 cells" or "1, 2 cells": for log lines. */
const char *hb_smooth_describe(const hb_interp *ic, char *buf, size_t size);
/* Channel j's value of a smoothed density v (floored, log10, standardised). */
float hb_smooth_to_std(const hb_interp *ic, int j, float v);
/* The whole DM field of an open box file (N^3), read on every rank of the
 * file's comm and checked, smoothed by each of ic->smooth_r[0..n_smooth);
 * this rank's planes [x0, x0 + nx) of the standardised channels into xs
 * (nx N^2 cells x n_smooth, channels last). */
hb_status hb_smooth_read(const hb_interp *ic, hb_h5 *f, int N, long x0, long nx, float *xs);

#endif
