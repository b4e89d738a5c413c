/* Subcommands of the foundation: params, linear, pk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hb/cosmo.h"
#include "hb/h5io.h"
#include "hb/mesh.h"
#include "hb/mpiutil.h"
#include "hb/params.h"
#include "hb/pk.h"

hb_status hb_cmd_params(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (hb_world_rank() == 0) {
        printf("# hydrobridge parameters: INI sections [cosmology], [feedback], [simulation], [mock], "
               "[output]; any key can be overridden on the command line as section.key=value\n");
        hb_params_fprint_reference(stdout);
    }
    return HB_OK;
}

static const char *LINEAR_USAGE =
    "usage: hydrobridge linear RUN.ini [--z Z] [--out plin.txt] [--kmin K] [--kmax K] [--nk N]\n"
    "                          [section.key=value ...]\n"
    "Linear matter power spectrum P_lin(k, z) of the run's cosmology (EH98 transfer\n"
    "function, sigma_8 normalisation, growth from the ODE). Columns: k[h/Mpc] P[(Mpc/h)^3],\n"
    "log-spaced in k (default 1e-3 .. 1e2 h/Mpc, 400 points). Without --out, prints to stdout.\n";

hb_status hb_cmd_linear(int argc, char **argv)
{
    static const struct option opts[] = {{"z", required_argument, 0, 'z'},
                                         {"out", required_argument, 0, 'o'},
                                         {"kmin", required_argument, 0, 'a'},
                                         {"kmax", required_argument, 0, 'b'},
                                         {"nk", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    double z = 0, kmin = 1e-3, kmax = 1e2;
    long nk = 400;
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'z': HB_TRY(hb_cli_double("--z", optarg, &z)); break;
        case 'o': out = optarg; break;
        case 'a': HB_TRY(hb_cli_double("--kmin", optarg, &kmin)); break;
        case 'b': HB_TRY(hb_cli_double("--kmax", optarg, &kmax)); break;
        case 'n': HB_TRY(hb_cli_long("--nk", optarg, &nk)); break;
        case 'h': hb_cli_usage(LINEAR_USAGE); return HB_OK;
        default: hb_cli_usage(LINEAR_USAGE); return HB_EARG;
        }
    }
    const char *ini = NULL;
    char *over[64];
    int nover = 0;
    for (int i = optind; i < argc; i++) {
        if (hb_cli_is_override(argv[i]) && nover < 64) over[nover++] = argv[i];
        else if (!ini) ini = argv[i];
        else return HB_ERR0(HB_EARG, "unexpected argument \"%s\"\n%s", argv[i], LINEAR_USAGE);
    }
    if (!ini) return HB_ERR0(HB_EARG, "no parameter file given\n%s", LINEAR_USAGE);
    static const char *used[] = {"cosmology.", NULL};
    HB_TRY(hb_cli_check_overrides("linear", over, nover, used, NULL));
    if (!(z >= 0 && z < 1e4) || !(kmin > 0 && kmax > kmin) || nk < 2) {
        return HB_ERR0(HB_EARG, "need z >= 0, 0 < kmin < kmax, nk >= 2 (got z=%g kmin=%g kmax=%g nk=%ld)",
                       z, kmin, kmax, nk);
    }
    if (out) {
        const char *outs[] = {out}, *ins[] = {ini};
        HB_TRY(hb_cli_check_io(outs, 1, ins, 1));
    }
    static const char *required[] = {"cosmology.omega_m", "cosmology.sigma_8", NULL};
    hb_params par;
    HB_TRY(hb_params_load(&par, ini, nover, over, required, MPI_COMM_WORLD));
    hb_cosmo_config cc = hb_cli_cosmo(&par);
    hb_cosmo cosmo;
    HB_TRY(hb_cosmo_init(&cosmo, &cc));
    hb_status rc = HB_OK;
    if (hb_world_rank() == 0) {
        char tmp[4200];
        FILE *f = stdout;
        if (out) {
            snprintf(tmp, sizeof tmp, "%s.tmp", out);
            f = fopen(tmp, "w");
        }
        if (!f) {
            rc = HB_ERR(HB_EIO, "cannot write %s", tmp);
        } else {
            fprintf(f, "# linear matter power spectrum at z = %g (EH98%s, sigma_8 = %g, D1(z) = %.6f)\n", z,
                    cc.nowiggle ? " no-wiggle" : "", cc.sigma_8, hb_cosmo_d1(&cosmo, 1 / (1 + z)));
            hb_params_fprint(&par, f, "# ");
            fprintf(f, "# k[h/Mpc] P[(Mpc/h)^3]\n");
            for (long i = 0; i < nk; i++) {
                double k = kmin * pow(kmax / kmin, (double)i / (double)(nk - 1));
                fprintf(f, "%.8e %.8e\n", k, hb_cosmo_plin(&cosmo, k, z));
            }
            if (out) {
                int bad = ferror(f) | (fclose(f) != 0);
                if (bad || rename(tmp, out) != 0) {
                    unlink(tmp);
                    rc = HB_ERR(HB_EIO, "cannot write %s", out);
                }
            }
        }
    }
    hb_cosmo_free(&cosmo);
    return hb_mpi_agree(MPI_COMM_WORLD, rc);
}

static const char *PK_USAGE =
    "usage: hydrobridge pk FILE.h5 --field NAME [--cross NAME2] [--mas cic|ngp|tsc|none]\n"
    "                      [--out pk.txt]\n"
    "Power spectrum of a field of a box file (Pylians conventions: delta = f/mean - 1,\n"
    "bins of width k_F, mean k per bin, no shot-noise subtraction). NAME is a dataset\n"
    "under /fields (dm_density, gas_density, gas_temperature) or a full path. The\n"
    "mass-assignment compensation defaults to each dataset's mass_assignment attribute.\n"
    "Columns: k[h/Mpc] P[(Mpc/h)^3] n_modes (cross: P12 n_modes r P11 P22).\n";

static void field_path(const char *name, char *out, size_t cap)
{
    if (name[0] == '/') snprintf(out, cap, "%s", name);
    else snprintf(out, cap, "/fields/%s", name);
}

static hb_status field_mas(hb_h5 *f, const char *path, int override, int *mas)
{
    if (override >= 0) {
        *mas = override;
        return HB_OK;
    }
    char s[32] = "none";
    if (hb_h5_attr_exists(f, path, "mass_assignment")) {
        HB_TRY(hb_h5_attr_read_string(f, path, "mass_assignment", s, sizeof s));
    }
    *mas = hb_mas_from_name(s);
    if (*mas < 0) return HB_ERR0(HB_EIO, "%s: unknown mass_assignment \"%s\" on %s", f->path, s, path);
    return HB_OK;
}

/* The spectrum on stdout, in the layout of hb_pk_write_text. */
static hb_status print_pk(const hb_pk *pk, const char *hdr)
{
    printf("# %s\n", hdr);
    printf(pk->cross ? "# k[h/Mpc] P12[(Mpc/h)^3] n_modes r P11 P22\n" : "# k[h/Mpc] P[(Mpc/h)^3] n_modes\n");
    for (int j = 0; j < pk->nbins; j++) {
        if (pk->cross) printf("%.8e %.8e %ld %.8f %.8e %.8e\n", pk->k[j], pk->p12[j], pk->nmodes[j], pk->r[j], pk->p11[j], pk->p22[j]);
        else printf("%.8e %.8e %ld\n", pk->k[j], pk->p11[j], pk->nmodes[j]);
    }
    return HB_OK;
}

