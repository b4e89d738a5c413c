/* The model's log-likelihood of a baryon box (hb/loglike.h). */
#include "hb/loglike.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/halo.h"
#include "hb/mpiutil.h"
#include "hb/rng.h"
#include "hb/smooth.h"
#include "hb/unet.h"

hb_loglike_opts hb_loglike_opts_default(void)
{
    hb_loglike_opts o = {8, 32, 1e-3, 1, 0};   /* README "Likelihood": the convergence behind these */
    return o;
}

/* ---- the integrator --------------------------------------------------- */

/* Rademacher probe number `sub` (probe k of evaluation e) on this rank's cells. */
static void probe(const hb_flow_problem *pb, uint64_t seed, uint32_t sub, float *xi)
{
    for (size_t c = 0; c < pb->n_cells; c++) {
        uint32_t w[4];
        hb_rng_u32x4(seed, HB_STREAM_PROBE, pb->first_cell + c, sub, w);
        xi[2 * c] = (w[0] >> 31) ? 1.0f : -1.0f;
        xi[2 * c + 1] = (w[1] >> 31) ? 1.0f : -1.0f;
    }
}

typedef struct flow_ws {
    float  *b, *xi, *jt;
    long    passes;
} flow_ws;

/* div b at (t, x) of evaluation e: one value per probe into d (summed over
 * the ranks), or the exact one (o->probes = 0: every unit vector of the box
 * in global order, d[0]); w->b receives the drift. */
static hb_status divergence(const hb_flow_problem *pb, const hb_loglike_opts *o, int e, double t, const float *x,
                            flow_ws *w, double *d)
{
    const size_t n2 = 2 * pb->n_cells;
    if (o->probes > 0) {
        for (int k = 0; k < o->probes; k++) {
            probe(pb, o->seed, (uint32_t)e * (uint32_t)o->probes + (uint32_t)k, w->xi);
            HB_TRY(pb->fn(pb->ctx, t, x, w->b, w->xi, w->jt));
            double s = 0;
            for (size_t i = 0; i < n2; i++) s += (double)w->xi[i] * w->jt[i];
            d[k] = s;
        }
        w->passes += o->probes;
        return hb_mpi_sum(pb->comm, d, o->probes);
    }
    const uint64_t D = 2 * pb->n_total, lo = 2 * pb->first_cell, hi = lo + n2;
    double s = 0;
    memset(w->xi, 0, n2 * sizeof *w->xi);
    for (uint64_t i = 0; i < D; i++) {
        const int mine = i >= lo && i < hi;
        if (mine) w->xi[i - lo] = 1;
        HB_TRY(pb->fn(pb->ctx, t, x, w->b, w->xi, w->jt));
        if (mine) {
            s += w->jt[i - lo];
            w->xi[i - lo] = 0;
        }
    }
    w->passes += (long)D;
    d[0] = s;
    return hb_mpi_sum(pb->comm, d, 1);
}

static double g_of_t(double t, void *ic)
{
    double F, G;
    hb_interp_flow_div(ic, t, &F, &G);
    return G;
}

/* int_eps^1 G(t) dt: G ~ 1/(2t) at small t, integrable on [eps, 1]. */
static hb_status g_integral(const hb_interp *ic, double eps, double *out)
{
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(200);
    if (!ws) return HB_ERR0(HB_ENOMEM, "GSL integration workspace");
    gsl_function f = {g_of_t, (void *)ic};
    double err;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = gsl_integration_qags(&f, eps, 1.0, 0, 1e-12, 200, ws, out, &err);
    gsl_set_error_handler(old);
    gsl_integration_workspace_free(ws);
    if (rc) return HB_ERR0(HB_EARG, "int_eps^1 G dt from eps = %g: %s", eps, gsl_strerror(rc));
    return HB_OK;
}

static hb_status check_opts(const hb_loglike_opts *o)
{
    if (o->steps < 1 || o->steps > 100000) return HB_ERR0(HB_EARG, "--steps %d: expected 1..100000", o->steps);
    if (o->probes == 1 || o->probes < 0 || o->probes > 10000) {
        return HB_ERR0(HB_EARG, "--probes %d: expected 2..10000 (a standard error needs two), or 0 for the exact "
                       "divergence", o->probes);
    }
    if (!(o->eps > 0 && o->eps <= 0.1)) return HB_ERR0(HB_EARG, "--eps %g: expected 0 < eps <= 0.1", o->eps);
    return HB_OK;
}

