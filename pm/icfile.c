/* Initial conditions from Gadget binary (SnapFormat 1) and HDF5 files
 * (hb/icfile.h). Rank 0 scans the headers and block layout of every file;
 * every rank then reads its share of the particles. */
#include "hb/icfile.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hb/mpiutil.h"

#define MAXFILES 65536

typedef struct filedesc {
    long npart[6];
    double mass[6];
    int pos8, vel8, id8, mass8;           /* binary: 8-byte elements (double / uint64) */
    long off_pos, off_vel, off_id, off_mass;   /* binary: byte offset of each block's first element */
} filedesc;

typedef struct icset {
    int format, nfiles;
    char base[1024], suffix[16], single[1024];   /* file i: base.i suffix, or `single` */
    double box, time;
    long ntot[6];
    filedesc *f;   /* [nfiles] */
} icset;

static void file_name(const icset *s, int i, char *out, size_t cap)
{
    if (s->single[0]) snprintf(out, cap, "%s", s->single);
    else snprintf(out, cap, "%s.%d%s", s->base, i, s->suffix);
}

static int is_hdf5(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char sig[8] = {0};
    if (!f) return -1;
    size_t got = fread(sig, 1, 8, f);
    fclose(f);
    static const unsigned char h5[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    return got == 8 && memcmp(sig, h5, 8) == 0;
}

static int exists(const char *path) { return access(path, R_OK) == 0; }

/* Work out the file names from the user's path: a single file, BASE.K[.hdf5]
 * of a set, or BASE with BASE.0[.hdf5] present. nfiles is checked later. */
static hb_status locate(const char *path, icset *s)
{
    memset(s->base, 0, sizeof s->base);
    s->suffix[0] = s->single[0] = '\0';
    if (!exists(path)) {
        char t[1100];
        const char *suf[] = {"", ".hdf5"};
        for (int k = 0; k < 2; k++) {
            snprintf(t, sizeof t, "%s.0%s", path, suf[k]);
            if (exists(t)) {
                snprintf(s->base, sizeof s->base, "%s", path);
                snprintf(s->suffix, sizeof s->suffix, "%s", suf[k]);
                return HB_OK;
            }
        }
        return HB_ERR(HB_EIO, "initial conditions %s: no such file (nor %s.0 or %s.0.hdf5)", path, path, path);
    }
    snprintf(s->single, sizeof s->single, "%s", path);
    /* BASE.K or BASE.K.hdf5: remember the pattern in case the header says NumFiles > 1 */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    if (n > 5 && strcmp(tmp + n - 5, ".hdf5") == 0) {
        snprintf(s->suffix, sizeof s->suffix, ".hdf5");
        tmp[n - 5] = '\0';
    }
    char *dot = strrchr(tmp, '.');
    if (dot && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1)) {
        *dot = '\0';
        snprintf(s->base, sizeof s->base, "%s", tmp);
    }
    return HB_OK;
}

/* ---- Gadget binary --------------------------------------------------------- */

static int rd(int fd, void *buf, size_t n, off_t off) { return pread(fd, buf, n, off) == (ssize_t)n; }

/* Check the record at *off holds `want4` or `want8` bytes (an element count
 * times 4 or 8 bytes), set *is8, the data offset, and move *off past it. */
static hb_status record(int fd, const char *name, const char *what, long count, long elem, off_t size, off_t *off,
                        int *is8, long *data)
{
    int32_t a, b;
    if (!rd(fd, &a, 4, *off)) {
        return HB_ERR(HB_EIO, "%s: truncated: the %s block should start at byte %lld, the file has %lld bytes", name,
                      what, (long long)*off, (long long)size);
    }
    const long n4 = 4 * elem * count, n8 = 8 * elem * count;
    if ((long)a != n4 && (long)a != n8) {
        return HB_ERR(HB_EIO, "%s: the %s block holds %d bytes, but the header's %ld particles need %ld (float / "
                      "4-byte) or %ld (double / 8-byte)", name, what, a, count, n4, n8);
    }
    *is8 = (long)a == n8 && n8 != n4;
    off_t end = *off + 4 + a;
    if (end + 4 > size || !rd(fd, &b, 4, end) || b != a) {
        return HB_ERR(HB_EIO, "%s: truncated or corrupt %s block (bytes %lld..%lld of a %lld-byte file; record "
                      "markers %d and %d)", name, what, (long long)*off, (long long)end + 4, (long long)size, a,
                      end + 4 <= size ? b : -1);
    }
    *data = (long)(*off + 4);
    *off = end + 4;
    return HB_OK;
}

