/* hb/dataset.h: training sets of box files for the interpolant.
 *
 * A training set is a list of box files (a directory's *.h5, sorted, or a
 * list file). Each rank holds the x-slab of every box (hb/halo.h, FFTW's
 * decomposition) plus a periodic halo of `halo` planes on the right, as the
 * interpolant's standardised channels (hb/interp.h: log10 of DM, gas
 * density and temperature, minus the training set's mean, over its std),
 * read with collective hyperslab reads; no rank holds a whole box.
 * Patches: patch j of a global batch of B takes its x-origin inside the j-th
 * of B strata of the box; the other coordinates, box, cube symmetry (one of
 * 48), and interpolant time come from Philox keyed by (seed, stream, step,
 * j), so the list does not depend on the rank count.
 * Collective over comm: list, stats, load. */
#ifndef HB_DATASET_H
#define HB_DATASET_H

#include <mpi.h>
#include <stdint.h>

#include "hb/box.h"
#include "hb/err.h"
#include "hb/halo.h"
#include "hb/interp.h"

typedef struct hb_box_slab {
    char       path[1024];
    hb_boxinfo info;
    float     *data;    /* (nx + halo) planes x N x N x 3 standardised channels */
} hb_box_slab;

typedef struct hb_dataset {
    int          n_boxes, N;
    double       box_size;
    long         halo;          /* planes beyond the slab on the right */
    hb_slab      slab;
    hb_box_slab *boxes;
} hb_dataset;

/* List the box files of a directory (*.h5, sorted) or of a list file (one
 * path per line, '#' comments). Rank 0 reads, all ranks get the list. */
hb_status hb_dataset_list(const char *dir_or_list, char ***paths, int *n, MPI_Comm comm);
void      hb_dataset_free_list(char **paths, int n);
/* Mean, std, min and max of log10 of each channel over every cell of the
 * boxes (floored at ic->floor), into ic. */
hb_status hb_dataset_stats(char **paths, int n, hb_interp *ic, MPI_Comm comm);
/* Load every box's slab + halo, standardised with ic. */
hb_status hb_dataset_load(hb_dataset *ds, char **paths, int n, long halo, const hb_interp *ic, MPI_Comm comm);
void      hb_dataset_free(hb_dataset *ds);
/* The parameter range of the boxes. */
void      hb_dataset_theta_range(const hb_dataset *ds, double lo[HB_NTHETA], double hi[HB_NTHETA]);

typedef struct hb_patch {
    int    j;                 /* index in the global batch (keys the noise) */
    int    box, ox, oy, oz;   /* box and origin */
    int    sym;               /* cube symmetry 0..47: 6 axis permutations x 8 reflections */
    double t;                 /* interpolant time */
} hb_patch;

/* The patches of a global batch of B at (seed, stream, step) whose origin
 * lies in this rank's slab; returns their count. */
int hb_dataset_patches(const hb_dataset *ds, uint64_t seed, uint32_t stream, long step, int B, int augment,
                       hb_patch *out);
/* Copy patch s (P^3, from this rank's slab and halo) into x0 (V) and x1 (V, 2), applying its symmetry. */
void hb_dataset_extract(const hb_dataset *ds, const hb_patch *s, int P, float *x0, float *x1);

#endif
