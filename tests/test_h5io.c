/* Parallel HDF5 box files: written on some ranks, read on others; periodic
 * slab reads; clear errors for bad files; atomic writes. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb/box.h"
#include "hb/h5io.h"
#include "hb/mesh.h"
#include "hbtest.h"

static double value_at(int i, int j, int k) { return i * 1000.0 + j * 10.0 + k * 0.1 + 0.001; }

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static MPI_Comm first_ranks(int n)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm c;
    MPI_Comm_split(MPI_COMM_WORLD, rank < n ? 0 : MPI_UNDEFINED, rank, &c);
    return c;
}

static void write_box(MPI_Comm comm, const char *path, int N)
{
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, N, 25.0, comm, FFTW_ESTIMATE), HB_OK);
    float *buf = hb_mesh_alloc(&m);
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++) buf[hb_mesh_ridx(&m, i, j, k)] = (float)value_at((int)(m.x0 + i), j, k);
    hb_h5 f;
    static hb_provenance p;
    memset(&p, 0, sizeof p);
    hb_prov_set(&p, "cosmology.omega_m", "%g", 0.25);
    hb_prov_set(&p, "cosmology.sigma_8", "%s", "0.85");
    hb_boxinfo b = {25.0, 0.5, 0.049, 0.6711, 0.9624, {0.25, 0.85, 1, 1, 1, 1}, 7};
    hb_box_fields bf = hb_box_fields_mesh(&m, buf, "cic", NULL, NULL, NULL);
    ck_assert_int_eq(hb_box_create(&f, path, comm, &bf, &b, NULL, 0, &p), HB_OK);
    ck_assert(exists(f.tmp));
    ck_assert(!exists(path));              /* not visible before commit */
    ck_assert_int_eq(hb_h5_commit(&f), HB_OK);
    ck_assert(exists(path));
    ck_assert(!exists(f.tmp));
    fftwf_free(buf);
    hb_mesh_free(&m);
}

/* Read the file with comm and check every value, including a wrapped slab. */
static double read_check(MPI_Comm comm, const char *path, int N)
{
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, N, 25.0, comm, FFTW_ESTIMATE), HB_OK);
    hb_h5 f;
    ck_assert_int_eq(hb_h5_open(&f, path, comm), HB_OK);
    float *buf = hb_mesh_alloc(&m);
    ck_assert_int_eq(hb_h5_read_mesh_field(&f, HB_FIELD_DM, &m, buf), HB_OK);
    double err = 0;
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++)
                err = hb_test_max(err, fabs(buf[hb_mesh_ridx(&m, i, j, k)] - (float)value_at((int)(m.x0 + i), j, k)));
    /* periodic slab with halos wider than the box on each side */
    long xs = (long)m.x0 - 3, nx = (long)m.nx_local + N + 5;
    float *slab = malloc((size_t)nx * N * N * sizeof *slab);
    ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_DM, N, xs, nx, slab, (size_t)N), HB_OK);
    for (long p = 0; p < nx; p++) {
        int gi = (int)(((xs + p) % N + N) % N);
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++)
                err = hb_test_max(err, fabs(slab[((size_t)p * N + j) * N + k] - (float)value_at(gi, j, k)));
    }
    hb_boxinfo b;
    ck_assert_int_eq(hb_box_read_info(&f, &b), HB_OK);
    ck_assert_double_eq(b.theta[HB_OMEGA_M], 0.25);
    ck_assert_double_eq(b.redshift, 0.5);
    ck_assert_double_eq(b.box_size, 25.0);
    char s[64];
    ck_assert_int_eq(hb_h5_attr_read_string(&f, HB_FIELD_DM, "mass_assignment", s, sizeof s), HB_OK);
    ck_assert_str_eq(s, "cic");
    ck_assert_int_eq(hb_h5_attr_read_string(&f, "/parameters", "cosmology.sigma_8", s, sizeof s), HB_OK);
    ck_assert_str_eq(s, "0.85");
    /* a wrong shape, a missing dataset */
    ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_DM, N + 2, 0, 1, slab, (size_t)N), HB_EIO);
    ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_GAS, N, 0, 1, slab, (size_t)N), HB_EIO);
    free(slab);
    hb_h5_close(&f);
    fftwf_free(buf);
    hb_mesh_free(&m);
    return err;
}

START_TEST(write_on_two_read_on_one_and_three)
{
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int N = 12;
    if (rank == 0) unlink("box.h5");   /* from an earlier run */
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Comm w = first_ranks(size < 2 ? size : 2);
    if (w != MPI_COMM_NULL) {
        write_box(w, "box.h5", N);
        MPI_Comm_free(&w);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double err = 0;
    if (rank == 0) err = hb_test_max(err, read_check(MPI_COMM_SELF, "box.h5", N));
    MPI_Comm r = first_ranks(size < 3 ? size : 3);
    if (r != MPI_COMM_NULL) {
        err = hb_test_max(err, read_check(r, "box.h5", N));
        MPI_Comm_free(&r);
    }
    ck_assert_double_eq(hb_test_allmax(err), 0.0);   /* bitwise */
}
END_TEST

START_TEST(bad_files)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) unlink("full.h5");
    MPI_Barrier(MPI_COMM_WORLD);
    write_box(MPI_COMM_WORLD, "full.h5", 16);
    if (rank == 0) {
        /* a truncated copy, and a file that is not HDF5 at all */
        FILE *in = fopen("full.h5", "rb");
        FILE *out = fopen("truncated.h5", "wb");
        char buf[4096];
        size_t n, total = 0;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0 && total < 6000) {
            fwrite(buf, 1, n, out);
            total += n;
        }
        fclose(in);
        fclose(out);
        FILE *t = fopen("text.h5", "w");
        fputs("not hdf5\n", t);
        fclose(t);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    hb_h5 f;
    hb_status rc = hb_h5_open(&f, "truncated.h5", MPI_COMM_WORLD);
    if (rc == HB_OK) {
        /* if the superblock survived, reading the data must fail */
        float *slab = malloc(16 * 16 * 16 * sizeof *slab);
        rc = hb_h5_read_field(&f, HB_FIELD_DM, 16, 0, 16, slab, 16);
        free(slab);
        hb_h5_close(&f);
    }
    ck_assert_int_eq(rc, HB_EIO);
    ck_assert_int_eq(hb_h5_open(&f, "text.h5", MPI_COMM_WORLD), HB_EIO);
    ck_assert_int_eq(hb_h5_open(&f, "absent.h5", MPI_COMM_WORLD), HB_EIO);
}
END_TEST

START_TEST(abort_leaves_nothing)
{
    hb_h5 f;
    ck_assert_int_eq(hb_h5_create(&f, "aborted.h5", MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_h5_attr_write_double(&f, "/", "x", 1.0), HB_OK);
    hb_h5_abort(&f);
    ck_assert(!exists("aborted.h5"));
    ck_assert(!exists("aborted.h5.tmp"));
    /* a directory that does not exist: a clear error, nothing created */
    ck_assert_int_eq(hb_h5_create(&f, "no/such/dir/x.h5", MPI_COMM_WORLD), HB_EIO);
}
END_TEST

static Suite *h5_suite(void)
{
    Suite *s = suite_create("h5io");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, write_on_two_read_on_one_and_three);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, abort_leaves_nothing);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(h5_suite)
