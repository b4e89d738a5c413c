/* tests/hbtest.h: the common main() of the Check suites. MPI-safe: no fork,
 * the failure count is reduced over ranks so every rank exits with the
 * same verdict (a failure on rank 1 cannot hide behind rank 0's 100%), and
 * an assertion failed on some ranks only ends the run rather than hanging it
 * (hb_test_failed; tests/harness.sh checks both). */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <check.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hb/err.h"

/* A failed assertion in a suite run on several ranks. A rank that fails
 * where the others do not (a check inside `if (rank == 0)`, a value not
 * reduced over ranks) would leave them waiting in the test's next
 * collective until ctest's timeout (900 s for the longest suites). So each
 * failed assertion is printed at once with its rank, and the rank waits up
 * to HB_TEST_FAIL_WAIT seconds (60) for every rank to fail as well (a
 * barrier on a communicator of its own): then the suite goes on as Check
 * would; otherwise MPI_Abort ends every rank. */
static MPI_Comm hb_test_fail_comm = MPI_COMM_NULL;

static inline void hb_test_failed(const char *file, int line, const char *expr, const char *msg, ...)
    __attribute__((format(printf, 4, 5)));
static inline void hb_test_failed(const char *file, int line, const char *expr, const char *msg, ...)
{
    char text[1024] = "";
    if (msg) {
        va_list ap;
        va_start(ap, msg);
        vsnprintf(text, sizeof text, msg, ap);
        va_end(ap);
    }
    int size = 1, rank = 0;
    if (hb_test_fail_comm != MPI_COMM_NULL) {
        MPI_Comm_size(hb_test_fail_comm, &size);
        MPI_Comm_rank(hb_test_fail_comm, &rank);
    }
    if (size > 1) {
        fprintf(stderr, "rank %d: %s:%d: %s%s%s\n", rank, file, line, expr, *text ? ": " : "", text);
        const char *w = getenv("HB_TEST_FAIL_WAIT");
        const double wait = w ? atof(w) : 60, t0 = MPI_Wtime();
        MPI_Request req;
        int done = 0;
        if (MPI_Ibarrier(hb_test_fail_comm, &req) == MPI_SUCCESS) {
            while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done && MPI_Wtime() - t0 < wait)
                nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
        if (!done) {
            fprintf(stderr, "rank %d: the other ranks did not fail within %g s (they wait in a collective of the "
                    "test): aborting every rank\n", rank, wait);
            fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    _ck_assert_failed(file, line, expr, *text ? "%s" : NULL, text);
}
#define _ck_assert_failed hb_test_failed

static inline int hb_test_main(int argc, char **argv, Suite *(*make)(void))
{
    hb_fp_setup();
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_dup(MPI_COMM_WORLD, &hb_test_fail_comm);
    SRunner *sr = srunner_create(make());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    if (failed && rank != 0) {
        /* rank 0 prints the summary; make other ranks' failures visible too */
        srunner_print(sr, CK_VERBOSE);
    }
    srunner_free(sr);
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Comm_free(&hb_test_fail_comm);
    MPI_Finalize();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The larger of a and b, NaN when either is NaN (fmax drops a NaN, so a
 * worst-error accumulator built on it could pass a NaN result). */
/* The status of a call made on rank 0 alone, asserted on every rank: a
 * failure checked on rank 0 only would leave the others waiting in the next
 * collective until the test's timeout instead of failing it. */
static inline void hb_test_root_ok(hb_status rc)
{
    int v = (int)rc;
    MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ck_assert_msg(v == HB_OK, "the call on rank 0 failed with status %d", v);
}

static inline double hb_test_max(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
}

/* Reduce a local maximum so every rank asserts on the same value; NaN on
 * any rank gives NaN. */
static inline double hb_test_allmax(double x)
{
    int bad = isnan(x);
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return bad ? NAN : x;
}

static inline double hb_test_relerr(double got, double want)
{
    return fabs(got - want) / fabs(want);
}

#define HB_TEST_MAIN(make) \
    int main(int argc, char **argv) { return hb_test_main(argc, argv, make); }

#endif

#ifdef HB_MESH_H
#include <string.h>
/* Gather a distributed real field to rank 0 as a dense N^3 array (C order);
 * NULL on other ranks. Collective. For tests only: it holds a whole box. */
static inline float *hb_test_gather(const hb_mesh *m, const float *buf)
{
    int N = m->N;
    size_t plane = (size_t)N * N;
    float *mine = malloc((m->nx_local > 0 ? (size_t)m->nx_local : 1) * plane * sizeof *mine);
    for (ptrdiff_t i = 0; i < m->nx_local; i++)
        for (int j = 0; j < N; j++)
            memcpy(mine + ((size_t)i * N + j) * N, buf + hb_mesh_ridx(m, i, j, 0), (size_t)N * sizeof *mine);
    int *cnt = malloc((size_t)m->nranks * sizeof *cnt), *off = malloc((size_t)m->nranks * sizeof *off);
    for (int r = 0; r < m->nranks; r++) {
        cnt[r] = (int)(m->rank_nx[r] * (ptrdiff_t)plane);
        off[r] = (int)(m->rank_x0[r] * (ptrdiff_t)plane);
    }
    float *all = m->rank == 0 ? malloc((size_t)N * plane * sizeof *all) : NULL;
    MPI_Gatherv(mine, (int)(m->nx_local * (ptrdiff_t)plane), MPI_FLOAT, all, cnt, off, MPI_FLOAT, 0, m->comm);
    free(mine);
    free(cnt);
    free(off);
    return all;
}
#endif

#if defined(HB_SIMULATE_H) && defined(HB_MESH_H) && !defined(HB_TEST_SIM)
#define HB_TEST_SIM
/* Run cfg on comm for n steps to a = a0 + da i (a0 <= 0: from the start's
 * a), paint the density on an n_grid^3 mesh of the run's box and gather it
 * to rank 0 of comm (NULL elsewhere). Collective over comm. */
static inline float *hb_test_run_density(const hb_sim_config *cfg, MPI_Comm comm, int n_grid, double a0, double da,
                                         int n)
{
    hb_sim s;
    ck_assert_int_eq(hb_sim_init(&s, cfg, comm), HB_OK);
    const double base = a0 > 0 ? a0 : s.a;
    for (int i = 1; i <= n; i++) ck_assert_int_eq(hb_sim_step(&s, base + da * i), HB_OK);
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, n_grid, cfg->box_size, comm, FFTW_ESTIMATE), HB_OK);
    float *rho = hb_mesh_alloc(&m);
    ck_assert_int_eq(hb_sim_density(&s, &m, rho), HB_OK);
    float *all = hb_test_gather(&m, rho);
    fftwf_free(rho);
    hb_mesh_free(&m);
    hb_sim_free(&s);
    return all;
}
#endif
