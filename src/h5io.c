/* Box files in parallel HDF5 (hb/h5io.h). MPI-IO driver, collective
 * transfers; errors name the file, the dataset, what was expected and what
 * was found. */
#include "hb/h5io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hb/mpiutil.h"

#define CHUNK_BYTES (1u << 20)   /* ~1 MiB chunks of whole x planes */

static void quiet_hdf5(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* we report errors ourselves */
}

static hid_t mpio_fapl(MPI_Comm comm)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    return fapl;
}

hb_status hb_h5_create(hb_h5 *f, const char *path, MPI_Comm comm)
{
    memset(f, 0, sizeof *f);
    f->file = -1;
    quiet_hdf5();
    f->comm = comm;
    if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path ||
        snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path) >= (int)sizeof f->tmp) {
        return HB_ERR0(HB_EARG, "path too long: %s", path);
    }
    hid_t fapl = mpio_fapl(comm);
    f->file = H5Fcreate(f->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (hb_mpi_any(comm, f->file < 0)) {
        if (f->file >= 0) H5Fclose(f->file);
        f->file = -1;
        return HB_ERR0(HB_EIO, "cannot create %s (does the directory exist and is it writable?)",
                       f->tmp);
    }
    f->writing = 1;
    return HB_OK;
}

hb_status hb_h5_commit(hb_h5 *f)
{
    herr_t e = H5Fclose(f->file);
    f->file = -1;
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(f->comm, &rank)));
    int bad = e < 0;
    if (hb_mpi_any(f->comm, bad)) {
        if (rank == 0) unlink(f->tmp);
        f->writing = 0;
        return HB_ERR0(HB_EIO, "closing %s failed; nothing written", f->tmp);
    }
    int err = 0;
    if (rank == 0 && rename(f->tmp, f->path) != 0) {
        err = errno;
        unlink(f->tmp);   /* no half-named leftovers */
    }
    hb_status rc = hb_mpi(MPI_Bcast(&err, 1, MPI_INT, 0, f->comm));
    f->writing = 0;
    HB_TRY(rc);
    if (err) return HB_ERR0(HB_EIO, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(err));
    return HB_OK;
}

void hb_h5_abort(hb_h5 *f)
{
    if (f->file >= 0) H5Fclose(f->file);
    f->file = -1;
    if (f->writing) {
        int rank = 0;
        (void)hb_mpi(MPI_Comm_rank(f->comm, &rank));
        if (rank == 0) unlink(f->tmp);
        (void)hb_mpi(MPI_Barrier(f->comm));   /* nobody reuses the name before it is gone */
    }
    f->writing = 0;
}

static hb_status open_mode(hb_h5 *f, const char *path, MPI_Comm comm, unsigned mode)
{
    memset(f, 0, sizeof *f);
    f->file = -1;
    quiet_hdf5();
    f->comm = comm;
    snprintf(f->path, sizeof f->path, "%s", path);
    int missing = access(path, R_OK) != 0;
    if (hb_mpi_any(comm, missing)) return HB_ERR0(HB_EIO, "cannot read %s: %s", path, strerror(ENOENT));
    hid_t fapl = mpio_fapl(comm);
    f->file = H5Fopen(path, mode, fapl);
    H5Pclose(fapl);
    if (hb_mpi_any(comm, f->file < 0)) {
        if (f->file >= 0) H5Fclose(f->file);
        f->file = -1;
        return HB_ERR0(HB_EIO, "cannot open %s as HDF5: not an HDF5 file, or truncated "
                       "(an interrupted write?)", path);
    }
    return HB_OK;
}

hb_status hb_h5_open(hb_h5 *f, const char *path, MPI_Comm comm)
{
    return open_mode(f, path, comm, H5F_ACC_RDONLY);
}

void hb_h5_close(hb_h5 *f)
{
    if (f->file >= 0) H5Fclose(f->file);
    f->file = -1;
}

int hb_h5_exists(hb_h5 *f, const char *path)
{
    /* H5Lexists needs every intermediate link to exist: walk the path. */
    char buf[PATH_MAX];
    if (strcmp(path, "/") == 0) return 1;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (H5Lexists(f->file, buf, H5P_DEFAULT) <= 0) return 0;
            if (!c) return 1;
            *p = c;
        }
    }
}

