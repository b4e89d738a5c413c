/* Initial conditions: Gaussian fields keyed by global Fourier mode
 * (hb/ic.h). */
#include "hb/ic.h"

#include <math.h>

#include "hb/rng.h"

double hb_ic_plin_z0(double k, void *cosmo)
{
    return hb_cosmo_plin((const hb_cosmo *)cosmo, k, 0.0);
}

void hb_ic_gaussian_k(const hb_mesh *m, double (*power)(double k, void *ctx), void *ctx,
                      uint64_t seed, int fixed_amplitude, float *buf)
{
    const int N = m->N, h = N / 2;
    const double kf = hb_mesh_kf(m);
    const double amp_norm = pow((double)N, 3) / pow(m->L, 1.5);   /* sqrt(N^6 / L^3) */
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        int iy = (int)(m->y0 + jy);
        for (int ix = 0; ix < N; ix++) {
            for (int iz = 0; iz <= h; iz++) {
                float *c = buf + 2 * hb_mesh_kidx(m, jy, ix, iz);
                if (ix == h || iy == h || iz == h || (ix == 0 && iy == 0 && iz == 0)) {
                    c[0] = c[1] = 0;
                    continue;
                }
                /* On kz = 0 the pair (ix,iy), (-ix,-iy) must be conjugate: draw
                 * for the lexicographically smaller member, conjugate for the other. */
                int sx = ix, sy = iy;
                double sign = 1;
                if (iz == 0) {
                    int px = (N - ix) % N, py = (N - iy) % N;
                    if (px < ix || (px == ix && py < iy)) {
                        sx = px;
                        sy = py;
                        sign = -1;
                    }
                }
                uint64_t idx = ((uint64_t)sx * (uint64_t)N + (uint64_t)sy) * (uint64_t)(h + 1) + (uint64_t)iz;
                double w[2];
                if (fixed_amplitude) {
                    double u[2];
                    hb_rng_uniform2(seed, HB_STREAM_IC, idx, 0, u);
                    w[0] = cos(2 * M_PI * u[0]);
                    w[1] = sin(2 * M_PI * u[0]);
                } else {
                    hb_rng_normal2(seed, HB_STREAM_IC, idx, 0, w);
                    w[0] *= M_SQRT1_2;
                    w[1] *= M_SQRT1_2;
                }
                int n[3] = {hb_mesh_freq(m, ix), hb_mesh_freq(m, iy), iz};
                double k = kf * sqrt((double)n[0] * n[0] + (double)n[1] * n[1] + (double)n[2] * n[2]);
                double a = amp_norm * sqrt(power(k, ctx));
                c[0] = (float)(a * w[0]);
                c[1] = (float)(sign * a * w[1]);
            }
        }
    }
}
