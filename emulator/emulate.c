/* Whole-box emulation (hb/emulate.h). */
#include "hb/emulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/halo.h"
#include "hb/interp.h"
#include "hb/model.h"
#include "hb/mpiutil.h"
#include "hb/sampler.h"
#include "hb/smooth.h"
#include "hb/unet.h"
#include "hb/validate.h"

hb_emulate_config hb_emulate_config_default(void)
{
    hb_emulate_config c;
    memset(&c, 0, sizeof c);
    c.steps = 50;
    c.heun = 1;
    c.seed = 1;
    c.n_seeds = 1;
    c.best_of = 1;
    c.n_models = 1;
    c.lambda = 1.0;
    c.t_switch = 0.5;
    hb_theta_none(c.theta_override);
    return c;
}

typedef struct emu {
    hb_unet net;
    hb_model_meta meta;        /* the first model's; an ensemble's members match it, the range their common one */
    hb_ensemble ens;           /* the models: the drift is the mean of ens.K networks of net's architecture */
    float *yk;                 /* cells x 2: one member's drift (ens.K > 1) */
    hb_slab slab;              /* the network's decomposition (boundaries at multiples of 4) */
    hb_boxinfo info;           /* the DM box's, with the overrides */
    char dm_mas[HB_MAS_LEN];   /* the DM field's mass assignment, kept on the copy written */
    char models[sizeof ((hb_emulate_config *)0)->model];   /* the model file(s) joined by ", " */
    int N;
    size_t n;                  /* this rank's cells */
    float *dm;                 /* the DM density as read */
    float *x0;                 /* standardised log DM */
    float *xs;                 /* the smoothed-DM channels (cells x n_smooth; hb/smooth.h), or NULL */
    float *xt, *xp;            /* cells x 2: sampler state, Heun predictor */
    float *in;                 /* cells x (3 + n_smooth): the network's input (x_t, x0[, xs]) */
    float *drift, *drift2;     /* cells x 2 */
} emu;

static void emu_free(emu *e)
{
    hb_unet_free(&e->net);
    hb_ensemble_free(&e->ens);
    free(e->yk);
    hb_slab_free(&e->slab);
    free(e->dm); free(e->x0); free(e->xs); free(e->xt); free(e->xp); free(e->in); free(e->drift); free(e->drift2);
}

/* The drift at time t of `state` for this rank's cells (hb_drift_fn): the
 * network on the whole box, one-plane halos per layer; with an ensemble the
 * mean of its members' (summed in member order, so rank-count independent). */
static hb_status drift_at(void *ctx, float *state, double t, float *out)
{
    emu *e = ctx;
    hb_interp_input(&e->meta.ic, state, e->x0, e->xs, e->in, e->n);
    float feat[HB_UNET_NFEAT];
    hb_interp_features(t, e->info.theta, feat);
    HB_TRY(hb_unet_infer(&e->net, e->in, feat, out));
    const int K = e->ens.K;
    if (K == 1) return HB_OK;
    hb_status rc = HB_OK;
    for (int k = 1; k < K && rc == HB_OK; k++) {
        e->net.params = e->ens.member[k];
        rc = hb_unet_infer(&e->net, e->in, feat, e->yk);
        for (size_t i = 0; rc == HB_OK && i < 2 * e->n; i++) out[i] += e->yk[i];
    }
    e->net.params = e->ens.member[0];
    const float inv = 1.0f / (float)K;
    for (size_t i = 0; i < 2 * e->n; i++) out[i] *= inv;
    return rc;
}

