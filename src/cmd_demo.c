/* hydrobridge demo: what exists so far, end to end, on a small box.
 * Stage 1 (foundation): the linear P(k) of the CAMELS fiducial cosmology, a
 * Gaussian random field drawn from it, written to HDF5, read back, and its
 * measured P(k) against the input. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "hb/cosmo.h"
#include "hb/h5io.h"
#include "hb/ic.h"
#include "hb/mesh.h"
#include "hb/mpiutil.h"
#include "hb/pk.h"
#include "hb/simulate.h"

static const char *DEMO_USAGE =
    "usage: hydrobridge demo [--out DIR]\n"
    "Runs every stage that exists on small boxes and prints what it finds.\n";

static hb_status demo_grf(const char *dir, const hb_params *par)
{
    hb_cosmo_config cc = hb_cosmo_config_from_params(par);
    hb_cosmo cosmo;
    HB_TRY(hb_cosmo_init(&cosmo, &cc));
    hb_log0("cosmology: Omega_m = %.3f, sigma_8 = %.3f -> A = %.5e (Mpc/h)^%.4f, "
            "sigma(8 Mpc/h) = %.5f, D1(z=1) = %.6f",
            cc.omega_m, cc.sigma_8, cosmo.A, 3 + cc.n_s, hb_cosmo_sigma_r(&cosmo, 8, 0),
            hb_cosmo_d1(&cosmo, 0.5));

    const int N = 64;
    const double L = 25.0;
    hb_mesh m;
    hb_status rc = hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc != HB_OK) { hb_cosmo_free(&cosmo); return rc; }
    float *buf = hb_mesh_alloc(&m);
    hb_ic_gaussian_k(&m, hb_ic_plin_z0, &cosmo, 42, 0, buf);
    hb_mesh_c2r(&m, buf);
    for (ptrdiff_t i = 0; i < 2 * m.alloc_local; i++) buf[i] += 1.0f;   /* store 1 + delta */

    char path[1024];
    snprintf(path, sizeof path, "%s/grf_linear.h5", dir);
    hb_h5 f;
    rc = hb_h5_create(&f, path, MPI_COMM_WORLD);
    if (rc == HB_OK) {
        hb_boxinfo bi = hb_boxinfo_from_params(par, 0.0);
        bi.box_size = L;
        bi.seed = 42;
        rc = hb_h5_write_mesh_field(&f, "/fields/linear_density", &m, buf, "none");
        if (rc == HB_OK) rc = hb_h5_write_boxinfo(&f, &bi);
        if (rc == HB_OK) rc = hb_h5_write_params(&f, par);
        if (rc == HB_OK) rc = hb_h5_commit(&f);
        else hb_h5_abort(&f);
    }
    hb_log0("wrote a Gaussian random field (linear P(k), z = 0, %d^3, %g Mpc/h) to %s", N, L, path);

    /* Read it back and measure its spectrum against the input, bin by bin. */
    memset(buf, 0, 2 * (size_t)m.alloc_local * sizeof *buf);
    if (rc == HB_OK) rc = hb_h5_open(&f, path, MPI_COMM_WORLD);
    if (rc == HB_OK) {
        rc = hb_h5_read_mesh_field(&f, "/fields/linear_density", &m, buf);
        hb_h5_close(&f);
    }
    hb_pk pk = {0};
    if (rc == HB_OK) rc = hb_pk_to_delta(&m, buf, NULL);
    if (rc == HB_OK) rc = hb_pk_compute(&pk, &m, buf, NULL, HB_MAS_NONE, HB_MAS_NONE);
    double model[256];
    if (rc == HB_OK) rc = hb_pk_bin_model(&pk, &m, hb_ic_plin_z0, &cosmo, model);
    if (rc == HB_OK) {
        hb_log0("%10s %12s %12s %8s %8s %10s", "k[h/Mpc]", "P_meas", "P_lin", "ratio", "modes", "1/sqrt(n)");
        for (int j = 0; j < pk.nbins && pk.k[j] < 0.5 * M_PI * N / L; j += (j < 8 ? 1 : 4)) {
            hb_log0("%10.4f %12.5e %12.5e %8.4f %8ld %10.4f", pk.k[j], pk.p11[j], model[j],
                    pk.p11[j] / model[j], pk.nmodes[j], 1 / sqrt((double)pk.nmodes[j]));
        }
    }
    hb_pk_free(&pk);
    fftwf_free(buf);
    hb_mesh_free(&m);
    hb_cosmo_free(&cosmo);
    return rc;
}

typedef struct { const hb_cosmo *c; double z; } plin_at;
static double plin_z(double k, void *vp)
{
    const plin_at *p = vp;
    return hb_cosmo_plin(p->c, k, p->z);
}

