/* Validation reports (hb/validate.h) against direct computations: identical
 * boxes score zero everywhere; the mock painted twice with one seed has a
 * zero floor and with another seed a positive one; a box against a
 * Gaussian-smoothed copy of itself has the ratio <g^2> and r = <g>/sqrt(<g^2>)
 * per bin, and the report's band columns, hot-gas fraction and tails equal
 * what the test computes from the files itself; the null's own goal rates
 * obey their construction; the samples' spread of scaled boxes equals
 * the ratio of their amplitudes' scatter; each box's goals alone, in a report of two,
 * equal that box validated alone; mismatched boxes fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/box.h"
#include "hb/h5io.h"
#include "hb/ic.h"
#include "hb/mock.h"
#include "hb/pk.h"
#include "hb/rng.h"
#include "hb/theta.h"
#include "hb/validate.h"
#include "hbtest.h"

#define N 32
#define L 50.0
#define RSMOOTH 1.5   /* Mpc/h */

static double flat(double k, void *c) { (void)k; (void)c; return 1.0; }
static double smoothing(double k, void *c) { (void)c; return exp(-k * k * RSMOOTH * RSMOOTH); }
static double filter(double k, void *c) { (void)c; return exp(-0.5 * k * k * RSMOOTH * RSMOOTH); }

/* delta: fixed-amplitude white noise (seed 3), optionally Gaussian-smoothed,
 * scaled by a constant (the same for the smoothed copy) to ~5% rms. */
