/* The streamed training set: a sample's slab (cube symmetry + periodic
 * shift, standardised log10 channels) read raw with pread, through HDF5, and
 * through the prefetch thread equals the same transform computed here from
 * the whole box; so does the smoothed-DM channel, against a direct
 * convolution with the Gaussian's periodic kernel (not an FFT), its
 * statistics, and what emulation computes for the same box; bad cells are
 * refused with their file and index; the sample sequence does not depend on
 * the rank count. Run at 1, 2 and 3 ranks. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb/dataset.h"
#include "hb/rng.h"
#include "hb/smooth.h"
#include "hbtest.h"

#include "toy.h"

#define N 12

static const int PERM[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* Every field of a box, read whole by this rank. */
static void read_whole(const char *path, float *f[3])
{
    hb_h5 h;
    ck_assert_int_eq(hb_h5_open(&h, path, MPI_COMM_SELF), HB_OK);
    static const char *names[3] = {HB_FIELD_DM, HB_FIELD_GAS, HB_FIELD_TEMP};
    for (int ch = 0; ch < 3; ch++) {
        f[ch] = malloc((size_t)N * N * N * 4);
        ck_assert_int_eq(hb_h5_read_field(&h, names[ch], N, 0, N, f[ch], N), HB_OK);
    }
    hb_h5_close(&h);
}

/* The transformed value at output cell (a0, a1, a2): original cell
 * o[i] = shift[i] + (flip ? N-1-a[d] : a[d]) with i = perm[d]. */
static float expected(float *f[3], int ch, const hb_sample *s, const int a[3], const hb_interp *ic)
{
    const int *perm = PERM[s->sym / 8], flip = s->sym % 8;
    int o[3];
    for (int d = 0; d < 3; d++) {
        int q = (flip >> d & 1) ? N - 1 - a[d] : a[d];
        o[perm[d]] = (s->shift[perm[d]] + q) % N;
    }
    float v = f[ch][((size_t)o[0] * N + o[1]) * N + o[2]];
    float lf = (float)log10(v > ic->floor[ch] ? v : ic->floor[ch]);
    return (float)((lf - ic->mean[ch]) / ic->std[ch]);
}

/* f (n^3) convolved with the periodic kernel K(d) = n^-3 sum_k exp(-k^2 r^2 / 2)
 * cos(k.d), k = 2 pi m / n (m in (-n/2, n/2]): a direct sum in double, no FFT. */
static void smooth_direct(const float *f, int n, double r, double *out)
{
    const size_t n3 = (size_t)n * n * n;
    double *K = calloc(n3, sizeof *K), *g = malloc((size_t)n * sizeof *g);
    for (int m = 0; m < n; m++) {
        const double k = 2 * M_PI * (m <= n / 2 ? m : m - n) / n;
        g[m] = exp(-0.5 * k * k * r * r);
    }
    /* the kernel factorises over the axes: K(d) = k1(dx) k1(dy) k1(dz) */
    double *k1 = calloc((size_t)n, sizeof *k1);
    for (int d = 0; d < n; d++)
        for (int m = 0; m < n; m++) k1[d] += g[m] * cos(2 * M_PI * m * d / n) / n;
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++)
            for (int c = 0; c < n; c++) K[((size_t)a * n + b) * n + c] = k1[a] * k1[b] * k1[c];
    for (int x = 0; x < n; x++)
        for (int y = 0; y < n; y++)
            for (int z = 0; z < n; z++) {
                double s = 0;
                for (int a = 0; a < n; a++)
                    for (int b = 0; b < n; b++)
                        for (int c = 0; c < n; c++) {
                            const size_t d = ((size_t)((x - a + n) % n) * n + (size_t)((y - b + n) % n)) * n +
                                             (size_t)((z - c + n) % n);
                            s += f[((size_t)a * n + b) * n + c] * K[d];
                        }
                out[((size_t)x * n + y) * n + z] = s;
            }
    free(K);
    free(g);
    free(k1);
}

