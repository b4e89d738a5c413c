/* Training sets streamed from box files: listing, plane offsets,
 * statistics, samples and the prefetching loader (hb/dataset.h). */
#include "hb/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/mpiutil.h"
#include "hb/rng.h"
#include "hb/smooth.h"

static const char *const FIELD[HB_NCH] = {HB_FIELD_DM, HB_FIELD_GAS, HB_FIELD_TEMP};

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
        if (count > 0) qsort(names, (size_t)count, sizeof *names, cmp_str);   /* names is NULL when empty */
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

/* ---- opening: descriptions and plane offsets --------------------------- */

/* The file offset of every x plane of dataset d (N^3) when its data can be
 * read raw: little-endian float32 without filters, contiguous or chunked by
 * whole x planes. Returns 0 (use HDF5) otherwise. */
static int plane_offsets(hid_t d, int N, int64_t *off)
{
    const size_t plane_bytes = (size_t)N * N * 4;
    hid_t t = H5Dget_type(d), dcpl = H5Dget_create_plist(d);
    int ok = H5Tequal(t, H5T_IEEE_F32LE) > 0 && H5Pget_nfilters(dcpl) == 0;
    H5D_layout_t lay = H5Pget_layout(dcpl);
    const uint16_t one = 1;
    ok = ok && *(const uint8_t *)&one == 1;   /* a little-endian host */
    if (ok && lay == H5D_CONTIGUOUS) {
        haddr_t a = H5Dget_offset(d);
        ok = a != HADDR_UNDEF;
        for (int x = 0; ok && x < N; x++) off[x] = (int64_t)a + (int64_t)x * (int64_t)plane_bytes;
    } else if (ok && lay == H5D_CHUNKED) {
        hsize_t ch[3] = {0, 0, 0};
        ok = H5Pget_chunk(dcpl, 3, ch) == 3 && ch[1] == (hsize_t)N && ch[2] == (hsize_t)N && ch[0] >= 1;
        for (int x0 = 0; ok && x0 < N; x0 += (int)ch[0]) {
            hsize_t at[3] = {(hsize_t)x0, 0, 0}, size = 0;
            haddr_t a = HADDR_UNDEF;
            unsigned mask = 0;
            ok = H5Dget_chunk_info_by_coord(d, at, &mask, &a, &size) >= 0 && a != HADDR_UNDEF && mask == 0 &&
                 size == ch[0] * plane_bytes;
            for (int x = x0; ok && x < x0 + (int)ch[0] && x < N; x++)
                off[x] = (int64_t)a + (int64_t)(x - x0) * (int64_t)plane_bytes;
        }
    } else {
        ok = 0;
    }
    H5Pclose(dcpl);
    H5Tclose(t);
    return ok;
}

/* Box b on rank 0: sizes, description, plane offsets. */
static hb_status open_box(hb_box_src *bx, int *N)
{
    hb_h5 f;
    HB_TRY(hb_h5_open(&f, bx->path, MPI_COMM_SELF));
    hb_status rc = HB_OK;
    for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
        int Nc;
        rc = hb_h5_field_size(&f, FIELD[ch], &Nc);
        if (rc == HB_OK && ch == 0) *N = Nc;
        if (rc == HB_OK && Nc != *N) rc = HB_ERR(HB_EIO, "%s: %s is %d^3 but %s is %d^3", bx->path, FIELD[ch], Nc, FIELD[0], *N);
    }
    if (rc == HB_OK) rc = hb_box_read_info(&f, &bx->info);
    if (rc == HB_OK) rc = hb_box_read_dm_mas(&f, bx->dm_mas);
    if (rc == HB_OK && *N % 4) rc = HB_ERR(HB_EARG, "%s: grid %d^3 is not a multiple of 4 (the network halves it twice)", bx->path, *N);
    bx->direct = rc == HB_OK;
    for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
        bx->plane_off[ch] = calloc((size_t)*N, sizeof(int64_t));
        if (!bx->plane_off[ch]) { rc = HB_ERR(HB_ENOMEM, "plane offsets"); break; }
        hid_t d = H5Dopen2(f.file, FIELD[ch], H5P_DEFAULT);
        bx->direct = bx->direct && d >= 0 && plane_offsets(d, *N, bx->plane_off[ch]);
        if (d >= 0) H5Dclose(d);
    }
    hb_h5_close(&f);
    return rc;
}

