/* Training sets: file lists, statistics, standardised slabs, patches (hb/dataset.h). */
#include "hb/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"
#include "hb/rng.h"

/* ---- file lists -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static hb_status list_local(const char *src, char **buf, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    int count = 0;
    DIR *d = opendir(src);
    char **names = NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l > 3 && strcmp(e->d_name + l - 3, ".h5") == 0) {
                names = realloc(names, (size_t)(count + 1) * sizeof *names);
                names[count] = malloc(strlen(src) + l + 2);
                sprintf(names[count], "%s/%s", src, e->d_name);
                count++;
            }
        }
        closedir(d);
        qsort(names, (size_t)count, sizeof *names, cmp_str);
    } else {
        FILE *f = fopen(src, "r");
        if (!f) {
            free(out);
            return HB_ERR(HB_EIO, "%s is neither a directory nor a readable list file: %s", src, strerror(errno));
        }
        char line[2048];
        while (fgets(line, sizeof line, f)) {
            char *s = line;
            while (*s == ' ' || *s == '\t') s++;
            s[strcspn(s, "\r\n#")] = '\0';
            size_t l = strlen(s);
            while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = '\0';
            if (!l) continue;
            names = realloc(names, (size_t)(count + 1) * sizeof *names);
            names[count++] = strdup(s);
        }
        fclose(f);
    }
    for (int i = 0; i < count; i++) {
        size_t l = strlen(names[i]);
        if (n + l + 2 > cap) {
            cap = 2 * (n + l + 2);
            out = realloc(out, cap);
        }
        memcpy(out + n, names[i], l);
        out[n + l] = '\n';
        n += l + 1;
        free(names[i]);
    }
    free(names);
    out[n] = '\0';
    *buf = out;
    *len = n + 1;
    return HB_OK;
}

hb_status hb_dataset_list(const char *src, char ***paths, int *n, MPI_Comm comm)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    char *buf = NULL;
    size_t len = 0;
    hb_status rc = HB_OK;
    if (rank == 0) rc = list_local(src, &buf, &len);
    HB_TRY(hb_mpi_agree(comm, rc));
    long l = (long)len;
    HB_TRY(hb_mpi(MPI_Bcast(&l, 1, MPI_LONG, 0, comm)));
    if (rank != 0) buf = malloc((size_t)l);
    if (hb_mpi_any(comm, !buf)) { free(buf); return HB_ERR0(HB_ENOMEM, "file list of %ld bytes", l); }
    HB_TRY(hb_mpi(MPI_Bcast(buf, (int)l, MPI_CHAR, 0, comm)));
    int count = 0;
    for (char *p = buf; *p; p++) count += *p == '\n';
    char **out = calloc((size_t)(count ? count : 1), sizeof *out);
    int i = 0;
    for (char *tok = strtok(buf, "\n"); tok && i < count; tok = strtok(NULL, "\n")) out[i++] = strdup(tok);
    free(buf);
    *paths = out;
    *n = count;
    if (count == 0) return HB_ERR0(HB_EIO, "no box files (*.h5) in %s", src);
    return HB_OK;
}

void hb_dataset_free_list(char **paths, int n)
{
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

/* ---- reading ----------------------------------------------------------- */

static const char *const FIELD[HB_NCH] = {HB_FIELD_DM, HB_FIELD_GAS, HB_FIELD_TEMP};

void hb_dataset_free(hb_dataset *ds)
{
    for (int i = 0; i < ds->n_boxes && ds->boxes; i++) free(ds->boxes[i].data);
    free(ds->boxes);
    hb_slab_free(&ds->slab);
    memset(ds, 0, sizeof *ds);
}

/* Open box b, check its three fields are N^3 alike and read its description. */
static hb_status open_box(const char *path, hb_h5 *f, int *N, hb_boxinfo *info, MPI_Comm comm)
{
    HB_TRY(hb_h5_open(f, path, comm));
    hb_status rc = HB_OK;
    for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
        int Nc;
        rc = hb_h5_field_size(f, FIELD[ch], &Nc);
        if (rc == HB_OK && ch == 0) *N = Nc;
        if (rc == HB_OK && Nc != *N) rc = HB_ERR0(HB_EIO, "%s: %s is %d^3 but %s is %d^3", path, FIELD[ch], Nc, FIELD[0], *N);
    }
    if (rc == HB_OK) rc = hb_box_read_info(f, info);
    if (rc == HB_OK && *N % 4) rc = HB_ERR0(HB_EARG, "%s: grid %d^3 is not a multiple of 4 (the network halves it twice)", path, *N);
    if (rc != HB_OK) hb_h5_close(f);
    return rc;
}

