/* Whole-box emulation (hb/emulate.h). */
#include "hb/emulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/h5io.h"
#include "hb/halo.h"
#include "hb/interp.h"
#include "hb/model.h"
#include "hb/mpiutil.h"
#include "hb/rng.h"
#include "hb/train.h"
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
    return c;
}

static long floor4(long x) { return x >= 0 ? x / 4 * 4 : -((-x + 3) / 4 * 4); }
static long ceil4(long x) { return floor4(x + 3); }

typedef struct emu {
    hb_unet net;
    hb_interp ic;
    hb_slab slab;
    int N, H;
    long a, b, hl, hr, T;      /* aligned region [a, b), halos, tile planes */
    double theta[6];
    float *x0;                 /* (hl + nx + hr) planes x N^2: standardised log DM */
    float *xt, *xp;            /* (hl + nx + hr) planes x N^2 x 2: sampler state, predictor */
    float *drift, *drift2;     /* nx planes x N^2 x 2 */
    float *tin, *tout;         /* a tile: (T + 2H) planes x N^2 x 3 and x 2 */
} emu;

static void emu_free(emu *e)
{
    hb_unet_free(&e->net);
    hb_slab_free(&e->slab);
    free(e->x0); free(e->xt); free(e->xp); free(e->drift); free(e->drift2); free(e->tin); free(e->tout);
}

