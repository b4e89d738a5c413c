/* hb/train.h: training the interpolant's drift network on box files,
 * data-parallel and domain-decomposed.
 *
 * The training set (hb/dataset.h) is spread over the ranks as x-slabs; each
 * step draws a global batch of patches whose list does not depend on the
 * rank count, the rank whose slab holds a patch's origin computes it, and
 * the gradients are summed with one Allreduce per step; AdamW, then the EMA
 * of the weights. Checkpoints are the model file (hb/model.h).
 * Collective over comm: hb_train. */
#ifndef HB_TRAIN_H
#define HB_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "hb/adam.h"
#include "hb/dataset.h"
#include "hb/err.h"
#include "hb/interp.h"

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

#endif
