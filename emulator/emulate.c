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
#include "hb/unet.h"

hb_emulate_config hb_emulate_config_default(void)
{
    hb_emulate_config c;
    memset(&c, 0, sizeof c);
    c.steps = 50;
    c.heun = 0;
    c.seed = 1;
    c.tile = 0;
    c.max_tile_mb = 1500;
    hb_theta_none(c.theta_override);
    return c;
}

static long floor4(long x) { return x >= 0 ? x / 4 * 4 : -((-x + 3) / 4 * 4); }
static long ceil4(long x) { return floor4(x + 3); }

typedef struct emu {
    hb_unet net;
    hb_model_meta meta;
    hb_slab slab;
    hb_boxinfo info;           /* the DM box's, with the overrides */
    int N, H;
    long a, b, hl, hr, T;      /* aligned region [a, b), halos, tile planes */
    float *raw;                /* (hl + nx + hr) planes x N^2: the DM density as read */
    float *x0;                 /* (hl + nx + hr) planes x N^2: standardised log DM */
    float *xt, *xp;            /* (hl + nx + hr) planes x N^2 x 2: sampler state, predictor */
    float *drift, *drift2;     /* nx planes x N^2 x 2 */
    float *tin, *tout;         /* a tile: (T + 2H) planes x N^2 x 3 and x 2 */
} emu;

static void emu_free(emu *e)
{
    hb_unet_free(&e->net);
    hb_slab_free(&e->slab);
    free(e->raw); free(e->x0); free(e->xt); free(e->xp); free(e->drift); free(e->drift2); free(e->tin); free(e->tout);
}

/* The drift at time t of `state` (halos filled here) for this rank's planes (hb_drift_fn). */
static hb_status drift_at(void *ctx, float *state, double t, float *out)
{
    emu *e = ctx;
    const int N = e->N, H = e->H;
    const size_t plane = (size_t)N * N;
    const long x0 = e->slab.x0, nx = e->slab.nx, base = x0 - e->hl;   /* global plane of ext index 0 */
    HB_TRY(hb_halo_fill(&e->slab, state, plane * 2, e->hl, e->hr));
    float feat[HB_UNET_NFEAT];
    hb_interp_features(t, e->info.theta, feat);
    for (long t0 = e->a; t0 < e->b && nx > 0; t0 += e->T) {
        long T = e->b - t0 < e->T ? e->b - t0 : e->T, X = T + 2 * H;
        /* input planes [t0 - H, t0 + T + H): (x_t, x0) per cell */
        for (long p = 0; p < X; p++) {
            long ei = t0 - H + p - base;
            const float *xs = state + (size_t)ei * plane * 2, *ds = e->x0 + (size_t)ei * plane;
            float *dst = e->tin + (size_t)p * plane * 3;
            for (size_t c = 0; c < plane; c++) {
                dst[3 * c] = xs[2 * c];
                dst[3 * c + 1] = xs[2 * c + 1];
                dst[3 * c + 2] = ds[c];
            }
        }
        HB_TRY(hb_unet_infer(&e->net, e->tin, feat, e->tout, (int)X, N, N));
        for (long p = H; p < H + T; p++) {
            long g = t0 - H + p;
            if (g < x0 || g >= x0 + nx) continue;
            memcpy(out + (size_t)(g - x0) * plane * 2, e->tout + (size_t)p * plane * 2, plane * 2 * sizeof *out);
        }
    }
    return HB_OK;
}

/* The DM box's size and parameters against what the model was trained on. */
static hb_status check_box(const emu *e, const char *dm)
{
    const int N = e->N;
    const double cell = e->meta.cell_size, L = e->info.box_size;
    if (N % 4) return HB_ERR0(HB_EARG, "%s: grid %d^3 is not a multiple of 4 (the network halves it twice)", dm, N);
    if (fabs(L / N - cell) > 0.01 * cell) {
        return HB_ERR0(HB_EARG, "%s has cells of %.4g Mpc/h (%g Mpc/h / %d); the model was trained on cells of %.4g Mpc/h",
                       dm, L / N, L, N, cell);
    }
    for (int k = 0; k < HB_NTHETA; k++) {
        double lo = e->meta.theta_min[k], hi = e->meta.theta_max[k], th = e->info.theta[k];
        double tol = 1e-6 * fabs(hi) + 1e-3 * (hi - lo);
        if (th < lo - tol || th > hi + tol) {
            return HB_ERR0(HB_EARG, "%s = %g is outside the range the model was trained on, [%g, %g]",
                           HB_THETA[k].name, th, lo, hi);
        }
    }
    return HB_OK;
}

