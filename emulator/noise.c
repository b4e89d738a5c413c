/* The interpolant's noise fields (hb/noise.h). */
#include "hb/noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/rng.h"

static int half_width(double r) { return (int)ceil(3 * r); }

int hb_noise_r_ok(double r, int N)
{
    if (r == 0) return 1;
    return r > 0 && r <= HB_NOISE_MAX_R && 2 * half_width(r) + 1 <= N;   /* false for NaN */
}

/* Periodic 1-D convolution of n lines of N points, stride `step` between
 * points and two channels per point: line l starts at a + start(l). */
static void convolve_lines(float *a, int N, size_t step, const size_t *start, size_t n, const float *w, int h,
                           float *line)
{
    for (size_t l = 0; l < n; l++) {
        float *p = a + start[l];
        for (int i = 0; i < N; i++) {
            float s0 = 0, s1 = 0;
            for (int d = -h; d <= h; d++) {
                const float *q = p + 2 * step * (size_t)(((i + d) % N + N) % N);
                s0 += w[d + h] * q[0];
                s1 += w[d + h] * q[1];
            }
            line[2 * i] = s0;
            line[2 * i + 1] = s1;
        }
        for (int i = 0; i < N; i++) {
            p[2 * step * (size_t)i] = line[2 * i];
            p[2 * step * (size_t)i + 1] = line[2 * i + 1];
        }
    }
}

hb_status hb_noise_field(uint64_t seed, uint32_t stream, uint32_t sub, double r, int N, ptrdiff_t x0, ptrdiff_t nx,
                         float *out)
{
    const size_t P = (size_t)N * N;
    if (!hb_noise_r_ok(r, N)) {
        return HB_ERR0(HB_EARG, "noise correlation radius %g cells: expected 0 or (0, %g] with 2 ceil(3 r) + 1 <= %d",
                       r, HB_NOISE_MAX_R, N);
    }
    if (r == 0) {
        const uint64_t first = (uint64_t)x0 * P;
        for (size_t c = 0; c < (size_t)nx * P; c++) {
            double g[2];
            hb_rng_normal2(seed, stream, first + c, sub, g);
            out[2 * c] = (float)g[0];
            out[2 * c + 1] = (float)g[1];
        }
        return HB_OK;
    }
    const int h = half_width(r);
    const size_t ne = (size_t)nx + 2 * (size_t)h;   /* planes with the halo */
    float w[2 * (int)(3 * HB_NOISE_MAX_R) + 3];
    double s2 = 0;
    for (int d = -h; d <= h; d++) s2 += exp(-(double)d * d / (r * r));
    for (int d = -h; d <= h; d++) w[d + h] = (float)(exp(-0.5 * (double)d * d / (r * r)) / sqrt(s2));
    float *a = malloc(2 * ne * P * sizeof *a), *line = malloc(2 * (size_t)N * sizeof *line);
    size_t *start = malloc(ne * (size_t)N * sizeof *start);
    if (!a || !line || !start) {
        free(a); free(line); free(start);
        return HB_ERR(HB_ENOMEM, "noise field of %zu planes of %d^2 cells", ne, N);
    }
    for (size_t e = 0; e < ne; e++) {
        const uint64_t gx = (uint64_t)((((ptrdiff_t)e + x0 - h) % N + N) % N);
        for (size_t p = 0; p < P; p++) {
            double g[2];
            hb_rng_normal2(seed, stream, gx * P + p, sub, g);
            a[2 * (e * P + p)] = (float)g[0];
            a[2 * (e * P + p) + 1] = (float)g[1];
        }
    }
    /* along z (contiguous), then y, within every plane */
    size_t nl = 0;
    for (size_t e = 0; e < ne; e++)
        for (int y = 0; y < N; y++) start[nl++] = 2 * (e * P + (size_t)y * N);
    convolve_lines(a, N, 1, start, nl, w, h, line);
    nl = 0;
    for (size_t e = 0; e < ne; e++)
        for (int z = 0; z < N; z++) start[nl++] = 2 * (e * P + (size_t)z);
    convolve_lines(a, N, (size_t)N, start, nl, w, h, line);
    /* along x, into this rank's planes */
    for (ptrdiff_t i = 0; i < nx; i++)
        for (size_t p = 0; p < P; p++) {
            float s0 = 0, s1 = 0;
            for (int d = -h; d <= h; d++) {
                const float *q = a + 2 * ((size_t)(i + h + d) * P + p);
                s0 += w[d + h] * q[0];
                s1 += w[d + h] * q[1];
            }
            out[2 * ((size_t)i * P + p)] = s0;
            out[2 * ((size_t)i * P + p) + 1] = s1;
        }
    free(a); free(line); free(start);
    return HB_OK;
}
