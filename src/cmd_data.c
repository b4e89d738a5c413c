/* Training-data commands: suite, paint-mock, calibrate-mock. */
#include <gsl/gsl_multimin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "hb/camels.h"
#include "hb/h5io.h"
#include "hb/mesh.h"
#include "hb/mock.h"
#include "hb/mpiutil.h"
#include "hb/pk.h"
#include "hb/suite.h"
#include "hb/suppression.h"

static int split_overrides(int argc, char **argv, int first, char **over, int cap, const char *usage, hb_status *rc)
{
    int n = 0;
    for (int i = first; i < argc; i++) {
        if (!hb_cli_is_override(argv[i]) || n == cap) {
            *rc = HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", argv[i], usage);
            return n;
        }
        over[n++] = argv[i];
    }
    return n;
}

static const char *SUITE_USAGE =
    "usage: hydrobridge suite (--table FILE | --lh N --seed S) --out DIR [--rows I:J] [section.key=value ...]\n"
    "One box per row of a CAMELS parameter table (Name Omega_m sigma_8 A_SN1 A_AGN1 A_SN2 A_AGN2 seed), or of a\n"
    "new Latin hypercube of N points over the CAMELS ranges: the PM simulation and the mock hydro painter,\n"
    "written as DIR/<name>.h5 with dm_density, gas_density and gas_temperature, plus DIR/params.txt. Complete\n"
    "files are skipped (resume; SLURM job arrays share DIR with --rows I:J, rows I..J-1). The overrides set\n"
    "[simulation], [mock] and the fixed cosmology (defaults: 25 Mpc/h, 64^3, z = 0).\n";

hb_status hb_cmd_suite(int argc, char **argv)
{
    static const struct option opts[] = {{"table", required_argument, 0, 't'}, {"lh", required_argument, 0, 'l'},
                                         {"seed", required_argument, 0, 's'}, {"out", required_argument, 0, 'o'},
                                         {"rows", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *table = NULL, *dir = NULL, *rows_arg = NULL;
    long lh = 0, seed = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': table = optarg; break;
        case 'l': HB_TRY(hb_cli_long("--lh", optarg, &lh)); break;
        case 's': HB_TRY(hb_cli_long("--seed", optarg, &seed)); break;
        case 'o': dir = optarg; break;
        case 'r': rows_arg = optarg; break;
        case 'h': hb_cli_usage(SUITE_USAGE); return HB_OK;
        default: hb_cli_usage(SUITE_USAGE); return HB_EARG;
        }
    }
    if (!dir || (!table) == (lh <= 0) || (lh > 0 && seed < 0)) {
        return HB_ERR0(HB_EARG, "need --out and either --table or --lh with --seed\n%s", SUITE_USAGE);
    }
    hb_status rc = HB_OK;
    char *over[64];
    int nover = split_overrides(argc, argv, optind, over, 64, SUITE_USAGE, &rc);
    HB_TRY(rc);
    /* the per-row keys come from the table; the fixed ones default to CAMELS */
    char *base_over[70];
    static char om[] = "cosmology.omega_m=0.3", s8[] = "cosmology.sigma_8=0.8";
    base_over[0] = om;
    base_over[1] = s8;
    for (int i = 0; i < nover; i++) base_over[2 + i] = over[i];
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover + 2, base_over, NULL, MPI_COMM_WORLD));
    hb_suite_row *rows = NULL;
    int n = 0;
    if (table) HB_TRY(hb_suite_read_table(table, &rows, &n, MPI_COMM_WORLD));
    else HB_TRY(hb_suite_latin_hypercube((int)lh, (uint64_t)seed, &rows));
    if (lh > 0) n = (int)lh;
    int r0 = 0, r1 = n;
    if (rows_arg) {
        if (sscanf(rows_arg, "%d:%d", &r0, &r1) != 2 || r0 < 0 || r1 > n || r0 >= r1) {
            free(rows);
            return HB_ERR0(HB_EARG, "--rows %s: expected I:J with 0 <= I < J <= %d", rows_arg, n);
        }
    }
    int rank = hb_world_rank();
    if (rank == 0) mkdir(dir, 0755);
    char tpath[2048];
    snprintf(tpath, sizeof tpath, "%s/params.txt", dir);
    if (rank == 0) rc = hb_suite_write_table(tpath, rows, n);
    rc = hb_mpi_agree(MPI_COMM_WORLD, rc);
    if (rc == HB_OK) {
        hb_log0("suite: rows %d..%d of %d into %s/ (%s)", r0, r1 - 1, n, dir, table ? table : "Latin hypercube");
        rc = hb_suite_run(&par, rows, r0, r1, dir, MPI_COMM_WORLD);
    }
    free(rows);
    return rc;
}