static long nsum(const long n[6]) { return n[0] + n[1] + n[2] + n[3] + n[4] + n[5]; }

static hb_status scan_binary(const char *name, filedesc *d, int *nfiles, double *box, double *time, long tot[6])
{
    int fd = open(name, O_RDONLY);
    if (fd < 0) return HB_ERR(HB_EIO, "cannot read %s: %s", name, strerror(errno));
    struct stat st;
    fstat(fd, &st);
    unsigned char h[256];
    int32_t a = 0, b = 0;
    hb_status rc = HB_OK;
    if (!rd(fd, &a, 4, 0) || a != 256 || !rd(fd, h, 256, 4) || !rd(fd, &b, 4, 260) || b != 256) {
        rc = HB_ERR(HB_EIO, "%s is not a Gadget SnapFormat 1 file: the first record has %d bytes (expected a "
                    "256-byte header)", name, a);
    }
    if (rc == HB_OK) {
        int32_t np[6], nf;
        uint32_t nt[6], hw[6];
        memcpy(np, h, 24);
        memcpy(d->mass, h + 24, 48);
        memcpy(time, h + 72, 8);
        memcpy(nt, h + 96, 24);
        memcpy(&nf, h + 124, 4);
        memcpy(box, h + 128, 8);
        memcpy(hw, h + 168, 24);
        *nfiles = nf;
        for (int t = 0; t < 6; t++) {
            d->npart[t] = np[t];
            tot[t] = (long)nt[t] + ((long)hw[t] << 32);
            if (np[t] < 0) rc = HB_ERR(HB_EIO, "%s: negative particle count %d of type %d in the header", name, np[t], t);
        }
    }
    const long n = nsum(d->npart);
    long nm = 0;
    for (int t = 0; t < 6; t++) nm += d->mass[t] == 0 ? d->npart[t] : 0;
    off_t off = 264;
    if (rc == HB_OK && n > 0) rc = record(fd, name, "POS", n, 3, st.st_size, &off, &d->pos8, &d->off_pos);
    if (rc == HB_OK && n > 0) rc = record(fd, name, "VEL", n, 3, st.st_size, &off, &d->vel8, &d->off_vel);
    if (rc == HB_OK && n > 0) rc = record(fd, name, "ID", n, 1, st.st_size, &off, &d->id8, &d->off_id);
    if (rc == HB_OK && nm > 0) rc = record(fd, name, "MASS", nm, 1, st.st_size, &off, &d->mass8, &d->off_mass);
    close(fd);
    return rc;
}

/* ---- HDF5 -------------------------------------------------------------------- */

static int h5_attr(hid_t g, const char *name, hid_t type, void *buf)
{
    if (H5Aexists(g, name) <= 0) return 0;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    int ok = a >= 0 && H5Aread(a, type, buf) >= 0;
    if (a >= 0) H5Aclose(a);
    return ok;
}

