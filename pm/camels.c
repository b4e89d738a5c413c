/* CAMELS snapshot and CMD grid import (hb/camels.h). */
#include "hb/camels.h"

#include <ctype.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/box.h"
#include "hb/mesh.h"
#include "hb/mpiutil.h"
#include "hb/paint.h"
#include "hb/particles.h"

double hb_camels_temperature(double u, double xe)
{
    const double y = HB_CAMELS_YHE;
    return u * (1 + 4 * y) / (1 + y + xe) * 1e10 * (2.0 / 3.0) * HB_CAMELS_MP / HB_CAMELS_KB;
}

/* ---- snapshots --------------------------------------------------------- */

typedef struct snap_info {
    int    nfiles;
    char   base[2048];          /* files are base + ".i.hdf5", or the path itself */
    char   single[2048];
    double box, redshift, h, om, ob;
    double masstable[6];
    long   count[2][1024];      /* per type (0 gas, 1 DM) per file */
    long   total[2];
} snap_info;

static void file_name(const snap_info *s, int i, char *out, size_t cap)
{
    if (s->nfiles == 1) snprintf(out, cap, "%s", s->single);
    else snprintf(out, cap, "%s.%d.hdf5", s->base, i);
}

static hb_status read_attr_d(hid_t f, const char *name, double *v, int n, const char *path)
{
    hid_t a = H5Aopen_by_name(f, "/Header", name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return HB_ERR(HB_EIO, "%s: /Header attribute %s missing (not a Gadget/Arepo snapshot?)", path, name);
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    herr_t e = np == n ? H5Aread(a, H5T_NATIVE_DOUBLE, v) : -1;
    H5Aclose(a);
    if (e < 0) return HB_ERR(HB_EIO, "%s: /Header/%s: expected %d values, found %lld", path, name, n, (long long)np);
    return HB_OK;
}

static hb_status scan(const char *path, snap_info *s)
{
    memset(s, 0, sizeof *s);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0) return HB_ERR(HB_EIO, "cannot read snapshot %s: %s", path, strerror(errno));
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return HB_ERR(HB_EIO, "cannot open %s as HDF5", path);
    double nf = 1, cnt[6];
    hb_status rc = read_attr_d(f, "NumFilesPerSnapshot", &nf, 1, path);
    if (rc == HB_OK) rc = read_attr_d(f, "BoxSize", &s->box, 1, path);
    if (rc == HB_OK) rc = read_attr_d(f, "Redshift", &s->redshift, 1, path);
    if (rc == HB_OK) rc = read_attr_d(f, "HubbleParam", &s->h, 1, path);
    if (rc == HB_OK) rc = read_attr_d(f, "Omega0", &s->om, 1, path);
    if (rc == HB_OK) rc = read_attr_d(f, "MassTable", s->masstable, 6, path);
    if (rc == HB_OK && read_attr_d(f, "OmegaBaryon", &s->ob, 1, path) != HB_OK) s->ob = 0.049;   /* older headers */
    H5Fclose(f);
    HB_TRY(rc);
    s->nfiles = (int)nf;
    if (s->nfiles < 1 || s->nfiles > 1024) return HB_ERR(HB_EIO, "%s: NumFilesPerSnapshot = %d", path, s->nfiles);
    snprintf(s->single, sizeof s->single, "%s", path);
    if (s->nfiles > 1) {
        /* path is one of base.i.hdf5: strip ".i.hdf5" */
        snprintf(s->base, sizeof s->base, "%s", path);
        char *ext = strstr(s->base, ".hdf5");
        char *dot = ext ? ext - 1 : NULL;
        while (dot && dot > s->base && isdigit((unsigned char)*dot)) dot--;
        if (!ext || !dot || *dot != '.') {
            return HB_ERR(HB_EIO, "%s says NumFilesPerSnapshot = %d; give one of the files named <base>.<i>.hdf5",
                          path, s->nfiles);
        }
        *dot = '\0';
    }
    for (int i = 0; i < s->nfiles; i++) {
        char name[2200];
        file_name(s, i, name, sizeof name);
        hid_t fi = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (fi < 0) return HB_ERR(HB_EIO, "snapshot file %s (%d of %d) is missing or not HDF5", name, i, s->nfiles);
        rc = read_attr_d(fi, "NumPart_ThisFile", cnt, 6, name);
        H5Fclose(fi);
        HB_TRY(rc);
        for (int t = 0; t < 2; t++) {
            s->count[t][i] = (long)cnt[t];
            s->total[t] += (long)cnt[t];
        }
    }
    return HB_OK;
}

