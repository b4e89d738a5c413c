/* src/cli/demo.h: the demo's options and its emulator pipeline (stages
 * 3-6, src/cli/cmd_demo_pipeline.c); private to the front end. */
#ifndef HB_CLI_DEMO_H
#define HB_CLI_DEMO_H

#include "hb/err.h"

typedef struct demo_opts {
    const char *dir, *table;
    long   boxes, grid;                /* training boxes; cells per side of every box */
    double box;                        /* side of every box [Mpc/h]: training and held-out alike */
    long   train_steps, batch, emu_steps, seeds, repaints, width, train_seed;
    double lr, ema, lambda, t_switch, loss_weight[2], dm_floor, sigma_c;
    double noise_slope[2];             /* gas, temperature (hb_interp) */
    int    heun, tsc;                  /* Heun sampler; TSC-painted DM */
} demo_opts;

demo_opts demo_opts_default(void);
/* The table has the rows the options ask for (before any work is done). */
hb_status demo_check_table(const demo_opts *o);
/* Stages 3-6: suite, repaints, training, emulation, validation. */
hb_status demo_pipeline(const demo_opts *o);

#endif
