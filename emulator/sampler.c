/* SDE samplers of the interpolant (hb/sampler.h). */
#include "hb/sampler.h"

#include <math.h>

#include "hb/rng.h"

/* The two channels' noise of global cell g at step n. */
static inline void noise(uint64_t seed, int n, uint64_t g, float xi[2])
{
    double r[2];
    hb_rng_normal2(seed, HB_STREAM_SAMPLER, g, (uint32_t)n, r);
    xi[0] = (float)r[0];
    xi[1] = (float)r[1];
}

/* Diffusion scale of step n at time t. */
static double lambda_at(const hb_sampler *s, double t)
{
    return t >= s->t_switch && t > 0 ? s->lambda : 1.0;
}

/* The drift f(t, x) of state (own cells at offset own) into out. */
static hb_status drift_f(const hb_sampler *s, hb_drift_fn drift, void *ctx, float *state, size_t own, double t,
                         float *out, size_t n_cells)
{
    HB_TRY(drift(ctx, state, t, out));
    if (lambda_at(s, t) != 1.0) hb_interp_drift_change(s->ic, t, s->lambda, s->x0, state + own, out, n_cells);
    return HB_OK;
}

/* out[c] = x[c] + (dt b[c] + amp g xi), or with b the mean of b and b2 (b2
 * != NULL); g: the cell's noise scale (hb_interp_noise_scale). */
static void advance(const hb_sampler *s, float *out, const float *x, const float *b, const float *b2, float dt,
                    float amp, int n, uint64_t first_cell, size_t n_cells)
{
    for (size_t c = 0; c < n_cells; c++) {
        float xi[2];
        noise(s->seed, n, first_cell + c, xi);
        for (int k = 0; k < 2; k++) {
            float d = b2 ? 0.5f * (b[2 * c + k] + b2[2 * c + k]) : b[2 * c + k];
            out[2 * c + k] = x[2 * c + k] + (dt * d + amp * hb_interp_noise_scale(s->ic, k, s->x0[c]) * xi[k]);
        }
    }
}

hb_status hb_sampler_step(const hb_sampler *s, int n, float *x, float *pred, size_t own, size_t n_cells,
                          uint64_t first_cell, hb_drift_fn drift, void *ctx, float *b, float *b2)
{
    const double dt = 1.0 / s->steps, t = n * dt;
    const int last = n == s->steps - 1;
    /* the noise's variance over the step, int sigma^2 dt (sigma linear in t: exact) */
    const double sa = hb_interp_sigma(s->ic, t), sb = hb_interp_sigma(s->ic, t + dt);
    const float amp = last ? 0.0f : (float)(lambda_at(s, t) * sqrt(dt * (sa * sa + sa * sb + sb * sb) / 3));
    HB_TRY(drift_f(s, drift, ctx, x, own, t, b, n_cells));
    if (s->heun) {
        advance(s, pred + own, x + own, b, NULL, (float)dt, amp, n, first_cell, n_cells);
        HB_TRY(drift_f(s, drift, ctx, pred, own, t + dt, b2, n_cells));
    }
    advance(s, x + own, x + own, b, s->heun ? b2 : NULL, (float)dt, amp, n, first_cell, n_cells);
    return HB_OK;
}
