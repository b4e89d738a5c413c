/* The interpolant end to end on a toy problem with a known answer, and the
 * rank-count independence of training and emulation.
 *
 * Toy boxes (tests/toy.h, 12^3): log10 gas = a(th) g + b(th) + s(th) eps and
 * log10 T = d(th) + c(th) g + 0.1 eps' + 1 dex in a hot phase of 10% of the
 * cells, cell by cell, g = log10 dm. Trained on a grid of parameters,
 * emulated at parameters in between: the emulated conditional means (slopes
 * a, c; intercept d: the gas is renormalised to mean 1, which absorbs b) and
 * scatters must match within 5%, and so must the heavy-tailed temperature's
 * linear mean, variance and 99th percentile (analytic, given the box's g);
 * with the sampler's diffusion changed after training (lambda = 0.5 from
 * t = 0.3) the conditional means and variances too. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb/emulate.h"
#include "hb/h5io.h"
#include "hb/model.h"
#include "hb/rng.h"
#include "hb/train.h"
#include "hbtest.h"

#include "toy.h"

#define NT 12        /* toy boxes: 12^3, so 3 ranks each get a 4-plane block */
#define NTEST 32   /* the test box: 32^3 at the training cell size, for sharp statistics */

static void write_toy(const char *path, double om, double agn2, long seed)
{
    ck_assert_int_eq(toy_write(path, NT, 25.0, om, agn2, seed, 1), HB_OK);
}

/* Training set: a 24-box Latin hypercube in (Omega_m, A_AGN2) (tests/toy.h),
 * written once by rank 0. */
static int make_train_set(char ***paths)
{
    const int n = 24;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) mkdir("toy", 0755);
    char **p = malloc((size_t)n * sizeof *p);
    for (int i = 0; i < n; i++) {
        p[i] = malloc(64);
        snprintf(p[i], 64, "toy/box%02d.h5", i);
        double om, agn2;
        toy_lh(i, n, &om, &agn2);
        if (rank == 0 && access(p[i], F_OK) != 0) write_toy(p[i], om, agn2, 100 + i);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    *paths = p;
    return n;
}

/* The toy is cell by cell, so small boxes lose nothing and give many
 * interpolant times t per second: a batch of 8 boxes of 12^3 per step. */
static hb_train_config toy_train_config(const char *out, long steps, int width)
{
    hb_train_config c = hb_train_config_default();
    c.steps = steps;
    c.batch = 8;
    c.width = width;
    c.adam.lr = 3e-3;
    c.adam.warmup = 30;
    c.adam.total = steps;
    c.ema_decay = 0.995;
    c.ckpt_every = 0;
    c.val_every = 1000000;
    snprintf(c.out, sizeof c.out, "%s", out);
    return c;
}

/* Read an emulated field; fit log10 field = a g + b + resid; return a, b, sd(resid). */
static void fit(const char *path, const char *field, long seed, double *a, double *b, double *s)
{
    hb_h5 f;
    ck_assert_int_eq(hb_h5_open(&f, path, MPI_COMM_SELF), HB_OK);
    const size_t n = (size_t)NTEST * NTEST * NTEST;
    float *gas = malloc(n * 4);
    ck_assert_int_eq(hb_h5_read_field(&f, field, NTEST, 0, NTEST, gas, NTEST), HB_OK);
    hb_h5_close(&f);
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double x = toy_g(seed, i), y = log10(gas[i]);
        sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    *a = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    *b = (sy - *a * sx) / n;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double r = log10(gas[i]) - (*a * toy_g(seed, i) + *b);
        ss += r * r;
    }
    *s = sqrt(ss / (n - 2));
    free(gas);
}

/* The toy temperature's exact moments over the test box: E[T], Var[T] over
 * cells (the g of each cell known) and the 99th percentile of the mixture. */
typedef struct tstats { double mean, var, p99; } tstats;

static double mix_cdf(const double *mu, size_t n, double lx)
{
    double F = 0;
    for (size_t i = 0; i < n; i++) {
        F += (1 - TOY_HOT_P) * 0.5 * erfc(-(lx - mu[i]) / (TOY_T_SD * M_SQRT2)) +
             TOY_HOT_P * 0.5 * erfc(-(lx - mu[i] - TOY_HOT_DEX) / (TOY_T_SD * M_SQRT2));
    }
    return F / n;
}