hb_status hb_cmd_pk(int argc, char **argv)
{
    static const struct option opts[] = {{"field", required_argument, 0, 'f'},
                                         {"cross", required_argument, 0, 'c'},
                                         {"mas", required_argument, 0, 'm'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *field = NULL, *cross = NULL, *out = NULL;
    int mas_override = -1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': field = optarg; break;
        case 'c': cross = optarg; break;
        case 'o': out = optarg; break;
        case 'm':
            mas_override = hb_mas_from_name(optarg);
            if (mas_override < 0) return HB_ERR0(HB_EARG, "--mas %s: expected cic, ngp, tsc or none", optarg);
            break;
        case 'h': hb_cli_usage(PK_USAGE); return HB_OK;
        default: hb_cli_usage(PK_USAGE); return HB_EARG;
        }
    }
    if (optind != argc - 1 || !field) {
        return HB_ERR0(HB_EARG, "need one FILE.h5 and --field NAME\n%s", PK_USAGE);
    }
    const char *file = argv[optind];
    if (out) {
        const char *outs[] = {out}, *ins[] = {file};
        HB_TRY(hb_cli_check_io(outs, 1, ins, 1));
    }
    double t0 = hb_now();
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, file, MPI_COMM_WORLD));
    char p1[512], p2[512];
    field_path(field, p1, sizeof p1);
    if (cross) field_path(cross, p2, sizeof p2);
    int N, N2 = 0, mas1 = 0, mas2 = 0;
    double L;
    hb_status rc = hb_h5_field_size(&f, p1, &N);
    if (rc == HB_OK && cross) {
        rc = hb_h5_field_size(&f, p2, &N2);
        if (rc == HB_OK && N2 != N) rc = HB_ERR0(HB_EIO, "%s: %s is %d^3 but %s is %d^3", file, p1, N, p2, N2);
    }
    if (rc == HB_OK) rc = hb_h5_attr_read_double(&f, "/", "box_size", &L);
    if (rc == HB_OK) rc = field_mas(&f, p1, mas_override, &mas1);
    if (rc == HB_OK && cross) rc = field_mas(&f, p2, mas_override, &mas2);
    if (rc != HB_OK) {
        hb_h5_close(&f);
        return rc;
    }
    hb_mesh m;
    rc = hb_mesh_init(&m, N, L, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc != HB_OK) {
        hb_h5_close(&f);
        return rc;
    }
    float *b1 = hb_mesh_alloc(&m), *b2 = cross ? hb_mesh_alloc(&m) : NULL;
    hb_pk pk = {0};
    double t_read = 0, t_pk = 0;
    if (hb_mpi_any(MPI_COMM_WORLD, !b1 || (cross && !b2))) rc = HB_ERR0(HB_ENOMEM, "field buffers");
    if (rc == HB_OK) rc = hb_box_read_mesh_field(&f, p1, &m, b1, HB_VALUES_FINITE);
    if (rc == HB_OK && cross) rc = hb_box_read_mesh_field(&f, p2, &m, b2, HB_VALUES_FINITE);
    hb_h5_close(&f);
    t_read = hb_now() - t0;
    if (rc == HB_OK) rc = hb_pk_to_delta(&m, b1, NULL);
    if (rc == HB_OK && cross) rc = hb_pk_to_delta(&m, b2, NULL);
    double t1 = hb_now();
    if (rc == HB_OK) rc = hb_pk_compute(&pk, &m, b1, b2, mas1, mas2);
    t_pk = hb_now() - t1;
    if (rc == HB_OK && hb_world_rank() == 0) {
        char hdr[2048];
        snprintf(hdr, sizeof hdr, "file %s, field %s%s%s, mass assignment %s%s%s", file, p1,
                 cross ? " x " : "", cross ? p2 : "", hb_mas_name(mas1), cross ? " / " : "",
                 cross ? hb_mas_name(mas2) : "");
        rc = out ? hb_pk_write_text(&pk, out, hdr) : print_pk(&pk, hdr);
    }
    rc = hb_mpi_agree(MPI_COMM_WORLD, rc);
    if (rc == HB_OK) {
        if (hb_world_rank() == 0) {
            fprintf(stderr, "pk: %d^3 on %d ranks: read %.3f s, FFT and binning %.3f s\n", N,
                    m.nranks, t_read, t_pk);
        }
    }
    hb_pk_free(&pk);
    fftwf_free(b1);
    fftwf_free(b2);
    hb_mesh_free(&m);
    return rc;
}
