/* Training-data commands: suite, paint-mock, calibrate-mock, import-camels, import-cmd. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "hb/camels.h"
#include "hb/mesh.h"
#include "hb/mock.h"
#include "hb/mock_calib.h"
#include "hb/mpiutil.h"
#include "hb/suite.h"

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
    static const char *used[] = {"cosmology.", "simulation.", "mock.", "output.", NULL},
                      *per_row[] = {"cosmology.omega_m", "cosmology.sigma_8", "simulation.seed", NULL};
    HB_TRY(hb_cli_check_overrides("suite (the table sets each row's Omega_m, sigma_8, A's and seed)", over, nover,
                                  used, per_row));
    /* the per-row keys come from the table; the fixed ones default to CAMELS */
    char *base_over[70];
    static char om[] = "cosmology.omega_m=0.3", s8[] = "cosmology.sigma_8=0.8";
    base_over[0] = om;
    base_over[1] = s8;
    for (int i = 0; i < nover; i++) base_over[2 + i] = over[i];
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover + 2, base_over, NULL, MPI_COMM_WORLD));
    hb_suite_config *cfg = malloc(sizeof *cfg);
    if (hb_mpi_any(MPI_COMM_WORLD, !cfg)) { free(cfg); return HB_ERR0(HB_ENOMEM, "suite configuration"); }
    hb_cli_provenance(&par, &cfg->prov);
    rc = hb_cli_sim_config(&par, &cfg->prov, &cfg->sim);
    cfg->mock = hb_cli_mock(&par, 0);
    cfg->mock_seed = hb_params_int(&par, "mock.seed");
    if (rc != HB_OK) { free(cfg); return rc; }
    hb_suite_row *rows = NULL;
    int n = 0;
    rc = table ? hb_suite_read_table(table, &rows, &n, MPI_COMM_WORLD) : hb_suite_latin_hypercube((int)lh, (uint64_t)seed, &rows);
    if (lh > 0) n = (int)lh;
    int r0 = 0, r1 = n;
    if (rc == HB_OK && rows_arg && (sscanf(rows_arg, "%d:%d", &r0, &r1) != 2 || r0 < 0 || r1 > n || r0 >= r1)) {
        rc = HB_ERR0(HB_EARG, "--rows %s: expected I:J with 0 <= I < J <= %d", rows_arg, n);
    }
    if (rc != HB_OK) { free(rows); free(cfg); return rc; }
    int rank = hb_world_rank();
    if (rank == 0) mkdir(dir, 0755);
    char tpath[2048];
    snprintf(tpath, sizeof tpath, "%s/params.txt", dir);
    if (rank == 0) rc = hb_suite_write_table(tpath, rows, n);
    rc = hb_mpi_agree(MPI_COMM_WORLD, rc);
    if (rc == HB_OK) {
        hb_log0("suite: rows %d..%d of %d into %s/ (%s)", r0, r1 - 1, n, dir, table ? table : "Latin hypercube");
        rc = hb_suite_run(cfg, rows, r0, r1, dir, MPI_COMM_WORLD);
    }
    free(rows);
    free(cfg);
    return rc;
}

static const char *PAINT_USAGE =
    "usage: hydrobridge paint-mock DM.h5 --out BOX.h5 [section.key=value ...]\n"
    "Paint gas density and temperature onto a DM box with the mock hydro model; the parameters come\n"
    "from the file's attributes ([cosmology], [feedback] overrides replace them; [mock] tunes the model).\n";

/* Read a DM box into a mesh; theta from the file with the overrides of p applied. */
static hb_status load_dm(const char *path, hb_mesh *m, float **dm, hb_boxinfo *bi, const hb_params *p)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, path, MPI_COMM_WORLD));
    int N;
    hb_status rc = hb_h5_field_size(&f, HB_FIELD_DM, &N);
    if (rc == HB_OK) rc = hb_box_read_info(&f, bi);
    if (rc == HB_OK) rc = hb_mesh_init(m, N, bi->box_size, MPI_COMM_WORLD, FFTW_ESTIMATE);
    if (rc == HB_OK) {
        *dm = hb_mesh_alloc(m);
        rc = hb_mpi_any(MPI_COMM_WORLD, !*dm) ? HB_ERR0(HB_ENOMEM, "DM mesh")
                                              : hb_box_read_mesh_field(&f, HB_FIELD_DM, m, *dm, HB_VALUES_DENSITY);
    }
    hb_h5_close(&f);
    double ov[HB_NTHETA];
    hb_cli_theta_overrides(p, ov);
    hb_theta_override(bi->theta, ov);
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
    static const char *used[] = {"cosmology.omega_m", "cosmology.sigma_8", "feedback.", "mock.", NULL};
    HB_TRY(hb_cli_check_overrides("paint-mock", over, nover, used, NULL));
    const char *outs[] = {out}, *ins[] = {in};
    HB_TRY(hb_cli_check_io(outs, 1, ins, 1));
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover, over, NULL, MPI_COMM_WORLD));
    hb_provenance *prov = malloc(sizeof *prov);
    if (hb_mpi_any(MPI_COMM_WORLD, !prov)) { free(prov); return HB_ERR0(HB_ENOMEM, "provenance"); }
    hb_cli_provenance(&par, prov);
    double ov[HB_NTHETA];
    hb_cli_theta_overrides(&par, ov);
    hb_mock_config mc = hb_cli_mock(&par, 0);
    rc = hb_mock_paint_file(in, out, &mc, hb_params_int(&par, "mock.seed"), ov, prov, MPI_COMM_WORLD);
    free(prov);
    if (rc == HB_OK) hb_log0("paint-mock: wrote %s", out);
    return rc;
}