/* The drift at time t of `state` (halos filled) for this rank's planes. */
static hb_status drift_at(emu *e, float *state, double t, float *out)
{
    const int N = e->N, H = e->H;
    const size_t plane = (size_t)N * N;
    const long x0 = e->slab.x0, nx = e->slab.nx, base = x0 - e->hl;   /* global plane of ext index 0 */
    HB_TRY(hb_halo_fill(&e->slab, state, plane * 2, e->hl, e->hr));
    float feat[HB_UNET_NFEAT];
    hb_interp_features(t, e->theta, feat);
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

static hb_status read_theta(hb_h5 *f, const hb_params *ov, double theta[6], hb_boxinfo *bi)
{
    HB_TRY(hb_h5_read_boxinfo(f, bi));
    hb_boxinfo_override(bi, ov);
    hb_boxinfo_theta(bi, theta);
    return HB_OK;
}

hb_status hb_emulate(const hb_emulate_config *cfg, const hb_params *ov, MPI_Comm comm)
{
    emu e;
    memset(&e, 0, sizeof e);
    double t_start = hb_now();
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (cfg->steps < 1) return HB_ERR0(HB_EARG, "--steps %d: need at least one sampler step", cfg->steps);
    /* the model */
    hb_h5 mf;
    HB_TRY(hb_h5_open(&mf, cfg->model, comm));
    hb_unet_config uc;
    double tmin[6], tmax[6], cell;
    hb_status rc = hb_model_read_arch(&mf, &uc);
    if (rc == HB_OK) rc = hb_model_read_interp(&mf, &e.ic, tmin, tmax, &cell);
    if (rc == HB_OK) rc = hb_unet_init(&e.net, &uc, 0);
    if (rc == HB_OK) rc = hb_model_read_set(&mf, hb_h5_exists(&mf, "/ema") ? "ema" : "weights", &e.net, e.net.params);
    hb_h5_close(&mf);
    if (rc != HB_OK) { emu_free(&e); return rc; }
    /* the DM box and its parameters */
    hb_h5 df;
    rc = hb_h5_open(&df, cfg->dm, comm);
    if (rc != HB_OK) { emu_free(&e); return rc; }
    hb_boxinfo bi;
    int N = 0;
    rc = hb_h5_field_size(&df, HB_FIELD_DM, &N);
    if (rc == HB_OK) rc = read_theta(&df, ov, e.theta, &bi);
    if (rc == HB_OK && N % 4) rc = HB_ERR0(HB_EARG, "%s: grid %d^3 is not a multiple of 4 (the network halves it twice)", cfg->dm, N);
    if (rc == HB_OK && fabs(bi.box_size / N - cell) > 0.01 * cell) {
        rc = HB_ERR0(HB_EARG, "%s has cells of %.4g Mpc/h (%g Mpc/h / %d); the model was trained on cells of %.4g Mpc/h",
                     cfg->dm, bi.box_size / N, bi.box_size, N, cell);
    }
    for (int k = 0; k < 6 && rc == HB_OK; k++) {
        double span = tmax[k] - tmin[k], tol = 1e-6 * fabs(tmax[k]) + 1e-3 * span;
        if (e.theta[k] < tmin[k] - tol || e.theta[k] > tmax[k] + tol) {
            rc = HB_ERR0(HB_EARG, "%s = %g is outside the range the model was trained on, [%g, %g]",
                         HB_THETA_NAMES[k], e.theta[k], tmin[k], tmax[k]);
        }
    }
    e.N = N;
    e.H = HB_UNET_HALO;
    if (rc == HB_OK) rc = hb_slab_init(&e.slab, N, comm);
    if (rc != HB_OK) { hb_h5_close(&df); emu_free(&e); return rc; }
    const long x0 = e.slab.x0, nx = e.slab.nx;
    const size_t plane = (size_t)N * N;
    e.a = floor4(x0);
    e.b = nx > 0 ? ceil4(x0 + nx) : e.a;
    e.hl = x0 - e.a + e.H;
    e.hr = e.b + e.H - (x0 + nx);
    /* tile: the whole aligned slab when it fits the workspace budget */
    long S = e.b - e.a;
    e.T = cfg->tile > 0 ? cfg->tile : (S > 0 ? S : 4);
    while (cfg->tile <= 0 && e.T > 4) {
        double mb = (double)(e.T + 2 * e.H) * plane * (5.0 * uc.width + 5 + 1.5 * uc.width) * 4 / 1e6;
        if (mb <= cfg->max_tile_mb) break;
        e.T = floor4(e.T / 2 > 4 ? e.T / 2 : 4);
    }
    if (e.T % 4) { hb_h5_close(&df); emu_free(&e); return HB_ERR0(HB_EARG, "--tile %ld must be a multiple of 4", e.T); }
    const long ext = e.hl + nx + e.hr, X = e.T + 2 * e.H;
    e.x0 = malloc((size_t)ext * plane * sizeof *e.x0);
    e.xt = malloc((size_t)ext * plane * 2 * sizeof *e.xt);
    e.xp = cfg->heun ? malloc((size_t)ext * plane * 2 * sizeof *e.xp) : NULL;
    e.drift = malloc(((size_t)nx + 1) * plane * 2 * sizeof *e.drift);
    e.drift2 = cfg->heun ? malloc(((size_t)nx + 1) * plane * 2 * sizeof *e.drift2) : NULL;
    e.tin = malloc((size_t)X * plane * 3 * sizeof *e.tin);
    e.tout = malloc((size_t)X * plane * 2 * sizeof *e.tout);
    int bad = !e.x0 || !e.xt || !e.drift || !e.tin || !e.tout || (cfg->heun && (!e.xp || !e.drift2));
    rc = bad ? HB_ERR(HB_ENOMEM, "emulation buffers (%ld planes of %d^2)", ext, N) : HB_OK;
    if (rc == HB_OK && nx > 0) rc = hb_unet_reserve_infer(&e.net, (int)X, N, N);
    rc = hb_mpi_agree(comm, rc);
    /* the DM slab with its halos straight from the file (periodic read) */
    float *raw = rc == HB_OK ? malloc(((size_t)ext + 1) * plane * sizeof *raw) : NULL;
    if (rc == HB_OK) rc = hb_h5_read_field(&df, HB_FIELD_DM, N, nx > 0 ? x0 - e.hl : x0, nx > 0 ? ext : 0, raw, (size_t)N);
    hb_h5_close(&df);
    if (rc != HB_OK) { free(raw); emu_free(&e); return rc; }
    for (size_t i = 0; i < (size_t)(nx > 0 ? ext : 0) * plane; i++) e.x0[i] = hb_interp_to_std(&e.ic, 0, raw[i]);
    /* X(0) = x0 for both channels */
    for (size_t i = 0; i < (size_t)(nx > 0 ? ext : 0) * plane; i++) e.xt[2 * i] = e.xt[2 * i + 1] = e.x0[i];
    hb_log0("emulate: %s with %s on %d ranks: %d^3, theta = (%.4g %.4g %.4g %.4g %.4g %.4g), %d %s steps, "
            "tiles of %ld + 2 x %d planes", cfg->dm, cfg->model, e.slab.nranks, N, e.theta[0], e.theta[1],
            e.theta[2], e.theta[3], e.theta[4], e.theta[5], cfg->steps, cfg->heun ? "Heun" : "Euler-Maruyama",
            e.T, e.H);
    /* integrate dX = b dt + sigma(t) dW from t = 0 to 1 */
    hb_progress prog;
    hb_progress_init(&prog, "emulate", cfg->steps, "steps");
    const double dt = 1.0 / cfg->steps;
    float *own = e.xt + (size_t)e.hl * plane * 2;
    for (int n = 0; n < cfg->steps && rc == HB_OK; n++) {
        double tn = n * dt;
        int last = n == cfg->steps - 1;
        float noise_amp = last ? 0.0f : (float)(hb_interp_sigma(&e.ic, tn) * sqrt(dt));
        rc = drift_at(&e, e.xt, tn, e.drift);
        if (rc != HB_OK) break;
        if (cfg->heun) {
            float *pown = e.xp + (size_t)e.hl * plane * 2;
            for (size_t c = 0; c < (size_t)nx * plane; c++) {
                uint64_t gidx = (uint64_t)(x0 * (long)plane) + c;
                double g[2];
                hb_rng_normal2(cfg->seed, HB_STREAM_SAMPLER, gidx, (uint32_t)n, g);
                for (int k = 0; k < 2; k++) pown[2 * c + k] = own[2 * c + k] + (float)dt * e.drift[2 * c + k] + noise_amp * (float)g[k];
            }
            rc = drift_at(&e, e.xp, tn + dt, e.drift2);
            if (rc != HB_OK) break;
        }
        for (size_t c = 0; c < (size_t)nx * plane; c++) {
            uint64_t gidx = (uint64_t)(x0 * (long)plane) + c;
            double g[2];
            hb_rng_normal2(cfg->seed, HB_STREAM_SAMPLER, gidx, (uint32_t)n, g);
            for (int k = 0; k < 2; k++) {
                float b = cfg->heun ? 0.5f * (e.drift[2 * c + k] + e.drift2[2 * c + k]) : e.drift[2 * c + k];
                own[2 * c + k] += (float)dt * b + noise_amp * (float)g[k];
            }
        }
        hb_progress_step(&prog, n + 1, NULL);
    }
    /* back to physical units, clamped to the log10 range of the training set
     * (the P(k) of a field is dominated by its extreme cells: a sample beyond
     * anything seen in training must not set it); gas density rescaled to mean 1 */
    for (int k = 0; k < 2 && rc == HB_OK; k++) {
        float lo = (float)((e.ic.lmin[k + 1] - e.ic.mean[k + 1]) / e.ic.std[k + 1]);
        float hi = (float)((e.ic.lmax[k + 1] - e.ic.mean[k + 1]) / e.ic.std[k + 1]);
        for (size_t c = 0; c < (size_t)nx * plane; c++) own[2 * c + k] = fminf(fmaxf(own[2 * c + k], lo), hi);
    }
    float *gas = NULL, *temp = NULL;
    if (rc == HB_OK) {
        gas = malloc(((size_t)nx + 1) * plane * sizeof *gas);
        temp = malloc(((size_t)nx + 1) * plane * sizeof *temp);
        double sum = 0;
        for (size_t c = 0; c < (size_t)nx * plane; c++) {
            gas[c] = (float)hb_interp_from_std(&e.ic, 1, own[2 * c]);
            temp[c] = (float)hb_interp_from_std(&e.ic, 2, own[2 * c + 1]);
            sum += gas[c];
        }
        hb_mpi_sum(comm, &sum, 1);
        float inv = (float)(pow((double)N, 3) / sum);
        for (size_t c = 0; c < (size_t)nx * plane; c++) gas[c] *= inv;
    }
    hb_h5 of;
    if (rc == HB_OK) rc = hb_h5_create(&of, cfg->out, comm);
    if (rc == HB_OK) {
        float *dm = raw + (size_t)e.hl * plane;   /* this rank's DM planes */
        rc = hb_h5_write_field(&of, HB_FIELD_DM, N, x0, nx, dm, (size_t)N, "cic");
        if (rc == HB_OK) rc = hb_h5_write_field(&of, HB_FIELD_GAS, N, x0, nx, gas, (size_t)N, "none");
        if (rc == HB_OK) rc = hb_h5_write_field(&of, HB_FIELD_TEMP, N, x0, nx, temp, (size_t)N, "none");
        if (rc == HB_OK) rc = hb_h5_write_boxinfo(&of, &bi);
        if (rc == HB_OK) rc = hb_h5_attr_write_string(&of, "/", "emulated_by", cfg->model);
        if (rc == HB_OK) rc = hb_h5_attr_write_string(&of, "/", "emulated_from", cfg->dm);
        if (rc == HB_OK) rc = hb_h5_attr_write_string(&of, "/", "sampler", cfg->heun ? "heun" : "em");
        if (rc == HB_OK) rc = hb_h5_attr_write_long(&of, "/", "sampler_steps", cfg->steps);
        if (rc == HB_OK) rc = hb_h5_attr_write_long(&of, "/", "sampler_seed", (long)cfg->seed);
        if (rc == HB_OK && ov) rc = hb_h5_write_params(&of, ov);
        if (rc == HB_OK) rc = hb_h5_commit(&of);
        else hb_h5_abort(&of);
    }
    if (rc == HB_OK) {
        double rss = (double)hb_peak_rss(), mx = rss;
        hb_mpi_max(comm, &mx, 1);
        hb_log0("emulate: wrote %s in %.1f s; peak memory %.0f MB per rank (max), %d^3 box on %d ranks",
                cfg->out, hb_now() - t_start, mx / 1e6, N, e.slab.nranks);
    }
    free(raw);
    free(gas);
    free(temp);
    emu_free(&e);
    return rc;
}
