/* Parameter suites of simulated + mock-painted boxes (hb/suite.h). */
#include "hb/suite.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb/mesh.h"
#include "hb/mock.h"
#include "hb/mpiutil.h"
#include "hb/rng.h"
#include "hb/simulate.h"
#include "hb/stepper.h"

/* Column k of the CAMELS header: Name, the six theta, seed. */
static const char *column(int k)
{
    return k == 0 ? "name" : k <= HB_NTHETA ? HB_THETA[k - 1].name : "seed";
}

/* A row's name is a plain file name (letters, digits, '_', '-', '.'; not
 * starting with '.'), unique in the table; its parameters in range. */
static hb_status check_row(const char *path, int lineno, const hb_suite_row *row, const hb_suite_row *prev, int n)
{
    int plain = row->name[0] != '.' && row->name[0] != '\0';
    for (const char *c = row->name; plain && *c; c++) plain = isalnum((unsigned char)*c) || strchr("_-.", *c);
    if (!plain) {
        return HB_ERR(HB_EARG, "%s:%d: row name \"%s\" is not a plain file name (letters, digits, _ - .)", path,
                      lineno, row->name);
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(prev[i].name, row->name) == 0) {
            return HB_ERR(HB_EARG, "%s:%d: row name %s appears twice (its boxes would overwrite each other)", path,
                          lineno, row->name);
        }
    }
    char where[4200];
    snprintf(where, sizeof where, "%s:%d (row %s)", path, lineno, row->name);
    return hb_theta_check(row->theta, where);
}

static hb_status parse_table(const char *path, hb_suite_row **rows, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) return HB_ERR(HB_EIO, "cannot read parameter table %s: %s", path, strerror(errno));
    char line[4096];
    int cap = 64, count = 0, lineno = 0;
    hb_suite_row *r = malloc((size_t)cap * sizeof *r);
    hb_status rc = HB_OK;
    while (rc == HB_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '\n' || *s == '\0') continue;
        if (*s == '#') {
            /* the header must name the 8 CAMELS LH columns */
            char *tok[64];
            int nt = 0;
            for (char *t = strtok(s + 1, " \t\r\n"); t && nt < 64; t = strtok(NULL, " \t\r\n")) tok[nt++] = t;
            int ok = nt == 8;
            for (int i = 0; ok && i < 8; i++) ok = strcasecmp(tok[i], column(i)) == 0;
            if (!ok && nt > 0) {
                rc = HB_ERR(HB_EARG, "%s:%d: expected the header \"#Name Omega_m sigma_8 A_SN1 A_AGN1 A_SN2 A_AGN2 "
                            "seed\" (the CAMELS LH/CV layout), found %d columns starting \"%s\"", path, lineno, nt, tok[0]);
            }
            continue;
        }
        hb_suite_row row;
        int used = 0;
        if (sscanf(s, "%63s %lf %lf %lf %lf %lf %lf %ld %n", row.name, &row.theta[0], &row.theta[1], &row.theta[2],
                   &row.theta[3], &row.theta[4], &row.theta[5], &row.seed, &used) != 8 || s[used] != '\0') {
            rc = HB_ERR(HB_EARG, "%s:%d: expected name, six numbers and an integer seed", path, lineno);
            break;
        }
        rc = check_row(path, lineno, &row, r, count);
        if (rc != HB_OK) break;
        if (count == cap) r = realloc(r, (size_t)(cap *= 2) * sizeof *r);
        r[count++] = row;
    }
    fclose(f);
    if (rc == HB_OK && count == 0) rc = HB_ERR(HB_EARG, "%s: no rows", path);
    if (rc != HB_OK) {
        free(r);
        return rc;
    }
    *rows = r;
    *n = count;
    return HB_OK;
}

hb_status hb_suite_read_table(const char *path, hb_suite_row **rows, int *n, MPI_Comm comm)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    hb_status rc = HB_OK;
    *rows = NULL;
    *n = 0;
    if (rank == 0) rc = parse_table(path, rows, n);
    HB_TRY(hb_mpi_agree(comm, rc));
    HB_TRY(hb_mpi(MPI_Bcast(n, 1, MPI_INT, 0, comm)));
    if (rank != 0) *rows = malloc((size_t)*n * sizeof **rows);
    if (hb_mpi_any(comm, !*rows)) return HB_ERR0(HB_ENOMEM, "%d table rows", *n);
    return hb_mpi(MPI_Bcast(*rows, (int)(*n * sizeof **rows), MPI_BYTE, 0, comm));
}

