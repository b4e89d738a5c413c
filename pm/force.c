/* Particle-mesh force (hb/force.h). */
#include "hb/force.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hb/mpiutil.h"
#include "hb/paint.h"

hb_force_config hb_force_config_default(void)
{
    hb_force_config c = {HB_KERNEL_FASTPM, 2, 0, 0};
    return c;
}

hb_status hb_force_init(hb_force *f, const hb_mesh *m, const hb_force_config *cfg, long n_particles_total)
{
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    f->mesh = m;
    hb_kernel kernel = cfg->kernel;
    HB_TRY(hb_painter_init(&f->painter, m, cfg->order, cfg->interlace));
    f->weight = pow((double)m->N, 3) / (double)n_particles_total;
    f->delta = hb_mesh_alloc(m);
    f->work = hb_mesh_alloc(m);
    f->grad = malloc((size_t)m->N * sizeof *f->grad);
    f->lap = malloc((size_t)m->N * sizeof *f->lap);
    f->win = malloc((size_t)m->N * sizeof *f->win);
    const int stencil = kernel == HB_KERNEL_FASTPM && !cfg->kspace_gradient;
    if (stencil) f->ghost = malloc(4 * (size_t)m->N * m->N * sizeof *f->ghost);
    int bad = !f->delta || !f->work || !f->grad || !f->lap || !f->win || (stencil && !f->ghost);
    if (hb_mpi_any(m->comm, bad)) {
        hb_force_free(f);
        return bad ? HB_ERR(HB_ENOMEM, "force mesh %d^3", m->N) : hb_err_quiet(HB_ENOMEM);
    }
    /* 1-D factors per integer wave number; k = 2 pi n / L, h = L / N */
    const double h = m->L / m->N;
    for (int i = 0; i < m->N; i++) {
        int n = hb_mesh_freq(m, i);
        double k = 2 * M_PI * n / m->L;
        double s = (n == 0) ? 1.0 : sin(0.5 * k * h) / (0.5 * k * h);
        f->win[i] = pow(s, cfg->order);   /* window of one assignment along one axis */
        if (kernel == HB_KERNEL_FASTPM) {
            f->grad[i] = (8 * sin(k * h) - sin(2 * k * h)) / (6 * h);
            f->lap[i] = pow(2 / h * sin(0.5 * k * h), 2);
        } else {
            f->grad[i] = (2 * abs(n) == m->N) ? 0.0 : k;   /* the Nyquist derivative is undefined */
            f->lap[i] = k * k;
        }
    }
    return HB_OK;
}

void hb_force_free(hb_force *f)
{
    hb_painter_free(&f->painter);
    fftwf_free(f->delta);
    fftwf_free(f->work);
    free(f->grad);
    free(f->lap);
    free(f->win);
    free(f->ghost);
    memset(f, 0, sizeof *f);
}

/* Given delta_k in f->delta, leave component d of the force field (real
 * space) in wk. delta_k is kept. */
static void force_component(hb_force *f, int d, float *wk)
{
    const hb_mesh *m = f->mesh;
    const int N = m->N;
    hb_timer_start(&f->t_kernel);
    const float *dk = f->delta;
    const double inv = 1.0 / ((double)N * N * N);   /* the c2r normalisation, folded in */
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        int iy = (int)(m->y0 + jy);
        for (int ix = 0; ix < N; ix++) {
            int idx[3] = {ix, iy, 0};
            for (int iz = 0; iz <= N / 2; iz++) {
                idx[2] = iz;
                size_t c = 2 * hb_mesh_kidx(m, jy, ix, iz);
                double k2 = f->lap[ix] + f->lap[iy] + f->lap[iz];
                double g = 0;
                if (k2 > 0) {
                    /* F_k = i D_d delta_k / k^2 */
                    g = f->grad[idx[d]] * inv / k2;
                    if (f->cfg.kernel == HB_KERNEL_SPECTRAL) {
                        double w = f->win[ix] * f->win[iy] * f->win[iz];
                        g /= w * w;   /* paint and readout: W^2 */
                    }
                }
                float re = dk[c], im = dk[c + 1];
                wk[c] = (float)(-g * im);
                wk[c + 1] = (float)(g * re);
            }
        }
    }
    hb_timer_stop(&f->t_kernel);
    hb_timer_start(&f->t_fft);
    hb_mesh_c2r_raw(m, wk);
    hb_timer_stop(&f->t_fft);
}

/* fastpm: psi = c2r(delta_k / k_eff^2) in place of delta_k, the c2r
 * normalisation folded in. */
static void potential(hb_force *f)
{
    const hb_mesh *m = f->mesh;
    const int N = m->N;
    hb_timer_start(&f->t_kernel);
    float *dk = f->delta;
    const double inv = 1.0 / ((double)N * N * N);
    for (ptrdiff_t jy = 0; jy < m->ny_local; jy++) {
        const double ly = f->lap[m->y0 + jy];
        for (int ix = 0; ix < N; ix++)
            for (int iz = 0; iz <= N / 2; iz++) {
                size_t c = 2 * hb_mesh_kidx(m, jy, ix, iz);
                double k2 = f->lap[ix] + ly + f->lap[iz];
                float g = k2 > 0 ? (float)(inv / k2) : 0.0f;
                dk[c] *= g;
                dk[c + 1] *= g;
            }
    }
    hb_timer_stop(&f->t_kernel);
    hb_timer_start(&f->t_fft);
    hb_mesh_c2r_raw(m, dk);
    hb_timer_stop(&f->t_fft);
}