static float *make_delta(hb_mesh *m, int n, double box, int smooth)
{
    ck_assert_int_eq(hb_mesh_init(m, n, box, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *d = hb_mesh_alloc(m);
    hb_ic_gaussian_k(m, flat, NULL, 3, 1, d);
    const double kf = hb_mesh_kf(m);
    for (ptrdiff_t jy = 0; jy < m->ny_local && smooth; jy++)
        for (int ix = 0; ix < n; ix++)
            for (int iz = 0; iz <= n / 2; iz++) {
                double nx = hb_mesh_freq(m, ix), ny = hb_mesh_freq(m, (int)(m->y0 + jy));
                size_t c = 2 * hb_mesh_kidx(m, jy, ix, iz);
                float g = (float)filter(kf * sqrt(nx * nx + ny * ny + (double)iz * iz), NULL);
                d[c] *= g;
                d[c + 1] *= g;
            }
    hb_mesh_c2r(m, d);
    const float sc = (float)(0.05 * sqrt(pow(n, 3) / 5.0e4));
    for (ptrdiff_t i = 0; i < 2 * m->alloc_local; i++) d[i] *= sc;
    return d;
}

/* A box: dm = gas = 1 + amp delta (with `lognormal`: exp(60 delta) over its
 * mean, about 1.2 in ln, dense enough for the mock's halos), temperature
 * 1e6 (1 + delta)^4 (about half the cells above 1e6 K), no stars. */
static void write_box_amp(const char *path, int n, double box, int smooth, int lognormal, double amp)
{
    hb_mesh m;
    float *d = make_delta(&m, n, box, smooth), *t = hb_mesh_alloc(&m);
    for (ptrdiff_t i = 0; i < 2 * m.alloc_local; i++) d[i] = lognormal ? expf(60 * d[i]) : 1.0f + (float)amp * d[i];
    const float mu = lognormal ? (float)(hb_mesh_sum(&m, d) / pow(n, 3)) : 1.0f;
    for (ptrdiff_t i = 0; i < 2 * m.alloc_local; i++) {
        d[i] /= mu;
        t[i] = 1e6f * powf(d[i], 4);
    }
    hb_h5 f;
    ck_assert_int_eq(hb_h5_create(&f, path, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_h5_write_mesh_field(&f, HB_FIELD_DM, &m, d, "none"), HB_OK);
    ck_assert_int_eq(hb_h5_write_mesh_field(&f, HB_FIELD_GAS, &m, d, "none"), HB_OK);
    ck_assert_int_eq(hb_h5_write_mesh_field(&f, HB_FIELD_TEMP, &m, t, "none"), HB_OK);
    hb_boxinfo b = {box, 0, 0.049, 0.6711, 0.9624, {0.3, 0.8, 1, 1, 1, 1}, 3};
    ck_assert_int_eq(hb_box_write_info(&f, &b), HB_OK);
    ck_assert_int_eq(hb_h5_commit(&f), HB_OK);
    fftwf_free(d);
    fftwf_free(t);
    hb_mesh_free(&m);
}

static void write_box_ln(const char *path, int n, double box, int smooth, int lognormal)
{
    write_box_amp(path, n, box, smooth, lognormal, 1.0);
}
static void write_box(const char *path, int n, double box, int smooth) { write_box_amp(path, n, box, smooth, 0, 1.0); }

static hb_val_group group(const char *truth, char **rep, int nr, char **smp, int ns)
{
    hb_val_group g = {truth, rep, nr, smp, ns};
    return g;
}

START_TEST(identical_boxes)
{
    write_box("a.h5", N, L, 0);
    char *rep[] = {"a.h5", "a.h5"}, *smp[] = {"a.h5", "a.h5"};
    hb_val_group g = group("a.h5", rep, 2, smp, 2);
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(&g, 1, "same", &s, MPI_COMM_WORLD), HB_OK);
    for (int f = 0; f < HB_VAL_NFIELD; f++) {
        ck_assert(s.present[f]);
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            const hb_val_band *x = &s.band[f][b];
            ck_assert_double_lt(x->ens_err, 1e-12);   /* means of equal numbers: round-off only */
            ck_assert_double_eq(x->single_err, 0.0);
            ck_assert_double_eq(x->floor_err, 0.0);
            ck_assert_double_lt(x->ens_null90, 1e-12);
            ck_assert_double_lt(fabs(x->r - 1), 1e-12);
            ck_assert_double_lt(fabs(x->floor_r - 1), 1e-12);
        }
        ck_assert_double_eq(s.w1[f], 0.0);
        ck_assert_double_eq(s.w1_pooled[f], 0.0);
        ck_assert(isnan(s.band[f][0].spread));   /* no scatter in the samples nor in the truths: 0/0 */
    }
    ck_assert_double_eq(s.hot_err, 0.0);
    ck_assert_int_eq(s.n_samples, 2);
    ck_assert_int_eq(s.n_repaints, 2);
    hb_val_goal goals[HB_VAL_MAXGOAL];
    int ng = hb_val_goals(&s, goals, HB_VAL_MAXGOAL);
    ck_assert_int_eq(ng, 11);
    for (int i = 0; i < ng; i++) ck_assert_msg(goals[i].met, "goal %s not met by identical boxes", goals[i].what);
    /* every null split is identical boxes too */
    ck_assert_int_eq(s.null_splits, HB_VAL_NSPLIT);
    ck_assert_int_eq(s.null_all_met, HB_VAL_NSPLIT);
    for (int i = 0; i < ng; i++) ck_assert_double_eq(s.null_goal_rate[i], 1.0);
    ck_assert(access("same.h5", F_OK) == 0 && access("same.txt", F_OK) == 0);
}
END_TEST

/* Without repaints (CAMELS: one truth per box) the four goals whose
 * threshold is the floor's are not measured: neither met nor counted,
 * NaN in report.h5's /goals/met, left out of the box's n_goals and
 * marked n/a in report.txt; the seven others score as with a floor. */
START_TEST(goals_without_floor)
{
    write_box("w.h5", N, L, 0);
    char *smp[] = {"w.h5", "w.h5"};
    hb_val_group g = group("w.h5", NULL, 0, smp, 2);
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(&g, 1, "nofloor", &s, MPI_COMM_WORLD), HB_OK);
    hb_val_goal goals[HB_VAL_MAXGOAL];
    const int ng = hb_val_goals(&s, goals, HB_VAL_MAXGOAL);
    ck_assert_int_eq(ng, 11);
    int nm = 0, met = 0;
    for (int i = 0; i < ng; i++) {
        const int floor_goal = strstr(goals[i].what, "floor") != NULL;
        ck_assert_msg(goals[i].measured == !floor_goal, "goal %s: measured %d", goals[i].what, goals[i].measured);
        nm += goals[i].measured;
        met += goals[i].met;
        if (floor_goal) ck_assert_str_eq(hb_val_goal_verdict(&goals[i]), "n/a (no floor: repaint the truth)");
    }
    ck_assert_int_eq(nm, 7);
    ck_assert_int_eq(met, 7);   /* identical boxes meet every goal they can be scored on */
    ck_assert_int_eq(s.n_boxes, 1);
    ck_assert_int_eq(s.box[0].n_goals, 7);
    ck_assert_int_eq(s.box[0].met, 7);
    if (hb_world_rank() == 0) {
        hb_h5 f;
        double m[HB_VAL_MAXGOAL];
        long nr = 0;
        ck_assert_int_eq(hb_h5_open(&f, "nofloor.h5", MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_read_array(&f, "/goals/met", m, HB_VAL_MAXGOAL, &nr), HB_OK);
        hb_h5_close(&f);
        ck_assert_int_eq(nr, ng);
        for (int i = 0; i < ng; i++) ck_assert(goals[i].measured ? m[i] == 1 : isnan(m[i]));
        FILE *t = fopen("nofloor.txt", "r");
        ck_assert_ptr_nonnull(t);
        char line[512];
        int na = 0, summary = 0;
        while (fgets(line, sizeof line, t)) {
            na += strncmp(line, "goal ", 5) == 0 && strstr(line, "n/a (no floor") != NULL;
            summary += strstr(line, "# goals met: 7 of 7 measured (4 without a floor)") != NULL;
        }
        fclose(t);
        ck_assert_int_eq(na, 4);
        ck_assert_int_eq(summary, 1);
    }
}
END_TEST

/* The mock on one DM box, painted twice with seed 11 and once with seed 12. */
START_TEST(floor_of_repaints)
{
    write_box("dm.h5", N, L, 0);
    hb_mock_config c = hb_mock_config_default();
    double none[HB_NTHETA];
    hb_theta_none(none);
    ck_assert_int_eq(hb_mock_paint_file("dm.h5", "m11.h5", &c, 11, none, NULL, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_mock_paint_file("dm.h5", "m11b.h5", &c, 11, none, NULL, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_mock_paint_file("dm.h5", "m12.h5", &c, 12, none, NULL, MPI_COMM_WORLD), HB_OK);
    char *same[] = {"m11b.h5"}, *other[] = {"m12.h5"};
    hb_val_group g = group("m11.h5", same, 1, same, 1);
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(&g, 1, NULL, &s, MPI_COMM_WORLD), HB_OK);
    for (int f = 0; f < HB_VAL_NFIELD; f++)
        for (int b = 0; b < HB_VAL_NBAND; b++) ck_assert_double_eq(s.band[f][b].floor_err, 0.0);
    g = group("m11.h5", other, 1, same, 1);
    ck_assert_int_eq(hb_validate(&g, 1, NULL, &s, MPI_COMM_WORLD), HB_OK);
    for (int f = 0; f < 2; f++)
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            ck_assert_double_gt(s.band[f][b].floor_err, 1e-3);
            ck_assert_double_lt(s.band[f][b].floor_r, 1.0);
            ck_assert_double_eq(s.band[f][b].single_err, 0.0);   /* the sample is the truth's twin */
        }
    /* against the pooled truths (m11 and m12) the twin of m11 is half as far
     * as m12 is from m11: the pooled CDF is the mean of the two */
    for (int f = 0; f < 2; f++) {
        ck_assert_double_eq(s.w1[f], 0.0);
        ck_assert_double_gt(s.w1_floor[f], 1e-4);
        ck_assert_msg(fabs(s.w1_pooled[f] - s.w1_floor[f] / 2) < 1e-12 * s.w1_floor[f], "field %d: w1_pooled %g, "
                      "half the floor's %g", f, s.w1_pooled[f], s.w1_floor[f] / 2);
    }
}
END_TEST

/* The sample standard deviation of ln a[0, n). */
static double sd_ln(const double *a, int n)
{
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += log(a[i]) / n;
    for (int i = 0; i < n; i++) v += pow(log(a[i]) - m, 2) / (n - 1);
    return sqrt(v);
}

/* Boxes 1 + a delta with one delta: P(k) = a^2 P_delta in every bin, so
 * the variance of ln P over files is 4 var(ln a) in every bin and the
 * spread of each gas band is sd(ln a) of the samples over that of the
 * truths. Samples as scattered as the truths meet the check; too alike or
 * too scattered miss it; one sample cannot measure it. */
START_TEST(spread_of_scaled_boxes)
{
    const double at[7] = {1, 1.1, 0.9, 1.2, 0.85, 1.05, 0.95};   /* the truth, then 6 repaints */
    const double as[3][4] = {{1.1, 0.92, 1.15, 0.9}, {1.02, 0.99, 1.01, 1.0}, {1.8, 0.55, 1.6, 0.6}};
    char tn[7][16], sn[3][4][16], *rep[6], *smp[4];
    for (int i = 0; i < 7; i++) {
        snprintf(tn[i], sizeof tn[i], "t%d.h5", i);
        write_box_amp(tn[i], N, L, 0, 0, at[i]);
        if (i) rep[i - 1] = tn[i];
    }
    const int want_met[3] = {1, 0, 0};
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 4; i++) {
            snprintf(sn[c][i], sizeof sn[c][i], "s%d%d.h5", c, i);
            write_box_amp(sn[c][i], N, L, 0, 0, as[c][i]);
            smp[i] = sn[c][i];
        }
        hb_val_group g = group(tn[0], rep, 6, smp, 4);
        hb_val_summary s;
        ck_assert_int_eq(hb_validate(&g, 1, c ? NULL : "spread", &s, MPI_COMM_WORLD), HB_OK);
        const double want = sd_ln(as[c], 4) / sd_ln(at, 7);
        for (int b = 0; b < HB_VAL_NBAND; b++)
            ck_assert_msg(hb_test_relerr(s.band[0][b].spread, want) < 1e-4, "set %d band %d: spread %g, direct %g", c,
                          b, s.band[0][b].spread, want);
        hb_val_goal g4[HB_VAL_NSPREAD];
        ck_assert_int_eq(hb_val_spread_checks(&s, g4, NULL, HB_VAL_NSPREAD), 4);
        for (int i = 0; i < 2; i++) {   /* gas density's two bands */
            ck_assert(g4[i].measured);
            ck_assert_double_lt(fabs(g4[i].figure - fabs(log(want))), 1e-4);
            ck_assert_double_gt(g4[i].null, 0.0);
            ck_assert_msg(g4[i].met == want_met[c], "set %d: spread %g (|ln| %g, null %g) met %d", c, want,
                          g4[i].figure, g4[i].null, g4[i].met);
        }
        ck_assert_int_eq(s.box[0].n_spread, 4);
        ck_assert_double_eq(s.box[0].spread[0], s.band[0][0].spread);   /* one box: its own */
        if (c == 0 && hb_world_rank() == 0) {   /* the report's line equals the summary */
            FILE *t = fopen("spread.txt", "r");
            char line[512];
            int seen = 0;
            while (fgets(line, sizeof line, t))
                if (!strncmp(line, "spread gas density kF..kN/4", 27)) {
                    const char *q = strstr(line, "truths'");
                    ck_assert_ptr_nonnull(q);
                    ck_assert_double_lt(fabs(strtod(q + 7, NULL) - want), 1e-4);
                    seen++;
                }
            fclose(t);
            ck_assert_int_eq(seen, 1);
        }
    }
    /* the spread's null takes at most half the repaints (3 of 6) as
     * pseudo-samples: with 3 samples it is the one of 4 samples, where the
     * goals' null (min(samples, repaints - 1) pseudo-samples) changes */
    {
        for (int i = 0; i < 4; i++) smp[i] = sn[0][i];
        hb_val_group g3 = group(tn[0], rep, 6, smp, 3), g4 = group(tn[0], rep, 6, smp, 4);
        hb_val_summary s3, s4;
        ck_assert_int_eq(hb_validate(&g3, 1, NULL, &s3, MPI_COMM_WORLD), HB_OK);
        ck_assert_int_eq(hb_validate(&g4, 1, NULL, &s4, MPI_COMM_WORLD), HB_OK);
        for (int b = 0; b < 2; b++) {
            ck_assert_double_eq(s3.band[0][b].spread_null90, s4.band[0][b].spread_null90);
            ck_assert_double_ne(s3.band[0][b].ens_null90, s4.band[0][b].ens_null90);
        }
    }
    /* one sample: no scatter to measure */
    smp[0] = sn[0][0];
    hb_val_group g = group(tn[0], rep, 6, smp, 1);
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(&g, 1, NULL, &s, MPI_COMM_WORLD), HB_OK);
    ck_assert(isnan(s.band[0][0].spread));
    hb_val_goal g4[HB_VAL_NSPREAD];
    ck_assert_int_eq(hb_val_spread_checks(&s, g4, NULL, HB_VAL_NSPREAD), 4);
    ck_assert(!g4[0].measured && !g4[0].met);
    ck_assert_int_eq(s.box[0].n_spread, 0);
}
END_TEST

