/* hb/dataset.h: training sets of box files for the interpolant, streamed
 * from disk.
 *
 * A training set is a list of box files (a directory's *.h5, sorted, or a
 * list file); opening it reads only their descriptions. A training sample
 * is a whole periodic box seen through one of the 48 cube symmetries and a
 * periodic shift, at one interpolant time t (hb_sample, drawn from Philox
 * keyed by (seed, stream, step, j), so the sequence does not depend on the
 * rank count). The loader reads this rank's x-slab of a sample's three
 * channels (hb/interp.h: standardised log10 of DM, gas density,
 * temperature) straight from the files, in a background thread that
 * prefetches the next sample while the network computes: for files whose
 * fields are uncompressed little-endian float32 (what hydrobridge writes)
 * it reads their chunks with pread at offsets taken from HDF5 once when the
 * set is opened; other files are read through HDF5 in the calling thread.
 * Memory per rank: two samples' slabs and one plane per field, whatever the
 * number of boxes; with the smoothed-DM channels (hb/smooth.h) also the
 * whole DM box twice (three times with two radii), read whole and smoothed
 * for every sample. Collective over comm: open, stats. */
#ifndef HB_DATASET_H
#define HB_DATASET_H

#include <mpi.h>
#include <pthread.h>
#include <stdint.h>

#include "hb/box.h"
#include "hb/err.h"
#include "hb/halo.h"
#include "hb/interp.h"
#include "hb/smooth.h"

typedef struct hb_box_src {
    char       path[1024];
    hb_boxinfo info;
    char       dm_mas[HB_MAS_LEN];     /* the DM field's mass assignment */
    int        direct;                 /* 1: fields readable with pread (plane offsets below) */
    int64_t   *plane_off[HB_NCH];      /* [N] file offset of plane x of each field (direct) */
} hb_box_src;

typedef struct hb_dataset {
    int         n_boxes, N;
    double      box_size;
    char        dm_mas[HB_MAS_LEN];    /* the boxes' DM mass assignment: the one their labels other than
                                          "none" share (they must agree), "none" when none says */
    hb_box_src *boxes;
} hb_dataset;

/* List the box files of a directory (*.h5, sorted) or of a list file (one
 * path per line, '#' comments). Rank 0 reads, all ranks get the list. */
hb_status hb_dataset_list(const char *dir_or_list, char ***paths, int *n, MPI_Comm comm);
void      hb_dataset_free_list(char **paths, int n);
/* Descriptions and plane offsets of the boxes (rank 0 reads, all get them);
 * a clear error unless every box holds the three fields as N^3 alike with
 * N a multiple of 4, the same box size and the DM painted alike (every
 * mass_assignment other than "none" the same). */
hb_status hb_dataset_open(hb_dataset *ds, char **paths, int n, MPI_Comm comm);
void      hb_dataset_close(hb_dataset *ds);
/* Mean, std, min and max of log10 of each channel over every cell of the
 * boxes (floored at ic->floor), into ic: one pass, x-slabs over comm; with
 * ic->n_smooth > 0 also each smoothed DM channel's mean and std (each box
 * read once and smoothed by each radius, by one rank, and its planes
 * scattered). */
hb_status hb_dataset_stats(const hb_dataset *ds, hb_interp *ic, MPI_Comm comm);
/* The parameter range of the boxes. */
void      hb_dataset_theta_range(const hb_dataset *ds, double lo[HB_NTHETA], double hi[HB_NTHETA]);

typedef struct hb_sample {
    int    j;           /* index in its batch (keys the noise) */
    int    box;
    int    sym;         /* cube symmetry 0..47: 6 axis permutations x 8 reflections */
    int    shift[3];    /* periodic shift of the original box, cells */
    double t;           /* interpolant time */
} hb_sample;

/* Sample j of the batch at (seed, stream, step); augment 0: identity, no shift. */
void hb_dataset_sample(const hb_dataset *ds, uint64_t seed, uint32_t stream, long step, int j, int augment,
                       hb_sample *s);

/* The loader of one rank's slab (slab->x0, nx of N^2 planes) of samples. */
typedef struct hb_loader {
    const hb_dataset *ds;
    const hb_slab    *slab;            /* borrowed: the network's decomposition */
    hb_interp         ic;              /* standardisation */
    size_t            n;               /* cells of the slab */
    float            *x0[2], *x1[2];   /* two slots: DM (n), baryons (n x 2) */
    float            *xs[2];           /* the smoothed DM (n x ic.n_smooth), when ic.n_smooth > 0; else NULL */
    float            *plane;           /* one N^2 plane per read */
    float            *full;            /* the whole DM box (N^3), for the smoothing; else NULL */
    float            *sout;            /* N^3: a smoothed box when ic.n_smooth > 1 (the last radius: in place) */
    hb_smoother       sm[HB_SMOOTH_MAX_CH];
    hb_sample         held[2];         /* what each slot holds (box -1: nothing) */
    int               next;            /* the slot the thread fills */
    pthread_t         thread;
    pthread_mutex_t   mu;
    pthread_cond_t    cv;
    int               busy, quit, started;
    hb_sample         job;
    hb_status         job_rc;
    char              err[2048];       /* the thread's message, reported by the caller */
    double            t_wait;          /* seconds the caller waited for data */
} hb_loader;

hb_status hb_loader_init(hb_loader *L, const hb_dataset *ds, const hb_slab *slab, const hb_interp *ic);
void      hb_loader_free(hb_loader *L);
/* Start reading sample s in the background (into the slot not in use). */
void      hb_loader_prefetch(hb_loader *L, const hb_sample *s);
/* The channels of sample s for this rank's cells: x0 (n), xs (n x
 * n_smooth, the smoothed DM; NULL without it; xs itself may be NULL) and
 * x1 (n x 2);
 * waits for the prefetch when it is s, else reads now. The pointers stay
 * valid until the next-but-one call. Not collective. */
hb_status hb_loader_get(hb_loader *L, const hb_sample *s, const float **x0, const float **xs, const float **x1);

#endif