static hid_t lcpl_intermediate(void)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}

static hid_t collective_dxpl(void)
{
    hid_t dx = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dx, H5FD_MPIO_COLLECTIVE);
    return dx;
}

/* Names the datasets of the group holding `name`, for "missing dataset" errors. */
static void list_siblings(hb_h5 *f, const char *name, char *out, size_t cap)
{
    char grp[PATH_MAX];
    snprintf(grp, sizeof grp, "%s", name);
    char *slash = strrchr(grp, '/');
    if (!slash) { snprintf(out, cap, "?"); return; }
    if (slash == grp) slash[1] = '\0'; else *slash = '\0';
    out[0] = '\0';
    if (!hb_h5_exists(f, grp) && strcmp(grp, "/") != 0) {
        snprintf(out, cap, "no group %.200s", grp);
        return;
    }
    hid_t g = H5Gopen2(f->file, grp, H5P_DEFAULT);
    H5G_info_t info;
    if (g < 0 || H5Gget_info(g, &info) < 0) { snprintf(out, cap, "?"); if (g >= 0) H5Gclose(g); return; }
    size_t used = 0;
    for (hsize_t i = 0; i < info.nlinks && used + 2 < cap; i++) {
        char nm[256];
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nm, sizeof nm, H5P_DEFAULT);
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", nm);
    }
    if (info.nlinks == 0) snprintf(out, cap, "nothing");
    H5Gclose(g);
}