/* Band means of |x - 1| over the bins of each band, bins below k_Nyq. */
static void band_means(const double *k, const double *x, int n, double kn, double out[HB_VAL_NBAND])
{
    int cnt[HB_VAL_NBAND] = {0};
    memset(out, 0, HB_VAL_NBAND * sizeof *out);
    for (int j = 0; j < n; j++) {
        int b = k[j] < kn / 4 ? 0 : k[j] < kn / 2 ? 1 : k[j] <= kn ? 2 : -1;
        if (b < 0) continue;
        out[b] += fabs(x[j] - 1);
        cnt[b]++;
    }
    for (int b = 0; b < HB_VAL_NBAND; b++) out[b] /= cnt[b];
}

/* The report.txt line "FIELD LABEL x1 .. xncol": its ncol (<= 10) numeric columns. */
static int report_cols(const char *path, const char *field, const char *label, double col[10], int ncol)
{
    FILE *t = fopen(path, "r");
    ck_assert_ptr_nonnull(t);
    char line[512], name[64], band[64];
    int found = 0;
    while (!found && fgets(line, sizeof line, t)) {
        if (line[0] == '#') continue;
        int n = sscanf(line, "%63s %63s %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", name, band, &col[0], &col[1], &col[2],
                       &col[3], &col[4], &col[5], &col[6], &col[7], &col[8], &col[9]);
        found = n == 2 + ncol && !strcmp(name, field) && !strcmp(band, label);
    }
    fclose(t);
    return found;
}