hb_status hb_suite_latin_hypercube(int n, uint64_t seed, hb_suite_row **rows)
{
    if (n < 1) return HB_ERR0(HB_EARG, "--lh %d: need at least one point", n);
    hb_suite_row *r = calloc((size_t)n, sizeof *r);
    int *perm = malloc((size_t)n * sizeof *perm);
    for (int p = 0; p < HB_NTHETA; p++) {
        const double lo = HB_THETA[p].lo, hi = HB_THETA[p].hi;
        /* Fisher-Yates with counter-based draws: stratum perm[i] for point i */
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            double u[2];
            hb_rng_uniform2(seed, HB_STREAM_LH, (uint64_t)p * 1000003u + (uint64_t)i, 0, u);
            int j = (int)(u[0] * (i + 1));
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        for (int i = 0; i < n; i++) {
            double u[2];
            hb_rng_uniform2(seed, HB_STREAM_LH, (uint64_t)p * 1000003u + (uint64_t)i, 1, u);
            double x = (perm[i] + u[0]) / n;   /* inside stratum perm[i] */
            double v = HB_THETA[p].log ? exp(log(lo) + x * (log(hi) - log(lo))) : lo + x * (hi - lo);
            /* to the 5 decimals of the table (hb_suite_write_table): the boxes and
             * params.txt then hold the same numbers */
            r[i].theta[p] = round(v * 1e5) / 1e5;
        }
    }
    for (int i = 0; i < n; i++) {
        snprintf(r[i].name, sizeof r[i].name, "LH_%d", i);
        r[i].seed = (long)seed + i;
    }
    free(perm);
    *rows = r;
    return HB_OK;
}

hb_status hb_suite_write_table(const char *path, const hb_suite_row *rows, int n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return HB_ERR(HB_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "#Name  Omega_m  sigma_8  A_SN1     A_AGN1  A_SN2  A_AGN2  seed\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s %.5f %.5f %.5f %.5f %.5f %.5f %ld\n", rows[i].name, rows[i].theta[0], rows[i].theta[1],
                rows[i].theta[2], rows[i].theta[3], rows[i].theta[4], rows[i].theta[5], rows[i].seed);
    }
    int bad = ferror(f) | (fclose(f) != 0);
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return HB_ERR(HB_EIO, "cannot write %s", path);
    }
    return HB_OK;
}

void hb_suite_row_config(const hb_suite_config *base, const hb_suite_row *row, hb_suite_config *out)
{
    *out = *base;
    hb_sim_config_set_theta(&out->sim, row->theta);
    out->sim.seed = row->seed;
    out->mock.seed = hb_mock_seed(base->mock_seed, row->seed);
    for (int k = 0; k < HB_NTHETA; k++) hb_prov_set(&out->prov, HB_THETA[k].key, "%.10g", row->theta[k]);
    hb_prov_set(&out->prov, "simulation.seed", "%ld", row->seed);
    out->sim.prov = &out->prov;
}

/* The DM density at the last output redshift of cfg, on a fresh n_grid mesh. */
static hb_status simulate_dm(const hb_sim_config *cfg, hb_mesh *m, float **dm, MPI_Comm comm)
{
    int nranks;
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &nranks)));
    HB_TRY(hb_sim_config_check(cfg, nranks));
    hb_sim s;
    HB_TRY(hb_sim_init(&s, cfg, comm));
    const double z = cfg->z_out[cfg->n_out - 1], a_end = 1 / (1 + z);
    double *a = NULL;
    int n = 0;
    hb_status rc = hb_timesteps(s.a, &a_end, 1, cfg->n_steps, &a, &n);
    for (int i = 1; rc == HB_OK && i <= n; i++) rc = hb_sim_step(&s, a[i]);
    free(a);
    if (rc == HB_OK) rc = hb_mesh_init(m, cfg->n_grid, cfg->box_size, comm, FFTW_ESTIMATE);
    if (rc == HB_OK) {
        *dm = hb_mesh_alloc(m);
        if (hb_mpi_any(comm, !*dm)) rc = HB_ERR0(HB_ENOMEM, "box mesh");
        if (rc == HB_OK) rc = hb_sim_density(&s, m, *dm);
        if (rc != HB_OK) hb_mesh_free(m);
    }
    hb_sim_free(&s);
    return rc;
}

hb_status hb_suite_make_box(const hb_suite_config *cfg, const char *path, MPI_Comm comm)
{
    hb_mesh m;
    float *dm = NULL;
    HB_TRY(simulate_dm(&cfg->sim, &m, &dm, comm));
    const double z = cfg->sim.z_out[cfg->sim.n_out - 1];
    float *gas = hb_mesh_alloc(&m), *temp = hb_mesh_alloc(&m), *stars = hb_mesh_alloc(&m);
    hb_status rc = hb_mpi_any(comm, !gas || !temp || !stars) ? HB_ERR0(HB_ENOMEM, "box meshes") : HB_OK;
    hb_boxinfo bi = hb_sim_boxinfo(&cfg->sim, z);
    double fstar = 0;
    if (rc == HB_OK) rc = hb_mock_paint(&m, dm, &cfg->mock, bi.theta, z, gas, temp, stars, &fstar);
    if (rc == HB_OK) {
        hb_box_fields bf = hb_box_fields_mesh(&m, dm, hb_sim_out_mas(&cfg->sim), gas, temp, "none");
        bf.field[HB_BOX_STARS] = stars;
        hb_h5_attr extra[] = {{"gas_model", 's', 0, 0, "hydrobridge mock (SBP-1)"}, {"stellar_fraction", 'd', fstar, 0, NULL}};
        rc = hb_box_write(path, comm, &bf, &bi, extra, 2, cfg->sim.prov);
    }
    fftwf_free(dm);
    fftwf_free(gas);
    fftwf_free(temp);
    fftwf_free(stars);
    hb_mesh_free(&m);
    return rc;
}

