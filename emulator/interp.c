/* The stochastic interpolant (hb/interp.h). */
#include "hb/interp.h"

#include <math.h>
#include <stdio.h>

#include "hb/theta.h"
#include "hb/unet.h"

hb_interp hb_interp_default(void)
{
    hb_interp c = {0.5, 1, {0, 0, 0}, {1, 1, 1}, {1e-3, 1e-3, 1.0}, {-1e30, -1e30, -1e30}, {1e30, 1e30, 1e30},
                   {0, 0}, 0, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, {{0}}, {0}};   /* sigma_c 0.5: README */
    return c;
}

double hb_interp_beta(const hb_interp *c, double t) { return c->beta_sq ? t * t : t; }
double hb_interp_beta_dot(const hb_interp *c, double t) { return c->beta_sq ? 2 * t : 1.0; }
double hb_interp_sigma(const hb_interp *c, double t) { return c->sigma_c * (1 - t); }

float hb_interp_noise_scale(const hb_interp *c, int k, float x0)
{
    return expf((float)c->noise_slope[k] * fminf(fmaxf(x0, -3.0f), 3.0f) + (float)c->noise_lngain[k]);
}

int hb_interp_noise_bad(const double *c, int n)
{
    for (int i = 0; i < n; i++)
        if (!(fabs(c[i]) <= 2)) return i;   /* NaN too */
    return -1;
}

const char *hb_interp_noise_name(int i, int n, char *buf, size_t cap)
{
    if (n == HB_NTARGET) snprintf(buf, cap, "%s", HB_CHANNEL_NAME[1 + i]);
    else snprintf(buf, cap, "%s on %s", HB_CHANNEL_NAME[1 + i / HB_NTHETA], HB_THETA[i % HB_NTHETA].name);
    return buf;
}

const char *hb_interp_noise_theta_describe(const hb_interp *c, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int j = 0; j < HB_NTHETA && n < cap; j++) {
        if (c->noise_theta[0][j] == 0 && c->noise_theta[1][j] == 0) continue;
        n += (size_t)snprintf(buf + n, cap - n, "%s%s:%g,%g", n ? " " : "", HB_THETA[j].name, c->noise_theta[0][j],
                              c->noise_theta[1][j]);
    }
    if (!n) snprintf(buf, cap, "none");
    return buf;
}

hb_interp hb_interp_at(const hb_interp *c, const double theta[HB_NTHETA])
{
    hb_interp a = *c;
    double n[HB_NTHETA];
    hb_theta_normalise(theta, n);
    for (int k = 0; k < HB_NTARGET; k++) {
        a.noise_lngain[k] = 0;
        for (int j = 0; j < HB_NTHETA; j++) a.noise_lngain[k] += c->noise_theta[k][j] * n[j];
    }
    return a;
}

void hb_interp_drift_change(const hb_interp *c, double t, double lambda, const float *x0, const float *x, float *b,
                            size_t n_cells)
{
    const double al = 1 - t, be = hb_interp_beta(c, t), bed = hb_interp_beta_dot(c, t), sg = hb_interp_sigma(c, t);
    const double den = sqrt(t) * (-c->sigma_c * be - bed * sg);   /* alpha' = -1, sigma' = -sigma_c */
    const float k = (float)(sg * (1 - lambda * lambda) / (2 * sqrt(t) * den));
    const float fb = (float)be, fa = (float)-be, fd = (float)bed, fal = (float)al;
    for (size_t i = 0; i < n_cells; i++)
        for (int j = 0; j < HB_NTARGET; j++) {
            float xz = x0[i], bb = b[HB_NTARGET * i + j];
            float eta_num = fb * bb - fa * xz - fd * (x[HB_NTARGET * i + j] - fal * xz);
            b[HB_NTARGET * i + j] = bb + k * eta_num;
        }
}

void hb_interp_flow_div(const hb_interp *c, double t, double *F, double *G)
{
    const double be = hb_interp_beta(c, t), bed = hb_interp_beta_dot(c, t), sg = hb_interp_sigma(c, t);
    const double den = 2 * t * (-c->sigma_c * be - bed * sg);
    *F = 1 + sg * be / den;
    *G = -sg * bed / den;
}

float hb_interp_to_std(const hb_interp *c, int ch, double value)
{
    double v = value > c->floor[ch] ? value : c->floor[ch];
    return (float)((log10(v) - c->mean[ch]) / c->std[ch]);
}

double hb_interp_from_std(const hb_interp *c, int ch, float u)
{
    return pow(10.0, (double)u * c->std[ch] + c->mean[ch]);
}

void hb_interp_features(double t, const double theta[HB_NTHETA], float feat[22])
{
    hb_unet_time_features(t, feat);
    double n[HB_NTHETA];
    hb_theta_normalise(theta, n);
    for (int i = 0; i < HB_NTHETA; i++) feat[16 + i] = (float)n[i];
}

int hb_interp_n_in(const hb_interp *c) { return 3 + c->n_smooth; }