static const char *PAINT_USAGE =
    "usage: hydrobridge paint-mock DM.h5 --out BOX.h5 [section.key=value ...]\n"
    "Paint gas density and temperature onto a DM box with the mock hydro model; the parameters come\n"
    "from the file's attributes ([cosmology], [feedback] overrides replace them; [mock] tunes the model).\n";

/* Read a DM box into a mesh; theta from the file with overrides applied. */
static hb_status load_dm(const char *path, hb_mesh *m, float **dm, hb_boxinfo *bi, const hb_params *ov)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, MPI_COMM_WORLD));
    int N;
    hb_status rc = hb_h5_field_size(&f, HB_FIELD_DM, &N);
    if (rc == HB_OK) rc = hb_h5_read_boxinfo(&f, bi);
    if (rc == HB_OK) rc = hb_mesh_init(m, N, bi->box_size, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc == HB_OK) {
        *dm = hb_mesh_alloc(m);
        rc = hb_h5_read_mesh_field(&f, HB_FIELD_DM, m, *dm);
    }
    hb_h5_close(&f);
    if (rc == HB_OK) hb_boxinfo_override(bi, ov);
    return rc;
}

hb_status hb_cmd_paint_mock(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'h') { hb_cli_usage(PAINT_USAGE); return HB_OK; }
        else { hb_cli_usage(PAINT_USAGE); return HB_EARG; }
    }
    if (!out || optind >= argc) return HB_ERR0(HB_EARG, "need DM.h5 and --out\n%s", PAINT_USAGE);
    const char *in = argv[optind];
    hb_status rc = HB_OK;
    char *over[64];
    int nover = split_overrides(argc, argv, optind + 1, over, 64, PAINT_USAGE, &rc);
    HB_TRY(rc);
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover, over, NULL, MPI_COMM_WORLD));
    hb_mesh m;
    float *dm = NULL;
    hb_boxinfo bi;
    HB_TRY(load_dm(in, &m, &dm, &bi, &par));
    float *gas = hb_mesh_alloc(&m), *temp = hb_mesh_alloc(&m);
    double th[6], fs;
    hb_boxinfo_theta(&bi, th);
    hb_mock_config mc = hb_mock_config_from_params(&par);
    if (!hb_params_int(&par, "mock.seed")) mc.seed = (uint64_t)bi.seed + 7919;
    rc = hb_mock_paint(&m, dm, &mc, th, bi.redshift, gas, temp, NULL, &fs);
    hb_h5 f;
    if (rc == HB_OK) rc = hb_h5_create(&f, out, MPI_COMM_WORLD);
    if (rc == HB_OK) {
        rc = hb_h5_write_mesh_field(&f, HB_FIELD_DM, &m, dm, "cic");
        if (rc == HB_OK) rc = hb_h5_write_mesh_field(&f, HB_FIELD_GAS, &m, gas, "none");
        if (rc == HB_OK) rc = hb_h5_write_mesh_field(&f, HB_FIELD_TEMP, &m, temp, "none");
        if (rc == HB_OK) rc = hb_h5_write_boxinfo(&f, &bi);
        if (rc == HB_OK) rc = hb_h5_attr_write_double(&f, "/", "stellar_fraction", fs);
        if (rc == HB_OK) rc = hb_h5_write_params(&f, &par);
        if (rc == HB_OK) rc = hb_h5_commit(&f);
        else hb_h5_abort(&f);
    }
    if (rc == HB_OK) hb_log0("paint-mock: wrote %s", out);
    fftwf_free(dm); fftwf_free(gas); fftwf_free(temp);
    hb_mesh_free(&m);
    return rc;
}

