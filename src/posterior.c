/* Posterior summaries (hb/posterior.h). */
#include "hb/posterior.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

long hb_posterior_argmax(const double *loglike, long n_points)
{
    long best = 0;
    for (long i = 1; i < n_points; i++)
        if (loglike[i] > loglike[best]) best = i;
    return best;
}

/* The q-quantile of cells of width h from lo with probabilities p (sum 1). */
static double cell_quantile(const double *p, int n, double lo, double h, double q)
{
    double c = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] > 0 && c + p[i] >= q) return lo + h * (i + (q - c) / p[i]);
        c += p[i];
    }
    return lo + h * n;
}

hb_status hb_posterior_grid(const double *loglike, int n_dim, int n, int dim, double lo, double hi, hb_interval *out,
                            double *marg)
{
    if (n_dim < 1 || n < 1 || dim < 0 || dim >= n_dim || !(hi > lo)) {
        return HB_ERR0(HB_EARG, "posterior grid of %d dimensions x %d points, dimension %d on [%g, %g]", n_dim, n, dim,
                       lo, hi);
    }
    long total = 1, stride = 1;
    for (int d = 0; d < n_dim; d++) total *= n;
    for (int d = dim + 1; d < n_dim; d++) stride *= n;
    const double mx = loglike[hb_posterior_argmax(loglike, total)];
    if (!isfinite(mx)) return HB_ERR0(HB_EARG, "no finite log-likelihood on the grid (largest %g)", mx);
    double *p = calloc((size_t)n, sizeof *p), sum = 0;
    if (!p) return HB_ERR0(HB_ENOMEM, "marginal of %d cells", n);
    for (long i = 0; i < total; i++) {
        if (isnan(loglike[i])) { free(p); return HB_ERR0(HB_EARG, "log-likelihood of grid point %ld is NaN", i); }
        double w = exp(loglike[i] - mx);
        p[(i / stride) % n] += w;
        sum += w;
    }
    int best = 0;
    for (int i = 0; i < n; i++) {
        p[i] /= sum;
        if (p[i] > p[best]) best = i;
        if (marg) marg[i] = p[i];
    }
    const double h = (hi - lo) / n;
    out->mode = lo + h * (best + 0.5);
    out->median = cell_quantile(p, n, lo, h, 0.5);
    out->lo68 = cell_quantile(p, n, lo, h, 0.16);
    out->hi68 = cell_quantile(p, n, lo, h, 0.84);
    out->lo95 = cell_quantile(p, n, lo, h, 0.025);
    out->hi95 = cell_quantile(p, n, lo, h, 0.975);
    free(p);
    return HB_OK;
}

void hb_posterior_samples(double *x, long n, hb_interval *out)
{
    gsl_sort(x, 1, (size_t)n);
    out->median = out->mode = gsl_stats_quantile_from_sorted_data(x, 1, (size_t)n, 0.5);
    out->lo68 = gsl_stats_quantile_from_sorted_data(x, 1, (size_t)n, 0.16);
    out->hi68 = gsl_stats_quantile_from_sorted_data(x, 1, (size_t)n, 0.84);
    out->lo95 = gsl_stats_quantile_from_sorted_data(x, 1, (size_t)n, 0.025);
    out->hi95 = gsl_stats_quantile_from_sorted_data(x, 1, (size_t)n, 0.975);
}