/* The decomposition and buffers for an N^3 box. */
static hb_status plan(emu *e, const hb_emulate_config *cfg, MPI_Comm comm)
{
    const int N = e->N;
    HB_TRY(hb_slab_init_aligned(&e->slab, N, 4, comm));
    e->n = (size_t)e->slab.nx * N * N;
    const size_t n = e->n;
    e->dm = malloc(n * sizeof *e->dm);
    e->x0 = malloc(n * sizeof *e->x0);
    const int smooth = e->meta.ic.n_smooth > 0;
    e->xs = smooth ? malloc(n * (size_t)e->meta.ic.n_smooth * sizeof *e->xs) : NULL;
    e->xt = malloc(n * 2 * sizeof *e->xt);
    e->xp = cfg->heun ? malloc(n * 2 * sizeof *e->xp) : NULL;
    e->in = malloc(n * (size_t)hb_interp_n_in(&e->meta.ic) * sizeof *e->in);
    e->drift = malloc(n * 2 * sizeof *e->drift);
    e->drift2 = cfg->heun ? malloc(n * 2 * sizeof *e->drift2) : NULL;
    e->yk = e->ens.K > 1 ? malloc(n * 2 * sizeof *e->yk) : NULL;
    int bad = !e->dm || !e->x0 || (smooth && !e->xs) || !e->xt || !e->in || !e->drift ||
              (cfg->heun && (!e->xp || !e->drift2)) || (e->ens.K > 1 && !e->yk);
    hb_status rc = bad ? HB_ERR(HB_ENOMEM, "emulation buffers (%ld planes of %d^2)", e->slab.nx, N) : HB_OK;
    if (rc == HB_OK) rc = hb_unet_reserve(&e->net, &e->slab, N, N, 0);
    return hb_mpi_agree(comm, rc);
}

/* The model, the DM box (this rank's planes) and its parameters. */
static hb_status load(emu *e, const hb_emulate_config *cfg, MPI_Comm comm)
{
    if (cfg->steps < 1) return HB_ERR0(HB_EARG, "--steps %d: need at least one sampler step", cfg->steps);
    if (cfg->n_models < 1 || cfg->n_models > HB_EMULATE_MAX_MODELS) {
        return HB_ERR0(HB_EARG, "%d models: expected 1 to %d", cfg->n_models, HB_EMULATE_MAX_MODELS);
    }
    hb_ensemble_names(cfg->model, cfg->n_models, e->models, sizeof e->models);
    HB_TRY(hb_model_load(cfg->model[0], comm, &e->net, &e->meta));
    HB_TRY(hb_ensemble_load(&e->ens, &e->net, &e->meta, cfg->model, cfg->n_models, comm));   /* the common range */
    hb_h5 df;
    HB_TRY(hb_h5_open(&df, cfg->dm, comm));
    hb_status rc = hb_h5_field_size(&df, HB_FIELD_DM, &e->N);
    if (rc == HB_OK) rc = hb_box_read_info(&df, &e->info);
    if (rc == HB_OK) rc = hb_box_read_dm_mas(&df, e->dm_mas);
    if (rc == HB_OK) {
        hb_theta_override(e->info.theta, cfg->theta_override);
        rc = hb_model_check_box(&e->meta, &e->info, e->N, e->dm_mas, cfg->dm);
    }
    if (rc == HB_OK) rc = plan(e, cfg, comm);
    if (rc == HB_OK) {
        rc = hb_box_read_field(&df, HB_FIELD_DM, e->N, e->slab.x0, e->slab.nx, e->dm, (size_t)e->N, HB_VALUES_DENSITY);
    }
    if (rc == HB_OK && e->xs) rc = hb_smooth_read(&e->meta.ic, &df, e->N, e->slab.x0, e->slab.nx, e->xs);
    hb_h5_close(&df);
    HB_TRY(rc);
    for (size_t i = 0; i < e->n; i++) e->x0[i] = hb_interp_to_std(&e->meta.ic, 0, e->dm[i]);
    return HB_OK;
}

/* Back to physical units, clamped to the log10 range of the training set
 * (the P(k) of a field is dominated by its extreme cells: a sample beyond
 * anything seen in training must not set it); gas density rescaled to mean 1,
 * *raw_mean its mean before (the network models log10 gas: its mean in
 * linear units, set by the dense tail, is not constrained; 1/raw_mean
 * shifts every cell by the same dex). A non-finite sample is an error (the
 * clamp would hide it). */