/* One Heun step in s from s0 to s1 on the state x (pred: scratch) and the
 * per-probe integrals acc (K values), evaluations 2n and 2n + 1. */
static hb_status heun_step(const hb_flow_problem *pb, const hb_loglike_opts *o, int n, double s0, double s1,
                           float *x, float *pred, float *v0, flow_ws *w, double *d, double *acc, int K)
{
    const size_t n2 = 2 * pb->n_cells;
    const double ds = s1 - s0, t0 = s0 * s0, t1 = s1 * s1;
    double F0, F1, G;
    hb_interp_flow_div(pb->ic, t0, &F0, &G);
    hb_interp_flow_div(pb->ic, t1, &F1, &G);
    HB_TRY(divergence(pb, o, 2 * n, t0, x, w, d));
    for (int k = 0; k < K; k++) acc[k] += 0.5 * ds * 2 * s0 * F0 * d[k];
    hb_interp_drift_change(pb->ic, t0, 0.0, pb->x0, x, w->b, pb->n_cells);   /* the velocity v */
    memcpy(v0, w->b, n2 * sizeof *v0);
    const float h0 = (float)(2 * s0 * ds);
    for (size_t i = 0; i < n2; i++) pred[i] = x[i] + h0 * v0[i];
    HB_TRY(divergence(pb, o, 2 * n + 1, t1, pred, w, d));
    for (int k = 0; k < K; k++) acc[k] += 0.5 * ds * 2 * s1 * F1 * d[k];
    hb_interp_drift_change(pb->ic, t1, 0.0, pb->x0, pred, w->b, pb->n_cells);
    const float a0 = (float)(s0 * ds), a1 = (float)(s1 * ds);
    for (size_t i = 0; i < n2; i++) x[i] += a0 * v0[i] + a1 * w->b[i];
    return HB_OK;
}

/* The Gaussian law of x_eps given x0 at the end of the integration. */
static hb_status gauss_end(const hb_flow_problem *pb, double eps, const float *x, double *out)
{
    const double al = 1 - eps, g = hb_interp_sigma(pb->ic, eps) * sqrt(eps);
    double s[2] = {0, 0};   /* sum of r^2 / g_k^2 and of ln g_k (the cells' noise scales) */
    for (size_t c = 0; c < pb->n_cells; c++)
        for (int j = 0; j < 2; j++) {
            double r = (double)x[2 * c + j] - al * pb->x0[c], gk = hb_interp_noise_scale(pb->ic, j, pb->x0[c]);
            s[0] += r * r / (gk * gk);
            s[1] += log(gk);
        }
    HB_TRY(hb_mpi_sum(pb->comm, s, 2));
    const double D = 2.0 * (double)pb->n_total;
    *out = -0.5 * D * log(2 * M_PI * g * g) - s[1] - s[0] / (2 * g * g);
    return HB_OK;
}

/* Node n of the steps in s = sqrt(t), from 1 (n = 0) to sqrt(eps) (n =
 * steps), uniform in s. (Steps uniform in ln(s + c) are stable with fewer
 * of them but less accurate with 32 or more: README "Likelihood".) */
static double s_grid(const hb_loglike_opts *o, int n)
{
    const double se = sqrt(o->eps);
    return n >= o->steps ? se : 1 - (1 - se) * n / o->steps;
}