/* Rows [r0, r0+n) of dataset `name` (n x ncol) as doubles. */
static hb_status read_rows(hid_t f, const char *file, const char *name, long r0, long n, int ncol, double *out)
{
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return HB_ERR(HB_EIO, "%s: dataset %s missing", file, name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    int nfilt = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nfilt; i++) {
        unsigned flags;
        size_t nelem = 0;
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, sizeof fname, fname, NULL);
        if (H5Zfilter_avail(id) <= 0) {
            H5Pclose(dcpl);
            H5Dclose(d);
            return HB_ERR(HB_EIO, "%s: %s is compressed with HDF5 filter %d (%s), which this HDF5 cannot decode%s",
                          file, name, (int)id, fname[0] ? fname : "?",
                          id == 32001 ? ": install Debian's hdf5-filter-plugin-blosc-serial and set "
                                        "HDF5_PLUGIN_PATH=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins" : "");
        }
    }
    H5Pclose(dcpl);
    hid_t fs = H5Dget_space(d);
    hsize_t st[2] = {(hsize_t)r0, 0}, ct[2] = {(hsize_t)n, (hsize_t)ncol};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, ct, NULL);
    hsize_t md[2] = {(hsize_t)n, (hsize_t)ncol};
    hid_t ms = H5Screate_simple(ncol > 1 ? 2 : 1, md, NULL);
    herr_t e = H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    if (e < 0) return HB_ERR(HB_EIO, "%s: reading %ld rows of %s failed", file, n, name);
    return HB_OK;
}

/* Non-finite coordinates, masses <= 0 or non-finite, negative or
 * non-finite energies and electron abundances are errors naming the file,
 * the dataset and the particle (row r0 + k of the file). */
static hb_status check_particles(const char *file, const char *group, long r0, long n, const double *xyz,
                                 const double *m, const double *u, const double *xe)
{
    for (long k = 0; k < n; k++) {
        for (int d = 0; d < 3; d++) {
            if (!isfinite(xyz[3 * k + d])) {
                return HB_ERR(HB_EIO, "%s: %s/Coordinates[%ld][%d] = %g; expected a finite coordinate", file, group,
                              r0 + k, d, xyz[3 * k + d]);
            }
        }
        if (!(m[k] > 0) || !isfinite(m[k])) {
            return HB_ERR(HB_EIO, "%s: %s/Masses[%ld] = %g; expected a finite mass > 0", file, group, r0 + k, m[k]);
        }
        if (u && (!(u[k] >= 0) || !isfinite(u[k]))) {
            return HB_ERR(HB_EIO, "%s: %s/InternalEnergy[%ld] = %g; expected a finite energy >= 0", file, group, r0 + k, u[k]);
        }
        if (xe && (!(xe[k] >= 0) || !isfinite(xe[k]))) {
            return HB_ERR(HB_EIO, "%s: %s/ElectronAbundance[%ld] = %g; expected a finite abundance >= 0", file, group,
                          r0 + k, xe[k]);
        }
    }
    return HB_OK;
}