static hb_status destandardise(const emu *e, float *own, float *gas, float *temp, double *raw_mean, MPI_Comm comm)
{
    const hb_interp *ic = &e->meta.ic;
    const size_t n = e->n;
    size_t bad = 2 * n;
    for (size_t i = 0; i < 2 * n && bad == 2 * n; i++)
        if (!isfinite(own[i])) bad = i;
    if (hb_mpi_any(comm, bad < 2 * n)) {
        if (bad == 2 * n) return hb_err_quiet(HB_EIO);
        const size_t NN = (size_t)e->N * e->N, c = (size_t)e->slab.x0 * NN + bad / 2;
        return HB_ERR(HB_EIO, "the sampler diverged: %s at cell [%zu][%zu][%zu] is %g after the last step; "
                      "nothing written", bad % 2 ? "temperature" : "gas density", c / NN, c / e->N % e->N, c % e->N,
                      own[bad]);
    }
    for (int k = 0; k < 2; k++) {
        float lo = (float)((ic->lmin[k + 1] - ic->mean[k + 1]) / ic->std[k + 1]);
        float hi = (float)((ic->lmax[k + 1] - ic->mean[k + 1]) / ic->std[k + 1]);
        for (size_t c = 0; c < n; c++) own[2 * c + k] = fminf(fmaxf(own[2 * c + k], lo), hi);
    }
    double sum = 0;
    for (size_t c = 0; c < n; c++) {
        gas[c] = (float)hb_interp_from_std(ic, 1, own[2 * c]);
        temp[c] = (float)hb_interp_from_std(ic, 2, own[2 * c + 1]);
        sum += gas[c];
    }
    HB_TRY(hb_mpi_sum(comm, &sum, 1));
    *raw_mean = sum / pow((double)e->N, 3);
    float inv = (float)(pow((double)e->N, 3) / sum);
    for (size_t c = 0; c < n; c++) gas[c] *= inv;
    return HB_OK;
}

static hb_status write_box(const emu *e, const hb_emulate_config *cfg, const char *out, uint64_t seed,
                           const float *gas, const float *temp, double raw_mean, MPI_Comm comm)
{
    hb_box_fields bf = {e->N, e->slab.x0, e->slab.nx, (size_t)e->N, {e->dm, gas, temp, NULL},
                        {e->dm_mas, "none", "none", NULL}};
    const hb_h5_attr extra[] = {{"emulated_by", 's', 0, 0, e->models}, {"emulated_from", 's', 0, 0, cfg->dm},
                                {"sampler", 's', 0, 0, cfg->heun ? "heun" : "em"},
                                {"ensemble_models", 'l', 0, cfg->n_models, NULL},
                                {"sampler_steps", 'l', 0, cfg->steps, NULL}, {"sampler_seed", 'l', 0, (long)seed, NULL},
                                {"sampler_best_of", 'l', 0, cfg->best_of, NULL},
                                {"sampler_lambda", 'd', cfg->lambda, 0, NULL},
                                {"sampler_t_switch", 'd', cfg->t_switch, 0, NULL},
                                {"gas_mean_before_normalisation", 'd', raw_mean, 0, NULL}};
    return hb_box_write(out, comm, &bf, &e->info, extra, (int)(sizeof extra / sizeof extra[0]), cfg->prov);
}

/* Integrate from X(0) = x0 to t = 1; *per_step: seconds per sampler step. */
static hb_status integrate(emu *e, const hb_emulate_config *cfg, uint64_t seed, double *per_step)
{
    const size_t plane = (size_t)e->N * e->N;
    for (size_t i = 0; i < e->n; i++) e->xt[2 * i] = e->xt[2 * i + 1] = e->x0[i];   /* X(0) = x0 */
    const hb_interp ic = hb_interp_at(&e->meta.ic, e->info.theta);   /* the noise scale at the box's parameters */
    hb_sampler s = {cfg->heun, cfg->steps, seed, &ic, cfg->lambda, cfg->t_switch, e->x0};
    hb_progress prog;
    hb_progress_init(&prog, "emulate", cfg->steps, "steps");
    double t0 = hb_now();
    for (int n = 0; n < cfg->steps; n++) {
        HB_TRY(hb_sampler_step(&s, n, e->xt, e->xp, 0, e->n, (uint64_t)(e->slab.x0 * (long)plane), drift_at, e,
                               e->drift, e->drift2));
        char extra[64];
        snprintf(extra, sizeof extra, "%.2f s/step", (hb_now() - t0) / (n + 1));
        hb_progress_step(&prog, n + 1, extra);
    }
    *per_step = (hb_now() - t0) / cfg->steps;
    return HB_OK;
}

