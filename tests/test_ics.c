/* Initial conditions from files and tables, and paired-fixed ICs:
 * - a Zel'dovich plane wave written here as Gadget binary (SnapFormat 1)
 *   and HDF5 IC files, one and several files, kpc/h and Mpc/h: `simulate`
 *   started from them follows the analytic solution before shell crossing
 *   (as the built-in plane-wave test does); the same particles as DM + gas
 *   with split masses give the same result; a run from a file equals the
 *   same run on one rank;
 * - bad files: truncated records, a header claiming more particles than
 *   the file holds, per-file counts that do not add up, unknown units;
 * - a P(k) table: the ICs' measured spectrum follows it exactly (fixed
 *   amplitude), and a table that does not cover the mesh is refused;
 * - inverted phases: delta_k -> -delta_k, the same |delta_k|^2, and mirror
 *   displacements at first order. */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hb/ic.h"
#include "hb/icfile.h"
#include "hb/pk.h"
#include "hb/simulate.h"
#include "hbtest.h"

#define NP 32
#define LBOX 100.0
#define ZINIT 19.0

static hb_sim_config make_config(const char *const *kv)
{
    hb_params p;
    hb_params_defaults(&p);
    for (int i = 0; kv[i]; i += 2) ck_assert_int_eq(hb_params_set(&p, kv[i], kv[i + 1]), HB_OK);
    hb_sim_config c;
    ck_assert_int_eq(hb_cli_sim_config(&p, NULL, &c), HB_OK);
    return c;
}

/* ---- the plane wave as particles ------------------------------------------- */

typedef struct wave {
    long n;
    float *pos, *vel;       /* [3n], file units */
    uint32_t *id;
    double a, unit;         /* unit: file length per Mpc/h (1 or 1000) */
} wave;

/* SCIENCE.md 6: Psi = -sin(k q_x) / (k D1(a_cross)), a_cross = 1; p = a^2 E f D Psi,
 * v = 100 p / a km/s, Gadget u = v / sqrt(a). IDs 1 .. N^3 in lattice order. */
static wave make_wave(double unit)
{
    hb_cosmo_config cc = {0.3, 0.049, 0.6711, 0.9624, 0.8, 2.7255, 0, "", 0};
    hb_cosmo c;
    ck_assert_int_eq(hb_cosmo_init(&c, &cc), HB_OK);
    wave w = {(long)NP * NP * NP, NULL, NULL, NULL, 1 / (1 + ZINIT), unit};
    w.pos = malloc(3 * w.n * sizeof *w.pos);
    w.vel = malloc(3 * w.n * sizeof *w.vel);
    w.id = malloc(w.n * sizeof *w.id);
    const double k = 2 * M_PI / LBOX, d = hb_cosmo_d1(&c, w.a), dc = hb_cosmo_d1(&c, 1.0);
    const double pf = w.a * w.a * hb_cosmo_E(&c, w.a) * hb_cosmo_f1(&c, w.a) * d;
    for (long i = 0; i < w.n; i++) {
        double q[3] = {(double)(i / (NP * NP)) * LBOX / NP, (double)(i / NP % NP) * LBOX / NP, (double)(i % NP) * LBOX / NP};
        double psi = -sin(k * q[0]) / (k * dc);
        double x = q[0] + d * psi;
        x -= LBOX * floor(x / LBOX);
        w.pos[3 * i] = (float)(x * unit);
        w.pos[3 * i + 1] = (float)(q[1] * unit);
        w.pos[3 * i + 2] = (float)(q[2] * unit);
        w.vel[3 * i] = (float)(100 * pf * psi / w.a / sqrt(w.a));
        w.vel[3 * i + 1] = w.vel[3 * i + 2] = 0;
        w.id[i] = (uint32_t)(i + 1);
    }
    hb_cosmo_free(&c);
    return w;
}

static void free_wave(wave *w) { free(w->pos); free(w->vel); free(w->id); }

/* ---- writers ------------------------------------------------------------------ */

static void rec(FILE *f, const void *buf, int32_t len)
{
    fwrite(&len, 4, 1, f);
    if (len) fwrite(buf, 1, (size_t)len, f);
    fwrite(&len, 4, 1, f);
}

/* Particles [i0, i1) as file `name` of an nf-file binary set; gas_frac > 0:
 * each particle also as a gas particle (type 0, masses in a MASS block) of
 * that share of the mass, the DM keeping the rest. `claim` adds to the
 * header's particle count (a lying header). */