/* Rows of dataset path (0 when it does not exist); cols: its second dimension (1 for 1-D). */
static long h5_rows(hid_t f, const char *path, int *cols)
{
    if (H5Lexists(f, path, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT), s = H5Dget_space(d);
    hsize_t dims[2] = {0, 1};
    int nd = H5Sget_simple_extent_ndims(s);
    if (nd >= 1 && nd <= 2) H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5Dclose(d);
    *cols = nd == 2 ? (int)dims[1] : nd == 1 ? 1 : -1;
    return (long)dims[0];
}

static hb_status scan_hdf5(const char *name, filedesc *d, int *nfiles, double *box, double *time, long tot[6])
{
    hid_t f = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return HB_ERR(HB_EIO, "cannot open %s as HDF5", name);
    hb_status rc = HB_OK;
    hid_t g = H5Lexists(f, "/Header", H5P_DEFAULT) > 0 ? H5Gopen2(f, "/Header", H5P_DEFAULT) : -1;
    long hw[6] = {0};
    int nf = 1;
    if (g < 0 || !h5_attr(g, "NumPart_ThisFile", H5T_NATIVE_LONG, d->npart) ||
        !h5_attr(g, "MassTable", H5T_NATIVE_DOUBLE, d->mass) || !h5_attr(g, "Time", H5T_NATIVE_DOUBLE, time) ||
        !h5_attr(g, "BoxSize", H5T_NATIVE_DOUBLE, box) || !h5_attr(g, "NumPart_Total", H5T_NATIVE_LONG, tot)) {
        rc = HB_ERR(HB_EIO, "%s: /Header lacks NumPart_ThisFile, NumPart_Total, MassTable, Time or BoxSize", name);
    }
    if (g >= 0) {
        h5_attr(g, "NumPart_Total_HighWord", H5T_NATIVE_LONG, hw);
        h5_attr(g, "NumFilesPerSnapshot", H5T_NATIVE_INT, &nf);
        H5Gclose(g);
    }
    *nfiles = nf;
    for (int t = 0; t < 6 && rc == HB_OK; t++) {
        tot[t] += hw[t] << 32;
        if (d->npart[t] == 0) continue;
        const char *sets[] = {"Coordinates", "Velocities", "ParticleIDs", "Masses"};
        const int want[] = {3, 3, 1, 1};
        for (int k = 0; k < (d->mass[t] == 0 ? 4 : 3) && rc == HB_OK; k++) {
            char path[64];
            snprintf(path, sizeof path, "/PartType%d/%s", t, sets[k]);
            int cols = 0;
            long rows = h5_rows(f, path, &cols);
            if (rows != d->npart[t] || cols != want[k]) {
                rc = HB_ERR(HB_EIO, "%s: the header claims %ld particles of type %d, but %s %s", name, d->npart[t], t,
                            path, rows < 0 ? "is missing" : "has another shape");
            }
        }
    }
    H5Fclose(f);
    return rc;
}

/* ---- the set ----------------------------------------------------------------- */

static hb_status scan_set(const char *path, icset *s)
{
    HB_TRY(locate(path, s));
    char name[1100];
    file_name(s, 0, name, sizeof name);
    int h5 = is_hdf5(name);
    if (h5 < 0) return HB_ERR(HB_EIO, "cannot read %s", name);
    s->format = h5 ? 2 : 1;
    filedesc d0;
    memset(&d0, 0, sizeof d0);
    int nf = 0;
    double box = 0, time = 0;
    long tot[6] = {0};
    HB_TRY(h5 ? scan_hdf5(name, &d0, &nf, &box, &time, tot) : scan_binary(name, &d0, &nf, &box, &time, tot));
    if (nf < 1 || nf > MAXFILES) return HB_ERR(HB_EIO, "%s: NumFiles = %d in the header", name, nf);
    if (nf > 1 && s->single[0]) {
        if (!s->base[0]) return HB_ERR(HB_EIO, "%s: the header says %d files, but the name is not BASE.N", name, nf);
        s->single[0] = '\0';   /* a member of a set: read them all */
    }
    s->nfiles = nf;
    s->box = box;
    s->time = time;
    memcpy(s->ntot, tot, sizeof tot);
    s->f = calloc((size_t)nf, sizeof *s->f);
    if (!s->f) return HB_ERR(HB_ENOMEM, "%d file descriptions", nf);
    long sum[6] = {0};
    for (int i = 0; i < nf; i++) {
        file_name(s, i, name, sizeof name);
        int nfi = 0;
        double bi = 0, ti = 0;
        long toti[6] = {0};
        hb_status rc = h5 ? scan_hdf5(name, &s->f[i], &nfi, &bi, &ti, toti) : scan_binary(name, &s->f[i], &nfi, &bi, &ti, toti);
        if (rc != HB_OK) return rc;
        if (nfi != nf || bi != box || ti != time) {
            return HB_ERR(HB_EIO, "%s: NumFiles %d, BoxSize %g, Time %g differ from the first file's (%d, %g, %g)", name,
                          nfi, bi, ti, nf, box, time);
        }
        for (int t = 0; t < 6; t++) sum[t] += s->f[i].npart[t];
    }
    for (int t = 0; t < 6; t++) {
        if (sum[t] != tot[t]) {
            return HB_ERR(HB_EIO, "%s: the %d file(s) hold %ld particles of type %d, but the header's total is %ld",
                          path, nf, sum[t], t, tot[t]);
        }
    }
    if (nsum(tot) < 1) return HB_ERR(HB_EIO, "%s: no particles", path);
    return HB_OK;
}

/* Rank 0 scans; everyone gets the set. */
static hb_status share_set(const char *path, icset *s, MPI_Comm comm)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    memset(s, 0, sizeof *s);
    hb_status rc = rank == 0 ? scan_set(path, s) : HB_OK;
    HB_TRY(hb_mpi_agree(comm, rc));
    filedesc *keep = s->f;
    HB_TRY(hb_mpi(MPI_Bcast(s, (int)sizeof *s, MPI_BYTE, 0, comm)));
    s->f = rank == 0 ? keep : calloc((size_t)s->nfiles, sizeof *s->f);
    if (hb_mpi_any(comm, !s->f)) return HB_ERR0(HB_ENOMEM, "file descriptions");
    return hb_mpi(MPI_Bcast(s->f, (int)(s->nfiles * sizeof *s->f), MPI_BYTE, 0, comm));
}