static int make_set(char **paths)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) mkdir("ds", 0755);
    for (int i = 0; i < 3; i++) {
        paths[i] = malloc(64);
        snprintf(paths[i], 64, "ds/box%d.h5", i);
        if (rank == 0) ck_assert_int_eq(toy_write(paths[i], N, 25.0, 0.25 + 0.05 * i, 0.8 + 0.3 * i, 200 + i, 1), HB_OK);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return 3;
}

START_TEST(samples_equal_the_transform_of_the_whole_box)
{
    char *paths[3];
    int n = make_set(paths);
    hb_dataset ds;
    ck_assert_int_eq(hb_dataset_open(&ds, paths, n, MPI_COMM_WORLD), HB_OK);
    for (int b = 0; b < n; b++) ck_assert_int_eq(ds.boxes[b].direct, 1);   /* hydrobridge's own files read raw */
    hb_interp ic = hb_interp_default();
    ck_assert_int_eq(hb_dataset_stats(&ds, &ic, MPI_COMM_WORLD), HB_OK);
    hb_slab slab;
    ck_assert_int_eq(hb_slab_init_aligned(&slab, N, 4, MPI_COMM_WORLD), HB_OK);
    hb_loader L;
    ck_assert_int_eq(hb_loader_init(&L, &ds, &slab, &ic), HB_OK);
    double worst = 0;
    for (int step = 1; step <= 8; step++) {
        hb_sample s, next;
        hb_dataset_sample(&ds, 5, HB_STREAM_PATCH, step, 0, 1, &s);
        hb_dataset_sample(&ds, 5, HB_STREAM_PATCH, step + 1, 0, 1, &next);
        const float *x0, *x1;
        ck_assert_int_eq(hb_loader_get(&L, &s, &x0, NULL, &x1), HB_OK);   /* prefetched from the second on */
        hb_loader_prefetch(&L, &next);
        float *f[3];
        read_whole(ds.boxes[s.box].path, f);
        for (long i = 0; i < slab.nx; i++)
            for (int j = 0; j < N; j++)
                for (int k = 0; k < N; k++) {
                    int a[3] = {(int)(slab.x0 + i), j, k};
                    size_t c = ((size_t)i * N + j) * N + k;
                    worst = hb_test_max(worst, fabs(x0[c] - expected(f, 0, &s, a, &ic)));
                    worst = hb_test_max(worst, fabs(x1[2 * c] - expected(f, 1, &s, a, &ic)));
                    worst = hb_test_max(worst, fabs(x1[2 * c + 1] - expected(f, 2, &s, a, &ic)));
                }
        for (int ch = 0; ch < 3; ch++) free(f[ch]);
    }
    worst = hb_test_allmax(worst);
    ck_assert_double_eq(worst, 0);   /* the same float operations on the same values */
    /* the same samples through HDF5 (as for compressed files): bitwise alike */
    hb_sample s;
    hb_dataset_sample(&ds, 5, HB_STREAM_PATCH, 3, 0, 1, &s);
    const float *a0, *a1, *b0, *b1;
    ck_assert_int_eq(hb_loader_get(&L, &s, &a0, NULL, &a1), HB_OK);
    float *c0 = malloc(L.n * 4), *c1 = malloc(L.n * 8);
    memcpy(c0, a0, L.n * 4);
    memcpy(c1, a1, L.n * 8);
    ds.boxes[s.box].direct = 0;
    ck_assert_int_eq(hb_loader_get(&L, &s, &b0, NULL, &b1), HB_OK);   /* still held: from the slot */
    hb_sample t = s;
    t.j = 1;   /* another sample of the same box: read now, through HDF5 */
    ck_assert_int_eq(hb_loader_get(&L, &t, &b0, NULL, &b1), HB_OK);
    ck_assert_int_eq(memcmp(c0, b0, L.n * 4), 0);
    ck_assert_int_eq(memcmp(c1, b1, L.n * 8), 0);
    free(c0);
    free(c1);
    hb_loader_free(&L);
    hb_slab_free(&slab);
    hb_dataset_close(&ds);
    for (int i = 0; i < n; i++) free(paths[i]);
}
END_TEST

