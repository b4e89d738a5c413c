/* src/cli/demo.h: the demo's options and its emulator pipeline (stages
 * 3-6, src/cli/cmd_demo_pipeline.c); private to the front end. */
#ifndef HB_CLI_DEMO_H
#define HB_CLI_DEMO_H

#include "hb/adam.h"
#include "hb/err.h"
#include "hb/interp.h"
#include "hb/suite.h"
#include "hb/train.h"

#define HB_DEMO_MAX_HELD 8   /* held-out boxes at most */

typedef struct demo_opts {
    const char *dir, *table;
    long   boxes, grid;                /* training boxes; cells per side of every box */
    double box;                        /* side of every box [Mpc/h]: training and held-out alike */
    long   emu_steps, seeds, best_of, repaints;
    hb_train_config train;             /* stage 4: --train-steps, --batch, --width, --emb, --emb-layers,
                                        * --train-seed, --lr, --lr-min, --weight-decay, --ema, --loss-weight,
                                        * --dm-floor, --sigma-c, --noise-slope, --noise-theta, --dm-smooth,
                                        * --dm-halo (checked by demo_options as train checks them); the ranks
                                        * per box, warm-up, validation and output are set by stage 4 */
    double lambda, t_switch;           /* --diffusion, --diffusion-from */
    int    heun, tsc;                  /* Heun sampler; TSC-painted DM */
    const char *held;                  /* --held: comma-separated row names, or NULL: the rule (LH_67, LH_68) */
    const char *model;                 /* --model: a model trained on this demo's training boxes, or NULL: train */
    int    n_held;                     /* held-out boxes; set by demo_select_rows */
} demo_opts;

demo_opts demo_opts_default(void);
/* The demo's training recipe (network, optimiser, EMA, loss weights,
 * interpolant, noise, DM floor and smoothed channels, steps, batch, seed):
 * demo_opts_default's; `train --recipe demo` takes all of it but the steps,
 * batch and seed. */
hb_train_config demo_train_recipe(void);
/* The recipe's learning-rate warm-up: a tenth of the steps. */
static inline long demo_recipe_warmup(long steps) { return steps / 10; }
/* The o->boxes training rows of o->table, then the o->n_held held-out rows:
 * those named by o->held, or two by the rule in cmd_demo_pipeline.c
 * (malloc'd; before any work, so a short table, an unknown row or one
 * outside the training range is refused at once). */
hb_status demo_select_rows(demo_opts *o, hb_suite_row **sel);
/* The training files' hash a model records (hb_train_data_hash), or an error
 * naming the file: demo --model reads it before the first stage. */
hb_status demo_model_hash(const char *model, char *hash, size_t cap);
/* Stages 3-6 on those rows: suite, repaints, training (or, with o->model,
 * model_hash checked against the training boxes written), emulation, validation. */
hb_status demo_pipeline(const demo_opts *o, const hb_suite_row *sel, const char *model_hash);

#endif
