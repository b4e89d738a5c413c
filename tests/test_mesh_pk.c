/* Distributed mesh, FFTs, Gaussian fields and power spectra, at any rank
 * count, against analytic results and a direct O(N^6) DFT. */
#include <complex.h>
#include <string.h>

#include "hb/ic.h"
#include "hb/mesh.h"
#include "hb/pk.h"
#include "hb/rng.h"
#include "hbtest.h"

/* float32 FFTs of O(1) data on <= 32^3 grids: round-off ~ 1e-6. */
#define TOL_FFT_FLOAT 1e-5

/* Fill the local slab with f(global ix, iy, iz). */
static void fill(const hb_mesh *m, float *buf, double (*f)(int, int, int, void *), void *ctx)
{
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < m->N; j++)
            for (int k = 0; k < m->N; k++) buf[hb_mesh_ridx(m, i, j, k)] = (float)f((int)(m->x0 + i), j, k, ctx);
}

static double white(int i, int j, int k, void *ctx)
{
    int N = *(int *)ctx;
    double g[2];
    hb_rng_normal2(7, HB_STREAM_TEST, ((uint64_t)i * N + j) * N + k, 0, g);
    return g[0];
}

START_TEST(fft_roundtrip)
{
    static const int sizes[] = {8, 10, 16, 32};
    for (int s = 0; s < 4; s++) {
        int N = sizes[s];
        hb_mesh m;
        ck_assert_int_eq(hb_mesh_init(&m, N, 100.0, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
        float *a = hb_mesh_alloc(&m), *b = hb_mesh_alloc(&m);
        fill(&m, a, white, &N);
        memcpy(b, a, 2 * (size_t)m.alloc_local * sizeof *a);
        hb_mesh_r2c(&m, b);
        hb_mesh_c2r(&m, b);
        double err = 0;
        for (ptrdiff_t i = 0; i < m.nx_local; i++)
            for (int j = 0; j < N; j++)
                for (int k = 0; k < N; k++) {
                    size_t id = hb_mesh_ridx(&m, i, j, k);
                    err = hb_test_max(err, fabs(a[id] - b[id]));
                }
        ck_assert_double_lt(hb_test_allmax(err), TOL_FFT_FLOAT);
        fftwf_free(a);
        fftwf_free(b);
        hb_mesh_free(&m);
    }
}
END_TEST

typedef struct { int N, n[3]; double A; } wave;

static double cosine(int i, int j, int k, void *ctx)
{
    const wave *w = ctx;
    return w->A * cos(2 * M_PI * (w->n[0] * i + w->n[1] * j + w->n[2] * k) / w->N);
}

START_TEST(single_mode_one_bin)
{
    /* delta = A cos(2 pi n.x / N): |delta_k|^2 = (A N^3 / 2)^2 at +-n, one
     * independent mode, so P_bin * n_modes = L^3 A^2 / 4 in bin floor(|n|). */
    static const int modes[][3] = {{2, 1, 3}, {0, 0, 5}, {3, 0, 0}, {1, 2, 0}, {0, 7, 0}};
    const double L = 50.0;
    for (int t = 0; t < 5; t++) {
        wave w = {16, {modes[t][0], modes[t][1], modes[t][2]}, 0.7};
        hb_mesh m;
        ck_assert_int_eq(hb_mesh_init(&m, w.N, L, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
        float *a = hb_mesh_alloc(&m);
        fill(&m, a, cosine, &w);
        hb_pk pk;
        ck_assert_int_eq(hb_pk_compute(&pk, &m, a, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
        int bin = (int)sqrt(w.n[0] * w.n[0] + w.n[1] * w.n[1] + w.n[2] * w.n[2]);
        double want = pow(L, 3) * w.A * w.A / 4, other = 0;
        int found = 0;
        for (int j = 0; j < pk.nbins; j++) {
            if (pk.bin[j] == bin) {
                found = 1;
                ck_assert_double_lt(hb_test_relerr(pk.p11[j] * pk.nmodes[j], want), TOL_FFT_FLOAT);
            } else {
                other = hb_test_max(other, pk.p11[j] * pk.nmodes[j]);
            }
        }
        ck_assert(found);
        ck_assert_double_lt(other, 1e-9 * want);
        hb_pk_free(&pk);
        fftwf_free(a);
        hb_mesh_free(&m);
    }
}
END_TEST

START_TEST(mode_count)
{
    /* (N^3 - 8)/2 conjugate pairs + 8 real modes, minus the DC mode. */
    static const int sizes[] = {8, 10, 12, 16};
    for (int s = 0; s < 4; s++) {
        int N = sizes[s];
        hb_mesh m;
        ck_assert_int_eq(hb_mesh_init(&m, N, 1.0, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
        float *a = hb_mesh_alloc(&m);
        fill(&m, a, white, &N);
        hb_pk pk;
        ck_assert_int_eq(hb_pk_compute(&pk, &m, a, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
        long total = 0;
        for (int j = 0; j < pk.nbins; j++) total += pk.nmodes[j];
        ck_assert_int_eq(total, ((long)N * N * N - 8) / 2 + 7);
        ck_assert_int_eq(pk.bin[pk.nbins - 1], (int)floor(sqrt(3.0) * N / 2));
        hb_pk_free(&pk);
        fftwf_free(a);
        hb_mesh_free(&m);
    }
}
END_TEST

static double sinc(double x) { return x == 0 ? 1 : sin(x) / x; }

START_TEST(pk_vs_direct_dft)
{
    /* Auto and cross spectra of two random 8^3 fields, with and without CIC
     * compensation, against a direct DFT over all N^3 modes on rank 0. Each
     * mode of a conjugate pair is weighted 1/2, a self-conjugate mode 1. */
    const int N = 8;
    const double L = 30.0;
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *a = hb_mesh_alloc(&m), *b = hb_mesh_alloc(&m);
    int NN = N;
    fill(&m, a, white, &NN);
    int NB = N + 1;
    fill(&m, b, white, &NB);   /* another white field (other cell indices), then correlate it */
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++) b[hb_mesh_ridx(&m, i, j, k)] += 0.5f * a[hb_mesh_ridx(&m, i, j, k)];
    float *ga = hb_test_gather(&m, a), *gb = hb_test_gather(&m, b);
    for (int mas = 0; mas <= 2; mas += 2) {
        float *ca = hb_mesh_alloc(&m), *cb = hb_mesh_alloc(&m);
        memcpy(ca, a, 2 * (size_t)m.alloc_local * sizeof *a);
        memcpy(cb, b, 2 * (size_t)m.alloc_local * sizeof *b);
        hb_pk pk;
        ck_assert_int_eq(hb_pk_compute(&pk, &m, ca, cb, mas, mas), HB_OK);
        double worst = 0;
        if (m.rank == 0) {
            int nb = (int)(sqrt(3.0) * N / 2) + 2;
            double s11[16] = {0}, s22[16] = {0}, s12[16] = {0}, sk[16] = {0}, w[16] = {0};
            for (int x = 0; x < N; x++)
                for (int y = 0; y < N; y++)
                    for (int z = 0; z < N; z++) {
                        double complex da = 0, db = 0;
                        for (int i = 0; i < N; i++)
                            for (int j = 0; j < N; j++)
                                for (int k = 0; k < N; k++) {
                                    double complex e = cexp(-2 * M_PI * I * (double)(x * i + y * j + z * k) / N);
                                    da += ga[(i * N + j) * N + k] * e;
                                    db += gb[(i * N + j) * N + k] * e;
                                }
                        int n[3] = {x <= N / 2 ? x : x - N, y <= N / 2 ? y : y - N, z <= N / 2 ? z : z - N};
                        double kn = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
                        if (kn == 0) continue;
                        double win = 1;
                        if (mas) for (int d = 0; d < 3; d++) win *= pow(sinc(M_PI * n[d] / N), mas);
                        int self = ((2 * x) % N == 0) && ((2 * y) % N == 0) && ((2 * z) % N == 0);
                        double wt = self ? 1.0 : 0.5;
                        int bin = (int)kn;
                        w[bin] += wt;
                        sk[bin] += wt * kn;
                        s11[bin] += wt * creal(da * conj(da)) / (win * win);
                        s22[bin] += wt * creal(db * conj(db)) / (win * win);
                        s12[bin] += wt * creal(da * conj(db)) / (win * win);
                    }
            double norm = pow(L, 3) / pow(N, 6);
            int j = 0;
            for (int bin = 1; bin < nb; bin++) {
                if (w[bin] == 0) continue;
                ck_assert_int_eq(pk.bin[j], bin);
                ck_assert_int_eq(pk.nmodes[j], (long)w[bin]);
                worst = hb_test_max(worst, hb_test_relerr(pk.k[j], 2 * M_PI / L * sk[bin] / w[bin]));
                worst = hb_test_max(worst, hb_test_relerr(pk.p11[j], norm * s11[bin] / w[bin]));
                worst = hb_test_max(worst, hb_test_relerr(pk.p22[j], norm * s22[bin] / w[bin]));
                worst = hb_test_max(worst, fabs(pk.p12[j] - norm * s12[bin] / w[bin]) / (norm * s11[bin] / w[bin]));
                double r = s12[bin] / sqrt(s11[bin] * s22[bin]);
                worst = hb_test_max(worst, fabs(pk.r[j] - r));
                j++;
            }
            ck_assert_int_eq(j, pk.nbins);
        }
        ck_assert_double_lt(hb_test_allmax(worst), TOL_FFT_FLOAT);
        hb_pk_free(&pk);
        fftwf_free(ca);
        fftwf_free(cb);
    }
    free(ga);
    free(gb);
    fftwf_free(a);
    fftwf_free(b);
    hb_mesh_free(&m);
}
END_TEST

static double power_law(double k, void *ctx)
{
    (void)ctx;
    return 500.0 * pow(k, -2.0);
}

START_TEST(grf_recovers_power_law)
{
    const int N = 32;
    const double L = 200.0;
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *a = hb_mesh_alloc(&m);
    for (int fixed = 0; fixed < 2; fixed++) {
        hb_ic_gaussian_k(&m, power_law, NULL, 1234, fixed, a);
        hb_mesh_c2r(&m, a);
        hb_pk pk;
        ck_assert_int_eq(hb_pk_compute(&pk, &m, a, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
        double model[64];
        ck_assert_int_eq(hb_pk_bin_model(&pk, &m, power_law, NULL, model), HB_OK);
        double chi2 = 0, worst = 0;
        int nb = 0;
        for (int j = 0; j < pk.nbins && pk.bin[j] < N / 2; j++) {
            double dev = pk.p11[j] / model[j] - 1;
            if (fixed) {
                worst = hb_test_max(worst, fabs(dev));   /* |delta_k|^2 = P exactly */
            } else {
                /* the mean of n exponential variates: relative sd 1/sqrt(n) */
                worst = hb_test_max(worst, fabs(dev) * sqrt((double)pk.nmodes[j]));
                chi2 += dev * dev * pk.nmodes[j];
                nb++;
            }
        }
        if (fixed) {
            ck_assert_double_lt(worst, TOL_FFT_FLOAT);
        } else {
            ck_assert_double_lt(worst, 4.5);                  /* no bin beyond 4.5 sigma */
            ck_assert_double_gt(chi2 / nb, 0.3);              /* 15 bins: chi2/dof in [0.3, 2.5] */
            ck_assert_double_lt(chi2 / nb, 2.5);
        }
        hb_pk_free(&pk);
    }
    fftwf_free(a);
    hb_mesh_free(&m);
}
END_TEST

START_TEST(grf_rank_count_independent)
{
    /* The field drawn on all ranks equals the one drawn by rank 0 alone. */
    const int N = 16;
    hb_mesh m, m1;
    ck_assert_int_eq(hb_mesh_init(&m, N, 64.0, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *a = hb_mesh_alloc(&m);
    hb_ic_gaussian_k(&m, power_law, NULL, 99, 0, a);
    hb_mesh_c2r(&m, a);
    float *ga = hb_test_gather(&m, a);
    double err = 0;
    if (m.rank == 0) {
        ck_assert_int_eq(hb_mesh_init(&m1, N, 64.0, MPI_COMM_SELF, FFTW_ESTIMATE), HB_OK);
        float *b = hb_mesh_alloc(&m1);
        hb_ic_gaussian_k(&m1, power_law, NULL, 99, 0, b);
        hb_mesh_c2r(&m1, b);
        double scale = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                for (int k = 0; k < N; k++) {
                    double v = b[hb_mesh_ridx(&m1, i, j, k)];
                    scale = hb_test_max(scale, fabs(v));
                    err = hb_test_max(err, fabs(v - ga[(i * N + j) * N + k]));
                }
        err /= scale;
        fftwf_free(b);
        hb_mesh_free(&m1);
    }
    ck_assert_double_lt(hb_test_allmax(err), 1e-6);
    free(ga);
    fftwf_free(a);
    hb_mesh_free(&m);
}
END_TEST

static Suite *mesh_suite(void)
{
    Suite *s = suite_create("mesh_pk");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fft_roundtrip);
    tcase_add_test(tc, single_mode_one_bin);
    tcase_add_test(tc, mode_count);
    tcase_add_test(tc, pk_vs_direct_dft);
    tcase_add_test(tc, grf_recovers_power_law);
    tcase_add_test(tc, grf_rank_count_independent);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(mesh_suite)
