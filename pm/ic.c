/* Initial conditions: Gaussian fields keyed by global Fourier mode
 * (hb/ic.h). */
#include "hb/ic.h"

#include <math.h>

#include "hb/mpiutil.h"
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

/* ---- Lagrangian perturbation theory ------------------------------------ */

static void lattice(hb_particles *p, const hb_mesh *mp)
{
    const int N = mp->N;
    const double cell = mp->L / N;
    size_t n = 0;
    for (ptrdiff_t i = 0; i < mp->nx_local; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < N; k++, n++) {
                long gi = (long)mp->x0 + i;
                p->x[3 * n] = gi * cell;
                p->x[3 * n + 1] = j * cell;
                p->x[3 * n + 2] = k * cell;
                for (int d = 0; d < 3; d++) {
                    p->p[3 * n + d] = 0;
                    p->acc[3 * n + d] = 0;
                }
                p->id[n] = ((uint64_t)gi * N + (uint64_t)j) * (uint64_t)N + (uint64_t)k;
            }
    p->n = n;
}

/* out_k = factor(k) * in_k for every local mode; factor returns a complex
 * multiplier (re, im) from the signed wave numbers and k [h/Mpc]. */
typedef void (*kfactor)(const double k[3], double k2, void *ctx, double *re, double *im);

static void apply_k(const hb_mesh *m, const float *in, float *out, kfactor fn, void *ctx)
{
    const int N = m->N;
    const double kf = hb_mesh_kf(m);
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        int iy = (int)(m->y0 + jy);
        for (int ix = 0; ix < N; ix++)
            for (int iz = 0; iz <= N / 2; iz++) {
                size_t c = 2 * hb_mesh_kidx(m, jy, ix, iz);
                double k[3] = {kf * hb_mesh_freq(m, ix), kf * hb_mesh_freq(m, iy), kf * iz};
                double k2 = k[0] * k[0] + k[1] * k[1] + k[2] * k[2];
                double fr = 0, fi = 0;
                if (k2 > 0 && ix != N / 2 && iy != N / 2 && iz != N / 2) fn(k, k2, ctx, &fr, &fi);
                double re = in[c], im = in[c + 1];
                out[c] = (float)(fr * re - fi * im);
                out[c + 1] = (float)(fr * im + fi * re);
            }
    }
}

typedef struct { int a, b; } pair;

static void f_disp(const double k[3], double k2, void *ctx, double *re, double *im)
{
    *re = 0;
    *im = k[*(int *)ctx] / k2;   /* i k_d / k^2 */
}

static void f_hess(const double k[3], double k2, void *ctx, double *re, double *im)
{
    const pair *p = ctx;
    *re = -k[p->a] * k[p->b] / k2;   /* phi_ab = -k_a k_b delta / k^2 */
    *im = 0;
}

static void f_disp2(const double k[3], double k2, void *ctx, double *re, double *im)
{
    *re = 0;
    *im = -k[*(int *)ctx] / k2;   /* grad phi2 with phi2 = -S/k^2 */
}

/* x += ax * field, p += ap * field for component d, over the lattice. */
static void add_field(hb_particles *p, const hb_mesh *mp, const float *field, int d, double ax, double ap)
{
    size_t n = 0;
    for (ptrdiff_t i = 0; i < mp->nx_local; i++)
        for (int j = 0; j < mp->N; j++) {
            const float *row = field + hb_mesh_ridx(mp, i, j, 0);
            for (int k = 0; k < mp->N; k++, n++) {
                p->x[3 * n + d] += ax * row[k];
                p->p[3 * n + d] += ap * row[k];
            }
        }
}

hb_status hb_ic_lpt(hb_particles *p, const hb_mesh *mp, const hb_cosmo *c, const float *delta_k,
                    int order, double a)
{
    size_t ncell = (size_t)mp->nx_local * mp->N * mp->N;
    HB_TRY(hb_particles_reserve(p, ncell));
    lattice(p, mp);
    float *w = hb_mesh_alloc(mp);
    float *A = order > 1 ? hb_mesh_alloc(mp) : NULL, *S = order > 1 ? hb_mesh_alloc(mp) : NULL;
    int bad = !w || (order > 1 && (!A || !S));
    if (hb_mpi_any(mp->comm, bad)) {
        fftwf_free(w);
        fftwf_free(A);
        fftwf_free(S);
        return bad ? HB_ERR(HB_ENOMEM, "LPT work meshes") : hb_err_quiet(HB_ENOMEM);
    }
    const double E = hb_cosmo_E(c, a), d1 = hb_cosmo_d1(c, a), f1 = hb_cosmo_f1(c, a);
    for (int d = 0; d < 3; d++) {
        apply_k(mp, delta_k, w, f_disp, &d);
        hb_mesh_c2r(mp, w);
        add_field(p, mp, w, d, d1, a * a * E * f1 * d1);
    }
    if (order > 1) {
        /* S = xx yy + (xx + yy) zz - xy^2 - xz^2 - yz^2, with two real buffers */
        const size_t nf = 2 * (size_t)mp->alloc_local;
        pair xx = {0, 0}, yy = {1, 1}, zz = {2, 2}, off[3] = {{0, 1}, {0, 2}, {1, 2}};
        apply_k(mp, delta_k, A, f_hess, &xx);
        hb_mesh_c2r(mp, A);
        apply_k(mp, delta_k, w, f_hess, &yy);
        hb_mesh_c2r(mp, w);
        for (size_t i = 0; i < nf; i++) {
            S[i] = A[i] * w[i];
            A[i] += w[i];
        }
        apply_k(mp, delta_k, w, f_hess, &zz);
        hb_mesh_c2r(mp, w);
        for (size_t i = 0; i < nf; i++) S[i] += A[i] * w[i];
        for (int o = 0; o < 3; o++) {
            apply_k(mp, delta_k, w, f_hess, &off[o]);
            hb_mesh_c2r(mp, w);
            for (size_t i = 0; i < nf; i++) S[i] -= w[i] * w[i];
        }
        hb_mesh_r2c(mp, S);
        const double d2 = hb_cosmo_d2(c, a), f2 = hb_cosmo_f2(c, a);
        for (int d = 0; d < 3; d++) {
            apply_k(mp, S, w, f_disp2, &d);
            hb_mesh_c2r(mp, w);
            add_field(p, mp, w, d, d2, a * a * E * f2 * d2);
        }
    }
    fftwf_free(w);
    fftwf_free(A);
    fftwf_free(S);
    return HB_OK;
}

hb_status hb_ic_plane_wave(hb_particles *p, const hb_mesh *mp, const hb_cosmo *c, int mode,
                           double a_cross, double a)
{
    size_t ncell = (size_t)mp->nx_local * mp->N * mp->N;
    HB_TRY(hb_particles_reserve(p, ncell));
    lattice(p, mp);
    const double k = 2 * M_PI * mode / mp->L;
    const double amp = 1.0 / (k * hb_cosmo_d1(c, a_cross));
    const double E = hb_cosmo_E(c, a), d1 = hb_cosmo_d1(c, a), f1 = hb_cosmo_f1(c, a);
    for (size_t n = 0; n < p->n; n++) {
        double psi = -amp * sin(k * p->x[3 * n]);
        p->x[3 * n] += d1 * psi;
        p->p[3 * n] = a * a * E * f1 * d1 * psi;
    }
    return HB_OK;
}