/* The decomposition, tiles and buffers for an N^3 box. */
static hb_status plan(emu *e, const hb_emulate_config *cfg, MPI_Comm comm)
{
    const int N = e->N;
    e->H = HB_UNET_HALO;
    HB_TRY(hb_slab_init(&e->slab, N, comm));
    const long x0 = e->slab.x0, nx = e->slab.nx;
    const size_t plane = (size_t)N * N;
    e->a = floor4(x0);
    e->b = nx > 0 ? ceil4(x0 + nx) : e->a;
    e->hl = x0 - e->a + e->H;
    e->hr = e->b + e->H - (x0 + nx);
    /* tile: the whole aligned slab when it fits the workspace budget */
    long S = e->b - e->a;
    e->T = cfg->tile > 0 ? cfg->tile : (S > 0 ? S : 4);
    while (cfg->tile <= 0 && e->T > 4) {
        double mb = (double)(e->T + 2 * e->H) * plane * (5.0 * e->net.cfg.width + 5 + 1.5 * e->net.cfg.width) * 4 / 1e6;
        if (mb <= cfg->max_tile_mb) break;
        e->T = floor4(e->T / 2 > 4 ? e->T / 2 : 4);
    }
    if (e->T % 4) return HB_ERR0(HB_EARG, "--tile %ld must be a multiple of 4", e->T);
    const long ext = e->hl + nx + e->hr, X = e->T + 2 * e->H;
    e->raw = malloc(((size_t)ext + 1) * plane * sizeof *e->raw);
    e->x0 = malloc((size_t)ext * plane * sizeof *e->x0);
    e->xt = malloc((size_t)ext * plane * 2 * sizeof *e->xt);
    e->xp = cfg->heun ? malloc((size_t)ext * plane * 2 * sizeof *e->xp) : NULL;
    e->drift = malloc(((size_t)nx + 1) * plane * 2 * sizeof *e->drift);
    e->drift2 = cfg->heun ? malloc(((size_t)nx + 1) * plane * 2 * sizeof *e->drift2) : NULL;
    e->tin = malloc((size_t)X * plane * 3 * sizeof *e->tin);
    e->tout = malloc((size_t)X * plane * 2 * sizeof *e->tout);
    int bad = !e->raw || !e->x0 || !e->xt || !e->drift || !e->tin || !e->tout || (cfg->heun && (!e->xp || !e->drift2));
    hb_status rc = bad ? HB_ERR(HB_ENOMEM, "emulation buffers (%ld planes of %d^2)", ext, N) : HB_OK;
    if (rc == HB_OK && nx > 0) rc = hb_unet_reserve_infer(&e->net, (int)X, N, N);
    return hb_mpi_agree(comm, rc);
}

/* The model, the DM box (slab with its halos, straight from the file) and its parameters. */
static hb_status load(emu *e, const hb_emulate_config *cfg, MPI_Comm comm)
{
    if (cfg->steps < 1) return HB_ERR0(HB_EARG, "--steps %d: need at least one sampler step", cfg->steps);
    HB_TRY(hb_model_load(cfg->model, comm, &e->net, &e->meta));
    hb_h5 df;
    HB_TRY(hb_h5_open(&df, cfg->dm, comm));
    hb_status rc = hb_h5_field_size(&df, HB_FIELD_DM, &e->N);
    if (rc == HB_OK) rc = hb_box_read_info(&df, &e->info);
    if (rc == HB_OK) {
        hb_theta_override(e->info.theta, cfg->theta_override);
        rc = check_box(e, cfg->dm);
    }
    if (rc == HB_OK) rc = plan(e, cfg, comm);
    const long nx = e->slab.nx, ext = e->hl + nx + e->hr;
    if (rc == HB_OK) {
        rc = hb_h5_read_field(&df, HB_FIELD_DM, e->N, nx > 0 ? e->slab.x0 - e->hl : e->slab.x0, nx > 0 ? ext : 0,
                              e->raw, (size_t)e->N);
    }
    hb_h5_close(&df);
    HB_TRY(rc);
    const size_t n = (size_t)(nx > 0 ? ext : 0) * e->N * e->N;
    for (size_t i = 0; i < n; i++) e->x0[i] = hb_interp_to_std(&e->meta.ic, 0, e->raw[i]);
    /* X(0) = x0 for both channels */
    for (size_t i = 0; i < n; i++) e->xt[2 * i] = e->xt[2 * i + 1] = e->x0[i];
    return HB_OK;
}