static const char *CAL_USAGE =
    "usage: hydrobridge calibrate-mock DM.h5 [DM2.h5 ...] [--iterations N] [section.key=value ...]\n"
    "Fit the mock's free constants (mock.f0, r0, delta_c, width, k_jeans, sigma_gas0) so that the total-matter\n"
    "suppression (DM + gas + stars against DM only) of DM.h5 follows the CAMELS IllustrisTNG fit of\n"
    "syren-baryon at k = 1-10 h/Mpc for A_AGN2 = 1, 0.5 and 2 (GSL Nelder-Mead on bounded transforms),\n"
    "then print the table. DM.h5 should resolve k = 10 h/Mpc (e.g. 128^3 in 25 Mpc/h, z = 0); with several\n"
    "boxes (realisations) the mean of their objectives is minimised and each box's table printed.\n"
    "--iterations 0 only prints the table for the current constants.\n";

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
    static const char *used[] = {"cosmology.omega_m", "cosmology.sigma_8", "feedback.", "mock.", "simulation.seed", NULL};
    HB_TRY(hb_cli_check_overrides("calibrate-mock", over, nover, used, NULL));
    hb_params par;
    HB_TRY(hb_params_load(&par, NULL, nover, over, NULL, MPI_COMM_WORLD));
    hb_mesh m[8];
    float *dm[8] = {NULL};
    hb_calib_box boxes[8];
    int loaded = 0;
    for (int i = 0; i < nbox && rc == HB_OK; i++, loaded++) {
        rc = load_dm(argv[optind + i], &m[i], &dm[i], &boxes[i].info, &par);
        boxes[i].m = &m[i];
        boxes[i].dm = dm[i];
        boxes[i].name = argv[optind + i];
    }
    /* the noise seed of the painter: mock.seed, else simulation.seed + 7919 (not the box's) */
    hb_mock_config base = hb_cli_mock(&par, hb_params_int(&par, "simulation.seed")), fit;
    double worst = 0;
    if (rc == HB_OK) rc = hb_mock_calibrate(boxes, nbox, &base, iters, &fit, &worst);
    for (int i = 0; i < loaded; i++) {
        fftwf_free(dm[i]);
        hb_mesh_free(&m[i]);
    }
    return rc;
}

/* ---- importers --------------------------------------------------------- */

/* theta of row `name` of a CAMELS table; or of row `index` of a CMD params file
 * (6 numbers per line). */