START_TEST(sample_sequence_and_bad_cells)
{
    char *paths[3];
    int n = make_set(paths);
    hb_dataset ds;
    ck_assert_int_eq(hb_dataset_open(&ds, paths, n, MPI_COMM_WORLD), HB_OK);
    /* the same draws on every rank, and different ones at another step */
    hb_sample a, b;
    hb_dataset_sample(&ds, 9, HB_STREAM_PATCH, 4, 2, 1, &a);
    hb_dataset_sample(&ds, 9, HB_STREAM_PATCH, 5, 2, 1, &b);
    double v[4] = {a.box * 1e6 + a.sym * 1e3 + a.shift[0] + a.shift[1] * 1e-2 + a.shift[2] * 1e-4, a.t, 0, 0};
    v[2] = -v[0];
    v[3] = -v[1];
    MPI_Allreduce(MPI_IN_PLACE, v, 4, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    ck_assert_double_eq(v[0], -v[2]);
    ck_assert_double_eq(v[1], -v[3]);
    ck_assert(a.t != b.t);
    ck_assert(a.t > 0 && a.t < 1);
    /* a NaN cell is an error naming the file and the cell */
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        hb_h5 f;
        ck_assert_int_eq(hb_h5_open(&f, "ds/box1.h5", MPI_COMM_SELF), HB_OK);
        hb_h5_close(&f);
        /* rewrite box 1 with one NaN gas cell at (5, 6, 7) */
        float *g = malloc((size_t)N * N * N * 4);
        ck_assert_int_eq(hb_h5_open(&f, "ds/box1.h5", MPI_COMM_SELF), HB_OK);
        ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_GAS, N, 0, N, g, N), HB_OK);
        hb_h5_close(&f);
        g[(5 * N + 6) * N + 7] = NAN;
        hid_t h = H5Fopen("ds/box1.h5", H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t d = H5Dopen2(h, HB_FIELD_GAS, H5P_DEFAULT);
        ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, g) >= 0);
        H5Dclose(d);
        H5Fclose(h);
        free(g);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    hb_interp ic = hb_interp_default();
    hb_slab slab;
    ck_assert_int_eq(hb_slab_init_aligned(&slab, N, 4, MPI_COMM_WORLD), HB_OK);
    hb_loader L;
    ck_assert_int_eq(hb_loader_init(&L, &ds, &slab, &ic), HB_OK);
    hb_sample s = {0, 1, 0, {0, 0, 0}, 0.5};
    const float *x0, *x1;
    int owner = 5 >= slab.x0 && 5 < slab.x0 + slab.nx;   /* identity transform: plane 5 */
    hb_status rc = hb_loader_get(&L, &s, &x0, NULL, &x1);
    ck_assert_int_eq(rc, owner ? HB_EIO : HB_OK);
    hb_loader_free(&L);
    hb_slab_free(&slab);
    hb_dataset_close(&ds);
    for (int i = 0; i < n; i++) free(paths[i]);
}
END_TEST

