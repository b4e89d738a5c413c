/* hb/train.h: training the interpolant's drift network on box files,
 * domain-decomposed and data-parallel.
 *
 * Every sample is a whole periodic box (under a random cube symmetry and
 * periodic shift, at a random interpolant time), so every voxel in the loss
 * sees its true periodic neighbourhood. The ranks form groups of `group`
 * ranks; a group spreads each of its boxes over its ranks in x-slabs whose
 * boundaries are multiples of 4 planes (hb/unet.h), and the groups work on
 * different boxes of the global batch (sample j goes to group j mod
 * n_groups). The batch, the samples and the noise come from one global
 * Philox stream, so they do not depend on the rank count; the gradients of
 * the whole batch are summed with one Allreduce per step; AdamW, then the
 * EMA of the weights. Boxes stream from disk (hb/dataset.h): each rank holds
 * two samples' slabs, prefetching the next while the network computes.
 * Checkpoints are the model file (hb/model.h). Collective over comm: hb_train. */
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
    int    batch;            /* boxes per step */
    int    width;
    int    emb;              /* width of the embedding of t and the parameters that feeds every FiLM (64) */
    int    emb_layers;       /* linear layers of that embedding's MLP (2, the reference; up to 4) */
    int    group;            /* ranks per box (0: all ranks) */
    int    augment;          /* 1: random cube symmetry and periodic shift per sample */
    double ema_decay;
    long   val_every, ckpt_every;
    int    val_samples;      /* held-out samples per validation */
    uint64_t seed;
    hb_adam_config adam;
    hb_interp interp;        /* sigma_c, beta */
    double loss_weight[3];   /* kappa (x0 >= 0, x0 < 0, x0 > HB_LOSS_KNEE): hb_loss_weights (0s: uniform) */
    char   out[1024];        /* model file (also the checkpoint) */
    int    resume;
    int    resume_changed;   /* resume even when the data or interpolant differ from the checkpoint's */
    double guard_rise;       /* the collapse guard's threshold (HB_GUARD_RISE; 0: off) */
    long   guard_window;     /* and its window in steps (HB_GUARD_WINDOW) */
} hb_train_config;

hb_train_config hb_train_config_default(void);

/* x0 (the standardised log DM) beyond which the loss weight's first two
 * slopes stop: the densest cells (about the top 1%, the halos' cores). */
#define HB_LOSS_KNEE 3   /* an integer: train's usage prints it */

/* Voxel weights of the loss for this rank's n cells of a box of N^3 cells:
 * w = exp(kappa[0] min(x0, 3) + kappa[2] max(x0 - 3, 0)) where x0 >= 0 and
 * exp(kappa[1] max(x0, -3)) where x0 < 0 (x0 the standardised log DM, 3 =
 * HB_LOSS_KNEE; kappa[1] = kappa[0] is one exponential, kappa[1] = 0 leaves
 * the voids at the mean's weight, < 0 weights them up; kappa[2] = 0 keeps
 * the densest cells at the knee's weight, > 0 weights the halos' cores, which
 * carry the gas P(k), up), normalised to mean 1 over the box. Collective over
 * comm (the ranks holding the box). */
hb_status hb_loss_weights(const double kappa[3], const float *x0, size_t n, int N, MPI_Comm comm, float *w);
/* 1 when the three slopes are finite and within [-5, 5]. */
int hb_loss_weights_ok(const double kappa[3]);
/* FNV-1a (64 bit, 16 hex digits) of the base names of the training files,
 * in order: a model's attribute data_files_hash, which a resume (and
 * `demo --model`) compares with its own list. */
void hb_train_data_hash(char **paths, int n, char out[20]);

/* The collapse guard. A training at a high learning rate can leave a
 * healthy minimum in a few steps and never come back (the demo's recipe,
 * 64 boxes at 12 000 steps, seed 1: the loss's average 0.12 at step 1300,
 * 0.8 from 1400 to the end, 37 of 154 goals on held-out boxes). The guard keeps
 * the running average of the per-step loss's logarithm (time constant
 * `window` steps; a geometric mean, so the heavy tail of single steps, CV
 * 1-1.7 in the demo's trainings, moves it little) and its lowest value;
 * every `window` steps, while that mean is within 1.5x of its lowest, it
 * asks for a snapshot of the whole state (weights, EMA, Adam moments), which becomes the rollback target once the next check one
 * window later is healthy too (a snapshot taken as a collapse began is
 * dropped). When the mean exceeds `rise` times its lowest, the training
 * rolls back to the confirmed snapshot and continues at half the learning
 * rate; after `max_rollbacks` of them it stops, keeping the confirmed
 * snapshot's state; with no confirmed snapshot it stops at once. The
 * decisions depend on the global loss only: every rank takes the same. */
typedef struct hb_guard {
    long   window;          /* steps (> 0) */
    double rise;            /* a rollback when exp(avg) > rise x exp(best) (<= 0: the guard is off) */
    int    max_rollbacks;
    double avg, best;       /* the running average of ln loss, its lowest once n >= window */
    double tripped;         /* the average that triggered the last rollback or stop (for messages) */
    long   n;               /* steps in avg */
    long   slot_step[2];    /* the snapshots' steps (-1: none) */
    double slot_avg[2];
    long   slot_n[2];
    long   confirmed, pending;   /* slot indices, -1: none */
    double lr_scale;        /* 1, halved by every rollback */
    long   rollbacks;
} hb_guard;

enum { HB_GUARD_GO = 0, HB_GUARD_SNAPSHOT, HB_GUARD_ROLLBACK, HB_GUARD_FAIL };

#define HB_GUARD_WINDOW 200
#define HB_GUARD_RISE 3.0
#define HB_GUARD_MAX_ROLLBACKS 4

hb_guard hb_guard_init(long window, double rise, int max_rollbacks);
/* After step `step` with loss `loss`: HB_GUARD_GO; HB_GUARD_SNAPSHOT (copy
 * the state into slot g->pending); HB_GUARD_ROLLBACK (restore slot
 * g->confirmed: its step is g->slot_step[g->confirmed]; g's average and
 * learning-rate scale are already updated); HB_GUARD_FAIL (stop: the
 * mean, g->tripped, is above rise times its lowest and no rollback is left;
 * when g->confirmed >= 0, g's average is back at that snapshot's, as for a
 * rollback, so that the caller can keep its state). */
int hb_guard_step(hb_guard *g, long step, double loss);

/* Train on `data` (validation on `val`, may have 0 boxes). On SIGTERM or
 * SIGUSR1 (hb_train_install_signals) writes a checkpoint at the next step
 * boundary and returns HB_ESTOP. */
hb_status hb_train(const hb_train_config *cfg, char **data, int n_data, char **val, int n_val, MPI_Comm comm);
void      hb_train_install_signals(void);

#endif