/* ---- calibration ------------------------------------------------------- */

typedef struct calib {
    hb_mesh *m;
    const float *dm;
    hb_boxinfo bi;
    hb_mock_config base;
    float *gas, *temp, *stars, *tot, *work;
    double *pdm, *kk;        /* DM-only P(k) on the bins */
    int nb;
    double agn2[3];
    int evals;
} calib;

/* S_mock(k) = P_tot / P_dm for A_AGN2 = agn2; fills s[nb]. */
static hb_status mock_suppression(calib *c, const hb_mock_config *mc, double agn2, double *s)
{
    double th[6], fs;
    hb_boxinfo_theta(&c->bi, th);
    th[5] = agn2;
    HB_TRY(hb_mock_paint(c->m, c->dm, mc, th, c->bi.redshift, c->gas, c->temp, c->stars, &fs));
    hb_mock_total(c->m, c->dm, c->gas, c->stars, c->bi.omega_b / c->bi.omega_m, fs, c->tot);
    HB_TRY(hb_pk_to_delta(c->m, c->tot, NULL));
    hb_pk pk;
    HB_TRY(hb_pk_compute(&pk, c->m, c->tot, NULL, HB_MAS_CIC, HB_MAS_CIC));
    for (int j = 0; j < c->nb; j++) s[j] = pk.p11[j] / c->pdm[j];
    hb_pk_free(&pk);
    return HB_OK;
}

/* The fitted constants through bounding maps, so the simplex cannot leave
 * their physical meaning: f0 in (0, 0.6) (f_ej must still grow with the A's
 * below its 0.9 cap), delta_c > 1 and width > 0.1 (a halo mask, not a
 * threshold on every overdensity), r0 > 0, k_jeans > 1 h/Mpc,
 * sigma_gas0 in (0, 0.5). */
#define NFIT 6
static double logistic(double x) { return 1 / (1 + exp(-x)); }
static double logit(double p) { return log(p / (1 - p)); }

static hb_mock_config with(const calib *c, const gsl_vector *x)
{
    hb_mock_config mc = c->base;
    mc.f0 = 0.6 * logistic(gsl_vector_get(x, 0));
    mc.r0 = exp(gsl_vector_get(x, 1));
    mc.delta_c = 1 + exp(gsl_vector_get(x, 2));
    mc.w = 0.1 + exp(gsl_vector_get(x, 3));
    mc.k_jeans = 1 + exp(gsl_vector_get(x, 4));
    mc.sg0 = 0.5 * logistic(gsl_vector_get(x, 5));
    return mc;
}

static void start_point(const hb_mock_config *m, gsl_vector *x)
{
    gsl_vector_set(x, 0, logit(fmin(fmax(m->f0 / 0.6, 0.01), 0.99)));
    gsl_vector_set(x, 1, log(m->r0));
    gsl_vector_set(x, 2, log(fmax(m->delta_c - 1, 1e-3)));
    gsl_vector_set(x, 3, log(fmax(m->w - 0.1, 1e-3)));
    gsl_vector_set(x, 4, log(fmax(m->k_jeans - 1, 1e-3)));
    gsl_vector_set(x, 5, logit(fmin(fmax(m->sg0 / 0.5, 0.01), 0.99)));
}

typedef struct calib_set { calib *c; int n; } calib_set;

/* Mean squared log-ratio to the syren-baryon TNG fit over 1 <= k <= 10, three A_AGN2. */
static double objective1(const gsl_vector *x, calib *c);

/* ... averaged over every calibration box (realisations differ by ~5% at k ~ 1-3) */
static double objective(const gsl_vector *x, void *vp)
{
    calib_set *cs = vp;
    double s = 0;
    for (int i = 0; i < cs->n; i++) s += objective1(x, &cs->c[i]);
    return s / cs->n;
}