/* An existing file at path is skipped only when it is a box of this row:
 * a readable box file with every field on the configured grid, the row's
 * parameters and seed and the configured box size. Anything else is an
 * error (never overwritten: it may be someone's data). Collective. */
static hb_status check_existing(const char *path, const hb_suite_config *cfg, const hb_suite_row *row, MPI_Comm comm)
{
    hb_h5 f;
    hb_status rc = hb_h5_open(&f, path, comm);
    if (rc != HB_OK) {
        return HB_ERR0(HB_EIO, "%s exists but is not a readable box file; delete it to make the box of row %s",
                       path, row->name);
    }
    hb_boxinfo bi;
    rc = hb_box_read_info(&f, &bi);
    const char *fields[] = {HB_FIELD_DM, HB_FIELD_GAS, HB_FIELD_TEMP};
    for (int i = 0; i < 3 && rc == HB_OK; i++) {
        int N = 0;
        rc = hb_h5_field_size(&f, fields[i], &N);
        if (rc == HB_OK && N != cfg->sim.n_grid) {
            rc = HB_ERR0(HB_EARG, "%s exists with a %d^3 %s, but the suite makes %d^3 boxes", path, N, fields[i],
                         cfg->sim.n_grid);
        }
    }
    hb_h5_close(&f);
    if (rc != HB_OK) return HB_ERR0(rc, "%s exists but is not a complete box; delete it to remake row %s", path, row->name);
    int same = bi.seed == row->seed && fabs(bi.box_size - cfg->sim.box_size) <= 1e-9 * cfg->sim.box_size;
    for (int k = 0; k < HB_NTHETA; k++) same &= fabs(bi.theta[k] - row->theta[k]) <= 1e-9 * fabs(row->theta[k]);
    if (!same) {
        return HB_ERR0(HB_EARG, "%s exists but holds another box (seed %ld, %g Mpc/h, Omega_m %g, sigma_8 %g) than "
                       "row %s (seed %ld, %g Mpc/h, Omega_m %g, sigma_8 %g); delete it or choose another --out", path,
                       bi.seed, bi.box_size, bi.theta[0], bi.theta[1], row->name, row->seed, cfg->sim.box_size,
                       row->theta[0], row->theta[1]);
    }
    return HB_OK;
}

hb_status hb_suite_run(const hb_suite_config *base, const hb_suite_row *rows, int row0, int row1, const char *dir,
                       MPI_Comm comm)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    hb_progress prog;
    hb_progress_init(&prog, "suite", row1 - row0, "boxes");
    prog.min_interval = 0;
    hb_suite_config *cfg = malloc(sizeof *cfg);
    if (hb_mpi_any(comm, !cfg)) { free(cfg); return HB_ERR0(HB_ENOMEM, "suite configuration"); }
    hb_status rc = HB_OK;
    for (int i = row0; i < row1 && rc == HB_OK; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.h5", dir, rows[i].name);
        int exists = 0;
        if (rank == 0) exists = access(path, F_OK) == 0;
        rc = hb_mpi(MPI_Bcast(&exists, 1, MPI_INT, 0, comm));
        char extra[2200];
        if (rc == HB_OK && exists) rc = check_existing(path, base, &rows[i], comm);
        if (rc == HB_OK && exists) {
            snprintf(extra, sizeof extra, "%s exists (this row's box), skipped", path);
        } else if (rc == HB_OK) {
            hb_suite_row_config(base, &rows[i], cfg);
            double t0 = hb_now();
            rc = hb_suite_make_box(cfg, path, comm);
            snprintf(extra, sizeof extra, "%s in %.1f s", path, hb_now() - t0);
        }
        if (rc == HB_OK) hb_progress_step(&prog, i - row0 + 1, extra);
    }
    free(cfg);
    return rc;
}

/* Is row i inside the range of the rows neither held out nor i? */
static int inside_rest(const hb_suite_row *rows, int n, const int *held, int i)
{
    for (int k = 0; k < HB_NTHETA; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < n; j++) {
            if (j == i || held[j]) continue;
            lo = fmin(lo, rows[j].theta[k]);
            hi = fmax(hi, rows[j].theta[k]);
        }
        if (!(rows[i].theta[k] >= lo && rows[i].theta[k] <= hi)) return 0;
    }
    return 1;
}

int hb_suite_pick_heldout(const hb_suite_row *rows, int n, int n_held, int *held)
{
    for (int i = 0; i < n; i++) held[i] = 0;
    int got = 0;
    for (int i = n - 1; i >= 0 && got < n_held; i--) {
        if (inside_rest(rows, n, held, i)) {
            held[i] = 1;
            got++;
        }
    }
    return got;
}
