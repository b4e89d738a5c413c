/* Training data: the syren-baryon target, Latin hypercubes and tables, the
 * mock hydro painter's properties, NPY grids and a synthetic two-file
 * Gadget snapshot. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hb/box.h"
#include "hb/camels.h"
#include "hb/h5io.h"
#include "hb/mock.h"
#include "hb/pk.h"
#include "hb/simulate.h"
#include "hb/stepper.h"
#include "hb/suite.h"
#include "hb/suppression.h"
#include "hbtest.h"
#include "toy.h"

#ifndef HB_SOURCE_DIR
#define HB_SOURCE_DIR "."
#endif

START_TEST(syren_reference_values)
{
    /* SCIENCE.md 4.1, evaluated there from the formulas (3 digits) */
    static const double k[6] = {0.5, 1, 2, 5, 10, 20};
    struct { double th[6]; double s[6]; } cases[] = {
        {{0.3, 0.8, 1, 1, 1, 1}, {0.988, 0.959, 0.909, 0.816, 0.764, 0.818}},
        {{0.3, 0.8, 1, 1, 1, 2}, {0.973, 0.931, 0.863, 0.744, 0.697, 0.811}},
        {{0.3, 0.8, 1, 1, 1, 0.5}, {0.996, 0.973, 0.934, 0.854, 0.801, 0.821}},
        {{0.3, 0.8, 4, 1, 1, 1}, {1.019, 1.016, 1.008, 0.977, 0.917, 0.830}},
        {{0.3, 0.8, 0.25, 1, 1, 1}, {0.981, 0.945, 0.886, 0.780, 0.730, 0.814}},
        {{0.3, 0.8, 1, 1, 2, 1}, {0.997, 0.975, 0.934, 0.836, 0.736, 0.668}},
        {{0.3, 0.8, 1, 1, 0.5, 1}, {0.984, 0.951, 0.898, 0.806, 0.779, 0.905}},
        {{0.3, 0.8, 1, 3.7, 1, 1}, {0.988, 0.959, 0.909, 0.816, 0.764, 0.818}},   /* no A_AGN1 dependence */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int j = 0; j < 6; j++) {
            double s = hb_syren_tng(k[j], 0, cases[c].th);
            ck_assert_msg(fabs(s - cases[c].s[j]) <= 0.0006, "case %zu k=%g: %.4f vs %.3f", c, k[j], s, cases[c].s[j]);
        }
    double fid[6] = {0.3, 0.8, 1, 1, 1, 1};
    ck_assert_double_le(fabs(hb_syren_tng(1, 1, fid) - 0.987), 0.0006);
    ck_assert_double_le(fabs(hb_syren_tng(5, 1, fid) - 0.907), 0.0006);
    ck_assert_double_le(fabs(hb_syren_tng(10, 1, fid) - 0.881), 0.0006);
}
END_TEST

START_TEST(latin_hypercube_strata)
{
    const int n = 17;
    hb_suite_row *r;
    ck_assert_int_eq(hb_suite_latin_hypercube(n, 5, &r), HB_OK);
    static const double lo[6] = {0.1, 0.6, 0.25, 0.25, 0.5, 0.5}, hi[6] = {0.5, 1.0, 4.0, 4.0, 2.0, 2.0};
    static const int logp[6] = {0, 0, 1, 1, 1, 1};
    for (int p = 0; p < 6; p++) {
        int seen[17] = {0};
        for (int i = 0; i < n; i++) {
            double v = r[i].theta[p];
            ck_assert(v >= lo[p] && v <= hi[p]);
            double u = logp[p] ? log(v / lo[p]) / log(hi[p] / lo[p]) : (v - lo[p]) / (hi[p] - lo[p]);
            int s = (int)(u * n);
            ck_assert(s >= 0 && s < n);
            seen[s]++;
        }
        for (int s = 0; s < n; s++) ck_assert_msg(seen[s] == 1, "parameter %d stratum %d has %d points", p, s, seen[s]);
    }
    ck_assert_str_eq(r[3].name, "LH_3");
    ck_assert_int_eq(r[3].seed, 8);
    free(r);
}
END_TEST