static double objective1(const gsl_vector *x, calib *c)
{
    hb_mock_config mc = with(c, x);
    double *s = malloc((size_t)c->nb * sizeof *s), sum = 0;
    int n = 0;
    for (int a = 0; a < 3; a++) {
        if (mock_suppression(c, &mc, c->agn2[a], s) != HB_OK) { free(s); return 1e30; }
        double th[6];
        hb_boxinfo_theta(&c->bi, th);
        th[5] = c->agn2[a];
        for (int j = 0; j < c->nb; j++) {
            if (c->kk[j] < 1 || c->kk[j] > 10) continue;
            double r = log(s[j] / hb_syren_tng(c->kk[j], c->bi.redshift, th));
            sum += r * r;
            n++;
        }
    }
    free(s);
    c->evals++;
    return sum / (n > 0 ? n : 1);
}

static const char *CAL_USAGE =
    "usage: hydrobridge calibrate-mock DM.h5 [DM2.h5 ...] [--iterations N] [section.key=value ...]\n"
    "Fit the mock's free constants (mock.f0, r0, delta_c, width, k_jeans, sigma_gas0) so that the total-matter\n"
    "suppression (DM + gas + stars against DM only) of DM.h5 follows the CAMELS IllustrisTNG fit of\n"
    "syren-baryon at k = 1-10 h/Mpc for A_AGN2 = 1, 0.5 and 2 (GSL Nelder-Mead on bounded transforms),\n"
    "then print the table. DM.h5 should resolve k = 10 h/Mpc (e.g. 128^3 in 25 Mpc/h, z = 0); with several\n"
    "boxes (realisations) the mean of their objectives is minimised and each box's table printed.\n"
    "--iterations 0 only prints the table for the current constants.\n";

/* The DM-only spectrum and the work meshes of one calibration box. */
static hb_status calib_setup(calib *c, hb_mesh *m, const float *dm, const hb_params *par)
{
    c->m = m;
    c->dm = dm;
    c->base = hb_mock_config_from_params(par);
    c->agn2[0] = 1.0; c->agn2[1] = 0.5; c->agn2[2] = 2.0;
    c->gas = hb_mesh_alloc(m); c->temp = hb_mesh_alloc(m); c->stars = hb_mesh_alloc(m);
    c->tot = hb_mesh_alloc(m); c->work = hb_mesh_alloc(m);
    memcpy(c->work, dm, 2 * (size_t)m->alloc_local * sizeof *dm);
    hb_pk pk;
    HB_TRY(hb_pk_to_delta(m, c->work, NULL));
    HB_TRY(hb_pk_compute(&pk, m, c->work, NULL, HB_MAS_CIC, HB_MAS_CIC));
    c->nb = pk.nbins;
    c->pdm = malloc((size_t)c->nb * sizeof *c->pdm);
    c->kk = malloc((size_t)c->nb * sizeof *c->kk);
    memcpy(c->pdm, pk.p11, (size_t)c->nb * sizeof *c->pdm);
    memcpy(c->kk, pk.k, (size_t)c->nb * sizeof *c->kk);
    hb_pk_free(&pk);
    return HB_OK;
}

static void calib_free(calib *c)
{
    fftwf_free(c->gas); fftwf_free(c->temp); fftwf_free(c->stars); fftwf_free(c->tot); fftwf_free(c->work);
    free(c->pdm); free(c->kk);
}