void hb_emulate_output_name(const char *pattern, uint64_t seed, char *out, size_t cap)
{
    const char *tag = strstr(pattern, "{seed}");
    if (!tag) snprintf(out, cap, "%s", pattern);
    else snprintf(out, cap, "%.*s%lu%s", (int)(tag - pattern), pattern, (unsigned long)seed, tag + 6);
}

uint64_t hb_emulate_candidate_seed(uint64_t seed, int k)
{
    return seed + ((uint64_t)k << 32);
}

/* One sample: cfg->best_of candidates integrated and brought back to
 * physical units, the one whose gas mean before normalisation is nearest 1
 * in dex kept (hb/emulate.h), checked, written. f: gas and temperature of
 * the sample (f[0], f[1]) and room for a candidate (f[2], f[3]; best_of > 1),
 * swapped as candidates are kept. The choice is the same on every rank (the
 * mean is reduced over them). */
static hb_status sample(emu *e, const hb_emulate_config *cfg, uint64_t seed, float *f[4], MPI_Comm comm,
                        double *per_step)
{
    char out[sizeof cfg->out + 32];
    hb_emulate_output_name(cfg->out, seed, out, sizeof out);
    double raw_mean = 1;
    uint64_t chosen = seed;
    for (int k = 0; k < cfg->best_of; k++) {
        const uint64_t s = hb_emulate_candidate_seed(seed, k);
        double raw = 0;   /* set by destandardise when it succeeds */
        HB_TRY(integrate(e, cfg, s, per_step));
        HB_TRY(destandardise(e, e->xt, f[k ? 2 : 0], f[k ? 3 : 1], &raw, comm));
        if (cfg->best_of > 1) {
            hb_log0("emulate: %s: candidate %d of %d (sampler seed %llu): gas mean %.4f (%+.4f dex) before "
                    "normalisation", out, k + 1, cfg->best_of, (unsigned long long)s, raw, log10(raw));
        }
        if (k == 0 || fabs(log10(raw)) < fabs(log10(raw_mean))) {
            for (int c = 0; c < 2 && k > 0; c++) { float *t = f[c]; f[c] = f[c + 2]; f[c + 2] = t; }
            raw_mean = raw;
            chosen = s;
        }
    }
    float *gas = f[0], *temp = f[1];
    HB_TRY(hb_field_check(gas, e->N, e->slab.x0, e->slab.nx, (size_t)e->N, HB_VALUES_DENSITY, out, HB_FIELD_GAS, comm));
    HB_TRY(hb_field_check(temp, e->N, e->slab.x0, e->slab.nx, (size_t)e->N, HB_VALUES_POSITIVE, out, HB_FIELD_TEMP,
                          comm));
    HB_TRY(write_box(e, cfg, out, chosen, gas, temp, raw_mean, comm));
    hb_log0("emulate: wrote %s (sampler seed %llu%s; gas mean %.4f (%+.4f dex) before normalisation to 1, so "
            "every cell's gas moved by %+.4f dex)", out, (unsigned long long)chosen,
            cfg->best_of > 1 ? ", the best candidate" : "", raw_mean, log10(raw_mean), -log10(raw_mean));
    if (fabs(log10(raw_mean)) > HB_VAL_PDF_GOAL_DEX) {   /* docs/fidelity.md, "Which goals the fourteen boxes miss" */
        hb_log0("emulate: WARNING: %s: the normalisation moved every cell's gas by %+.3f dex, more than the %g dex "
                "the PDF goal allows: the sample's dense tail holds too much or too little gas (the mock's own mean "
                "scatters by ~0.01 dex: one such sample can be chance, all of a box's are the model's bias; of the "
                "fourteen held-out boxes in docs/fidelity.md, those with such a sample missed 2.4-3.7 of 11 goals, "
                "the others 0.3-0.6)", out, -log10(raw_mean), HB_VAL_PDF_GOAL_DEX);
    }
    return HB_OK;
}