START_TEST(camels_table)
{
    hb_suite_row *r;
    int n;
    ck_assert_int_eq(hb_suite_read_table(HB_SOURCE_DIR "/data/camels/CosmoAstroSeed_IllustrisTNG_L25n256_LH.txt",
                                         &r, &n, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(n, 1000);
    ck_assert_str_eq(r[0].name, "LH_0");   /* SCIENCE.md 2.1: LH_0 0.30900 0.97900 3.11234 1.12194 0.66850 0.53182 0 */
    double want[6] = {0.309, 0.979, 3.11234, 1.12194, 0.6685, 0.53182};
    for (int k = 0; k < 6; k++) ck_assert_double_eq_tol(r[0].theta[k], want[k], 1e-9);
    ck_assert_int_eq(r[999].seed, 999);
    free(r);
    /* the 1P layout (other columns) is refused */
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        FILE *f = fopen("onep.txt", "w");
        fputs("#Name Omega0 sigma8 WindEnergyIn1e51erg RadioFeedbackFactor VariableWindVelFactor x seed\n"
              "1P_p1_n2 0.1 0.8 3.6 1 7.4 20 67\n", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    ck_assert_int_eq(hb_suite_read_table("onep.txt", &r, &n, MPI_COMM_WORLD), HB_EARG);
}
END_TEST

/* A small nonlinear DM box (32^3, 25 Mpc/h, z = 0) on comm. */
static float *dm_box(hb_mesh *m, MPI_Comm comm)
{
    hb_params p;
    hb_params_defaults(&p);
    hb_params_set(&p, "cosmology.omega_m", "0.3");
    hb_params_set(&p, "cosmology.sigma_8", "0.8");
    hb_params_set(&p, "simulation.n_particles", "32");
    int size;
    MPI_Comm_size(comm, &size);
    hb_sim_config cfg;
    ck_assert_int_eq(hb_cli_sim_config(&p, NULL, &cfg), HB_OK);
    ck_assert_int_eq(hb_sim_config_check(&cfg, size), HB_OK);
    hb_sim s;
    ck_assert_int_eq(hb_sim_init(&s, &cfg, comm), HB_OK);
    for (int i = 1; i <= 10; i++) ck_assert_int_eq(hb_sim_step(&s, 0.1 + 0.09 * i), HB_OK);
    ck_assert_int_eq(hb_mesh_init(m, 32, 25.0, comm, FFTW_ESTIMATE), HB_OK);
    float *rho = hb_mesh_alloc(m);
    ck_assert_int_eq(hb_sim_density(&s, m, rho), HB_OK);
    hb_sim_free(&s);
    return rho;
}

/* P(k) of a copy of a field (mean-normalised). */
static hb_pk pk_of(const hb_mesh *m, const float *f)
{
    float *c = hb_mesh_alloc(m);
    memcpy(c, f, 2 * (size_t)m->alloc_local * sizeof *c);
    hb_pk pk;
    ck_assert_int_eq(hb_pk_to_delta(m, c, NULL), HB_OK);
    ck_assert_int_eq(hb_pk_compute(&pk, m, c, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
    fftwf_free(c);
    return pk;
}

START_TEST(mock_properties)
{
    hb_mesh m;
    float *dm = dm_box(&m, MPI_COMM_WORLD);
    float *gas = hb_mesh_alloc(&m), *temp = hb_mesh_alloc(&m), *gas2 = hb_mesh_alloc(&m), *t2 = hb_mesh_alloc(&m);
    hb_mock_config c = hb_mock_config_default();
    double th[6] = {0.3, 0.8, 1, 1, 1, 1}, fs;
    ck_assert_int_eq(hb_mock_paint(&m, dm, &c, th, 0.0, gas, temp, NULL, &fs), HB_OK);
    /* mean exact, positive, temperatures in range */
    double mean = hb_mesh_sum(&m, gas) / pow(32, 3);
    ck_assert_double_lt(fabs(mean - 1), 1e-5);
    double gmin = 1e30, tmin = 1e30, tmax = 0;
    for (ptrdiff_t i = 0; i < m.nx_local; i++)
        for (int j = 0; j < 32; j++)
            for (int k = 0; k < 32; k++) {
                size_t id = hb_mesh_ridx(&m, i, j, k);
                gmin = fmin(gmin, gas[id]);
                tmin = fmin(tmin, temp[id]);
                tmax = hb_test_max(tmax, temp[id]);
            }
    ck_assert_double_gt(-hb_test_allmax(-gmin), 0.0);
    ck_assert_double_ge(-hb_test_allmax(-tmin), 1e3);
    ck_assert_double_le(hb_test_allmax(tmax), 1e8);
    /* gas follows the DM on large scales: r(k) -> 1 */
    float *a = hb_mesh_alloc(&m), *b = hb_mesh_alloc(&m);
    memcpy(a, dm, 2 * (size_t)m.alloc_local * 4);
    memcpy(b, gas, 2 * (size_t)m.alloc_local * 4);
    hb_pk_to_delta(&m, a, NULL);
    hb_pk_to_delta(&m, b, NULL);
    hb_pk x;
    ck_assert_int_eq(hb_pk_compute(&x, &m, a, b, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
    ck_assert_msg(x.r[0] > 0.95, "r(k = %.2f) = %.3f", x.k[0], x.r[0]);
    ck_assert(x.r[0] > x.r[x.nbins - 1]);
    hb_pk_free(&x);
    /* two seeds: different fields, spectra alike (within 15% for k below half Nyquist) */
    hb_mock_config c2 = c;
    c2.seed = c.seed + 1;
    ck_assert_int_eq(hb_mock_paint(&m, dm, &c2, th, 0.0, gas2, t2, NULL, &fs), HB_OK);
    double dmax = 0;
    for (ptrdiff_t i = 0; i < 2 * m.alloc_local; i++) dmax = hb_test_max(dmax, fabs(gas[i] - gas2[i]));
    ck_assert_double_gt(hb_test_allmax(dmax), 1e-2);
    /* ... and spectra that agree within the seed-to-seed scatter: each of
     * two seeds against the mean and sd of five others (k below half Nyquist) */
    enum { NS = 7 };
    hb_pk ps[NS];
    for (int q = 0; q < NS; q++) {
        hb_mock_config cq = c;
        cq.seed = c.seed + (uint64_t)q;
        ck_assert_int_eq(hb_mock_paint(&m, dm, &cq, th, 0.0, gas2, t2, NULL, &fs), HB_OK);
        ps[q] = pk_of(&m, gas2);
    }
    for (int q = 0; q < 2; q++)
        for (int j = 0; j < ps[0].nbins && ps[0].k[j] < 0.5 * M_PI * 32 / 25.0; j++) {
            double mu = 0, sd = 0;
            for (int o = 2; o < NS; o++) mu += ps[o].p11[j] / (NS - 2);
            for (int o = 2; o < NS; o++) sd += pow(ps[o].p11[j] - mu, 2) / (NS - 3);
            sd = sqrt(sd * (1 + 1.0 / (NS - 2)));
            ck_assert_msg(fabs(ps[q].p11[j] - mu) <= 4 * sd, "seed %d: P = %g vs %g +- %g at k=%.2f", q, ps[q].p11[j], mu, sd, ps[0].k[j]);
        }
    for (int q = 0; q < NS; q++) hb_pk_free(&ps[q]);
    /* stronger AGN2: less gas power at k = 1-5 h/Mpc, monotonically */
    double band[3];
    const double agn2[3] = {0.5, 1.0, 2.0};
    for (int v = 0; v < 3; v++) {
        th[5] = agn2[v];
        ck_assert_int_eq(hb_mock_paint(&m, dm, &c, th, 0.0, gas2, t2, NULL, &fs), HB_OK);
        hb_pk p = pk_of(&m, gas2);
        band[v] = 0;
        for (int j = 0; j < p.nbins; j++) if (p.k[j] > 1 && p.k[j] < 5) band[v] += p.p11[j];
        hb_pk_free(&p);
    }
    ck_assert_msg(band[0] > band[1] && band[1] > band[2], "gas power vs A_AGN2: %g %g %g", band[0], band[1], band[2]);
    fftwf_free(dm); fftwf_free(gas); fftwf_free(temp); fftwf_free(gas2); fftwf_free(t2); fftwf_free(a); fftwf_free(b);
    hb_mesh_free(&m);
}
END_TEST

START_TEST(mock_rank_count_independent)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    hb_mock_config c = hb_mock_config_default();
    double th[6] = {0.3, 0.8, 1, 1, 1, 1.5}, fs;
    float *solo = NULL;
    if (rank == 0) {
        hb_mesh m1;
        float *dm = dm_box(&m1, MPI_COMM_SELF), *g = hb_mesh_alloc(&m1), *t = hb_mesh_alloc(&m1);
        ck_assert_int_eq(hb_mock_paint(&m1, dm, &c, th, 0.0, g, t, NULL, &fs), HB_OK);
        solo = hb_test_gather(&m1, g);
        fftwf_free(dm); fftwf_free(g); fftwf_free(t);
        hb_mesh_free(&m1);
    }
    hb_mesh m;
    float *dm = dm_box(&m, MPI_COMM_WORLD), *g = hb_mesh_alloc(&m), *t = hb_mesh_alloc(&m);
    ck_assert_int_eq(hb_mock_paint(&m, dm, &c, th, 0.0, g, t, NULL, &fs), HB_OK);
    float *all = hb_test_gather(&m, g);
    double worst = 0;
    if (rank == 0) for (int i = 0; i < 32 * 32 * 32; i++) worst = hb_test_max(worst, fabs(all[i] - solo[i]) / solo[i]);
    ck_assert_double_le(hb_test_allmax(worst), 1e-5);
    free(solo); free(all);
    fftwf_free(dm); fftwf_free(g); fftwf_free(t);
    hb_mesh_free(&m);
}
END_TEST

static void write_npy(const char *path, int version, const char *dict, const float *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t pre = version == 1 ? 10 : 12, len = strlen(dict);
    size_t total = (pre + len + 1 + 63) / 64 * 64, hl = total - pre;
    unsigned char h[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)version, 0};
    if (version == 1) { h[8] = (unsigned char)(hl & 0xff); h[9] = (unsigned char)(hl >> 8); }
    else { h[8] = (unsigned char)(hl & 0xff); h[9] = (unsigned char)(hl >> 8); h[10] = (unsigned char)(hl >> 16); h[11] = (unsigned char)(hl >> 24); }
    fwrite(h, 1, pre, f);
    fputs(dict, f);
    for (size_t i = len; i + 1 < hl; i++) fputc(' ', f);
    fputc('\n', f);
    if (data) fwrite(data, 4, n, f);
    fclose(f);
}

START_TEST(npy_grids)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const size_t n = 2 * 4 * 4 * 4;
    float data[2 * 64];
    for (size_t i = 0; i < n; i++) data[i] = (float)i;
    if (rank == 0) {
        write_npy("g1.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 4, 4), }", data, n);
        write_npy("g2.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 4, 4), }", data, n);
        write_npy("bad_type.npy", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4, 4, 4), }", data, n);
        write_npy("bad_order.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4, 4, 4), }", data, n);
        write_npy("bad_shape.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 5, 4), }", data, n);
        write_npy("short.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 4, 4), }", data, 70);
        FILE *f = fopen("junk.npy", "wb");
        fputs("NUMPY? no", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (int v = 1; v <= 2; v++) {
        hb_npy h;
        ck_assert_int_eq(hb_npy_open(v == 1 ? "g1.npy" : "g2.npy", &h), HB_OK);
        ck_assert_int_eq(h.version, v);
        ck_assert_int_eq(h.ndim, 4);
        ck_assert_int_eq(h.shape[1], 4);
        float slab[2 * 16];
        ck_assert_int_eq(hb_npy_read_slab(v == 1 ? "g1.npy" : "g2.npy", &h, 1, 2, 2, slab), HB_OK);
        for (int i = 0; i < 32; i++) ck_assert_float_eq(slab[i], (float)(64 + 32 + i));   /* grid 1, planes 2-3 */
        ck_assert_int_eq(hb_npy_read_slab("g1.npy", &h, 2, 0, 1, slab), HB_EARG);      /* no grid 2 */
    }
    hb_npy h;
    ck_assert_int_eq(hb_npy_open("bad_type.npy", &h), HB_EIO);
    ck_assert_int_eq(hb_npy_open("bad_order.npy", &h), HB_EIO);
    ck_assert_int_eq(hb_npy_open("bad_shape.npy", &h), HB_EIO);
    ck_assert_int_eq(hb_npy_open("junk.npy", &h), HB_EIO);
    ck_assert_int_eq(hb_npy_open("short.npy", &h), HB_OK);
    float slab[16];
    ck_assert_int_eq(hb_npy_read_slab("short.npy", &h, 1, 3, 1, slab), HB_EIO);   /* truncated data */
}
END_TEST

START_TEST(gadget_two_file_snapshot)
{
    /* 8^3 nodes in a 1 Mpc/h box (125 ckpc/h apart): DM particles on nodes
     * (node (i,j,k) gets 1 + (i+j+k)%2 particles of MassTable mass), gas on a
     * few nodes with known masses and energies; CIC on nodes is exact. */
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    static double dx[2][1024][3], gx[2][8][3], gm[2][8], gu[2][8], ge[2][8];
    int nd[2] = {0, 0}, ng[2] = {0, 0};
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 8; k++)
                for (int c = 0; c < 1 + (i + j + k) % 2; c++) {
                    int fi = (i * 64 + j * 8 + k) % 2;   /* spread over both files */
                    double *p = dx[fi][nd[fi]++];
                    p[0] = 125.0 * i; p[1] = 125.0 * j; p[2] = 125.0 * k;
                }
    /* gas: node (1,2,3) twice (masses 1e-3, 3e-3), node (4,4,4) once */
    double gpos[3][3] = {{125, 250, 375}, {125, 250, 375}, {500, 500, 500}};
    double gmass[3] = {1e-3, 3e-3, 2e-3}, gue[3] = {100.0, 400.0, 2500.0}, gxe[3] = {1.16, 0.5, 0.0};
    for (int q = 0; q < 3; q++) {
        int fi = q % 2;
        memcpy(gx[fi][ng[fi]], gpos[q], sizeof gpos[q]);
        gm[fi][ng[fi]] = gmass[q];
        gu[fi][ng[fi]] = gue[q];
        ge[fi][ng[fi]] = gxe[q];
        ng[fi]++;
    }
    if (rank == 0) {
        for (int fi = 0; fi < 2; fi++) {
            char name[64];
            snprintf(name, sizeof name, "snap_033.%d.hdf5", fi);
            toy_write_gadget(name, 2, (const double(*)[3])dx[fi], nd[fi], (const double(*)[3])gx[fi], gm[fi], gu[fi],
                         ge[fi], ng[fi], nd[0] + nd[1], 3);
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    hb_import_opts o;
    memset(&o, 0, sizeof o);
    o.n_grid = 8;
    hb_theta_none(o.theta);
    ck_assert_int_eq(hb_import_camels("snap_033.1.hdf5", &o, "imported.h5", MPI_COMM_WORLD), HB_OK);
    if (rank == 0) {
        hb_h5 f;
        ck_assert_int_eq(hb_h5_open(&f, "imported.h5", MPI_COMM_SELF), HB_OK);
        float dm[512], gas[512], t[512];
        ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_DM, 8, 0, 8, dm, 8), HB_OK);
        ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_GAS, 8, 0, 8, gas, 8), HB_OK);
        ck_assert_int_eq(hb_h5_read_field(&f, HB_FIELD_TEMP, 8, 0, 8, t, 8), HB_OK);
        hb_boxinfo bi;
        ck_assert_int_eq(hb_box_read_info(&f, &bi), HB_OK);
        hb_h5_close(&f);
        ck_assert_double_eq_tol(bi.box_size, 1.0, 1e-12);
        ck_assert_double_eq_tol(bi.redshift, 0.5, 1e-12);
        /* DM: node mass 1 or 2 particles, mean 1.5 -> rho/mean = 2/3 or 4/3 */
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 8; k++)
                    ck_assert_float_eq_tol(dm[(i * 8 + j) * 8 + k], (1 + (i + j + k) % 2) / 1.5f, 1e-5f);
        /* gas: total 6e-3 over 512 cells */
        const double mean = 6e-3 / 512;
        ck_assert_double_eq_tol(gas[(1 * 8 + 2) * 8 + 3], 4e-3 / mean, 1e-3);
        ck_assert_double_eq_tol(gas[(4 * 8 + 4) * 8 + 4], 2e-3 / mean, 1e-3);
        ck_assert_float_eq(gas[0], 0.0f);
        /* temperatures from the CAMELS formula, written out here independently */
        double T[3];
        for (int q = 0; q < 3; q++) {
            double y = 0.0789, mu_factor = (1 + 4 * y) / (1 + y + gxe[q]);
            T[q] = gue[q] * 1e10 * mu_factor * (2.0 / 3.0) * 1.6726e-24 / 1.3807e-16;
        }
        double twant = (1e-3 * T[0] + 3e-3 * T[1]) / 4e-3;
        ck_assert_msg(fabs(t[(1 * 8 + 2) * 8 + 3] / twant - 1) < 1e-5, "T = %g want %g", t[(1 * 8 + 2) * 8 + 3], twant);
        ck_assert_double_le(fabs(t[(4 * 8 + 4) * 8 + 4] / T[2] - 1), 1e-5);
        double tmean = (1e-3 * T[0] + 3e-3 * T[1] + 2e-3 * T[2]) / 6e-3;   /* empty cells */
        ck_assert_double_le(fabs(t[0] / tmean - 1), 1e-5);
    }
    /* a missing second file is a clear error */
    if (rank == 0) rename("snap_033.0.hdf5", "moved.hdf5");
    MPI_Barrier(MPI_COMM_WORLD);
    ck_assert_int_eq(hb_import_camels("snap_033.1.hdf5", &o, "imported2.h5", MPI_COMM_WORLD), HB_EIO);
    ck_assert(access("imported2.h5", F_OK) != 0);
}
END_TEST

/* Single-file snapshots with one defect each: a clear error, no output. */
START_TEST(gadget_bad_particles)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double dx[8][3], gx[2][3] = {{100, 200, 300}, {500, 600, 700}}, gm[2] = {1e-3, 2e-3}, gu[2] = {100, 200};
    double ge[2] = {1, 1};
    for (int i = 0; i < 8; i++) {
        dx[i][0] = 125.0 * i; dx[i][1] = 250.0; dx[i][2] = 500.0;
    }
    const char *kinds[] = {"nan_coordinate", "no_dm", "negative_mass", "nan_energy"};
    for (int k = 0; k < 4; k++) {
        double d2[8][3], m2[2], u2[2];
        memcpy(d2, dx, sizeof dx);
        memcpy(m2, gm, sizeof gm);
        memcpy(u2, gu, sizeof gu);
        if (k == 0) d2[3][1] = NAN;
        if (k == 2) m2[1] = -1e-3;
        if (k == 3) u2[0] = NAN;
        const int ndm = k == 1 ? 0 : 8;
        char snap[64], out[64];
        snprintf(snap, sizeof snap, "bad_%s.hdf5", kinds[k]);
        snprintf(out, sizeof out, "bad_%s.h5", kinds[k]);
        if (rank == 0) toy_write_gadget(snap, 1, (const double(*)[3])d2, ndm, (const double(*)[3])gx, m2, u2, ge, 2, ndm, 2);
        MPI_Barrier(MPI_COMM_WORLD);
        hb_import_opts o;
        memset(&o, 0, sizeof o);
        o.n_grid = 8;
        hb_theta_none(o.theta);
        ck_assert_msg(hb_import_camels(snap, &o, out, MPI_COMM_WORLD) == HB_EIO, "%s accepted", kinds[k]);
        ck_assert_msg(access(out, F_OK) != 0, "%s: output written", kinds[k]);
    }
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, syren_reference_values);
    tcase_add_test(tc, latin_hypercube_strata);
    tcase_add_test(tc, camels_table);
    tcase_add_test(tc, mock_properties);
    tcase_add_test(tc, mock_rank_count_independent);
    tcase_add_test(tc, npy_grids);
    tcase_add_test(tc, gadget_two_file_snapshot);
    tcase_add_test(tc, gadget_bad_particles);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(data_suite)