/* The table of S_mock against the TNG fit; *worst over k = 1-10 h/Mpc. */
static hb_status print_table(calib *c, const hb_mock_config *fit, double *worst)
{
    double *tab[3];   /* S_mock per bin for each A_AGN2 */
    for (int a = 0; a < 3; a++) tab[a] = malloc((size_t)c->nb * sizeof *tab[a]);
    hb_status rc = HB_OK;
    for (int a = 0; a < 3 && rc == HB_OK; a++) rc = mock_suppression(c, fit, c->agn2[a], tab[a]);
    if (rc != HB_OK) {
        for (int a = 0; a < 3; a++) free(tab[a]);
        return rc;
    }
    hb_log0("%8s  %9s %9s %7s  %9s %9s %7s  %9s %9s %7s", "k[h/Mpc]", "S(A=1)", "TNG fit", "ratio", "S(A=0.5)",
            "TNG fit", "ratio", "S(A=2)", "TNG fit", "ratio");
    *worst = 0;
    for (int j = 0; j < c->nb; j++) {
        if (c->kk[j] < 0.5 || c->kk[j] > 12) continue;
        double t[3];
        for (int a = 0; a < 3; a++) {
            double th[6];
            hb_boxinfo_theta(&c->bi, th);
            th[5] = c->agn2[a];
            t[a] = hb_syren_tng(c->kk[j], c->bi.redshift, th);
            if (c->kk[j] >= 1 && c->kk[j] <= 10) *worst = fmax(*worst, fabs(tab[a][j] / t[a] - 1));
        }
        if (j % 2 == 0)
            hb_log0("%8.3f  %9.4f %9.4f %7.3f  %9.4f %9.4f %7.3f  %9.4f %9.4f %7.3f", c->kk[j], tab[0][j], t[0],
                    tab[0][j] / t[0], tab[1][j], t[1], tab[1][j] / t[1], tab[2][j], t[2], tab[2][j] / t[2]);
    }
    for (int a = 0; a < 3; a++) free(tab[a]);
    return HB_OK;
}

hb_status hb_cmd_calibrate_mock(int argc, char **argv)
{
    static const struct option opts[] = {{"iterations", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long iters = 150;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'i') HB_TRY(hb_cli_long("--iterations", optarg, &iters));
        else if (ch == 'h') { hb_cli_usage(CAL_USAGE); return HB_OK; }
        else { hb_cli_usage(CAL_USAGE); return HB_EARG; }
    }
    if (optind >= argc) return HB_ERR0(HB_EARG, "need DM.h5\n%s", CAL_USAGE);
    int first_over = optind;
    while (first_over < argc && !hb_cli_is_override(argv[first_over])) first_over++;
    int nbox = first_over - optind;
    if (nbox > 8) return HB_ERR0(HB_EARG, "at most 8 calibration boxes");
    hb_status rc = HB_OK;
    char *over[64];
    int nover = split_overrides(argc, argv, first_over, over, 64, CAL_USAGE, &rc);
    HB_TRY(rc);
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover, over, NULL, MPI_COMM_WORLD));
    hb_mesh m[8];
    float *dm[8];
    calib cb[8];
    memset(cb, 0, sizeof cb);
    for (int i = 0; i < nbox; i++) {
        HB_TRY(load_dm(argv[optind + i], &m[i], &dm[i], &cb[i].bi, &par));
        HB_TRY(calib_setup(&cb[i], &m[i], dm[i], &par));
    }
    calib_set cs = {cb, nbox};
    gsl_vector *x = gsl_vector_alloc(NFIT), *step = gsl_vector_alloc(NFIT);
    start_point(&cb[0].base, x);
    gsl_vector_set_all(step, 0.4);
    gsl_multimin_function fn = {objective, NFIT, &cs};
    double best = objective(x, &cs);
    hb_log0("calibrate-mock: %d box(es); start: rms log-ratio %.4f", nbox, sqrt(best));
    if (iters > 0) {
        /* every rank runs the same simplex (the objective is collective) */
        gsl_multimin_fminimizer *mn = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, NFIT);
        gsl_multimin_fminimizer_set(mn, &fn, x, step);
        for (long it = 0; it < iters; it++) {
            if (gsl_multimin_fminimizer_iterate(mn) != GSL_SUCCESS) break;
            double size = gsl_multimin_fminimizer_size(mn);
            if (it % 10 == 0) {
                hb_mock_config cur = with(&cb[0], mn->x);
                hb_log0("calibrate-mock: iteration %ld, rms log-ratio %.4f, simplex %.3g: f0=%.4f r0=%.4f delta_c=%.3f "
                        "width=%.4f k_jeans=%.3f sigma_gas0=%.4f", it, sqrt(mn->fval), size, cur.f0, cur.r0,
                        cur.delta_c, cur.w, cur.k_jeans, cur.sg0);
            }
            if (gsl_multimin_test_size(size, 2e-3) == GSL_SUCCESS) break;
        }
        gsl_vector_memcpy(x, mn->x);
        best = mn->fval;
        gsl_multimin_fminimizer_free(mn);
    }
    hb_mock_config fit = with(&cb[0], x);
    hb_log0("calibrate-mock: mock.f0=%.4f mock.r0=%.4f mock.delta_c=%.3f mock.width=%.4f mock.k_jeans=%.3f "
            "mock.sigma_gas0=%.4f (rms log-ratio %.4f over k = 1-10 h/Mpc)", fit.f0, fit.r0, fit.delta_c, fit.w,
            fit.k_jeans, fit.sg0, sqrt(best));
    double worst = 0;
    for (int i = 0; i < nbox && rc == HB_OK; i++) {
        double w = 0;
        hb_log0("calibrate-mock: %s", argv[optind + i]);
        rc = print_table(&cb[i], &fit, &w);
        worst = fmax(worst, w);
    }
    hb_log0("calibrate-mock: largest |S_mock / S_TNG - 1| at k = 1-10 h/Mpc: %.3f", worst);
    gsl_vector_free(x);
    gsl_vector_free(step);
    for (int i = 0; i < nbox; i++) {
        calib_free(&cb[i]);
        fftwf_free(dm[i]);
        hb_mesh_free(&m[i]);
    }
    return rc;
}