/* This rank's share of type t into p: x (Mpc/h), p[3i] = mass, p[3i+1] = mass T. */
static hb_status load_type(const snap_info *s, int t, hb_particles *p, int rank, int nranks)
{
    long lo = (long)((__int128)s->total[t] * rank / nranks), hi = (long)((__int128)s->total[t] * (rank + 1) / nranks);
    HB_TRY(hb_particles_reserve(p, (size_t)(hi - lo)));
    p->n = 0;
    long first = 0;
    char group[16];
    snprintf(group, sizeof group, "/PartType%d", t);
    for (int i = 0; i < s->nfiles && lo < hi; i++) {
        long a = lo > first ? lo : first, b = hi < first + s->count[t][i] ? hi : first + s->count[t][i];
        if (a < b) {
            char name[2200], ds[64];
            file_name(s, i, name, sizeof name);
            hid_t f = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT);
            if (f < 0) return HB_ERR(HB_EIO, "cannot open %s", name);
            long n = b - a, r0 = a - first;
            double *xyz = malloc((size_t)n * 3 * sizeof *xyz), *m = malloc((size_t)n * sizeof *m);
            double *u = t == 0 ? malloc((size_t)n * sizeof *u) : NULL, *xe = t == 0 ? malloc((size_t)n * sizeof *xe) : NULL;
            snprintf(ds, sizeof ds, "%s/Coordinates", group);
            hb_status rc = read_rows(f, name, ds, r0, n, 3, xyz);
            snprintf(ds, sizeof ds, "%s/Masses", group);
            if (rc == HB_OK) {
                if (H5Lexists(f, ds, H5P_DEFAULT) > 0) rc = read_rows(f, name, ds, r0, n, 1, m);
                else if (s->masstable[t] > 0) for (long k = 0; k < n; k++) m[k] = s->masstable[t];
                else rc = HB_ERR(HB_EIO, "%s: no %s and MassTable[%d] = 0", name, ds, t);
            }
            if (rc == HB_OK && t == 0) {
                snprintf(ds, sizeof ds, "%s/InternalEnergy", group);
                rc = read_rows(f, name, ds, r0, n, 1, u);
                snprintf(ds, sizeof ds, "%s/ElectronAbundance", group);
                if (rc == HB_OK) rc = read_rows(f, name, ds, r0, n, 1, xe);
            }
            H5Fclose(f);
            if (rc == HB_OK) rc = check_particles(name, group, r0, n, xyz, m, u, xe);
            for (long k = 0; rc == HB_OK && k < n; k++) {
                size_t j = p->n++;
                for (int d = 0; d < 3; d++) {
                    p->x[3 * j + d] = xyz[3 * k + d] / 1e3;   /* ckpc/h -> Mpc/h */
                    p->p[3 * j + d] = 0;
                    p->acc[3 * j + d] = 0;
                }
                p->p[3 * j] = m[k];
                if (t == 0) p->p[3 * j + 1] = m[k] * hb_camels_temperature(u[k], xe[k]);
                p->id[j] = (uint64_t)(a + k);
            }
            free(xyz); free(m); free(u); free(xe);
            HB_TRY(rc);
        }
        first += s->count[t][i];
    }
    return HB_OK;
}

static hb_status paint_weight(const hb_mesh *m, hb_particles *p, int slot, float *buf)
{
    float *w = malloc((p->n + 1) * sizeof *w);
    if (!w) return HB_ERR(HB_ENOMEM, "weights");
    for (size_t i = 0; i < p->n; i++) w[i] = (float)p->p[3 * i + slot];
    memset(buf, 0, 2 * (size_t)m->alloc_local * sizeof *buf);
    hb_status rc = hb_paint_cic(m, buf, p, 1.0, w);
    free(w);
    return rc;
}