static hb_status integrate(const hb_flow_problem *pb, const hb_loglike_opts *o, float *x, double *acc, int K,
                           long *passes)
{
    const size_t n2 = 2 * pb->n_cells;
    flow_ws w = {malloc((n2 + 1) * sizeof(float)), malloc((n2 + 1) * sizeof(float)),
                 malloc((n2 + 1) * sizeof(float)), 0};
    float *pred = malloc((n2 + 1) * sizeof *pred), *v0 = malloc((n2 + 1) * sizeof *v0);
    double *d = malloc((size_t)K * sizeof *d);
    hb_status rc = HB_OK;
    if (hb_mpi_any(pb->comm, !w.b || !w.xi || !w.jt || !pred || !v0 || !d)) {
        rc = HB_ERR(HB_ENOMEM, "likelihood buffers for %zu cells", pb->n_cells);
    }
    hb_progress prog;
    hb_progress_init(&prog, "loglike", o->steps, "steps");
    for (int n = 0; n < o->steps && rc == HB_OK; n++) {
        double s0 = s_grid(o, n), s1 = s_grid(o, n + 1);
        rc = heun_step(pb, o, n, s0, s1, x, pred, v0, &w, d, acc, K);
        if (o->progress) hb_progress_step(&prog, n + 1, NULL);
    }
    *passes = w.passes;
    free(w.b); free(w.xi); free(w.jt); free(pred); free(v0); free(d);
    return rc;
}

hb_status hb_flow_loglike(const hb_flow_problem *pb, const hb_loglike_opts *o, const float *x1,
                          hb_loglike_result *r)
{
    HB_TRY(check_opts(o));
    if (!pb->ic->beta_sq) {
        /* gauss_end takes x(eps) as x0 plus noise: beta(eps) x1 is 1e-6 of x1 for t^2, 1e-3 for t, which
         * biases log p by ~4e-3 nats per cell on the exact Gaussian (tests/test_loglike.c) */
        return HB_ERR0(HB_EARG, "the likelihood needs a model trained with the interpolant's beta(t) = t^2; this "
                       "one has beta(t) = t, whose share of x1 at t = eps the flow's end Gaussian leaves out");
    }
    if ((double)2 * o->steps * (o->probes > 0 ? o->probes : 1) >= 4294967295.0) {
        return HB_ERR0(HB_EARG, "%d steps x %d probes: too many for the probes' 32-bit counter", o->steps, o->probes);
    }
    memset(r, 0, sizeof *r);
    const double t_start = hb_now();
    const int K = o->probes > 0 ? o->probes : 1;
    const size_t n2 = 2 * pb->n_cells;
    float *x = malloc((n2 + 1) * sizeof *x);
    double *acc = calloc((size_t)K, sizeof *acc);
    hb_status rc = hb_mpi_any(pb->comm, !x || !acc) ? HB_ERR(HB_ENOMEM, "likelihood state") : HB_OK;
    if (rc == HB_OK) {
        memcpy(x, x1, n2 * sizeof *x);
        rc = integrate(pb, o, x, acc, K, &r->n_passes);
    }
    double gint = 0;
    if (rc == HB_OK) rc = gauss_end(pb, o->eps, x, &r->gauss);
    if (rc == HB_OK) rc = g_integral(pb->ic, o->eps, &gint);
    if (rc == HB_OK) {
        /* acc integrates from s = 1 down to sqrt(eps): minus the integral over [eps, 1] */
        double m = 0, v = 0;
        for (int k = 0; k < K; k++) m -= acc[k] / K;
        for (int k = 0; k < K; k++) v += (-acc[k] - m) * (-acc[k] - m);
        r->div_b = m;
        r->se = K > 1 ? sqrt(v / (K - 1) / K) : 0;
        r->div_const = 2.0 * (double)pb->n_total * gint;
        r->logp = r->gauss - r->div_b - r->div_const;
        if (!isfinite(r->logp)) {
            rc = HB_ERR0(HB_EIO, "the likelihood is not finite (log N(x(eps)) %g, int F div b dt %g): the flow "
                         "diverged; try more --steps (%d now)", r->gauss, r->div_b, o->steps);
        }
        r->logp_phys = r->logp;
        r->n_voxels = (long)pb->n_total;
        r->seconds = hb_now() - t_start;
    }
    free(x);
    free(acc);
    return rc;
}

/* ---- the network on a box -------------------------------------------- */

