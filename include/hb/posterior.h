/* hb/posterior.h: summaries of a posterior from log-likelihoods on a grid
 * or from samples of a chain.
 *
 * A grid has n points per dimension at the centres of n equal cells of a
 * box (prior uniform in the coordinates, zero outside); the marginal density
 * of one coordinate is taken constant inside each cell, so its quantiles
 * interpolate linearly in the cell. Intervals are equal-tailed: 68% from
 * the 16th to the 84th percentile, 95% from the 2.5th to the 97.5th. Not
 * collective. */
#ifndef HB_POSTERIOR_H
#define HB_POSTERIOR_H

#include "hb/err.h"

typedef struct hb_interval {
    double mode;             /* the marginal's most probable cell centre (grid) or the median (samples) */
    double median;
    double lo68, hi68, lo95, hi95;
} hb_interval;

/* The marginal of dimension `dim` of an n_dim-dimensional grid with n
 * points per dimension (row-major, the last dimension fastest), cells of
 * [lo, hi] in that coordinate; loglike may hold -inf (a point outside the
 * prior) but not NaN. marg (n, may be NULL) receives the normalised marginal
 * probabilities of the cells. */
hb_status hb_posterior_grid(const double *loglike, int n_dim, int n, int dim, double lo, double hi, hb_interval *out,
                            double *marg);
/* The index of the largest log-likelihood on the grid. */
long hb_posterior_argmax(const double *loglike, long n_points);
/* Quantile summary of n samples (sorted in place). */
void hb_posterior_samples(double *x, long n, hb_interval *out);

#endif
