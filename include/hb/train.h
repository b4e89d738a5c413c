/* hb/train.h: training the interpolant's drift network on box files,
 * data-parallel and domain-decomposed.
 *
 * Every rank holds the x-slab of every training box (FFTW's decomposition,
 * hb/halo.h) plus a periodic halo of patch-1 planes, read with collective
 * hyperslab reads; no rank holds a whole box. Patch j of a global batch of B
 * takes its x-origin uniformly inside the j-th of B strata of the box, its
 * other coordinates, box, symmetry (one of 48), interpolant time and noise
 * from one Philox stream keyed by (seed, step, j); the rank whose slab holds
 * the origin computes it, and the gradients are summed with one Allreduce
 * per step. The patch list therefore does not depend on the rank count.
 * Collective over comm: every function here. */
#ifndef HB_TRAIN_H
#define HB_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "hb/adam.h"
#include "hb/err.h"
#include "hb/halo.h"
#include "hb/h5io.h"
#include "hb/interp.h"
#include "hb/unet.h"

typedef struct hb_box_slab {
    char       path[1024];
    hb_boxinfo info;
    double     theta[6];
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
/* Standardisation statistics (mean, std of log10 of each channel) over all
 * cells of the boxes. */
hb_status hb_dataset_stats(char **paths, int n, hb_interp *ic, MPI_Comm comm);
/* Load every box's slab + halo, standardised with ic. */
hb_status hb_dataset_load(hb_dataset *ds, char **paths, int n, long halo, const hb_interp *ic, MPI_Comm comm);
void      hb_dataset_free(hb_dataset *ds);

typedef struct hb_train_config {
    long   steps;            /* total optimiser steps */
    int    batch, patch, width;
    int    augment;          /* 1: random cube symmetry per patch */
    double ema_decay;
    long   val_every, ckpt_every;
    int    val_patches;
    uint64_t seed;
    hb_adam_config adam;
    hb_interp interp;        /* sigma_c, beta */
    char   out[1024];        /* model file (also the checkpoint) */
    int    resume;
} hb_train_config;

hb_train_config hb_train_config_default(void);

/* Train on `data` (validation on `val`, may have 0 boxes). On SIGTERM or
 * SIGUSR1 (hb_train_install_signals) writes a checkpoint at the next step
 * boundary and returns HB_ESTOP. */
hb_status hb_train(const hb_train_config *cfg, char **data, int n_data, char **val, int n_val, MPI_Comm comm);
void      hb_train_install_signals(void);

/* The parameter range of a model's training set (for emulation checks). */
hb_status hb_model_read_interp(hb_h5 *f, hb_interp *ic, double theta_min[6], double theta_max[6],
                               double *cell);

#endif