hb_status hb_h5_field_size(hb_h5 *f, const char *name, int *N)
{
    if (!hb_h5_exists(f, name)) {
        char sib[1024];
        list_siblings(f, name, sib, sizeof sib);
        return HB_ERR0(HB_EIO, "%s: dataset %s not found (that group has: %s)", f->path, name, sib);
    }
    hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hid_t t = H5Dget_type(d);
    int rank = H5Sget_simple_extent_ndims(s);
    hsize_t dims[8] = {0};
    if (rank > 0 && rank <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    H5T_class_t cls = H5Tget_class(t);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    if (cls != H5T_FLOAT) return HB_ERR0(HB_EIO, "%s: %s is not a floating-point dataset", f->path, name);
    if (rank != 3 || dims[0] != dims[1] || dims[1] != dims[2]) {
        char shape[256] = "(";
        for (int i = 0; i < rank && i < 8; i++) {
            size_t l = strlen(shape);
            snprintf(shape + l, sizeof shape - l, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        }
        strcat(shape, rank == 1 ? ",)" : ")");
        return HB_ERR0(HB_EIO, "%s: %s has shape %s (%d dimensions), expected a cube (N, N, N)", f->path, name, shape,
                       rank);
    }
    *N = (int)dims[0];
    return HB_OK;
}

static hid_t open_or_create_field(hb_h5 *f, const char *name, int N)
{
    if (hb_h5_exists(f, name)) return H5Dopen2(f->file, name, H5P_DEFAULT);
    hsize_t dims[3] = {(hsize_t)N, (hsize_t)N, (hsize_t)N};
    hsize_t cx = CHUNK_BYTES / (4u * (hsize_t)N * (hsize_t)N);
    if (cx < 1) cx = 1;
    if (cx > (hsize_t)N) cx = (hsize_t)N;
    hsize_t chunk[3] = {cx, (hsize_t)N, (hsize_t)N};
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);   /* required for parallel writes */
    hid_t lcpl = lcpl_intermediate();
    hid_t d = H5Dcreate2(f->file, name, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    return d;
}

/* Transfer planes [xs, xs+nx) of dataset d (N^3) to/from buf; one call per
 * periodic piece, the same number of (collective) calls on every rank. */
static hb_status transfer_planes(hb_h5 *f, hid_t d, int N, long xs, long nx, float *buf,
                                 size_t zstride, int write)
{
    long piece_g[64], piece_len[64], piece_mem[64];
    int npieces = 0;
    for (long p = xs; p < xs + nx;) {
        long g = ((p % N) + N) % N;
        long len = N - g < xs + nx - p ? N - g : xs + nx - p;
        if (npieces == 64) return HB_ERR(HB_EARG, "slab of %ld planes wraps a %d box too often", nx, N);
        piece_g[npieces] = g;
        piece_len[npieces] = len;
        piece_mem[npieces] = p - xs;
        npieces++;
        p += len;
    }
    int nmax = npieces;
    HB_TRY(hb_mpi(MPI_Allreduce(MPI_IN_PLACE, &nmax, 1, MPI_INT, MPI_MAX, f->comm)));
    hid_t fspace = H5Dget_space(d);
    hsize_t mdims[3] = {(hsize_t)(nx > 0 ? nx : 1), (hsize_t)N, (hsize_t)zstride};
    hid_t mspace = H5Screate_simple(3, mdims, NULL);
    hid_t dx = collective_dxpl();
    herr_t e = 0;
    for (int i = 0; i < nmax; i++) {
        if (i < npieces) {
            hsize_t fs[3] = {(hsize_t)piece_g[i], 0, 0}, cnt[3] = {(hsize_t)piece_len[i], (hsize_t)N, (hsize_t)N};
            hsize_t ms[3] = {(hsize_t)piece_mem[i], 0, 0};
            H5Sselect_hyperslab(fspace, H5S_SELECT_SET, fs, NULL, cnt, NULL);
            H5Sselect_hyperslab(mspace, H5S_SELECT_SET, ms, NULL, cnt, NULL);
        } else {
            H5Sselect_none(fspace);
            H5Sselect_none(mspace);
        }
        herr_t r = write ? H5Dwrite(d, H5T_NATIVE_FLOAT, mspace, fspace, dx, buf)
                         : H5Dread(d, H5T_NATIVE_FLOAT, mspace, fspace, dx, buf);
        if (r < 0) e = r;
    }
    H5Pclose(dx);
    H5Sclose(mspace);
    H5Sclose(fspace);
    if (hb_mpi_any(f->comm, e < 0)) {
        return e < 0 ? HB_ERR(HB_EIO, "%s: %s of %ld planes from x=%ld failed (truncated file?)",
                              f->path, write ? "write" : "read", nx, xs)
                     : hb_err_quiet(HB_EIO);
    }
    return HB_OK;
}

hb_status hb_h5_write_field(hb_h5 *f, const char *name, int N, long x0, long nx,
                            const float *buf, size_t zstride, const char *mass_assignment)
{
    hid_t d = open_or_create_field(f, name, N);
    if (hb_mpi_any(f->comm, d < 0)) {
        if (d >= 0) H5Dclose(d);
        return HB_ERR0(HB_EIO, "%s: cannot create dataset %s", f->tmp[0] ? f->tmp : f->path, name);
    }
    hb_status rc = transfer_planes(f, d, N, x0, nx, (float *)buf, zstride, 1);
    H5Dclose(d);
    HB_TRY(rc);
    if (mass_assignment) HB_TRY(hb_h5_attr_write_string(f, name, "mass_assignment", mass_assignment));
    return HB_OK;
}

hb_status hb_h5_write_mesh_field(hb_h5 *f, const char *name, const hb_mesh *m, const float *buf,
                                 const char *mass_assignment)
{
    return hb_h5_write_field(f, name, m->N, (long)m->x0, (long)m->nx_local, buf, (size_t)m->zpad,
                             mass_assignment);
}

hb_status hb_h5_read_field(hb_h5 *f, const char *name, int N, long xs, long nx, float *buf,
                           size_t zstride)
{
    int Nf;
    HB_TRY(hb_h5_field_size(f, name, &Nf));
    if (Nf != N) {
        return HB_ERR0(HB_EIO, "%s: %s is %d^3, expected %d^3", f->path, name, Nf, N);
    }
    hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
    hb_status rc = transfer_planes(f, d, N, xs, nx, buf, zstride, 0);
    H5Dclose(d);
    return rc;
}

hb_status hb_h5_read_mesh_field(hb_h5 *f, const char *name, const hb_mesh *m, float *buf)
{
    return hb_h5_read_field(f, name, m->N, (long)m->x0, (long)m->nx_local, buf, (size_t)m->zpad);
}

static hb_status write_rows_typed(hb_h5 *f, const char *name, long ntot, int ncols, long row0,
                                  long nrows, const void *data, hid_t ftype, hid_t mtype)
{
    int rank2 = ncols > 1 ? 2 : 1;
    hsize_t dims[2] = {(hsize_t)ntot, (hsize_t)ncols};
    hid_t space = H5Screate_simple(rank2, dims, NULL);
    hid_t lcpl = lcpl_intermediate();
    hid_t d = H5Dcreate2(f->file, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (hb_mpi_any(f->comm, d < 0)) {
        H5Sclose(space);
        if (d >= 0) H5Dclose(d);
        return HB_ERR0(HB_EIO, "%s: cannot create dataset %s", f->tmp, name);
    }
    hsize_t start[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)nrows, (hsize_t)ncols};
    hsize_t mdims[2] = {(hsize_t)(nrows > 0 ? nrows : 1), (hsize_t)ncols};
    hid_t mspace = H5Screate_simple(rank2, mdims, NULL);
    if (nrows > 0) {
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL);
    } else {
        H5Sselect_none(space);
        H5Sselect_none(mspace);
    }
    hid_t dx = collective_dxpl();
    herr_t e = H5Dwrite(d, mtype, mspace, space, dx, data);
    H5Pclose(dx);
    H5Sclose(mspace);
    H5Sclose(space);
    H5Dclose(d);
    if (hb_mpi_any(f->comm, e < 0)) return HB_ERR0(HB_EIO, "%s: writing %s failed", f->tmp, name);
    return HB_OK;
}

hb_status hb_h5_write_rows(hb_h5 *f, const char *name, long nrows_total, int ncols, long row0,
                           long nrows, const float *data)
{
    return write_rows_typed(f, name, nrows_total, ncols, row0, nrows, data, H5T_IEEE_F32LE,
                            H5T_NATIVE_FLOAT);
}

hb_status hb_h5_write_rows_u64(hb_h5 *f, const char *name, long nrows_total, long row0,
                               long nrows, const uint64_t *data)
{
    return write_rows_typed(f, name, nrows_total, 1, row0, nrows, data, H5T_STD_U64LE,
                            H5T_NATIVE_UINT64);
}

hb_status hb_h5_write_array(hb_h5 *f, const char *name, const double *data, long n)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(f->comm, &rank)));
    return write_rows_typed(f, name, n, 1, 0, rank == 0 ? n : 0, data, H5T_IEEE_F64LE,
                            H5T_NATIVE_DOUBLE);
}

