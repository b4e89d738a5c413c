/* AdamW, clipping, warm-up + cosine schedule (hb/adam.h). */
#include "hb/adam.h"

#include <math.h>

hb_adam_config hb_adam_config_default(void)
{
    hb_adam_config c = {2e-4, 0.9, 0.999, 1e-8, 0.0, 1.0, 100, 10000, 0.05};
    return c;
}

int hb_adam_config_ok(const hb_adam_config *c)
{
    return c->lr > 0 && isfinite(c->lr) && c->lr_min_frac >= 0 && c->lr_min_frac <= 1 && c->weight_decay >= 0 &&
           c->weight_decay <= 1 && c->clip_norm >= 0 && isfinite(c->clip_norm);
}

double hb_adam_lr(const hb_adam_config *c, long step)
{
    if (c->warmup > 0 && step <= c->warmup) return c->lr * (double)step / (double)c->warmup;
    long span = c->total - c->warmup;
    if (span <= 0) return c->lr;
    double p = (double)(step - c->warmup) / (double)span;
    if (p > 1) p = 1;
    double lo = c->lr * c->lr_min_frac;
    return lo + 0.5 * (c->lr - lo) * (1 + cos(M_PI * p));
}

double hb_adam_step(const hb_adam_config *c, long step, float *params, float *grads, float *m,
                    float *v, size_t n)
{
    /* the norm from fixed chunks summed in order: the same bits for any
     * thread count (an OpenMP reduction combines in arrival order) */
    enum { NCHUNK = 64 };
    double part[NCHUNK];
#pragma omp parallel for schedule(static)
    for (int k = 0; k < NCHUNK; k++) {
        size_t lo = n * k / NCHUNK, hi = n * (k + 1) / NCHUNK;
        double s = 0;
        for (size_t i = lo; i < hi; i++) s += (double)grads[i] * grads[i];
        part[k] = s;
    }
    double norm2 = 0;
    for (int k = 0; k < NCHUNK; k++) norm2 += part[k];
    double norm = sqrt(norm2);
    float clip = 1.0f;
    if (c->clip_norm > 0 && norm > c->clip_norm) clip = (float)(c->clip_norm / norm);
    const double lr = hb_adam_lr(c, step);
    const double bc1 = 1 - pow(c->beta1, (double)step), bc2 = 1 - pow(c->beta2, (double)step);
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const float a = (float)(lr / bc1), s2 = (float)(1.0 / sqrt(bc2)), wd = (float)(lr * c->weight_decay);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i] * clip;
        grads[i] = g;
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        /* p -= lr (m_hat / (sqrt(v_hat) + eps) + wd p), m_hat = m/bc1, v_hat = v/bc2 */
        params[i] -= a * m[i] / (sqrtf(v[i]) * s2 + eps) + wd * params[i];
    }
    return norm;
}
