/* Cosmology against the reference values of SCIENCE.md 5 (recomputed there
 * from the cited formulas and checked against colossus). */
#include <stdio.h>
#include "hb/cosmo.h"
#include "hbtest.h"

/* SCIENCE.md quotes 6 significant digits: 1e-5 covers their rounding. */
#define TOL_TABLE6 1e-5
/* P_lin is quoted to 5 digits. */
#define TOL_TABLE5 5e-5

static hb_cosmo_config camels_fiducial(int nowiggle)
{
    hb_cosmo_config c = {0.3, 0.049, 0.6711, 0.9624, 0.8, 2.7255, nowiggle, "", 0};
    return c;
}

START_TEST(eh98_camels_table)
{
    static const double k[] = {0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 10};
    static const double t_w[] = {0.991653, 0.770956, 0.259470, 0.123663, 0.0516396, 0.0131252, 4.34706e-3, 8.26970e-5};
    static const double t_nw[] = {0.991465, 0.776960, 0.266782, 0.126252, 0.0512760, 0.0131204, 4.31785e-3, 8.18308e-5};
    for (int nw = 0; nw < 2; nw++) {
        hb_cosmo_config cfg = camels_fiducial(nw);
        hb_cosmo c;
        ck_assert_int_eq(hb_cosmo_init(&c, &cfg), HB_OK);
        for (int i = 0; i < 8; i++) {
            double want = nw ? t_nw[i] : t_w[i];
            ck_assert_msg(hb_test_relerr(hb_cosmo_transfer(&c, k[i]), want) < TOL_TABLE6,
                          "T(k=%g, nowiggle=%d) = %.7g, want %.7g", k[i], nw,
                          hb_cosmo_transfer(&c, k[i]), want);
        }
        if (!nw) {
            /* the EH98 intermediate scales quoted in SCIENCE.md 5.1 */
            ck_assert_double_lt(hb_test_relerr(c.eh.s * cfg.h, 102.8956), TOL_TABLE6);
            ck_assert_double_le(fabs(c.eh.keq / cfg.h - 0.014739), 0.5e-6);   /* quoted to 5 digits */
            ck_assert_double_lt(hb_test_relerr(c.eh.zd, 1019.33), TOL_TABLE6);
            ck_assert_double_lt(hb_test_relerr(c.eh.alpha_c, 0.76655), TOL_TABLE6);
            ck_assert_double_lt(hb_test_relerr(c.eh.beta_b, 7.42675), TOL_TABLE6);
        }
        /* sigma_8 normalisation: A for sigma_8 = 0.8 */
        ck_assert_msg(hb_test_relerr(c.A, nw ? 3.26455e6 : 3.28928e6) < TOL_TABLE6, "A = %.6e", c.A);
        ck_assert_double_lt(fabs(hb_cosmo_sigma_r(&c, 8.0, 0.0) - 0.8), 1e-9);
        hb_cosmo_free(&c);
    }
}
END_TEST

START_TEST(eh98_colossus_planck15)
{
    /* colossus test suite, planck15, k = 1.2e-3 and 1.1e3 h/Mpc. The formulas
     * reproduce the no-wiggle values to 12 digits and the wiggle ones to
     * 1.1e-7 (SCIENCE.md 5.1). */
    hb_cosmo_config cfg = {0.3089, 0.0486, 0.6774, 0.9667, 0.8159, 2.7255, 0, "", 0};
    hb_cosmo c;
    ck_assert_int_eq(hb_cosmo_init(&c, &cfg), HB_OK);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_transfer(&c, 1.2e-3), 9.892256929454e-01), 1e-6);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_transfer(&c, 1.1e3), 1.490479340442e-08), 1e-6);
    c.cfg.nowiggle = 1;
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_transfer(&c, 1.2e-3), 9.890484789741e-01), 1e-10);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_transfer(&c, 1.1e3), 1.471045424612e-08), 1e-10);
    hb_cosmo_free(&c);
}
END_TEST