struct hb_loglike {
    hb_loglike_config cfg;
    MPI_Comm       comm;
    hb_unet        net;
    hb_ensemble    ens;            /* the models (net holds member 0) */
    float         *bk, *jk;        /* n x 2: one member's drift and J^T xi (ens.K > 1) */
    hb_model_meta  meta;
    hb_slab        slab;
    hb_boxinfo     info, gas_info;
    char           dm_mas[HB_MAS_LEN];   /* the DM field's mass assignment */
    int            N;
    size_t         n;              /* this rank's cells */
    float         *x0, *x1;        /* standardised log DM (n); observed baryons (n x 2) */
    float         *xs;             /* the smoothed-DM channels (n x n_smooth; hb/smooth.h), or NULL */
    float         *in, *dx;        /* n x C (3 + n_smooth): the network's input and its gradient */
    int            C;
    double         jacobian;       /* of the physical fields, summed over the box */
    double         theta[HB_NTHETA];
};

/* One network (the weights in L->net) at the input already in L->in. */
static hb_status one_flow(hb_loglike *L, const float *feat, float *b, const float *xi, float *jt)
{
    HB_TRY(hb_unet_forward(&L->net, L->in, feat, b));
    if (!xi) return HB_OK;
    HB_TRY(hb_unet_vjp(&L->net, xi, L->dx));
    for (size_t c = 0; c < L->n; c++) {
        jt[2 * c] = L->dx[(size_t)L->C * c];
        jt[2 * c + 1] = L->dx[(size_t)L->C * c + 1];
    }
    return HB_OK;
}

/* hb_flow_fn of the network: a forward pass, and a backward one for J^T xi;
 * an ensemble's mean of both (linear: the mean drift's J^T xi is the mean
 * of the members'), summed in member order. */
static hb_status net_flow(void *ctx, double t, const float *x, float *b, const float *xi, float *jt)
{
    hb_loglike *L = ctx;
    hb_interp_input(&L->meta.ic, x, L->x0, L->xs, L->in, L->n);
    float feat[HB_UNET_NFEAT];
    hb_interp_features(t, L->theta, feat);
    HB_TRY(one_flow(L, feat, b, xi, jt));
    const int K = L->ens.K;
    if (K == 1) return HB_OK;
    hb_status rc = HB_OK;
    for (int k = 1; k < K && rc == HB_OK; k++) {
        L->net.params = L->ens.member[k];
        rc = one_flow(L, feat, L->bk, xi, L->jk);
        for (size_t i = 0; rc == HB_OK && i < 2 * L->n; i++) {
            b[i] += L->bk[i];
            if (xi) jt[i] += L->jk[i];
        }
    }
    L->net.params = L->ens.member[0];
    const float inv = 1.0f / (float)K;
    for (size_t i = 0; i < 2 * L->n; i++) {
        b[i] *= inv;
        if (xi) jt[i] *= inv;
    }
    return rc;
}

/* The gas box against the DM box: same grid and box size. */
static hb_status check_pair(const hb_loglike *L, int Ngas)
{
    const double Ld = L->info.box_size, Lg = L->gas_info.box_size;
    if (Ngas != L->N || fabs(Ld - Lg) > 1e-6 * Ld) {
        return HB_ERR0(HB_EARG, "%s is %d^3 in %g Mpc/h but the DM box %s is %d^3 in %g Mpc/h: a likelihood needs "
                       "the gas box of the same volume and grid", L->cfg.gas, Ngas, Lg, L->cfg.dm, L->N, Ld);
    }
    return HB_OK;
}

/* The standardised fields, and the Jacobian of the physical ones; the
 * cells at the floor (their log is clamped) are counted and reported. */
static hb_status standardise(hb_loglike *L, const float *dm, const float *gas, const float *temp)
{
    const hb_interp *ic = &L->meta.ic;
    double jac = 0, low[2] = {0, 0};
    for (size_t c = 0; c < L->n; c++) {
        L->x0[c] = hb_interp_to_std(ic, 0, dm[c]);
        const float f[2] = {gas[c], temp[c]};
        for (int j = 0; j < 2; j++) {
            double v = f[j] > ic->floor[j + 1] ? f[j] : ic->floor[j + 1];
            low[j] += f[j] <= ic->floor[j + 1];
            L->x1[2 * c + j] = hb_interp_to_std(ic, j + 1, f[j]);
            jac -= log(v * M_LN10 * ic->std[j + 1]);
        }
    }
    HB_TRY(hb_mpi_sum(L->comm, low, 2));
    HB_TRY(hb_mpi_sum(L->comm, &jac, 1));
    L->jacobian = jac;
    if (low[0] + low[1] > 0) {
        hb_log0("loglike: warning: %.0f gas-density and %.0f temperature cells of %s are at or below the model's "
                "floor (%g, %g): their density is that of the floor", low[0], low[1], L->cfg.gas, ic->floor[1],
                ic->floor[2]);
    }
    return HB_OK;
}

