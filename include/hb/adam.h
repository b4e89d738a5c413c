/* hb/adam.h: AdamW with gradient clipping by global norm, and a linear
 * warm-up then cosine learning-rate schedule. Works on flat buffers
 * (params, grads, m, v mirror each other). Not collective: the trainer
 * all-reduces the gradients first. */
#ifndef HB_ADAM_H
#define HB_ADAM_H

#include <stddef.h>

typedef struct hb_adam_config {
    double lr;            /* peak learning rate */
    double beta1, beta2, eps;
    double weight_decay;  /* decoupled (AdamW) */
    double clip_norm;     /* <= 0: no clipping */
    long   warmup;        /* steps of linear warm-up from 0 */
    long   total;         /* cosine decay ends here */
    double lr_min_frac;   /* floor of the cosine, as a fraction of lr */
} hb_adam_config;

hb_adam_config hb_adam_config_default(void);
/* Whether the options a user may set are in range: lr finite and > 0,
 * 0 <= lr_min_frac <= 1, 0 <= weight_decay <= 1 (AdamW's usual values are
 * 0.01-0.1; 1 at lr 1e-3 already halves an idle weight in 700 steps),
 * clip_norm finite and >= 0 (0: off). False for NaN. The front ends check
 * each option alone to name it (hb_cli_check_training); hb_train checks
 * this. */
int hb_adam_config_ok(const hb_adam_config *c);
/* Learning rate at step (1-based). */
double hb_adam_lr(const hb_adam_config *c, long step);
/* One update at step (1-based). Clips grads in place when their global norm
 * exceeds clip_norm; returns the norm before clipping. */
double hb_adam_step(const hb_adam_config *c, long step, float *params, float *grads, float *m,
                    float *v, size_t n);

#endif
