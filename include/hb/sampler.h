/* hb/sampler.h: integrating the interpolant's SDE dX = b(t, X) dt + sigma(t) dW
 * from t = 0 to 1 (SCIENCE.md 1.1-1.2), one step at a time.
 *
 *   Euler-Maruyama  x += f(t, x) dt + zeta
 *   stochastic Heun x' = x + f(t, x) dt + zeta,
 *                   x += (f(t, x) + f(t + dt, x')) dt / 2 + zeta
 * with zeta = xi sqrt(int g^2 dt over the step) (g linear in t: exact; the
 * left point's g(t)^2 dt would make Heun first order) and no noise on the
 * last step; each cell's zeta is scaled by its noise scale g_k(x0)
 * (hb_interp_noise_scale; 1 unless the model has noise slopes). Heun is
 * second order, Euler-Maruyama first
 * (tests/test_loglike.c). With the trained diffusion g = sigma, f is the
 * learned drift b. Another diffusion g = lambda sigma from t_switch on
 * ("model surgery", Chen et al. 2024; SCIENCE.md 1.2 and 1.4) needs no
 * retraining: f = b + (g^2 - sigma^2) s / 2 with the score s = -eta / (sigma
 * sqrt t) recovered from the drift and the known x0,
 *   eta = [beta (b - alpha' x0) - beta' (x - alpha x0)] / [sqrt(t) (sigma' beta - beta' sigma)],
 * so f = b + sigma (1 - lambda^2) eta / (2 sqrt t). lambda = 0 is the
 * probability-flow ODE from t_switch on; the noise before t_switch (from
 * X(0) = x0, where the score is singular) spreads the samples. xi is drawn per (seed, step, global cell,
 * channel) from Philox, so a box does not depend on the rank count. The
 * drift is the caller's (the network, with whatever halo exchange it
 * needs): the sampler sees only this rank's cells. Not collective itself;
 * the drift callback may be. */
#ifndef HB_SAMPLER_H
#define HB_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "hb/err.h"
#include "hb/interp.h"

typedef struct hb_sampler {
    int             heun;       /* 0: Euler-Maruyama, 1: stochastic Heun */
    int             steps;      /* from t = 0 to 1 */
    uint64_t        seed;
    const hb_interp *ic;        /* alpha, beta, sigma of the interpolant */
    double          lambda;     /* diffusion g = lambda sigma from t_switch on (1: as trained) */
    double          t_switch;   /* > 0 */
    const float    *x0;         /* this rank's cells: the conditioning field (the score needs it) */
} hb_sampler;

/* The drift b(t, x) of `state` into out (this rank's cells, 2 channels). The
 * sampler passes its own buffers: `state` is either the sampler state or the
 * Heun predictor, both as the caller laid them out. */
typedef hb_status (*hb_drift_fn)(void *ctx, float *state, double t, float *out);

/* Step n (0-based) of s->steps. x and pred are the caller's state buffers
 * (pred only for Heun), whose cells [own, own + 2 n_cells) are this rank's;
 * first_cell: the global index of this rank's first cell; drift, drift2:
 * 2 n_cells floats of scratch (drift2 only for Heun). */
hb_status hb_sampler_step(const hb_sampler *s, int n, float *x, float *pred, size_t own, size_t n_cells,
                          uint64_t first_cell, hb_drift_fn drift, void *ctx, float *drift_buf, float *drift2);

#endif