static hb_status read_fields(hb_loglike *L)
{
    const size_t n = L->n;
    float *dm = malloc((n + 1) * sizeof *dm), *gas = malloc((n + 1) * sizeof *gas), *t = malloc((n + 1) * sizeof *t);
    hb_status rc = hb_mpi_any(L->comm, !dm || !gas || !t) ? HB_ERR(HB_ENOMEM, "fields of %zu cells", n) : HB_OK;
    hb_h5 f;
    if (rc == HB_OK && (rc = hb_h5_open(&f, L->cfg.dm, L->comm)) == HB_OK) {
        rc = hb_box_read_field(&f, HB_FIELD_DM, L->N, L->slab.x0, L->slab.nx, dm, (size_t)L->N, HB_VALUES_DENSITY);
        if (rc == HB_OK && L->xs) rc = hb_smooth_read(&L->meta.ic, &f, L->N, L->slab.x0, L->slab.nx, L->xs);
        hb_h5_close(&f);
    }
    if (rc == HB_OK && (rc = hb_h5_open(&f, L->cfg.gas, L->comm)) == HB_OK) {
        rc = hb_box_read_field(&f, HB_FIELD_GAS, L->N, L->slab.x0, L->slab.nx, gas, (size_t)L->N, HB_VALUES_DENSITY);
        if (rc == HB_OK) {
            rc = hb_box_read_field(&f, HB_FIELD_TEMP, L->N, L->slab.x0, L->slab.nx, t, (size_t)L->N,
                                   HB_VALUES_POSITIVE);
        }
        hb_h5_close(&f);
    }
    if (rc == HB_OK) rc = standardise(L, dm, gas, t);
    free(dm);
    free(gas);
    free(t);
    return rc;
}

/* Sizes and descriptions of both boxes, checked against the model. */
static hb_status read_infos(hb_loglike *L)
{
    hb_h5 f;
    int Ngas = 0;
    HB_TRY(hb_h5_open(&f, L->cfg.dm, L->comm));
    hb_status rc = hb_h5_field_size(&f, HB_FIELD_DM, &L->N);
    if (rc == HB_OK) rc = hb_box_read_info(&f, &L->info);
    if (rc == HB_OK) rc = hb_box_read_dm_mas(&f, L->dm_mas);
    hb_h5_close(&f);
    HB_TRY(rc);
    HB_TRY(hb_h5_open(&f, L->cfg.gas, L->comm));
    rc = hb_h5_field_size(&f, HB_FIELD_GAS, &Ngas);
    if (rc == HB_OK) rc = hb_box_read_info(&f, &L->gas_info);
    hb_h5_close(&f);
    HB_TRY(rc);
    HB_TRY(check_pair(L, Ngas));
    hb_theta_override(L->info.theta, L->cfg.theta_override);
    return hb_model_check_box(&L->meta, &L->info, L->N, L->dm_mas, L->cfg.dm);
}

