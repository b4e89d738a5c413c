/* The interpolant's correlated noise (hb/noisefield.h). */
#include "hb/noisefield.h"

#include <math.h>
#include <string.h>

int hb_noise_corr_ok(const double rw[2])
{
    if (rw[0] == 0 && rw[1] == 0) return 1;
    return rw[0] > 0 && rw[0] <= HB_NOISE_CORR_MAX_R && rw[1] > 0 && rw[1] <= HB_NOISE_CORR_MAX_W;   /* not NaN */
}

void hb_noise_corr_init(hb_noise_corr *nc, const hb_interp *ic)
{
    memset(nc, 0, sizeof *nc);
    nc->a = 1;
    const double r = ic->noise_corr[0], w = ic->noise_corr[1];
    if (!(w > 0)) return;
    nc->taps = (int)ceil(4 * r);
    double k[2 * HB_NOISE_CORR_MAX_TAPS + 1], sum = 0;
    for (int d = -nc->taps; d <= nc->taps; d++) sum += k[nc->taps + d] = exp(-0.5 * d * d / (r * r));
    double k0 = 0, k2 = 0;   /* the 3D kernel's centre and sum of squares (products of the 1D ones) */
    for (int d = -nc->taps; d <= nc->taps; d++) {
        k[nc->taps + d] /= sum;
        nc->k[nc->taps + d] = (float)k[nc->taps + d];
        k2 += (double)nc->k[nc->taps + d] * nc->k[nc->taps + d];
    }
    k0 = pow(nc->k[nc->taps], 3);
    k2 = pow(k2, 3);
    const double a = sqrt(1 - w), b = sqrt(w / k2);
    const double A = 1 / sqrt(a * a + 2 * a * b * k0 + b * b * k2);   /* var of a xi + b K*xi, per cell */
    nc->a = (float)(A * a);
    nc->b = (float)(A * b);
}

size_t hb_noise_corr_work(const hb_noise_corr *nc, int N, long nx)
{
    if (!nc->taps) return 0;
    return ((size_t)(nx + 2 * nc->taps) * N * N + (size_t)N + 2 * (size_t)nc->taps) * 2;   /* the planes with halos,
                                                                                     * a line with its halo */
}

/* One line of n values (2 channels each, stride s floats between values)
 * convolved with the taps, periodic, via tmp (2 (n + 2 taps) floats: the
 * line with its periodic halo). */
static void conv_line(const hb_noise_corr *nc, float *v, size_t s, int n, float *tmp)
{
    const int T = nc->taps;
    for (int i = -T; i < n + T; i++) {
        const size_t j = (size_t)((i % n + n) % n) * s;
        tmp[2 * (i + T)] = v[j];
        tmp[2 * (i + T) + 1] = v[j + 1];
    }
    for (int i = 0; i < n; i++) {
        float c0 = 0, c1 = 0;
        const float *w = tmp + 2 * i;   /* the value at i + d is w[2 (d + T)] */
        for (int d = -T; d <= T; d++) {
            c0 += nc->k[T + d] * w[2 * (d + T)];
            c1 += nc->k[T + d] * w[2 * (d + T) + 1];
        }
        v[(size_t)i * s] = c0;
        v[(size_t)i * s + 1] = c1;
    }
}

void hb_noise_corr_field(const hb_noise_corr *nc, int N, long x0, long nx, hb_white_fn white, const void *ctx,
                         float *work, float *out)
{
    const size_t NN = (size_t)N * N, P = (size_t)nx + 2 * (size_t)nc->taps;
    if (!nc->taps) {
        for (size_t c = 0; c < (size_t)nx * NN; c++) white(ctx, (uint64_t)x0 * NN + c, out + 2 * c);
        return;
    }
    float *tmp = work + P * NN * 2;   /* 2 (N + 2 taps) floats */
    for (size_t p = 0; p < P; p++) {
        const long gx = ((x0 - nc->taps + (long)p) % N + N) % N;
        for (size_t c = 0; c < NN; c++) white(ctx, (uint64_t)gx * NN + c, work + 2 * (p * NN + c));
    }
    memcpy(out, work + 2 * (size_t)nc->taps * NN, (size_t)nx * NN * 2 * sizeof *out);   /* xi of the own planes */
    for (size_t p = 0; p < P; p++) {
        float *pl = work + 2 * p * NN;
        for (int y = 0; y < N; y++) conv_line(nc, pl + 2 * (size_t)y * N, 2, N, tmp);   /* along z */
        for (int z = 0; z < N; z++) conv_line(nc, pl + 2 * (size_t)z, 2 * (size_t)N, N, tmp);   /* along y */
    }
    for (long p = 0; p < nx; p++)   /* along x, into the own planes */
        for (size_t c = 0; c < NN; c++) {
            float s0 = 0, s1 = 0;
            for (int d = -nc->taps; d <= nc->taps; d++) {
                const float *v = work + 2 * (((size_t)(p + nc->taps + d)) * NN + c);
                s0 += nc->k[nc->taps + d] * v[0];
                s1 += nc->k[nc->taps + d] * v[1];
            }
            float *o = out + 2 * ((size_t)p * NN + c);
            o[0] = nc->a * o[0] + nc->b * s0;
            o[1] = nc->a * o[1] + nc->b * s1;
        }
}

double hb_noise_corr_khat(const hb_noise_corr *nc, int N, int i)
{
    if (!nc->taps) return 1;
    double s = 0;
    for (int d = -nc->taps; d <= nc->taps; d++) s += nc->k[nc->taps + d] * cos(2 * M_PI * (double)i * d / N);
    return s;
}

double hb_noise_corr_lambda(const hb_noise_corr *nc, double kx, double ky, double kz)
{
    const double v = nc->a + nc->b * kx * ky * kz;
    return v * v;
}
