/* Calibration of the mock's constants against the syren-baryon TNG fit
 * (hb/mock_calib.h). */
#include "hb/mock_calib.h"

#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"
#include "hb/pk.h"
#include "hb/suppression.h"

typedef struct calib {
    const hb_mesh *m;
    const float *dm;
    hb_boxinfo bi;
    hb_mock_config base;
    float *gas, *temp, *stars, *tot, *work;
    double *pdm, *kk;        /* DM-only P(k) on the bins */
    int nb;
    double agn2[3];
    int evals;
} calib;

/* S_mock(k) = P_tot / P_dm for A_AGN2 = agn2; fills s[nb]. */
static hb_status mock_suppression(calib *c, const hb_mock_config *mc, double agn2, double *s)
{
    double th[HB_NTHETA], fs;
    memcpy(th, c->bi.theta, sizeof th);
    th[HB_A_AGN2] = agn2;
    HB_TRY(hb_mock_paint(c->m, c->dm, mc, th, c->bi.redshift, c->gas, c->temp, c->stars, &fs));
    hb_mock_total(c->m, c->dm, c->gas, c->stars, c->bi.omega_b / c->bi.theta[HB_OMEGA_M], fs, c->tot);
    HB_TRY(hb_pk_to_delta(c->m, c->tot, NULL));
    hb_pk pk;
    HB_TRY(hb_pk_compute(&pk, c->m, c->tot, NULL, HB_MAS_CIC, HB_MAS_CIC));
    for (int j = 0; j < c->nb; j++) s[j] = pk.p11[j] / c->pdm[j];
    hb_pk_free(&pk);
    return HB_OK;
}

/* The fitted constants through bounding maps, so the simplex cannot leave
 * their physical meaning: f0 in (0, 0.6) (f_ej must still grow with the A's
 * below its 0.9 cap), delta_c > 1 and width > 0.1 (a halo mask, not a
 * threshold on every overdensity), r0 > 0, k_jeans > 1 h/Mpc,
 * sigma_gas0 in (0, 0.5). */
#define NFIT 6
static double logistic(double x) { return 1 / (1 + exp(-x)); }
static double logit(double p) { return log(p / (1 - p)); }

static hb_mock_config with(const calib *c, const gsl_vector *x)
{
    hb_mock_config mc = c->base;
    mc.f0 = 0.6 * logistic(gsl_vector_get(x, 0));
    mc.r0 = exp(gsl_vector_get(x, 1));
    mc.delta_c = 1 + exp(gsl_vector_get(x, 2));
    mc.w = 0.1 + exp(gsl_vector_get(x, 3));
    mc.k_jeans = 1 + exp(gsl_vector_get(x, 4));
    mc.sg0 = 0.5 * logistic(gsl_vector_get(x, 5));
    return mc;
}

static void start_point(const hb_mock_config *m, gsl_vector *x)
{
    gsl_vector_set(x, 0, logit(fmin(fmax(m->f0 / 0.6, 0.01), 0.99)));
    gsl_vector_set(x, 1, log(m->r0));
    gsl_vector_set(x, 2, log(fmax(m->delta_c - 1, 1e-3)));
    gsl_vector_set(x, 3, log(fmax(m->w - 0.1, 1e-3)));
    gsl_vector_set(x, 4, log(fmax(m->k_jeans - 1, 1e-3)));
    gsl_vector_set(x, 5, logit(fmin(fmax(m->sg0 / 0.5, 0.01), 0.99)));
}

typedef struct calib_set { calib *c; int n; } calib_set;

/* Mean squared log-ratio to the syren-baryon TNG fit over 1 <= k <= 10, three A_AGN2. */
static double objective1(const gsl_vector *x, calib *c);

/* ... averaged over every calibration box (realisations differ by ~5% at k ~ 1-3) */
static double objective(const gsl_vector *x, void *vp)
{
    calib_set *cs = vp;
    double s = 0;
    for (int i = 0; i < cs->n; i++) s += objective1(x, &cs->c[i]);
    return s / cs->n;
}