static void write_binary(const char *name, const wave *w, long i0, long i1, int nf, double gas_frac, int claim,
                         int truncate)
{
    FILE *f = fopen(name, "wb");
    const long n = i1 - i0, mg = gas_frac > 0 ? n : 0, ntot_g = gas_frac > 0 ? w->n : 0;
    const double m = 1.0;
    unsigned char h[256];
    memset(h, 0, sizeof h);
    int32_t np[6] = {(int32_t)mg, (int32_t)n + claim, 0, 0, 0, 0};
    double mass[6] = {0, gas_frac > 0 ? m * (1 - gas_frac) : m, 0, 0, 0, 0};
    uint32_t nt[6] = {(uint32_t)ntot_g, (uint32_t)(w->n + claim), 0, 0, 0, 0};
    double box = LBOX * w->unit, z = 1 / w->a - 1;
    int32_t nfiles = nf;
    memcpy(h, np, 24);
    memcpy(h + 24, mass, 48);
    memcpy(h + 72, &w->a, 8);
    memcpy(h + 80, &z, 8);
    memcpy(h + 96, nt, 24);
    memcpy(h + 124, &nfiles, 4);
    memcpy(h + 128, &box, 8);
    rec(f, h, 256);
    const long nn = n + mg;
    float *buf = malloc((size_t)(3 * nn + 1) * sizeof *buf);
    for (int blk = 0; blk < 2; blk++) {   /* gas first (type 0), then DM: the same particles */
        const float *src = blk ? w->vel : w->pos;
        for (long i = 0; i < mg; i++) memcpy(buf + 3 * i, src + 3 * (i0 + i), 12);
        memcpy(buf + 3 * mg, src + 3 * i0, (size_t)n * 12);
        if (truncate && blk == 1) {   /* the VEL record cut short */
            int32_t len = (int32_t)(12 * nn);
            fwrite(&len, 4, 1, f);
            fwrite(buf, 1, (size_t)len / 2, f);
            fclose(f);
            free(buf);
            return;
        }
        rec(f, buf, (int32_t)(12 * nn));
    }
    uint32_t *ids = malloc((size_t)(nn + 1) * sizeof *ids);
    for (long i = 0; i < mg; i++) ids[i] = (uint32_t)(w->n + w->id[i0 + i]);
    memcpy(ids + mg, w->id + i0, (size_t)n * 4);
    rec(f, ids, (int32_t)(4 * nn));
    if (mg) {
        for (long i = 0; i < mg; i++) buf[i] = (float)(m * gas_frac);
        rec(f, buf, (int32_t)(4 * mg));
    }
    free(ids);
    free(buf);
    fclose(f);
}

static void attr(hid_t g, const char *name, hid_t type, int n, const void *v)
{
    hsize_t d = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &d, NULL), a = H5Acreate2(g, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, v);
    H5Aclose(a);
    H5Sclose(s);
}

static void dset(hid_t f, const char *path, hid_t type, long rows, int cols, const void *v)
{
    hsize_t d[2] = {(hsize_t)rows, (hsize_t)cols};
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = H5Screate_simple(cols > 1 ? 2 : 1, d, NULL), ds = H5Dcreate2(f, path, type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds);
    H5Sclose(s);
    H5Pclose(lcpl);
}

static void write_hdf5(const char *name, const wave *w, long i0, long i1, int nf)
{
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "/Header", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    long np[6] = {0, i1 - i0, 0, 0, 0, 0}, nt[6] = {0, w->n, 0, 0, 0, 0};
    double mass[6] = {0, 1, 0, 0, 0, 0}, box = LBOX * w->unit, z = 1 / w->a - 1;
    attr(g, "NumPart_ThisFile", H5T_NATIVE_LONG, 6, np);
    attr(g, "NumPart_Total", H5T_NATIVE_LONG, 6, nt);
    attr(g, "MassTable", H5T_NATIVE_DOUBLE, 6, mass);
    attr(g, "Time", H5T_NATIVE_DOUBLE, 1, &w->a);
    attr(g, "Redshift", H5T_NATIVE_DOUBLE, 1, &z);
    attr(g, "BoxSize", H5T_NATIVE_DOUBLE, 1, &box);
    attr(g, "NumFilesPerSnapshot", H5T_NATIVE_INT, 1, &nf);
    H5Gclose(g);
    dset(f, "/PartType1/Coordinates", H5T_NATIVE_FLOAT, i1 - i0, 3, w->pos + 3 * i0);
    dset(f, "/PartType1/Velocities", H5T_NATIVE_FLOAT, i1 - i0, 3, w->vel + 3 * i0);
    dset(f, "/PartType1/ParticleIDs", H5T_NATIVE_UINT32, i1 - i0, 1, w->id + i0);
    H5Fclose(f);
}

