/* FastPM kick and drift factors; the step list (hb/stepper.h). */
#include "hb/stepper.h"

#include <math.h>
#include <stdlib.h>

double hb_gp(const hb_cosmo *c, double a)
{
    return a * a * hb_cosmo_E(c, a) * hb_cosmo_f1(c, a) * hb_cosmo_d1(c, a);
}

double hb_kick_factor(const hb_cosmo *c, double a_force, double a0, double a1)
{
    return (hb_gp(c, a1) - hb_gp(c, a0)) / hb_cosmo_d1(c, a_force);
}

double hb_drift_factor(const hb_cosmo *c, double a_mom, double a0, double a1)
{
    return (hb_cosmo_d1(c, a1) - hb_cosmo_d1(c, a0)) / hb_gp(c, a_mom);
}

hb_status hb_timesteps(double a_init, const double *a_out, int n_out, int n_steps,
                       double **a_steps, int *n)
{
    if (n_out < 1 || n_steps < 1) return HB_ERR(HB_EARG, "need at least one output and one step");
    double a_end = a_out[n_out - 1];
    /* interval edges: a_init, then every output above it */
    double *edge = malloc((size_t)(n_out + 1) * sizeof *edge);
    int ne = 0;
    edge[ne++] = a_init;
    for (int i = 0; i < n_out; i++) {
        if (a_out[i] > edge[ne - 1]) edge[ne++] = a_out[i];
    }
    int total = 0;
    int *per = malloc((size_t)ne * sizeof *per);
    for (int i = 0; i + 1 < ne; i++) {
        double share = n_steps * (edge[i + 1] - edge[i]) / (a_end - a_init);
        per[i] = (int)lround(share);
        if (per[i] < 1) per[i] = 1;
        total += per[i];
    }
    double *a = malloc((size_t)(total + 1) * sizeof *a);
    int k = 0;
    a[k++] = a_init;
    for (int i = 0; i + 1 < ne; i++) {
        for (int s = 1; s <= per[i]; s++) {
            a[k++] = s == per[i] ? edge[i + 1] : edge[i] + (edge[i + 1] - edge[i]) * s / per[i];
        }
    }
    free(edge);
    free(per);
    *a_steps = a;
    *n = total;
    return HB_OK;
}