static hb_status theta_from_table(const char *path, const char *name, long index, double th[HB_NTHETA])
{
    hb_suite_row *rows = NULL;
    int n = 0;
    if (name) {
        HB_TRY(hb_suite_read_table(path, &rows, &n, MPI_COMM_WORLD));
        for (int i = 0; i < n; i++) {
            if (strcmp(rows[i].name, name) == 0) {
                memcpy(th, rows[i].theta, sizeof rows[i].theta);
                free(rows);
                return HB_OK;   /* rows are range-checked by hb_suite_read_table */
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
            if (i++ == index) {   /* a leading name (a CosmoAstroSeed table, row i simulation i) is skipped */
                const char *p = line + strspn(line, " \t");
                char *end;
                (void)strtod(p, &end);
                if (end == p || !isspace((unsigned char)*end)) p += strcspn(p, " \t\n");   /* "LH_0", "1P_p1_n2" */
                got = sscanf(p, "%lf %lf %lf %lf %lf %lf", &th[0], &th[1], &th[2], &th[3], &th[4], &th[5]);
                break;
            }
        }
        if (f) fclose(f);
        if (!f) rc = HB_ERR(HB_EIO, "cannot read %s", path);
        else if (got != 6) rc = HB_ERR(HB_EARG, "%s: no row %ld with six numbers (Om s8 A_SN1 A_AGN1 A_SN2 A_AGN2)", path, index);
    }
    HB_TRY(hb_mpi_agree(MPI_COMM_WORLD, rc));
    HB_TRY(hb_mpi(MPI_Bcast(th, HB_NTHETA, MPI_DOUBLE, 0, MPI_COMM_WORLD)));
    char where[1100];
    snprintf(where, sizeof where, "%s row %ld", path, index);
    return hb_theta_check(th, where);
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
    hb_theta_none(o.theta);
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
    const char *outs[] = {out}, *ins[] = {argv[optind], table};
    HB_TRY(hb_cli_check_io(outs, 1, ins, 2));
    if (table) {
        HB_TRY(theta_from_table(table, row, 0, o.theta));
        o.theta[HB_OMEGA_M] = NAN;   /* Omega_m from the header */
        snprintf(o.name, sizeof o.name, "%s", row);
    }
    return hb_import_camels(argv[optind], &o, out, MPI_COMM_WORLD);
}

static const char *CMD_USAGE =
    "usage: hydrobridge import-cmd [--mcdm GRIDS.npy] [--mgas GRIDS.npy] [--temp GRIDS.npy] --index I\n"
    "                              [--params FILE] [--box-size 25] --out box.h5\n"
    "Grid I of CAMELS Multifield Dataset .npy files (float32, shape (n_sims, N, N, N), NPY versions 1 and\n"
    "2) as a box file: Mcdm -> dm_density and Mgas -> gas_density (divided by their mean), T ->\n"
    "gas_temperature. --params: the CMD params file (Om s8 A_SN1 A_AGN1 A_SN2 A_AGN2 per line) or a CAMELS\n"
    "table with names (CosmoAstroSeed_*_LH.txt: the same rows in the same order), row I of either.\n";

hb_status hb_cmd_import_cmd(int argc, char **argv)
{
    static const struct option opts[] = {{"mcdm", required_argument, 0, 'c'}, {"mgas", required_argument, 0, 'g'},
                                         {"temp", required_argument, 0, 't'}, {"index", required_argument, 0, 'i'},
                                         {"params", required_argument, 0, 'p'}, {"box-size", required_argument, 0, 'b'},
                                         {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *mc = NULL, *mg = NULL, *tp = NULL, *params = NULL, *out = NULL;
    long index = -1;
    double box = 25.0, th[HB_NTHETA] = {0.3, 0.8, 1, 1, 1, 1};
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
    const char *outs[] = {out}, *ins[] = {mc, mg, tp, params};
    HB_TRY(hb_cli_check_io(outs, 1, ins, 4));
    if (params) HB_TRY(theta_from_table(params, NULL, index, th));
    return hb_import_cmd(mc, mg, tp, index, box, th, out, MPI_COMM_WORLD);
}

static const char *HOLDOUT_USAGE =
    "usage: hydrobridge holdout TABLE N\n"
    "Print the names of N rows of a parameter table (e.g. a suite's params.txt) to hold out of training,\n"
    "one per line: from the last row backwards, each inside the parameter range of the rows left for\n"
    "training, since emulate refuses to extrapolate. jobs/pipeline.sh uses it.\n";

hb_status hb_cmd_holdout(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { hb_cli_usage(HOLDOUT_USAGE); return HB_OK; }
    }
    long nh = 0;
    if (argc != 3) return HB_ERR0(HB_EARG, "need TABLE and N\n%s", HOLDOUT_USAGE);
    HB_TRY(hb_cli_long("N", argv[2], &nh));
    hb_suite_row *rows = NULL;
    int n = 0;
    HB_TRY(hb_suite_read_table(argv[1], &rows, &n, MPI_COMM_WORLD));
    int *held = calloc((size_t)n, sizeof *held);
    hb_status rc = held ? HB_OK : HB_ERR(HB_ENOMEM, "%d rows", n);
    if (rc == HB_OK && (nh < 1 || nh > n - 2)) {
        rc = HB_ERR0(HB_EARG, "N = %ld: need 1 <= N <= %d (at least two rows left for training)", nh, n - 2);
    }
    int got = rc == HB_OK ? hb_suite_pick_heldout(rows, n, (int)nh, held) : 0;
    if (rc == HB_OK && got < nh) {
        rc = HB_ERR0(HB_EARG, "%s: only %d of its %d rows lie inside the parameter range of the others; cannot "
                     "hold out %ld without extrapolating (use more boxes or fewer held out)", argv[1], got, n, nh);
    }
    for (int i = 0; i < n && rc == HB_OK; i++) {
        if (held[i] && hb_world_rank() == 0) printf("%s\n", rows[i].name);
    }
    free(held);
    free(rows);
    return rc;
}