START_TEST(plin_values)
{
    hb_cosmo_config cfg = camels_fiducial(0);
    hb_cosmo c;
    ck_assert_int_eq(hb_cosmo_init(&c, &cfg), HB_OK);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_plin(&c, 0.01, 0), 2.3247e4), TOL_TABLE5);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_plin(&c, 0.1, 0), 5.4850e3), TOL_TABLE5);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_plin(&c, 1.0, 0), 62.157), TOL_TABLE5);
    /* P(k, z) = D1(z)^2 P(k, 0) */
    double d = hb_cosmo_d1(&c, 0.5);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_plin(&c, 0.3, 1.0), d * d * hb_cosmo_plin(&c, 0.3, 0)), 1e-12);
    hb_cosmo_free(&c);
}
END_TEST

START_TEST(growth_lcdm)
{
    hb_cosmo_config cfg = camels_fiducial(0);
    hb_cosmo c;
    ck_assert_int_eq(hb_cosmo_init(&c, &cfg), HB_OK);
    static const double z[] = {0.5, 1, 2, 3, 10, 49, 127};
    static const double d[] = {0.773181, 0.611806, 0.421446, 0.318840, 0.116665, 0.0256745, 0.0100291};
    for (int i = 0; i < 7; i++) {
        double got = hb_cosmo_d1(&c, 1 / (1 + z[i]));
        ck_assert_msg(hb_test_relerr(got, d[i]) < TOL_TABLE6, "D(z=%g) = %.7g want %.7g", z[i], got, d[i]);
    }
    ck_assert_double_lt(fabs(hb_cosmo_d1(&c, 1.0) - 1.0), 1e-10);
    ck_assert_double_lt(hb_test_relerr(c.d1_early_norm, 0.778981), TOL_TABLE6);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_f1(&c, 1.0), 0.512796), TOL_TABLE6);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_f1(&c, 0.5), 0.869285), TOL_TABLE6);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_d2(&c, 1.0), -0.432270), TOL_TABLE6);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_f2(&c, 1.0), 1.040448), TOL_TABLE6);
    /* deep in matter domination D2 -> -3/7 D1^2, f1 -> 1, f2 -> 2 */
    double a = 1e-3, d1 = hb_cosmo_d1(&c, a);
    ck_assert_double_lt(hb_test_relerr(hb_cosmo_d2(&c, a), -3.0 / 7.0 * d1 * d1), 1e-3);
    ck_assert_double_lt(fabs(hb_cosmo_f1(&c, a) - 1), 1e-3);
    ck_assert_double_lt(fabs(hb_cosmo_f2(&c, a) - 2), 1e-3);
    hb_cosmo_free(&c);
}
END_TEST

START_TEST(growth_eds_exact)
{
    /* Omega_m = 1: D1 = a, D2 = -3/7 a^2, f1 = 1, f2 = 2 exactly. */
    hb_cosmo_config cfg = {1.0, 0.049, 0.7, 0.96, 0.8, 2.7255, 0, "", 0};
    hb_cosmo c;
    ck_assert_int_eq(hb_cosmo_init(&c, &cfg), HB_OK);
    for (double a = 0.01; a <= 1.0; a *= 1.7) {
        ck_assert_double_lt(fabs(hb_cosmo_d1(&c, a) - a), 1e-10 * a);
        ck_assert_double_lt(fabs(hb_cosmo_d2(&c, a) + 3.0 / 7.0 * a * a), 1e-10 * a * a);
        ck_assert_double_lt(fabs(hb_cosmo_f1(&c, a) - 1), 1e-10);
        ck_assert_double_lt(fabs(hb_cosmo_f2(&c, a) - 2), 1e-10);
        ck_assert_double_lt(fabs(hb_cosmo_E(&c, a) - pow(a, -1.5)), 1e-12 * pow(a, -1.5));
    }
    hb_cosmo_free(&c);
}
END_TEST

START_TEST(bad_cosmology)
{
    hb_cosmo_config cfg = {0.03, 0.049, 0.7, 0.96, 0.8, 2.7255, 0, "", 0};   /* omega_b > omega_m */
    hb_cosmo c;
    ck_assert_int_eq(hb_cosmo_init(&c, &cfg), HB_EARG);
}
END_TEST

/* An EH98 table written at 1000 points (log-spaced, 1e-4 .. 1e2 h/Mpc) read
 * back: P_lin within 1e-3 of the built-in EH98 at z = 0 and 1, with and
 * without renormalisation; the coverage check; malformed tables refused. */