/* ---- importers --------------------------------------------------------- */

/* theta of row `name` of a CAMELS table; or of row `index` of a CMD params file
 * (6 numbers per line). */
static hb_status theta_from_table(const char *path, const char *name, long index, double th[6])
{
    hb_suite_row *rows = NULL;
    int n = 0;
    if (name) {
        HB_TRY(hb_suite_read_table(path, &rows, &n, MPI_COMM_WORLD));
        for (int i = 0; i < n; i++) {
            if (strcmp(rows[i].name, name) == 0) {
                memcpy(th, rows[i].theta, sizeof rows[i].theta);
                free(rows);
                return HB_OK;
            }
        }
        free(rows);
        return HB_ERR0(HB_EARG, "%s has no row named %s", path, name);
    }
    /* CMD layout: rank 0 reads line `index` */
    hb_status rc = HB_OK;
    if (hb_world_rank() == 0) {
        FILE *f = fopen(path, "r");
        char line[1024];
        long i = 0;
        int got = 0;
        while (f && fgets(line, sizeof line, f)) {
            if (line[0] == '#' || line[0] == '\n') continue;
            if (i++ == index) {
                got = sscanf(line, "%lf %lf %lf %lf %lf %lf", &th[0], &th[1], &th[2], &th[3], &th[4], &th[5]);
                break;
            }
        }
        if (f) fclose(f);
        if (!f) rc = HB_ERR(HB_EIO, "cannot read %s", path);
        else if (got != 6) rc = HB_ERR(HB_EARG, "%s: no row %ld with six numbers (Om s8 A_SN1 A_AGN1 A_SN2 A_AGN2)", path, index);
    }
    HB_TRY(hb_mpi_agree(MPI_COMM_WORLD, rc));
    MPI_Bcast(th, 6, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return HB_OK;
}

static const char *IMPORT_USAGE =
    "usage: hydrobridge import-camels SNAPSHOT.hdf5 [--n-grid N] [--params TABLE --row NAME] --out box.h5\n"
    "A CAMELS (Gadget/Arepo HDF5) snapshot, single file or one file of a multi-file snapshot, as a box\n"
    "file: DM (PartType1) and gas (PartType0) CIC-painted to dm_density and gas_density (rho/mean) and\n"
    "the mass-weighted temperature to gas_temperature, on N^3 (default 128). Omega_m, h and z come from\n"
    "the header; sigma_8 and the A's from the CAMELS table row (else 0.8 and 1).\n";

hb_status hb_cmd_import_camels(int argc, char **argv)
{
    static const struct option opts[] = {{"n-grid", required_argument, 0, 'n'}, {"params", required_argument, 0, 'p'},
                                         {"row", required_argument, 0, 'r'}, {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    hb_import_opts o;
    memset(&o, 0, sizeof o);
    o.n_grid = 128;
    for (int k = 0; k < 6; k++) o.theta[k] = NAN;
    const char *table = NULL, *row = NULL, *out = NULL;
    long L;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': HB_TRY(hb_cli_long("--n-grid", optarg, &L)); o.n_grid = (int)L; break;
        case 'p': table = optarg; break;
        case 'r': row = optarg; break;
        case 'o': out = optarg; break;
        case 'h': hb_cli_usage(IMPORT_USAGE); return HB_OK;
        default: hb_cli_usage(IMPORT_USAGE); return HB_EARG;
        }
    }
    if (!out || optind != argc - 1 || (!table) != (!row) || o.n_grid < 2 || o.n_grid % 2) {
        return HB_ERR0(HB_EARG, "need one SNAPSHOT, --out, an even --n-grid, and --params with --row together\n%s", IMPORT_USAGE);
    }
    if (table) {
        HB_TRY(theta_from_table(table, row, 0, o.theta));
        o.theta[0] = NAN;   /* Omega_m from the header */
        snprintf(o.name, sizeof o.name, "%s", row);
    }
    return hb_import_camels(argv[optind], &o, out, MPI_COMM_WORLD);
}

static const char *CMD_USAGE =
    "usage: hydrobridge import-cmd [--mcdm GRIDS.npy] [--mgas GRIDS.npy] [--temp GRIDS.npy] --index I\n"
    "                              [--params FILE] [--box-size 25] --out box.h5\n"
    "Grid I of CAMELS Multifield Dataset .npy files (float32, shape (n_sims, N, N, N), NPY versions 1 and\n"
    "2) as a box file: Mcdm -> dm_density and Mgas -> gas_density (divided by their mean), T ->\n"
    "gas_temperature. --params: the CMD params file (Om s8 A_SN1 A_AGN1 A_SN2 A_AGN2 per line).\n";

hb_status hb_cmd_import_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"mcdm", required_argument, 0, 'c'}, {"mgas", required_argument, 0, 'g'},
                                         {"temp", required_argument, 0, 't'}, {"index", required_argument, 0, 'i'},
                                         {"params", required_argument, 0, 'p'}, {"box-size", required_argument, 0, 'b'},
                                         {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *mc = NULL, *mg = NULL, *tp = NULL, *params = NULL, *out = NULL;
    long index = -1;
    double box = 25.0, th[6] = {0.3, 0.8, 1, 1, 1, 1};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': mc = optarg; break;
        case 'g': mg = optarg; break;
        case 't': tp = optarg; break;
        case 'i': HB_TRY(hb_cli_long("--index", optarg, &index)); break;
        case 'p': params = optarg; break;
        case 'b': HB_TRY(hb_cli_double("--box-size", optarg, &box)); break;
        case 'o': out = optarg; break;
        case 'h': hb_cli_usage(CMD_USAGE); return HB_OK;
        default: hb_cli_usage(CMD_USAGE); return HB_EARG;
        }
    }
    if (!out || index < 0 || (!mc && !mg && !tp) || optind != argc || !(box > 0)) {
        return HB_ERR0(HB_EARG, "need --out, --index >= 0, a positive --box-size and at least one grid\n%s", CMD_USAGE);
    }
    if (params) HB_TRY(theta_from_table(params, NULL, index, th));
    return hb_import_cmd(mc, mg, tp, index, box, th, out, MPI_COMM_WORLD);
}