static hb_status open_box(hb_loglike *L)
{
    HB_TRY(hb_model_load(L->cfg.model[0], L->comm, &L->net, &L->meta));
    HB_TRY(hb_ensemble_load(&L->ens, &L->net, &L->meta, L->cfg.model, L->cfg.n_models, L->comm));   /* the common range */
    HB_TRY(read_infos(L));
    HB_TRY(hb_slab_init_aligned(&L->slab, L->N, 4, L->comm));
    L->n = (size_t)L->slab.nx * L->N * L->N;
    const size_t n = L->n;
    L->x0 = malloc(n * sizeof *L->x0);
    L->x1 = malloc(2 * n * sizeof *L->x1);
    L->C = hb_interp_n_in(&L->meta.ic);
    const int ns = L->meta.ic.n_smooth;
    L->xs = ns > 0 ? malloc(n * (size_t)ns * sizeof *L->xs) : NULL;
    L->in = malloc((size_t)L->C * n * sizeof *L->in);
    L->dx = malloc((size_t)L->C * n * sizeof *L->dx);
    if (L->cfg.n_models > 1) {
        L->bk = malloc(2 * n * sizeof *L->bk);
        L->jk = malloc(2 * n * sizeof *L->jk);
    }
    hb_status rc = !L->x0 || !L->x1 || !L->in || !L->dx || (ns > 0 && !L->xs) || (L->cfg.n_models > 1 && (!L->bk || !L->jk))
                       ? HB_ERR(HB_ENOMEM, "likelihood buffers") : HB_OK;
    if (rc == HB_OK) rc = hb_unet_reserve(&L->net, &L->slab, L->N, L->N, 1);
    HB_TRY(hb_mpi_agree(L->comm, rc));
    return read_fields(L);
}

hb_status hb_loglike_open(hb_loglike **out, const hb_loglike_config *cfg, MPI_Comm comm)
{
    *out = NULL;
    HB_TRY(check_opts(&cfg->opts));
    if (cfg->n_models < 1 || cfg->n_models > HB_MODEL_MAX_ENSEMBLE) {
        return HB_ERR0(HB_EARG, "%d models: expected 1 to %d", cfg->n_models, HB_MODEL_MAX_ENSEMBLE);
    }
    hb_loglike *L = calloc(1, sizeof *L);
    if (hb_mpi_any(comm, !L)) { free(L); return HB_ERR0(HB_ENOMEM, "likelihood"); }
    L->cfg = *cfg;
    L->comm = comm;
    hb_status rc = open_box(L);
    if (rc != HB_OK) { hb_loglike_close(L); return rc; }
    *out = L;
    return HB_OK;
}

const hb_model_meta *hb_loglike_meta(const hb_loglike *L) { return &L->meta; }
const hb_boxinfo *hb_loglike_dm_info(const hb_loglike *L) { return &L->info; }
const hb_boxinfo *hb_loglike_gas_info(const hb_loglike *L) { return &L->gas_info; }
size_t hb_loglike_cells(const hb_loglike *L) { return L->n; }

hb_status hb_loglike_flow(hb_loglike *L, const double theta[HB_NTHETA], double t, const float *x, float *b,
                          const float *xi, float *jt)
{
    memcpy(L->theta, theta, sizeof L->theta);
    return net_flow(L, t, x, b, xi, jt);
}

hb_status hb_loglike_eval(hb_loglike *L, const double theta[HB_NTHETA], hb_loglike_result *r)
{
    hb_boxinfo at = L->info;
    memcpy(at.theta, theta, sizeof at.theta);
    HB_TRY(hb_model_check_box(&L->meta, &at, L->N, L->dm_mas, L->cfg.dm));
    memcpy(L->theta, theta, sizeof L->theta);
    const long NN = (long)L->N * L->N;
    const hb_interp ic = hb_interp_at(&L->meta.ic, theta);   /* the end Gaussian's noise scale at theta */
    hb_flow_problem pb = {net_flow, L, &ic, L->x0, L->n, (uint64_t)(L->slab.x0 * NN),
                          (uint64_t)NN * (uint64_t)L->N, L->comm};
    HB_TRY(hb_flow_loglike(&pb, &L->cfg.opts, L->x1, r));
    r->n_passes *= L->ens.K;   /* each member's */
    r->jacobian = L->jacobian;
    r->logp_phys = r->logp + L->jacobian;
    return HB_OK;
}

void hb_loglike_close(hb_loglike *L)
{
    if (!L) return;
    hb_ensemble_free(&L->ens);
    hb_unet_free(&L->net);
    hb_slab_free(&L->slab);
    free(L->x0); free(L->x1); free(L->xs); free(L->in); free(L->dx); free(L->bk); free(L->jk);
    free(L);
}