hb_status hb_import_camels(const char *snapshot, const hb_import_opts *o, const char *out, MPI_Comm comm)
{
    int rank, nranks;
    HB_TRY(hb_mpi(MPI_Comm_rank(comm, &rank)));
    HB_TRY(hb_mpi(MPI_Comm_size(comm, &nranks)));
    snap_info s;
    hb_status rc = HB_OK;
    if (rank == 0) rc = scan(snapshot, &s);
    HB_TRY(hb_mpi_agree(comm, rc));
    HB_TRY(hb_mpi(MPI_Bcast(&s, (int)sizeof s, MPI_BYTE, 0, comm)));
    if (s.total[1] < 1 || s.total[0] < 0) {
        return HB_ERR0(HB_EIO, "%s: the snapshot holds %ld DM (PartType1) and %ld gas (PartType0) particles; "
                       "need DM particles", snapshot, s.total[1], s.total[0]);
    }
    if (!(s.box > 0) || !isfinite(s.box) || !(s.om > 0 && s.om < 1) || !(s.ob >= 0 && s.ob < s.om) ||
        !(s.h > 0 && s.h < 2) || !(s.redshift >= 0) || !isfinite(s.redshift)) {
        return HB_ERR0(HB_EIO, "%s: header values out of range: BoxSize %g, Omega0 %g, OmegaBaryon %g, "
                       "HubbleParam %g, Redshift %g", snapshot, s.box, s.om, s.ob, s.h, s.redshift);
    }
    const double L = s.box / 1e3;
    hb_log0("import-camels: %s: %d file(s), box %g Mpc/h, z = %.3f, %ld gas and %ld DM particles -> %d^3", snapshot,
            s.nfiles, L, s.redshift, s.total[0], s.total[1], o->n_grid);
    hb_mesh m;
    HB_TRY(hb_mesh_init(&m, o->n_grid, L, comm, FFTW_ESTIMATE));
    float *dm = hb_mesh_alloc(&m), *gas = hb_mesh_alloc(&m), *temp = hb_mesh_alloc(&m);
    hb_particles p;
    rc = hb_particles_init(&p, comm, L, s.total[1], 16);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    double sums[3] = {0, 0, 0};   /* DM mass, gas mass, gas mass x T */
    for (int t = 1; t >= 0 && rc == HB_OK; t--) {
        p.n_total = s.total[t];
        rc = load_type(&s, t, &p, rank, nranks);
        rc = hb_mpi_agree(comm, rc);
        if (rc == HB_OK) rc = hb_particles_migrate(&p, &m);
        for (size_t i = 0; rc == HB_OK && i < p.n; i++) {
            sums[t == 1 ? 0 : 1] += p.p[3 * i];
            if (t == 0) sums[2] += p.p[3 * i + 1];
        }
        if (rc == HB_OK) rc = paint_weight(&m, &p, 0, t == 1 ? dm : gas);
        if (rc == HB_OK && t == 0) rc = paint_weight(&m, &p, 1, temp);
    }
    hb_particles_free(&p);
    if (rc == HB_OK) {
        hb_mpi_sum(comm, sums, 3);
        double cells = pow((double)m.N, 3), tmean = sums[1] > 0 ? sums[2] / sums[1] : 1e4;
        for (ptrdiff_t i = 0; i < m.nx_local; i++)
            for (int j = 0; j < m.N; j++)
                for (int k = 0; k < m.N; k++) {
                    size_t c = hb_mesh_ridx(&m, i, j, k);
                    temp[c] = gas[c] > 0 ? temp[c] / gas[c] : (float)tmean;
                    dm[c] = (float)(dm[c] * cells / sums[0]);
                    gas[c] = sums[1] > 0 ? (float)(gas[c] * cells / sums[1]) : 0.0f;
                }
    }
    /* Omega_m from the header; sigma_8 and the A's from the table row, else 0.8 and 1 */
    hb_boxinfo bi = {L, s.redshift, s.ob, s.h, 0.9624, {s.om, 0.8, 1, 1, 1, 1}, 0};
    hb_theta_override(bi.theta, o->theta);
    if (rc == HB_OK) {
        hb_box_fields bf = hb_box_fields_mesh(&m, dm, "cic", gas, temp, "cic");
        hb_h5_attr extra[] = {{"imported_from", 's', 0, 0, snapshot}, {"camels_name", 's', 0, 0, o->name}};
        rc = hb_box_write(out, comm, &bf, &bi, extra, o->name[0] ? 2 : 1, NULL);
    }
    if (rc == HB_OK) hb_log0("import-camels: wrote %s", out);
    fftwf_free(dm); fftwf_free(gas); fftwf_free(temp);
    hb_mesh_free(&m);
    return rc;
}