/* ---- reading a share ------------------------------------------------------------ */

typedef struct slice {   /* particles [i0, i0 + n) of type t in file fi, to local index `at` */
    int fi, t;
    long i0, n;
    size_t at;
} slice;

/* Element index of the first particle of type t inside the file's blocks
 * (all types), and inside its MASS block (variable-mass types only). */
static long type_offset(const filedesc *d, int t, int mass_block)
{
    long o = 0;
    for (int u = 0; u < t; u++) o += mass_block && d->mass[u] != 0 ? 0 : d->npart[u];
    return o;
}

static hb_status read_binary_slice(const icset *s, const slice *c, double *pos, double *vel, uint64_t *id,
                                   double *mass)
{
    char name[1100];
    file_name(s, c->fi, name, sizeof name);
    const filedesc *d = &s->f[c->fi];
    int fd = open(name, O_RDONLY);
    if (fd < 0) return HB_ERR(HB_EIO, "cannot read %s: %s", name, strerror(errno));
    const long e = type_offset(d, c->t, 0) + c->i0;
    void *buf = malloc((size_t)c->n * 24 + 8);
    int ok = buf != NULL;
    const int sz[2] = {d->pos8 ? 8 : 4, d->vel8 ? 8 : 4};
    const long off[2] = {d->off_pos, d->off_vel};
    double *out[2] = {pos, vel};
    for (int k = 0; k < 2 && ok; k++) {
        ok = rd(fd, buf, (size_t)c->n * 3 * sz[k], off[k] + e * 3 * sz[k]);
        for (long i = 0; ok && i < 3 * c->n; i++) out[k][i] = sz[k] == 8 ? ((double *)buf)[i] : ((float *)buf)[i];
    }
    if (ok) {
        ok = rd(fd, buf, (size_t)c->n * (d->id8 ? 8 : 4), d->off_id + e * (d->id8 ? 8 : 4));
        for (long i = 0; ok && i < c->n; i++) id[i] = d->id8 ? ((uint64_t *)buf)[i] : ((uint32_t *)buf)[i];
    }
    if (ok && d->mass[c->t] == 0) {
        const long em = type_offset(d, c->t, 1) + c->i0;
        ok = rd(fd, buf, (size_t)c->n * (d->mass8 ? 8 : 4), d->off_mass + em * (d->mass8 ? 8 : 4));
        for (long i = 0; ok && i < c->n; i++) mass[i] = d->mass8 ? ((double *)buf)[i] : ((float *)buf)[i];
    } else {
        for (long i = 0; i < c->n; i++) mass[i] = d->mass[c->t];
    }
    free(buf);
    close(fd);
    return ok ? HB_OK : HB_ERR(HB_EIO, "%s: read failed (type %d, particles %ld..%ld)", name, c->t, c->i0, c->i0 + c->n);
}

static int h5_read_rows(hid_t f, const char *path, long i0, long n, int cols, hid_t type, void *buf)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) return 0;
    hid_t fs = H5Dget_space(d);
    hsize_t start[2] = {(hsize_t)i0, 0}, cnt[2] = {(hsize_t)n, (hsize_t)cols};
    int nd = cols > 1 ? 2 : 1;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(nd, cnt, NULL);
    int ok = H5Dread(d, type, ms, fs, H5P_DEFAULT, buf) >= 0;
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return ok;
}

