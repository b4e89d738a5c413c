/* The test harness itself (tests/hbtest.h), driven by tests/harness.sh: a
 * suite that fails on purpose. "consistent": every rank fails the same
 * assertion, and the suite goes on to "passes" (one failure of two);
 * with HB_HARNESS_STUCK set, "stuck": rank 0 fails inside a rank-0-only
 * block while the others wait in a broadcast, which must end the run with
 * MPI_Abort after HB_TEST_FAIL_WAIT seconds instead of hanging. */
#include <stdlib.h>
#include "hbtest.h"

START_TEST(consistent)
{
    int one = 1;
    MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ck_assert_msg(one < 0, "every rank fails this: %d ranks", one);
}
END_TEST

START_TEST(passes)
{
    int size, one = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    ck_assert_int_eq(one, size);
}
END_TEST

START_TEST(stuck)
{
    int rank, v = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) ck_assert_msg(v == 1, "rank 0 alone fails this");
    MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
}
END_TEST

static Suite *harness_suite(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 0);
    if (getenv("HB_HARNESS_STUCK")) tcase_add_test(tc, stuck);
    tcase_add_test(tc, consistent);
    tcase_add_test(tc, passes);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(harness_suite)