/* ---- NPY --------------------------------------------------------------- */

hb_status hb_npy_open(const char *path, hb_npy *h)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "rb");
    if (!f) return HB_ERR(HB_EIO, "cannot read %s: %s", path, strerror(errno));
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    hb_status rc = HB_OK;
    size_t hl = 0, pre_len = 10;
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6) != 0) rc = HB_ERR(HB_EIO, "%s: not an NPY file (bad magic)", path);
    if (rc == HB_OK) {
        h->version = pre[6];
        if (h->version == 1) hl = pre[8] | (size_t)pre[9] << 8;
        else if (h->version == 2 || h->version == 3) {
            if (fread(pre + 10, 1, 2, f) != 2) rc = HB_ERR(HB_EIO, "%s: truncated NPY header", path);
            hl = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
            pre_len = 12;
        } else rc = HB_ERR(HB_EIO, "%s: NPY format version %d.%d is not supported (1 or 2)", path, pre[6], pre[7]);
    }
    char *hdr = NULL;
    if (rc == HB_OK && (hl == 0 || hl > (1u << 20))) rc = HB_ERR(HB_EIO, "%s: NPY header length %zu is implausible", path, hl);
    if (rc == HB_OK) {
        hdr = calloc(hl + 1, 1);
        if (fread(hdr, 1, hl, f) != hl) rc = HB_ERR(HB_EIO, "%s: truncated NPY header (%zu bytes expected)", path, hl);
    }
    fclose(f);
    if (rc == HB_OK) {
        const char *d = strstr(hdr, "'descr'"), *fo = strstr(hdr, "'fortran_order'"), *sh = strstr(hdr, "'shape'");
        if (!d || !fo || !sh) rc = HB_ERR(HB_EIO, "%s: NPY header lacks descr, fortran_order or shape: %s", path, hdr);
        else if (!strstr(d, "'<f4'")) rc = HB_ERR(HB_EIO, "%s: NPY data type is not little-endian float32 ('<f4'): %s", path, hdr);
        else if (!strstr(fo, "False")) rc = HB_ERR(HB_EIO, "%s: NPY array is in Fortran order; expected C order", path);
        else {
            const char *p = strchr(sh, '(');
            h->ndim = 0;
            while (p && h->ndim < 4) {
                char *end;
                long v = strtol(p + 1, &end, 10);
                if (end == p + 1) break;
                h->shape[h->ndim++] = v;
                p = strchr(end, ',');
                if (!p || p > strchr(sh, ')')) break;
            }
            if (h->ndim != 4 || h->shape[1] != h->shape[2] || h->shape[2] != h->shape[3] || h->shape[0] < 1) {
                rc = HB_ERR(HB_EIO, "%s: expected a shape (n_sims, N, N, N), found %s", path, sh);
            }
        }
    }
    free(hdr);
    h->data_offset = pre_len + hl;
    return rc;
}

hb_status hb_npy_read_slab(const char *path, const hb_npy *h, long index, long x0, long nx, float *buf)
{
    if (index < 0 || index >= h->shape[0]) {
        return HB_ERR(HB_EARG, "%s holds %ld grids; index %ld is out of range", path, h->shape[0], index);
    }
    const long N = h->shape[1];
    FILE *f = fopen(path, "rb");
    if (!f) return HB_ERR(HB_EIO, "cannot read %s: %s", path, strerror(errno));
    size_t plane = (size_t)N * N;
    off_t off = (off_t)h->data_offset + ((off_t)index * N + x0) * (off_t)plane * 4;
    hb_status rc = HB_OK;
    if (fseeko(f, off, SEEK_SET) != 0 || fread(buf, sizeof *buf, (size_t)nx * plane, f) != (size_t)nx * plane) {
        rc = HB_ERR(HB_EIO, "%s: truncated: grid %ld planes %ld..%ld not there", path, index, x0, x0 + nx - 1);
    }
    fclose(f);
    return rc;
}