static hb_status read_hdf5_slice(const icset *s, const slice *c, double *pos, double *vel, uint64_t *id, double *mass)
{
    char name[1100], p[64];
    file_name(s, c->fi, name, sizeof name);
    hid_t f = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return HB_ERR(HB_EIO, "cannot open %s as HDF5", name);
    int ok = 1;
    snprintf(p, sizeof p, "/PartType%d/Coordinates", c->t);
    ok = ok && h5_read_rows(f, p, c->i0, c->n, 3, H5T_NATIVE_DOUBLE, pos);
    snprintf(p, sizeof p, "/PartType%d/Velocities", c->t);
    ok = ok && h5_read_rows(f, p, c->i0, c->n, 3, H5T_NATIVE_DOUBLE, vel);
    snprintf(p, sizeof p, "/PartType%d/ParticleIDs", c->t);
    ok = ok && h5_read_rows(f, p, c->i0, c->n, 1, H5T_NATIVE_UINT64, id);
    if (s->f[c->fi].mass[c->t] == 0) {
        snprintf(p, sizeof p, "/PartType%d/Masses", c->t);
        ok = ok && h5_read_rows(f, p, c->i0, c->n, 1, H5T_NATIVE_DOUBLE, mass);
    } else {
        for (long i = 0; i < c->n; i++) mass[i] = s->f[c->fi].mass[c->t];
    }
    H5Fclose(f);
    return ok ? HB_OK : HB_ERR(HB_EIO, "%s: reading type %d particles %ld..%ld failed", name, c->t, c->i0, c->i0 + c->n);
}

/* The slices of global particles [g0, g1) (file-major, then type). */
static int slices_of(const icset *s, long g0, long g1, slice *out, int cap)
{
    long g = 0;
    int n = 0;
    size_t at = 0;
    for (int fi = 0; fi < s->nfiles; fi++)
        for (int t = 0; t < 6; t++) {
            long np = s->f[fi].npart[t], lo = g0 > g ? g0 : g, hi = g1 < g + np ? g1 : g + np;
            if (hi > lo && n < cap) {
                out[n++] = (slice){fi, t, lo - g, hi - lo, at};
                at += (size_t)(hi - lo);
            }
            g += np;
        }
    return n;
}

/* ---- after reading: units, IDs, masses ------------------------------------------------ */

/* IDs: min .. min + n - 1 exactly (count, extremes, sums of id and id^2 mod 2^64)? */
static hb_status lagrangian_ids(hb_particles *p, long g0, int *ok)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < p->n; i++) {
        lo = p->id[i] < lo ? p->id[i] : lo;
        hi = p->id[i] > hi ? p->id[i] : hi;
    }
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, p->comm)));
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, p->comm)));
    uint64_t sums[2] = {0, 0};
    for (size_t i = 0; i < p->n; i++) {
        uint64_t v = p->id[i] - lo;
        sums[0] += v;
        sums[1] += v * v;
    }
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_UINT64_T, MPI_SUM, p->comm)));
    const unsigned __int128 n = (unsigned __int128)p->n_total;
    const uint64_t want1 = (uint64_t)(n * (n - 1) / 2);
    const uint64_t want2 = (uint64_t)((n - 1) * n * (2 * n - 1) / 6);
    *ok = hi - lo == (uint64_t)p->n_total - 1 && sums[0] == want1 && sums[1] == want2;
    for (size_t i = 0; i < p->n; i++) p->id[i] = *ok ? p->id[i] - lo : (uint64_t)(g0 + (long)i);
    return HB_OK;
}

/* Masses: none kept when all are equal (to 1e-6), else mass / mean. */
static hb_status set_masses(hb_particles *p, const double *m, int *mixed)
{
    double mm[3] = {INFINITY, -INFINITY, 0};
    size_t bad = p->n;
    for (size_t i = 0; i < p->n && bad == p->n; i++)
        if (!(m[i] > 0) || !isfinite(m[i])) bad = i;
    if (hb_mpi_any(p->comm, bad < p->n)) {
        return bad < p->n ? HB_ERR(HB_EIO, "initial conditions: a particle mass is %g; expected a finite mass > 0", m[bad])
                          : hb_err_quiet(HB_EIO);
    }
    for (size_t i = 0; i < p->n; i++) {
        mm[0] = fmin(mm[0], m[i]);
        mm[1] = fmax(mm[1], m[i]);
        mm[2] += m[i];
    }
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, &mm[0], 1, MPI_DOUBLE, MPI_MIN, p->comm)));
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, &mm[1], 1, MPI_DOUBLE, MPI_MAX, p->comm)));
    HB_TRY(hb_mpi_sum(p->comm, &mm[2], 1));
    *mixed = mm[1] > mm[0] * (1 + 1e-6);
    if (!*mixed) return HB_OK;
    HB_TRY(hb_particles_enable_mass(p));
    const double mean = mm[2] / (double)p->n_total;
    for (size_t i = 0; i < p->n; i++) p->mass[i] = (float)(m[i] / mean);
    return HB_OK;
}

