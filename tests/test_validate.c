/* Validation reports: identical boxes, a box against a Gaussian-smoothed
 * copy of itself (the ratio per bin is the mode average of exp(-k^2 R^2),
 * r = 1), and mismatched boxes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hb/box.h"
#include "hb/h5io.h"
#include "hb/ic.h"
#include "hb/pk.h"
#include "hb/validate.h"
#include "hbtest.h"

#define N 32
#define L 50.0
#define RSMOOTH 1.5   /* Mpc/h */

static double flat(double k, void *c) { (void)k; (void)c; return 1.0; }
static double smoothing(double k, void *c) { (void)c; return exp(-k * k * RSMOOTH * RSMOOTH); }
static double filter(double k, void *c) { (void)c; return exp(-0.5 * k * k * RSMOOTH * RSMOOTH); }

/* gas = 1 + 0.05 delta (fixed-amplitude white noise), optionally smoothed;
 * temperature 1e4 (1 + 0.05 delta); dm = gas. */
static void write_box(const char *path, int n, double box, int smooth)
{
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, n, box, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *d = hb_mesh_alloc(&m), *t = hb_mesh_alloc(&m);
    hb_ic_gaussian_k(&m, flat, NULL, 3, 1, d);
    if (smooth) {
        const double kf = hb_mesh_kf(&m);
        for (ptrdiff_t jy = 0; jy < m.ny_local; jy++)
            for (int ix = 0; ix < n; ix++)
                for (int iz = 0; iz <= n / 2; iz++) {
                    double nx = hb_mesh_freq(&m, ix), ny = hb_mesh_freq(&m, (int)(m.y0 + jy));
                    double k2 = kf * kf * (nx * nx + ny * ny + (double)iz * iz);
                    size_t c = 2 * hb_mesh_kidx(&m, jy, ix, iz);
                    float g = (float)exp(-0.5 * k2 * RSMOOTH * RSMOOTH);
                    d[c] *= g;
                    d[c + 1] *= g;
                }
    }
    hb_mesh_c2r(&m, d);
    /* scale to a 5% rms fluctuation around 1 */
    double s2 = 0;
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++) s2 += pow(d[hb_mesh_ridx(&m, i, j, k)], 2);
    MPI_Allreduce(MPI_IN_PLACE, &s2, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    /* the same scale for the smoothed copy: that of the unsmoothed field, set by a constant */
    float sc = (float)(0.05 * sqrt(pow(n, 3) / 5.0e4));
    (void)s2;
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++) {
                size_t c = hb_mesh_ridx(&m, i, j, k);
                d[c] = 1.0f + sc * d[c];
                t[c] = 1e4f * d[c];
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

START_TEST(identical_boxes)
{
    write_box("a.h5", N, L, 0);
    char *t[] = {"a.h5"}, *e[] = {"a.h5", "a.h5"};   /* two "seeds" */
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(t, 1, e, 2, "same", &s, MPI_COMM_WORLD), HB_OK);
    for (int f = 0; f < HB_VAL_NFIELD; f++) {
        ck_assert(s.present[f]);
        for (int b = 0; b < HB_VAL_NBAND; b++) {
            ck_assert_double_eq(s.ratio_dev[f][b], 0.0);
            ck_assert_double_lt(fabs(s.r[f][b] - 1), 1e-12);
        }
        ck_assert_double_eq(s.pdf_w1[f], 0.0);
    }
    ck_assert_int_eq(s.n_pairs, 2);
    ck_assert(access("same.h5", F_OK) == 0 && access("same.txt", F_OK) == 0);
}
END_TEST

START_TEST(smoothed_copy)
{
    write_box("a.h5", N, L, 0);
    write_box("s.h5", N, L, 1);
    char *t[] = {"a.h5"}, *e[] = {"s.h5"};
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(t, 1, e, 1, "smooth", &s, MPI_COMM_WORLD), HB_OK);
    /* expected: with |delta_k| the same for every mode and the filter
     * g = exp(-k^2 R^2 / 2), the bin ratio is <g^2> over the bin's modes and
     * r = <g> / sqrt(<g^2>) (1 only where g is constant across the bin) */
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *d = hb_mesh_alloc(&m);
    hb_ic_gaussian_k(&m, flat, NULL, 3, 1, d);
    hb_mesh_c2r(&m, d);
    hb_pk pk;
    ck_assert_int_eq(hb_pk_compute(&pk, &m, d, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
    double want[64], g1[64];
    ck_assert_int_eq(hb_pk_bin_model(&pk, &m, smoothing, NULL, want), HB_OK);
    ck_assert_int_eq(hb_pk_bin_model(&pk, &m, filter, NULL, g1), HB_OK);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double worst = 0, rworst = 0;
    if (rank == 0) {
        hb_h5 f;
        ck_assert_int_eq(hb_h5_open(&f, "smooth.h5", MPI_COMM_SELF), HB_OK);
        double ratio[64], r[64], k[64];
        long n;
        ck_assert_int_eq(hb_h5_read_array(&f, "/gas_density/ratio_mean", ratio, 64, &n), HB_OK);
        ck_assert_int_eq(hb_h5_read_array(&f, "/gas_density/r_mean", r, 64, &n), HB_OK);
        ck_assert_int_eq(hb_h5_read_array(&f, "/gas_density/k", k, 64, &n), HB_OK);
        hb_h5_close(&f);
        ck_assert_int_eq(n, pk.nbins);
        for (int j = 0; j < n && k[j] < M_PI * N / L * 0.7; j++) {
            worst = fmax(worst, fabs(ratio[j] / want[j] - 1));
            rworst = fmax(rworst, fabs(r[j] - g1[j] / sqrt(want[j])));
        }
        printf("smoothed copy: max |ratio / <g^2> - 1| = %.2e, max |r - <g>/sqrt(<g^2>)| = %.2e\n", worst, rworst);
    }
    ck_assert_double_lt(hb_test_allmax(worst), 1e-4);
    ck_assert_double_lt(hb_test_allmax(rworst), 1e-5);
    ck_assert_double_gt(s.ratio_dev[0][2], 0.3);   /* strongly smoothed near Nyquist */
    ck_assert_double_gt(s.pdf_w1[0], 0.0);
    hb_pk_free(&pk);
    fftwf_free(d);
    hb_mesh_free(&m);
}
END_TEST

START_TEST(mismatched_boxes)
{
    write_box("a.h5", N, L, 0);
    write_box("small.h5", 16, L, 0);
    write_box("big.h5", N, 2 * L, 0);
    char *t[] = {"a.h5"}, *e1[] = {"small.h5"}, *e2[] = {"big.h5"}, *e3[] = {"a.h5", "a.h5", "a.h5"};
    hb_val_summary s;
    ck_assert_int_eq(hb_validate(t, 1, e1, 1, "x", &s, MPI_COMM_WORLD), HB_EARG);
    ck_assert_int_eq(hb_validate(t, 1, e2, 1, "x", &s, MPI_COMM_WORLD), HB_EARG);
    char *t2[] = {"a.h5", "a.h5"};
    ck_assert_int_eq(hb_validate(t2, 2, e3, 3, "x", &s, MPI_COMM_WORLD), HB_EARG);   /* 3 is no multiple of 2 */
    ck_assert(access("x.h5", F_OK) != 0);
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, identical_boxes);
    tcase_add_test(tc, smoothed_copy);
    tcase_add_test(tc, mismatched_boxes);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(validate_suite)