hb_status hb_h5_write_floats(hb_h5 *f, const char *name, const float *data, long n)
{
    int rank;
    HB_TRY(hb_mpi(MPI_Comm_rank(f->comm, &rank)));
    return write_rows_typed(f, name, n, 1, 0, rank == 0 ? n : 0, data, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT);
}

hb_status hb_h5_read_floats(hb_h5 *f, const char *name, float *data, long n)
{
    if (!hb_h5_exists(f, name)) return HB_ERR0(HB_EIO, "%s: dataset %s not found", f->path, name);
    hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hssize_t np = H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    if (np != n) {
        H5Dclose(d);
        return HB_ERR0(HB_EIO, "%s: %s has %lld values, expected %ld", f->path, name, (long long)np, n);
    }
    herr_t e = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    if (e < 0) return HB_ERR0(HB_EIO, "%s: reading %s failed", f->path, name);
    return HB_OK;
}

hb_status hb_h5_read_array(hb_h5 *f, const char *name, double *data, long cap, long *n)
{
    if (!hb_h5_exists(f, name)) return HB_ERR0(HB_EIO, "%s: dataset %s not found", f->path, name);
    hid_t d = H5Dopen2(f->file, name, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hssize_t np = H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    if (np > cap) {
        H5Dclose(d);
        return HB_ERR0(HB_EIO, "%s: %s has %lld values, room for %ld", f->path, name, (long long)np, cap);
    }
    herr_t e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    if (e < 0) return HB_ERR0(HB_EIO, "%s: reading %s failed", f->path, name);
    *n = (long)np;
    return HB_OK;
}

/* ---- attributes -------------------------------------------------------- */

static hb_status attr_write(hb_h5 *f, const char *obj, const char *name, hid_t type, const void *v)
{
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0) {
        H5Adelete_by_name(f->file, obj, name, H5P_DEFAULT);
    }
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(f->file, obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, type, v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    if (e < 0) return HB_ERR0(HB_EIO, "%s: cannot write attribute %s of %s", f->path, name, obj);
    return HB_OK;
}

hb_status hb_h5_attr_write_double(hb_h5 *f, const char *obj, const char *name, double v)
{
    return attr_write(f, obj, name, H5T_NATIVE_DOUBLE, &v);
}

hb_status hb_h5_attr_write_long(hb_h5 *f, const char *obj, const char *name, long v)
{
    return attr_write(f, obj, name, H5T_NATIVE_LONG, &v);
}

hb_status hb_h5_attr_write_string(hb_h5 *f, const char *obj, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hb_status rc = attr_write(f, obj, name, t, v);
    H5Tclose(t);
    return rc;
}

hb_status hb_h5_attr_write(hb_h5 *f, const char *obj, const hb_h5_attr *a)
{
    switch (a->type) {
    case 'd': return hb_h5_attr_write_double(f, obj, a->name, a->d);
    case 'l': return hb_h5_attr_write_long(f, obj, a->name, a->l);
    case 's': return hb_h5_attr_write_string(f, obj, a->name, a->s);
    default: return HB_ERR(HB_EARG, "internal: attribute %s has type '%c'", a->name, a->type);
    }
}

int hb_h5_attr_exists(hb_h5 *f, const char *obj, const char *name)
{
    return H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0;
}

static hid_t attr_open(hb_h5 *f, const char *obj, const char *name)
{
    if (strcmp(obj, "/") != 0 && !hb_h5_exists(f, obj)) return -1;
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) <= 0) return -1;
    return H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
}

