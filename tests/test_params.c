/* Parameters: INI parsing, overrides, validation, broadcast. Each case
 * writes its INI file on rank 0 and loads it collectively. And the
 * progress line's rate, and the parameter table. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hb/params.h"
#include "hb/theta.h"
#include "hbtest.h"

static void write_file(const char *path, const char *text)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

static const char *REQ[] = {"cosmology.omega_m", "cosmology.sigma_8", NULL};

START_TEST(good_file_and_overrides)
{
    write_file("good.ini",
               "# a comment\n[cosmology]\nomega_m = 0.31   ; inline comment\nsigma_8 = 0.79\n"
               "[simulation]\nz_out = 2, 1,0.5 0\nn_particles = 32\n[output]\nfile = a_{z}.h5\n");
    char *over[] = {"simulation.seed=77", "feedback.a_agn2 = 1.7"};
    hb_params p;
    ck_assert_int_eq(hb_params_load(&p, "good.ini", 2, over, REQ, MPI_COMM_WORLD), HB_OK);
    ck_assert_double_eq(hb_params_double(&p, "cosmology.omega_m"), 0.31);
    ck_assert_double_eq(hb_params_double(&p, "cosmology.sigma_8"), 0.79);
    ck_assert_double_eq(hb_params_double(&p, "cosmology.h"), 0.6711);     /* default */
    ck_assert_int_eq(hb_params_int(&p, "simulation.n_particles"), 32);
    ck_assert_int_eq(hb_params_int(&p, "simulation.seed"), 77);
    ck_assert_double_eq(hb_params_double(&p, "feedback.a_agn2"), 1.7);
    ck_assert_str_eq(hb_params_string(&p, "output.file"), "a_{z}.h5");
    double z[8];
    ck_assert_int_eq(hb_params_dlist(&p, "simulation.z_out", z, 8), 4);
    ck_assert_double_eq(z[0], 2);
    ck_assert_double_eq(z[2], 0.5);
    ck_assert_double_eq(z[3], 0);
}
END_TEST

START_TEST(override_beats_file)
{
    write_file("o.ini", "[cosmology]\nomega_m = 0.31\nsigma_8 = 0.79\n");
    char *over[] = {"cosmology.omega_m=0.25"};
    hb_params p;
    ck_assert_int_eq(hb_params_load(&p, "o.ini", 1, over, REQ, MPI_COMM_WORLD), HB_OK);
    ck_assert_double_eq(hb_params_double(&p, "cosmology.omega_m"), 0.25);
}
END_TEST

START_TEST(errors)
{
    hb_params p;
    write_file("unknown.ini", "[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\nomega_nu = 0.01\n");
    ck_assert_int_eq(hb_params_load(&p, "unknown.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    write_file("section.ini", "[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\n[simulaton]\nseed = 1\n");
    ck_assert_int_eq(hb_params_load(&p, "section.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    write_file("range.ini", "[cosmology]\nomega_m = 1.7\nsigma_8 = 0.8\n");
    ck_assert_int_eq(hb_params_load(&p, "range.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    write_file("nan.ini", "[cosmology]\nomega_m = 0.3x\nsigma_8 = 0.8\n");
    ck_assert_int_eq(hb_params_load(&p, "nan.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    write_file("int.ini", "[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\n[simulation]\nn_particles = 32.5\n");
    ck_assert_int_eq(hb_params_load(&p, "int.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    write_file("choice.ini", "[cosmology]\nomega_m = 0.3\nsigma_8 = 0.8\ntransfer = bbks\n");
    ck_assert_int_eq(hb_params_load(&p, "choice.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    write_file("missing.ini", "[cosmology]\nomega_m = 0.3\n");
    ck_assert_int_eq(hb_params_load(&p, "missing.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EARG);
    ck_assert_int_eq(hb_params_load(&p, "no_such_file.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_EIO);
    char *bad1[] = {"cosmology.omega_m"};
    ck_assert_int_eq(hb_params_load(&p, "missing.ini", 1, bad1, NULL, MPI_COMM_WORLD), HB_EARG);
    char *bad2[] = {"cosmology.omegam=0.3"};
    ck_assert_int_eq(hb_params_load(&p, "missing.ini", 1, bad2, NULL, MPI_COMM_WORLD), HB_EARG);
    char *bad3[] = {"simulation.z_out=1,a"};
    ck_assert_int_eq(hb_params_load(&p, "missing.ini", 1, bad3, NULL, MPI_COMM_WORLD), HB_EARG);
}
END_TEST

START_TEST(every_rank_agrees)
{
    write_file("r.ini", "[cosmology]\nomega_m = 0.2\nsigma_8 = 0.9\n");
    hb_params p;
    ck_assert_int_eq(hb_params_load(&p, "r.ini", 0, NULL, REQ, MPI_COMM_WORLD), HB_OK);
    double v[2] = {hb_params_double(&p, "cosmology.omega_m"), -hb_params_double(&p, "cosmology.omega_m")};
    MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    ck_assert_double_eq(v[0], 0.2);
    ck_assert_double_eq(-v[1], 0.2);
}
END_TEST

/* The progress line's rate (hb/err.h, the CLI's other small utility): a
 * resumed run counts its own steps, not those done before it started. */
START_TEST(progress_rate_from_resume)
{
    hb_progress p;
    hb_progress_init(&p, "train", 2000, "steps");
    p.t_start = hb_now() - 2.0;   /* two seconds ago */
    ck_assert_double_eq_tol(hb_progress_rate(&p, 10), 5.0, 0.1);
    p.done0 = 1000;               /* resumed at step 1000, 10 steps since */
    ck_assert_double_eq_tol(hb_progress_rate(&p, 1010), 5.0, 0.1);
}
END_TEST

/* The parameter table (hb/theta.h): the names' list for messages is the
 * table's names, each found by its name only, and the normalisation maps the
 * CAMELS range's ends as SCIENCE.md 1.3 says. */
START_TEST(theta_table)
{
    char names[200] = "";
    for (int k = 0; k < HB_NTHETA; k++) {
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", HB_THETA[k].name);
        ck_assert_int_eq(hb_theta_find(HB_THETA[k].name, strlen(HB_THETA[k].name)), k);
        ck_assert_double_eq_tol(HB_THETA[k].span, HB_THETA[k].hi - HB_THETA[k].lo, 1e-12);
        double th[HB_NTHETA], n[HB_NTHETA];
        for (int j = 0; j < HB_NTHETA; j++) th[j] = HB_THETA[j].hi;
        hb_theta_normalise(th, n);
        ck_assert_double_eq_tol(n[k], 1.0, 1e-12);
        th[k] = HB_THETA[k].log ? 1 / HB_THETA[k].hi : HB_THETA[k].lo;
        hb_theta_normalise(th, n);
        ck_assert_double_eq_tol(n[k], HB_THETA[k].log ? -1.0 : 0.0, 1e-12);
    }
    ck_assert_str_eq(names, HB_THETA_NAMES);
    ck_assert_int_eq(hb_theta_find("a_agn2x", 6), HB_A_AGN2);   /* the first len characters */
    ck_assert_int_eq(hb_theta_find("a_agn", 5), -1);             /* a prefix is not a name */
    ck_assert_int_eq(hb_theta_find("omega_b", 7), -1);
}
END_TEST

static Suite *params_suite(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, good_file_and_overrides);
    tcase_add_test(tc, override_beats_file);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, every_rank_agrees);
    tcase_add_test(tc, progress_rate_from_resume);
    tcase_add_test(tc, theta_table);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(params_suite)