static double objective1(const gsl_vector *x, calib *c)
{
    hb_mock_config mc = with(c, x);
    double *s = malloc((size_t)c->nb * sizeof *s), sum = 0;
    int n = 0;
    for (int a = 0; a < 3; a++) {
        if (mock_suppression(c, &mc, c->agn2[a], s) != HB_OK) { free(s); return 1e30; }
        double th[HB_NTHETA];
        memcpy(th, c->bi.theta, sizeof th);
        th[HB_A_AGN2] = c->agn2[a];
        for (int j = 0; j < c->nb; j++) {
            if (c->kk[j] < 1 || c->kk[j] > 10) continue;
            double r = log(s[j] / hb_syren_tng(c->kk[j], c->bi.redshift, th));
            sum += r * r;
            n++;
        }
    }
    free(s);
    c->evals++;
    return sum / (n > 0 ? n : 1);
}

/* The DM-only spectrum and the work meshes of one calibration box. */
static hb_status calib_setup(calib *c, const hb_calib_box *box, const hb_mock_config *base)
{
    const hb_mesh *m = box->m;
    c->m = m;
    c->dm = box->dm;
    c->bi = box->info;
    c->base = *base;
    c->agn2[0] = 1.0; c->agn2[1] = 0.5; c->agn2[2] = 2.0;
    c->gas = hb_mesh_alloc(m); c->temp = hb_mesh_alloc(m); c->stars = hb_mesh_alloc(m);
    c->tot = hb_mesh_alloc(m); c->work = hb_mesh_alloc(m);
    if (hb_mpi_any(m->comm, !c->gas || !c->temp || !c->stars || !c->tot || !c->work)) {
        return HB_ERR0(HB_ENOMEM, "calibration meshes (%d^3)", m->N);
    }
    memcpy(c->work, box->dm, 2 * (size_t)m->alloc_local * sizeof *c->work);
    hb_pk pk;
    HB_TRY(hb_pk_to_delta(m, c->work, NULL));
    HB_TRY(hb_pk_compute(&pk, m, c->work, NULL, HB_MAS_CIC, HB_MAS_CIC));
    c->nb = pk.nbins;
    c->pdm = malloc((size_t)c->nb * sizeof *c->pdm);
    c->kk = malloc((size_t)c->nb * sizeof *c->kk);
    memcpy(c->pdm, pk.p11, (size_t)c->nb * sizeof *c->pdm);
    memcpy(c->kk, pk.k, (size_t)c->nb * sizeof *c->kk);
    hb_pk_free(&pk);
    return HB_OK;
}

static void calib_free(calib *c)
{
    fftwf_free(c->gas); fftwf_free(c->temp); fftwf_free(c->stars); fftwf_free(c->tot); fftwf_free(c->work);
    free(c->pdm); free(c->kk);
}

/* The table of S_mock against the TNG fit; *worst over k = 1-10 h/Mpc. */
static hb_status print_table(calib *c, const hb_mock_config *fit, double *worst)
{
    double *tab[3];   /* S_mock per bin for each A_AGN2 */
    for (int a = 0; a < 3; a++) tab[a] = malloc((size_t)c->nb * sizeof *tab[a]);
    hb_status rc = HB_OK;
    for (int a = 0; a < 3 && rc == HB_OK; a++) rc = mock_suppression(c, fit, c->agn2[a], tab[a]);
    if (rc != HB_OK) {
        for (int a = 0; a < 3; a++) free(tab[a]);
        return rc;
    }
    hb_log0("%8s  %9s %9s %7s  %9s %9s %7s  %9s %9s %7s", "k[h/Mpc]", "S(A=1)", "TNG fit", "ratio", "S(A=0.5)",
            "TNG fit", "ratio", "S(A=2)", "TNG fit", "ratio");
    *worst = 0;
    for (int j = 0; j < c->nb; j++) {
        if (c->kk[j] < 0.5 || c->kk[j] > 12) continue;
        double t[3];
        for (int a = 0; a < 3; a++) {
            double th[HB_NTHETA];
            memcpy(th, c->bi.theta, sizeof th);
            th[HB_A_AGN2] = c->agn2[a];
            t[a] = hb_syren_tng(c->kk[j], c->bi.redshift, th);
            if (c->kk[j] >= 1 && c->kk[j] <= 10) *worst = fmax(*worst, fabs(tab[a][j] / t[a] - 1));
        }
        if (j % 2 == 0)
            hb_log0("%8.3f  %9.4f %9.4f %7.3f  %9.4f %9.4f %7.3f  %9.4f %9.4f %7.3f", c->kk[j], tab[0][j], t[0],
                    tab[0][j] / t[0], tab[1][j], t[1], tab[1][j] / t[1], tab[2][j], t[2], tab[2][j] / t[2]);
    }
    for (int a = 0; a < 3; a++) free(tab[a]);
    return HB_OK;
}