/* The report.txt line of field f and band b. */
static int report_line(const char *path, int f, int b, double col[10])
{
    return report_cols(path, HB_VAL_FIELD_NAMES[f], HB_VAL_BAND_NAMES[b], col, 10);
}

/* Direct hot-gas fraction of a file's fields. */
static double hot_fraction(const char *path)
{
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *g = hb_mesh_alloc(&m), *t = hb_mesh_alloc(&m);
    hb_h5 f;
    ck_assert_int_eq(hb_h5_open(&f, path, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_h5_read_mesh_field(&f, HB_FIELD_GAS, &m, g), HB_OK);
    ck_assert_int_eq(hb_h5_read_mesh_field(&f, HB_FIELD_TEMP, &m, t), HB_OK);
    hb_h5_close(&f);
    double s[2] = {0, 0};
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++) {
                size_t c = hb_mesh_ridx(&m, i, j, k);
                s[0] += g[c];
                if (t[c] > 1e6f) s[1] += g[c];
            }
    MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    fftwf_free(g);
    fftwf_free(t);
    hb_mesh_free(&m);
    return s[1] / s[0];
}

START_TEST(smoothed_copy)
{
    write_box("a.h5", N, L, 0);
    write_box("s.h5", N, L, 1);
    char *smp[] = {"s.h5"};
    hb_val_group g = group("a.h5", NULL, 0, smp, 1);
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(&g, 1, "smooth", &s, MPI_COMM_WORLD), HB_OK);
    /* expected: with |delta_k| the same for every mode and the filter g, the
     * bin ratio of the gas is <g^2> over the bin's modes and r = <g> / sqrt(<g^2>) */
    hb_mesh m;
    float *d = make_delta(&m, N, L, 0);
    hb_pk pk;
    ck_assert_int_eq(hb_pk_compute(&pk, &m, d, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
    double want[64], g1[64], rwant[64];
    ck_assert_int_lt(pk.nbins, 64);
    ck_assert_int_eq(hb_pk_bin_model(&pk, &m, smoothing, NULL, want), HB_OK);
    ck_assert_int_eq(hb_pk_bin_model(&pk, &m, filter, NULL, g1), HB_OK);
    for (int j = 0; j < pk.nbins; j++) rwant[j] = 1 + g1[j] / sqrt(want[j]);   /* band_means takes |x - 1| */
    const double kn = M_PI * N / L;
    double ens[HB_VAL_NBAND], r[HB_VAL_NBAND];
    band_means(pk.k, want, pk.nbins, kn, ens);
    band_means(pk.k, rwant, pk.nbins, kn, r);
    for (int b = 0; b < HB_VAL_NBAND; b++) {
        const hb_val_band *x = &s.band[0][b];
        ck_assert_msg(hb_test_relerr(x->ens_err, ens[b]) < 1e-4, "band %d: ens_err %g, direct %g", b, x->ens_err, ens[b]);
        ck_assert_double_eq(x->single_err, x->ens_err);   /* one sample, one truth */
        ck_assert_msg(fabs(x->r - r[b]) < 1e-5, "band %d: r %g, direct %g", b, x->r, r[b]);
        ck_assert(isnan(x->floor_err) && isnan(x->ens_null90));   /* no repaints: no floor, no null */
        double col[10];
        if (hb_world_rank() == 0) {
            ck_assert(report_line("smooth.txt", 0, b, col));
            ck_assert_double_lt(fabs(col[0] - x->ens_err), 1e-4);
            ck_assert_double_lt(fabs(col[1] - x->single_err), 1e-4);
            ck_assert_double_lt(fabs(col[3] - x->r), 1e-4);
            ck_assert_double_lt(fabs(col[5] - s.w1[0]), 1e-4);
        }
    }
    ck_assert_double_gt(s.band[0][2].ens_err, 0.3);   /* strongly smoothed near Nyquist */
    ck_assert_double_gt(s.w1[0], 0.0);
    ck_assert_double_eq(s.w1_pooled[0], s.w1[0]);   /* one truth: the pool is the truth */
    double wp[10];
    if (hb_world_rank() == 0) {
        ck_assert(report_cols("smooth.txt", HB_VAL_FIELD_NAMES[0], "w1_pooled", wp, 2));
        ck_assert_double_lt(fabs(wp[0] - s.w1_pooled[0]), 1e-4);
        ck_assert(isnan(wp[1]));   /* no repaints: no null */
    }
    const double ht = hot_fraction("a.h5"), he = hot_fraction("s.h5");
    ck_assert_double_gt(ht, 0.2);
    ck_assert_double_lt(ht, 0.8);
    ck_assert_double_lt(fabs(s.hot_truth - ht), 1e-12);
    ck_assert_double_lt(fabs(s.hot_emu - he), 1e-12);
    ck_assert_double_lt(fabs(s.hot_err - fabs(he / ht - 1)), 1e-12);
    /* the smoothed copy's tails are narrower */
    ck_assert_double_lt(s.pct_emu[0][0], s.pct_truth[0][0]);
    ck_assert_double_lt(s.pct_emu[1][1], s.pct_truth[1][1]);
    hb_pk_free(&pk);
    fftwf_free(d);
    hb_mesh_free(&m);
}
END_TEST

/* The null scored against the goals: each goal's rate is at least 0.9 (its
 * null is the splits' 90th percentile, 10th for r), all goals at once are
 * met no more often than the rarest, and the samples do not enter it (the
 * same rates with the truth itself as the four samples). */
START_TEST(null_goal_rates)
{
    write_box_ln("dm.h5", N, L, 0, 1);
    hb_mock_config c = hb_mock_config_default();
    double none[HB_NTHETA];
    hb_theta_none(none);
    char name[10][32], *rep[6], *smp[4], *same[4] = {"n0.h5", "n0.h5", "n0.h5", "n0.h5"};
    for (int i = 0; i < 10; i++) {
        snprintf(name[i], sizeof name[i], "n%d.h5", i);
        ck_assert_int_eq(hb_mock_paint_file("dm.h5", name[i], &c, 11 + i, none, NULL, MPI_COMM_WORLD), HB_OK);
        if (i >= 1 && i <= 6) rep[i - 1] = name[i];
        if (i >= 7) smp[i - 7] = name[i];
    }
    smp[3] = name[0];   /* 3 other paints and the truth itself */
    hb_val_group g = group("n0.h5", rep, 6, smp, 4);
    hb_val_summary s, t;
    ck_assert_int_eq(hb_validate(&g, 1, "nul", &s, MPI_COMM_WORLD), HB_OK);
    g = group("n0.h5", rep, 6, same, 4);
    ck_assert_int_eq(hb_validate(&g, 1, NULL, &t, MPI_COMM_WORLD), HB_OK);
    hb_val_goal goals[HB_VAL_MAXGOAL];
    const int ng = hb_val_goals(&s, goals, HB_VAL_MAXGOAL);
    ck_assert_int_eq(ng, 11);
    ck_assert_int_eq(s.null_splits, HB_VAL_NSPLIT);
    double rarest = 1;
    for (int i = 0; i < ng; i++) {
        ck_assert_msg(s.null_goal_rate[i] >= 0.9 - 1e-12, "goal %s: null rate %g", goals[i].what, s.null_goal_rate[i]);
        ck_assert_double_eq(s.null_goal_rate[i], t.null_goal_rate[i]);
        if (s.null_goal_rate[i] < rarest) rarest = s.null_goal_rate[i];
    }
    ck_assert_int_le(s.null_all_met, (int)lround(rarest * s.null_splits));
    hb_val_goal sc[HB_VAL_NSPREAD];
    const int nc = hb_val_spread_checks(&s, sc, NULL, HB_VAL_NSPREAD);
    ck_assert_int_eq(nc, 4);
    for (int i = 0; i < nc; i++) {   /* the same construction for the spread checks */
        ck_assert_msg(s.null_spread_rate[i] >= 0.9 - 1e-12, "%s: null rate %g", sc[i].what, s.null_spread_rate[i]);
        ck_assert_double_eq(s.null_spread_rate[i], t.null_spread_rate[i]);
    }
    ck_assert_int_eq(s.null_all_met, t.null_all_met);
    ck_assert_double_ne(s.band[0][0].ens_err, t.band[0][0].ens_err);   /* the samples did differ */
    if (hb_world_rank() == 0) {
        hb_h5 f;
        double rate[HB_VAL_MAXGOAL];
        ck_assert_int_eq(hb_h5_open(&f, "nul.h5", MPI_COMM_SELF), HB_OK);
        long nr = 0;
        ck_assert_int_eq(hb_h5_read_array(&f, "/goals/null_rate", rate, HB_VAL_MAXGOAL, &nr), HB_OK);
        ck_assert_int_eq(nr, ng);
        hb_h5_close(&f);
        for (int i = 0; i < ng; i++) ck_assert_double_eq(rate[i], s.null_goal_rate[i]);
    }
}
END_TEST

/* Each box's goals alone: with one box they are the report's own; in a
 * report of two boxes each box's equal that box validated alone (the same
 * null splits, keyed by the box's name), in either order, and the pooled
 * goals do not depend on the order. */
static void box_of(const hb_val_summary *s, hb_val_box *b)
{
    hb_val_goal goals[HB_VAL_MAXGOAL];
    const int ng = hb_val_goals(s, goals, HB_VAL_MAXGOAL);
    b->n_goals = b->met = 0;
    b->null_expected = 0;
    for (int i = 0; i < HB_VAL_MAXGOAL; i++) b->goal_met[i] = -1;
    for (int i = 0; i < ng; i++) {
        b->n_goals += goals[i].measured;
        b->met += goals[i].met;
        if (goals[i].measured) b->null_expected += s->null_goal_rate[i];
        if (goals[i].measured) b->goal_met[i] = (signed char)goals[i].met;
    }
    b->null_all_rate = (double)s->null_all_met / s->null_splits;
    const int nc = hb_val_spread_checks(s, goals, b->spread, HB_VAL_NSPREAD);
    b->spread_met = hb_val_goals_met(goals, nc, &b->n_spread);
    b->spread_null_expected = 0;
    for (int i = 0; i < nc; i++) b->spread_null_expected += s->null_spread_rate[i];
}

static void same_box(const hb_val_box *a, const hb_val_box *b)
{
    ck_assert_int_eq(a->met, b->met);
    ck_assert_int_eq(a->n_goals, b->n_goals);
    ck_assert_double_eq(a->null_expected, b->null_expected);
    ck_assert_double_eq(a->null_all_rate, b->null_all_rate);
    ck_assert_mem_eq(a->goal_met, b->goal_met, sizeof a->goal_met);
    ck_assert_int_eq(a->spread_met, b->spread_met);
    ck_assert_int_eq(a->n_spread, b->n_spread);
    ck_assert_double_eq(a->spread_null_expected, b->spread_null_expected);
    for (int i = 0; i < HB_VAL_NSPREAD; i++)
        ck_assert(isnan(a->spread[i]) ? isnan(b->spread[i]) : a->spread[i] == b->spread[i]);
}

START_TEST(per_box_goals)
{
    write_box_ln("dm.h5", N, L, 0, 1);
    hb_mock_config c = hb_mock_config_default();
    double none[HB_NTHETA], strong[HB_NTHETA];
    hb_theta_none(none);
    hb_theta_none(strong);
    strong[5] = 2.0;   /* A_AGN2: box a's first three samples are painted with stronger feedback (goals missed) */
    char name[2][10][32], *rep[2][6], *smp[2][4];
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 10; i++) {
            snprintf(name[k][i], sizeof name[k][i], "%s%d.h5", k ? "pb" : "pa", i);
            ck_assert_int_eq(hb_mock_paint_file("dm.h5", name[k][i], &c, 11 + 20 * k + i, k == 0 && i >= 7 ? strong : none,
                                                NULL, MPI_COMM_WORLD), HB_OK);
            if (i >= 1 && i <= 6) rep[k][i - 1] = name[k][i];
            if (i >= 7) smp[k][i - 7] = name[k][i];
        }
    smp[0][3] = name[0][0];
    for (int i = 0; i < 4; i++) smp[1][i] = name[1][0];   /* box b: the truth itself as every sample */
    hb_val_group a = group("pa0.h5", rep[0], 6, smp[0], 4), b = group("pb0.h5", rep[1], 6, smp[1], 4);
    hb_val_group ab[2] = {a, b}, ba[2] = {b, a};
    hb_val_summary *s = malloc(4 * sizeof *s);
    ck_assert_int_eq(hb_validate(&a, 1, NULL, &s[0], MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_validate(&b, 1, NULL, &s[1], MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_validate(ab, 2, "perbox", &s[2], MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_validate(ba, 2, NULL, &s[3], MPI_COMM_WORLD), HB_OK);
    hb_val_box direct;
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(s[k].n_boxes, 1);
        box_of(&s[k], &direct);
        same_box(&s[k].box[0], &direct);
        same_box(&s[2 + k].box[0], &s[k].box[0]);
        same_box(&s[3 - k].box[1], &s[k].box[0]);   /* ab: b second; ba: a second */
        ck_assert_int_eq(s[2 + k].n_boxes, 2);
    }
    hb_val_goal gab[HB_VAL_MAXGOAL], gba[HB_VAL_MAXGOAL];
    const int nab = hb_val_goals(&s[2], gab, HB_VAL_MAXGOAL);
    ck_assert_int_eq(hb_val_goals(&s[3], gba, HB_VAL_MAXGOAL), nab);
    for (int i = 0; i < nab; i++) {
        ck_assert_int_eq(gab[i].met, gba[i].met);
        ck_assert_double_eq_tol(gab[i].null, gba[i].null, 1e-12 * (1 + fabs(gab[i].null)));
        ck_assert_double_eq(s[2].null_goal_rate[i], s[3].null_goal_rate[i]);
    }
    ck_assert_str_eq(s[2].box[0].name, "pa0");
    ck_assert_str_eq(s[2].box[1].name, "pb0");
    ck_assert_int_eq(s[1].box[0].met, 11);   /* the truth as its own samples meets every goal */
    ck_assert_int_eq(s[1].box[0].n_spread, 4);   /* but not one spread check: four equal samples have no scatter */
    ck_assert_int_eq(s[1].box[0].spread_met, 0);
    if (hb_world_rank() == 0) {
        hb_h5 f;
        double met[4], gm[2 * HB_VAL_MAXGOAL], sp[2 * HB_VAL_NSPREAD];
        long n = 0, ngm = 0, nsp = 0;
        ck_assert_int_eq(hb_h5_open(&f, "perbox.h5", MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_read_array(&f, "/per_box/met", met, 4, &n), HB_OK);
        ck_assert_int_eq(hb_h5_read_array(&f, "/per_box/goal_met", gm, 2 * HB_VAL_MAXGOAL, &ngm), HB_OK);
        ck_assert_int_eq(hb_h5_read_array(&f, "/per_box/spread", sp, 2 * HB_VAL_NSPREAD, &nsp), HB_OK);
        hb_h5_close(&f);
        ck_assert_int_eq(n, 2);
        ck_assert_double_eq(met[0], s[0].box[0].met);
        ck_assert_double_eq(met[1], s[1].box[0].met);
        /* each goal's flag per box: box-major, NaN where not measured */
        ck_assert_int_eq(ngm, 2 * nab);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < nab; i++) {
                const int want = s[k].box[0].goal_met[i];
                ck_assert(want < 0 ? isnan(gm[k * nab + i]) : gm[k * nab + i] == want);
            }
        ck_assert_int_eq(nsp, 2 * HB_VAL_NSPREAD);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < HB_VAL_NSPREAD; i++) ck_assert_double_eq(sp[k * HB_VAL_NSPREAD + i], s[k].box[0].spread[i]);
        FILE *t = fopen("perbox.txt", "r");
        ck_assert_ptr_nonnull(t);
        char line[512];
        int seen = 0;
        while (fgets(line, sizeof line, t)) {
            const int k = strncmp(line, "box pa0 ", 8) == 0 ? 0 : strncmp(line, "box pb0 ", 8) == 0 ? 1 : -1;
            if (k < 0) continue;
            seen++;
            char want[64] = "";   /* the places of the missed goals, 1-based, as the line should list them */
            for (int i = 0; i < nab; i++)
                if (s[k].box[0].goal_met[i] == 0) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", *want ? "," : "", i + 1);
            const char *m = strstr(line, "  missed ");
            ck_assert_ptr_nonnull(m);
            char got[64];
            ck_assert_int_eq(sscanf(m, " missed %63s", got), 1);
            ck_assert_str_eq(got, *want ? want : "-");
            int sm = -1, sn = -1;
            const char *sp = strstr(line, "  spread ");
            ck_assert_ptr_nonnull(sp);
            ck_assert_int_eq(sscanf(sp, " spread %d of %d", &sm, &sn), 2);
            ck_assert_int_eq(sm, s[k].box[0].spread_met);
            ck_assert_int_eq(sn, s[k].box[0].n_spread);
        }
        fclose(t);
        ck_assert_int_eq(seen, 2);
        /* the totals line: the boxes' spread checks summed */
        hb_val_box sum;
        hb_val_box_totals(&s[2], &sum);
        ck_assert_int_eq(sum.spread_met, s[0].box[0].spread_met + s[1].box[0].spread_met);
        ck_assert_int_eq(sum.met, s[0].box[0].met + s[1].box[0].met);
        t = fopen("perbox.txt", "r");
        int tm = -1, tn = -1;
        while (fgets(line, sizeof line, t))
            if (sscanf(line, "# spread checks box by box: %d of %d met", &tm, &tn) == 2) break;
        fclose(t);
        ck_assert_int_eq(tm, sum.spread_met);
        ck_assert_int_eq(tn, sum.n_spread);
    }
    free(s);
}
END_TEST

START_TEST(mismatched_boxes)
{
    write_box("a.h5", N, L, 0);
    write_box("small.h5", 16, L, 0);
    write_box("big.h5", N, 2 * L, 0);
    char *e1[] = {"small.h5"}, *e2[] = {"big.h5"}, *e3[] = {"missing.h5"};
    hb_val_group g = group("a.h5", NULL, 0, e1, 1);
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(&g, 1, "x", &s, MPI_COMM_WORLD), HB_EARG);
    g = group("a.h5", NULL, 0, e2, 1);
    ck_assert_int_eq(hb_validate(&g, 1, "x", &s, MPI_COMM_WORLD), HB_EARG);
    g = group("a.h5", e2, 1, e3, 0);   /* no sample */
    ck_assert_int_eq(hb_validate(&g, 1, "x", &s, MPI_COMM_WORLD), HB_EARG);
    g = group("a.h5", NULL, 0, e3, 1);
    ck_assert_int_ne(hb_validate(&g, 1, "x", &s, MPI_COMM_WORLD), HB_OK);
    ck_assert(access("x.h5", F_OK) != 0 && access("x.txt", F_OK) != 0);
}
END_TEST

/* The null splits' key: FNV-1a 64 against its published test vectors
 * (Fowler, Noll, Vo; the reference's test suite). */
START_TEST(name_keys)
{
    ck_assert_uint_eq(hb_fnv1a(HB_FNV_START, ""), 0xcbf29ce484222325ull);
    ck_assert_uint_eq(hb_fnv1a(HB_FNV_START, "a"), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(hb_fnv1a(HB_FNV_START, "foobar"), 0x85944171f73967e8ull);
    ck_assert_uint_eq(hb_fnv1a(hb_fnv1a(HB_FNV_START, "foo"), "bar"), 0x85944171f73967e8ull);   /* continued */
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, identical_boxes);
    tcase_add_test(tc, goals_without_floor);
    tcase_add_test(tc, floor_of_repaints);
    tcase_add_test(tc, smoothed_copy);
    tcase_add_test(tc, null_goal_rates);
    tcase_add_test(tc, spread_of_scaled_boxes);
    tcase_add_test(tc, per_box_goals);
    tcase_add_test(tc, mismatched_boxes);
    tcase_add_test(tc, name_keys);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(validate_suite)