/* An nf-file set BASE.i (binary) or BASE.i.hdf5; nf = 1: BASE itself. */
static void write_set(const char *base, int hdf5, int nf, double unit, double gas_frac)
{
    if (hb_world_rank() == 0) {
        wave w = make_wave(unit);
        for (int i = 0; i < nf; i++) {
            char name[256];
            if (nf == 1) snprintf(name, sizeof name, "%s", base);
            else snprintf(name, sizeof name, "%s.%d%s", base, i, hdf5 ? ".hdf5" : "");
            long i0 = w.n * i / nf, i1 = w.n * (i + 1) / nf;
            if (hdf5) write_hdf5(name, &w, i0, i1, nf);
            else write_binary(name, &w, i0, i1, nf, gas_frac, 0, 0);
        }
        free_wave(&w);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* ---- running from a file ---------------------------------------------------------- */

static hb_sim_config file_config(const char *path, const char *unit)
{
    const char *kv[] = {"cosmology.omega_m", "0.3", "cosmology.sigma_8", "0.8", "simulation.box_size", "100",
                        "simulation.n_particles", "32", "simulation.mesh_factor", "1",
                        "simulation.mass_assignment", "pcs", "simulation.force_kernel", "spectral",
                        "simulation.interlacing", "1", "simulation.ic", "file", "simulation.ic_file", path,
                        "simulation.ic_length_unit", unit, NULL};
    return make_config(kv);
}

/* a with D1(a) = target (bisection). */
static double a_of_d(const hb_cosmo *c, double target)
{
    double lo = 1e-4, hi = 1.9;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (hb_cosmo_d1(c, mid) < target) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Run from path to D = 0.6 and compare with the analytic wave; returns
 * the max position error in cells. pos_out (rank 0, may be NULL): the
 * particles' x sorted by id, gathered. */
static double run_wave(const char *path, const char *unit, MPI_Comm comm)
{
    hb_sim_config cfg = file_config(path, unit);
    hb_sim s;
    ck_assert_int_eq(hb_sim_init(&s, &cfg, comm), HB_OK);
    const double k = 2 * M_PI / LBOX, cell = LBOX / NP, a0 = s.a, a1 = a_of_d(&s.cosmo, 0.6);
    ck_assert_double_lt(fabs(a0 - 1 / (1 + ZINIT)), 1e-9);   /* the start from the header */
    for (int i = 1; i <= 6; i++) ck_assert_int_eq(hb_sim_step(&s, a0 + (a1 - a0) * i / 6), HB_OK);
    const double dd = hb_cosmo_d1(&s.cosmo, s.a);
    double ex = 0;
    for (size_t n = 0; n < s.part.n; n++) {
        const uint64_t lat = s.part.id[n] % ((uint64_t)NP * NP * NP);   /* gas duplicates: the same lattice site */
        const double qx = (double)(lat / (NP * NP)) * cell;
        double dx = s.part.x[3 * n] - (qx - dd * sin(k * qx) / k);
        dx -= LBOX * round(dx / LBOX);
        ex = hb_test_max(ex, fabs(dx) / cell);
    }
    MPI_Allreduce(MPI_IN_PLACE, &ex, 1, MPI_DOUBLE, MPI_MAX, comm);
    hb_sim_free(&s);
    return ex;
}

START_TEST(plane_wave_from_files)
{
    struct { const char *name; int hdf5, nf; double unit; const char *u; double gas; } cases[] = {
        {"pw_bin", 0, 1, 1000, "auto", 0},      {"pw_bin3", 0, 3, 1, "mpc", 0},
        {"pw_h5.hdf5", 1, 1, 1, "auto", 0},     {"pw_h5", 1, 2, 1000, "kpc", 0},
        {"pw_gas", 0, 2, 1000, "auto", 0.16}};
    double first = -1;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_set(cases[c].name, cases[c].hdf5, cases[c].nf, cases[c].unit, cases[c].gas);
        const char *path = cases[c].name;
        char given[64];
        if (cases[c].nf > 1 && c == 1) { snprintf(given, sizeof given, "%s.1", path); path = given; }   /* a member */
        double ex = run_wave(path, cases[c].u, MPI_COMM_WORLD);
        if (hb_world_rank() == 0) printf("plane wave from %s (%d file(s), %s): max |dx| = %.2e cells at D = 0.6\n",
                                         cases[c].name, cases[c].nf, cases[c].u, ex);
        ck_assert_double_lt(ex, 1e-2);
        if (first < 0) first = ex;
        else ck_assert_double_lt(fabs(ex - first), 1e-3);   /* every form gives the same run */
    }
}
END_TEST

/* The density after a run from a file: on every rank count the same as on one. */
START_TEST(file_run_rank_independent)
{
    write_set("ri", 0, 2, 1, 0);
    hb_sim_config cfg = file_config("ri", "auto");
    cfg.n_grid = 32;
    float *all = hb_test_run_density(&cfg, MPI_COMM_WORLD, 32, 0, 0.1, 4);
    double worst = 0;
    if (hb_world_rank() == 0) {
        float *solo = hb_test_run_density(&cfg, MPI_COMM_SELF, 32, 0, 0.1, 4);
        for (long i = 0; i < 32L * 32 * 32; i++) worst = hb_test_max(worst, fabs(all[i] - solo[i]));
        printf("run from a file on %d ranks vs 1: max |d rho| = %.2e\n", hb_world_size(), worst);
        free(solo);
    }
    ck_assert_double_lt(hb_test_allmax(worst), 1e-5);
    free(all);
}
END_TEST

START_TEST(bad_files)
{
    if (hb_world_rank() == 0) {
        wave w = make_wave(1);
        write_binary("trunc", &w, 0, w.n, 1, 0, 0, 1);            /* VEL record cut in half */
        write_binary("claim", &w, 0, w.n, 1, 0, 5, 0);            /* the header claims 5 more */
        write_binary("mix.0", &w, 0, w.n / 2, 2, 0, 0, 0);        /* two files whose counts miss */
        write_binary("mix.1", &w, w.n / 2, w.n - 7, 2, 0, 0, 0);  /* 7 particles */
        w.unit = 10;                                              /* BoxSize 1000: neither 100 nor 1e5 */
        write_binary("units", &w, 0, w.n, 1, 0, 0, 0);
        FILE *f = fopen("junk", "w");
        fputs("not an IC file at all", f);
        fclose(f);
        free_wave(&w);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const char *names[] = {"trunc", "claim", "mix", "units", "junk", "missing"};
    const hb_status want[] = {HB_EIO, HB_EIO, HB_EIO, HB_EARG, HB_EIO, HB_EIO};
    for (int i = 0; i < 6; i++) {
        hb_sim_config cfg = file_config(names[i], "auto");
        hb_sim s;
        ck_assert_msg(hb_sim_init(&s, &cfg, MPI_COMM_WORLD) == want[i], "%s was not refused as expected", names[i]);
    }
}
END_TEST

/* ---- tables and paired ICs ------------------------------------------------------------ */

static double steep(double k, void *c) { (void)c; return 300.0 * pow(k / 0.1, -1.5) * exp(-k / 3); }

START_TEST(ics_follow_a_table)
{
    if (hb_world_rank() == 0) {
        FILE *f = fopen("steep.txt", "w");
        fprintf(f, "# k P  (a shape EH98 cannot make)\n");
        for (int i = 0; i < 500; i++) {
            double k = 1e-3 * pow(1e5, i / 499.0);
            fprintf(f, "%.12e %.12e\n", k, steep(k, NULL));
        }
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    hb_cosmo_config cc = {0.3, 0.049, 0.6711, 0.9624, 0.8, 2.7255, 0, "steep.txt", 0};
    hb_cosmo c;
    /* the table's own sigma_8 (pk_renormalise = 0 needs it) */
    hb_cosmo_config probe = cc;
    probe.pk_renormalise = 1;
    ck_assert_int_eq(hb_cosmo_init(&c, &probe), HB_OK);
    const double s8 = hb_cosmo_sigma_r(&c, 8, 0) / sqrt(c.A);
    hb_cosmo_free(&c);
    cc.sigma_8 = s8;
    ck_assert_int_eq(hb_cosmo_init(&c, &cc), HB_OK);
    hb_mesh m;
    ck_assert_int_eq(hb_mesh_init(&m, 32, 200.0, MPI_COMM_WORLD, FFTW_ESTIMATE), HB_OK);
    float *dk = hb_mesh_alloc(&m);
    hb_ic_gaussian_k(&m, hb_ic_plin_z0, &c, 5, 1, dk);
    hb_mesh_c2r(&m, dk);
    hb_pk pk;
    ck_assert_int_eq(hb_pk_compute(&pk, &m, dk, NULL, HB_MAS_NONE, HB_MAS_NONE), HB_OK);
    double want[64], worst = 0;
    ck_assert_int_eq(hb_pk_bin_model(&pk, &m, steep, NULL, want), HB_OK);
    for (int j = 0; j < pk.nbins && pk.k[j] < M_PI * 32 / 200.0; j++) worst = hb_test_max(worst, fabs(pk.p11[j] / want[j] - 1));
    if (hb_world_rank() == 0) printf("ICs from a table (fixed amplitude): max |P / P_table - 1| = %.2e\n", worst);
    ck_assert_double_lt(hb_test_allmax(worst), 1e-4);
    hb_pk_free(&pk);
    fftwf_free(dk);
    hb_mesh_free(&m);
    hb_cosmo_free(&c);
    /* a table short of the mesh's k range is refused */
    const char *kv[] = {"cosmology.omega_m", "0.3", "cosmology.sigma_8", "0.8", "cosmology.transfer", "table",
                        "cosmology.pk_table", "steep.txt", "simulation.box_size", "0.1",
                        "simulation.n_particles", "16", NULL};
    hb_sim_config cfg = make_config(kv);
    hb_sim s;
    ck_assert_int_eq(hb_sim_init(&s, &cfg, MPI_COMM_WORLD), HB_EARG);
}
END_TEST

/* Positions x = q + Psi (Zel'dovich): the inverted run's displacement is minus the other's. */
START_TEST(inverted_pair)
{
    const char *base[] = {"cosmology.omega_m", "0.3", "cosmology.sigma_8", "0.8", "simulation.box_size", "200",
                          "simulation.n_particles", "16", "simulation.fixed_amplitude", "1",
                          "simulation.lpt_order", "1", "simulation.inverted_phases", "0", NULL};
    hb_sim_config c0 = make_config(base), c1 = c0;
    c1.inverted_phases = 1;
    hb_sim s0, s1;
    ck_assert_int_eq(hb_sim_init(&s0, &c0, MPI_COMM_WORLD), HB_OK);
    ck_assert_int_eq(hb_sim_init(&s1, &c1, MPI_COMM_WORLD), HB_OK);
    long f0, f1;
    ck_assert_int_eq(hb_particles_sort_by_id(&s0.part, &f0), HB_OK);
    ck_assert_int_eq(hb_particles_sort_by_id(&s1.part, &f1), HB_OK);
    ck_assert_int_eq(s0.part.n, s1.part.n);
    const double cell = 200.0 / 16;
    double worst = 0, disp = 0;
    for (size_t n = 0; n < s0.part.n; n++) {
        const uint64_t id = s0.part.id[n];
        const double q[3] = {(double)(id / 256) * cell, (double)(id / 16 % 16) * cell, (double)(id % 16) * cell};
        for (int d = 0; d < 3; d++) {
            double a = s0.part.x[3 * n + d] - q[d], b = s1.part.x[3 * n + d] - q[d];
            a -= 200 * round(a / 200);
            b -= 200 * round(b / 200);
            worst = hb_test_max(worst, fabs(a + b));
            disp = hb_test_max(disp, fabs(a));
            worst = hb_test_max(worst, fabs(s0.part.p[3 * n + d] + s1.part.p[3 * n + d]));
        }
    }
    worst = hb_test_allmax(worst);
    disp = hb_test_allmax(disp);
    if (hb_world_rank() == 0) printf("inverted pair: max |Psi + Psi_inv| = %.2e of max |Psi| = %.2e Mpc/h\n", worst, disp);
    ck_assert_double_gt(disp, 0.1);
    ck_assert_double_lt(worst, 1e-9 * 200);
    hb_sim_free(&s0);
    hb_sim_free(&s1);
}
END_TEST

static Suite *ics_suite(void)
{
    Suite *s = suite_create("ics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plane_wave_from_files);
    tcase_add_test(tc, file_run_rank_independent);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, ics_follow_a_table);
    tcase_add_test(tc, inverted_pair);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return s;
}

HB_TEST_MAIN(ics_suite)