START_TEST(smoothed_dm_channel)
{
    /* the smoother against the direct sum, on a random field of 8^3 with an empty cell */
    const int n = 8;
    float *f = malloc(512 * sizeof *f), *g = malloc(512 * sizeof *g);
    double *d = malloc(512 * sizeof *d), mean_f = 0, mean_g = 0, worst = 0;
    for (int i = 0; i < 512; i++) f[i] = (float)pow(10.0, sin(1.7 * i) + 0.3 * cos(0.31 * i * i));
    f[77] = 0;
    hb_smoother sm;
    ck_assert_int_eq(hb_smoother_init(&sm, n, 1.5, 0), HB_OK);
    hb_smoother_apply(&sm, f, g);
    smooth_direct(f, n, 1.5, d);
    for (int i = 0; i < 512; i++) {
        worst = hb_test_max(worst, fabs(g[i] - d[i]) / d[i]);
        mean_f += f[i] / 512.0;
        mean_g += g[i] / 512.0;
    }
    ck_assert_msg(worst < 1e-5, "smoothed field off the direct sum by %g (relative)", worst);
    ck_assert_double_eq_tol(mean_g, mean_f, 1e-5 * mean_f);   /* k = 0 untouched */
    hb_smoother_free(&sm);
    /* with a threshold: the direct sum of max(f - 2, 0), in place (out = in) */
    float *above = malloc(512 * sizeof *above);
    double peak = 0;
    for (int i = 0; i < 512; i++) above[i] = f[i] > 2 ? f[i] - 2 : 0;
    smooth_direct(above, n, 1.5, d);
    for (int i = 0; i < 512; i++) peak = hb_test_max(peak, d[i]);
    memcpy(g, f, 512 * sizeof *g);
    ck_assert_int_eq(hb_smoother_init(&sm, n, 1.5, 2), HB_OK);
    hb_smoother_apply(&sm, g, g);
    worst = 0;
    for (int i = 0; i < 512; i++) worst = hb_test_max(worst, fabs(g[i] - d[i]) / peak);
    ck_assert_msg(worst < 1e-5, "smoothed DM above 2 off the direct sum by %g (of its peak)", worst);
    ck_assert_msg(peak > 0.1, "the test's field barely exceeds its threshold (peak %g)", peak);
    hb_smoother_free(&sm);
    ck_assert_int_ne(hb_smoother_init(&sm, n, 1.5, -1), HB_OK);
    free(above);
    free(f);
    free(g);
    free(d);
    ck_assert(hb_smooth_radius_ok(0) && hb_smooth_radius_ok(2) && !hb_smooth_radius_ok(-1) &&
              !hb_smooth_radius_ok(9) && !hb_smooth_radius_ok(NAN));

    ck_assert(hb_smooth_channels_ok(0, NULL, NULL) && hb_smooth_channels_ok(2, (double[]){1, 2}, NULL) &&
              !hb_smooth_channels_ok(2, (double[]){2, 2}, NULL) && !hb_smooth_channels_ok(2, (double[]){0, 2}, NULL) &&
              hb_smooth_channels_ok(2, (double[]){2, 2}, (double[]){0, 3}) &&
              !hb_smooth_channels_ok(2, (double[]){2, 2}, (double[]){3, 3}) &&
              !hb_smooth_channels_ok(1, (double[]){2}, (double[]){-1}) &&
              !hb_smooth_channels_ok(1, (double[]){2}, (double[]){NAN}) &&
              !hb_smooth_channels_ok(HB_SMOOTH_MAX_CH + 1, (double[]){1, 2, 3, 4}, NULL));
    {   /* the command lines' rule: a halo channel needs a threshold > 0 and room */
        hb_interp c = hb_interp_default();
        ck_assert(hb_smooth_set(&c, 1, (double[]){0}, 2, (double[]){3, 1.5}) && c.n_smooth == 1 &&
                  c.smooth_thr[0] == 3 && c.smooth_r[0] == 1.5);
        ck_assert(!hb_smooth_set(&c, 1, (double[]){2}, 2, (double[]){0, 1.5}) && c.n_smooth == 1);
        ck_assert(!hb_smooth_set(&c, 3, (double[]){1, 2, 4}, 2, (double[]){3, 1.5}) && c.n_smooth == 1);
        ck_assert(!hb_smooth_set(&c, 1, (double[]){2}, 1, (double[]){3}) && c.n_smooth == 1);   /* T without R */
        ck_assert(hb_smooth_set(&c, 1, (double[]){2}, 1, (double[]){0}) && c.n_smooth == 1 && c.smooth_thr[0] == 0);
        ck_assert(hb_smooth_set(&c, 2, (double[]){1, 2}, 0, NULL) && c.n_smooth == 2 && c.smooth_thr[0] == 0 &&
                  c.smooth_thr[1] == 0);

        /* split undoes set: radii and halo apart, so that one option can replace its part */
        double r[HB_SMOOTH_MAX_CH], h[2];
        int n, nh;
        hb_smooth_split(&c, r, &n, h, &nh);
        ck_assert(n == 2 && r[0] == 1 && r[1] == 2 && nh == 0);
        ck_assert(hb_smooth_set(&c, 1, (double[]){1.25}, 2, (double[]){3, 1.5}));
        hb_smooth_split(&c, r, &n, h, &nh);
        ck_assert(n == 1 && r[0] == 1.25 && nh == 2 && h[0] == 3 && h[1] == 1.5);
        ck_assert(hb_smooth_set(&c, 0, NULL, nh, h));   /* the halo channel kept alone */
        hb_smooth_split(&c, r, &n, h, &nh);
        ck_assert(c.n_smooth == 1 && n == 0 && nh == 2 && h[0] == 3 && h[1] == 1.5);
    }

    /* the loader's three channels (radii 0.75 and 1.25, and the DM above the mean over 1 cell): each the
     * transform of the directly smoothed box; their statistics */
    enum { S = 3 };
    const double radii[S] = {0.75, 1.25, 1.0}, thr[S] = {0, 0, 1.0};
    char *paths[3];
    int nb = make_set(paths);
    hb_dataset ds;
    ck_assert_int_eq(hb_dataset_open(&ds, paths, nb, MPI_COMM_WORLD), HB_OK);
    hb_interp ic = hb_interp_default();
    ic.floor[0] = 0.05;
    ck_assert(hb_smooth_set(&ic, 2, radii, 2, (double[]){thr[2], radii[2]}));
    ck_assert_int_eq(hb_dataset_stats(&ds, &ic, MPI_COMM_WORLD), HB_OK);
    const size_t n3 = (size_t)N * N * N;
    double *sms[3][S];
    for (int j = 0; j < S; j++) {
        double sum = 0, sum2 = 0;
        for (int b = 0; b < nb; b++) {
            float *fb[3];
            read_whole(paths[b], fb);
            sms[b][j] = malloc(n3 * sizeof *sms[b][j]);
            for (size_t c = 0; c < n3; c++) fb[0][c] = fb[0][c] > thr[j] ? fb[0][c] - (float)thr[j] : 0.0f;
            smooth_direct(fb[0], N, radii[j], sms[b][j]);
            for (size_t c = 0; c < n3; c++) {
                const double l = log10(fmax(sms[b][j][c], HB_SMOOTH_FLOOR));
                sum += l;
                sum2 += l * l;
            }
            for (int ch = 0; ch < 3; ch++) free(fb[ch]);
        }
        const double mean = sum / (nb * (double)n3), sd = sqrt(sum2 / (nb * (double)n3) - mean * mean);
        ck_assert_double_eq_tol(ic.smooth_mean[j], mean, 1e-6);
        ck_assert_double_eq_tol(ic.smooth_std[j], sd, 1e-6);
        ck_assert_msg(sd > 0.02, "std %g at radius %g", sd, radii[j]);   /* the toy's smoothed DM varies */
    }
    ck_assert_msg(ic.smooth_std[1] < ic.smooth_std[0] - 0.01, "std %g at radius 1.25, %g at 0.75", ic.smooth_std[1],
                  ic.smooth_std[0]);   /* the wider Gaussian smooths more: a test that would see swapped channels */
    hb_slab slab;
    ck_assert_int_eq(hb_slab_init_aligned(&slab, N, 4, MPI_COMM_WORLD), HB_OK);
    hb_loader L;
    ck_assert_int_eq(hb_loader_init(&L, &ds, &slab, &ic), HB_OK);
    worst = 0;
    double worst0 = 0;
    for (int step = 1; step <= 6; step++) {
        hb_sample s;
        hb_dataset_sample(&ds, 7, HB_STREAM_PATCH, step, 0, 1, &s);
        if (step == 6) ds.boxes[s.box].direct = 0;   /* and through HDF5 */
        const float *x0, *xs, *x1;
        ck_assert_int_eq(hb_loader_get(&L, &s, &x0, &xs, &x1), HB_OK);
        ck_assert_ptr_nonnull(xs);
        float *fb[3];
        read_whole(paths[s.box], fb);
        const int *perm = PERM[s.sym / 8], flip = s.sym % 8;
        for (long i = 0; i < slab.nx; i++)
            for (int j = 0; j < N; j++)
                for (int k = 0; k < N; k++) {
                    int a[3] = {(int)(slab.x0 + i), j, k}, o[3];
                    for (int q = 0; q < 3; q++) {
                        int v = (flip >> q & 1) ? N - 1 - a[q] : a[q];
                        o[perm[q]] = (s.shift[perm[q]] + v) % N;
                    }
                    const size_t c = ((size_t)i * N + j) * N + k, oc = ((size_t)o[0] * N + o[1]) * N + o[2];
                    for (int r = 0; r < S; r++) {
                        const double v = sms[s.box][r][oc];
                        const double want = (log10(fmax(v, HB_SMOOTH_FLOOR)) - ic.smooth_mean[r]) / ic.smooth_std[r];
                        worst = hb_test_max(worst, fabs(xs[c * S + r] - want));
                    }
                    worst0 = hb_test_max(worst0, fabs(x0[c] - expected(fb, 0, &s, a, &ic)));
                }
        for (int ch = 0; ch < 3; ch++) free(fb[ch]);
    }
    worst = hb_test_allmax(worst);
    worst0 = hb_test_allmax(worst0);
    ck_assert_msg(worst < 1e-4, "smoothed channels off the transform of the direct smoothing by %g", worst);
    ck_assert_double_eq(worst0, 0);   /* the DM channel as without smoothing */
    /* what emulate and loglike compute (hb_smooth_read) is what training saw, to float rounding (the
     * loader rounds log10 to float before standardising, hb_smooth_to_std does not: as for the DM channel) */
    hb_sample id = {0, 1, 0, {0, 0, 0}, 0.5};
    const float *x0, *xs, *x1;
    ck_assert_int_eq(hb_loader_get(&L, &id, &x0, &xs, &x1), HB_OK);
    float *ys = malloc((L.n + 1) * S * sizeof *ys);
    hb_h5 h;
    ck_assert_int_eq(hb_h5_open(&h, paths[1], MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_smooth_read(&ic, &h, N, slab.x0, slab.nx, ys), HB_OK);
    hb_h5_close(&h);
    double dmax = 0;
    for (size_t c = 0; c < L.n * S; c++) dmax = hb_test_max(dmax, fabs(xs[c] - ys[c]));
    dmax = hb_test_allmax(dmax);
    ck_assert_msg(dmax < 2e-6, "emulation's smoothed channels off the loader's by %g", dmax);
    free(ys);
    hb_loader_free(&L);
    hb_slab_free(&slab);
    hb_dataset_close(&ds);
    for (int b = 0; b < nb; b++) {
        for (int j = 0; j < S; j++) free(sms[b][j]);
        free(paths[b]);
    }
}
END_TEST

static Suite *dataset_suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, samples_equal_the_transform_of_the_whole_box);
    tcase_add_test(tc, sample_sequence_and_bad_cells);
    tcase_add_test(tc, smoothed_dm_channel);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(dataset_suite)