static void write_eh_table(const char *path, const hb_cosmo *eh, double kmin, double kmax, int n)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "# k [h/Mpc]  P [(Mpc/h)^3]  (EH98, written by the test)\n");
    for (int i = 0; i < n; i++) {
        double k = kmin * pow(kmax / kmin, (double)i / (n - 1));
        fprintf(f, "%.10e %.10e\n", k, hb_cosmo_plin(eh, k, 0.0));
    }
    fclose(f);
}

START_TEST(pk_table)
{
    hb_cosmo_config cfg = camels_fiducial(0);
    hb_cosmo eh, tab;
    ck_assert_int_eq(hb_cosmo_init(&eh, &cfg), HB_OK);
    write_eh_table("eh98.txt", &eh, 1e-4, 1e2, 1000);
    for (int renorm = 0; renorm <= 1; renorm++) {
        hb_cosmo_config tc = cfg;
        snprintf(tc.pk_table, sizeof tc.pk_table, "eh98.txt");
        tc.pk_renormalise = renorm;
        ck_assert_int_eq(hb_cosmo_init(&tab, &tc), HB_OK);
        double worst = 0;
        for (int i = 0; i <= 100; i++) {
            double k = 1e-3 * pow(1e4, i / 100.0);
            for (int zi = 0; zi < 2; zi++) worst = hb_test_max(worst, fabs(hb_cosmo_plin(&tab, k, zi) / hb_cosmo_plin(&eh, k, zi) - 1));
        }
        printf("P(k) table (renormalise %d): max |P_table / P_EH98 - 1| = %.2e on 1e-3 .. 10 h/Mpc\n", renorm, worst);
        ck_assert_double_lt(worst, 1e-3);
        ck_assert_double_lt(fabs(hb_cosmo_sigma_r(&tab, 8, 0) / 0.8 - 1), 1e-3);
        ck_assert_int_eq(hb_cosmo_table_covers(&tab, 0.01, 50, "the test"), HB_OK);
        ck_assert_int_eq(hb_cosmo_table_covers(&tab, 0.01, 200, "the test"), HB_EARG);
        hb_cosmo_free(&tab);
    }
    /* a table with another amplitude: refused unless renormalised */
    FILE *f = fopen("eh98_x2.txt", "w");
    for (int i = 0; i < 400; i++) {
        double k = 1e-4 * pow(1e6, i / 399.0);
        fprintf(f, "%.10e %.10e\n", k, 2 * hb_cosmo_plin(&eh, k, 0.0));
    }
    fclose(f);
    hb_cosmo_config tc = cfg;
    snprintf(tc.pk_table, sizeof tc.pk_table, "eh98_x2.txt");
    ck_assert_int_eq(hb_cosmo_init(&tab, &tc), HB_EARG);
    tc.pk_renormalise = 1;
    ck_assert_int_eq(hb_cosmo_init(&tab, &tc), HB_OK);
    ck_assert_double_lt(fabs(hb_cosmo_plin(&tab, 0.1, 0) / hb_cosmo_plin(&eh, 0.1, 0) - 1), 1e-3);
    hb_cosmo_free(&tab);
    /* malformed tables */
    const char *bad[] = {"1 2\n2 3\nx y\n", "0.1 1\n0.05 2\n", "0.1 -1\n", "0.1 1\n0.2 2\n"};
    for (int b = 0; b < 4; b++) {
        f = fopen("bad.txt", "w");
        fputs(bad[b], f);
        fclose(f);
        snprintf(tc.pk_table, sizeof tc.pk_table, "bad.txt");
        ck_assert_int_eq(hb_cosmo_init(&tab, &tc), HB_EIO);
    }
    snprintf(tc.pk_table, sizeof tc.pk_table, "missing.txt");
    ck_assert_int_eq(hb_cosmo_init(&tab, &tc), HB_EIO);
    hb_cosmo_free(&eh);
}
END_TEST

static Suite *cosmo_suite(void)
{
    Suite *s = suite_create("cosmo");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, eh98_camels_table);
    tcase_add_test(tc, eh98_colossus_planck15);
    tcase_add_test(tc, plin_values);
    tcase_add_test(tc, growth_lcdm);
    tcase_add_test(tc, growth_eds_exact);
    tcase_add_test(tc, bad_cosmology);
    tcase_add_test(tc, pk_table);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(cosmo_suite)