/* Nelder-Mead on the bounded transforms; every rank runs the same simplex
 * (the objective is collective). Leaves the best point in x, its value in *best. */
static void minimise(calib_set *cs, long iters, gsl_vector *x, double *best)
{
    gsl_vector *step = gsl_vector_alloc(NFIT);
    gsl_vector_set_all(step, 0.4);
    gsl_multimin_function fn = {objective, NFIT, cs};
    gsl_multimin_fminimizer *mn = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, NFIT);
    gsl_multimin_fminimizer_set(mn, &fn, x, step);
    for (long it = 0; it < iters; it++) {
        if (gsl_multimin_fminimizer_iterate(mn) != GSL_SUCCESS) break;
        double size = gsl_multimin_fminimizer_size(mn);
        if (it % 10 == 0) {
            hb_mock_config cur = with(&cs->c[0], mn->x);
            hb_log0("calibrate-mock: iteration %ld, rms log-ratio %.4f, simplex %.3g: f0=%.4f r0=%.4f delta_c=%.3f "
                    "width=%.4f k_jeans=%.3f sigma_gas0=%.4f", it, sqrt(mn->fval), size, cur.f0, cur.r0,
                    cur.delta_c, cur.w, cur.k_jeans, cur.sg0);
        }
        if (gsl_multimin_test_size(size, 2e-3) == GSL_SUCCESS) break;
    }
    gsl_vector_memcpy(x, mn->x);
    *best = mn->fval;
    gsl_multimin_fminimizer_free(mn);
    gsl_vector_free(step);
}

hb_status hb_mock_calibrate(const hb_calib_box *boxes, int n, const hb_mock_config *base, long iterations,
                            hb_mock_config *fit, double *worst)
{
    calib *cb = calloc((size_t)(n > 0 ? n : 1), sizeof *cb);
    if (!cb) return HB_ERR(HB_ENOMEM, "calibration state");
    hb_status rc = HB_OK;
    for (int i = 0; i < n && rc == HB_OK; i++) rc = calib_setup(&cb[i], &boxes[i], base);
    calib_set cs = {cb, n};
    gsl_vector *x = gsl_vector_alloc(NFIT);
    double best = 0;
    if (rc == HB_OK) {
        start_point(&cb[0].base, x);
        best = objective(x, &cs);
        hb_log0("calibrate-mock: %d box(es); start: rms log-ratio %.4f", n, sqrt(best));
        if (iterations > 0) minimise(&cs, iterations, x, &best);
        *fit = with(&cb[0], x);
        hb_log0("calibrate-mock: mock.f0=%.4f mock.r0=%.4f mock.delta_c=%.3f mock.width=%.4f mock.k_jeans=%.3f "
                "mock.sigma_gas0=%.4f (rms log-ratio %.4f over k = 1-10 h/Mpc)", fit->f0, fit->r0, fit->delta_c,
                fit->w, fit->k_jeans, fit->sg0, sqrt(best));
    }
    *worst = 0;
    for (int i = 0; i < n && rc == HB_OK; i++) {
        double w = 0;
        hb_log0("calibrate-mock: %s", boxes[i].name);
        rc = print_table(&cb[i], fit, &w);
        *worst = fmax(*worst, w);
    }
    if (rc == HB_OK) hb_log0("calibrate-mock: largest |S_mock / S_TNG - 1| at k = 1-10 h/Mpc: %.3f", *worst);
    gsl_vector_free(x);
    for (int i = 0; i < n; i++) calib_free(&cb[i]);
    free(cb);
    return rc;
}