static tstats toy_t_exact(double om, long seed)
{
    const size_t n = (size_t)NTEST * NTEST * NTEST;
    const double l10 = log(10.0), k1 = exp(0.5 * pow(TOY_T_SD * l10, 2)), k2 = exp(2 * pow(TOY_T_SD * l10, 2));
    const double h1 = 1 - TOY_HOT_P + TOY_HOT_P * pow(10, TOY_HOT_DEX), h2 = 1 - TOY_HOT_P + TOY_HOT_P * pow(10, 2 * TOY_HOT_DEX);
    double *mu = malloc(n * sizeof *mu), m1 = 0, m2 = 0;
    for (size_t i = 0; i < n; i++) {
        mu[i] = toy_d(om) + toy_c(om) * toy_g(seed, i);
        m1 += pow(10, mu[i]) * k1 * h1 / n;
        m2 += pow(10, 2 * mu[i]) * k2 * h2 / n;
    }
    double lo = 2, hi = 9;   /* bisection on log10 T */
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (mix_cdf(mu, n, mid) < 0.99) lo = mid;
        else hi = mid;
    }
    free(mu);
    tstats t = {m1, m2 - m1 * m1, pow(10, 0.5 * (lo + hi))};
    return t;
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The same statistics of the emulated temperature, pooled over files. */
static tstats toy_t_emulated(char *const *paths, int nf)
{
    const size_t n = (size_t)NTEST * NTEST * NTEST;
    float *t = malloc(nf * n * sizeof *t);
    for (int k = 0; k < nf; k++) {
        hb_h5 f;
        ck_assert_int_eq(hb_h5_open(&f, paths[k], MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_TEMP, NTEST, 0, NTEST, t + k * n, NTEST), HB_OK);
        hb_h5_close(&f);
    }
    double m1 = 0, m2 = 0;
    for (size_t i = 0; i < nf * n; i++) {
        m1 += t[i];
        m2 += (double)t[i] * t[i];
    }
    m1 /= nf * n;
    m2 /= nf * n;
    qsort(t, nf * n, sizeof *t, cmp_f);
    tstats r = {m1, m2 - m1 * m1, t[(size_t)(0.99 * (nf * n - 1))]};
    free(t);
    return r;
}

/* Emulate the test box with seeds 1..ns, `steps` stochastic Heun steps
 * (diffusion lambda from t_switch) into toy_<tag>_<seed>.h5. */
static void emulate_toy(const char *tag, int ns, int steps, double lambda, double t_switch)
{
    hb_emulate_config ec = hb_emulate_config_default();
    snprintf(ec.model[0], sizeof ec.model[0], "toy_model.h5");
    snprintf(ec.dm, sizeof ec.dm, "toy/test.h5");
    snprintf(ec.out, sizeof ec.out, "toy_%s_{seed}.h5", tag);
    ec.steps = steps;
    ec.seed = 1;
    ec.n_seeds = ns;
    ec.lambda = lambda;
    ec.t_switch = t_switch;
    ck_assert_int_eq(hb_emulate(&ec, MPI_COMM_WORLD), HB_OK);
}

/* Check one sample's conditional means and scatters; print them. */
static void check_fit(const char *path, double om, double agn2, const char *what)
{
    double r[6];
    fit(path, HB_FIELD_GAS, 777, &r[0], &r[1], &r[2]);
    fit(path, HB_FIELD_TEMP, 777, &r[3], &r[4], &r[5]);
    const double a = toy_a(om, agn2), s = toy_s(om, agn2), c = toy_c(om);
    const double d = toy_d(om) + TOY_HOT_P * TOY_HOT_DEX;   /* the hot phase lifts the mean of log T */
    const double st = sqrt(TOY_T_SD * TOY_T_SD + TOY_HOT_DEX * TOY_HOT_DEX * TOY_HOT_P * (1 - TOY_HOT_P));
    printf("toy %s: gas slope %.4f (true %.4f) scatter %.4f (%.4f); T slope %.4f (%.4f) intercept %.4f (%.4f) "
           "scatter %.4f (%.4f)\n", what, r[0], a, r[2], s, r[3], c, r[4], d, r[5], st);
    ck_assert_double_lt(fabs(r[0] / a - 1), 0.05);
    ck_assert_double_lt(fabs(r[2] / s - 1), 0.05);
    ck_assert_double_lt(fabs(r[3] / c - 1), 0.05);
    ck_assert_double_lt(fabs(r[4] - d), 0.05 * c * TOY_SD);   /* 5% of the mean's spread */
    ck_assert_double_lt(fabs(r[5] / st - 1), 0.05);
}

/* The emulated gas before its normalisation to mean 1 (an attribute of the
 * sample) against the toy's exact mean over the test box's cells,
 * 10^(a g + b) e^((s ln 10)^2 / 2): the network models log10 gas, so this
 * checks its intercept and its tail in linear units. */