hb_status hb_emulate(const hb_emulate_config *cfg, MPI_Comm comm)
{
    if (cfg->n_seeds < 1 || (cfg->n_seeds > 1 && !strstr(cfg->out, "{seed}"))) {
        return HB_ERR0(HB_EARG, "%d sampler seeds: the output name \"%s\" needs {seed} (one file per seed)",
                       cfg->n_seeds, cfg->out);
    }
    if (cfg->best_of < 1 || cfg->best_of > HB_EMULATE_MAX_BEST_OF) {
        return HB_ERR0(HB_EARG, "best of %d candidates: expected 1 to %d", cfg->best_of, HB_EMULATE_MAX_BEST_OF);
    }
    if (!(cfg->lambda >= 0) || !(cfg->t_switch > 0 && cfg->t_switch <= 1)) {
        return HB_ERR0(HB_EARG, "sampler diffusion lambda = %g from t = %g: need lambda >= 0 and 0 < t <= 1",
                       cfg->lambda, cfg->t_switch);
    }
    emu e;
    memset(&e, 0, sizeof e);
    double t_start = hb_now();
    hb_status rc = load(&e, cfg, comm);
    if (rc != HB_OK) { emu_free(&e); return rc; }
    const double *th = e.info.theta;
    hb_log0("emulate: %s with %s%s on %d ranks: %d^3, theta = (%.4g %.4g %.4g %.4g %.4g %.4g), %d %s steps, "
            "diffusion %g sigma from t = %g, %d seed(s) from %lu, each the best of %d, slabs of %ld planes", cfg->dm,
            cfg->n_models > 1 ? "the mean drift of " : "", e.models, e.slab.nranks, e.N, th[0], th[1], th[2], th[3],
            th[4], th[5], cfg->steps, cfg->heun ? "Heun" : "Euler-Maruyama", cfg->lambda, cfg->t_switch, cfg->n_seeds,
            (unsigned long)cfg->seed, cfg->best_of, e.slab.nx);
    double per_step = 0;
    float *f[4] = {NULL, NULL, NULL, NULL};   /* gas, temperature; a candidate's (best_of > 1) */
    int short_of = 0;
    for (int c = 0; c < (cfg->best_of > 1 ? 4 : 2); c++) short_of |= !(f[c] = malloc((e.n + 1) * sizeof *f[c]));
    if (hb_mpi_any(comm, short_of)) rc = HB_ERR0(HB_ENOMEM, "output fields");
    for (int k = 0; k < cfg->n_seeds && rc == HB_OK; k++) rc = sample(&e, cfg, cfg->seed + (uint64_t)k, f, comm, &per_step);
    if (rc == HB_OK) {
        double mx = (double)hb_peak_rss();
        rc = hb_mpi_max(comm, &mx, 1);
        hb_log0("emulate: %d sample(s) in %.1f s (%.3f s per sampler step); peak memory %.0f MB per rank (max), "
                "%d^3 box on %d ranks", cfg->n_seeds, hb_now() - t_start, per_step, mx / 1e6, e.N, e.slab.nranks);
        hb_log0("bench: emulate_step_s=%.4f peak_mb_per_rank=%.0f n=%d ranks=%d", per_step, mx / 1e6, e.N,
                e.slab.nranks);
    }
    for (int c = 0; c < 4; c++) free(f[c]);
    emu_free(&e);
    return rc;
}
