/* Parameter suites of simulated + mock-painted boxes (hb/suite.h). */
#include "hb/suite.h"

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
    float *gas = hb_mesh_alloc(&m), *temp = hb_mesh_alloc(&m);
    hb_status rc = hb_mpi_any(comm, !gas || !temp) ? HB_ERR0(HB_ENOMEM, "box meshes") : HB_OK;
    hb_boxinfo bi = hb_sim_boxinfo(&cfg->sim, z);
    double fstar = 0;
    if (rc == HB_OK) rc = hb_mock_paint(&m, dm, &cfg->mock, bi.theta, z, gas, temp, NULL, &fstar);
    if (rc == HB_OK) {
        hb_box_fields bf = hb_box_fields_mesh(&m, dm, "cic", gas, temp, "none");
        hb_h5_attr extra[] = {{"gas_model", 's', 0, 0, "hydrobridge mock (SBP-1)"}, {"stellar_fraction", 'd', fstar, 0, NULL}};
        rc = hb_box_write(path, comm, &bf, &bi, extra, 2, cfg->sim.prov);
    }
    fftwf_free(dm);
    fftwf_free(gas);
    fftwf_free(temp);
    hb_mesh_free(&m);
    return rc;
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
        if (rc == HB_OK && exists) {
            snprintf(extra, sizeof extra, "%s exists, skipped", path);
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
