/* hb/h5io.h: box files in parallel HDF5 (MPI-IO driver).
 *
 * Datasets, attributes and groups; the box layout on top of it is hb/box.h.
 * Fields are float32 N^3 datasets in C order (x slowest), chunked by x planes.
 *
 * Files are written to "<name>.tmp" and renamed to <name> by hb_h5_commit,
 * so a crash never leaves a file that looks complete. A field written on R
 * ranks reads on any other count (hyperslabs of x planes).
 * Collective over f->comm: every function taking an hb_h5 (use
 * MPI_COMM_SELF for a file one rank handles alone). */
#ifndef HB_H5IO_H
#define HB_H5IO_H

#include <hdf5.h>
#include <limits.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "hb/err.h"
#include "hb/mesh.h"

typedef struct hb_h5 {
    hid_t    file;
    MPI_Comm comm;
    int      writing;
    char     path[PATH_MAX];   /* final name */
    char     tmp[PATH_MAX];    /* name while being written */
} hb_h5;

hb_status hb_h5_create(hb_h5 *f, const char *path, MPI_Comm comm);
hb_status hb_h5_commit(hb_h5 *f);          /* close and rename into place */
void      hb_h5_abort(hb_h5 *f);           /* close and delete the temporary */
hb_status hb_h5_open(hb_h5 *f, const char *path, MPI_Comm comm);   /* read-only */
void      hb_h5_close(hb_h5 *f);

int hb_h5_exists(hb_h5 *f, const char *path);   /* dataset or group */

/* Write an N^3 float field: this rank's planes [x0, x0+nx) from buf, whose
 * rows along z are zstride floats apart (zstride >= N). */
hb_status hb_h5_write_field(hb_h5 *f, const char *name, int N, long x0, long nx,
                            const float *buf, size_t zstride, const char *mass_assignment);
hb_status hb_h5_write_mesh_field(hb_h5 *f, const char *name, const hb_mesh *m, const float *buf,
                                 const char *mass_assignment);
/* The side N of a float N^3 dataset; a clear error if absent or not a cube. */
hb_status hb_h5_field_size(hb_h5 *f, const char *name, int *N);
/* Read planes [xs, xs+nx) of an N^3 field, periodically wrapped (xs may be
 * negative, xs+nx may exceed N, nx may exceed N). */
hb_status hb_h5_read_field(hb_h5 *f, const char *name, int N, long xs, long nx, float *buf,
                           size_t zstride);
hb_status hb_h5_read_mesh_field(hb_h5 *f, const char *name, const hb_mesh *m, float *buf);

/* Row blocks of an (nrows_total, ncols) float or (nrows_total) uint64 dataset;
 * this rank writes/reads rows [row0, row0+nrows). */
hb_status hb_h5_write_rows(hb_h5 *f, const char *name, long nrows_total, int ncols, long row0,
                           long nrows, const float *data);
hb_status hb_h5_write_rows_u64(hb_h5 *f, const char *name, long nrows_total, long row0,
                               long nrows, const uint64_t *data);
/* A 1-D float array (rank 0's copy is written; every rank reads all). */
hb_status hb_h5_write_floats(hb_h5 *f, const char *name, const float *data, long n);
hb_status hb_h5_read_floats(hb_h5 *f, const char *name, float *data, long n);
/* A small 1-D double array written by every rank with identical contents. */
hb_status hb_h5_write_array(hb_h5 *f, const char *name, const double *data, long n);
hb_status hb_h5_read_array(hb_h5 *f, const char *name, double *data, long cap, long *n);

/* Attributes on an object ("/" or a dataset path). */
hb_status hb_h5_attr_write_double(hb_h5 *f, const char *obj, const char *name, double v);
hb_status hb_h5_attr_write_long(hb_h5 *f, const char *obj, const char *name, long v);
hb_status hb_h5_attr_write_string(hb_h5 *f, const char *obj, const char *name, const char *v);
/* An attribute value of one of three types, for lists of attributes. */
typedef struct hb_h5_attr {
    const char *name;
    char        type;            /* 'd' double, 'l' long, 's' string */
    double      d;
    long        l;
    const char *s;
} hb_h5_attr;
hb_status hb_h5_attr_write(hb_h5 *f, const char *obj, const hb_h5_attr *a);
hb_status hb_h5_attr_read_double(hb_h5 *f, const char *obj, const char *name, double *v);
hb_status hb_h5_attr_read_long(hb_h5 *f, const char *obj, const char *name, long *v);
hb_status hb_h5_attr_read_string(hb_h5 *f, const char *obj, const char *name, char *v, size_t cap);
int       hb_h5_attr_exists(hb_h5 *f, const char *obj, const char *name);

/* Create a group (intermediate groups too). */
hb_status hb_h5_create_group(hb_h5 *f, const char *path);

#endif