static hb_status attr_read_num(hb_h5 *f, const char *obj, const char *name, hid_t mtype, void *v)
{
    hid_t a = attr_open(f, obj, name);
    if (a < 0) return HB_ERR0(HB_EIO, "%s: attribute %s missing on %s", f->path, name, obj);
    hid_t s = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    herr_t e = n == 1 ? H5Aread(a, mtype, v) : -1;
    H5Aclose(a);
    if (e < 0) {
        return HB_ERR0(HB_EIO, "%s: attribute %s of %s: expected one number, found %lld values "
                       "or another type", f->path, name, obj, (long long)n);
    }
    return HB_OK;
}

hb_status hb_h5_attr_read_double(hb_h5 *f, const char *obj, const char *name, double *v)
{
    return attr_read_num(f, obj, name, H5T_NATIVE_DOUBLE, v);
}

hb_status hb_h5_attr_read_long(hb_h5 *f, const char *obj, const char *name, long *v)
{
    return attr_read_num(f, obj, name, H5T_NATIVE_LONG, v);
}

hb_status hb_h5_attr_read_string(hb_h5 *f, const char *obj, const char *name, char *v, size_t cap)
{
    hid_t a = attr_open(f, obj, name);
    if (a < 0) return HB_ERR0(HB_EIO, "%s: attribute %s missing on %s", f->path, name, obj);
    hid_t t = H5Aget_type(a);
    herr_t e = -1;
    if (H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            char *s = NULL;
            e = H5Aread(a, mt, &s);
            if (e >= 0 && s) {
                snprintf(v, cap, "%s", s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(t);
            char *s = calloc(sz + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            e = s ? H5Aread(a, mt, s) : -1;
            if (e >= 0) snprintf(v, cap, "%s", s);
            H5Tclose(mt);
            free(s);
        }
    }
    H5Tclose(t);
    H5Aclose(a);
    if (e < 0) return HB_ERR0(HB_EIO, "%s: attribute %s of %s is not a string", f->path, name, obj);
    return HB_OK;
}

hb_status hb_h5_create_group(hb_h5 *f, const char *path)
{
    hid_t lcpl = lcpl_intermediate();
    hid_t g = H5Gcreate2(f->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return HB_ERR0(HB_EIO, "%s: cannot create group %s", f->path, path);
    H5Gclose(g);
    return HB_OK;
}
