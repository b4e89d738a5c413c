/* hb/model.h: model files, which are also the training checkpoints.
 *
 * A model file holds the architecture as attributes on "/" (model_kind =
 * "hydrobridge-unet3d-small", n_fields, width, emb, extra_in, emb_layers (absent: 2),
 * n_params); the
 * interpolant and what emulation must know of the training set (hb_model_meta:
 * sigma_c and beta_sq on "/", /interp/mean, std, floor, log10_min, log10_max,
 * theta_min, theta_max, noise_slope (absent: 0), box_size, cell_size and grid); the training state
 * (step and the settings the trainer records as attributes); and weight
 * sets, each a group with one float32 dataset per named view of the flat
 * parameter buffer: /weights, /ema (what emulation uses), /adam_m, /adam_v.
 * Reading a set checks the architecture first: a file of another
 * architecture or kind is a clear error. Collective over f->comm (the trainer
 * writes with rank 0 on MPI_COMM_SELF). */
#ifndef HB_MODEL_H
#define HB_MODEL_H

#include "hb/box.h"
#include "hb/err.h"
#include "hb/h5io.h"
#include "hb/interp.h"
#include "hb/theta.h"
#include "hb/unet.h"

#define HB_MODEL_KIND "hydrobridge-unet3d-small"

hb_status hb_model_write_arch(hb_h5 *f, const hb_unet *u);
/* Architecture stored in f; an error if f is not a hydrobridge model file. */
hb_status hb_model_read_arch(hb_h5 *f, hb_unet_config *cfg);
/* An error naming the difference when f's architecture is not u's. */
hb_status hb_model_check_arch(hb_h5 *f, const hb_unet *u);
/* One weight set: buf holds u->n_params floats laid out like u->params. */
hb_status hb_model_write_set(hb_h5 *f, const char *group, const hb_unet *u, const float *buf);
hb_status hb_model_read_set(hb_h5 *f, const char *group, const hb_unet *u, float *buf);

/* What emulation needs to know besides the weights. */
typedef struct hb_model_meta {
    hb_interp ic;
    double    theta_min[HB_NTHETA], theta_max[HB_NTHETA];   /* the training set's range */
    double    box_size, cell_size;                         /* Mpc/h */
    int       grid;
    char      dm_mas[HB_MAS_LEN];   /* the training DM's mass assignment; "" in models from before it was kept */
} hb_model_meta;

/* A named set of n_params floats (a group of one dataset per layer). */
typedef struct hb_model_set { const char *name; const float *buf; } hb_model_set;
/* Write a whole model file at path (atomically): architecture, meta, the
 * attributes (training settings; may be NULL), the weight sets
 * weights = u->params, ema, adam_m, adam_v (any of the last three may be
 * NULL) and n_extra more sets (a training's snapshots). */
hb_status hb_model_save(const char *path, MPI_Comm comm, const hb_unet *u, const hb_model_meta *meta,
                        const hb_h5_attr *attrs, int n_attrs, const float *ema, const float *m, const float *v,
                        const hb_model_set *extra, int n_extra);
hb_status hb_model_read_meta(hb_h5 *f, hb_model_meta *meta);
/* Open path, build the network it holds (u is initialised here) and load its
 * EMA weights (or /weights when it has none) and its meta. */
hb_status hb_model_load(const char *path, MPI_Comm comm, hb_unet *u, hb_model_meta *meta);
/* The same checks and weights of another file for the network u already
 * built (its architecture must be u's: an ensemble member) into buf
 * (u->n_params floats); *meta its meta. */
hb_status hb_model_load_weights(const char *path, MPI_Comm comm, const hb_unet *u, hb_model_meta *meta, float *buf);

/* A box of N^3 cells described by info, its DM painted with dm_mas, against
 * what the model was trained on: the cell size (1%), every parameter inside
 * the training range and the DM's mass assignment (hb_mas_compatible: not
 * compared when either is not recorded); a clear error naming the box
 * (`name`) otherwise. Not collective. */
hb_status hb_model_check_box(const hb_model_meta *meta, const hb_boxinfo *info, int N, const char *dm_mas,
                             const char *name);

/* An ensemble of trainings of one recipe (other seeds): their drifts are
 * averaged. The network u holds the first model's weights (member[0] =
 * u->params, owned by u); the others are loaded beside it. */
#define HB_MODEL_MAX_ENSEMBLE 8
typedef struct hb_ensemble {
    int    K;                                /* members; 1: the model alone */
    float *member[HB_MODEL_MAX_ENSEMBLE];    /* their weights, u->n_params floats each */
} hb_ensemble;

/* Models path[1..n) beside the network u already loaded from path[0] with
 * *meta: each must share u's architecture (hb_model_check_arch), the
 * interpolant and the training set's standardisation (hb_interp_difference)
 * and the cell size; *meta's parameter range becomes the members' common
 * range (their intersection). A clear error naming the first difference.
 * Collective over comm; e is filled even on error (free it). */
hb_status hb_ensemble_load(hb_ensemble *e, const hb_unet *u, hb_model_meta *meta, const char (*path)[1024], int n,
                           MPI_Comm comm);
/* The n file names joined by ", " into buf (for logs and provenance). */
void hb_ensemble_names(const char (*path)[1024], int n, char *buf, size_t cap);
/* Free members 1..K-1; member 0 stays u's. */
void hb_ensemble_free(hb_ensemble *e);

#endif