/* Rank 0's view of the set, to broadcast. */
static hb_status open_local(hb_dataset *ds, char **paths, int n)
{
    const char *mas_from = paths[0];   /* the box whose label ds->dm_mas is */
    for (int b = 0; b < n; b++) {
        hb_box_src *bx = &ds->boxes[b];
        snprintf(bx->path, sizeof bx->path, "%s", paths[b]);
        int N = 0;
        HB_TRY(open_box(bx, &N));
        if (b == 0) {
            ds->N = N;
            ds->box_size = bx->info.box_size;
        } else if (N != ds->N || fabs(bx->info.box_size - ds->box_size) > 1e-6 * ds->box_size) {
            return HB_ERR(HB_EARG, "%s is %d^3 in %g Mpc/h, but %s is %d^3 in %g Mpc/h: every box must match",
                          paths[b], N, bx->info.box_size, paths[0], ds->N, ds->box_size);
        }
        if (!hb_mas_compatible(bx->dm_mas, ds->dm_mas)) {
            return HB_ERR(HB_EARG, "%s: its DM is painted with %s (%s's mass_assignment), but %s's with %s: the "
                          "network's DM input must be painted alike in every box", paths[b], bx->dm_mas, HB_FIELD_DM,
                          mas_from, ds->dm_mas);
        }
        if (b == 0 || strcmp(ds->dm_mas, "none") == 0) {   /* the first label that says how */
            snprintf(ds->dm_mas, sizeof ds->dm_mas, "%s", bx->dm_mas);
            mas_from = paths[b];
        }
    }
    return HB_OK;
}

hb_status hb_dataset_open(hb_dataset *ds, char **paths, int n, MPI_Comm comm)
{
    memset(ds, 0, sizeof *ds);
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    if (n < 1) return HB_ERR0(HB_EARG, "no box files");
    ds->n_boxes = n;
    ds->boxes = calloc((size_t)n, sizeof *ds->boxes);
    if (hb_mpi_any(comm, !ds->boxes)) { free(ds->boxes); return HB_ERR0(HB_ENOMEM, "%d boxes", n); }
    hb_status rc = rank == 0 ? open_local(ds, paths, n) : HB_OK;
    rc = hb_mpi_agree(comm, rc);
    int dims[2] = {ds->N, 0};
    if (rc == HB_OK) rc = hb_mpi(MPI_Bcast(dims, 2, MPI_INT, 0, comm));
    if (rc == HB_OK) rc = hb_mpi(MPI_Bcast(&ds->box_size, 1, MPI_DOUBLE, 0, comm));
    ds->N = dims[0];
    for (int b = 0; b < n && rc == HB_OK; b++) {
        hb_box_src *bx = &ds->boxes[b];
        int64_t *keep[HB_NCH];
        memcpy(keep, bx->plane_off, sizeof keep);
        rc = hb_mpi(MPI_Bcast(bx, (int)sizeof *bx, MPI_BYTE, 0, comm));   /* path, info, direct */
        memcpy(bx->plane_off, keep, sizeof keep);
        for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
            if (rank != 0) bx->plane_off[ch] = calloc((size_t)ds->N, sizeof(int64_t));
            if (hb_mpi_any(comm, !bx->plane_off[ch])) rc = HB_ERR0(HB_ENOMEM, "plane offsets");
            else rc = hb_mpi(MPI_Bcast(bx->plane_off[ch], ds->N, MPI_INT64_T, 0, comm));
        }
    }
    if (rc == HB_OK) rc = hb_mpi(MPI_Bcast(ds->dm_mas, (int)sizeof ds->dm_mas, MPI_CHAR, 0, comm));
    if (rc != HB_OK) hb_dataset_close(ds);
    return rc;
}