static void check_raw_mean(const char *path, double om, double agn2, const char *what)
{
    hb_h5 f;
    double got, want = 0;
    ck_assert_int_eq(hb_h5_open(&f, path, MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_h5_attr_read_double(&f, "/", "gas_mean_before_normalisation", &got), HB_OK);
    hb_h5_close(&f);
    const size_t n = (size_t)NTEST * NTEST * NTEST;
    const double a = toy_a(om, agn2), b = toy_b(om, agn2), sl = toy_s(om, agn2) * log(10.0);
    for (size_t i = 0; i < n; i++) want += pow(10, a * toy_g(777, i) + b);
    want *= exp(0.5 * sl * sl) / n;
    printf("toy %s: gas mean before normalisation %.4f (exact %.4f)\n", what, got, want);
    ck_assert_double_lt(fabs(got / want - 1), 0.02);   /* 0.0-0.3% measured; 0.01 dex of intercept is 2.3% */
}

static void check_tail(char *const *paths, int nf, double om, const char *what)
{
    tstats want = toy_t_exact(om, 777), got = toy_t_emulated(paths, nf);
    printf("toy %s: T mean %.4g (exact %.4g), variance %.4g (%.4g), p99 %.4g (%.4g)\n", what, got.mean, want.mean,
           got.var, want.var, got.p99, want.p99);
    ck_assert_double_lt(fabs(got.mean / want.mean - 1), 0.05);
    ck_assert_double_lt(fabs(got.var / want.var - 1), 0.05);
    ck_assert_double_lt(fabs(got.p99 / want.p99 - 1), 0.05);
}

START_TEST(toy_conditional_distribution)
{
    char **paths;
    int n = make_train_set(&paths);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double t0 = MPI_Wtime();
    /* 3000 steps left the hot tail 12% too wide; 6000 left T's variance
     * 4-6% too high in one draw (at the tolerance), 9000: 2% */
    hb_train_config c = toy_train_config("toy_model.h5", 9000, 8);
    c.group = 1;   /* 12^3 boxes: data-parallel, no per-layer halo exchanges of a few planes */
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    if (rank == 0) printf("toy: trained in %.1f s\n", MPI_Wtime() - t0);
    /* emulate at parameters not trained on */
    const double om = 0.35, agn2 = 1.41;
    hb_test_root_ok(rank == 0 ? toy_write("toy/test.h5", NTEST, 25.0 * NTEST / NT, om, agn2, 777, 1) : HB_OK);
    /* 4 samples each: the Monte Carlo error of T's variance from 2 x 32^3
     * cells of this mixture is 1.8% (rms), from 4 1.25% */
    emulate_toy("sde", 4, 50, 1.0, 0.5);    /* the default sampler */
    /* less noise late in t: the drift corrected by the score, a stiffer
     * drift (with an earlier model, T's variance +5.6% at 50 steps, +3.3% at 100, +1.2% at 200) */
    emulate_toy("lam", 4, 100, 0.5, 0.3);
    if (rank == 0) {
        char *sde[] = {"toy_sde_1.h5", "toy_sde_2.h5", "toy_sde_3.h5", "toy_sde_4.h5"},
             *lam[] = {"toy_lam_1.h5", "toy_lam_2.h5", "toy_lam_3.h5", "toy_lam_4.h5"};
        for (int k = 0; k < 2; k++) check_fit(sde[k], om, agn2, k ? "seed 2" : "seed 1");
        for (int k = 0; k < 4; k++) check_raw_mean(sde[k], om, agn2, "sample");
        check_tail(sde, 4, om, "heavy tail");
        for (int k = 0; k < 2; k++) check_fit(lam[k], om, agn2, "lambda 0.5");
        check_tail(lam, 4, om, "lambda 0.5");
        /* two seeds: different samples */
        hb_h5 f1, f2;
        const int nn = NTEST * NTEST * NTEST;
        float *g1 = malloc((size_t)nn * 4), *g2 = malloc((size_t)nn * 4);
        ck_assert_int_eq(hb_h5_open(&f1, sde[0], MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_open(&f2, sde[1], MPI_COMM_SELF), HB_OK);
        hb_h5_read_field(&f1, HB_FIELD_GAS, NTEST, 0, NTEST, g1, NTEST);
        hb_h5_read_field(&f2, HB_FIELD_GAS, NTEST, 0, NTEST, g2, NTEST);
        hb_h5_close(&f1);
        hb_h5_close(&f2);
        double diff = 0;
        for (int i = 0; i < nn; i++) diff += fabs(log10(g1[i]) - log10(g2[i]));
        diff /= nn;
        ck_assert_double_gt(diff, 0.5 * toy_s(om, agn2));   /* independent draws differ by ~1.1 s */
        free(g1);
        free(g2);
    }
    hb_dataset_free_list(paths, n);
}
END_TEST

static double rel_diff_sets(const char *a, const char *b, const char *set)
{
    hb_h5 fa, fb;
    hb_unet_config c;
    ck_assert_int_eq(hb_h5_open(&fa, a, MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_h5_open(&fb, b, MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_model_read_arch(&fa, &c), HB_OK);
    hb_unet u;
    ck_assert_int_eq(hb_unet_init(&u, &c, 0), HB_OK);
    float *wa = malloc(u.n_params * 4), *wb = malloc(u.n_params * 4);
    ck_assert_int_eq(hb_model_read_set(&fa, set, &u, wa), HB_OK);
    ck_assert_int_eq(hb_model_read_set(&fb, set, &u, wb), HB_OK);
    double num = 0, den = 0;
    for (size_t i = 0; i < u.n_params; i++) {
        num += (double)(wa[i] - wb[i]) * (wa[i] - wb[i]);
        den += (double)wa[i] * wa[i];
    }
    hb_h5_close(&fa);
    hb_h5_close(&fb);
    free(wa);
    free(wb);
    hb_unet_free(&u);
    return sqrt(num / den);
}

/* The loss weights of x-slabs on every rank against the whole box's in
 * double: the two exponentials, both clamps and the slope beyond the knee
 * (x0 spans -4.5..4.5), and the normalisation to mean 1 over the box, which
 * is collective. */
/* A synthetic per-step training loss: a decay to 0.1 with the noise of
 * real runs (lognormal, 0.8 in ln: single steps from 0.01 to 1), times
 * `level` from step `from` on (a collapse: 0.8 / 0.1). */
static double synthetic_loss(long step, long from, double level)
{
    double g[2];
    hb_rng_normal2(77, 99, (uint64_t)step, 0, g);
    const double base = 0.1 + 0.6 * exp(-(double)step / 300.0);
    return base * exp(0.8 * g[0] - 0.32) * (step >= from ? level : 1.0);
}

/* Drives a guard from step `first` + 1 to `last`, the caller's role
 * included (a rollback moves the step back); the first rollback or
 * failure is reported and, with `recover`, the loss after a rollback is
 * healthy again (the halved learning rate worked). */
typedef struct guard_run { int rollbacks, snapshots, fail; long trigger, back_to; } guard_run;
static guard_run drive_guard(hb_guard *g, long last, long collapse, int recover)
{
    guard_run r = {0, 0, 0, -1, -1};
    long step = 0;
    while (step < last) {
        step++;
        const long from = recover && r.rollbacks ? last + 1 : collapse;
        const int a = hb_guard_step(g, step, synthetic_loss(step, from, 8.0));
        if (a == HB_GUARD_SNAPSHOT) r.snapshots++;
        if (a == HB_GUARD_ROLLBACK) {
            if (r.trigger < 0) { r.trigger = step; r.back_to = g->slot_step[g->confirmed]; }
            r.rollbacks++;
            step = g->slot_step[g->confirmed];
        }
        if (a == HB_GUARD_FAIL) { r.fail = 1; if (r.trigger < 0) r.trigger = step; break; }
    }
    return r;
}

/* The collapse guard's decisions (hb/train.h) on synthetic loss sequences. */
START_TEST(collapse_guard)
{
    /* Scenarios on a 200-step window, rise 3, 4 rollbacks (rise 0: off). healthy: a snapshot at
     * every check from step 200. A collapse at step 1310 (the demo run's): found within a window,
     * rolled back to the snapshot confirmed at step 1200, i.e. taken at 1000, before it began;
     * the loss then recovers and the run ends at half the learning rate. A collapse that every
     * rollback meets again: 4 rollbacks, then a stop. A collapse before any snapshot is
     * confirmed: a stop, no rollback. Off: nothing. */
    const struct {
        const char *what;
        double rise;
        long last, collapse;
        int recover, rollbacks, fail, snapshots;   /* snapshots -1: not checked */
        double lr_scale;
        long trigger_lo, trigger_hi, back_to;       /* -1: not checked */
    } sc[] = {
        {"healthy", 3.0, 6000, 1L << 30, 0, 0, 0, 30, 1.0, -1, -1, -1},
        {"collapse, recovers", 3.0, 6000, 1310, 1, 1, 0, -1, 0.5, 1311, 1510, 1000},
        {"collapse, every time", 3.0, 6000, 1310, 0, 4, 1, -1, 1.0 / 16, 1311, 1510, 1000},
        {"early collapse", 3.0, 6000, 330, 0, 0, 1, -1, 1.0, 0, 700, -1},
        {"off", 0.0, 3000, 1310, 0, 0, 0, 0, 1.0, -1, -1, -1},
    };
    hb_guard g;
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        g = hb_guard_init(200, sc[i].rise, 4);
        const guard_run r = drive_guard(&g, sc[i].last, sc[i].collapse, sc[i].recover);
        ck_assert_msg(r.rollbacks == sc[i].rollbacks && r.fail == sc[i].fail && g.lr_scale == sc[i].lr_scale,
                      "%s: %d rollbacks, fail %d, lr scale %g", sc[i].what, r.rollbacks, r.fail, g.lr_scale);
        if (sc[i].snapshots >= 0) ck_assert_msg(r.snapshots == sc[i].snapshots, "%s: %d snapshots", sc[i].what, r.snapshots);
        if (sc[i].trigger_lo >= 0) {
            ck_assert_msg(r.trigger >= sc[i].trigger_lo && r.trigger <= sc[i].trigger_hi, "%s: found at step %ld",
                          sc[i].what, r.trigger);
        }
        if (sc[i].back_to >= 0) ck_assert_msg(r.back_to == sc[i].back_to, "%s: back to %ld", sc[i].what, r.back_to);
        if (sc[i].fail && sc[i].rollbacks > 0) {
            /* a stop after rollbacks leaves the guard at its confirmed snapshot's average (the
             * trainer keeps that state) and the collapsed one kept for the message */
            ck_assert_int_eq(g.slot_step[g.confirmed], sc[i].back_to);
            ck_assert_int_eq(g.pending, -1);
            ck_assert_double_eq(g.avg, g.slot_avg[g.confirmed]);
            ck_assert_int_eq(g.n, g.slot_n[g.confirmed]);
            ck_assert(g.tripped > g.best + log(3.0) && g.avg <= g.best + log(1.5));
        }
    }
    /* a snapshot taken as the average drifts up (2x, above the 1.5x of a healthy check at the next
     * one) is dropped: the rollback goes to the one before it */
    g = hb_guard_init(200, 3.0, 4);
    for (long k = 1; k <= 1600; k++) ck_assert_int_ne(hb_guard_step(&g, k, synthetic_loss(k, 1590, 2.0)), HB_GUARD_FAIL);
    ck_assert_int_eq(g.slot_step[g.pending], 1600);   /* still healthy at 1600: taken */
    for (long k = 1601; k <= 1800; k++) ck_assert_int_eq(hb_guard_step(&g, k, synthetic_loss(k, 1590, 2.0)), HB_GUARD_GO);
    ck_assert_int_eq(g.pending, -1);                   /* 2x at 1800: dropped */
    ck_assert_int_eq(g.slot_step[g.confirmed], 1400);
    int a = HB_GUARD_GO;
    long k = 1800;
    while (a == HB_GUARD_GO && k < 3000) { k++; a = hb_guard_step(&g, k, synthetic_loss(k, 1590, 8.0)); }
    ck_assert_int_eq(a, HB_GUARD_ROLLBACK);
    ck_assert_int_eq(g.slot_step[g.confirmed], 1400);
}
END_TEST

START_TEST(loss_weights_slabs)
{
    enum { N = 12 };
    const double kappa[3][3] = {{0.5, 0.5, 0}, {0.7, -0.4, 0}, {0.25, 0.25, 0.5}};
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int x0p = rank * N / size, nx = (rank + 1) * N / size - x0p;
    const size_t plane = (size_t)N * N, n = (size_t)nx * plane;
    float *x0 = malloc((n ? n : 1) * sizeof *x0), *w = malloc((n ? n : 1) * sizeof *w);
    double *ref = malloc(N * plane * sizeof *ref);
    for (int k = 0; k < 3; k++) {
        const double *K = kappa[k];
        double sum = 0;
        for (size_t c = 0; c < N * plane; c++) {
            const double x = (double)(float)(4.5 * sin(0.37 * (double)c + 0.2));
            ref[c] = x >= 0 ? exp(K[0] * fmin(x, 3) + K[2] * fmax(x - 3, 0)) : exp(K[1] * fmax(x, -3));
            sum += ref[c];
        }
        for (size_t c = 0; c < n; c++) x0[c] = (float)(4.5 * sin(0.37 * (double)(x0p * plane + c) + 0.2));
        ck_assert_int_eq(hb_loss_weights(K, x0, n, N, MPI_COMM_WORLD, w), HB_OK);
        double worst = 0, mean = 0;
        for (size_t c = 0; c < n; c++) {
            worst = fmax(worst, fabs(w[c] / (ref[x0p * plane + c] * (double)(N * plane) / sum) - 1));
            mean += w[c];
        }
        MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, &mean, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        mean /= (double)(N * plane);
        if (rank == 0) printf("loss weights kappa %g,%g,%g on %d ranks: worst relative error %.1e, mean %.7f\n",
                              K[0], K[1], K[2], size, worst, mean);
        ck_assert_double_le(worst, 1e-6);
        ck_assert_double_eq_tol(mean, 1.0, 1e-6);
    }
    free(x0);
    free(w);
    free(ref);
}
END_TEST

/* Loop index 0: width 8 (SGEMM convolutions in AVX-512 builds); 1: width 16 (direct kernels). */
#define LOOP_WIDTH (_i ? 16 : 8)

START_TEST(training_rank_count_independent)
{
    const int width = LOOP_WIDTH;
    char **paths;
    int n = make_train_set(&paths);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* width 16 with loss weights: normalised over each group's box */
    const double kappa[3] = {_i ? 0.5 : 0, _i ? -0.3 : 0, _i ? 0.4 : 0};
    hb_train_config c = toy_train_config("solo.h5", 20, width);
    memcpy(c.loss_weight, kappa, sizeof kappa);
    hb_test_root_ok(rank == 0 ? hb_train(&c, paths, n, NULL, 0, MPI_COMM_SELF) : HB_OK);
    c = toy_train_config("all.h5", 20, width);
    memcpy(c.loss_weight, kappa, sizeof kappa);
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    /* data-parallel: every rank its own group, boxes of the batch shared out */
    c = toy_train_config("groups.h5", 20, width);
    memcpy(c.loss_weight, kappa, sizeof kappa);
    c.group = 1;
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    double d[4] = {0, 0, 0, 0};
    if (rank == 0) {
        d[0] = rel_diff_sets("solo.h5", "all.h5", "weights");
        d[1] = rel_diff_sets("solo.h5", "all.h5", "adam_v");
        d[2] = rel_diff_sets("solo.h5", "groups.h5", "weights");
        d[3] = rel_diff_sets("solo.h5", "groups.h5", "adam_v");
        printf("training at width %d (loss weights %g,%g,%g) on %d ranks vs 1: |dw|/|w| = %.2e, |dv|/|v| = %.2e "
               "after 20 steps; %d groups of 1 rank: %.2e, %.2e\n", width, kappa[0], kappa[1], kappa[2], size, d[0], d[1],
               size, d[2], d[3]);
    }
    MPI_Bcast(d, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (int i = 0; i < 4; i++) ck_assert_double_le(d[i], 1e-5);
    hb_dataset_free_list(paths, n);
}
END_TEST

/* A 32^3 DM box of the toy's cell size (rank 0 writes; every rank waits). */
static void write_dm32(const char *path)
{
    const int N = 32;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        size_t nn = (size_t)N * N * N;
        float *dm = malloc(nn * 4);
        for (size_t i = 0; i < nn; i++) dm[i] = (float)pow(10, toy_g(5, i));
        hb_h5 f;
        ck_assert_int_eq(hb_h5_create(&f, path, MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_write_field(&f, HB_FIELD_DM, N, 0, N, dm, N, "cic"), HB_OK);
        hb_boxinfo b = {25.0 * N / NT, 0.0, 0.049, 0.6711, 0.9624, {0.3, 0.8, 1.0, 1.0, 1.0, 1.0}, 5};   /* the training cell size */
        ck_assert_int_eq(hb_box_write_info(&f, &b), HB_OK);
        ck_assert_int_eq(hb_h5_commit(&f), HB_OK);
        free(dm);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* One 32^3 field of an emulated file (rank 0). */
static float *read_field32(const char *path, const char *field)
{
    const int N = 32;
    float *a = malloc((size_t)N * N * N * 4);
    hb_h5 f;
    ck_assert_int_eq(hb_h5_open(&f, path, MPI_COMM_SELF), HB_OK);
    ck_assert_int_eq(hb_h5_read_field(&f, field, N, 0, N, a, N), HB_OK);
    hb_h5_close(&f);
    return a;
}

START_TEST(emulation_rank_count_independent)
{
    /* a 32^3 box: slabs of 12, 12 and 8 planes on 3 ranks */
    const int width = LOOP_WIDTH;
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char **paths;
    int n = make_train_set(&paths);
    hb_train_config c = toy_train_config("emu_model.h5", 5, width);
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    const int N = 32;
    write_dm32("dm32.h5");
    hb_emulate_config ec = hb_emulate_config_default();
    snprintf(ec.model[0], sizeof ec.model[0], "emu_model.h5");
    snprintf(ec.dm, sizeof ec.dm, "dm32.h5");
    ec.steps = 4;
    ec.heun = 1;
    snprintf(ec.out, sizeof ec.out, "emu_solo.h5");
    hb_test_root_ok(rank == 0 ? hb_emulate(&ec, MPI_COMM_SELF) : HB_OK);
    snprintf(ec.out, sizeof ec.out, "emu_all.h5");
    ck_assert_int_eq(hb_emulate(&ec, MPI_COMM_WORLD), HB_OK);
    double worst = 0;
    if (rank == 0) {
        const size_t nn = (size_t)N * N * N;
        const char *fields[2] = {HB_FIELD_GAS, HB_FIELD_TEMP};
        for (int k = 0; k < 2; k++) {
            float *a = read_field32("emu_solo.h5", fields[k]), *b = read_field32("emu_all.h5", fields[k]);
            for (size_t i = 0; i < nn; i++) worst = hb_test_max(worst, fabs(a[i] - b[i]) / fabs(a[i]));
            free(a);
            free(b);
        }
        /* the recorded gas mean before normalisation, a reduction over the ranks */
        double mean[2];
        const char *file[2] = {"emu_solo.h5", "emu_all.h5"};
        for (int k = 0; k < 2; k++) {
            hb_h5 f;
            ck_assert_int_eq(hb_h5_open(&f, file[k], MPI_COMM_SELF), HB_OK);
            ck_assert_int_eq(hb_h5_attr_read_double(&f, "/", "gas_mean_before_normalisation", &mean[k]), HB_OK);
            hb_h5_close(&f);
        }
        worst = hb_test_max(worst, fabs(mean[1] / mean[0] - 1));
        printf("emulation at width %d on %d ranks vs 1: max relative difference %.2e (fields and the gas mean before "
               "normalisation, %.6f vs %.6f)\n", width, size, worst, mean[1], mean[0]);
    }
    MPI_Bcast(&worst, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    ck_assert_double_le(worst, 1e-4);   /* float network on different slabs, 8 evaluations */
    hb_dataset_free_list(paths, n);
}
END_TEST

/* An ensemble's drift is the mean of its members': with one Euler step from
 * t = 0 (no noise in the last step) a sample is x0 + b(0, x0), so the
 * ensemble of two trainings gives, cell by cell, the mean of their
 * standardised log fields: log T the mean of the two log T, log gas that
 * mean up to the constant of the gas's normalisation to mean 1 (cells
 * clamped to the training range excepted). A model with itself is the
 * model alone, bit for bit (y + y halved is y), with the stochastic Heun
 * sampler too. */
START_TEST(emulation_ensemble_mean_drift)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char **paths;
    int n = make_train_set(&paths);
    const char *member[2] = {"ens_a.h5", "ens_b.h5"};
    for (int k = 0; k < 2; k++) {
        hb_train_config c = toy_train_config(member[k], 5, 4);
        c.seed = 11 + (uint64_t)k;
        ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    }
    hb_dataset_free_list(paths, n);
    write_dm32("dm32e.h5");
    const char *out[5] = {"ens_oa.h5", "ens_ob.h5", "ens_oab.h5", "ens_ha.h5", "ens_haa.h5"};
    const int models[5][2] = {{0, -1}, {1, -1}, {0, 1}, {0, -1}, {0, 0}};
    for (int r = 0; r < 5; r++) {
        hb_emulate_config ec = hb_emulate_config_default();
        ec.n_models = models[r][1] < 0 ? 1 : 2;
        for (int k = 0; k < ec.n_models; k++) snprintf(ec.model[k], sizeof ec.model[k], "%s", member[models[r][k]]);
        snprintf(ec.dm, sizeof ec.dm, "dm32e.h5");
        snprintf(ec.out, sizeof ec.out, "%s", out[r]);
        ec.steps = r < 3 ? 1 : 4;
        ec.heun = r >= 3;
        ck_assert_int_eq(hb_emulate(&ec, MPI_COMM_WORLD), HB_OK);
    }
    double res[5] = {0, 0, 0, 0, 0};   /* worst |log T deviation|, gas's, the share of cells compared, Heun's
                                        * worst, the members' largest log T difference */
    if (rank == 0) {
        hb_h5 f;
        hb_model_meta meta;
        ck_assert_int_eq(hb_h5_open(&f, member[0], MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_model_read_meta(&f, &meta), HB_OK);
        hb_h5_close(&f);
        const size_t nn = 32 * 32 * 32;
        const char *fields[2] = {HB_FIELD_GAS, HB_FIELD_TEMP};
        float *v[2][3];
        for (int k = 0; k < 2; k++)
            for (int r = 0; r < 3; r++) v[k][r] = read_field32(out[r], fields[k]);
        /* a cell is compared when none of the three samples sits on the clamp of either field (the
         * gas's clamp is before its normalisation: its log10 range is widened by the shifts) */
        double shift[3], lg[3];
        for (int r = 0; r < 3; r++) {
            ck_assert_int_eq(hb_h5_open(&f, out[r], MPI_COMM_SELF), HB_OK);
            ck_assert_int_eq(hb_h5_attr_read_double(&f, "/", "gas_mean_before_normalisation", &shift[r]), HB_OK);
            hb_h5_close(&f);
            shift[r] = log10(shift[r]);
        }
        size_t used = 0;
        double dsum = 0, dmin = 1e30, dmax = -1e30;
        for (size_t i = 0; i < nn; i++) {
            int inside = 1;
            for (int r = 0; r < 3; r++) {
                double lt = log10(v[1][r][i]);
                lg[r] = log10(v[0][r][i]);
                inside = inside && lt > meta.ic.lmin[2] + 1e-4 && lt < meta.ic.lmax[2] - 1e-4 &&
                         lg[r] + shift[r] > meta.ic.lmin[1] + 1e-4 && lg[r] + shift[r] < meta.ic.lmax[1] - 1e-4;
            }
            if (!inside) continue;
            used++;
            double dt = log10(v[1][2][i]) - 0.5 * (log10(v[1][0][i]) + log10(v[1][1][i]));
            res[0] = hb_test_max(res[0], fabs(dt));
            res[4] = hb_test_max(res[4], fabs(log10(v[1][0][i] / v[1][1][i])));
            double dg = lg[2] - 0.5 * (lg[0] + lg[1]);
            dsum += dg;
            dmin = fmin(dmin, dg);
            dmax = fmax(dmax, dg);
        }
        res[1] = dmax - dmin;
        res[2] = (double)used / (double)nn;
        for (int k = 0; k < 2; k++) {
            float *a = read_field32(out[3], fields[k]), *b = read_field32(out[4], fields[k]);
            for (size_t i = 0; i < nn; i++) res[3] = hb_test_max(res[3], fabs(a[i] - b[i]));
            free(a);
            free(b);
            for (int r = 0; r < 3; r++) free(v[k][r]);
        }
        printf("ensemble of two trainings, one Euler step: log10 T against the members' mean within %.2e dex, "
               "log10 gas within a spread of %.2e dex about a constant %+.4f (%.1f%% of the cells unclamped; the "
               "members' log10 T differ by up to %.3f dex); a model with itself against alone (Heun, 4 steps): max "
               "|difference| %g\n", res[0], res[1], used ? dsum / (double)used : 0.0, 100 * res[2], res[4], res[3]);
    }
    MPI_Bcast(res, 5, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    ck_assert_double_le(res[0], 2e-5);
    ck_assert_double_le(res[1], 4e-5);
    ck_assert_double_ge(res[2], 0.5);    /* not a vacuous comparison: most cells, */
    ck_assert_double_ge(res[4], 1e-2);   /* members far apart against the tolerance */
    ck_assert_double_eq(res[3], 0);
}
END_TEST

/* The one rule an ensemble's members and a resumed training share: equal to
 * 1e-9 relative (absolute below 1), every field, the difference named. */
START_TEST(interp_difference_rule)
{
    hb_interp a = hb_interp_default(), b;
    for (int k = 0; k < HB_NCH; k++) { a.mean[k] = 0.0025 + k; a.std[k] = 0.3 + k; a.lmin[k] = -2; a.lmax[k] = 2; }
    a.mean[2] = 1000;
    a.n_smooth = 2;
    const double r[2] = {1.5, 0.8}, thr[2] = {0, 0}, sm[2] = {-0.02, -0.01}, ss[2] = {0.2, 0.25};
    for (int j = 0; j < 2; j++) { a.smooth_r[j] = r[j]; a.smooth_thr[j] = thr[j]; a.smooth_mean[j] = sm[j]; a.smooth_std[j] = ss[j]; }
    char what[400];
#define DIFF(change) (b = a, change, hb_interp_difference(&a, &b, what, sizeof what), what)
    ck_assert_str_eq(DIFF((void)0), "");
    ck_assert_str_eq(DIFF(b.mean[0] += 5e-10), "");          /* near zero: absolute 1e-9 */
    ck_assert_str_eq(DIFF(b.mean[2] *= 1 + 5e-10), "");      /* 5e-7 absolute, 5e-10 relative */
    ck_assert_ptr_nonnull(strstr(DIFF(b.mean[0] += 2e-9), "the DM channel's standardisation (mean 0.0025"));
    ck_assert_ptr_nonnull(strstr(DIFF(b.mean[2] *= 1 + 2e-9), "the gas temperature channel's standardisation"));
    ck_assert_ptr_nonnull(strstr(DIFF(b.lmax[1] = 3), "gas density channel's standardisation"));
    ck_assert_ptr_nonnull(strstr(DIFF(b.floor[0] = 0.05), "floor 0.05"));
    ck_assert_ptr_nonnull(strstr(DIFF(b.sigma_c = 0.25), "the interpolant (sigma_c 0.25, beta_sq 1 against 0.5, 1)"));
    ck_assert_ptr_nonnull(strstr(DIFF(b.beta_sq = 0), "the interpolant"));
    ck_assert_ptr_nonnull(strstr(DIFF(b.noise_slope[1] = 0.1), "the noise slopes (0, 0.1 against 0, 0)"));
    ck_assert_str_eq(DIFF(b.noise_theta[0][5] = 0.3), "the noise's parameter coefficients (gas density on a_agn2: 0.3 against 0)");
    ck_assert_str_eq(DIFF(b.noise_lngain[0] = 0.3), "");   /* a theta's gain is not the model's */
    char nt[160];
    ck_assert_str_eq(hb_interp_noise_theta_describe(&a, nt, sizeof nt), "none");
    b = a;
    b.noise_theta[0][5] = 0.3;
    b.noise_theta[1][0] = -1.5;
    ck_assert_str_eq(hb_interp_noise_theta_describe(&b, nt, sizeof nt), "omega_m:0,-1.5 a_agn2:0.3,0");
    ck_assert_int_eq(hb_interp_noise_bad(&b.noise_theta[0][0], HB_NTARGET * HB_NTHETA), -1);
    b.noise_theta[1][2] = 2.0001;   /* the first offending coefficient's index, whatever comes after */
    b.noise_theta[1][4] = NAN;
    ck_assert_int_eq(hb_interp_noise_bad(&b.noise_theta[0][0], HB_NTARGET * HB_NTHETA), HB_NTHETA + 2);
    ck_assert_int_eq(hb_interp_noise_bad(&b.noise_theta[1][3], 3), 1);   /* NaN */
    ck_assert_int_eq(hb_interp_noise_bad((const double[]){-2, 2}, 2), -1);   /* the bounds are allowed */
    ck_assert_int_eq(hb_interp_noise_bad((const double[]){0, -INFINITY}, 2), 1);
    ck_assert_str_eq(DIFF(b.smooth_r[1] = 1),
                     "the smoothed-DM channels (radius:threshold 1.5:0, 1:0 against 1.5:0, 0.8:0)");
    ck_assert_str_eq(DIFF(b.n_smooth = 0), "the smoothed-DM channels (radius:threshold none against 1.5:0, 0.8:0)");
    ck_assert_str_eq(DIFF(b.smooth_std[1] = 0.3),
                     "the smoothed-DM channel 1's standardisation (mean -0.01, std 0.3 against -0.01, 0.25)");
    hb_interp_difference(&a, &a, what, 8);   /* a short buffer stays terminated */
    ck_assert_str_eq(what, "");
    b = a;
    b.smooth_thr[0] = 1;
    hb_interp_difference(&a, &b, what, 8);
    ck_assert_uint_eq(strlen(what), 7);
#undef DIFF
}
END_TEST

static Suite *interp_suite(void)
{
    Suite *s = suite_create("interp");
    TCase *tc = tcase_create("core");
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 2) tcase_add_test(tc, toy_conditional_distribution);   /* 9000 toy steps, ~5 min: once */
    tcase_add_test(tc, loss_weights_slabs);
    tcase_add_test(tc, interp_difference_rule);
    tcase_add_test(tc, collapse_guard);
    tcase_add_loop_test(tc, training_rank_count_independent, 0, 2);
    tcase_add_loop_test(tc, emulation_rank_count_independent, 0, 2);
    tcase_add_test(tc, emulation_ensemble_mean_drift);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(interp_suite)