void hb_interp_pair(const hb_interp *c, double t, const float *x0, const float *xs, const float *x1, const float *z,
                    float *in, float *target, size_t V)
{
    const size_t S = xs ? (size_t)c->n_smooth : 0, C = 3 + S;
    const float a = (float)(1 - t), b = (float)hb_interp_beta(c, t), bd = (float)hb_interp_beta_dot(c, t);
    const float sg = (float)(hb_interp_sigma(c, t) * sqrt(t)), sd = (float)(c->sigma_c * sqrt(t));
    for (size_t v = 0; v < V; v++) {
        for (int k = 0; k < HB_NTARGET; k++) {
            float x1v = x1[v * 2 + k], zv = z[v * 2 + k] * hb_interp_noise_scale(c, k, x0[v]);
            in[v * C + k] = a * x0[v] + b * x1v + sg * zv;
            target[v * 2 + k] = -x0[v] + bd * x1v - sd * zv;
        }
        in[v * C + 2] = x0[v];
        for (size_t j = 0; j < S; j++) in[v * C + 3 + j] = xs[v * S + j];
    }
}

void hb_interp_input(const hb_interp *c, const float *x, const float *x0, const float *xs, float *in, size_t V)
{
    const size_t S = xs ? (size_t)c->n_smooth : 0, C = 3 + S;
    for (size_t v = 0; v < V; v++) {
        in[C * v] = x[2 * v];
        in[C * v + 1] = x[2 * v + 1];
        in[C * v + 2] = x0[v];
        for (size_t j = 0; j < S; j++) in[C * v + 3 + j] = xs[v * S + j];
    }
}

/* Relative 1e-9, absolute 1e-9 near zero (the statistics are log10 values and
 * their spreads: a sum over other rank counts moves them by ~1e-15). */
static int differs(double a, double b) { return !(fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)))); }

/* "1.5:0, 1:0.8" (radius:threshold of each smoothed-DM channel) or "none" */
static void smooth_list(const hb_interp *c, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s", c->n_smooth ? "" : "none");
    for (int j = 0; j < c->n_smooth && n < cap; j++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s%g:%g", j ? ", " : "", c->smooth_r[j], c->smooth_thr[j]);
    }
}

const char *const HB_CHANNEL_NAME[HB_NCH] = {"DM", "gas density", "gas temperature"};

void hb_interp_difference(const hb_interp *a, const hb_interp *b, char *buf, size_t cap)
{
    const char *const *ch = HB_CHANNEL_NAME;
    buf[0] = 0;
    if (differs(a->sigma_c, b->sigma_c) || a->beta_sq != b->beta_sq) {
        snprintf(buf, cap, "the interpolant (sigma_c %g, beta_sq %d against %g, %d)", b->sigma_c, b->beta_sq,
                 a->sigma_c, a->beta_sq);
        return;
    }
    for (int k = 0; k < HB_NCH; k++) {
        if (differs(a->mean[k], b->mean[k]) || differs(a->std[k], b->std[k]) || differs(a->floor[k], b->floor[k]) ||
            differs(a->lmin[k], b->lmin[k]) || differs(a->lmax[k], b->lmax[k])) {
            snprintf(buf, cap, "the %s channel's standardisation (mean %g, std %g, floor %g, log10 range [%g, %g] "
                     "against %g, %g, %g, [%g, %g])", ch[k], b->mean[k], b->std[k], b->floor[k], b->lmin[k],
                     b->lmax[k], a->mean[k], a->std[k], a->floor[k], a->lmin[k], a->lmax[k]);
            return;
        }
    }
    for (int k = 0; k < HB_NTARGET; k++) {
        if (differs(a->noise_slope[k], b->noise_slope[k])) {
            snprintf(buf, cap, "the noise slopes (%g, %g against %g, %g)", b->noise_slope[0], b->noise_slope[1],
                     a->noise_slope[0], a->noise_slope[1]);
            return;
        }
        for (int j = 0; j < HB_NTHETA; j++) {
            if (differs(a->noise_theta[k][j], b->noise_theta[k][j])) {
                snprintf(buf, cap, "the noise's parameter coefficients (%s on %s: %g against %g)", ch[k + 1],
                         HB_THETA[j].name, b->noise_theta[k][j], a->noise_theta[k][j]);
                return;
            }
        }
    }
    int same = a->n_smooth == b->n_smooth;
    for (int j = 0; same && j < a->n_smooth; j++) {
        same = !differs(a->smooth_r[j], b->smooth_r[j]) && !differs(a->smooth_thr[j], b->smooth_thr[j]);
    }
    if (!same) {
        char la[200], lb[200];
        smooth_list(a, la, sizeof la);
        smooth_list(b, lb, sizeof lb);
        snprintf(buf, cap, "the smoothed-DM channels (radius:threshold %s against %s)", lb, la);
        return;
    }
    for (int j = 0; j < a->n_smooth; j++) {
        if (differs(a->smooth_mean[j], b->smooth_mean[j]) || differs(a->smooth_std[j], b->smooth_std[j])) {
            snprintf(buf, cap, "the smoothed-DM channel %d's standardisation (mean %g, std %g against %g, %g)", j,
                     b->smooth_mean[j], b->smooth_std[j], a->smooth_mean[j], a->smooth_std[j]);
            return;
        }
    }
}