void hb_dataset_close(hb_dataset *ds)
{
    for (int b = 0; b < ds->n_boxes && ds->boxes; b++)
        for (int ch = 0; ch < HB_NCH; ch++) free(ds->boxes[b].plane_off[ch]);
    free(ds->boxes);
    memset(ds, 0, sizeof *ds);
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

/* ---- statistics ---------------------------------------------------------- */

/* Add log10 of one channel's values (floored) to the sums (in double). */
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

/* Sums of log10 of the smoothed DM (floored at HB_SMOOTH_FLOOR), one pair
 * per radius, over this rank's planes of every box. In rounds of P boxes,
 * rank q smooths box k P + q whole (one read and two FFTs per box and
 * radius, on one rank) and scatters its planes to the ranks that own them;
 * every rank adds its planes box by box, so the sums are those of each rank
 * smoothing every box itself (bitwise: the same FFTW plan on the same
 * values), without every rank reading every box. */
static hb_status smooth_stats(const hb_dataset *ds, const hb_slab *slab, const hb_interp *ic, double *sums)
{
    const int N = ds->N, rank = slab->rank, P = slab->nranks, S = ic->n_smooth;
    const size_t NN = (size_t)N * N, nc = (size_t)slab->nx * NN;
    const MPI_Comm comm = slab->comm;
    if (NN * (size_t)N > (size_t)INT_MAX) return HB_ERR0(HB_EARG, "a %d^3 box is too large to scatter in one MPI call", N);
    int *counts = malloc((size_t)P * sizeof *counts), *displs = malloc((size_t)P * sizeof *displs);
    float *full = malloc(NN * N * sizeof *full), *own = malloc((nc + 1) * sizeof *own);
    float *sout = malloc(NN * N * sizeof *sout);   /* this round's box smoothed by one radius */
    hb_smoother sm[HB_SMOOTH_MAX_CH] = {{0}};
    hb_status rc = !counts || !displs || !full || !own || !sout ? HB_ERR(HB_ENOMEM, "smoothing %d^3 boxes", N) : HB_OK;
    for (int j = 0; j < S && rc == HB_OK; j++) rc = hb_smoother_init(&sm[j], N, ic->smooth_r[j], ic->smooth_thr[j]);
    rc = hb_mpi_agree(comm, rc);
    for (int q = 0; q < P && rc == HB_OK; q++) {   /* every rank's planes, from the slab's tables */
        counts[q] = (int)((size_t)slab->rank_nx[q] * NN);
        displs[q] = (int)((size_t)slab->rank_x0[q] * NN);
    }
    double lmin = 1e300, lmax = -1e300;
    for (int b0 = 0; b0 < ds->n_boxes && rc == HB_OK; b0 += P) {
        hb_status my = HB_OK;
        if (b0 + rank < ds->n_boxes) {   /* this round's box of this rank */
            hb_h5 f;
            my = hb_h5_open(&f, ds->boxes[b0 + rank].path, MPI_COMM_SELF);
            if (my == HB_OK) {
                my = hb_box_read_field(&f, HB_FIELD_DM, N, 0, N, full, (size_t)N, HB_VALUES_DENSITY);
                hb_h5_close(&f);
            }
        }
        rc = hb_mpi_agree(comm, my);
        for (int j = 0; j < S && rc == HB_OK; j++) {   /* one radius at a time: one more box of memory */
            if (b0 + rank < ds->n_boxes) hb_smoother_apply(&sm[j], full, sout);
            for (int q = 0; q < P && b0 + q < ds->n_boxes && rc == HB_OK; q++) {
                rc = hb_mpi(MPI_Scatterv(sout, counts, displs, MPI_FLOAT, own, counts[rank], MPI_FLOAT, q, comm));
                if (rc == HB_OK) accumulate_log(own, nc, HB_SMOOTH_FLOOR, &sums[2 * j], &sums[2 * j + 1], &lmin, &lmax);
            }
        }
    }
    for (int j = 0; j < S; j++) hb_smoother_free(&sm[j]);
    free(counts);
    free(displs);
    free(full);
    free(sout);
    free(own);
    return rc;
}

hb_status hb_dataset_stats(const hb_dataset *ds, hb_interp *ic, MPI_Comm comm)
{
    double sum[2 * HB_NCH] = {0}, lmin[HB_NCH], lmax[HB_NCH], count = 0;
    for (int ch = 0; ch < HB_NCH; ch++) { lmin[ch] = 1e300; lmax[ch] = -1e300; }
    const int N = ds->N;
    hb_slab slab;
    HB_TRY(hb_slab_init(&slab, N, comm));
    float *tmp = malloc(((size_t)slab.nx + 1) * N * N * sizeof *tmp);
    hb_status rc = hb_mpi_any(comm, !tmp) ? HB_ERR0(HB_ENOMEM, "statistics buffer") : HB_OK;
    const size_t nc = (size_t)slab.nx * N * N;   /* own planes: each cell counted once */
    for (int b = 0; b < ds->n_boxes && rc == HB_OK; b++) {
        hb_h5 f;
        rc = hb_h5_open(&f, ds->boxes[b].path, comm);
        for (int ch = 0; ch < HB_NCH && rc == HB_OK; ch++) {
            rc = hb_box_read_field(&f, FIELD[ch], N, slab.x0, slab.nx, tmp, (size_t)N,
                                   ch == 2 ? HB_VALUES_POSITIVE : HB_VALUES_DENSITY);
            if (rc == HB_OK) accumulate_log(tmp, nc, ic->floor[ch], &sum[ch], &sum[HB_NCH + ch], &lmin[ch], &lmax[ch]);
        }
        if (rc == HB_OK) hb_h5_close(&f);
        count += (double)nc;
    }
    free(tmp);
    double ssum[2 * HB_SMOOTH_MAX_CH] = {0};   /* the smoothed DM's log10, per radius */
    if (rc == HB_OK && ic->n_smooth > 0) rc = smooth_stats(ds, &slab, ic, ssum);
    hb_slab_free(&slab);
    HB_TRY(rc);
    HB_TRY(hb_mpi_sum(comm, sum, 2 * HB_NCH));
    HB_TRY(hb_mpi_sum(comm, ssum, 2 * HB_SMOOTH_MAX_CH));
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
    for (int j = 0; j < ic->n_smooth; j++) {
        ic->smooth_mean[j] = ssum[2 * j] / count;
        const double var = ssum[2 * j + 1] / count - ic->smooth_mean[j] * ic->smooth_mean[j];
        ic->smooth_std[j] = var > 1e-12 ? sqrt(var) : 1.0;
    }
    return HB_OK;
}

/* ---- samples ------------------------------------------------------------- */

static double u32_to_unit(uint32_t r) { return ((double)r + 0.5) / 4294967296.0; }

void hb_dataset_sample(const hb_dataset *ds, uint64_t seed, uint32_t stream, long step, int j, int augment,
                       hb_sample *s)
{
    uint32_t r[4], q[4];
    hb_rng_u32x4(seed, stream, (uint64_t)step, 2u * (uint32_t)j, r);
    hb_rng_u32x4(seed, stream, (uint64_t)step, 2u * (uint32_t)j + 1, q);
    memset(s, 0, sizeof *s);
    s->j = j;
    s->box = (int)(r[0] % (uint32_t)ds->n_boxes);
    for (int d = 0; d < 3 && augment; d++) s->shift[d] = (int)(r[1 + d] % (uint32_t)ds->N);
    s->sym = augment ? (int)(q[0] % 48u) : 0;
    s->t = u32_to_unit(q[1]);
}

static int same_sample(const hb_sample *a, const hb_sample *b)
{
    return a->box == b->box && a->sym == b->sym && a->t == b->t && a->j == b->j && a->shift[0] == b->shift[0] &&
           a->shift[1] == b->shift[1] && a->shift[2] == b->shift[2];
}

/* ---- the loader ---------------------------------------------------------- */

static const int PERM[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* Reading one original x plane of a field: raw (pread) or through HDF5. */
typedef struct plane_reader {
    int   fd;          /* raw */
    hid_t file, dset;  /* HDF5 */
    const int64_t *off;
} plane_reader;

static int read_plane(plane_reader *pr, int x, int N, float *buf, char *err, size_t nerr, const char *path)
{
    const size_t bytes = (size_t)N * N * sizeof *buf;
    if (pr->off) {
        ssize_t got = pread(pr->fd, buf, bytes, (off_t)pr->off[x]);
        if (got != (ssize_t)bytes) {
            snprintf(err, nerr, "%.900s: reading plane %d failed (%s)", path, x, got < 0 ? strerror(errno) : "short read");
            return 0;
        }
        return 1;
    }
    hid_t fs = H5Dget_space(pr->dset);
    hsize_t st[3] = {(hsize_t)x, 0, 0}, ct[3] = {1, (hsize_t)N, (hsize_t)N};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
    hid_t ms = H5Screate_simple(3, ct, NULL);
    herr_t e = H5Dread(pr->dset, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0) snprintf(err, nerr, "%.900s: reading plane %d through HDF5 failed", path, x);
    return e >= 0;
}

#define CH_SMOOTH HB_NCH   /* the smoothed DM: CH_SMOOTH + j is radius j's channel in the slots (xs) */

/* 0 and a message naming the cell unless value v of channel ch is valid
 * (finite; >= 0, or > 0 for the temperature). */
static int check_value(const hb_loader *L, const hb_sample *s, int ch, int ox, int oy, int oz, float v, char *err,
                       size_t nerr)
{
    if (isfinite(v) && v >= 0 && !(ch == 2 && v == 0)) return 1;
    snprintf(err, nerr, "%.900s: %s[%d][%d][%d] = %g; expected %s", L->ds->boxes[s->box].path, FIELD[ch], ox, oy, oz,
             v, ch == 2 ? "a finite value > 0" : "a finite density >= 0");
    return 0;
}

/* Scatter the needed cells of original plane ox of channel ch (CH_SMOOTH +
 * j: the DM smoothed by radius j, checked before smoothing) into slot k,
 * standardised. A
 * non-finite or negative value is an error naming the cell; zeros are
 * floored like any value below the floor. */
static int scatter_plane(const hb_loader *L, const hb_sample *s, int ch, int ox, const float *plane, const char *need,
                         int k, char *err, size_t nerr)
{
    const int N = L->ds->N, *perm = PERM[s->sym / 8], flip = s->sym % 8, i0 = perm[0];
    const long sx0 = L->slab->x0;
    const int sm = ch >= CH_SMOOTH, j = ch - CH_SMOOTH;
    const double fl = sm ? HB_SMOOTH_FLOOR : L->ic.floor[ch], mean = sm ? L->ic.smooth_mean[j] : L->ic.mean[ch],
                 sd = sm ? L->ic.smooth_std[j] : L->ic.std[ch];
    float *dst = sm ? L->xs[k] + j : ch == 0 ? L->x0[k] : L->x1[k] + (ch - 1);
    const size_t stride = sm ? (size_t)L->ic.n_smooth : ch == 1 || ch == 2 ? 2 : 1;
    int q[3];
    q[0] = ((ox - s->shift[0]) % N + N) % N;
    for (int oy = 0; oy < N; oy++) {
        if (i0 == 1 && !need[oy]) continue;
        q[1] = ((oy - s->shift[1]) % N + N) % N;
        for (int oz = 0; oz < N; oz++) {
            if (i0 == 2 && !need[oz]) continue;
            q[2] = ((oz - s->shift[2]) % N + N) % N;
            int a[3];
            for (int d = 0; d < 3; d++) a[d] = (flip >> d & 1) ? N - 1 - q[perm[d]] : q[perm[d]];
            const float v = plane[(size_t)oy * N + oz];
            if (!sm && !check_value(L, s, ch, ox, oy, oz, v, err, nerr)) return 0;
            const size_t idx = ((size_t)(a[0] - sx0) * N + (size_t)a[1]) * N + (size_t)a[2];
            const float lf = (float)log10(v > fl ? v : fl);
            dst[stride * idx] = (float)((lf - mean) / sd);
        }
    }
    return 1;
}

/* Check every value of a plane read only for the smoothing. */
static int check_plane(const hb_loader *L, const hb_sample *s, int ox, const float *plane, char *err, size_t nerr)
{
    const int N = L->ds->N;
    for (int oy = 0; oy < N; oy++)
        for (int oz = 0; oz < N; oz++)
            if (!check_value(L, s, 0, ox, oy, oz, plane[(size_t)oy * N + oz], err, nerr)) return 0;
    return 1;
}

/* Fill slot k with sample s, reading with pread (raw) or HDF5. Runs in the
 * loader thread for raw boxes; must not call MPI or report errors itself.
 * With the smoothed channel the DM is read whole into L->full, smoothed in
 * the original orientation, and both scattered through the symmetry. */
static int fill(hb_loader *L, const hb_sample *s, int k, float *plane, int raw, char *err, size_t nerr)
{
    const hb_box_src *bx = &L->ds->boxes[s->box];
    const int N = L->ds->N, *perm = PERM[s->sym / 8], flip = s->sym % 8, i0 = perm[0];
    const size_t NN = (size_t)N * N;
    /* need[o]: original index o along axis i0 lands in this rank's slab */
    char *need = malloc((size_t)N);
    if (!need) { snprintf(err, nerr, "out of memory"); return 0; }
    for (int o = 0; o < N; o++) {
        int qv = ((o - s->shift[i0]) % N + N) % N, a0 = (flip & 1) ? N - 1 - qv : qv;
        need[o] = a0 >= L->slab->x0 && a0 < L->slab->x0 + L->slab->nx;
    }
    int ok = 1;
    plane_reader pr = {-1, -1, -1, NULL};
    if (raw) pr.fd = open(bx->path, O_RDONLY);
    else pr.file = H5Fopen(bx->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if ((raw && pr.fd < 0) || (!raw && pr.file < 0)) {
        snprintf(err, nerr, "cannot open %.900s: %s", bx->path, raw ? strerror(errno) : "not HDF5");
        ok = 0;
    }
    for (int ch = 0; ch < HB_NCH && ok; ch++) {
        const int whole = ch == 0 && L->full;
        if (raw) pr.off = bx->plane_off[ch];
        else pr.dset = H5Dopen2(pr.file, FIELD[ch], H5P_DEFAULT);
        for (int ox = 0; ox < N && ok; ox++) {
            const int skip = i0 == 0 && !need[ox];
            if (skip && !whole) continue;
            float *buf = whole ? L->full + (size_t)ox * NN : plane;
            ok = read_plane(&pr, ox, N, buf, err, nerr, bx->path) &&
                 (skip ? check_plane(L, s, ox, buf, err, nerr) : scatter_plane(L, s, ch, ox, buf, need, k, err, nerr));
        }
        if (!raw && pr.dset >= 0) H5Dclose(pr.dset);
    }
    for (int j = 0; ok && L->full && j < L->ic.n_smooth; j++) {
        float *out = j == L->ic.n_smooth - 1 ? L->full : L->sout;
        hb_smoother_apply(&L->sm[j], L->full, out);
        for (int ox = 0; ox < N; ox++) {
            if (i0 == 0 && !need[ox]) continue;
            scatter_plane(L, s, CH_SMOOTH + j, ox, out + (size_t)ox * NN, need, k, err, nerr);
        }
    }
    if (pr.fd >= 0) close(pr.fd);
    if (pr.file >= 0) H5Fclose(pr.file);
    free(need);
    return ok;
}

static void *loader_main(void *vp)
{
    hb_loader *L = vp;
    float *plane = L->plane + (size_t)L->ds->N * L->ds->N;   /* the thread's own plane */
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->busy && !L->quit) pthread_cond_wait(&L->cv, &L->mu);
        if (L->quit) break;
        hb_sample job = L->job;
        int k = L->next;
        pthread_mutex_unlock(&L->mu);
        int ok = fill(L, &job, k, plane, 1, L->err, sizeof L->err);
        pthread_mutex_lock(&L->mu);
        L->job_rc = ok ? HB_OK : HB_EIO;
        L->held[k] = job;
        if (!ok) L->held[k].box = -1;
        L->busy = 0;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

hb_status hb_loader_init(hb_loader *L, const hb_dataset *ds, const hb_slab *slab, const hb_interp *ic)
{
    memset(L, 0, sizeof *L);
    L->ds = ds;
    L->slab = slab;
    L->ic = *ic;
    L->n = (size_t)slab->nx * ds->N * ds->N;
    const int S = ic->n_smooth;
    const size_t box = (size_t)ds->N * ds->N * ds->N;
    for (int k = 0; k < 2; k++) {
        L->x0[k] = malloc((L->n + 1) * sizeof *L->x0[k]);
        L->x1[k] = malloc((L->n + 1) * 2 * sizeof *L->x1[k]);
        if (S > 0) L->xs[k] = malloc((L->n + 1) * (size_t)S * sizeof *L->xs[k]);
        L->held[k].box = -1;
    }
    L->plane = malloc(2 * (size_t)ds->N * ds->N * sizeof *L->plane);
    if (S > 0) L->full = malloc(box * sizeof *L->full);
    if (S > 1) L->sout = malloc(box * sizeof *L->sout);
    if (!L->x0[0] || !L->x0[1] || !L->x1[0] || !L->x1[1] || !L->plane ||
        (S > 0 && (!L->xs[0] || !L->xs[1] || !L->full)) || (S > 1 && !L->sout)) {
        hb_loader_free(L);
        return HB_ERR(HB_ENOMEM, "sample buffers (%zu cells)", L->n);
    }
    for (int j = 0; j < S; j++) {
        hb_status rc = hb_smoother_init(&L->sm[j], ds->N, ic->smooth_r[j], ic->smooth_thr[j]);
        if (rc != HB_OK) {
            hb_loader_free(L);
            return HB_ERR(rc, "the loader's smoothing");
        }
    }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    if (pthread_create(&L->thread, NULL, loader_main, L) != 0) {
        pthread_mutex_destroy(&L->mu);
        pthread_cond_destroy(&L->cv);
        hb_loader_free(L);
        return HB_ERR(HB_ENOMEM, "cannot start the loader thread");
    }
    L->started = 1;
    return HB_OK;
}

void hb_loader_free(hb_loader *L)
{
    if (L->started) {
        pthread_mutex_lock(&L->mu);
        L->quit = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->thread, NULL);
        pthread_mutex_destroy(&L->mu);
        pthread_cond_destroy(&L->cv);
    }
    for (int k = 0; k < 2; k++) {
        free(L->x0[k]);
        free(L->x1[k]);
        free(L->xs[k]);
    }
    free(L->plane);
    free(L->full);
    free(L->sout);
    for (int j = 0; j < HB_SMOOTH_MAX_CH; j++) hb_smoother_free(&L->sm[j]);
    memset(L, 0, sizeof *L);
}

/* Wait until the thread is idle (caller holds the mutex). */
static void wait_idle(hb_loader *L)
{
    while (L->busy) pthread_cond_wait(&L->cv, &L->mu);
}

void hb_loader_prefetch(hb_loader *L, const hb_sample *s)
{
    if (!L->ds->boxes[s->box].direct) return;   /* read through HDF5 when asked for */
    pthread_mutex_lock(&L->mu);
    wait_idle(L);
    for (int k = 0; k < 2; k++) {
        if (L->held[k].box >= 0 && same_sample(&L->held[k], s)) {   /* already here */
            pthread_mutex_unlock(&L->mu);
            return;
        }
    }
    L->job = *s;
    L->busy = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

hb_status hb_loader_get(hb_loader *L, const hb_sample *s, const float **x0, const float **xs, const float **x1)
{
    double t0 = hb_now();
    pthread_mutex_lock(&L->mu);
    wait_idle(L);
    hb_status rc = L->job_rc;
    L->job_rc = HB_OK;
    int k = -1;
    for (int i = 0; i < 2; i++) {
        if (L->held[i].box >= 0 && same_sample(&L->held[i], s)) k = i;
    }
    pthread_mutex_unlock(&L->mu);
    if (rc != HB_OK) return HB_ERR(rc, "%s", L->err);
    if (k < 0) {   /* not prefetched: read it now, through HDF5 when the box needs it */
        char err[2048] = "";
        k = L->next;
        L->held[k].box = -1;
        if (!fill(L, s, k, L->plane, L->ds->boxes[s->box].direct, err, sizeof err)) return HB_ERR(HB_EIO, "%s", err);
        L->held[k] = *s;
    }
    L->next = 1 - k;   /* the next prefetch fills the other slot */
    *x0 = L->x0[k];
    if (xs) *xs = L->xs[k];
    *x1 = L->x1[k];
    L->t_wait += hb_now() - t0;
    return HB_OK;
}