static hb_status units(const icset *s, double L, int length_unit, double *unit, const char *path)
{
    const double tol = 1e-6;
    if (length_unit == 0) {
        if (fabs(s->box - L) <= tol * L) *unit = 1;
        else if (fabs(s->box - 1000 * L) <= tol * 1000 * L) *unit = 1e-3;
        else {
            return HB_ERR0(HB_EARG, "%s: BoxSize = %g in the header is neither simulation.box_size = %g (Mpc/h) nor "
                           "1000 times it (kpc/h): unknown units; set simulation.box_size to the file's box, or "
                           "simulation.ic_length_unit", path, s->box, L);
        }
        return HB_OK;
    }
    *unit = length_unit == 1000 ? 1e-3 : 1;
    if (fabs(s->box * *unit - L) > tol * L) {
        return HB_ERR0(HB_EARG, "%s: BoxSize = %g %s is %g Mpc/h, but simulation.box_size = %g", path, s->box,
                       length_unit == 1000 ? "kpc/h" : "Mpc/h", s->box * *unit, L);
    }
    return HB_OK;
}

hb_status hb_icfile_read(const char *path, double L, int length_unit, hb_particles *p, hb_icfile_info *info,
                         MPI_Comm comm)
{
    memset(info, 0, sizeof *info);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    icset s;
    hb_status rc = share_set(path, &s, comm);
    if (rc == HB_OK) rc = units(&s, L, length_unit, &info->unit, path);
    if (rc != HB_OK) { free(s.f); return rc; }
    const long n = nsum(s.ntot);
    const long g0 = (long)((__int128)n * p->rank / p->nranks), g1 = (long)((__int128)n * (p->rank + 1) / p->nranks);
    const size_t nl = (size_t)(g1 - g0);
    p->n_total = n;
    slice *sl = malloc((size_t)(6 * s.nfiles + 1) * sizeof *sl);
    double *buf = malloc((7 * nl + 1) * sizeof *buf);
    rc = hb_mpi_any(comm, !sl || !buf || hb_particles_reserve(p, nl) != HB_OK) ? HB_ERR0(HB_ENOMEM, "IC buffers")
                                                                              : HB_OK;
    double *pos = buf, *vel = buf + 3 * nl, *mass = buf + 6 * nl;
    int nsl = rc == HB_OK ? slices_of(&s, g0, g1, sl, 6 * s.nfiles) : 0;
    hb_status lrc = HB_OK;
    for (int k = 0; k < nsl && lrc == HB_OK; k++) {
        const slice *c = &sl[k];
        lrc = (s.format == 2 ? read_hdf5_slice : read_binary_slice)(&s, c, pos + 3 * c->at, vel + 3 * c->at,
                                                                    p->id + c->at, mass + c->at);
    }
    if (rc == HB_OK) rc = hb_mpi_agree(comm, lrc);
    /* positions to [0, L) Mpc/h, momenta p = a^1.5 u / 100 */
    const double a = s.time, pf = pow(a, 1.5) / 100.0;
    long bad = -1;
    for (size_t i = 0; rc == HB_OK && i < 3 * nl && bad < 0; i++) {
        double x = pos[i] * info->unit;
        if (!isfinite(x) || x < -L || x > 2 * L || !isfinite(vel[i])) bad = (long)i;
        p->x[i] = x - L * floor(x / L);
        if (p->x[i] >= L) p->x[i] = 0;
        p->p[i] = pf * vel[i];
        p->acc[i] = 0;
    }
    if (rc == HB_OK && hb_mpi_any(comm, bad >= 0)) {
        rc = bad >= 0 ? HB_ERR(HB_EIO, "%s: particle %ld has position %g, velocity %g (box %g Mpc/h): not finite or "
                               "far outside the box (wrong units?)", path, g0 + bad / 3, pos[bad] * info->unit,
                               vel[bad], L)
                      : hb_err_quiet(HB_EIO);
    }
    p->n = rc == HB_OK ? nl : 0;
    if (rc == HB_OK) rc = lagrangian_ids(p, g0, &info->lagrangian_ids);
    if (rc == HB_OK) rc = set_masses(p, mass, &info->mixed_masses);
    info->format = s.format;
    info->nfiles = s.nfiles;
    info->n_total = n;
    memcpy(info->n_type, s.ntot, sizeof s.ntot);
    info->box = s.box;
    info->a_start = a;
    if (rc == HB_OK && !(a > 0 && a <= 1)) rc = HB_ERR0(HB_EIO, "%s: Time = %g in the header; expected 0 < a <= 1", path, a);
    free(sl);
    free(buf);
    free(s.f);
    return rc;
}