hb_status hb_import_cmd(const char *mcdm, const char *mgas, const char *temp, long index, double box_size,
                        const double theta[HB_NTHETA], const char *out, MPI_Comm comm)
{
    const char *paths[3] = {mcdm, mgas, temp};
    hb_npy h[3];
    long N = -1;
    hb_status rc = HB_OK;
    for (int i = 0; i < 3 && rc == HB_OK; i++) {
        if (!paths[i]) continue;
        rc = hb_npy_open(paths[i], &h[i]);
        if (rc == HB_OK && N >= 0 && h[i].shape[1] != N) rc = HB_ERR(HB_EARG, "%s is %ld^3, another grid %ld^3", paths[i], h[i].shape[1], N);
        if (rc == HB_OK) N = h[i].shape[1];
    }
    HB_TRY(hb_mpi_agree(comm, rc));
    if (N < 0) return HB_ERR0(HB_EARG, "import-cmd: no grid given");
    hb_mesh m;
    HB_TRY(hb_mesh_init(&m, (int)N, box_size, comm, FFTW_ESTIMATE));
    float *slab = malloc(((size_t)m.nx_local + 1) * N * N * sizeof *slab);
    float *bufs[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && rc == HB_OK; i++) {
        if (!paths[i]) continue;
        bufs[i] = hb_mesh_alloc(&m);
        rc = hb_npy_read_slab(paths[i], &h[i], index, (long)m.x0, (long)m.nx_local, slab);
        for (ptrdiff_t x = 0; rc == HB_OK && x < m.nx_local; x++)
            for (long y = 0; y < N; y++) memcpy(bufs[i] + hb_mesh_ridx(&m, x, (int)y, 0), slab + ((size_t)x * N + y) * N, (size_t)N * 4);
        rc = hb_mpi_agree(comm, rc);
        char what[64];
        snprintf(what, sizeof what, "grid %ld", index);
        if (rc == HB_OK) rc = hb_field_check(bufs[i], (int)N, (long)m.x0, (long)m.nx_local, (size_t)m.zpad,
                                             i < 2 ? HB_VALUES_DENSITY : HB_VALUES_POSITIVE, paths[i], what, comm);
        if (rc == HB_OK && i < 2) {   /* masses -> rho / mean */
            double mean = hb_mesh_sum(&m, bufs[i]) / pow((double)N, 3);
            if (!(mean > 0)) rc = HB_ERR0(HB_EARG, "%s grid %ld has mean %g", paths[i], index, mean);
            for (ptrdiff_t x = 0; rc == HB_OK && x < m.nx_local; x++)
                for (long y = 0; y < N; y++)
                    for (long z = 0; z < N; z++) bufs[i][hb_mesh_ridx(&m, x, (int)y, (int)z)] /= (float)mean;
        }
    }
    free(slab);
    hb_boxinfo bi = {box_size, 0.0, 0.049, 0.6711, 0.9624, {0}, index};
    memcpy(bi.theta, theta, sizeof bi.theta);
    if (rc == HB_OK) {
        hb_box_fields bf = hb_box_fields_mesh(&m, bufs[0], "none", bufs[1], bufs[2], "none");
        hb_h5_attr extra[] = {{"cmd_index", 'l', 0, index, NULL}};
        rc = hb_box_write(out, comm, &bf, &bi, extra, 1, NULL);
    }
    for (int i = 0; i < 3; i++) fftwf_free(bufs[i]);
    hb_mesh_free(&m);
    return rc;
}