/* Back to physical units, clamped to the log10 range of the training set
 * (the P(k) of a field is dominated by its extreme cells: a sample beyond
 * anything seen in training must not set it); gas density rescaled to mean 1. */
static hb_status destandardise(const emu *e, float *own, float *gas, float *temp, MPI_Comm comm)
{
    const hb_interp *ic = &e->meta.ic;
    const size_t n = (size_t)e->slab.nx * e->N * e->N;
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
    float inv = (float)(pow((double)e->N, 3) / sum);
    for (size_t c = 0; c < n; c++) gas[c] *= inv;
    return HB_OK;
}

static hb_status write_box(const emu *e, const hb_emulate_config *cfg, const float *gas, const float *temp,
                           MPI_Comm comm)
{
    const size_t plane = (size_t)e->N * e->N;
    hb_box_fields bf = {e->N, e->slab.x0, e->slab.nx, (size_t)e->N,
                        {e->raw + (size_t)e->hl * plane, gas, temp}, {"cic", "none", "none"}};
    const hb_h5_attr extra[] = {{"emulated_by", 's', 0, 0, cfg->model}, {"emulated_from", 's', 0, 0, cfg->dm},
                                {"sampler", 's', 0, 0, cfg->heun ? "heun" : "em"},
                                {"sampler_steps", 'l', 0, cfg->steps, NULL}, {"sampler_seed", 'l', 0, (long)cfg->seed, NULL}};
    return hb_box_write(cfg->out, comm, &bf, &e->info, extra, (int)(sizeof extra / sizeof extra[0]), cfg->prov);
}

/* Integrate from X(0) = x0 to t = 1. */
static hb_status integrate(emu *e, const hb_emulate_config *cfg)
{
    const size_t plane = (size_t)e->N * e->N;
    hb_sampler s = {cfg->heun, cfg->steps, cfg->seed, &e->meta.ic};
    hb_progress prog;
    hb_progress_init(&prog, "emulate", cfg->steps, "steps");
    for (int n = 0; n < cfg->steps; n++) {
        HB_TRY(hb_sampler_step(&s, n, e->xt, e->xp, (size_t)e->hl * plane * 2, (size_t)e->slab.nx * plane,
                               (uint64_t)(e->slab.x0 * (long)plane), drift_at, e, e->drift, e->drift2));
        hb_progress_step(&prog, n + 1, NULL);
    }
    return HB_OK;
}

hb_status hb_emulate(const hb_emulate_config *cfg, MPI_Comm comm)
{
    emu e;
    memset(&e, 0, sizeof e);
    double t_start = hb_now();
    hb_status rc = load(&e, cfg, comm);
    if (rc != HB_OK) { emu_free(&e); return rc; }
    const double *th = e.info.theta;
    hb_log0("emulate: %s with %s on %d ranks: %d^3, theta = (%.4g %.4g %.4g %.4g %.4g %.4g), %d %s steps, "
            "tiles of %ld + 2 x %d planes", cfg->dm, cfg->model, e.slab.nranks, e.N, th[0], th[1], th[2], th[3],
            th[4], th[5], cfg->steps, cfg->heun ? "Heun" : "Euler-Maruyama", e.T, e.H);
    rc = integrate(&e, cfg);
    const size_t n = (size_t)e.slab.nx * e.N * e.N;
    float *gas = malloc((n + 1) * sizeof *gas), *temp = malloc((n + 1) * sizeof *temp);
    if (rc == HB_OK && hb_mpi_any(comm, !gas || !temp)) rc = HB_ERR0(HB_ENOMEM, "output fields");
    if (rc == HB_OK) rc = destandardise(&e, e.xt + (size_t)e.hl * e.N * e.N * 2, gas, temp, comm);
    if (rc == HB_OK) rc = write_box(&e, cfg, gas, temp, comm);
    if (rc == HB_OK) {
        double mx = (double)hb_peak_rss();
        rc = hb_mpi_max(comm, &mx, 1);
        hb_log0("emulate: wrote %s in %.1f s; peak memory %.0f MB per rank (max), %d^3 box on %d ranks",
                cfg->out, hb_now() - t_start, mx / 1e6, e.N, e.slab.nranks);
    }
    free(gas);
    free(temp);
    emu_free(&e);
    return rc;
}
