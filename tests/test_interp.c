/* The interpolant end to end on a toy problem with a known answer, and the
 * rank-count independence of training and emulation.
 *
 * Toy boxes (tests/toy.h, 12^3): log10 gas = a(th) g + b(th) + s(th) eps and
 * log10 T = d(th) + c(th) g + 0.1 eps' cell by cell, g = log10 dm. Trained on
 * a grid of parameters, emulated at parameters in between: the emulated
 * conditional means (slopes a, c; intercept d: the gas is renormalised to
 * mean 1, which absorbs b) and scatters must match within 5%. */
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

START_TEST(toy_conditional_distribution)
{
    char **paths;
    int n = make_train_set(&paths);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double t0 = MPI_Wtime();
    hb_train_config c = toy_train_config("toy_model.h5", 3000, 8);
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    double t_train = MPI_Wtime() - t0;
    /* emulate at parameters not trained on; the gas mean is renormalised to
     * 1, so compare slopes and scatter, and the intercept after undoing it */
    const double om = 0.35, agn2 = 1.41;
    if (rank == 0) ck_assert_int_eq(toy_write("toy/test.h5", NTEST, 25.0 * NTEST / NT, om, agn2, 777, 1), HB_OK);
    MPI_Barrier(MPI_COMM_WORLD);
    hb_emulate_config ec = hb_emulate_config_default();
    snprintf(ec.model, sizeof ec.model, "toy_model.h5");
    snprintf(ec.dm, sizeof ec.dm, "toy/test.h5");
    ec.steps = 200;
    double res[2][6];
    for (int sd = 0; sd < 2; sd++) {
        ec.seed = 1 + (uint64_t)sd;
        snprintf(ec.out, sizeof ec.out, "toy_emulated_%d.h5", sd);
        ck_assert_int_eq(hb_emulate(&ec, MPI_COMM_WORLD), HB_OK);
        if (rank == 0) {
            fit(ec.out, HB_FIELD_GAS, 777, &res[sd][0], &res[sd][1], &res[sd][2]);
            fit(ec.out, HB_FIELD_TEMP, 777, &res[sd][3], &res[sd][4], &res[sd][5]);
        }
    }
    if (rank == 0) {
        const double a = toy_a(om, agn2), s = toy_s(om, agn2), c = toy_c(om), d = toy_d(om);
        for (int sd = 0; sd < 2; sd++) {
            printf("toy (trained %.1f s), seed %d: gas slope %.4f (true %.4f) scatter %.4f (%.4f); "
                   "T slope %.4f (%.4f) intercept %.4f (%.4f) scatter %.4f (0.1)\n", t_train, sd + 1, res[sd][0], a,
                   res[sd][2], s, res[sd][3], c, res[sd][4], d, res[sd][5]);
            ck_assert_double_lt(fabs(res[sd][0] / a - 1), 0.05);
            ck_assert_double_lt(fabs(res[sd][2] / s - 1), 0.05);
            ck_assert_double_lt(fabs(res[sd][3] / c - 1), 0.05);
            ck_assert_double_lt(fabs(res[sd][4] - d), 0.05 * c * TOY_SD);   /* 5% of the mean's spread */
            ck_assert_double_lt(fabs(res[sd][5] / 0.1 - 1), 0.05);
        }
        /* two seeds: different samples */
        hb_h5 f1, f2;
        const int nn = NTEST * NTEST * NTEST;
        float *g1 = malloc((size_t)nn * 4), *g2 = malloc((size_t)nn * 4);
        ck_assert_int_eq(hb_h5_open(&f1, "toy_emulated_0.h5", MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_open(&f2, "toy_emulated_1.h5", MPI_COMM_SELF), HB_OK);
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
    hb_train_config c = toy_train_config("solo.h5", 20, width);
    if (rank == 0) ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_SELF), HB_OK);
    MPI_Barrier(MPI_COMM_WORLD);
    c = toy_train_config("all.h5", 20, width);
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    /* data-parallel: every rank its own group, boxes of the batch shared out */
    c = toy_train_config("groups.h5", 20, width);
    c.group = 1;
    ck_assert_int_eq(hb_train(&c, paths, n, NULL, 0, MPI_COMM_WORLD), HB_OK);
    double d[4] = {0, 0, 0, 0};
    if (rank == 0) {
        d[0] = rel_diff_sets("solo.h5", "all.h5", "weights");
        d[1] = rel_diff_sets("solo.h5", "all.h5", "adam_v");
        d[2] = rel_diff_sets("solo.h5", "groups.h5", "weights");
        d[3] = rel_diff_sets("solo.h5", "groups.h5", "adam_v");
        printf("training at width %d on %d ranks vs 1: |dw|/|w| = %.2e, |dv|/|v| = %.2e after 20 steps; %d groups of "
               "1 rank: %.2e, %.2e\n", width, size, d[0], d[1], size, d[2], d[3]);
    }
    MPI_Bcast(d, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (int i = 0; i < 4; i++) ck_assert_double_le(d[i], 1e-5);
    hb_dataset_free_list(paths, n);
}
END_TEST

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
    if (rank == 0) {
        size_t nn = (size_t)N * N * N;
        float *dm = malloc(nn * 4);
        for (size_t i = 0; i < nn; i++) dm[i] = (float)pow(10, toy_g(5, i));
        hb_h5 f;
        ck_assert_int_eq(hb_h5_create(&f, "dm32.h5", MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_write_field(&f, HB_FIELD_DM, N, 0, N, dm, N, "cic"), HB_OK);
        hb_boxinfo b = {25.0 * N / NT, 0.0, 0.049, 0.6711, 0.9624, {0.3, 0.8, 1.0, 1.0, 1.0, 1.0}, 5};   /* the training cell size */
        ck_assert_int_eq(hb_box_write_info(&f, &b), HB_OK);
        ck_assert_int_eq(hb_h5_commit(&f), HB_OK);
        free(dm);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    hb_emulate_config ec = hb_emulate_config_default();
    snprintf(ec.model, sizeof ec.model, "emu_model.h5");
    snprintf(ec.dm, sizeof ec.dm, "dm32.h5");
    ec.steps = 4;
    ec.heun = 1;
    snprintf(ec.out, sizeof ec.out, "emu_solo.h5");
    if (rank == 0) ck_assert_int_eq(hb_emulate(&ec, MPI_COMM_SELF), HB_OK);
    MPI_Barrier(MPI_COMM_WORLD);
    snprintf(ec.out, sizeof ec.out, "emu_all.h5");
    ck_assert_int_eq(hb_emulate(&ec, MPI_COMM_WORLD), HB_OK);
    double worst = 0;
    if (rank == 0) {
        size_t nn = (size_t)N * N * N;
        float *a = malloc(nn * 4), *b = malloc(nn * 4);
        const char *fields[2] = {HB_FIELD_GAS, HB_FIELD_TEMP};
        for (int k = 0; k < 2; k++) {
            hb_h5 fa, fb;
            hb_h5_open(&fa, "emu_solo.h5", MPI_COMM_SELF);
            hb_h5_open(&fb, "emu_all.h5", MPI_COMM_SELF);
            hb_h5_read_field(&fa, fields[k], N, 0, N, a, N);
            hb_h5_read_field(&fb, fields[k], N, 0, N, b, N);
            hb_h5_close(&fa);
            hb_h5_close(&fb);
            for (size_t i = 0; i < nn; i++) worst = fmax(worst, fabs(a[i] - b[i]) / fabs(a[i]));
        }
        printf("emulation at width %d on %d ranks vs 1: max relative difference %.2e\n", width, size, worst);
        free(a);
        free(b);
    }
    MPI_Bcast(&worst, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    ck_assert_double_le(worst, 1e-4);   /* float network on different slabs, 8 evaluations */
    hb_dataset_free_list(paths, n);
}
END_TEST

static Suite *interp_suite(void)
{
    Suite *s = suite_create("interp");
    TCase *tc = tcase_create("core");
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 2) tcase_add_test(tc, toy_conditional_distribution);   /* ~1 min of training: once */
    tcase_add_loop_test(tc, training_rank_count_independent, 0, 2);
    tcase_add_loop_test(tc, emulation_rank_count_independent, 0, 2);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(interp_suite)