/* Plane l (-2 .. nx + 1) of psi: this rank's, or a ghost; *rs its row stride. */
static const float *psi_plane(const hb_force *f, long l, size_t *rs)
{
    const hb_mesh *m = f->mesh;
    if (l >= 0 && l < m->nx_local) {
        *rs = (size_t)m->zpad;
        return f->delta + hb_mesh_ridx(m, l, 0, 0);
    }
    *rs = (size_t)m->N;
    return f->ghost + (size_t)(l < 0 ? l + 2 : 2 + (l - m->nx_local)) * m->N * m->N;
}

/* out = a (psi(+1) - psi(-1)) - b (psi(+2) - psi(-2)) along a row of n. */
static inline void stencil_row(float *out, const float *p1, const float *m1, const float *p2, const float *m2,
                               float a, float b, int n)
{
    for (int z = 0; z < n; z++) out[z] = a * (p1[z] - m1[z]) - b * (p2[z] - m2[z]);
}

/* Component d of the force: the 4-point gradient (8 (psi(x+h) - psi(x-h))
 * - (psi(x+2h) - psi(x-2h))) / (12 h) along axis d, whose transform is the
 * fastpm kernel's i (8 sin kh - sin 2kh) / (6h); into out (mesh layout). */
static void gradient(hb_force *f, int d, float *out)
{
    const hb_mesh *m = f->mesh;
    const int N = m->N;
    const double h = m->L / N;
    const float a = (float)(8.0 / (12.0 * h)), b = (float)(1.0 / (12.0 * h));
    hb_timer_start(&f->t_kernel);
    for (long l = 0; l < m->nx_local; l++) {
        size_t rs, r[4];
        const float *p0 = psi_plane(f, l, &rs);
        const float *q[4] = {psi_plane(f, l + 1, &r[0]), psi_plane(f, l - 1, &r[1]), psi_plane(f, l + 2, &r[2]),
                             psi_plane(f, l - 2, &r[3])};
        for (int y = 0; y < N; y++) {
            float *o = out + hb_mesh_ridx(m, l, y, 0);
            const float *row = p0 + (size_t)y * rs;
            if (d == 0) {
                stencil_row(o, q[0] + y * r[0], q[1] + y * r[1], q[2] + y * r[2], q[3] + y * r[3], a, b, N);
            } else if (d == 1) {
                const int y1 = (y + 1) % N, ym = (y + N - 1) % N, y2 = (y + 2) % N, y2m = (y + N - 2) % N;
                stencil_row(o, p0 + y1 * rs, p0 + ym * rs, p0 + y2 * rs, p0 + y2m * rs, a, b, N);
            } else {
                for (int z = 0; z < N; z++) {
                    if (z == 2 && N > 4) {   /* the interior without wrapping */
                        stencil_row(o + 2, row + 3, row + 1, row + 4, row, a, b, N - 4);
                        z = N - 3;
                        continue;
                    }
                    const int z1 = (z + 1) % N, zm = (z + N - 1) % N, z2 = (z + 2) % N, z2m = (z + N - 2) % N;
                    o[z] = a * (row[z1] - row[zm]) - b * (row[z2] - row[z2m]);
                }
            }
        }
    }
    hb_timer_stop(&f->t_kernel);
}

hb_status hb_force_compute(hb_force *f, hb_particles *p)
{
    const hb_mesh *m = f->mesh;
    const int passes = f->cfg.interlace ? 2 : 1;
    for (int pass = 0; pass < passes; pass++) {
        /* pass 1 paints on nodes shifted by half a cell: the same force law
         * on another grid, whose odd aliasing images have the other sign */
        const double shift = 0.5 * pass;
        memset(f->delta, 0, 2 * (size_t)m->alloc_local * sizeof *f->delta);
        hb_timer_start(&f->t_paint);
        HB_TRY(hb_painter_paint(&f->painter, f->delta, p, f->weight, p->mass, shift));
        hb_timer_stop(&f->t_paint);
        hb_timer_start(&f->t_fft);
        hb_mesh_r2c(m, f->delta);   /* the mean (DC mode) drops out: k2 = 0 there */
        hb_timer_stop(&f->t_fft);
        /* the three components: in work and the painter's two scratch meshes
         * (its fixed-point slab, idle until the next paint), read out together */
        const float *comp[3] = {f->work, hb_painter_scratch(&f->painter, 0), hb_painter_scratch(&f->painter, 1)};
        if (f->cfg.kernel == HB_KERNEL_FASTPM && !f->cfg.kspace_gradient) {
            potential(f);
            hb_timer_start(&f->t_readout);
            HB_TRY(hb_painter_ghost2(&f->painter, f->delta, f->ghost));
            hb_timer_stop(&f->t_readout);
            for (int d = 0; d < 3; d++) gradient(f, d, (float *)comp[d]);
        } else {
            for (int d = 0; d < 3; d++) force_component(f, d, (float *)comp[d]);
        }
        hb_timer_start(&f->t_readout);
        HB_TRY(hb_painter_readout_n(&f->painter, comp, 3, p, p->acc, 3, shift, pass > 0, 1.0f));
        hb_timer_stop(&f->t_readout);
    }
    if (passes > 1) {
        for (size_t i = 0; i < 3 * p->n; i++) p->acc[i] *= 0.5f;   /* the mean of the two passes */
    }
    return HB_OK;
}