/* log10 of channel ch (floored) of ext planes from x0 into out[i * HB_NCH + ch]. */
static hb_status read_log(hb_h5 *f, int ch, int N, long x0, long ext, double floor, float *tmp, float *out)
{
    HB_TRY(hb_h5_read_field(f, FIELD[ch], N, x0, ext, tmp, (size_t)N));
    const size_t n = (size_t)ext * N * N;
    for (size_t i = 0; i < n; i++) out[i * HB_NCH + ch] = (float)log10(tmp[i] > floor ? tmp[i] : floor);
    return HB_OK;
}

/* Add log10 of one channel's own planes (floored) to the sums (in double). */
static void accumulate_log(const float *v, size_t n, double floor, double *sum, double *sum2, double *lmin,
                           double *lmax)
{
    for (size_t i = 0; i < n; i++) {
        double lv = log10(v[i] > floor ? v[i] : floor);
        *sum += lv;
        *sum2 += lv * lv;
        *lmin = fmin(*lmin, lv);
        *lmax = fmax(*lmax, lv);
    }
}

hb_status hb_dataset_stats(char **paths, int n, hb_interp *ic, MPI_Comm comm)
{
    double sum[2 * HB_NCH] = {0}, lmin[HB_NCH], lmax[HB_NCH], count = 0;
    for (int ch = 0; ch < HB_NCH; ch++) { lmin[ch] = 1e300; lmax[ch] = -1e300; }
    hb_slab slab;
    memset(&slab, 0, sizeof slab);
    float *tmp = NULL;
    hb_status rc = HB_OK;
    for (int b = 0; b < n && rc == HB_OK; b++) {
        hb_h5 f;
        hb_boxinfo info;
        int N = 0;
        rc = open_box(paths[b], &f, &N, &info, comm);
        if (rc != HB_OK) break;
        if (b == 0) {
            rc = hb_slab_init(&slab, N, comm);
            tmp = malloc(((size_t)slab.nx + 1) * N * N * sizeof *tmp);
            if (rc == HB_OK && hb_mpi_any(comm, !tmp)) rc = HB_ERR0(HB_ENOMEM, "statistics buffer");
        } else if (N != slab.N) {
            rc = HB_ERR0(HB_EARG, "%s is %d^3, but %s is %d^3: every box must match", paths[b], N, paths[0], slab.N);
        }
        const size_t nc = (size_t)slab.nx * N * N;   /* own planes: each cell counted once */
        for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
            rc = hb_h5_read_field(&f, FIELD[ch], N, slab.x0, slab.nx, tmp, (size_t)N);
            if (rc == HB_OK) accumulate_log(tmp, nc, ic->floor[ch], &sum[ch], &sum[HB_NCH + ch], &lmin[ch], &lmax[ch]);
        }
        hb_h5_close(&f);
        count += (double)nc;
    }
    free(tmp);
    hb_slab_free(&slab);
    HB_TRY(rc);
    HB_TRY(hb_mpi_sum(comm, sum, 2 * HB_NCH));
    HB_TRY(hb_mpi_sum(comm, &count, 1));
    HB_TRY(hb_mpi_min(comm, lmin, HB_NCH));
    HB_TRY(hb_mpi_max(comm, lmax, HB_NCH));
    for (int ch = 0; ch < HB_NCH; ch++) {
        ic->lmin[ch] = lmin[ch];
        ic->lmax[ch] = lmax[ch];
        ic->mean[ch] = sum[ch] / count;
        double var = sum[HB_NCH + ch] / count - ic->mean[ch] * ic->mean[ch];
        ic->std[ch] = var > 1e-12 ? sqrt(var) : 1.0;
    }
    return HB_OK;
}