/* Measured P(k) of a box file's dm_density against linear theory, binned alike. */
static hb_status compare_linear(const char *path, const hb_cosmo *cosmo)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, MPI_COMM_WORLD));
    int N;
    hb_boxinfo bi;
    hb_status rc = hb_h5_field_size(&f, HB_FIELD_DM, &N);
    if (rc == HB_OK) rc = hb_h5_read_boxinfo(&f, &bi);
    hb_mesh m;
    if (rc == HB_OK) rc = hb_mesh_init(&m, N, bi.box_size, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc != HB_OK) { hb_h5_close(&f); return rc; }
    float *buf = hb_mesh_alloc(&m);
    rc = hb_h5_read_mesh_field(&f, HB_FIELD_DM, &m, buf);
    hb_h5_close(&f);
    hb_pk pk = {0};
    if (rc == HB_OK) rc = hb_pk_to_delta(&m, buf, NULL);
    if (rc == HB_OK) rc = hb_pk_compute(&pk, &m, buf, NULL, HB_MAS_CIC, HB_MAS_CIC);
    double model[512];
    plin_at pa = {cosmo, bi.redshift};
    if (rc == HB_OK) rc = hb_pk_bin_model(&pk, &m, plin_z, &pa, model);
    if (rc == HB_OK) {
        hb_log0("%s (z = %.1f): measured P(k) against linear theory", path, bi.redshift);
        hb_log0("%10s %12s %12s %8s", "k[h/Mpc]", "P_sim", "P_lin", "ratio");
        for (int j = 0; j < pk.nbins && pk.k[j] < 0.5 * M_PI * N / bi.box_size; j += (j < 4 ? 1 : 4)) {
            hb_log0("%10.3f %12.4e %12.4e %8.3f", pk.k[j], pk.p11[j], model[j], pk.p11[j] / model[j]);
        }
    }
    hb_pk_free(&pk);
    fftwf_free(buf);
    hb_mesh_free(&m);
    return rc;
}

static hb_status demo_pm(const char *dir)
{
    char file[1100], ovf[1200];
    snprintf(file, sizeof file, "%s/demo_dm_z{z}.h5", dir);
    snprintf(ovf, sizeof ovf, "output.file=%s", file);
    char *over[] = {"cosmology.omega_m=0.3", "cosmology.sigma_8=0.8", "simulation.box_size=100",
                    "simulation.n_particles=64", "simulation.z_init=9", "simulation.z_out=3,0",
                    "simulation.n_steps=10", "simulation.seed=7", "simulation.fixed_amplitude=1", ovf};
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, 10, over, NULL, MPI_COMM_WORLD));
    HB_TRY(hb_simulate(&par, MPI_COMM_WORLD));
    hb_cosmo_config cc = hb_cosmo_config_from_params(&par);
    hb_cosmo cosmo;
    HB_TRY(hb_cosmo_init(&cosmo, &cc));
    hb_sim_config sc;
    hb_status rc = hb_sim_config_from_params(&sc, &par, 1);
    for (int i = 0; rc == HB_OK && i < sc.n_out; i++) {
        char path[1200];
        hb_sim_output_name(&sc, sc.z_out[i], path, sizeof path);
        rc = compare_linear(path, &cosmo);
    }
    hb_log0("(fixed-amplitude ICs, k up to half the particle Nyquist: at z = 3 large scales follow\n"
            " linear growth; at z = 0 nonlinear collapse boosts small scales, and in a 100 Mpc/h box\n"
            " mode coupling already moves the few largest modes by ~10%%)");
    hb_cosmo_free(&cosmo);
    return rc;
}

hb_status hb_cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = "demo_out";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'h': hb_cli_usage(DEMO_USAGE); return HB_OK;
        default: hb_cli_usage(DEMO_USAGE); return HB_EARG;
        }
    }
    if (hb_world_rank() == 0) mkdir(dir, 0755);
    MPI_Barrier(MPI_COMM_WORLD);
    char *over[] = {"cosmology.omega_m=0.3", "cosmology.sigma_8=0.8"};
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, 2, over, NULL, MPI_COMM_WORLD));
    double t0 = hb_now();
    hb_log0("== hydrobridge demo: output in %s/ ==", dir);
    hb_log0("-- stage 1: linear theory and a Gaussian random field --");
    HB_TRY(demo_grf(dir, &par));
    hb_log0("-- stage 2: particle-mesh simulation, 64^3 particles in 100 Mpc/h --");
    HB_TRY(demo_pm(dir));
    hb_log0("== demo finished in %.1f s ==", hb_now() - t0);
    return HB_OK;
}