hb_status hb_dataset_load(hb_dataset *ds, char **paths, int n, long halo, const hb_interp *ic, MPI_Comm comm)
{
    memset(ds, 0, sizeof *ds);
    ds->n_boxes = n;
    ds->halo = halo;
    ds->boxes = calloc((size_t)n, sizeof *ds->boxes);
    if (hb_mpi_any(comm, !ds->boxes)) return HB_ERR0(HB_ENOMEM, "%d boxes", n);
    float *tmp = NULL;
    hb_status rc = HB_OK;
    for (int b = 0; b < n && rc == HB_OK; b++) {
        hb_box_slab *bx = &ds->boxes[b];
        snprintf(bx->path, sizeof bx->path, "%s", paths[b]);
        hb_h5 f;
        int N = 0;
        rc = open_box(paths[b], &f, &N, &bx->info, comm);
        if (rc != HB_OK) break;
        if (b == 0) {
            ds->N = N;
            ds->box_size = bx->info.box_size;
            rc = hb_slab_init(&ds->slab, N, comm);
            if (rc == HB_OK && halo > N) rc = HB_ERR0(HB_EARG, "patch of %ld cells is larger than the %d^3 boxes", halo + 1, N);
            if (rc == HB_OK) tmp = malloc(((size_t)(ds->slab.nx + halo) + 1) * N * N * sizeof *tmp);
        } else if (N != ds->N || fabs(bx->info.box_size - ds->box_size) > 1e-6 * ds->box_size) {
            rc = HB_ERR0(HB_EARG, "%s is %d^3 in %g Mpc/h, but %s is %d^3 in %g Mpc/h: every box must match",
                         paths[b], N, bx->info.box_size, paths[0], ds->N, ds->box_size);
        }
        const long ext = ds->slab.nx > 0 ? ds->slab.nx + halo : 0;
        const size_t cells = (size_t)ext * ds->N * ds->N;
        if (rc == HB_OK) {
            bx->data = malloc((cells + 1) * HB_NCH * sizeof *bx->data);
            if (hb_mpi_any(comm, !bx->data || !tmp)) rc = HB_ERR0(HB_ENOMEM, "training slabs (%zu MB per box)", cells * 12 / 1000000);
        }
        for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) rc = read_log(&f, ch, ds->N, ds->slab.x0, ext, ic->floor[ch], tmp, bx->data);
        hb_h5_close(&f);
        /* standardise in place, halos included */
        for (size_t i = 0; rc == HB_OK && i < cells; i++)
            for (int ch = 0; ch < HB_NCH; ch++)
                bx->data[i * HB_NCH + ch] = (float)((bx->data[i * HB_NCH + ch] - ic->mean[ch]) / ic->std[ch]);
    }
    free(tmp);
    if (rc != HB_OK) hb_dataset_free(ds);
    return rc;
}

void hb_dataset_theta_range(const hb_dataset *ds, double lo[HB_NTHETA], double hi[HB_NTHETA])
{
    for (int k = 0; k < HB_NTHETA; k++) {
        lo[k] = 1e300;
        hi[k] = -1e300;
        for (int b = 0; b < ds->n_boxes; b++) {
            lo[k] = fmin(lo[k], ds->boxes[b].info.theta[k]);
            hi[k] = fmax(hi[k], ds->boxes[b].info.theta[k]);
        }
    }
}

/* ---- patches ----------------------------------------------------------- */

static double u32_to_unit(uint32_t r) { return ((double)r + 0.5) / 4294967296.0; }

/* Patch j of B at `step`: x-origin in the j-th stratum, the rest uniform. */
static void patch_at(uint64_t seed, uint32_t stream, long step, int j, int B, int nbox, int N, int augment,
                     hb_patch *s)
{
    uint32_t r[4], q[4];
    hb_rng_u32x4(seed, stream, (uint64_t)step, 2u * (uint32_t)j, r);
    hb_rng_u32x4(seed, stream, (uint64_t)step, 2u * (uint32_t)j + 1, q);
    s->j = j;
    s->box = (int)(r[0] % (uint32_t)nbox);
    s->ox = (int)floor(((double)j + u32_to_unit(r[1])) * N / B);
    if (s->ox >= N) s->ox = N - 1;
    s->oy = (int)(r[2] % (uint32_t)N);
    s->oz = (int)(r[3] % (uint32_t)N);
    s->sym = augment ? (int)(q[0] % 48u) : 0;
    s->t = u32_to_unit(q[1]);
}

int hb_dataset_patches(const hb_dataset *ds, uint64_t seed, uint32_t stream, long step, int B, int augment,
                       hb_patch *out)
{
    int n = 0;
    for (int j = 0; j < B; j++) {
        hb_patch s;
        patch_at(seed, stream, step, j, B, ds->n_boxes, ds->N, augment, &s);
        if (ds->slab.owner[s.ox] == ds->slab.rank) out[n++] = s;
    }
    return n;
}

static const int PERM[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* Output index a maps to patch offsets q[perm[d]] = a[d] or P-1-a[d]. */
void hb_dataset_extract(const hb_dataset *ds, const hb_patch *s, int P, float *x0, float *x1)
{
    const int N = ds->N, *perm = PERM[s->sym / 8], flip = s->sym % 8;
    const float *d = ds->boxes[s->box].data;
    const long lx0 = s->ox - ds->slab.x0;
    for (int a0 = 0; a0 < P; a0++)
        for (int a1 = 0; a1 < P; a1++)
            for (int a2 = 0; a2 < P; a2++) {
                int a[3] = {a0, a1, a2}, q[3];
                for (int dd = 0; dd < 3; dd++) q[perm[dd]] = (flip >> dd & 1) ? P - 1 - a[dd] : a[dd];
                long px = lx0 + q[0];
                int py = (s->oy + q[1]) % N, pz = (s->oz + q[2]) % N;
                const float *src = d + (((size_t)px * N + py) * N + pz) * HB_NCH;
                size_t v = ((size_t)a0 * P + a1) * P + a2;
                x0[v] = src[0];
                x1[2 * v] = src[1];
                x1[2 * v + 1] = src[2];
            }
}
